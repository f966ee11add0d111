"""Obsolete image: an old machine image no VM or disk has used lately.

What it finds: an AMI, Azure managed image or GCP image older than ``max_unused_days``
whose last use (last launch, or the last VM or disk created from it, as the cloud
reports it) is more than ``max_unused_days`` ago, or that was never used, and that no
VM or disk in the inventory names as its source.

Why it matters: images keep their storage (for AMIs, the snapshots behind them) billed
forever; old CUDA and framework images also invite people to launch outdated stacks.

Safe action: deprecate or disable it first (a disabled AMI can be re-enabled), wait a
release cycle, then deregister or delete it together with its snapshots.

Saving: the image's monthly cost plus that of the snapshots only it uses (billed over
the last 30 days).
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="obsolete_image",
    doc=__doc__ or "",
    resource_types=("image",),
    params=(Param("max_unused_days", 90, "Unused for longer than this is obsolete.", minimum=1),),
    sql="""
WITH img AS (
    SELECT r.*,
           coalesce(
               r.last_used_at,
               detail_time(r.details, 'last_used_at'),
               detail_time(r.details, 'last_launched_at')) AS last_used
    FROM rule_resources r
    WHERE r.resource_type = 'image'
),
snap_cost AS (
    SELECT i.rid, sum(s.monthly_cost) AS cost
    FROM img i
    JOIN rule_resources s
      ON s.resource_type = 'snapshot'
     AND (json_type(i.details, '$.snapshot_ids') = 'ARRAY'
          AND list_contains(CAST(json_extract(i.details, '$.snapshot_ids') AS VARCHAR[]),
                            s.resource_id))
    GROUP BY i.rid
)
SELECT i.resource_id,
       'Obsolete image: ' || coalesce(i.name, i.resource_id) || CASE
           WHEN i.last_used IS NULL THEN ' was never used'
           ELSE ' last used ' || strftime(i.last_used, '%Y-%m-%d') END AS title,
       'Deprecate or disable it, wait a release cycle, then delete it and its snapshots.'
           AS action,
       json_object('created_at', i.created_at, 'last_used_at', i.last_used,
                   'days_unused', date_diff('day', coalesce(i.last_used, i.created_at), $as_of),
                   'used_by_current_resources', 0, 'size_gb', i.size_gb) AS evidence,
       coalesce(i.monthly_cost, 0) + coalesce(sc.cost, 0) AS estimated_monthly_savings,
       coalesce(i.monthly_cost, 0) + coalesce(sc.cost, 0) AS monthly_cost,
       CASE WHEN i.last_used IS NULL THEN 'medium' ELSE 'high' END AS confidence
FROM img i
LEFT JOIN snap_cost sc ON sc.rid = i.rid
WHERE coalesce(i.last_used, i.created_at) <= $as_of - to_days(CAST($max_unused_days AS INTEGER))
  AND i.created_at <= $as_of - to_days(CAST($max_unused_days AS INTEGER))
  AND i.rid NOT IN (
      SELECT lower(source_id) FROM resources
      WHERE source_id IS NOT NULL AND resource_type IN ('vm', 'volume', 'notebook'))
""",
)
