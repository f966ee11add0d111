"""Idle VM: a running virtual machine that has done almost nothing for days.

What it finds: a running VM whose daily average CPU stayed at or below ``cpu_max_pct``
and whose network traffic (in + out) stayed at or below ``network_max_mb`` on at least
``min_idle_days`` of the last ``lookback_days`` days. The defaults are AWS Trusted
Advisor's "Low Utilization Amazon EC2 Instances" check (10 %, 5 MB, 4 of 14 days), so
the figures match what an AWS user already knows. With ``method = "percentile"`` the
test is the Azure Advisor / GCP Recommender style instead: the ``percentile`` of the
daily maximum CPU and of the daily network over the window must both be under the
thresholds, on at least ``min_observed_days`` days of data. A VM with GPUs counts as
idle on a day only if its GPUs were idle too (``gpu_max_pct``).

Why it matters: an idle VM costs exactly what a busy one does.

Safe action: confirm with the owner (the tags are in the finding), snapshot its disks
if unsure, then stop it, or terminate it when nothing on it is needed.

Saving: the VM's monthly cost (its billed EffectiveCost over the last 30 days), since
stopping it stops the compute charge. Confidence is high when it was idle on every
observed day, medium otherwise.
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="idle_vm",
    doc=__doc__ or "",
    resource_types=("vm",),
    providers=("aws", "azure", "gcp"),
    needs=("inventory", "metrics"),
    params=(
        Param("lookback_days", 14, "Days of utilisation judged.", minimum=1, maximum=120),
        Param("cpu_max_pct", 10.0, "A day is idle at or below this CPU %.", 0, 100),
        Param("network_max_mb", 5.0, "…and at or below this network traffic (MB in+out).", 0),
        Param("gpu_max_pct", 10.0, "…and, on GPU VMs, at or below this GPU %.", 0, 100),
        Param("min_idle_days", 4, "Idle days needed (method trusted_advisor).", minimum=1),
        Param(
            "method",
            "trusted_advisor",
            "trusted_advisor (idle days) or percentile (Azure Advisor / GCP style).",
            choices=("trusted_advisor", "percentile"),
        ),
        Param("percentile", 95.0, "Percentile judged (method percentile).", 50, 100),
        Param("min_observed_days", 7, "Days of data needed (method percentile).", minimum=1),
    ),
    sql="""
WITH days AS (
    SELECT d.resource_id, d.day, d.cpu_avg, d.cpu_max,
           d.net_bytes / 1e6 AS net_mb, d.gpu_avg,
           d.cpu_avg <= $cpu_max_pct
             AND coalesce(d.net_bytes / 1e6, 0) <= $network_max_mb
             AND coalesce(d.gpu_avg, 0) <= $gpu_max_pct AS idle
    FROM rule_daily d
    WHERE d.day >= $as_of - to_days(CAST($lookback_days AS INTEGER)) AND d.cpu_avg IS NOT NULL
),
per_vm AS (
    SELECT resource_id,
           count(*) AS days_observed,
           count(*) FILTER (WHERE idle) AS days_idle,
           round(avg(cpu_avg), 2) AS cpu_avg_pct,
           round(max(cpu_max), 2) AS cpu_max_pct,
           round(quantile_cont(cpu_max, $percentile / 100), 2) AS cpu_pctl,
           round(quantile_cont(coalesce(net_mb, 0), $percentile / 100), 2) AS net_mb_pctl,
           round(avg(net_mb), 2) AS network_mb_per_day,
           round(avg(gpu_avg), 2) AS gpu_avg_pct
    FROM days GROUP BY resource_id
)
SELECT r.resource_id,
       'Idle VM: ' || coalesce(r.name, r.resource_id) || ' (' || coalesce(r.instance_type, '?')
           || ') did almost nothing on ' || v.days_idle || ' of ' || v.days_observed || ' days'
           AS title,
       'Confirm with the owner, snapshot its disks if unsure, then stop or terminate it.'
           AS action,
       json_object('days_idle', v.days_idle, 'days_observed', v.days_observed,
                   'cpu_avg_pct', v.cpu_avg_pct, 'cpu_max_pct', v.cpu_max_pct,
                   'network_mb_per_day', v.network_mb_per_day, 'gpu_avg_pct', v.gpu_avg_pct,
                   'method', $method,
                   'thresholds', json_object('cpu_pct', $cpu_max_pct,
                                             'network_mb', $network_max_mb)) AS evidence,
       r.monthly_cost AS estimated_monthly_savings,
       CASE WHEN v.days_idle = v.days_observed THEN 'high' ELSE 'medium' END AS confidence
FROM per_vm v
JOIN rule_resources r ON r.resource_id = v.resource_id
WHERE r.resource_type = 'vm' AND r.state = 'running'
  AND CASE WHEN $method = 'trusted_advisor' THEN v.days_idle >= $min_idle_days
           ELSE v.days_observed >= $min_observed_days
                AND v.cpu_pctl <= $cpu_max_pct AND v.net_mb_pctl <= $network_max_mb
                AND coalesce(v.gpu_avg_pct, 0) <= $gpu_max_pct END
""",
)
