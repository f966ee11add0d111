"""Unused IP: a reserved public address associated with nothing, or with a stopped VM.

What it finds: an AWS Elastic IP with no association, an Azure public IP address bound
to no IP configuration and no NAT gateway, or a GCP static external address in status
``RESERVED``, older than ``grace_days``; and an address still associated with a VM that
is stopped, deallocated or terminated (it bills while serving nothing). Where the
inventory is missing, the bill alone is enough: AWS bills an unassociated Elastic IP
under the usage type ``ElasticIP:IdleAddress``, so such lines over the last 30 days are
reported for addresses the inventory does not know.

Why it matters: a small charge each, but they accumulate for years after the machine
they served is gone, and public IPv4 is now billed by every cloud.

Safe action: make sure no DNS record or allow-list points at the address, then release it.

Saving: the address's monthly cost (billed over the last 30 days); with no billing lines,
730 × the region's list price per hour for an address, with ``monthly_cost`` left empty.
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="unused_ip",
    doc=__doc__ or "",
    resource_types=("ip_address",),
    params=(Param("grace_days", 7, "Addresses younger than this are left alone.", minimum=0),),
    sql="""
WITH ips AS (
    SELECT ip.*, vm.state AS vm_state, vm.name AS vm_name
    FROM rule_resources ip
    LEFT JOIN rule_resources vm ON vm.rid = lower(ip.attached_to)
    WHERE ip.resource_type = 'ip_address'
      AND coalesce(ip.created_at, $as_of - INTERVAL 3650 DAY)
          <= $as_of - to_days(CAST($grace_days AS INTEGER))
),
found AS (
    SELECT resource_id,
           CASE WHEN attached_to IS NULL
                THEN 'Unused IP: ' || coalesce(name, resource_id) || ' is associated with nothing'
                ELSE 'Unused IP: ' || coalesce(name, resource_id) || ' points at '
                     || coalesce(vm_name, attached_to) || ', which is ' || vm_state
           END AS title,
           'Check that no DNS record or allow-list uses the address, then release it.' AS action,
           json_object('address', coalesce(json_extract_string(details, '$.public_ip'),
                                           json_extract_string(details, '$.ip_address'),
                                           json_extract_string(details, '$.address')),
                       'associated_with', attached_to, 'associated_state', vm_state,
                       'status', coalesce(json_extract_string(details, '$.status'), state),
                       'cost_from', CASE WHEN monthly_cost IS NOT NULL THEN 'billing'
                                         WHEN list_monthly_cost IS NOT NULL THEN 'list price'
                                    END) AS evidence,
           coalesce(monthly_cost, list_monthly_cost) AS estimated_monthly_savings,
           CASE WHEN monthly_cost IS NULL THEN 'medium' ELSE 'high' END AS confidence,
           NULL::VARCHAR AS provider, NULL::VARCHAR AS account_id, NULL::VARCHAR AS region,
           NULL::VARCHAR AS resource_type, NULL::VARCHAR AS resource_name,
           NULL::DECIMAL(38, 12) AS monthly_cost, NULL::VARCHAR AS currency
    FROM ips
    WHERE (attached_to IS NULL
           AND coalesce(json_extract_string(details, '$.status'), 'RESERVED') = 'RESERVED'
           AND lower(coalesce(state, 'available')) NOT IN ('in-use', 'in_use', 'associated'))
       OR vm_state IN ('stopped', 'deallocated', 'terminated')
),
billed_idle AS (
    -- billing alone: AWS names the charge for an unassociated address
    SELECT ResourceId AS resource_id,
           'aws' AS provider,
           min(SubAccountId) AS account_id,
           min(RegionId) AS region,
           sum(EffectiveCost) AS cost,
           min(BillingCurrency) AS currency,
           sum(ConsumedQuantity) AS idle_hours
    FROM cost
    WHERE ProviderName = 'AWS' AND ResourceId IS NOT NULL
      AND (ChargeDescription ILIKE '%IdleAddress%'
           OR ChargeDescription ILIKE '%Elastic IP address not attached%'
           OR SkuMeter ILIKE '%IdleAddress%')
      AND ChargePeriodStart >= $as_of - INTERVAL 30 DAY AND ChargePeriodStart < $as_of
    GROUP BY ResourceId
)
SELECT * FROM found
UNION ALL
SELECT b.resource_id,
       'Unused IP: ' || b.resource_id || ' is billed as an idle Elastic IP' AS title,
       'Check that no DNS record or allow-list uses the address, then release it.' AS action,
       json_object('billed_idle_hours_30d', b.idle_hours, 'seen_in', 'billing only') AS evidence,
       b.cost AS estimated_monthly_savings,
       'medium' AS confidence,
       b.provider, b.account_id, b.region, 'ip_address', b.resource_id, b.cost, b.currency
FROM billed_idle b
WHERE lower(b.resource_id) NOT IN (SELECT rid FROM rule_resources)
""",
)
