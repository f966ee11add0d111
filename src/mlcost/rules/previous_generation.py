"""Previous generation: a VM on an old instance generation with a cheaper current one.

What it finds: a running VM whose type belongs to a previous generation: a family
listed in ``successors`` (recognised from the type's name alone, so no price is needed),
or a type ``prices`` marks as not current. Where both its price and the successor
family's prices in its region are known, the advice is the cheapest current type of the
successor family that offers at least as many vCPUs and GPUs and at least
``min_memory_ratio`` × its memory, and the VM is flagged only if that type is cheaper.
Where a price is missing, the VM is still flagged from its family, with the successor
family named, no saving, and low confidence. Successor families default to the clouds'
own migration guidance (m4 → m6i, c4 → c6i, p3 → g5, DSv2 → Dsv5, N1 → N2D …) and can
be changed in ``[rules.previous_generation.successors]``.

Why it matters: newer generations are faster per vCPU and usually cheaper per hour;
old ones also lose capacity and discounts over time.

Safe action: test the workload on the new type (for GPU types, check the framework
and driver support the new GPU), then change the type in a maintenance window.

Saving: monthly cost × (1 − new price ÷ current price), from on-demand list prices;
unknown (null) where the prices are not in ``prices``.
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
           r.family, p.price_per_hour AS price,
           coalesce(p.vcpus, r.vcpus) AS vcpus, coalesce(p.memory_gb, r.memory_gb) AS memory_gb,
           coalesce(p.gpu_count, r.gpu_count, 0) AS gpu_count,
           coalesce(p.gpu_model, r.gpu_model) AS gpu_model,
           coalesce(s.new_family, r.family) AS new_family
    FROM rule_resources r
    LEFT JOIN rule_prices p
      ON p.provider = r.provider AND p.region = r.region AND p.instance_type = r.instance_type
    LEFT JOIN succ s ON s.old_family = r.family
    WHERE r.resource_type = 'vm' AND r.state = 'running'
      AND (s.new_family IS NOT NULL OR p.current_generation = false)
),
fits AS (
    -- current types of the successor family in the region that can take the workload
    SELECT vm.resource_id, c.instance_type, c.price_per_hour, c.gpu_model
    FROM vm
    JOIN rule_prices c
      ON c.provider = vm.provider AND c.region = vm.region AND c.family = vm.new_family
     AND coalesce(c.current_generation, true)
     AND c.instance_type <> vm.instance_type
     AND c.vcpus >= coalesce(vm.vcpus, 0) AND c.gpu_count >= vm.gpu_count
     AND c.memory_gb >= coalesce(vm.memory_gb, 0) * $min_memory_ratio
),
best AS (
    SELECT resource_id,
           arg_min(instance_type, price_per_hour) AS new_type,
           min(price_per_hour) AS new_price,
           arg_min(gpu_model, price_per_hour) AS new_gpu_model
    FROM fits GROUP BY resource_id
),
judged AS (
    SELECT vm.*, b.new_type, b.new_price, b.new_gpu_model,
           vm.price IS NOT NULL AND b.new_price IS NOT NULL AS priced
    FROM vm LEFT JOIN best b ON b.resource_id = vm.resource_id
)
SELECT resource_id,
       'Previous generation: ' || coalesce(name, resource_id) || ' runs ' || instance_type
           || CASE WHEN priced THEN '; ' || new_type || ' is current and cheaper'
                   ELSE '; the ' || new_family || ' family is its current successor' END
           AS title,
       'Test the workload on ' || coalesce(new_type, 'a ' || new_family || ' type')
           || ', then change the type in a maintenance window.' AS action,
       json_object('current_type', instance_type, 'current_family', family,
                   'current_price_per_hour', price, 'current_gpu_model', gpu_model,
                   'successor_family', new_family, 'suggested_type', new_type,
                   'suggested_price_per_hour', new_price,
                   'suggested_gpu_model', new_gpu_model, 'priced', priced) AS evidence,
       CASE WHEN priced THEN coalesce(monthly_cost, price * $hours_per_month)
                             * (1 - new_price / price) END AS estimated_monthly_savings,
       CASE WHEN priced THEN 'medium' ELSE 'low' END AS confidence
FROM judged
-- priced: only where the successor is cheaper; unpriced: from the family alone
WHERE (priced AND new_price < price) OR NOT priced
""",
)
