"""Idle notebook: a notebook instance left running with no activity.

What it finds: a SageMaker notebook instance, Azure ML compute instance or Vertex AI
Workbench instance that is running and whose last user activity (as the platform
reports it) is more than ``idle_days`` days old; where the platform reports no
activity, one whose daily CPU peak stayed at or below ``cpu_max_pct`` on every one of
the last ``idle_days`` days (at least that many days of metrics).

Why it matters: notebooks are started for an afternoon and left on for months, often
on GPU types; idle shutdown is off by default on most of them.

Safe action: tell the owner, stop the instance (its disk and files are kept), and turn
on idle shutdown / auto-stop (for example 60 minutes).

Saving: the instance's monthly cost (billed over the last 30 days).
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="idle_notebook",
    doc=__doc__ or "",
    resource_types=("notebook",),
    params=(
        Param("idle_days", 7, "No activity for longer than this many days.", minimum=1),
        Param("cpu_max_pct", 5.0, "Without activity data: CPU peak at or below this %.", 0, 100),
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
cpu AS (
    SELECT resource_id, count(*) AS days_observed, max(cpu_max) AS cpu_peak
    FROM rule_daily
    WHERE day >= $as_of - to_days(CAST($idle_days AS INTEGER)) AND cpu_max IS NOT NULL
    GROUP BY resource_id
)
SELECT nb.resource_id,
       'Idle notebook: ' || coalesce(nb.name, nb.resource_id) || ' ('
           || coalesce(nb.instance_type, '?') || ') running, '
           || CASE WHEN nb.last_activity IS NOT NULL
                   THEN 'no activity since ' || strftime(nb.last_activity, '%Y-%m-%d')
                   ELSE 'CPU peak ' || round(c.cpu_peak, 1) || ' %' END AS title,
       'Tell the owner, stop the instance (files are kept) and turn on idle shutdown.'
           AS action,
       json_object('last_activity_at', nb.last_activity,
                   'days_inactive', date_diff('day', nb.last_activity, $as_of),
                   'cpu_peak_pct', round(c.cpu_peak, 2), 'days_observed', c.days_observed,
                   'instance_type', nb.instance_type, 'gpu_count', nb.gpu_count) AS evidence,
       nb.monthly_cost AS estimated_monthly_savings,
       CASE WHEN nb.last_activity IS NOT NULL THEN 'high' ELSE 'medium' END AS confidence
FROM nb
LEFT JOIN cpu c ON c.resource_id = nb.resource_id
WHERE CASE WHEN nb.last_activity IS NOT NULL
           THEN nb.last_activity <= $as_of - to_days(CAST($idle_days AS INTEGER))
           ELSE c.days_observed >= $idle_days AND c.cpu_peak <= $cpu_max_pct END
""",
)
