"""Stopped VM still billed: an Azure VM stopped but not deallocated.

What it finds: an Azure VM whose power state is ``PowerState/stopped`` (shut down from
inside the OS, or stopped without deallocation) and whose compute is still billed:
its billing shows compute hours in the last ``recent_days`` days. A stopped Azure VM
keeps its hardware reserved and bills every hour; only a *deallocated* VM stops the
compute charge. Where inventory is missing, the same VM cannot be told apart from a
running one in billing alone, so this rule needs the Azure inventory.

Why it matters: users believe a stopped VM is free; it costs as much as a running one.

Safe action: deallocate it (`az vm deallocate`, or Stop in the portal), which keeps
its disks and configuration; delete it if nobody needs it.

Saving: the VM's compute cost over the last 30 days (its disks keep billing either way
and are not counted).
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="stopped_vm_billed",
    doc=__doc__ or "",
    resource_types=("vm",),
    needs=("inventory", "billing"),
    saving_from=("billing",),
    providers=("azure",),
    params=(
        Param("recent_days", 3, "Compute billed within this many days.", minimum=1),
        Param("min_stopped_days", 1, "Stopped for at least this many days.", minimum=0),
    ),
    sql="""
WITH billed AS (
    SELECT lower(ResourceId) AS rid,
           sum(ConsumedQuantity) FILTER (
               WHERE ChargePeriodStart >= $as_of - to_days(CAST($recent_days AS INTEGER)))
               AS recent_hours,
           max(ChargePeriodEnd) AS last_billed
    FROM cost
    WHERE ProviderName = 'Microsoft' AND ChargeCategory = 'Usage'
      AND (ServiceCategory = 'Compute' OR ResourceType = 'Virtual Machine')
      AND ChargePeriodStart >= $as_of - INTERVAL 30 DAY AND ChargePeriodStart < $as_of
    GROUP BY 1
)
SELECT r.resource_id,
       'Stopped but not deallocated: ' || coalesce(r.name, r.resource_id) || ' ('
           || coalesce(r.instance_type, '?') || ') still bills compute' AS title,
       'Deallocate it (az vm deallocate, or Stop in the portal): disks and settings are '
           || 'kept and the compute charge stops.' AS action,
       json_object('power_state', json_extract_string(r.details, '$.power_state'),
                   'stopped_at', json_extract_string(r.details, '$.stopped_at'),
                   'compute_hours_last_days', b.recent_hours,
                   'recent_days', $recent_days,
                   'last_billed', b.last_billed) AS evidence,
       r.monthly_cost AS estimated_monthly_savings,
       'high' AS confidence
FROM rule_resources r
JOIN billed b ON b.rid = r.rid
WHERE r.provider = 'azure' AND r.resource_type = 'vm'
  AND (json_extract_string(r.details, '$.power_state') = 'PowerState/stopped'
       OR (r.state = 'stopped' AND json_extract_string(r.details, '$.power_state') IS NULL))
  AND coalesce(b.recent_hours, 0) > 0
  AND coalesce(detail_time(r.details, 'stopped_at'),
               $as_of - INTERVAL 3650 DAY)
      <= $as_of - to_days(CAST($min_stopped_days AS INTEGER))
""",
)
