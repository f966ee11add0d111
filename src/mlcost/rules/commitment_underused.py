"""Commitment underused: a Reserved Instance, Savings Plan, reservation or CUD below target.

What it finds: a commitment whose utilisation over the last ``lookback_days`` days,
computed from the FOCUS rows it produced (the amortised cost of its *Used* rows ÷ that
of its *Used* and *Unused* rows, ``CommitmentDiscountStatus``), is below
``target_utilisation_pct``. It works the same for AWS RIs and Savings Plans, Azure
reservations and savings plans and GCP committed use discounts, with no Cost Explorer
call.

Why it matters: a commitment is paid whether or not anything uses it; the unused part
is pure waste, and it recurs every hour until the term ends.

Safe action: move eligible work onto it first (the instance family, region and
platform it covers are in the evidence); for AWS convertible RIs exchange them, for
standard RIs sell the remainder on the RI Marketplace, for Azure reservations exchange
or return within the policy's limits; never renew at the same size.

Saving: the unused amortised cost over the window, scaled to 30 days.
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="commitment_underused",
    doc=__doc__ or "",
    resource_types=("commitment",),
    needs=("billing",),
    saving_from=("billing",),
    params=(
        Param("lookback_days", 30, "Days of commitment usage judged.", minimum=1, maximum=365),
        Param("target_utilisation_pct", 80.0, "Utilisation below this is flagged.", 0, 100),
    ),
    sql="""
WITH rows AS (
    SELECT * FROM cost
    WHERE CommitmentDiscountId IS NOT NULL
      AND ChargePeriodStart >= $as_of - to_days(CAST($lookback_days AS INTEGER))
      AND ChargePeriodStart < $as_of
),
c AS (
    SELECT CommitmentDiscountId AS id,
           provider_key(min(ProviderName)) AS provider,
           coalesce(min(SubAccountId) FILTER (WHERE ChargeCategory = 'Purchase'),
                    min(SubAccountId)) AS account_id,
           coalesce(min(RegionId) FILTER (WHERE ChargeCategory = 'Purchase'), min(RegionId))
               AS region,
           min(CommitmentDiscountName) AS name,
           min(CommitmentDiscountType) AS kind,
           min(BillingCurrency) AS currency,
           sum(EffectiveCost) FILTER (WHERE CommitmentDiscountStatus = 'Used') AS used_cost,
           sum(EffectiveCost) FILTER (WHERE CommitmentDiscountStatus = 'Unused') AS unused_cost,
           sum(CommitmentDiscountQuantity) FILTER (WHERE CommitmentDiscountStatus = 'Used')
               AS used_quantity,
           sum(CommitmentDiscountQuantity) FILTER (WHERE CommitmentDiscountStatus = 'Unused')
               AS unused_quantity,
           min(CommitmentDiscountUnit) AS unit,
           count(DISTINCT date_trunc('day', ChargePeriodStart)) AS days_seen
    FROM rows
    WHERE ChargeCategory = 'Usage' AND CommitmentDiscountStatus IN ('Used', 'Unused')
    GROUP BY CommitmentDiscountId
),
u AS (
    SELECT *, coalesce(used_cost, 0) + coalesce(unused_cost, 0) AS amortised,
           coalesce(used_cost, 0) / nullif(coalesce(used_cost, 0) + coalesce(unused_cost, 0), 0)
               * 100 AS utilisation_pct
    FROM c
)
SELECT id AS resource_id, provider, account_id, region,
       'commitment' AS resource_type, coalesce(name, id) AS resource_name, currency,
       'Underused commitment: ' || coalesce(name, id) || ' (' || coalesce(kind, 'commitment')
           || ') used ' || round(utilisation_pct, 1) || ' % over ' || $lookback_days
           || ' days' AS title,
       'Move eligible work onto it; exchange, sell or return what cannot be used '
           || '(as its type allows), and do not renew at this size.' AS action,
       json_object('utilisation_pct', round(utilisation_pct, 2),
                   'target_utilisation_pct', $target_utilisation_pct,
                   'used_cost', used_cost, 'unused_cost', coalesce(unused_cost, 0),
                   'used_quantity', used_quantity, 'unused_quantity', unused_quantity,
                   'unit', unit, 'type', kind, 'days', $lookback_days) AS evidence,
       amortised * 30 / $lookback_days AS monthly_cost,
       coalesce(unused_cost, 0) * 30 / $lookback_days AS estimated_monthly_savings,
       CASE WHEN days_seen >= $lookback_days * 0.9 THEN 'high' ELSE 'medium' END AS confidence
FROM u
WHERE utilisation_pct < $target_utilisation_pct
""",
)
