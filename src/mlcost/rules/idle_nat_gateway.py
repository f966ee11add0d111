"""Idle NAT gateway: a NAT gateway that has passed (almost) no traffic for weeks.

What it finds: an AWS NAT gateway, Azure NAT gateway or Cloud NAT gateway that is
available and whose traffic (bytes in + out, as the cloud's metrics count them) summed
over the last ``lookback_days`` days is at most ``max_gb`` GB. A day with no data point
counts as no traffic (the clouds publish nothing for a gateway nobody uses); it is judged
when it has traffic metrics on at least ``min_observed_days`` days, or when it is older
than the window and utilisation was collected for its account over the window. Training
VPCs and one-off data pulls leave gateways behind after the subnets behind them empty.

Why it matters: a NAT gateway bills every hour it exists (about 33 USD a month on AWS,
before any data), whether or not anything goes through it, and many accounts have one
per zone.

Safe action: check the route tables that point at it (a private subnet with no route
out may be intended), then delete it and release its Elastic IP; put it back with
infrastructure-as-code when a workload needs outbound access again.

Saving: the gateway's monthly cost (billed over the last 30 days); with no billing lines,
730 × its list price per hour (``prices``: ``nat_gateway``), with ``monthly_cost`` left
empty and lower confidence.
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="idle_nat_gateway",
    doc=__doc__ or "",
    resource_types=("nat_gateway",),
    providers=("aws", "azure", "gcp"),
    needs=("inventory", "metrics"),
    params=(
        Param("lookback_days", 14, "Days of traffic judged.", minimum=1, maximum=120),
        Param("max_gb", 1.0, "At most this much traffic (GB in + out) over the window.", 0),
        Param("min_observed_days", 7, "Days of traffic metrics that suffice.", minimum=1),
    ),
    sql="""
WITH per AS (
    SELECT resource_id, count(*) AS days_observed, sum(net_bytes) AS bytes
    FROM rule_daily
    WHERE day >= $as_of - to_days(CAST($lookback_days AS INTEGER)) AND net_bytes IS NOT NULL
    GROUP BY resource_id
),
nat AS (
    SELECT r.*, coalesce(p.days_observed, 0) AS days_observed,
           coalesce(p.bytes, 0) / 1e9 AS traffic_gb
    FROM rule_resources r
    LEFT JOIN per p ON p.resource_id = r.resource_id
    WHERE r.resource_type = 'nat_gateway'
      AND lower(coalesce(r.state, 'available')) IN ('available', 'running', 'succeeded')
)
SELECT resource_id,
       'Idle NAT gateway: ' || coalesce(name, resource_id) || ' passed '
           || round(traffic_gb, 3) || ' GB in ' || $lookback_days || ' days' AS title,
       'Check the route tables that use it, then delete it (and release its address).'
           AS action,
       json_object('traffic_gb', round(traffic_gb, 6), 'days_with_data', days_observed,
                   'lookback_days', $lookback_days, 'max_gb', $max_gb,
                   'cost_from', cost_from(monthly_cost, list_monthly_cost)) AS evidence,
       coalesce(monthly_cost, list_monthly_cost) AS estimated_monthly_savings,
       idle_confidence(monthly_cost, list_monthly_cost, days_observed) AS confidence
FROM nat
WHERE traffic_gb <= $max_gb
  AND idle_judged(days_observed, $min_observed_days, created_at, provider, account_id,
                  $as_of, $lookback_days)
""",
)
