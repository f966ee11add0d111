"""Obsolete image: an old machine image no VM or disk has used lately.

What it finds: an AMI, Azure managed image or GCP image older than ``max_unused_days``
whose last use (last launch, or the last VM or disk created from it, as the cloud
reports it) is more than ``max_unused_days`` ago, or that was never used, and that no
VM or disk in the inventory names as its source.

Why it matters: images keep their storage (for AMIs, the snapshots behind them) billed
forever; old CUDA and framework images also invite people to launch outdated stacks.

Safe action: deprecate or disable it first (a disabled AMI can be re-enabled), wait a
release cycle, then deregister or delete it together with its snapshots.

Saving: the image's monthly cost plus that of the snapshots it uses (billed over the
last 30 days). An image with no billing lines (inventory only, or a bill that names only
its snapshots' ids) is kept, never dropped: ``monthly_cost`` stays empty and the saving
is estimated from list prices: its snapshots' sizes (else its own) × the region's
snapshot (or image) price per GB-month, with lower confidence; with no price either, the
saving is unknown.
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
    SELECT i.rid, sum(s.monthly_cost) AS billed, sum(s.list_monthly_cost) AS listed,
           count(*) AS snapshots
    FROM img i
    JOIN rule_resources s
      ON s.resource_type = 'snapshot'
     AND (json_type(i.details, '$.snapshot_ids') = 'ARRAY'
          AND list_contains(CAST(json_extract(i.details, '$.snapshot_ids') AS VARCHAR[]),
                            s.resource_id))
    GROUP BY i.rid
),
costed AS (
    SELECT i.*, sc.snapshots,
           CASE WHEN i.monthly_cost IS NOT NULL OR sc.billed IS NOT NULL
                THEN coalesce(i.monthly_cost, 0) + coalesce(sc.billed, 0) END AS billed,
           coalesce(sc.listed, i.list_monthly_cost) AS listed
    FROM img i LEFT JOIN snap_cost sc ON sc.rid = i.rid
)
SELECT resource_id,
       'Obsolete image: ' || coalesce(name, resource_id) || CASE
           WHEN last_used IS NULL THEN ' was never used'
           ELSE ' last used ' || strftime(last_used, '%Y-%m-%d') END AS title,
       'Deprecate or disable it, wait a release cycle, then delete it and its snapshots.'
           AS action,
       json_object('created_at', created_at, 'last_used_at', last_used,
                   'days_unused', date_diff('day', coalesce(last_used, created_at), $as_of),
                   'used_by_current_resources', 0, 'size_gb', size_gb,
                   'snapshots', coalesce(snapshots, 0),
                   'cost_from', CASE WHEN billed IS NOT NULL THEN 'billing'
                                     WHEN listed IS NOT NULL THEN 'list price' END)
           AS evidence,
       coalesce(billed, listed) AS estimated_monthly_savings,
       billed AS monthly_cost,
       -- how sure it is unused, one notch lower where the cost is a list price or unknown
       CASE WHEN billed IS NOT NULL AND last_used IS NOT NULL THEN 'high'
            WHEN billed IS NOT NULL OR (listed IS NOT NULL AND last_used IS NOT NULL)
            THEN 'medium' ELSE 'low' END AS confidence
FROM costed
WHERE coalesce(last_used, created_at) <= $as_of - to_days(CAST($max_unused_days AS INTEGER))
  AND created_at <= $as_of - to_days(CAST($max_unused_days AS INTEGER))
  AND rid NOT IN (
      SELECT lower(source_id) FROM resources
      WHERE source_id IS NOT NULL AND resource_type IN ('vm', 'volume', 'notebook'))
""",
)
