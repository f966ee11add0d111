"""Unattached volume: a disk attached to nothing for longer than the grace period.

What it finds: an EBS volume in state ``available``, an Azure managed disk that is
``Unattached`` (no ``managed_by``), or a GCP persistent disk with no ``users``, that
has been detached for more than ``grace_days`` days. Detached since: the last detach
or ownership change the cloud reports, else the disk's creation time, but never before
the end of the last day the disk did any I/O (``disk_io_ops``): AWS reports no detach
time, and a disk read and written until two days ago was in use until then. A disk
made or detached in the last few days is often waiting for its VM, so the grace period
keeps it out.

Why it matters: a detached disk bills its full provisioned size (and IOPS) every month
and is the most common orphan left behind by deleted VMs and finished experiments.

Safe action: snapshot it if the data may be needed (a snapshot costs less and keeps
only used blocks), then delete it.

Saving: the disk's monthly cost (billed over the last 30 days); with no billing lines,
its size × the region's list price per GB-month for its type (``prices``), with
``monthly_cost`` left empty and lower confidence. A snapshot taken before deletion is
a new, usually smaller, cost that is not subtracted.
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="unattached_volume",
    doc=__doc__ or "",
    resource_types=("volume",),
    params=(Param("grace_days", 7, "Days a disk may stay detached unflagged.", minimum=0),),
    sql="""
WITH last_io AS (
    SELECT resource_id, max(day) + INTERVAL 1 DAY AS last_io_at
    FROM rule_daily WHERE disk_ops > 0 GROUP BY resource_id
),
v AS (
    SELECT r.*, io.last_io_at,
           greatest(
               coalesce(
                   r.last_used_at,
                   detail_time(r.details, 'last_attached_at'),
                   detail_time(r.details, 'last_detach_timestamp'),
                   detail_time(r.details, 'last_ownership_update'),
                   r.created_at),
               io.last_io_at) AS detached_since
    FROM rule_resources r
    LEFT JOIN last_io io ON io.resource_id = r.resource_id
    WHERE r.resource_type = 'volume'
      AND r.attached_to IS NULL
      AND lower(coalesce(r.state, '')) IN ('available', 'unattached', 'ready', 'detached')
      AND coalesce(json_extract_string(r.details, '$.disk_state'), 'Unattached')
          IN ('Unattached', 'Reserved')
)
SELECT resource_id,
       'Unattached disk: ' || coalesce(name, resource_id) || ' (' || coalesce(size_gb, 0)
           || ' GB) detached since ' || strftime(detached_since, '%Y-%m-%d') AS title,
       'Snapshot it if the data may be needed, then delete the disk.' AS action,
       json_object('size_gb', size_gb, 'state', state, 'detached_since', detached_since,
                   'days_detached', date_diff('day', detached_since, $as_of),
                   'last_io_at', last_io_at,
                   'grace_days', $grace_days,
                   'volume_type', coalesce(json_extract_string(details, '$.volume_type'),
                                           json_extract_string(details, '$.sku'),
                                           json_extract_string(details, '$.disk_type')),
                   'cost_from', CASE WHEN monthly_cost IS NOT NULL THEN 'billing'
                                     WHEN list_monthly_cost IS NOT NULL THEN 'list price'
                                END) AS evidence,
       coalesce(monthly_cost, list_monthly_cost) AS estimated_monthly_savings,
       CASE WHEN monthly_cost IS NOT NULL THEN 'high'
            WHEN list_monthly_cost IS NOT NULL THEN 'medium' ELSE 'low' END AS confidence
FROM v
WHERE detached_since <= $as_of - to_days(CAST($grace_days AS INTEGER))
""",
)
