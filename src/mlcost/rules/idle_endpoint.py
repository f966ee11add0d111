"""Idle endpoint: a model endpoint that has served no requests in the look-back window.

What it finds: a SageMaker endpoint, Azure ML online endpoint or Vertex AI endpoint
that is in service, whose invocation count summed over the last ``lookback_days`` days
is at most ``max_invocations``, with invocation metrics on at least
``min_observed_days`` days (an endpoint whose metrics were never collected is not
guessed at).

Why it matters: an endpoint bills its instances every hour whether or not anyone calls
it; canaries and old model versions are forgotten after launches.

Safe action: check with the model's owner; delete the endpoint (keep the model and the
endpoint configuration, so it can be re-created in minutes), or scale it to zero
where the platform supports it (SageMaker serverless or asynchronous inference).

Saving: the endpoint's monthly cost (billed over the last 30 days; else list price of
its instances × 730 hours).
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="idle_endpoint",
    doc=__doc__ or "",
    resource_types=("endpoint",),
    params=(
        Param("lookback_days", 14, "Days of invocations judged.", minimum=1, maximum=120),
        Param("max_invocations", 0, "At most this many requests in the window.", minimum=0),
        Param("min_observed_days", 7, "Days of invocation metrics needed.", minimum=1),
    ),
    sql="""
WITH per_ep AS (
    SELECT resource_id, count(*) AS days_observed, sum(invocations) AS invocations
    FROM rule_daily
    WHERE day >= $as_of - to_days(CAST($lookback_days AS INTEGER)) AND invocations IS NOT NULL
    GROUP BY resource_id
)
SELECT r.resource_id,
       'Idle endpoint: ' || coalesce(r.name, r.resource_id) || ' served '
           || CAST(e.invocations AS BIGINT) || ' requests in ' || e.days_observed || ' days'
           AS title,
       'Check with the owner, then delete the endpoint (keep the model and its '
           || 'configuration to re-create it) or scale it to zero.' AS action,
       json_object('invocations', CAST(e.invocations AS BIGINT),
                   'days_observed', e.days_observed, 'last_invoked_at', r.last_used_at,
                   'instance_type', r.instance_type, 'instance_count', r.instance_count)
           AS evidence,
       r.monthly_cost AS estimated_monthly_savings,
       CASE WHEN r.cost_basis = 'billing' THEN 'high' ELSE 'medium' END AS confidence
FROM per_ep e
JOIN rule_resources r ON r.resource_id = e.resource_id
WHERE r.resource_type = 'endpoint'
  AND lower(coalesce(r.state, 'running')) IN ('running', 'inservice', 'in service', 'succeeded')
  AND e.days_observed >= $min_observed_days
  AND e.invocations <= $max_invocations
""",
)
