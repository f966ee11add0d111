"""Volume type upgrade: a disk on a type that a cheaper current type serves as well.

What it finds: an attached disk whose type has a cheaper successor in ``upgrades`` (AWS gp2 → gp3,
io1 → io2; Azure Premium SSD → Premium SSD v2; GCP pd-ssd → pd-balanced), where the
successor, provisioned to match what the disk gets now, costs at least ``min_saving_pct`` %
less at the region's list prices:

* AWS gp2 → gp3: a gp2 volume gets 3 IOPS per GB (100 to 16,000) and up to 250 MiB/s
  (128 MiB/s up to 170 GB); gp3 includes 3,000 IOPS and 125 MiB/s, and the rest is
  provisioned at its IOPS and throughput prices, so nothing gets slower;
* AWS io1 → io2: the same size and provisioned IOPS at io2's prices (the same in most
  regions, so it fires only where io2 is cheaper);
* Azure Premium SSD (v1, LRS) → Premium SSD v2: a v1 disk bills its size tier (P30:
  1,024 GiB, 5,000 IOPS, 200 MB/s) by the month; v2 bills the GiB, and the IOPS and MB/s
  above the 3,000 and 125 it includes, by the hour: priced at the same size with the tier's
  IOPS and throughput. Only where v2 is allowed: a data disk (not an OS disk), in a region
  that offers v2, and where that region offers it in availability zones, a zonal disk;
* GCP pd-ssd → pd-balanced: only when the IOPS used fit: the busiest day's average IOPS of
  the disk (for an attached disk, of its VM's disks together) is at most
  ``max_iops_use_pct`` % of what pd-balanced gives the size (3,000 + 6 per GB).

Why it matters: gp3 is 20 % cheaper than gp2 per GB with the same or better performance,
and the change is online; old volume types survive in launch templates for years.

Safe action: change the type in place (AWS ModifyVolume: no detach, no downtime; Azure:
deallocate the VM or detach the disk, turn host caching off, and change its SKU; GCP:
snapshot and re-create as pd-balanced in a maintenance window), then update the launch
templates and images that keep creating the old type.

Saving: monthly cost × (1 − successor's list cost ÷ current list cost); with no billing
lines, the difference of the two list costs, with ``monthly_cost`` left empty.
"""

from mlcost.rules.base import Param, Rule

UPGRADES: dict[str, str] = {
    "gp2": "gp3",
    "io1": "io2",
    "Premium_LRS": "PremiumV2_LRS",
    "pd-ssd": "pd-balanced",
}
#: Azure Premium SSD (v1) size tiers: the largest size each holds (GiB) and the IOPS and
#: MB/s it provisions (Azure's managed-disk documentation).
PREMIUM_TIERS: tuple[tuple[str, int, int, int], ...] = (
    ("P1", 4, 120, 25),
    ("P2", 8, 120, 25),
    ("P3", 16, 120, 25),
    ("P4", 32, 120, 25),
    ("P6", 64, 240, 50),
    ("P10", 128, 500, 100),
    ("P15", 256, 1100, 125),
    ("P20", 512, 2300, 150),
    ("P30", 1024, 5000, 200),
    ("P40", 2048, 7500, 250),
    ("P50", 4096, 7500, 250),
    ("P60", 8192, 16000, 500),
    ("P70", 16384, 18000, 750),
    ("P80", 32767, 20000, 900),
)
_TIERS_SQL = ",\n    ".join(f"('{n}', {gb}, {iops}, {mbps})" for n, gb, iops, mbps in PREMIUM_TIERS)

RULE = Rule(
    id="volume_type_upgrade",
    doc=__doc__ or "",
    resource_types=("volume",),
    providers=("aws", "azure", "gcp"),
    needs=("inventory", "prices"),
    params=(
        Param("upgrades", UPGRADES, "Old disk type = the cheaper current type to move to."),
        Param("min_saving_pct", 5.0, "Flag only if the new type is this much cheaper.", 0, 100),
        Param("max_iops_use_pct", 50.0, "GCP: the IOPS used, % of the new type's.", 1, 100),
    ),
    sql="""
WITH up AS (
    SELECT lower(k) AS old_type,
           json_extract_string(CAST($upgrades AS JSON), '$."' || k || '"') AS new_name,
           lower(json_extract_string(CAST($upgrades AS JSON), '$."' || k || '"')) AS new_type
    FROM (SELECT unnest(json_keys(CAST($upgrades AS JSON))) AS k)
),
premium_tiers(tier, tier_gb, tier_iops, tier_mbps) AS (
    VALUES
    {tiers}
),
vol AS (
    SELECT r.resource_id, r.name, r.provider, r.region, r.size_gb, r.monthly_cost,
           r.attached_to, r.state, r.details,
           lower(coalesce(json_extract_string(r.details, '$.volume_type'),
                          json_extract_string(r.details, '$.disk_type'),
                          json_extract_string(r.details, '$.sku'))) AS old_type,
           TRY_CAST(json_extract_string(r.details, '$.iops') AS DOUBLE) AS iops,
           up.new_type, up.new_name
    FROM rule_resources r
    JOIN up ON up.old_type = lower(coalesce(json_extract_string(r.details, '$.volume_type'),
                                            json_extract_string(r.details, '$.disk_type'),
                                            json_extract_string(r.details, '$.sku')))
    -- an unattached disk is unattached_volume's: deleting it saves more than converting
    WHERE r.resource_type = 'volume' AND r.size_gb > 0 AND r.attached_to IS NOT NULL
),
tiered AS (
    -- an Azure Premium SSD bills its size tier (the smallest that holds it, unless set)
    SELECT v.*, t.tier, t.tier_iops, t.tier_mbps
    FROM (SELECT v.*,
                 CASE WHEN v.old_type = 'premium_lrs' THEN coalesce(
                     upper(json_extract_string(v.details, '$.tier')),
                     (SELECT arg_min(p.tier, p.tier_gb) FROM premium_tiers p
                      WHERE p.tier_gb >= v.size_gb)) END AS tier_name
          FROM vol v) v
    LEFT JOIN premium_tiers t ON t.tier = v.tier_name
),
allowed AS (
    -- Premium SSD v2: data disks only; in a region that offers it in zones, zonal disks
    SELECT * FROM tiered
    WHERE new_type <> 'premiumv2_lrs'
       OR (json_extract_string(details, '$.os_type') IS NULL
           AND json_extract(details, '$.premium_v2_zones') IS NOT NULL
           AND (json_array_length(json_extract(details, '$.premium_v2_zones')) = 0
                OR coalesce(json_array_length(json_extract(details, '$.zones')), 0) > 0))
),
price AS (
    -- a month's price: hourly meters (Azure's Premium SSD v2) × hours a month
    SELECT provider, region, product,
           price * CASE WHEN unit LIKE '%Hours' THEN $hours_per_month ELSE 1 END AS price
    FROM rule_unit_prices
),
io AS (
    -- the busiest day's average IOPS of the disk, else of the VM it is attached to
    SELECT resource_id, max(disk_ops) / 86400 AS peak_iops FROM rule_daily
    WHERE day >= $as_of - INTERVAL 30 DAY AND disk_ops IS NOT NULL GROUP BY resource_id
),
sized AS (
    SELECT v.*,
           coalesce(io_self.peak_iops, io_vm.peak_iops, 0) AS peak_iops,
           -- what the disk gets now, which the new type must match (AWS gp2 baseline,
           -- an Azure tier's provisioned performance)
           CASE WHEN v.old_type = 'gp2' THEN least(greatest(3 * v.size_gb, 100), 16000)
                WHEN v.old_type = 'premium_lrs' THEN v.tier_iops
                ELSE coalesce(v.iops, 0) END AS iops_needed,
           CASE WHEN v.old_type = 'gp2' THEN CASE WHEN v.size_gb <= 170 THEN 128 ELSE 250 END
                WHEN v.old_type = 'premium_lrs' THEN v.tier_mbps
                ELSE 0 END AS throughput_needed,
           po.price AS old_price, pn.price AS new_gb,
           coalesce(poi.price, 0) AS old_iops_price, coalesce(pni.price, 0) AS new_iops_price,
           coalesce(pnt.price, 0) AS new_throughput_price
    FROM allowed v
    LEFT JOIN io io_self ON io_self.resource_id = v.resource_id
    LEFT JOIN io io_vm ON io_vm.resource_id = v.attached_to
    JOIN price po ON po.provider = v.provider AND po.region = v.region
                 AND po.product = 'volume:' || v.old_type
                     || CASE WHEN v.old_type = 'premium_lrs' THEN ':' || lower(v.tier) ELSE '' END
    JOIN price pn ON pn.provider = v.provider AND pn.region = v.region
                 AND pn.product = 'volume:' || v.new_type
    LEFT JOIN price poi ON poi.provider = v.provider AND poi.region = v.region
                       AND poi.product = 'volume_iops:' || v.old_type
    LEFT JOIN price pni ON pni.provider = v.provider AND pni.region = v.region
                       AND pni.product = 'volume_iops:' || v.new_type
    LEFT JOIN price pnt ON pnt.provider = v.provider AND pnt.region = v.region
                       AND pnt.product = 'volume_throughput:' || v.new_type
),
costed AS (
    SELECT *,
           -- an Azure Premium SSD's price is its tier's, per disk; the others' per GB
           CASE WHEN old_type = 'premium_lrs' THEN old_price
                ELSE size_gb * old_price
                     + CASE WHEN old_type IN ('io1', 'io2') THEN iops_needed * old_iops_price
                            ELSE 0 END
           END AS old_cost,
           -- gp3 and Premium SSD v2 include 3,000 IOPS and 125 MiB/s (MB/s)
           size_gb * new_gb
               + CASE WHEN new_type IN ('gp3', 'premiumv2_lrs')
                      THEN greatest(iops_needed - 3000, 0) * new_iops_price
                           + greatest(throughput_needed - 125, 0) * new_throughput_price
                      WHEN new_type IN ('io1', 'io2') THEN iops_needed * new_iops_price
                      ELSE 0 END AS new_cost,
           -- pd-balanced: 3,000 IOPS plus 6 per GB (GCP's documented limits)
           CASE WHEN new_type = 'pd-balanced' THEN 3000 + 6 * size_gb END AS new_iops_limit
    FROM sized
)
SELECT resource_id,
       'Volume type upgrade: ' || coalesce(name, resource_id) || ' (' || size_gb || ' GB '
           || old_type || coalesce(' ' || tier, '') || ') would cost '
           || round(100 * (1 - new_cost / old_cost), 1) || ' % less as ' || new_name AS title,
       'Change the disk type to ' || new_name
           || CASE WHEN provider = 'aws' THEN ' in place (ModifyVolume, no downtime)'
                   WHEN provider = 'azure'
                   THEN ' (deallocate the VM or detach the disk, turn host caching off, '
                        || 'then change its SKU)'
                   ELSE ' (snapshot and re-create it in a maintenance window)' END
           || ', then update the templates that create ' || old_type || ' disks.' AS action,
       json_object('current_type', old_type, 'suggested_type', new_type,
                   'size_gb', size_gb, 'current_tier', tier, 'iops_matched', iops_needed,
                   'throughput_matched_mibps', throughput_needed,
                   'peak_iops_used', round(peak_iops, 2), 'new_type_iops_limit', new_iops_limit,
                   'current_list_cost', round(old_cost, 4),
                   'suggested_list_cost', round(new_cost, 4),
                   'cost_from', CASE WHEN monthly_cost IS NOT NULL THEN 'billing'
                                     ELSE 'list price' END) AS evidence,
       CASE WHEN monthly_cost IS NOT NULL THEN monthly_cost * (1 - new_cost / old_cost)
            ELSE old_cost - new_cost END AS estimated_monthly_savings,
       CASE WHEN monthly_cost IS NOT NULL THEN 'high' ELSE 'medium' END AS confidence
FROM costed
WHERE old_cost > 0
  AND new_cost <= old_cost * (1 - $min_saving_pct / 100)
  AND (new_iops_limit IS NULL OR peak_iops <= new_iops_limit * $max_iops_use_pct / 100)
""".replace("{tiers}", _TIERS_SQL),
)
