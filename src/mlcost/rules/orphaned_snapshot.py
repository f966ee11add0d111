"""Orphaned snapshot: a snapshot whose source volume is gone and which no image uses.

What it finds: a snapshot older than ``min_age_days`` whose source disk no longer
exists in the inventory and which no image references: an AMI's block devices (an AMI
that is *disabled* still references its snapshots, and deleting one would break a
re-enable), an Azure image's source, a GCP image's source snapshot, or any resource
that names it as its source. A snapshot whose disk still exists is a backup in use
and is left alone.

Why it matters: snapshots of deleted disks pile up for years; nobody owns them.

Safe action: check the description and tags for a retention need (compliance
backups), then delete it, or move it to an archive tier if it must be kept.

Saving: the snapshot's monthly cost (billed over the last 30 days); with no billing
lines, its stored size (the full size where the cloud reports only that) × the region's
snapshot list price per GB-month, with ``monthly_cost`` left empty and lower confidence.
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="orphaned_snapshot",
    doc=__doc__ or "",
    resource_types=("snapshot",),
    params=(Param("min_age_days", 7, "Snapshots younger than this are left alone.", minimum=0),),
    sql="""
WITH refs AS (
    -- every snapshot some image or resource refers to, in any of the clouds' shapes
    SELECT lower(source_id) AS rid FROM resources WHERE source_id IS NOT NULL
    UNION
    SELECT lower(unnest(CAST(json_extract(details, '$.snapshot_ids') AS VARCHAR[])))
    FROM resources
    WHERE resource_type = 'image' AND json_type(details, '$.snapshot_ids') = 'ARRAY'
    UNION
    SELECT lower(json_extract_string(details, '$.source_snapshot'))
    FROM resources WHERE resource_type = 'image'
)
SELECT s.resource_id,
       'Orphaned snapshot: ' || coalesce(s.name, s.resource_id) || ' (' || coalesce(s.size_gb, 0)
           || ' GB); its source disk is gone and no image uses it' AS title,
       'Check its description and tags for a retention need, then delete it '
           || '(or archive it if it must be kept).' AS action,
       json_object('source_volume', s.source_id, 'source_exists', false,
                   'used_by_image', false, 'size_gb', s.size_gb, 'created_at', s.created_at,
                   'age_days', date_diff('day', s.created_at, $as_of),
                   'description', json_extract_string(s.details, '$.description'),
                   'cost_from', CASE WHEN s.monthly_cost IS NOT NULL THEN 'billing'
                                     WHEN s.list_monthly_cost IS NOT NULL THEN 'list price'
                                END) AS evidence,
       coalesce(s.monthly_cost, s.list_monthly_cost) AS estimated_monthly_savings,
       CASE WHEN s.monthly_cost IS NOT NULL THEN 'high'
            WHEN s.list_monthly_cost IS NOT NULL THEN 'medium' ELSE 'low' END AS confidence
FROM rule_resources s
WHERE s.resource_type = 'snapshot'
  AND s.source_id IS NOT NULL
  AND lower(s.source_id) NOT IN (SELECT rid FROM rule_resources)
  AND s.rid NOT IN (SELECT rid FROM refs WHERE rid IS NOT NULL)
  AND coalesce(s.created_at, $as_of - INTERVAL 3650 DAY)
      <= $as_of - to_days(CAST($min_age_days AS INTEGER))
""",
)
