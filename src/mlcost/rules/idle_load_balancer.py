"""Idle load balancer: a load balancer that has served (almost) no requests for a week.

What it finds: an AWS Application or Network Load Balancer, Azure load balancer or
Google Cloud load balancer (a forwarding rule) that is active and served at most
``max_requests`` requests (an ALB's requests, an NLB's new flows, Azure's new
connections; on Google Cloud an Application Load Balancer's requests, a proxy Network
Load Balancer's new connections, a passthrough one's received packets) over the last
``lookback_days`` days, AWS Trusted Advisor's "Idle Load Balancers" test (fewer than 100
requests in 7 days). A day with no data point counts as none; it is judged when it has
request metrics on at least ``min_observed_days`` days, or when it is older than the
window and utilisation was collected for its account over the window. Demo and
model-serving stacks torn down without their load balancer are the usual source.

Why it matters: a load balancer bills every hour (about 16 to 20 USD a month before
capacity units), plus the public IPv4 addresses of its nodes.

Safe action: check that no DNS record or client still points at it (the evidence names
its DNS name), then delete it; its target groups and listeners go with it. On Google
Cloud delete the forwarding rule (each one bills), then its target proxy, URL map and
backend service where nothing else uses them.

Saving: its monthly cost (billed over the last 30 days); with no billing lines, 730 ×
its list price per hour (``prices``: ``load_balancer:application`` …), with
``monthly_cost`` left empty and lower confidence.
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="idle_load_balancer",
    doc=__doc__ or "",
    resource_types=("load_balancer",),
    providers=("aws", "azure", "gcp"),
    needs=("inventory", "metrics"),
    params=(
        Param("lookback_days", 7, "Days of requests judged.", minimum=1, maximum=120),
        Param("max_requests", 100, "At most this many requests in the window.", minimum=0),
        Param("min_observed_days", 5, "Days of request metrics that suffice.", minimum=1),
    ),
    sql="""
WITH per AS (
    SELECT resource_id, count(*) AS days_observed, sum(requests) AS requests,
           sum(net_bytes) AS bytes
    FROM rule_daily
    WHERE day >= $as_of - to_days(CAST($lookback_days AS INTEGER)) AND requests IS NOT NULL
    GROUP BY resource_id
),
lb AS (
    SELECT r.*, coalesce(p.days_observed, 0) AS days_observed,
           coalesce(p.requests, 0) AS requests, coalesce(p.bytes, 0) / 1e9 AS traffic_gb
    FROM rule_resources r
    LEFT JOIN per p ON p.resource_id = r.resource_id
    WHERE r.resource_type = 'load_balancer'
      AND lower(coalesce(r.state, 'active')) IN ('active', 'available', 'running', 'succeeded')
)
SELECT resource_id,
       'Idle load balancer: ' || coalesce(name, resource_id) || ' served '
           || CAST(requests AS BIGINT) || ' requests in ' || $lookback_days || ' days'
           AS title,
       'Check that no DNS record or client uses it, then delete it.' AS action,
       json_object('requests', CAST(requests AS BIGINT), 'traffic_gb', round(traffic_gb, 6),
                   'days_with_data', days_observed, 'lookback_days', $lookback_days,
                   'lb_type', json_extract_string(details, '$.lb_type'),
                   'dns_name', json_extract_string(details, '$.dns_name'),
                   'cost_from', cost_from(monthly_cost, list_monthly_cost)) AS evidence,
       coalesce(monthly_cost, list_monthly_cost) AS estimated_monthly_savings,
       idle_confidence(monthly_cost, list_monthly_cost, days_observed) AS confidence
FROM lb
WHERE requests <= $max_requests
  AND idle_judged(days_observed, $min_observed_days, created_at, provider, account_id,
                  $as_of, $lookback_days)
""",
)
