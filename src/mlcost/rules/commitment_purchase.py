"""Commitment purchase: steady on-demand usage that a commitment would cover more cheaply.

What it finds: for each provider, region and instance type, the on-demand VM hours
billed over the last ``lookback_days`` days (FOCUS ``PricingCategory = 'Standard'``,
no commitment applied). For every possible size N (instances covered around the
clock) it computes the hours a commitment of N would cover in each billed period,
Σ min(hours used, N × period hours), and the net saving: covered hours × on-demand
price − N × window hours × committed price, where the committed price is the
on-demand price less ``discount_pct`` (the discount for the chosen ``term_years`` and
``payment``; set it from your price list). It recommends the N with the largest net
saving, and reports one finding for each of the N machines the commitment would cover
(the ones with the most on-demand hours), each with its share of the saving and the
sizing in the evidence: the hourly commitment, expected utilisation, the group's monthly
saving and the break-even month. Machines another rule already flags (idle, rightsize,
previous generation, spot) are left out: fix them first, then commit to what remains.
GPU fleets and CPU fleets are sized the same way, per type; Savings-Plan-style dollar
commitments across types are the sum of the per-type hourly commitments.

Why it matters: a 1-year commitment typically costs 30-40 % less than on-demand, and
steady serving fleets run on demand for years because nobody sized one.

Safe action: check the fleet's plans for the term (a migration or a new instance
generation would strand it); buy the recommended size, or less, never more; review
coverage monthly.

Saving: this machine's share (by its on-demand hours) of the group's net saving,
scaled to a month of 730 hours.
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="commitment_purchase",
    doc=__doc__ or "",
    resource_types=("vm",),
    needs=("inventory", "billing", "prices"),
    saving_from=("billing",),
    params=(
        Param("lookback_days", 30, "Days of on-demand usage sized (7, 30 or 60).", 1, 365),
        Param("term_years", 1, "Term of the commitment to buy (1 or 3).", minimum=1, maximum=3),
        Param(
            "payment",
            "no_upfront",
            "Payment option.",
            choices=("no_upfront", "partial_upfront", "all_upfront"),
        ),
        Param("discount_pct", 30.0, "Committed price's discount from on-demand.", 0, 95),
        Param("min_expected_utilisation_pct", 90.0, "Never size below this utilisation.", 0, 100),
        Param("skip_flagged", True, "Leave out machines other rules flag."),
    ),
    sql="""
WITH od AS (
    SELECT r.rid, r.resource_id, r.provider, r.region, r.instance_type,
           c.ChargePeriodStart AS period,
           date_diff('second', c.ChargePeriodStart, c.ChargePeriodEnd) / 3600.0 AS period_hours,
           c.ConsumedQuantity AS hours,
           c.EffectiveCost AS cost
    FROM cost c
    JOIN rule_resources r ON r.rid = lower(c.ResourceId)
    WHERE c.ChargeCategory = 'Usage' AND c.PricingCategory = 'Standard'
      AND c.CommitmentDiscountId IS NULL
      AND r.resource_type = 'vm' AND r.instance_type IS NOT NULL
      AND c.ChargePeriodStart >= $as_of - to_days(CAST($lookback_days AS INTEGER))
      AND c.ChargePeriodStart < $as_of
      AND c.ConsumedQuantity > 0
      AND NOT ($skip_flagged AND r.rid IN (SELECT rid FROM rule_flagged))
),
per_period AS (
    SELECT provider, region, instance_type, period, max(period_hours) AS period_hours,
           sum(hours) AS hours
    FROM od GROUP BY provider, region, instance_type, period
),
observed AS (
    -- the discount commitments in use already get, per provider and instance family
    SELECT r.provider, r.family,
           100 * (1 - sum(c.EffectiveCost) / sum(c.ListCost)) AS discount_pct,
           min(c.CommitmentDiscountName) AS seen_on
    FROM cost c JOIN rule_resources r ON r.rid = lower(c.ResourceId)
    WHERE c.CommitmentDiscountStatus = 'Used' AND c.ListCost > 0 AND r.family IS NOT NULL
      AND c.ChargePeriodStart >= $as_of - to_days(CAST($lookback_days AS INTEGER))
    GROUP BY r.provider, r.family
),
grp AS (
    SELECT p.provider, p.region, p.instance_type,
           sum(p.hours) AS od_hours,
           max(p.hours / p.period_hours) AS peak_instances,
           any_value(pr.price_per_hour) AS od_price,
           any_value(coalesce(o.discount_pct, $discount_pct)) AS discount_pct,
           any_value(o.seen_on) AS discount_seen_on,
           any_value($lookback_days * 24) AS window_hours
    FROM per_period p
    JOIN rule_prices pr
      ON pr.provider = p.provider AND pr.region = p.region AND pr.instance_type = p.instance_type
    LEFT JOIN observed o ON o.provider = p.provider AND o.family = pr.family
    GROUP BY p.provider, p.region, p.instance_type
),
grp_priced AS (SELECT *, od_price * (1 - discount_pct / 100) AS committed_price FROM grp),
-- each possible size N (instances covered around the clock) and the hours it would
-- cover, Σ min(hours used, N × period hours): a join, not a correlated subquery, so that
-- Spark runs it too
covered AS (
    SELECT pp.provider, pp.region, pp.instance_type, n.n AS size,
           sum(least(pp.hours, n.n * pp.period_hours)) AS covered_hours
    FROM per_period pp
    JOIN grp_priced g
      ON g.provider = pp.provider AND g.region = pp.region
     AND g.instance_type = pp.instance_type
    CROSS JOIN range(1, 1001) n(n)
    WHERE n.n <= ceil(g.peak_instances)
    GROUP BY pp.provider, pp.region, pp.instance_type, n.n
),
sizes AS (
    SELECT g.*, c.size, c.covered_hours
    FROM grp_priced g
    JOIN covered c
      ON c.provider = g.provider AND c.region = g.region AND c.instance_type = g.instance_type
),
scored AS (
    SELECT *, covered_hours * od_price - size * window_hours * committed_price AS net_saving,
           covered_hours / (size * window_hours) * 100 AS utilisation_pct
    FROM sizes
),
best AS (
    SELECT * FROM scored
    WHERE net_saving > 0 AND utilisation_pct >= $min_expected_utilisation_pct
    QUALIFY row_number() OVER (PARTITION BY provider, region, instance_type
                               ORDER BY net_saving DESC, size) = 1
),
machines AS (
    SELECT od.provider, od.region, od.instance_type, od.resource_id, sum(od.hours) AS hours,
           row_number() OVER (PARTITION BY od.provider, od.region, od.instance_type
                              ORDER BY sum(od.hours) DESC, od.resource_id) AS rank
    FROM od GROUP BY od.provider, od.region, od.instance_type, od.resource_id
),
chosen AS (
    SELECT m.*, b.size, b.od_price, b.committed_price, b.net_saving, b.utilisation_pct,
           b.discount_pct, b.discount_seen_on,
           b.window_hours, b.od_hours,
           b.net_saving * 730 / b.window_hours AS group_monthly_saving,
           b.size * b.window_hours * b.committed_price / (b.covered_hours * b.od_price) AS ratio,
           sum(m.hours) OVER (PARTITION BY m.provider, m.region, m.instance_type) AS chosen_hours
    FROM machines m
    JOIN best b USING (provider, region, instance_type)
    WHERE m.rank <= b.size
)
SELECT resource_id,
       'Commitment purchase: ' || size || ' x ' || instance_type || ' (' || region
           || ') run on demand; a ' || $term_years || '-year commitment for ' || size
           || ' saves ' || round(group_monthly_saving, 2) || ' a month' AS title,
       'Buy a ' || $term_years || '-year ' || replace($payment, '_', ' ') || ' commitment for '
           || size || ' x ' || instance_type || ' in ' || region
           || ' (or less), after checking the fleet''s plans for the term.' AS action,
       json_object('instance_type', instance_type, 'region', region,
                   'recommended_count', size,
                   'hourly_commitment', round(size * committed_price, 6),
                   'on_demand_price_per_hour', od_price,
                   'committed_price_per_hour', round(committed_price, 6),
                   'expected_utilisation_pct', round(utilisation_pct, 2),
                   'group_monthly_saving', round(group_monthly_saving, 2),
                   -- r = commitment cost ÷ on-demand cost avoided; paid upfront (all or
                   -- half), it is recovered after 12·T·r or 6·T·r / (1 - r/2) months
                   'break_even_month', CASE
                       WHEN $payment = 'no_upfront' THEN 1
                       WHEN $payment = 'all_upfront' THEN CAST(ceil($term_years * 12 * ratio)
                                                               AS INTEGER)
                       ELSE CAST(ceil($term_years * 6 * ratio / (1 - ratio / 2)) AS INTEGER)
                   END,
                   'on_demand_hours', od_hours, 'this_machine_hours', hours,
                   'term_years', $term_years, 'payment', $payment,
                   'discount_pct', round(discount_pct, 2),
                   'discount_from', coalesce('billing: ' || discount_seen_on, 'setting'),
                   'lookback_days', $lookback_days) AS evidence,
       group_monthly_saving * hours / chosen_hours AS estimated_monthly_savings,
       CASE WHEN utilisation_pct >= 99 THEN 'high' ELSE 'medium' END AS confidence
FROM chosen
""",
)
