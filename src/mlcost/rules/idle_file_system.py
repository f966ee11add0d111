"""Idle file system: a shared file system no client has read or written for weeks.

What it finds: an Amazon FSx (for Lustre, Windows, ONTAP, OpenZFS) or EFS file system,
Azure NetApp Files volume or Filestore instance that is available and whose client I/O
operations (reads, writes and metadata operations, as the cloud's metrics count them)
summed over the last ``lookback_days`` days are at most ``max_io_ops``. A day with no
data point counts as none; it is judged when it has I/O metrics on at least
``min_observed_days`` days, or when it is older than the window and utilisation was
collected for its account over the window. Scratch file systems made for a training
run (FSx for Lustre linked to a dataset bucket) are the classic leftover.

Why it matters: file systems bill their provisioned (or stored) capacity, and for FSx its
throughput, every hour, with nothing mounted; a 12 TB Lustre scratch file system costs
about 1,700 USD a month.

Safe action: check that no cluster or job mounts it (FSx for Lustre: export changed
files to its linked bucket first), take a backup if the data is not elsewhere, then
delete it.

Saving: its monthly cost (billed over the last 30 days); with no billing lines, its size
× its list price per GB-month (``prices``: ``file_system:efs`` …), with ``monthly_cost``
left empty and lower confidence.
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="idle_file_system",
    doc=__doc__ or "",
    resource_types=("file_system",),
    providers=("aws", "azure", "gcp"),
    needs=("inventory", "metrics"),
    params=(
        Param("lookback_days", 14, "Days of client I/O judged.", minimum=1, maximum=120),
        Param("max_io_ops", 0, "At most this many I/O operations in the window.", minimum=0),
        Param("min_observed_days", 7, "Days of I/O metrics that suffice.", minimum=1),
    ),
    sql="""
WITH per AS (
    SELECT resource_id, count(*) AS days_observed, sum(disk_ops) AS io_ops
    FROM rule_daily
    WHERE day >= $as_of - to_days(CAST($lookback_days AS INTEGER)) AND disk_ops IS NOT NULL
    GROUP BY resource_id
),
fs AS (
    SELECT r.*, coalesce(p.days_observed, 0) AS days_observed,
           coalesce(p.io_ops, 0) AS io_ops
    FROM rule_resources r
    LEFT JOIN per p ON p.resource_id = r.resource_id
    WHERE r.resource_type = 'file_system'
      AND lower(coalesce(r.state, 'available')) IN ('available', 'running', 'ready',
                                                     'succeeded')
)
SELECT resource_id,
       'Idle file system: ' || coalesce(name, resource_id) || ' ('
           || coalesce(json_extract_string(details, '$.file_system_type'), '?') || ', '
           || coalesce(CAST(round(size_gb) AS BIGINT), 0) || ' GB) had '
           || CAST(io_ops AS BIGINT) || ' client I/O operations in ' || $lookback_days
           || ' days' AS title,
       'Check that nothing mounts it, back up what is not stored elsewhere, then delete it.'
           AS action,
       json_object('io_ops', CAST(io_ops AS BIGINT), 'days_with_data', days_observed,
                   'lookback_days', $lookback_days, 'size_gb', size_gb,
                   'file_system_type', json_extract_string(details, '$.file_system_type'),
                   'deployment_type', json_extract_string(details, '$.deployment_type'),
                   'cost_from', cost_from(monthly_cost, list_monthly_cost)) AS evidence,
       coalesce(monthly_cost, list_monthly_cost) AS estimated_monthly_savings,
       idle_confidence(monthly_cost, list_monthly_cost, days_observed) AS confidence
FROM fs
WHERE io_ops <= $max_io_ops
  AND idle_judged(days_observed, $min_observed_days, created_at, provider, account_id,
                  $as_of, $lookback_days)
""",
)
