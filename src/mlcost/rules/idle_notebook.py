"""Idle notebook: a notebook instance left running with no activity.

What it finds: a running SageMaker notebook instance or Studio app, Azure ML compute
instance or Vertex AI Workbench instance that has done nothing for ``idle_days`` days:

* where the platform reports the last user activity, activity older than ``idle_days``
  days, unless its metrics show it working since (a day averaging above
  ``cpu_busy_pct`` CPU, or above ``gpu_max_pct`` GPU: a training loop left running in
  a kernel is work, not idleness);
* where it does not, metrics on each of the last ``idle_days`` days with the CPU peak at
  or below ``cpu_max_pct`` and the GPUs (if any) at or below ``gpu_max_pct``. Azure ML
  reports no user activity for a compute instance: it is judged by the CPU and GPU
  utilisation its workspace publishes for it.

Why it matters: notebooks are started for an afternoon and left on for months, often
on GPU types; idle shutdown is off by default on most of them.

Safe action: tell the owner, stop the instance (its disk and files are kept), and turn
on idle shutdown / auto-stop (for example 60 minutes).

Saving: the instance's monthly cost (billed over the last 30 days; else its list price
× 730 hours).
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="idle_notebook",
    doc=__doc__ or "",
    resource_types=("notebook",),
    providers=("aws", "azure", "gcp"),
    needs=("inventory", "metrics"),
    params=(
        Param("idle_days", 7, "No activity for longer than this many days.", minimum=1),
        Param("cpu_max_pct", 5.0, "Without activity data: CPU peak at or below this %.", 0, 100),
        Param("gpu_max_pct", 10.0, "GPUs idle at or below this daily average %.", 0, 100),
        Param("cpu_busy_pct", 20.0, "With activity data: a day above this CPU % is work.", 0, 100),
    ),
    sql="""
WITH nb AS (
    SELECT r.*,
           coalesce(
               detail_time(r.details, 'last_activity_at'),
               r.last_used_at) AS last_activity
    FROM rule_resources r
    WHERE r.resource_type = 'notebook'
      AND lower(coalesce(r.state, '')) IN ('running', 'inservice', 'active')
),
use AS (
    SELECT resource_id, count(*) AS days_observed, max(cpu_max) AS cpu_peak,
           max(cpu_avg) AS cpu_busiest_day, max(gpu_avg) AS gpu_busiest_day
    FROM rule_daily
    WHERE day >= $as_of - to_days(CAST($idle_days AS INTEGER))
      AND (cpu_max IS NOT NULL OR gpu_avg IS NOT NULL)
    GROUP BY resource_id
),
judged AS (
    SELECT nb.*, u.days_observed, u.cpu_peak, u.gpu_busiest_day,
           coalesce(u.cpu_busiest_day > $cpu_busy_pct, false)
               OR coalesce(u.gpu_busiest_day > $gpu_max_pct, false) AS working,
           coalesce(u.days_observed >= $idle_days AND u.cpu_peak <= $cpu_max_pct
                    AND coalesce(u.gpu_busiest_day, 0) <= $gpu_max_pct, false) AS metrics_idle
    FROM nb LEFT JOIN use u ON u.resource_id = nb.resource_id
)
SELECT resource_id,
       'Idle notebook: ' || coalesce(name, resource_id) || ' ('
           || coalesce(instance_type, '?') || ') running, '
           || CASE WHEN last_activity IS NOT NULL
                   THEN 'no activity since ' || strftime(last_activity, '%Y-%m-%d')
                   ELSE 'CPU peak ' || round(cpu_peak, 1) || ' %' END AS title,
       'Tell the owner, stop the instance (files are kept) and turn on idle shutdown.'
           AS action,
       json_object('last_activity_at', last_activity,
                   'days_inactive', date_diff('day', last_activity, $as_of),
                   'cpu_peak_pct', round(cpu_peak, 2),
                   'gpu_busiest_day_pct', round(gpu_busiest_day, 2),
                   'days_observed', days_observed,
                   'instance_type', instance_type, 'gpu_count', gpu_count) AS evidence,
       monthly_cost AS estimated_monthly_savings,
       CASE WHEN last_activity IS NOT NULL THEN 'high' ELSE 'medium' END AS confidence
FROM judged
WHERE CASE WHEN last_activity IS NOT NULL
           THEN last_activity <= $as_of - to_days(CAST($idle_days AS INTEGER)) AND NOT working
           ELSE metrics_idle END
""",
)
