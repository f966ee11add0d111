"""Spot candidate: short, restartable training running on on-demand capacity.

What it finds: an on-demand VM (not spot, preemptible or low-priority) that ran at
least ``min_runs`` ML runs in the last ``lookback_days`` days (the runs table: MLflow
runs and SageMaker jobs linked to the machine), where the longest run took at most
``max_run_minutes`` and at least ``min_restartable_share`` of them were restartable:
they checkpoint or resume (tags ``checkpointing``/``restartable``, or a
``resume_from_checkpoint`` parameter). Such work loses little when a spot instance is
reclaimed, and hyper-parameter sweeps are the textbook case.

Why it matters: spot capacity costs 60 to 90 % less than on-demand for the same GPUs.

Safe action: move the sweep's workers to spot (an EC2 Spot fleet or a launch template
with spot, GCP Spot VMs, Azure Spot priority) with checkpoints written to object
storage; keep one on-demand worker if a deadline needs it.

Saving: monthly cost × (1 − spot price ÷ on-demand price) where ``prices`` holds the
observed spot price of the type in the region (AWS's spot price history: the dearest
zone's current price) and its on-demand list price; else monthly cost ×
``spot_discount_pct`` ÷ 100 (60 % by default, a conservative figure for GPU spot
capacity). The evidence says which, with the spot price and its date.
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="spot_candidate",
    doc=__doc__ or "",
    resource_types=("vm",),
    needs=("inventory", "runs"),
    params=(
        Param("lookback_days", 30, "Days of runs judged.", minimum=1, maximum=365),
        Param("min_runs", 10, "At least this many runs on the machine.", minimum=1),
        Param("max_run_minutes", 120.0, "The longest run took at most this long.", minimum=1),
        Param("min_restartable_share", 0.9, "Share of runs that checkpoint or resume.", 0, 1),
        Param("spot_discount_pct", 60.0, "Expected spot discount on this capacity.", 0, 100),
    ),
    sql="""
WITH run_machines AS (
    SELECT u.run_id, u.started_at, u.ended_at, lower(rid) AS rid,
           lower(coalesce(json_extract_string(u.tags, '$.checkpointing'), '')) IN
               ('enabled', 'true', 'yes')
           OR lower(coalesce(json_extract_string(u.tags, '$.restartable'), '')) IN ('true', 'yes')
           OR lower(coalesce(json_extract_string(u.params, '$.resume_from_checkpoint'), ''))
               IN ('true', '1', 'yes') AS restartable
    FROM runs u, unnest(CAST(json(coalesce(u.resource_ids, '[]')) AS VARCHAR[])) AS t(rid)
    WHERE u.started_at >= $as_of - to_days(CAST($lookback_days AS INTEGER))
      AND u.started_at < $as_of AND u.ended_at IS NOT NULL
),
per_vm AS (
    SELECT rid, count(*) AS runs,
           max(date_diff('second', started_at, ended_at)) / 60.0 AS longest_min,
           median(date_diff('second', started_at, ended_at)) / 60.0 AS median_min,
           avg(CASE WHEN restartable THEN 1.0 ELSE 0.0 END) AS restartable_share
    FROM run_machines GROUP BY rid
)
SELECT r.resource_id,
       'Spot candidate: ' || coalesce(r.name, r.resource_id)
           || ' (' || coalesce(r.instance_type, '?') || ') ran ' || v.runs
           || ' restartable runs of at most '
           || CAST(round(v.longest_min) AS INTEGER) || ' min on on-demand capacity' AS title,
       'Move these runs to spot capacity with checkpoints in object storage.' AS action,
       json_object('runs', v.runs, 'longest_run_min', round(v.longest_min, 1),
                   'median_run_min', round(v.median_min, 1),
                   'restartable_share', round(v.restartable_share, 3),
                   'lifecycle', r.lifecycle,
                   'on_demand_price_per_hour', r.price_per_hour,
                   'spot_price_per_hour', sp.spot_price_per_hour,
                   'spot_price_at', sp.spot_price_at,
                   'spot_discount_pct', round(CASE WHEN observed
                       THEN 100 * (1 - sp.spot_price_per_hour / r.price_per_hour)
                       ELSE $spot_discount_pct END, 2),
                   'discount_from', CASE WHEN observed THEN 'observed spot price'
                                         ELSE 'setting' END) AS evidence,
       CASE WHEN observed THEN r.monthly_cost * (1 - sp.spot_price_per_hour / r.price_per_hour)
            ELSE r.monthly_cost * $spot_discount_pct / 100 END AS estimated_monthly_savings,
       'medium' AS confidence
FROM per_vm v
JOIN rule_resources r ON r.rid = v.rid
LEFT JOIN rule_spot_prices sp
       ON sp.provider = r.provider AND sp.region = r.region AND sp.instance_type = r.instance_type
CROSS JOIN LATERAL (
    SELECT sp.spot_price_per_hour IS NOT NULL AND coalesce(r.price_per_hour, 0) > 0 AS observed
) o
WHERE r.resource_type = 'vm'
  AND lower(coalesce(r.lifecycle, 'on-demand')) IN ('on-demand', 'ondemand', 'normal', 'standard')
  AND lower(coalesce(json_extract_string(r.details, '$.provisioning_model'), 'standard'))
      = 'standard'
  AND lower(coalesce(r.state, '')) NOT IN ('terminated', 'deleted')
  AND v.runs >= $min_runs
  AND v.longest_min <= $max_run_minutes
  AND v.restartable_share >= $min_restartable_share
""",
)
