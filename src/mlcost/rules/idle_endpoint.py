"""Idle endpoint: a model endpoint that has served no requests in the look-back window.

What it finds: a SageMaker endpoint, Azure ML online endpoint or Vertex AI endpoint
that is in service and whose invocation count summed over the last ``lookback_days``
days is at most ``max_invocations``. A day with no invocation data point counts as no
requests: the clouds publish the metric only when there is traffic, so the commonest
idle endpoint of all has no data at all. It is judged when it has invocation metrics on
at least ``min_observed_days`` days, or when it is older than the window and utilisation
was collected for its account over the window (so an endpoint whose metrics were never
fetched is not guessed at).

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
    needs=("inventory", "metrics"),
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
),
ep AS (
    SELECT r.*, coalesce(e.days_observed, 0) AS days_observed,
           coalesce(e.invocations, 0) AS invocations
    FROM rule_resources r
    LEFT JOIN per_ep e ON e.resource_id = r.resource_id
    WHERE r.resource_type = 'endpoint'
      AND lower(coalesce(r.state, 'running')) IN ('running', 'inservice', 'in service',
                                                   'succeeded')
)
SELECT resource_id,
       'Idle endpoint: ' || coalesce(name, resource_id) || ' served '
           || CAST(invocations AS BIGINT) || ' requests in ' || $lookback_days || ' days'
           || CASE WHEN days_observed = 0 THEN ' (no invocation data at all)' ELSE '' END
           AS title,
       'Check with the owner, then delete the endpoint (keep the model and its '
           || 'configuration to re-create it) or scale it to zero.' AS action,
       json_object('invocations', CAST(invocations AS BIGINT),
                   'days_with_data', days_observed, 'lookback_days', $lookback_days,
                   'last_invoked_at', last_used_at,
                   'instance_type', instance_type, 'instance_count', instance_count)
           AS evidence,
       monthly_cost AS estimated_monthly_savings,
       CASE WHEN cost_basis = 'billing' AND days_observed > 0 THEN 'high' ELSE 'medium' END
           AS confidence
FROM ep
WHERE invocations <= $max_invocations
  AND idle_judged(days_observed, $min_observed_days, created_at, provider, account_id,
                  $as_of, $lookback_days)
""",
)
