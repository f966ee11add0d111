"""Previous generation: a VM on an old instance generation with a cheaper current one.

What it finds: a running VM whose type belongs to a previous generation (a family
listed in ``successors``, or a type ``prices`` marks as not current) and for which a
current-generation type of the successor family, in the same region, is cheaper and
offers at least as many vCPUs and GPUs and at least ``min_memory_ratio`` × its memory.
The advice is the cheapest such type. Successor families default to the clouds' own
migration guidance (m4 → m6i, c4 → c6i, p3 → g5, DSv2 → Dsv5, N1 → N2D …) and can be
changed in ``[rules.previous_generation.successors]``.

Why it matters: newer generations are faster per vCPU and usually cheaper per hour;
old ones also lose capacity and discounts over time.

Safe action: test the workload on the new type (for GPU types, check the framework
and driver support the new GPU), then change the type in a maintenance window.

Saving: monthly cost × (1 − new price ÷ current price), from on-demand list prices.
"""

from mlcost.rules.base import Param, Rule

SUCCESSORS: dict[str, str] = {
    "m1": "m6i",
    "m3": "m6i",
    "m4": "m6i",
    "c1": "c6i",
    "c3": "c6i",
    "c4": "c6i",
    "r3": "r6i",
    "r4": "r6i",
    "t1": "t3",
    "t2": "t3",
    "i2": "i4i",
    "i3": "i4i",
    "p2": "g5",
    "p3": "g5",
    "g2": "g5",
    "g3": "g5",
    "Standard_D_v2": "Standard_Ds_v5",
    "Standard_DS_v2": "Standard_Ds_v5",
    "Standard_D_v3": "Standard_D_v5",
    "Standard_Ds_v3": "Standard_Ds_v5",
    "Standard_E_v3": "Standard_E_v5",
    "Standard_Es_v3": "Standard_Es_v5",
    "n1-standard": "n2d-standard",
    "n1-highmem": "n2d-highmem",
    "n1-highcpu": "n2d-highcpu",
}

RULE = Rule(
    id="previous_generation",
    doc=__doc__ or "",
    resource_types=("vm",),
    params=(
        Param("successors", SUCCESSORS, "Old family = the current family to move to."),
        Param("min_memory_ratio", 0.5, "The new type's memory ÷ the old one's, at least.", 0, 4),
    ),
    sql="""
WITH succ AS (
    SELECT k AS old_family, json_extract_string(CAST($successors AS JSON), '$."' || k || '"')
               AS new_family
    FROM (SELECT unnest(json_keys(CAST($successors AS JSON))) AS k)
),
vm AS (
    SELECT r.resource_id, r.name, r.provider, r.region, r.instance_type, r.monthly_cost,
           p.family, p.price_per_hour AS price, p.vcpus, p.memory_gb,
           coalesce(p.gpu_count, 0) AS gpu_count, p.gpu_model, s.new_family
    FROM rule_resources r
    JOIN rule_prices p
      ON p.provider = r.provider AND p.region = r.region AND p.instance_type = r.instance_type
    LEFT JOIN succ s ON s.old_family = p.family
    WHERE r.resource_type = 'vm' AND r.state = 'running'
      AND (s.new_family IS NOT NULL OR p.current_generation = false)
),
best AS (
    SELECT vm.resource_id,
           arg_min(c.instance_type, c.price_per_hour) AS new_type,
           min(c.price_per_hour) AS new_price,
           arg_min(c.gpu_model, c.price_per_hour) AS new_gpu_model
    FROM vm
    JOIN rule_prices c
      ON c.provider = vm.provider AND c.region = vm.region
     AND c.family = coalesce(vm.new_family, vm.family)
     AND coalesce(c.current_generation, true)
     AND c.instance_type <> vm.instance_type
     AND c.vcpus >= vm.vcpus AND c.gpu_count >= vm.gpu_count
     AND c.memory_gb >= vm.memory_gb * $min_memory_ratio
     AND c.price_per_hour < vm.price
    GROUP BY vm.resource_id
)
SELECT vm.resource_id,
       'Previous generation: ' || coalesce(vm.name, vm.resource_id) || ' runs '
           || vm.instance_type || '; ' || b.new_type || ' is current and cheaper' AS title,
       'Test the workload on ' || b.new_type || ', then change the type in a maintenance '
           || 'window.' AS action,
       json_object('current_type', vm.instance_type, 'current_price_per_hour', vm.price,
                   'current_gpu_model', vm.gpu_model, 'suggested_type', b.new_type,
                   'suggested_price_per_hour', b.new_price,
                   'suggested_gpu_model', b.new_gpu_model) AS evidence,
       coalesce(vm.monthly_cost, vm.price * $hours_per_month) * (1 - b.new_price / vm.price)
           AS estimated_monthly_savings,
       'medium' AS confidence
FROM vm JOIN best b ON b.resource_id = vm.resource_id
""",
)
