"""For every rule: an organisation where it fires (with the saving worked out by hand)
and a near miss where it must not. The meta-test fails when a registered rule has none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tests.rules.builder import AS_OF, Org, days_before


@dataclass(frozen=True)
class Case:
    build: Callable[[Org], None]
    resource_id: str
    #: The saving a user sees, computed by hand in the comment next to it.
    savings: Decimal | None = None


def _gpu_prices(org: Org) -> None:
    org.price("g5.xlarge", "1.006", 4, 16, gpus=1, gpu_model="A10G")
    org.price("g5.4xlarge", "1.624", 16, 64, gpus=1, gpu_model="A10G")


# -- idle_vm: Trusted Advisor: CPU <= 10 % and network <= 5 MB on >= 4 of 14 days ------------


def idle_vm_fires(org: Org) -> None:
    org.resource("i-idle", "vm", instance_type="m5.large", vcpus=2)
    # exactly on the thresholds counts as idle (<=), on 4 days; busy the other 10
    org.usage("i-idle", cpu=[30.0] * 10 + [10.0] * 4, net_mb=[50.0] * 10 + [5.0] * 4)
    org.bill("i-idle", "2.304")  # 0.096 $/h × 24 h; 30 days = 69.12


def idle_vm_near_miss(org: Org) -> None:
    org.resource("i-busy", "vm", instance_type="m5.large", vcpus=2)
    # idle on only 3 days; a fourth day has CPU just above 10 %
    org.usage("i-busy", cpu=[30.0] * 10 + [10.1] + [2.0] * 3, net_mb=1.0)
    org.bill("i-busy", "2.304")


# -- idle_gpu ---------------------------------------------------------------------------


def idle_gpu_fires(org: Org) -> None:
    _gpu_prices(org)
    org.resource("i-gpu", "vm", instance_type="g5.xlarge", gpu_count=1, gpu_model="A10G")
    org.usage("i-gpu", cpu=35.0, net_mb=900.0, gpu=3.0)  # busy CPU, idle GPU
    org.bill("i-gpu", "24.144")  # 1.006 × 24; 30 days = 724.32


def idle_gpu_near_miss(org: Org) -> None:
    _gpu_prices(org)
    org.resource("i-gpu-ok", "vm", instance_type="g5.xlarge", gpu_count=1, gpu_model="A10G")
    org.usage("i-gpu-ok", cpu=35.0, net_mb=900.0, gpu=10.5)  # just above 10 %
    org.bill("i-gpu-ok", "24.144")


# -- stopped_vm_billed --------------------------------------------------------------------

AZ_VM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{}"


def stopped_vm_fires(org: Org) -> None:
    rid = AZ_VM.format("vm-stopped")
    org.resource(
        rid,
        "vm",
        provider="azure",
        state="stopped",
        instance_type="Standard_D16s_v5",
        details={"power_state": "PowerState/stopped", "stopped_at": "2026-09-20T00:00:00Z"},
    )
    # billing writes the id in another case; 0.768 × 24 = 18.432 a day, 30 days = 552.96
    org.bill(rid.upper(), "18.432", provider="azure", ResourceType="Virtual Machine")


def stopped_vm_near_miss(org: Org) -> None:
    rid = AZ_VM.format("vm-deallocated")
    org.resource(
        rid,
        "vm",
        provider="azure",
        state="deallocated",
        instance_type="Standard_D16s_v5",
        details={"power_state": "PowerState/deallocated"},
    )
    # billed until it was deallocated ten days ago, nothing since
    org.bill(
        rid,
        "18.432",
        provider="azure",
        ResourceType="Virtual Machine",
        days=20,
        ending=days_before(10),
    )


# -- unattached_volume --------------------------------------------------------------------


def unattached_volume_fires(org: Org) -> None:
    org.resource(
        "vol-old",
        "volume",
        state="available",
        size_gb=500.0,
        details={"last_attached_at": "2026-08-01T00:00:00Z", "volume_type": "gp3"},
    )
    org.bill("vol-old", "1.5")  # 30 days = 45.00


def unattached_volume_near_miss(org: Org) -> None:
    # detached five days ago: inside the seven-day grace period
    org.resource(
        "vol-new",
        "volume",
        state="available",
        size_gb=500.0,
        details={"last_attached_at": (AS_OF - timedelta(days=5)).isoformat() + "Z"},
    )
    org.bill("vol-new", "1.5")


# -- orphaned_snapshot --------------------------------------------------------------------


def orphaned_snapshot_fires(org: Org) -> None:
    org.resource("snap-a", "snapshot", state="available", source_id="vol-gone", size_gb=300.0)
    org.bill("snap-a", "0.5")  # 30 days = 15.00


def orphaned_snapshot_near_miss(org: Org) -> None:
    # its volume is gone, but a *disabled* AMI still references it
    org.resource("snap-b", "snapshot", state="available", source_id="vol-gone", size_gb=300.0)
    org.resource("ami-off", "image", state="disabled", details={"snapshot_ids": ["snap-b"]})
    org.bill("snap-b", "0.5")


# -- unused_ip ------------------------------------------------------------------------------


def unused_ip_fires(org: Org) -> None:
    org.resource("eipalloc-free", "ip_address", state="available")
    org.bill("eipalloc-free", "0.12")  # 0.005 × 24; 30 days = 3.60


def unused_ip_near_miss(org: Org) -> None:
    org.resource("i-web", "vm", instance_type="m5.large")
    org.usage("i-web", cpu=40.0, net_mb=5000.0)
    org.resource("eipalloc-web", "ip_address", state="in-use", attached_to="i-web")
    org.bill("eipalloc-web", "0.12")


# -- obsolete_image -------------------------------------------------------------------------


def obsolete_image_fires(org: Org) -> None:
    org.resource(
        "ami-old",
        "image",
        state="available",
        created_at=AS_OF - timedelta(days=600),
        details={"last_launched_at": "2025-05-01T00:00:00Z", "snapshot_ids": ["snap-ami"]},
    )
    org.resource("snap-ami", "snapshot", state="available", source_id="vol-builder")
    org.resource("vol-builder", "volume", state="in-use", attached_to="i-builder")
    org.bill("snap-ami", "0.2")  # the AMI's storage is its snapshot: 30 days = 6.00


def obsolete_image_near_miss(org: Org) -> None:
    org.resource(
        "ami-base",
        "image",
        state="available",
        created_at=AS_OF - timedelta(days=600),
        details={"last_launched_at": "2025-05-01T00:00:00Z"},
    )
    # not launched for a long time, but a current VM was built from it
    org.resource("i-from-base", "vm", instance_type="m5.large", source_id="ami-base")
    org.usage("i-from-base", cpu=40.0, net_mb=5000.0)


# -- idle_endpoint --------------------------------------------------------------------------

EP = "arn:aws:sagemaker:us-east-1:111122223333:endpoint/{}"


def idle_endpoint_fires(org: Org) -> None:
    org.resource(EP.format("canary"), "endpoint", instance_type="ml.g4dn.xlarge")
    org.daily(EP.format("canary"), "invocations", 0.0, stat="Sum")
    org.bill(EP.format("canary"), "17.6736")  # 0.7364 × 24; 30 days = 530.208


def idle_endpoint_near_miss(org: Org) -> None:
    org.resource(EP.format("quiet"), "endpoint", instance_type="ml.g4dn.xlarge")
    org.daily(EP.format("quiet"), "invocations", [0.0] * 13 + [1.0], stat="Sum")  # one call
    org.bill(EP.format("quiet"), "17.6736")


# -- idle_notebook ----------------------------------------------------------------------------

NB = "arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/{}"


def idle_notebook_fires(org: Org) -> None:
    org.resource(
        NB.format("nb-old"),
        "notebook",
        instance_type="ml.p3.2xlarge",
        details={"last_activity_at": "2026-09-01T10:00:00Z"},
    )
    org.bill(NB.format("nb-old"), "91.8")  # 3.825 × 24; 30 days = 2754.00


def idle_notebook_near_miss(org: Org) -> None:
    org.resource(
        NB.format("nb-used"),
        "notebook",
        instance_type="ml.p3.2xlarge",
        details={"last_activity_at": (AS_OF - timedelta(days=6)).isoformat() + "Z"},
    )
    org.bill(NB.format("nb-used"), "91.8")


# -- rightsize_vm ---------------------------------------------------------------------------


def _c6i(org: Org) -> None:
    org.price("c6i.2xlarge", "0.34", 8, 16)
    org.price("c6i.4xlarge", "0.68", 16, 32)
    org.price("c6i.8xlarge", "1.36", 32, 64)


def rightsize_fires(org: Org) -> None:
    _c6i(org)
    org.resource("i-big", "vm", instance_type="c6i.8xlarge", vcpus=32)
    # p95 of daily maxima 17 %: needs 32 × 17 / 80 = 6.8 vCPUs -> c6i.2xlarge
    org.usage("i-big", cpu=8.0, cpu_max=17.0, net_mb=5000.0)
    org.bill("i-big", "32.64")  # 1.36 × 24; 30 days = 979.20; saving 979.20 × (1 - 0.34/1.36)


def rightsize_near_miss(org: Org) -> None:
    _c6i(org)
    org.resource("i-fit", "vm", instance_type="c6i.8xlarge", vcpus=32)
    # 40.5 % of 32 vCPUs needs 16.2 at 80 %: no smaller type fits
    org.usage("i-fit", cpu=20.0, cpu_max=40.5, net_mb=5000.0)
    org.bill("i-fit", "32.64")


# -- previous_generation --------------------------------------------------------------------


def _m(org: Org) -> None:
    org.price("m4.4xlarge", "0.80", 16, 64, current=False)
    org.price("m6i.2xlarge", "0.384", 8, 32)
    org.price("m6i.4xlarge", "0.768", 16, 64)


def previous_generation_fires(org: Org) -> None:
    _m(org)
    org.resource("i-m4", "vm", instance_type="m4.4xlarge")
    org.usage("i-m4", cpu=50.0, net_mb=5000.0)
    org.bill("i-m4", "19.2")  # 0.80 × 24; 30 days = 576; saving 576 × (1 - 0.768/0.80) = 23.04


def previous_generation_near_miss(org: Org) -> None:
    _m(org)
    org.resource("i-m6i", "vm", instance_type="m6i.4xlarge")
    org.usage("i-m6i", cpu=50.0, net_mb=5000.0)
    org.bill("i-m6i", "18.432")


# -- spot_candidate -------------------------------------------------------------------------


def _trials(org: Org, rid: str, minutes: list[float]) -> None:
    for i, m in enumerate(minutes):
        org.run(
            f"{rid}-trial-{i}",
            rid,
            days_before(20) + timedelta(hours=i),
            m,
            tags={"checkpointing": "enabled"},
            params={"resume_from_checkpoint": True},
        )


def spot_candidate_fires(org: Org) -> None:
    org.resource("i-hpo", "vm", instance_type="g5.4xlarge", lifecycle="on-demand", gpu_count=1)
    org.usage("i-hpo", cpu=50.0, net_mb=5000.0, gpu=80.0)
    _trials(org, "i-hpo", [40.0] * 12)
    org.bill("i-hpo", "38.976")  # 1.624 × 24; 30 days = 1169.28; 60 % = 701.568


def spot_candidate_near_miss(org: Org) -> None:
    org.resource("i-hpo-long", "vm", instance_type="g5.4xlarge", lifecycle="on-demand")
    org.usage("i-hpo-long", cpu=50.0, net_mb=5000.0, gpu=80.0)
    _trials(org, "i-hpo-long", [40.0] * 11 + [121.0])  # one trial too long to risk
    org.bill("i-hpo-long", "38.976")


# -- commitment_underused ------------------------------------------------------------------

SP = "arn:aws:savingsplans::111122223333:savingsplan/sp-1"


def _commitment(org: Org, used: str, unused: str) -> None:
    common = {
        "CommitmentDiscountId": SP,
        "CommitmentDiscountName": "Compute SP $1/h",
        "CommitmentDiscountType": "Savings Plan",
        "CommitmentDiscountUnit": "USD",
        "PricingCategory": "Committed",
    }
    org.resource("i-covered", "vm", instance_type="m6i.xlarge")
    org.usage("i-covered", cpu=50.0, net_mb=5000.0)
    org.bill(
        "i-covered",
        used,
        CommitmentDiscountStatus="Used",
        CommitmentDiscountQuantity=Decimal(used),
        **common,
    )
    org.bill(
        SP,
        unused,
        CommitmentDiscountStatus="Unused",
        CommitmentDiscountQuantity=Decimal(unused),
        **common,
    )


def commitment_underused_fires(org: Org) -> None:
    # 10 used + 15 unused a day: 40 % utilisation; unused 15 × 30 days = 450
    _commitment(org, "10", "15")


def commitment_underused_near_miss(org: Org) -> None:
    _commitment(org, "16.1", "3.9")  # 80.5 %: just above the 80 % target


# -- commitment_purchase -------------------------------------------------------------------


def commitment_purchase_fires(org: Org) -> None:
    org.price("m6i.xlarge", "0.192", 4, 16)
    for rid, hours in (("i-steady", 24), ("i-daytime", 8)):
        org.resource(rid, "vm", instance_type="m6i.xlarge")
        org.usage(rid, cpu=50.0, net_mb=5000.0)
        org.bill(rid, str(Decimal("0.192") * hours), hours=hours, PricingCategory="Standard")
    # N = 1 covers 24 of the 32 hours a day: 720 h × 0.192 = 138.24 avoided, for
    # 720 h × 0.192 × 0.7 = 96.768; net 41.472 over 720 h = 42.048 a 730-hour month.
    # N = 2 covers 960 h: 184.32 avoided for 193.536: a loss. So one, for i-steady.


def commitment_purchase_near_miss(org: Org) -> None:
    org.price("m6i.xlarge", "0.192", 4, 16)
    org.resource("i-16h", "vm", instance_type="m6i.xlarge")
    org.usage("i-16h", cpu=50.0, net_mb=5000.0)
    # 16 hours a day: 480 h × 0.192 = 92.16 avoided < 96.768 paid
    org.bill("i-16h", "3.072", hours=16, PricingCategory="Standard")


# -- volume_type_upgrade ---------------------------------------------------------------------


def volume_type_upgrade_fires(org: Org) -> None:
    org.unit_price("volume:gp2", "GB-Months", "0.10")
    org.unit_price("volume:gp3", "GB-Months", "0.08")
    org.unit_price("volume_iops:gp3", "IOPS-Months", "0.005")
    org.unit_price("volume_throughput:gp3", "MiBps-Months", "0.04")
    org.resource(
        "vol-gp2",
        "volume",
        state="in-use",
        attached_to="i-app",
        size_gb=600.0,
        details={"volume_type": "gp2", "iops": 1800},
    )
    # 600 GB × 0.10 = 60 a month: 2.00 a day. As gp3: 600 × 0.08 = 48, IOPS 1,800 within
    # the 3,000 included, throughput 250 MiB/s = 125 extra × 0.04 = 5: 53. Saving
    # 60 × (1 - 53 / 60) = 7.00
    org.bill("vol-gp2", "2.0")


def _azure_premium_prices(org: Org) -> dict[str, str]:
    z = {"provider": "azure", "region": "eastus"}
    org.unit_price("volume:premium_lrs:p20", "Months", "73.22", **z)
    org.unit_price("volume:premiumv2_lrs", "GiB-Hours", "0.00011", **z)
    org.unit_price("volume_iops:premiumv2_lrs", "IOPS-Hours", "0.0000066", **z)
    org.unit_price("volume_throughput:premiumv2_lrs", "MBps-Hours", "0.000055", **z)
    return z


def volume_type_upgrade_fires_azure(org: Org) -> None:
    z = _azure_premium_prices(org)
    disk = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/features"
    org.resource(
        disk,
        "volume",
        state="in-use",
        attached_to="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/"
        "virtualMachines/etl",
        size_gb=500.0,
        details={"sku": "Premium_LRS", "zones": ["2"], "premium_v2_zones": ["1", "2", "3"]},
        **z,
    )
    # a 500 GiB disk is billed as P20 (512 GiB, 2,300 IOPS, 150 MB/s): 73.22 a month,
    # 2.44 a day over 30 days = 73.20. As v2: 500 × 0.00011 × 730 = 40.15, IOPS within the
    # 3,000 included, (150 − 125) × 0.000055 × 730 = 1.00375: 41.15375. Saving
    # 73.20 × (1 − 41.15375 / 73.22) = 32.0575 (to 4 places)
    org.bill(disk, "2.44", provider="azure")


def volume_type_upgrade_near_miss_azure(org: Org) -> None:
    z = _azure_premium_prices(org)
    disk = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/etl-os"
    org.resource(
        disk,
        "volume",
        state="in-use",
        attached_to="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/"
        "virtualMachines/etl",
        size_gb=500.0,
        # an OS disk cannot be Premium SSD v2, however much cheaper v2 is
        details={
            "sku": "Premium_LRS",
            "os_type": "Linux",
            "zones": ["2"],
            "premium_v2_zones": ["1", "2", "3"],
        },
        **z,
    )
    org.bill(disk, "2.44", provider="azure")


def volume_type_upgrade_near_miss(org: Org) -> None:
    g = {"provider": "gcp", "region": "us-central1"}
    org.unit_price("volume:pd-ssd", "GB-Months", "0.17", **g)
    org.unit_price("volume:pd-balanced", "GB-Months", "0.10", **g)
    vm = "//compute.googleapis.com/projects/p/zones/us-central1-a/instances/db"
    org.resource(vm, "vm", instance_type="n2-standard-8", **g)
    org.usage(vm, cpu=40.0, net_mb=5000.0)
    # pd-balanced gives 3,000 + 6 × 100 = 3,600 IOPS; the VM's disks averaged 1,801 IOPS
    # on their busiest day: more than half of it, so pd-ssd stays
    org.daily(vm, "disk_io_ops", [1000.0 * 86400] * 13 + [1801.0 * 86400], stat="Sum")
    org.resource(
        vm.replace("instances/db", "disks/db-data"),
        "volume",
        state="in-use",
        attached_to=vm,
        size_gb=100.0,
        details={"disk_type": "pd-ssd"},
        **g,
    )
    org.bill(vm.replace("instances/db", "disks/db-data"), "0.566", provider="gcp")


# -- idle_nat_gateway ------------------------------------------------------------------------


def _nat(org: Org, rid: str, gb_per_day: float) -> None:
    org.resource(rid, "nat_gateway", state="available", details={"vpc_id": "vpc-train"})
    org.daily(rid, "net_out_bytes", gb_per_day * 1e9 * 2 / 3, stat="Sum")
    org.daily(rid, "net_in_bytes", gb_per_day * 1e9 / 3, stat="Sum")
    org.bill(rid, "1.08")  # 0.045 × 24; 30 days = 32.40


def idle_nat_gateway_fires(org: Org) -> None:
    _nat(org, "nat-0idle", 0.03)  # 14 × 0.03 = 0.42 GB in two weeks


def idle_nat_gateway_near_miss(org: Org) -> None:
    _nat(org, "nat-0used", 0.075)  # 14 × 0.075 = 1.05 GB: just over the 1 GB


# -- idle_load_balancer ------------------------------------------------------------------------

LB = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/{}/50dc6c495c0c9188"


def _lb(org: Org, name: str, requests_per_day: float) -> None:
    rid = LB.format(name)
    org.resource(rid, "load_balancer", state="active", details={"lb_type": "application"})
    org.daily(rid, "requests", requests_per_day, stat="Sum", days=7)
    org.daily(rid, "net_in_bytes", requests_per_day * 2000, stat="Sum", days=7)
    org.bill(rid, "0.54")  # 0.0225 × 24; 30 days = 16.20


def idle_load_balancer_fires(org: Org) -> None:
    _lb(org, "demo-api", 5.0)  # 35 requests in 7 days


def idle_load_balancer_near_miss(org: Org) -> None:
    _lb(org, "docs-site", 15.0)  # 105 requests in 7 days: over the 100


# -- idle_file_system --------------------------------------------------------------------------


def _fs(org: Org, rid: str, ops: list[float]) -> None:
    org.resource(
        rid,
        "file_system",
        state="available",
        size_gb=2400.0,
        details={"file_system_type": "lustre", "deployment_type": "SCRATCH_2"},
    )
    org.daily(rid, "disk_io_ops", ops, stat="Sum")
    org.bill(rid, "11.2")  # 2,400 GB × 0.14 a month = 336: 11.20 a day; 30 days = 336.00


def idle_file_system_fires(org: Org) -> None:
    _fs(org, "fs-0scratch", [0.0] * 14)


def idle_file_system_near_miss(org: Org) -> None:
    _fs(org, "fs-0dataset", [0.0] * 13 + [12.0])  # one job read it yesterday


# -- offhours_schedule -------------------------------------------------------------------------


def _office_hours(busy_nights: int = 0) -> Callable[[datetime], float]:
    """40 % CPU Monday to Friday 09:00-18:00, 1 % otherwise; a nightly job at 02:00 on
    the first ``busy_nights`` weekdays."""
    nights: list[datetime] = []

    def cpu(ts: datetime) -> float:
        if ts.weekday() < 5 and 9 <= ts.hour < 18:
            return 40.0
        if ts.weekday() < 5 and ts.hour == 2 and len(nights) < busy_nights:
            nights.append(ts)
            return 35.0
        return 1.0

    return cpu


def offhours_fires(org: Org) -> None:
    org.resource("i-devbox", "vm", instance_type="m5.xlarge", tags={"env": "dev"})
    org.hourly("i-devbox", "cpu_util_pct", _office_hours())
    org.usage("i-devbox", cpu=15.0, net_mb=800.0)
    # 5.60 a day: 168 a month. Nights and weekends: 168 - 5 × 12 office hours = 108 hours a
    # week, all idle: 168 × 108 / 168 = 108.00
    org.bill("i-devbox", "5.6")


def offhours_near_miss(org: Org) -> None:
    org.resource("i-devjobs", "vm", instance_type="m5.xlarge", tags={"env": "dev"})
    # 5 busy nights: 5 of the 216 off-hours hours (2.3 %) are work, over the 2 %
    org.hourly("i-devjobs", "cpu_util_pct", _office_hours(busy_nights=5))
    org.usage("i-devjobs", cpu=15.0, net_mb=800.0)
    org.bill("i-devjobs", "5.6")


CASES: dict[str, tuple[Case, Case]] = {
    "idle_vm": (Case(idle_vm_fires, "i-idle", Decimal("69.12")), Case(idle_vm_near_miss, "i-busy")),
    "idle_gpu": (
        Case(idle_gpu_fires, "i-gpu", Decimal("724.32")),
        Case(idle_gpu_near_miss, "i-gpu-ok"),
    ),
    "stopped_vm_billed": (
        Case(stopped_vm_fires, AZ_VM.format("vm-stopped"), Decimal("552.96")),
        Case(stopped_vm_near_miss, AZ_VM.format("vm-deallocated")),
    ),
    "unattached_volume": (
        Case(unattached_volume_fires, "vol-old", Decimal("45.00")),
        Case(unattached_volume_near_miss, "vol-new"),
    ),
    "orphaned_snapshot": (
        Case(orphaned_snapshot_fires, "snap-a", Decimal("15.00")),
        Case(orphaned_snapshot_near_miss, "snap-b"),
    ),
    "unused_ip": (
        Case(unused_ip_fires, "eipalloc-free", Decimal("3.60")),
        Case(unused_ip_near_miss, "eipalloc-web"),
    ),
    "obsolete_image": (
        Case(obsolete_image_fires, "ami-old", Decimal("6.00")),
        Case(obsolete_image_near_miss, "ami-base"),
    ),
    "idle_endpoint": (
        Case(idle_endpoint_fires, EP.format("canary"), Decimal("530.208")),
        Case(idle_endpoint_near_miss, EP.format("quiet")),
    ),
    "idle_notebook": (
        Case(idle_notebook_fires, NB.format("nb-old"), Decimal("2754.00")),
        Case(idle_notebook_near_miss, NB.format("nb-used")),
    ),
    "rightsize_vm": (
        Case(rightsize_fires, "i-big", Decimal("734.40")),
        Case(rightsize_near_miss, "i-fit"),
    ),
    "previous_generation": (
        Case(previous_generation_fires, "i-m4", Decimal("23.04")),
        Case(previous_generation_near_miss, "i-m6i"),
    ),
    "spot_candidate": (
        Case(spot_candidate_fires, "i-hpo", Decimal("701.568")),
        Case(spot_candidate_near_miss, "i-hpo-long"),
    ),
    "commitment_underused": (
        Case(commitment_underused_fires, SP, Decimal("450")),
        Case(commitment_underused_near_miss, SP),
    ),
    "commitment_purchase": (
        Case(commitment_purchase_fires, "i-steady", Decimal("42.048")),
        Case(commitment_purchase_near_miss, "i-16h"),
    ),
    "volume_type_upgrade": (
        Case(volume_type_upgrade_fires, "vol-gp2", Decimal("7.00")),
        Case(
            volume_type_upgrade_near_miss,
            "//compute.googleapis.com/projects/p/zones/us-central1-a/disks/db-data",
        ),
    ),
    "idle_nat_gateway": (
        Case(idle_nat_gateway_fires, "nat-0idle", Decimal("32.40")),
        Case(idle_nat_gateway_near_miss, "nat-0used"),
    ),
    "idle_load_balancer": (
        Case(idle_load_balancer_fires, LB.format("demo-api"), Decimal("16.20")),
        Case(idle_load_balancer_near_miss, LB.format("docs-site")),
    ),
    "idle_file_system": (
        Case(idle_file_system_fires, "fs-0scratch", Decimal("336.00")),
        Case(idle_file_system_near_miss, "fs-0dataset"),
    ),
    "offhours_schedule": (
        Case(offhours_fires, "i-devbox", Decimal("108.00")),
        Case(offhours_near_miss, "i-devjobs"),
    ),
}

#: volume_type_upgrade on Azure (Premium SSD → v2): a firing case and a near miss beside
#: the rule's own pair.
AZURE_PREMIUM_CASES = (
    Case(
        volume_type_upgrade_fires_azure,
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/features",
        Decimal("32.0575"),
    ),
    Case(
        volume_type_upgrade_near_miss_azure,
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/etl-os",
    ),
)
