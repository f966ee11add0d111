"""Rightsize VM: a VM whose peak use fits a cheaper type of the same family.

What it finds: a running VM with at least ``min_observed_days`` days of CPU metrics in
the last ``lookback_days`` days, whose ``percentile`` (p95 by default; p99 for the
cautious) of daily CPU maxima, scaled to a smaller type, would stay under
``target_max_cpu_pct``: it needs ``vCPUs × p95 / target`` vCPUs. The advice is the
cheapest type of the same family in the same region (same GPUs) with at least that
many vCPUs, and, where a memory metric is published (``mem_util_pct``), enough memory
for the peak under the same headroom. Without memory metrics the family keeps the
memory-per-vCPU ratio, and confidence is medium. VMs that are idle (average CPU under
``min_cpu_avg_pct``, or GPUs averaging under ``min_gpu_avg_pct``) are left to
``idle_vm`` and ``idle_gpu``: stopping them saves more than resizing.

Why it matters: machines are sized for a launch-day guess and never revisited.

Safe action: resize in a maintenance window (stop, change type, start) and watch the
p95 for a week; keep the old type name in a tag to roll back.

Saving: monthly cost × (1 − new price ÷ current price), the on-demand list prices of
the two types in ``prices``; so discounts on the current bill carry over in proportion.
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="rightsize_vm",
    doc=__doc__ or "",
    resource_types=("vm",),
    needs=("inventory", "metrics", "prices"),
    params=(
        Param("lookback_days", 14, "Days of utilisation judged.", minimum=1, maximum=120),
        Param("percentile", 95.0, "Percentile of daily CPU maxima sized for.", 50, 100),
        Param("target_max_cpu_pct", 80.0, "The new type's CPU at that percentile.", 10, 100),
        Param("min_observed_days", 7, "Days of CPU metrics needed.", minimum=1),
        Param("min_cpu_avg_pct", 3.0, "Idler VMs are left to idle_vm.", 0, 100),
        Param("min_gpu_avg_pct", 10.0, "GPU VMs with idler GPUs are left to idle_gpu.", 0, 100),
    ),
    sql="""
WITH use AS (
    SELECT resource_id, count(*) AS days_observed,
           quantile_cont(cpu_max, $percentile / 100) AS cpu_pctl,
           avg(cpu_avg) AS cpu_avg, avg(gpu_avg) AS gpu_avg,
           quantile_cont(mem_max, $percentile / 100) AS mem_pctl
    FROM rule_daily
    WHERE day >= $as_of - to_days(CAST($lookback_days AS INTEGER)) AND cpu_max IS NOT NULL
    GROUP BY resource_id
),
vm AS (
    SELECT r.resource_id, r.name, r.provider, r.region, r.instance_type, r.family,
           r.monthly_cost, p.price_per_hour AS price, p.vcpus, p.memory_gb, p.gpu_count,
           u.days_observed, u.cpu_pctl, u.cpu_avg, u.gpu_avg, u.mem_pctl,
           p.vcpus * u.cpu_pctl / $target_max_cpu_pct AS vcpus_needed,
           p.memory_gb * u.mem_pctl / $target_max_cpu_pct AS memory_needed
    FROM rule_resources r
    JOIN use u ON u.resource_id = r.resource_id
    JOIN rule_prices p
      ON p.provider = r.provider AND p.region = r.region AND p.instance_type = r.instance_type
    WHERE r.resource_type = 'vm' AND r.state = 'running'
      AND u.days_observed >= $min_observed_days
      AND u.cpu_avg >= $min_cpu_avg_pct
      AND (coalesce(p.gpu_count, 0) = 0 OR coalesce(u.gpu_avg, 100) >= $min_gpu_avg_pct)
),
best AS (
    SELECT vm.resource_id,
           arg_min(c.instance_type, c.price_per_hour) AS new_type,
           min(c.price_per_hour) AS new_price,
           arg_min(c.vcpus, c.price_per_hour) AS new_vcpus,
           arg_min(c.memory_gb, c.price_per_hour) AS new_memory_gb
    FROM vm
    JOIN rule_prices c
      ON c.provider = vm.provider AND c.region = vm.region AND c.family = vm.family
     AND c.gpu_count = coalesce(vm.gpu_count, 0)
     AND c.vcpus >= vm.vcpus_needed
     AND (vm.memory_needed IS NULL OR c.memory_gb >= vm.memory_needed)
     AND c.price_per_hour < vm.price
    GROUP BY vm.resource_id
)
SELECT vm.resource_id,
       'Rightsize: ' || coalesce(vm.name, vm.resource_id) || ' ' || vm.instance_type || ' -> '
           || b.new_type || ' (p' || CAST($percentile AS INTEGER) || ' CPU '
           || round(vm.cpu_pctl, 1) || ' % of ' || vm.vcpus || ' vCPUs)' AS title,
       'Resize to ' || b.new_type || ' in a maintenance window (stop, change type, start) '
           || 'and watch the CPU for a week.' AS action,
       -- the computed key and the test in parentheses: so sqlglot parses them (Spark)
       json_object('current_type', vm.instance_type, 'current_vcpus', vm.vcpus,
                   'current_memory_gb', vm.memory_gb, 'current_price_per_hour', vm.price,
                   ('cpu_p' || CAST($percentile AS INTEGER)), round(vm.cpu_pctl, 2),
                   'cpu_avg_pct', round(vm.cpu_avg, 2), 'days_observed', vm.days_observed,
                   'vcpus_needed', round(vm.vcpus_needed, 2), 'suggested_type', b.new_type,
                   'suggested_vcpus', b.new_vcpus, 'suggested_memory_gb', b.new_memory_gb,
                   'suggested_price_per_hour', b.new_price,
                   'memory_measured', (vm.mem_pctl IS NOT NULL)) AS evidence,
       coalesce(vm.monthly_cost, vm.price * $hours_per_month) * (1 - b.new_price / vm.price)
           AS estimated_monthly_savings,
       CASE WHEN vm.mem_pctl IS NOT NULL THEN 'high' ELSE 'medium' END AS confidence
FROM vm JOIN best b ON b.resource_id = vm.resource_id
""",
)
