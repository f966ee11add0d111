"""Idle GPU: a running GPU machine whose GPUs sit mostly idle.

What it finds: a running VM with GPUs whose average GPU utilisation over the last
``lookback_days`` days is at or below ``gpu_avg_max_pct`` and whose busiest day stayed
at or below ``gpu_day_max_pct``, with at least ``min_observed_days`` days of GPU
metrics (from the NVIDIA metrics the CloudWatch agent, Azure Monitor or the Ops Agent
publish). No established tool checks GPUs: CPU-based idle checks miss a GPU box whose
CPU is busy feeding nothing, and GPUs are most of the bill.

Why it matters: a GPU hour costs 5 to 50 times a CPU hour; a forgotten 4-GPU dev box
costs thousands a month.

Safe action: ask the owner; save the notebook or checkpoint, then stop the VM (or move
the work to a CPU type or a smaller GPU type if only the CPU side is used).

Saving: the VM's monthly cost (billed EffectiveCost over the last 30 days).
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="idle_gpu",
    doc=__doc__ or "",
    resource_types=("vm",),
    providers=("aws", "gcp"),
    needs=("inventory", "metrics"),
    params=(
        Param("lookback_days", 14, "Days of GPU utilisation judged.", minimum=1, maximum=120),
        Param("gpu_avg_max_pct", 10.0, "Idle at or below this average GPU %.", 0, 100),
        Param("gpu_day_max_pct", 20.0, "…and no day's average above this GPU %.", 0, 100),
        Param("min_observed_days", 7, "Days of GPU metrics needed.", minimum=1),
    ),
    sql="""
WITH per_vm AS (
    SELECT resource_id,
           count(*) AS days_observed,
           round(avg(gpu_avg), 2) AS gpu_avg_pct,
           round(max(gpu_avg), 2) AS gpu_busiest_day_pct,
           round(avg(gpu_mem_avg), 2) AS gpu_mem_avg_pct,
           round(avg(cpu_avg), 2) AS cpu_avg_pct
    FROM rule_daily
    WHERE day >= $as_of - to_days(CAST($lookback_days AS INTEGER)) AND gpu_avg IS NOT NULL
    GROUP BY resource_id
)
SELECT r.resource_id,
       'Idle GPUs: ' || coalesce(r.name, r.resource_id) || ' (' || coalesce(r.gpu_count, 0)
           || ' x ' || coalesce(r.gpu_model, 'GPU') || ') averaged ' || v.gpu_avg_pct
           || ' % GPU over ' || v.days_observed || ' days' AS title,
       'Ask the owner, checkpoint or save the work, then stop the VM '
           || '(or move CPU-only work to a CPU type).' AS action,
       json_object('gpu_avg_pct', v.gpu_avg_pct, 'gpu_busiest_day_pct', v.gpu_busiest_day_pct,
                   'gpu_mem_avg_pct', v.gpu_mem_avg_pct, 'cpu_avg_pct', v.cpu_avg_pct,
                   'gpu_count', r.gpu_count, 'gpu_model', r.gpu_model,
                   'days_observed', v.days_observed) AS evidence,
       r.monthly_cost AS estimated_monthly_savings,
       CASE WHEN v.days_observed >= $lookback_days - 1 THEN 'high' ELSE 'medium' END
           AS confidence
FROM per_vm v
JOIN rule_resources r ON r.resource_id = v.resource_id
WHERE r.resource_type = 'vm' AND r.state = 'running' AND coalesce(r.gpu_count, 1) > 0
  AND v.days_observed >= $min_observed_days
  AND v.gpu_avg_pct <= $gpu_avg_max_pct AND v.gpu_busiest_day_pct <= $gpu_day_max_pct
""",
)
