"""The sample organisation, "Acme Vision": every resource, commitment, planted case and
anomaly, described as plain data. :mod:`mlcost.sample.generator` turns this into tables.

Randomness (daily hours of elastic fleets, runs, metric noise) comes only from the
``numpy.random.Generator`` passed in, consumed in a fixed order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from mlcost.sample.catalog import (
    ACCOUNTS,
    DAYS,
    WINDOW_START,
    ami_id,
    azure_id,
    day,
    ebs_snapshot_id,
    ebs_volume_id,
    ec2_instance_id,
    eip_id,
    gcp_compute_id,
    gcp_numeric_id,
    guid,
    hex_id,
    sagemaker_arn,
)

#: True on Saturdays and Sundays of the window.
WEEKEND = np.array([day(i).weekday() >= 5 for i in range(DAYS)])
#: Gentle upward trend: +15 % over the window.
TREND = 1.0 + 0.15 * np.arange(DAYS) / (DAYS - 1)

# Planted anomaly days (indices into the window).
SPIKE_TOTAL_DAY = 37  # 2026-09-09, a Wednesday: a forgotten 4 x p5.48xlarge cluster
DROP_DAYS = (43, 44)  # 2026-09-15/16: acme-data-lake paused for a network migration
VERTEX_SPIKE_DAYS = (64, 65, 66)  # 2026-10-06..08: Vertex AI custom-job sweep
TEAM_SPIKE_DAY = 78  # 2026-10-20: perception team bursts onto 4 x ND96asr_v4


@dataclass
class Res:
    """One resource: inventory facts, how it is billed, and how its metrics look."""

    key: str
    provider: str
    account: str
    region: str
    zone: str | None
    kind: str  # vm, volume, snapshot, image, ip_address, endpoint, notebook, bucket, job
    rid: str
    name: str
    state: str
    created_at: datetime
    instance_type: str | None = None
    count: int = 1
    attached_to: str | None = None
    source_id: str | None = None
    size_gb: float | None = None
    lifecycle: str | None = None
    last_used_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: Billed hours per day (0..24, may be fractional for jobs); storage: 24 while it exists.
    hours: np.ndarray = field(default_factory=lambda: np.zeros(DAYS))
    #: Storage size per day (buckets grow); None: size_gb every day.
    sizes: np.ndarray | None = None
    #: Metric profile name, or None for no metrics.
    profile: str | None = None
    #: Days (indices) on which metrics exist; None: the days with hours > 0.
    metric_days: np.ndarray | None = None
    inventory: bool = True
    commitment: str | None = None
    #: Storage/network price key in catalog.STORAGE_PRICES.
    price_key: str | None = None
    #: Hour of day at which elastic usage starts (for hourly metrics).
    start_hour: int = 0
    #: Metric samples given as they are, beside (or instead of) the profile's:
    #: (metric, stat, period_s, ts, value).
    samples: list[tuple[str, str, int, datetime, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Commitment:
    key: str
    provider: str
    account: str
    region: str
    cid: str
    name: str
    category: str  # Usage | Spend
    ctype: str
    unit: str  # Hours | USD
    #: Usage: instances reserved. Spend: USD per hour committed.
    quantity: Decimal
    #: Usage: effective rate per instance-hour. Spend: unused.
    rate: Decimal
    #: Spend: the Savings Plan rate per instance type.
    plan_rates: dict[str, Decimal]
    #: Its ServiceName (ServiceCategory and Subcategory come from :mod:`mlcost.mappings`).
    service: str
    #: Start of the term; the commitment covers usage from here to :attr:`end`.
    start: datetime
    term_years: int
    #: "No Upfront" (all of ``rate`` billed as a recurring fee), "Partial Upfront" or
    #: "All Upfront" (Azure: billing plan "Upfront"). Usage commitments only.
    payment: str = "No Upfront"
    #: The part of ``rate`` paid upfront, per unit-hour: the upfront payment is
    #: ``upfront_rate * quantity * hours in the term``, amortised evenly over the term.
    upfront_rate: Decimal = Decimal(0)
    #: Key of the resources it covers (``Res.commitment``), when not its own ``key``: a
    #: renewal covers the same VMs as the commitment it replaces.
    covers: str | None = None

    @property
    def end(self) -> datetime:
        return self.start.replace(year=self.start.year + self.term_years)

    @property
    def term_days(self) -> int:
        return (self.end - self.start).days

    @property
    def recurring_rate(self) -> Decimal:
        """What is billed each hour of the term (the recurring fee), per unit."""
        return self.rate - self.upfront_rate

    @property
    def upfront(self) -> Decimal:
        """The one-time upfront payment for the whole term (billed on ``start``)."""
        return self.upfront_rate * self.quantity * 24 * self.term_days

    def active(self, d: datetime) -> bool:
        return self.start <= d < self.end


@dataclass
class Run:
    run_id: str
    experiment: str
    parent_run_id: str | None
    name: str
    status: str
    user: str
    started_at: datetime
    ended_at: datetime
    params: dict[str, Any]
    metrics: dict[str, Any]
    tags: dict[str, str]
    resource_ids: list[str]
    gpu_count: int
    source: str


@dataclass
class Org:
    resources: list[Res]
    commitments: list[Commitment]
    runs: list[Run]
    recommendations: list[dict[str, Any]]
    negatives: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]


def _always(start: int = 0, end: int = DAYS, hours: float = 24.0) -> np.ndarray:
    h = np.zeros(DAYS)
    h[start:end] = hours
    return h


def _days_ago(n: int) -> datetime:
    return WINDOW_START - timedelta(days=n)


def _run_id(*parts: str) -> str:
    return hex_id(32, "run", *parts)


class _Builder:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.res: list[Res] = []
        self.runs: list[Run] = []
        self.recs: list[dict[str, Any]] = []
        self.neg: list[dict[str, Any]] = []
        self.by_key: dict[str, Res] = {}

    # -- helpers ---------------------------------------------------------------------
    def add(self, r: Res) -> Res:
        assert r.key not in self.by_key, r.key
        self.res.append(r)
        self.by_key[r.key] = r
        return r

    def plant(
        self,
        rule: str,
        r: Res | str,
        note: str,
        *,
        may_also: tuple[str, ...] = (),
        provider: str | None = None,
    ) -> None:
        rid = r if isinstance(r, str) else r.rid
        prov = provider if provider is not None else (r.provider if isinstance(r, Res) else "")
        entry: dict[str, Any] = {"rule": rule, "resource_id": rid, "provider": prov, "note": note}
        if may_also:
            entry["may_also"] = list(may_also)
        self.recs.append(entry)

    def negative(self, r: Res, rules: tuple[str, ...], note: str) -> None:
        self.neg.append(
            {
                "resource_id": r.rid,
                "provider": r.provider,
                "must_not_fire": list(rules),
                "note": note,
            }
        )

    def elastic(
        self, weekday: tuple[int, int], weekend: tuple[int, int], start: int = 0, trend: bool = True
    ) -> np.ndarray:
        lo = self.rng.integers(weekday[0], weekday[1] + 1, DAYS)
        we = self.rng.integers(weekend[0], weekend[1] + 1, DAYS)
        h = np.where(WEEKEND, we, lo).astype(float)
        if trend:
            h = np.minimum(24.0, np.round(h * TREND))
        h[:start] = 0
        return h

    # -- AWS -------------------------------------------------------------------------
    def ec2(
        self,
        key: str,
        name: str,
        itype: str,
        account: str,
        *,
        region: str = "us-east-1",
        zone: str = "us-east-1a",
        hours: np.ndarray | None = None,
        profile: str | None,
        tags: dict[str, str],
        created: datetime,
        state: str = "running",
        lifecycle: str = "on-demand",
        commitment: str | None = None,
        image: str | None = None,
        inventory: bool = True,
        start_hour: int = 0,
        root_gb: float = 100,
        details: dict[str, Any] | None = None,
    ) -> Res:
        acct = ACCOUNTS[account].sub_id
        iid = ec2_instance_id(name)
        r = self.add(
            Res(
                key,
                "aws",
                account,
                region,
                zone,
                "vm",
                iid,
                name,
                state,
                created,
                instance_type=itype,
                lifecycle=lifecycle,
                source_id=image,
                details={
                    "platform": "Linux/UNIX",
                    "vpc_id": "vpc-0" + hex_id(16, "vpc", acct),
                    **(details or {}),
                },
                tags=tags,
                hours=_always() if hours is None else hours,
                profile=profile,
                inventory=inventory,
                commitment=commitment,
                start_hour=start_hour,
            )
        )
        if inventory:
            self.add(
                Res(
                    key + ":root",
                    "aws",
                    account,
                    region,
                    zone,
                    "volume",
                    ebs_volume_id(name + "-root"),
                    f"{name}-root",
                    "in-use",
                    created,
                    attached_to=iid,
                    size_gb=root_gb,
                    source_id=image,
                    details={"volume_type": "gp3", "iops": 3000, "device": "/dev/xvda"},
                    tags=tags,
                    hours=_always(),
                    price_key="aws:gp3",
                )
            )
        return r

    def build_aws(self) -> None:
        rng = self.rng
        ami = ami_id("acme-dl-base-v7")
        ami_snap = ebs_snapshot_id("acme-dl-base-v7-root")
        research, prod, data = "aws-research", "aws-prod", "aws-data"

        # Foundation-model and fine-tuning fleet: 4 x p4d.24xlarge, all covered by a Reserved
        # Instance (4 instances), busy around the clock.
        for i in range(1, 5):
            team, project = (
                ("research", "foundation-vision") if i <= 2 else ("perception", "defect-detection")
            )
            r = self.ec2(
                f"p4d-{i}",
                f"p4d-train-0{i}",
                "p4d.24xlarge",
                research,
                zone="us-east-1b",
                profile="busy_gpu",
                tags={"team": team, "project": project, "env": "research", "workload": "training"},
                created=_days_ago(140),
                commitment="aws-ri-p4d",
                image=ami,
                root_gb=500,
            )
            if i == 1:
                self.negative(
                    r,
                    ("idle_gpu", "idle_vm", "rightsize_vm", "commitment_purchase"),
                    "busy A100 training node covered by the p4d Reserved Instance",
                )
        data_vol = self.add(
            Res(
                "p4d-1:data",
                "aws",
                research,
                "us-east-1",
                "us-east-1b",
                "volume",
                ebs_volume_id("datasets-cache"),
                "datasets-cache",
                "in-use",
                _days_ago(120),
                attached_to=self.by_key["p4d-1"].rid,
                size_gb=4000,
                details={"volume_type": "st1", "device": "/dev/sdf"},
                tags={"team": "research", "project": "foundation-vision", "env": "research"},
                hours=_always(),
                price_key="aws:st1",
            )
        )
        self.negative(data_vol, ("unattached_volume",), "attached to a busy p4d node")

        # Spot training pool (segmentation): weekday-heavy, growing from 4 to 8 workers.
        for i in range(1, 9):
            start = 0 if i <= 4 else (30 if i <= 6 else 60)
            h = self.elastic((16, 22), (0, 4), start=start)
            r = self.ec2(
                f"pool-{i}",
                f"train-pool-g5-0{i}",
                "g5.12xlarge",
                research,
                zone="us-east-1c",
                hours=h,
                profile="busy_gpu",
                lifecycle="spot",
                tags={
                    "team": "research",
                    "project": "segmentation",
                    "env": "research",
                    "workload": "training",
                    "experiment": "unet-baseline",
                },
                created=day(start) if start else _days_ago(60),
                state="running" if h[-1] > 0 else "stopped",
                image=ami,
                start_hour=6,
            )
            if i == 1:
                self.negative(
                    r,
                    ("spot_candidate", "idle_gpu"),
                    "already on spot capacity, busy while running",
                )

        # On-demand HPO worker: short, restartable sweep trials -> spot_candidate.
        h = self.elastic((8, 10), (0, 0))
        hpo = self.ec2(
            "hpo-aws",
            "hpo-g5-od-01",
            "g5.4xlarge",
            research,
            zone="us-east-1c",
            hours=h,
            profile="busy_gpu",
            lifecycle="on-demand",
            tags={
                "team": "applied",
                "project": "segmentation",
                "env": "research",
                "workload": "training",
                "experiment": "seg-hpo-asha",
            },
            created=_days_ago(75),
            state="running" if h[-1] > 0 else "stopped",
            image=ami,
            start_hour=7,
        )
        self.plant(
            "spot_candidate",
            hpo,
            "on-demand g5.4xlarge running only short (20-50 min) checkpointed, "
            "restartable ASHA sweep trials (experiment segmentation/hpo-asha)",
        )

        idle_gpu = self.ec2(
            "idle-gpu-aws",
            "cv-dev-gpu-03",
            "g5.12xlarge",
            research,
            profile="idle_gpu",
            created=_days_ago(160),
            image=ami,
            tags={"team": "research", "project": "segmentation", "env": "dev"},
        )
        self.plant(
            "idle_gpu",
            idle_gpu,
            "4 x A10G running all 90 days, gpu_util_pct 0.5-3 %, cpu < 4 %",
            may_also=("idle_vm",),
        )

        idle_vm = self.ec2(
            "idle-vm-aws",
            "legacy-etl-01",
            "m5.2xlarge",
            data,
            region="us-west-2",
            zone="us-west-2a",
            profile="idle_cpu",
            created=_days_ago(400),
            tags={},
        )
        self.plant(
            "idle_vm",
            idle_vm,
            "untagged m5.2xlarge, cpu avg < 2 %, max < 5 %, network < 4 MB/day for 90 days",
        )

        rs = self.ec2(
            "rightsize-aws",
            "feature-api-01",
            "c6i.8xlarge",
            prod,
            profile="rightsize",
            created=_days_ago(200),
            tags={"team": "platform", "project": "feature-store", "env": "prod"},
        )
        self.plant(
            "rightsize_vm",
            rs,
            "c6i.8xlarge with cpu avg 5-10 % and daily max < 19 %: fits c6i.2xlarge",
        )

        pg = self.ec2(
            "prevgen-aws",
            "airflow-scheduler",
            "m4.4xlarge",
            data,
            profile="moderate",
            created=_days_ago(700),
            tags={"team": "data", "project": "pipelines", "env": "prod"},
        )
        self.plant("previous_generation", pg, "m4.4xlarge ($0.80/h); m6i.4xlarge is $0.768/h")
        pg2 = self.ec2(
            "prevgen-gpu-aws",
            "research-v100-01",
            "p3.2xlarge",
            research,
            profile="moderate_gpu",
            created=_days_ago(500),
            image=ami,
            tags={"team": "research", "project": "foundation-vision", "env": "research"},
        )
        self.plant(
            "previous_generation",
            pg2,
            "p3.2xlarge (V100, $3.06/h); g5.2xlarge (A10G, $1.212/h) is current and cheaper",
        )

        # Steady API fleet covered by an EC2 Instance Savings Plan sized for 8 instances: only
        # 4 remain, so the plan runs at ~48 % utilisation.
        for i in range(1, 5):
            r = self.ec2(
                f"api-{i}",
                f"api-m6i-0{i}",
                "m6i.2xlarge",
                prod,
                zone="us-east-1a",
                profile="steady",
                created=_days_ago(300),
                commitment="aws-sp-m6i",
                tags={"team": "platform", "project": "inference-api", "env": "prod"},
            )
            if i == 1:
                self.negative(
                    r,
                    ("idle_vm", "rightsize_vm", "commitment_purchase"),
                    "steady, busy, and already covered by the Savings Plan",
                )

        # A stopped notebook box whose Elastic IP stays associated.
        jl = self.ec2(
            "jupyter-legacy",
            "jupyter-legacy",
            "t3.large",
            research,
            zone="us-east-1a",
            hours=np.zeros(DAYS),
            profile=None,
            state="stopped",
            created=_days_ago(600),
            tags={"team": "research", "env": "dev"},
            details={"stopped_at": "2026-06-11T17:42:00Z"},
        )

        # The forgotten cluster: 4 x p5.48xlarge on-demand for all of 2026-09-09.
        for i in range(1, 5):
            self.ec2(
                f"p5-{i}",
                f"p5-burst-0{i}",
                "p5.48xlarge",
                research,
                zone="us-east-1b",
                hours=_always(SPIKE_TOTAL_DAY, SPIKE_TOTAL_DAY + 1),
                profile=None,
                created=day(SPIKE_TOTAL_DAY),
                inventory=False,
                state="terminated",
                tags={
                    "team": "research",
                    "project": "foundation-vision",
                    "env": "research",
                    "workload": "training",
                },
            )

        # Storage: unattached volumes, snapshots, AMI.
        uv = self.add(
            Res(
                "uv-aws-1",
                "aws",
                research,
                "us-east-1",
                "us-east-1b",
                "volume",
                ebs_volume_id("old-imagenet-copy"),
                "old-imagenet-copy",
                "available",
                datetime(2026, 4, 18, 9, 12),
                size_gb=2000,
                last_used_at=datetime(2026, 6, 30, 18, 5),
                details={
                    "volume_type": "gp3",
                    "iops": 3000,
                    "last_attached_at": "2026-06-30T18:05:00Z",
                },
                tags={"team": "research", "project": "foundation-vision"},
                hours=_always(),
                price_key="aws:gp3",
            )
        )
        self.plant("unattached_volume", uv, "2 TB gp3 attached to nothing since 2026-06-30")
        uv2 = self.add(
            Res(
                "uv-aws-2",
                "aws",
                data,
                "us-west-2",
                "us-west-2a",
                "volume",
                ebs_volume_id("tmp-eval-scratch"),
                "tmp-eval-scratch",
                "available",
                datetime(2026, 7, 10, 14, 0),
                size_gb=500,
                last_used_at=datetime(2026, 7, 21, 8, 30),
                details={
                    "volume_type": "gp3",
                    "iops": 3000,
                    "last_attached_at": "2026-07-21T08:30:00Z",
                },
                tags={},
                hours=_always(),
                price_key="aws:gp3",
            )
        )
        self.plant("unattached_volume", uv2, "500 GB gp3, unattached since 2026-07-21")
        fresh = self.add(
            Res(
                "uv-aws-fresh",
                "aws",
                research,
                "us-east-1",
                "us-east-1a",
                "volume",
                ebs_volume_id("scratch-new"),
                "scratch-new",
                "available",
                datetime(2026, 10, 30, 10, 0),
                size_gb=200,
                details={"volume_type": "gp3", "iops": 3000},
                tags={"team": "applied", "env": "dev"},
                hours=_always(88),
                price_key="aws:gp3",
            )
        )
        self.negative(fresh, ("unattached_volume",), "created 2026-10-30: inside any grace period")

        snap_ok = self.add(
            Res(
                "snap-aws-ok",
                "aws",
                research,
                "us-east-1",
                None,
                "snapshot",
                ebs_snapshot_id("datasets-cache-2026-10-01"),
                "datasets-cache-2026-10-01",
                "available",
                datetime(2026, 10, 1, 2, 0),
                source_id=data_vol.rid,
                size_gb=4000,
                tags={"team": "research", "project": "foundation-vision"},
                hours=_always(59),
                price_key="aws:snapshot",
            )
        )
        self.negative(snap_ok, ("orphaned_snapshot",), "its source volume still exists")
        snap_orphan = self.add(
            Res(
                "snap-aws-orphan",
                "aws",
                data,
                "us-east-1",
                None,
                "snapshot",
                ebs_snapshot_id("legacy-etl-data-2025"),
                "legacy-etl-data-2025",
                "available",
                datetime(2025, 12, 5, 3, 0),
                source_id=ebs_volume_id("deleted-etl-data"),
                size_gb=800,
                details={"description": "nightly backup of etl data volume"},
                tags={},
                hours=_always(),
                price_key="aws:snapshot",
            )
        )
        self.plant(
            "orphaned_snapshot",
            snap_orphan,
            "800 GB snapshot of a volume that no longer exists; no AMI uses it",
        )
        snap_ami = self.add(
            Res(
                "snap-aws-ami",
                "aws",
                research,
                "us-east-1",
                None,
                "snapshot",
                ami_snap,
                "acme-dl-base-v7-root",
                "available",
                datetime(2026, 5, 2, 11, 0),
                source_id=ebs_volume_id("packer-build-vol-v7"),
                size_gb=120,
                details={"description": f"Created by CreateImage for {ami}"},
                tags={"team": "platform", "project": "golden-images"},
                hours=_always(),
                price_key="aws:snapshot",
            )
        )
        self.negative(
            snap_ami,
            ("orphaned_snapshot",),
            "source volume gone, but it backs the live AMI acme-dl-base-v7",
        )
        img = self.add(
            Res(
                "ami-aws",
                "aws",
                research,
                "us-east-1",
                None,
                "image",
                ami,
                "acme-dl-base-v7",
                "available",
                datetime(2026, 5, 2, 11, 0),
                size_gb=120,
                last_used_at=datetime(2026, 10, 31, 6, 0),
                details={
                    "snapshot_ids": [ami_snap],
                    "architecture": "x86_64",
                    "last_launched_at": "2026-10-31T06:00:00Z",
                },
                tags={"team": "platform", "project": "golden-images"},
            )
        )
        self.negative(img, ("obsolete_image",), "used by the p4d, g5 and p3 instances")

        # Elastic IPs.
        eip_ok = self.add(
            Res(
                "eip-aws-ok",
                "aws",
                prod,
                "us-east-1",
                None,
                "ip_address",
                eip_id("api-gw"),
                "eip-api-gw",
                "in-use",
                _days_ago(300),
                attached_to=self.by_key["api-1"].rid,
                details={
                    "public_ip": "3.214.87.19",
                    "association_id": "eipassoc-0" + hex_id(16, "a1"),
                },
                tags={"team": "platform", "env": "prod"},
                hours=_always(),
                price_key="aws:eip",
            )
        )
        self.negative(eip_ok, ("unused_ip",), "associated with a running API server")
        eip_free = self.add(
            Res(
                "eip-aws-free",
                "aws",
                prod,
                "us-east-1",
                None,
                "ip_address",
                eip_id("old-vpn"),
                "eip-old-vpn",
                "available",
                datetime(2025, 9, 14, 10, 0),
                details={"public_ip": "54.86.201.77"},
                tags={},
                hours=_always(),
                price_key="aws:eip",
            )
        )
        self.plant("unused_ip", eip_free, "Elastic IP associated with nothing")
        eip_stopped = self.add(
            Res(
                "eip-aws-stopped",
                "aws",
                research,
                "us-east-1",
                None,
                "ip_address",
                eip_id("jupyter-legacy"),
                "eip-jupyter-legacy",
                "in-use",
                _days_ago(600),
                attached_to=jl.rid,
                details={
                    "public_ip": "18.208.33.140",
                    "association_id": "eipassoc-0" + hex_id(16, "a2"),
                },
                tags={"team": "research", "env": "dev"},
                hours=_always(),
                price_key="aws:eip",
            )
        )
        self.plant(
            "unused_ip",
            eip_stopped,
            "Elastic IP associated with jupyter-legacy, stopped since 2026-06-11",
        )

        # SageMaker endpoints and notebooks.
        ep_ok = self.add(
            Res(
                "ep-aws-ok",
                "aws",
                prod,
                "us-east-1",
                None,
                "endpoint",
                sagemaker_arn(
                    "us-east-1", ACCOUNTS[prod].sub_id, "endpoint", "defect-detector-prod"
                ),
                "defect-detector-prod",
                "running",
                _days_ago(210),
                instance_type="ml.g5.xlarge",
                count=2,
                last_used_at=datetime(2026, 10, 31, 22, 59),
                details={
                    "variants": [
                        {"name": "AllTraffic", "instance_type": "ml.g5.xlarge", "instance_count": 2}
                    ],
                    "status": "InService",
                },
                tags={"team": "perception", "project": "defect-detection", "env": "prod"},
                hours=_always(),
                profile="endpoint_busy",
            )
        )
        self.negative(ep_ok, ("idle_endpoint",), "100k+ invocations a day")
        ep_idle = self.add(
            Res(
                "ep-aws-idle",
                "aws",
                prod,
                "us-east-1",
                None,
                "endpoint",
                sagemaker_arn(
                    "us-east-1", ACCOUNTS[prod].sub_id, "endpoint", "shelf-segmentation-canary"
                ),
                "shelf-segmentation-canary",
                "running",
                datetime(2026, 6, 20, 15, 0),
                instance_type="ml.g4dn.xlarge",
                count=1,
                last_used_at=datetime(2026, 7, 2, 11, 17),
                details={
                    "variants": [
                        {"name": "canary", "instance_type": "ml.g4dn.xlarge", "instance_count": 1}
                    ],
                    "status": "InService",
                },
                tags={"team": "applied", "project": "retail-shelf", "env": "staging"},
                hours=_always(),
                profile="endpoint_idle",
            )
        )
        self.plant(
            "idle_endpoint",
            ep_idle,
            "SageMaker endpoint with zero invocations for 90 days (last 2026-07-02)",
        )
        nb_ok = self.add(
            Res(
                "nb-aws-ok",
                "aws",
                research,
                "us-east-1",
                None,
                "notebook",
                sagemaker_arn(
                    "us-east-1", ACCOUNTS[research].sub_id, "notebook-instance", "nb-alice"
                ),
                "nb-alice",
                "stopped",
                _days_ago(250),
                instance_type="ml.t3.xlarge",
                last_used_at=datetime(2026, 10, 30, 17, 40),
                details={"status": "Stopped", "auto_stop_idle_minutes": 60},
                tags={"team": "applied", "owner": "alice", "env": "dev"},
                hours=self.elastic((8, 11), (0, 0)),
                profile="notebook_busy",
                start_hour=8,
            )
        )
        self.negative(nb_ok, ("idle_notebook",), "used every weekday, auto-stops")
        nb_idle = self.add(
            Res(
                "nb-aws-idle",
                "aws",
                research,
                "us-east-1",
                None,
                "notebook",
                sagemaker_arn(
                    "us-east-1", ACCOUNTS[research].sub_id, "notebook-instance", "nb-bob-gpu"
                ),
                "nb-bob-gpu",
                "running",
                datetime(2026, 5, 28, 9, 0),
                instance_type="ml.p3.2xlarge",
                last_used_at=datetime(2026, 7, 14, 16, 3),
                details={"status": "InService", "last_activity_at": "2026-07-14T16:03:00Z"},
                tags={"team": "research", "owner": "bob", "env": "dev"},
                hours=_always(),
                profile="notebook_idle",
            )
        )
        self.plant(
            "idle_notebook",
            nb_idle,
            "ml.p3.2xlarge notebook InService 24/7, no activity since 2026-07-14",
        )

        # SageMaker training jobs (runs with source "sagemaker"), half on managed spot.
        for j in range(36):
            d = int(rng.integers(0, DAYS))
            if d in (SPIKE_TOTAL_DAY, *DROP_DAYS, *VERTEX_SPIKE_DAYS, TEAM_SPIKE_DAY):
                d = (d + 2) % DAYS
            start_h = int(rng.integers(1, 12))
            dur = round(float(rng.uniform(1.5, 9.0)) * 4) / 4
            n_inst = int(rng.integers(1, 3))
            spot = bool(j % 2 == 0)
            name = f"shelf-detector-{day(d):%Y%m%d}-{j:03d}"
            status = "FAILED" if j % 11 == 5 else ("KILLED" if j % 13 == 7 else "FINISHED")
            h = np.zeros(DAYS)
            h[d] = dur
            arn = sagemaker_arn("us-east-1", ACCOUNTS[research].sub_id, "training-job", name)
            self.add(
                Res(
                    f"smjob-{j}",
                    "aws",
                    research,
                    "us-east-1",
                    None,
                    "job",
                    arn,
                    name,
                    "Completed",
                    day(d) + timedelta(hours=start_h),
                    instance_type="ml.g5.2xlarge",
                    count=n_inst,
                    lifecycle="spot" if spot else "on-demand",
                    inventory=False,
                    hours=h,
                    tags={
                        "team": "applied",
                        "project": "retail-shelf",
                        "env": "research",
                        "workload": "training",
                    },
                )
            )
            started = day(d) + timedelta(hours=start_h)
            self.runs.append(
                Run(
                    name,
                    "retail-shelf-detector",
                    None,
                    name,
                    status,
                    "sagemaker-pipeline",
                    started,
                    started + timedelta(hours=dur),
                    {
                        "instance_type": "ml.g5.2xlarge",
                        "instance_count": n_inst,
                        "epochs": int(rng.integers(10, 40)),
                        "learning_rate": 3e-4,
                        "managed_spot": spot,
                    },
                    {"val_map50": round(float(rng.uniform(0.61, 0.78)), 4)}
                    if status == "FINISHED"
                    else {},
                    {
                        "team": "applied",
                        "project": "retail-shelf",
                        "sagemaker:managed_spot": str(spot).lower(),
                    },
                    [arn],
                    n_inst,
                    "sagemaker",
                )
            )

        # S3.
        for key, name, acct, tb0, tb1, team in (
            ("s3-datasets", "acme-vision-datasets", data, 150.0, 176.0, "data"),
            ("s3-artifacts", "acme-ml-artifacts", research, 18.0, 24.0, "research"),
        ):
            self.add(
                Res(
                    key,
                    "aws",
                    acct,
                    "us-east-1",
                    None,
                    "bucket",
                    name,
                    name,
                    "available",
                    _days_ago(900),
                    size_gb=tb1 * 1000,
                    details={"storage_class": "STANDARD"},
                    tags={"team": team, "env": "prod"},
                    hours=_always(),
                    sizes=np.round(np.linspace(tb0, tb1, DAYS) * 1000),
                    price_key="aws:s3",
                )
            )

    # -- Azure -----------------------------------------------------------------------
    def azvm(
        self,
        key: str,
        name: str,
        itype: str,
        account: str,
        rg: str,
        *,
        hours: np.ndarray | None = None,
        profile: str | None,
        tags: dict[str, str],
        created: datetime,
        state: str = "running",
        power: str = "PowerState/running",
        commitment: str | None = None,
        image: str | None = None,
        inventory: bool = True,
        metric_days: np.ndarray | None = None,
        region: str = "eastus",
        zone: str | None = "1",
    ) -> Res:
        sub = ACCOUNTS[account].sub_id
        vid = azure_id(sub, rg, "Microsoft.Compute/virtualMachines", name)
        r = self.add(
            Res(
                key,
                "azure",
                account,
                region,
                zone,
                "vm",
                vid,
                name,
                state,
                created,
                instance_type=itype,
                lifecycle="on-demand",
                source_id=image,
                details={
                    "power_state": power,
                    "resource_group": rg,
                    "os_type": "Linux",
                    "vm_id": guid("vmid", name),
                },
                tags=tags,
                hours=_always() if hours is None else hours,
                profile=profile,
                inventory=inventory,
                commitment=commitment,
                metric_days=metric_days,
            )
        )
        if inventory:
            dname = f"{name}_OsDisk_1_{hex_id(32, 'osdisk', name)}"
            self.add(
                Res(
                    key + ":os",
                    "azure",
                    account,
                    region,
                    zone,
                    "volume",
                    azure_id(sub, rg, "Microsoft.Compute/disks", dname),
                    dname,
                    "in-use",
                    created,
                    attached_to=vid,
                    size_gb=256,
                    source_id=image,
                    details={
                        "sku": "Premium_LRS",
                        "tier": "P15",
                        "disk_state": "Attached",
                        "resource_group": rg,
                    },
                    tags=tags,
                    hours=_always(),
                    price_key="azure:Premium_LRS",
                )
            )
        return r

    def build_azure(self) -> None:
        research, prod = "az-research", "az-prod"
        rsub, psub = ACCOUNTS[research].sub_id, ACCOUNTS[prod].sub_id
        img_live = azure_id(
            rsub, "rg-vision-images", "Microsoft.Compute/images", "img-cuda12-train-v3"
        )
        # Reserved A100 training VMs (3-instance reservation, ~99.9 % used; renewed with
        # upfront payment on 2026-10-01: see _commitments).
        for i in range(1, 4):
            h = _always()
            if i == 2:
                h[40] = 18  # deallocated for 6 h of maintenance on 2026-09-12
            r = self.azvm(
                f"az-a100-{i}",
                f"vm-a100-train-0{i}",
                "Standard_NC24ads_A100_v4",
                research,
                "rg-vision-research",
                hours=h,
                profile="busy_gpu",
                created=_days_ago(130),
                commitment="az-res-nc24",
                image=img_live,
                tags={
                    "team": "perception",
                    "project": "defect-detection",
                    "env": "research",
                    "workload": "training",
                },
            )
            if i == 1:
                self.negative(
                    r, ("idle_gpu", "commitment_purchase"), "busy, reservation-covered A100 VM"
                )
        idle_gpu = self.azvm(
            "az-idle-gpu",
            "vm-t4-exp-07",
            "Standard_NC16as_T4_v3",
            research,
            "rg-vision-research",
            profile="idle_gpu",
            created=_days_ago(110),
            image=img_live,
            tags={"team": "applied", "project": "ocr", "env": "dev"},
        )
        self.plant(
            "idle_gpu",
            idle_gpu,
            "T4 VM running 90 days with gpu_util_pct below 3 %",
            may_also=("idle_vm",),
        )
        idle_vm = self.azvm(
            "az-idle-vm",
            "vm-build-agent-02",
            "Standard_D4s_v5",
            prod,
            "rg-mlops",
            profile="idle_cpu",
            created=_days_ago(330),
            tags={"team": "mlops"},
        )
        self.plant("idle_vm", idle_vm, "build agent with cpu < 2 % and almost no network")
        stopped = self.azvm(
            "az-stopped",
            "vm-labeling-tool",
            "Standard_D16s_v5",
            research,
            "rg-vision-research",
            profile="moderate",
            created=_days_ago(260),
            state="stopped",
            power="PowerState/stopped",
            metric_days=np.arange(35),
            tags={"team": "data", "project": "labeling", "env": "prod"},
        )
        stopped.details["stopped_at"] = f"{day(35):%Y-%m-%d}T09:00:00Z"
        self.plant(
            "stopped_vm_billed",
            stopped,
            "stopped (not deallocated) since 2026-09-07: D16s_v5 compute still billed 24 h a day",
        )
        dealloc = self.azvm(
            "az-dealloc",
            "vm-old-notebook",
            "Standard_D4s_v5",
            research,
            "rg-vision-research",
            hours=_always(0, 20),
            profile="moderate",
            created=_days_ago(400),
            state="deallocated",
            power="PowerState/deallocated",
            tags={"team": "applied", "env": "dev"},
        )
        self.negative(
            dealloc,
            ("stopped_vm_billed", "idle_vm"),
            "deallocated on 2026-08-23: no compute billed since",
        )
        rs = self.azvm(
            "az-rightsize",
            "vm-feature-store",
            "Standard_E32s_v5",
            prod,
            "rg-vision-prod",
            profile="rightsize",
            created=_days_ago(180),
            tags={"team": "platform", "project": "feature-store", "env": "prod"},
        )
        self.plant("rightsize_vm", rs, "E32s_v5 peaking under 19 % cpu: fits Standard_E8s_v5")
        pg = self.azvm(
            "az-prevgen",
            "vm-mlflow-server",
            "Standard_DS4_v2",
            prod,
            "rg-mlops",
            profile="moderate",
            created=_days_ago(800),
            tags={"team": "mlops", "project": "mlflow", "env": "prod"},
        )
        self.plant("previous_generation", pg, "DS4_v2 ($0.585/h); Standard_D8s_v5 is $0.384/h")
        for i in range(1, 3):
            r = self.azvm(
                f"az-gw-{i}",
                f"vm-inference-gw-0{i}",
                "Standard_D8s_v5",
                prod,
                "rg-vision-prod",
                profile="steady",
                created=_days_ago(365),
                tags={"team": "platform", "project": "inference-api", "env": "prod"},
            )
            self.plant(
                "commitment_purchase",
                r,
                "Standard_D8s_v5 on-demand 24 h a day for all 90 days (2 VMs, steady cpu "
                "~50 %): a 1-year reservation would cover it",
            )
        # Perception burst: 4 x ND96asr_v4 for 14 hours on 2026-10-20.
        for i in range(1, 5):
            self.azvm(
                f"az-nd-{i}",
                f"vm-nd-burst-0{i}",
                "Standard_ND96asr_v4",
                research,
                "rg-perception-burst",
                hours=_always(TEAM_SPIKE_DAY, TEAM_SPIKE_DAY + 1, 14),
                profile=None,
                created=day(TEAM_SPIKE_DAY) + timedelta(hours=9),
                inventory=False,
                state="deleted",
                tags={
                    "team": "perception",
                    "project": "defect-detection",
                    "env": "research",
                    "workload": "training",
                },
            )

        # Disks, snapshots, images, IPs.
        uv = self.add(
            Res(
                "az-uv",
                "azure",
                research,
                "eastus",
                "1",
                "volume",
                azure_id(
                    rsub, "rg-vision-research", "Microsoft.Compute/disks", "disk-labeling-data-old"
                ),
                "disk-labeling-data-old",
                "available",
                datetime(2026, 3, 9, 12, 0),
                size_gb=1024,
                last_used_at=datetime(2026, 6, 2, 10, 0),
                details={
                    "sku": "Premium_LRS",
                    "tier": "P30",
                    "disk_state": "Unattached",
                    "last_ownership_update": "2026-06-02T10:00:00Z",
                },
                tags={"team": "data", "project": "labeling"},
                hours=_always(),
                price_key="azure:Premium_LRS",
            )
        )
        self.plant("unattached_volume", uv, "1 TiB Premium SSD unattached since 2026-06-02")
        os_a100 = self.by_key["az-a100-1:os"]
        snap_ok = self.add(
            Res(
                "az-snap-ok",
                "azure",
                research,
                "eastus",
                None,
                "snapshot",
                azure_id(
                    rsub,
                    "rg-vision-research",
                    "Microsoft.Compute/snapshots",
                    "snap-vm-a100-train-01-os",
                ),
                "snap-vm-a100-train-01-os",
                "available",
                datetime(2026, 9, 30, 1, 0),
                source_id=os_a100.rid,
                size_gb=256,
                details={"incremental": True},
                tags={"team": "perception"},
                hours=_always(58),
                price_key="azure:snapshot",
            )
        )
        self.negative(snap_ok, ("orphaned_snapshot",), "its source disk exists")
        gone = azure_id(
            rsub,
            "rg-vision-research",
            "Microsoft.Compute/disks",
            "vm-old-train_OsDisk_1_" + hex_id(32, "gone"),
        )
        snap_orphan = self.add(
            Res(
                "az-snap-orphan",
                "azure",
                research,
                "eastus",
                None,
                "snapshot",
                azure_id(
                    rsub,
                    "rg-vision-research",
                    "Microsoft.Compute/snapshots",
                    "snap-vm-old-train-osdisk",
                ),
                "snap-vm-old-train-osdisk",
                "available",
                datetime(2026, 1, 17, 4, 0),
                source_id=gone,
                size_gb=512,
                details={"incremental": False},
                tags={},
                hours=_always(),
                price_key="azure:snapshot",
            )
        )
        self.plant(
            "orphaned_snapshot", snap_orphan, "snapshot of a deleted VM's OS disk; no image uses it"
        )
        img_ok = self.add(
            Res(
                "az-img-ok",
                "azure",
                research,
                "eastus",
                None,
                "image",
                img_live,
                "img-cuda12-train-v3",
                "available",
                datetime(2026, 4, 1, 12, 0),
                size_gb=128,
                last_used_at=datetime(2026, 10, 31, 6, 0),
                details={"os_type": "Linux", "source_vm": None, "hyper_v_generation": "V2"},
                tags={"team": "platform", "project": "golden-images"},
                hours=_always(),
                price_key="azure:image",
            )
        )
        self.negative(img_ok, ("obsolete_image",), "source image of the A100 and T4 VMs")
        img_old = self.add(
            Res(
                "az-img-old",
                "azure",
                research,
                "eastus",
                None,
                "image",
                azure_id(
                    rsub, "rg-vision-images", "Microsoft.Compute/images", "img-cuda11-base-2025"
                ),
                "img-cuda11-base-2025",
                "available",
                datetime(2025, 6, 12, 12, 0),
                size_gb=256,
                last_used_at=datetime(2025, 11, 20, 9, 0),
                details={
                    "os_type": "Linux",
                    "hyper_v_generation": "V2",
                    "last_used_at": "2025-11-20T09:00:00Z",
                },
                tags={"team": "platform", "project": "golden-images"},
                hours=_always(),
                price_key="azure:image",
            )
        )
        self.plant(
            "obsolete_image",
            img_old,
            "CUDA 11 image from 2025-06, no VM or disk created from it since 2025-11-20",
        )
        gw = self.by_key["az-gw-1"]
        pip_ok = self.add(
            Res(
                "az-pip-ok",
                "azure",
                prod,
                "eastus",
                None,
                "ip_address",
                azure_id(
                    psub,
                    "rg-vision-prod",
                    "Microsoft.Network/publicIPAddresses",
                    "pip-inference-gw",
                ),
                "pip-inference-gw",
                "in-use",
                _days_ago(365),
                attached_to=gw.rid,
                details={
                    "sku": "Standard",
                    "allocation": "Static",
                    "ip_address": "20.121.44.7",
                    "ip_configuration": gw.rid.replace("virtualMachines", "networkInterfaces")
                    + "-nic/ipConfigurations/ipconfig1",
                },
                tags={"team": "platform", "env": "prod"},
                hours=_always(),
                price_key="azure:pip",
            )
        )
        self.negative(pip_ok, ("unused_ip",), "bound to a running gateway VM")
        pip_free = self.add(
            Res(
                "az-pip-free",
                "azure",
                prod,
                "eastus",
                None,
                "ip_address",
                azure_id(
                    psub, "rg-mlops", "Microsoft.Network/publicIPAddresses", "pip-old-bastion"
                ),
                "pip-old-bastion",
                "available",
                datetime(2025, 10, 3, 8, 0),
                details={
                    "sku": "Standard",
                    "allocation": "Static",
                    "ip_address": "52.170.9.211",
                    "ip_configuration": None,
                },
                tags={"team": "mlops"},
                hours=_always(),
                price_key="azure:pip",
            )
        )
        self.plant("unused_ip", pip_free, "static public IP with no ip configuration")

        # Azure ML: online endpoints and a compute instance.
        ws = "mlw-vision-prod"
        ep_ok = self.add(
            Res(
                "az-ep-ok",
                "azure",
                prod,
                "eastus",
                None,
                "endpoint",
                azure_id(
                    psub,
                    "rg-vision-prod",
                    "Microsoft.MachineLearningServices/workspaces",
                    f"{ws}/onlineEndpoints/ocr-prod",
                ),
                "ocr-prod",
                "running",
                _days_ago(240),
                instance_type="Standard_DS3_v2",
                count=2,
                last_used_at=datetime(2026, 10, 31, 22, 58),
                details={
                    "deployments": [
                        {"name": "blue", "instance_type": "Standard_DS3_v2", "instance_count": 2}
                    ],
                    "workspace": ws,
                },
                tags={"team": "applied", "project": "ocr", "env": "prod"},
                hours=_always(),
                profile="endpoint_busy",
            )
        )
        self.negative(ep_ok, ("idle_endpoint",), "busy OCR endpoint")
        ep_idle = self.add(
            Res(
                "az-ep-idle",
                "azure",
                prod,
                "eastus",
                None,
                "endpoint",
                azure_id(
                    psub,
                    "rg-vision-prod",
                    "Microsoft.MachineLearningServices/workspaces",
                    f"{ws}/onlineEndpoints/sku-classifier-v1",
                ),
                "sku-classifier-v1",
                "running",
                datetime(2026, 5, 11, 13, 0),
                instance_type="Standard_NC4as_T4_v3",
                count=1,
                last_used_at=datetime(2026, 6, 29, 10, 0),
                details={
                    "deployments": [
                        {"name": "v1", "instance_type": "Standard_NC4as_T4_v3", "instance_count": 1}
                    ],
                    "workspace": ws,
                },
                tags={"team": "applied", "project": "retail-shelf", "env": "staging"},
                hours=_always(),
                profile="endpoint_idle",
            )
        )
        self.plant("idle_endpoint", ep_idle, "Azure ML online endpoint with no requests in 90 days")
        ci = self.add(
            Res(
                "az-ci-ok",
                "azure",
                research,
                "eastus",
                None,
                "notebook",
                azure_id(
                    rsub,
                    "rg-vision-research",
                    "Microsoft.MachineLearningServices/workspaces",
                    "mlw-vision-research/computes/ci-carol",
                ),
                "ci-carol",
                "stopped",
                _days_ago(200),
                instance_type="Standard_DS11_v2",
                last_used_at=datetime(2026, 10, 30, 18, 10),
                details={
                    "compute_type": "ComputeInstance",
                    "idle_shutdown_minutes": 60,
                    "workspace": "mlw-vision-research",
                },
                tags={"team": "perception", "owner": "carol", "env": "dev"},
                hours=self.elastic((7, 10), (0, 0)),
                profile="notebook_busy",
                start_hour=9,
            )
        )
        self.negative(ci, ("idle_notebook",), "compute instance used on weekdays, idle shutdown")
        self.add(
            Res(
                "az-blob",
                "azure",
                research,
                "eastus",
                None,
                "bucket",
                azure_id(
                    rsub, "rg-vision-data", "Microsoft.Storage/storageAccounts", "acmevisiondata"
                ),
                "acmevisiondata",
                "available",
                _days_ago(700),
                size_gb=34000,
                details={"kind": "StorageV2", "access_tier": "Hot"},
                tags={"team": "data", "env": "prod"},
                hours=_always(),
                sizes=np.round(np.linspace(30.0, 34.0, DAYS) * 1000),
                price_key="azure:blob",
            )
        )

    # -- GCP -------------------------------------------------------------------------
    def gce(
        self,
        key: str,
        name: str,
        itype: str,
        account: str,
        *,
        zone: str = "us-central1-a",
        hours: np.ndarray | None = None,
        profile: str | None,
        tags: dict[str, str],
        created: datetime,
        state: str = "running",
        lifecycle: str = "on-demand",
        commitment: str | None = None,
        image: str | None = None,
        start_hour: int = 0,
        disk_gb: float = 100,
    ) -> Res:
        project = ACCOUNTS[account].sub_id
        region = zone[:-2]
        iid = gcp_compute_id(project, f"zones/{zone}", "instances", name)
        r = self.add(
            Res(
                key,
                "gcp",
                account,
                region,
                zone,
                "vm",
                iid,
                name,
                state,
                created,
                instance_type=itype,
                lifecycle=lifecycle,
                source_id=image,
                details={
                    "status": "RUNNING" if state == "running" else "TERMINATED",
                    "provisioning_model": "SPOT" if lifecycle == "spot" else "STANDARD",
                    "instance_id": gcp_numeric_id("gce", name),
                },
                tags=tags,
                hours=_always() if hours is None else hours,
                profile=profile,
                commitment=commitment,
                start_hour=start_hour,
            )
        )
        self.add(
            Res(
                key + ":boot",
                "gcp",
                account,
                region,
                zone,
                "volume",
                gcp_compute_id(project, f"zones/{zone}", "disks", name),
                name,
                "in-use",
                created,
                attached_to=iid,
                size_gb=disk_gb,
                source_id=image,
                details={"disk_type": "pd-balanced", "boot": True},
                tags=tags,
                hours=_always(),
                price_key="gcp:pd-balanced",
            )
        )
        return r

    def build_gcp(self) -> None:
        research, serving, data = "gcp-research", "gcp-serving", "gcp-data"
        rp = ACCOUNTS[research].sub_id
        img_live = gcp_compute_id(rp, "global", "images", "img-pytorch-2-4-cu124")
        for i in range(1, 5):
            start = 11 if i == 4 else 0
            r = self.gce(
                f"gcp-a100-{i}",
                f"train-a100-0{i}",
                "a2-highgpu-1g",
                research,
                zone="us-central1-c",
                hours=_always(start),
                profile="busy_gpu",
                created=day(start) + timedelta(hours=10) if start else _days_ago(150),
                commitment="gcp-cud-a2",
                image=img_live,
                disk_gb=200,
                tags={
                    "team": "applied",
                    "project": "damage-assessment",
                    "env": "research",
                    "workload": "training",
                },
            )
            if i == 1:
                self.negative(r, ("idle_gpu", "commitment_purchase"), "busy, CUD-covered A100")
        idle_gpu = self.gce(
            "gcp-idle-gpu",
            "l4-playground-2",
            "g2-standard-8",
            research,
            profile="idle_gpu",
            created=_days_ago(95),
            image=img_live,
            tags={"team": "research", "env": "dev"},
        )
        self.plant(
            "idle_gpu", idle_gpu, "L4 VM up 90 days with the GPU at ~1-3 %", may_also=("idle_vm",)
        )
        idle_vm = self.gce(
            "gcp-idle-vm",
            "jenkins-agent-old",
            "n2-standard-4",
            serving,
            zone="us-central1-f",
            profile="idle_cpu",
            created=_days_ago(520),
            tags={},
        )
        self.plant("idle_vm", idle_vm, "untagged Jenkins agent, cpu < 2 %, negligible network")
        # Data-lake compute pauses on the drop days.
        paused = _always()
        paused[list(DROP_DAYS)] = 0
        rs = self.gce(
            "gcp-rightsize",
            "feature-backfill",
            "n2-highmem-32",
            data,
            hours=paused.copy(),
            profile="rightsize",
            created=_days_ago(170),
            tags={"team": "data", "project": "feature-store", "env": "prod"},
        )
        self.plant("rightsize_vm", rs, "n2-highmem-32 peaking under 19 % cpu: fits n2-highmem-8")
        pg = self.gce(
            "gcp-prevgen",
            "dataproc-edge",
            "n1-standard-16",
            data,
            hours=paused.copy(),
            profile="moderate",
            created=_days_ago(900),
            tags={"team": "data", "project": "pipelines", "env": "prod"},
        )
        self.plant(
            "previous_generation", pg, "n1-standard-16 ($0.76/h); n2d-standard-16 is $0.675936/h"
        )
        for i in range(1, 4):
            r = self.gce(
                f"gcp-api-{i}",
                f"serving-api-0{i}",
                "n2-standard-8",
                serving,
                zone="us-central1-b",
                profile="steady",
                created=_days_ago(280),
                tags={"team": "platform", "project": "inference-api", "env": "prod"},
            )
            self.plant(
                "commitment_purchase",
                r,
                "n2-standard-8 on-demand 24 h a day for 90 days (3 VMs, steady cpu ~50 %): "
                "a 1-year N2 CUD would cover it",
            )
        h = self.elastic((7, 9), (0, 0))
        hpo = self.gce(
            "gcp-hpo",
            "hpo-l4-01",
            "g2-standard-4",
            research,
            hours=h,
            profile="busy_gpu",
            created=_days_ago(70),
            image=img_live,
            state="running" if h[-1] > 0 else "stopped",
            start_hour=8,
            tags={
                "team": "applied",
                "project": "damage-assessment",
                "env": "research",
                "workload": "training",
            },
        )
        self.plant(
            "spot_candidate",
            hpo,
            "on-demand g2-standard-4 running only short, checkpointed Optuna trials "
            "(experiment damage-assessment/hpo-l4)",
        )
        for i in range(1, 7):
            self.gce(
                f"gcp-etl-{i}",
                f"etl-spot-0{i}",
                "n2-highcpu-16",
                data,
                hours=paused.copy(),
                profile="moderate",
                lifecycle="spot",
                created=_days_ago(40),
                tags={"team": "data", "project": "pipelines", "env": "prod"},
            )

        zone = "us-central1-a"
        uv = self.add(
            Res(
                "gcp-uv",
                "gcp",
                research,
                "us-central1",
                zone,
                "volume",
                gcp_compute_id(rp, f"zones/{zone}", "disks", "pd-old-imagenet-shards"),
                "pd-old-imagenet-shards",
                "available",
                datetime(2026, 2, 20, 16, 0),
                size_gb=1500,
                last_used_at=datetime(2026, 7, 8, 12, 0),
                details={"disk_type": "pd-ssd", "last_detach_timestamp": "2026-07-08T12:00:00Z"},
                tags={"team": "research"},
                hours=_always(),
                price_key="gcp:pd-ssd",
            )
        )
        self.plant("unattached_volume", uv, "1.5 TB pd-ssd with no users since 2026-07-08")
        boot = self.by_key["gcp-a100-1:boot"]
        snap_ok = self.add(
            Res(
                "gcp-snap-ok",
                "gcp",
                research,
                "us-central1",
                None,
                "snapshot",
                gcp_compute_id(rp, "global", "snapshots", "train-a100-01-weekly"),
                "train-a100-01-weekly",
                "available",
                datetime(2026, 10, 25, 3, 0),
                source_id=boot.rid,
                size_gb=200,
                details={"storage_locations": ["us"]},
                tags={"team": "applied"},
                hours=_always(83),
                price_key="gcp:snapshot",
            )
        )
        self.negative(snap_ok, ("orphaned_snapshot",), "source disk exists")
        snap_orphan = self.add(
            Res(
                "gcp-snap-orphan",
                "gcp",
                research,
                "us-central1",
                None,
                "snapshot",
                gcp_compute_id(rp, "global", "snapshots", "snap-old-feature-disk"),
                "snap-old-feature-disk",
                "available",
                datetime(2025, 11, 3, 3, 0),
                source_id=gcp_compute_id(rp, "zones/us-central1-a", "disks", "old-feature-disk"),
                size_gb=1000,
                details={"storage_locations": ["us"]},
                tags={},
                hours=_always(),
                price_key="gcp:snapshot",
            )
        )
        self.plant(
            "orphaned_snapshot",
            snap_orphan,
            "1 TB snapshot of a deleted disk; no image built from it",
        )
        img_snap = gcp_compute_id(rp, "global", "snapshots", "pytorch-2-4-base-src")
        snap_img = self.add(
            Res(
                "gcp-snap-img",
                "gcp",
                research,
                "us-central1",
                None,
                "snapshot",
                img_snap,
                "pytorch-2-4-base-src",
                "available",
                datetime(2026, 6, 1, 8, 0),
                source_id=gcp_compute_id(rp, "zones/us-central1-a", "disks", "image-builder-7"),
                size_gb=60,
                details={"storage_locations": ["us"]},
                tags={"team": "platform", "project": "golden-images"},
                hours=_always(),
                price_key="gcp:snapshot",
            )
        )
        self.negative(
            snap_img,
            ("orphaned_snapshot",),
            "source disk gone, but the live image img-pytorch-2-4-cu124 was built from it",
        )
        img_ok = self.add(
            Res(
                "gcp-img-ok",
                "gcp",
                research,
                "us-central1",
                None,
                "image",
                img_live,
                "img-pytorch-2-4-cu124",
                "available",
                datetime(2026, 6, 1, 9, 0),
                size_gb=60,
                source_id=img_snap,
                last_used_at=datetime(2026, 10, 31, 8, 0),
                details={"source_snapshot": img_snap, "family": "pytorch-cu124"},
                tags={"team": "platform", "project": "golden-images"},
                hours=_always(),
                price_key="gcp:image",
            )
        )
        self.negative(img_ok, ("obsolete_image",), "boot image of the A100 and L4 VMs")
        img_old = self.add(
            Res(
                "gcp-img-old",
                "gcp",
                research,
                "us-central1",
                None,
                "image",
                gcp_compute_id(rp, "global", "images", "img-tf2-cuda11-2025"),
                "img-tf2-cuda11-2025",
                "available",
                datetime(2025, 4, 2, 9, 0),
                size_gb=80,
                last_used_at=datetime(2025, 9, 30, 12, 0),
                details={
                    "family": "tf2-cu11",
                    "deprecated": None,
                    "last_used_at": "2025-09-30T12:00:00Z",
                },
                tags={"team": "platform"},
                hours=_always(),
                price_key="gcp:image",
            )
        )
        self.plant("obsolete_image", img_old, "TF2/CUDA 11 image unused since 2025-09-30")
        api = self.by_key["gcp-api-1"]
        sp = ACCOUNTS[serving].sub_id
        addr_ok = self.add(
            Res(
                "gcp-addr-ok",
                "gcp",
                serving,
                "us-central1",
                None,
                "ip_address",
                gcp_compute_id(sp, "regions/us-central1", "addresses", "serving-api-ip"),
                "serving-api-ip",
                "in-use",
                _days_ago(280),
                attached_to=api.rid,
                details={"address": "34.72.118.5", "status": "IN_USE", "address_type": "EXTERNAL"},
                tags={"team": "platform"},
                hours=_always(),
                price_key="gcp:address-in-use",
            )
        )
        self.negative(addr_ok, ("unused_ip",), "in use by serving-api-01")
        addr_free = self.add(
            Res(
                "gcp-addr-free",
                "gcp",
                serving,
                "us-central1",
                None,
                "ip_address",
                gcp_compute_id(sp, "regions/us-central1", "addresses", "old-vpn-gateway-ip"),
                "old-vpn-gateway-ip",
                "available",
                datetime(2025, 8, 19, 10, 0),
                details={
                    "address": "35.188.12.96",
                    "status": "RESERVED",
                    "address_type": "EXTERNAL",
                },
                tags={},
                hours=_always(),
                price_key="gcp:address-reserved",
            )
        )
        self.plant("unused_ip", addr_free, "static external address RESERVED, used by nothing")

        # Vertex AI endpoints and Workbench.
        for key, name, mtype, count, profile, created, last in (
            (
                "gcp-ep-ok",
                "damage-classifier-prod",
                "g2-standard-4",
                2,
                "endpoint_busy",
                _days_ago(190),
                datetime(2026, 10, 31, 22, 59),
            ),
            (
                "gcp-ep-idle",
                "legacy-ocr",
                "n1-standard-4",
                1,
                "endpoint_idle",
                datetime(2025, 12, 1, 9, 0),
                datetime(2026, 6, 15, 7, 30),
            ),
        ):
            eid = gcp_numeric_id("vertex-endpoint", name)
            r = self.add(
                Res(
                    key,
                    "gcp",
                    serving,
                    "us-central1",
                    None,
                    "endpoint",
                    f"//aiplatform.googleapis.com/projects/{sp}/locations/us-central1/endpoints/{eid}",
                    name,
                    "running",
                    created,
                    instance_type=mtype,
                    count=count,
                    last_used_at=last,
                    details={
                        "deployed_models": [
                            {
                                "machine_type": mtype,
                                "min_replica_count": count,
                                "display_name": name,
                            }
                        ]
                    },
                    tags={
                        "team": "applied",
                        "project": "damage-assessment" if count == 2 else "ocr",
                        "env": "prod",
                    },
                    hours=_always(),
                    profile=profile,
                )
            )
            if profile == "endpoint_idle":
                self.plant("idle_endpoint", r, "Vertex AI endpoint, 0 predictions in 90 days")
            else:
                self.negative(r, ("idle_endpoint",), "serves ~100k predictions a day")
        for key, name, mtype, hours, profile, state, last, team in (
            (
                "gcp-wb-ok",
                "wb-dan",
                "e2-standard-4",
                self.elastic((8, 10), (0, 1)),
                "notebook_busy",
                "stopped",
                datetime(2026, 10, 30, 18, 0),
                "data",
            ),
            (
                "gcp-wb-idle",
                "wb-erin-a100",
                "a2-highgpu-1g",
                _always(),
                "notebook_idle",
                "running",
                datetime(2026, 7, 20, 11, 45),
                "research",
            ),
        ):
            r = self.add(
                Res(
                    key,
                    "gcp",
                    research,
                    "us-central1",
                    "us-central1-a",
                    "notebook",
                    f"//notebooks.googleapis.com/projects/{rp}/locations/us-central1-a/instances/{name}",
                    name,
                    state,
                    _days_ago(150),
                    instance_type=mtype,
                    last_used_at=last,
                    details={
                        "machine_type": mtype,
                        "idle_shutdown": profile == "notebook_busy",
                        "last_activity_at": f"{last:%Y-%m-%dT%H:%M:%SZ}",
                    },
                    tags={"team": team, "owner": name[3:].split("-")[0], "env": "dev"},
                    hours=hours,
                    profile=profile,
                    start_hour=9,
                )
            )
            if profile == "notebook_idle":
                self.plant(
                    "idle_notebook",
                    r,
                    "Workbench instance with an A100 running 24/7, idle since 2026-07-20",
                    may_also=("idle_gpu",),
                )
            else:
                self.negative(r, ("idle_notebook",), "used on weekdays, idle shutdown")

        # Vertex AI custom jobs: the multi-day service spike.
        for d in VERTEX_SPIKE_DAYS:
            for j in range(2):
                jid = gcp_numeric_id("customjob", str(d), str(j))
                h = np.zeros(DAYS)
                h[d] = 8.0 + j
                self.add(
                    Res(
                        f"vx-{d}-{j}",
                        "gcp",
                        research,
                        "us-central1",
                        None,
                        "job",
                        f"//aiplatform.googleapis.com/projects/{rp}/locations/us-central1/"
                        f"customJobs/{jid}",
                        f"damage-vit-sweep-{day(d):%m%d}-{j}",
                        "JOB_STATE_SUCCEEDED",
                        day(d) + timedelta(hours=6 + j),
                        instance_type="a2-highgpu-8g",
                        count=1,
                        inventory=False,
                        hours=h,
                        tags={
                            "team": "applied",
                            "project": "damage-assessment",
                            "env": "research",
                            "workload": "training",
                        },
                    )
                )

        # Storage buckets and BigQuery (BigQuery has no resource: see generator).
        for key, name, acct, tb0, tb1, team in (
            ("gcs-raw", "acme-data-lake-raw", data, 7.5, 8.5, "data"),
            ("gcs-ckpt", "acme-vision-research-ckpt", research, 22.0, 27.0, "applied"),
        ):
            self.add(
                Res(
                    key,
                    "gcp",
                    acct,
                    "us-central1",
                    None,
                    "bucket",
                    f"//storage.googleapis.com/projects/_/buckets/{name}",
                    name,
                    "available",
                    _days_ago(600),
                    size_gb=tb1 * 1000,
                    details={"storage_class": "STANDARD", "location": "US-CENTRAL1"},
                    tags={"team": team, "env": "prod"},
                    hours=_always(),
                    sizes=np.round(np.linspace(tb0, tb1, DAYS) * 1000),
                    price_key="gcp:gcs",
                )
            )

    # -- runs ------------------------------------------------------------------------
    def _sequential_runs(
        self,
        *,
        experiment: str,
        resources: list[str],
        gpu_count: int,
        user: str,
        team: str,
        project: str,
        dur: tuple[float, float],
        gap: tuple[float, float],
        start: datetime,
        end: datetime,
        prefix: str,
        sweep_every: int = 0,
        params: dict[str, Any],
        metric: str,
        extra_tags: dict[str, str] | None = None,
    ) -> None:
        rng = self.rng
        t = start + timedelta(hours=float(rng.uniform(*gap)))
        n = 0
        children: list[Run] = []
        parent: Run | None = None
        while True:
            hours = float(rng.uniform(*dur))
            t_end = t + timedelta(minutes=round(hours * 60))
            if t_end > end:
                break
            n += 1
            if sweep_every and (n - 1) % sweep_every == 0:
                if parent is not None:
                    parent.ended_at = children[-1].ended_at
                pid = _run_id(experiment, prefix, "sweep", str(n))
                parent = Run(
                    pid,
                    experiment,
                    None,
                    f"{prefix}-sweep-{n // sweep_every + 1}",
                    "FINISHED",
                    user,
                    t,
                    t,
                    {"sweep": "bayes", **params},
                    {},
                    {"team": team, "project": project, "mlflow.runType": "sweep"},
                    [],
                    0,
                    "mlflow",
                )
                self.runs.append(parent)
            u = rng.random()
            status = "FINISHED" if u < 0.86 else ("FAILED" if u < 0.95 else "KILLED")
            p = dict(params)
            p["learning_rate"] = float(np.round(10 ** rng.uniform(-4.5, -2.5), 6))
            p["seed"] = int(rng.integers(0, 10_000))
            m = {metric: round(float(rng.uniform(0.70, 0.93)), 4)} if status == "FINISHED" else {}
            run = Run(
                _run_id(experiment, prefix, str(n)),
                experiment,
                parent.run_id if parent and sweep_every else None,
                f"{prefix}-{n:04d}",
                status,
                user,
                t,
                t_end,
                p,
                m,
                {"team": team, "project": project, **(extra_tags or {})},
                list(resources),
                gpu_count,
                "mlflow",
            )
            self.runs.append(run)
            children.append(run)
            t = t_end + timedelta(minutes=round(float(rng.uniform(*gap)) * 60))
        if parent is not None and children:
            parent.ended_at = children[-1].ended_at

    def _hpo_runs(self, r: Res, experiment: str, user: str, team: str, project: str) -> None:
        """Short trials back to back while the worker is up; one sweep parent per day."""
        rng = self.rng
        for d in range(DAYS):
            hrs = r.hours[d]
            if hrs <= 0:
                continue
            t0 = day(d) + timedelta(hours=r.start_hour)
            t_stop = t0 + timedelta(hours=float(hrs))
            pid = _run_id(experiment, r.name, str(d))
            parent = Run(
                pid,
                experiment,
                None,
                f"asha-{day(d):%m%d}",
                "FINISHED",
                user,
                t0,
                t0,
                {"sampler": "asha", "max_trials": 24},
                {},
                {"team": team, "project": project, "mlflow.runType": "sweep"},
                [],
                0,
                "mlflow",
            )
            self.runs.append(parent)
            t = t0 + timedelta(minutes=3)
            k = 0
            while True:
                mins = int(rng.integers(20, 51))
                t_end = t + timedelta(minutes=mins)
                if t_end > t_stop - timedelta(minutes=2):
                    break
                k += 1
                u = rng.random()
                status = "FINISHED" if u < 0.8 else ("KILLED" if u < 0.95 else "FAILED")
                self.runs.append(
                    Run(
                        _run_id(experiment, r.name, str(d), str(k)),
                        experiment,
                        pid,
                        f"trial-{day(d):%m%d}-{k:02d}",
                        status,
                        user,
                        t,
                        t_end,
                        {
                            "lr": float(np.round(10 ** rng.uniform(-5, -3), 7)),
                            "batch_size": int(rng.choice([16, 32, 64])),
                            "resume_from_checkpoint": True,
                            "max_epochs": 3,
                        },
                        {"val_miou": round(float(rng.uniform(0.55, 0.74)), 4)}
                        if status == "FINISHED"
                        else {},
                        {
                            "team": team,
                            "project": project,
                            "restartable": "true",
                            "checkpointing": "enabled",
                            "capacity": "on-demand",
                        },
                        [r.rid],
                        1,
                        "mlflow",
                    )
                )
                t = t_end + timedelta(minutes=int(rng.integers(1, 4)))
            parent.ended_at = max(t, t0 + timedelta(minutes=4))

    def build_runs(self) -> None:
        b = self.by_key
        end = day(DAYS - 1) + timedelta(hours=22)
        self._sequential_runs(
            experiment="foundation-vision/pretrain-vit-l",
            resources=[b["p4d-1"].rid, b["p4d-2"].rid],
            gpu_count=16,
            user="priya",
            team="research",
            project="foundation-vision",
            dur=(40.0, 130.0),
            gap=(0.5, 3.0),
            start=day(0),
            end=end,
            prefix="vitl-pretrain",
            params={"model": "vit-l/16", "global_batch_size": 4096, "precision": "bf16"},
            metric="val_top1",
        )
        for i in (3, 4):
            for lane in range(2):
                self._sequential_runs(
                    experiment="perception/detector-finetune",
                    resources=[b[f"p4d-{i}"].rid],
                    gpu_count=4,
                    user=("marco", "lena")[lane],
                    team="perception",
                    project="defect-detection",
                    dur=(3.0, 20.0),
                    gap=(0.2, 4.0),
                    start=day(0),
                    end=end,
                    prefix=f"det-ft-{i}{lane}",
                    sweep_every=6,
                    params={"model": "dino-detr-r50", "batch_size": 64},
                    metric="val_map",
                )
        for i in (1, 2, 3):
            self._sequential_runs(
                experiment="perception/defect-segmentation",
                resources=[b[f"az-a100-{i}"].rid],
                gpu_count=1,
                user="carol",
                team="perception",
                project="defect-detection",
                dur=(3.0, 12.0),
                gap=(0.3, 5.0),
                start=day(0),
                end=end,
                prefix=f"seg-a100-{i}",
                sweep_every=5,
                params={"model": "mask2former-swin-b", "batch_size": 16},
                metric="val_miou",
            )
        for i in (1, 2, 3, 4):
            r = b[f"gcp-a100-{i}"]
            self._sequential_runs(
                experiment="damage-assessment/train-effnet",
                resources=[r.rid],
                gpu_count=1,
                user="tomasz",
                team="applied",
                project="damage-assessment",
                dur=(4.0, 16.0),
                gap=(0.2, 3.0),
                start=r.created_at if r.created_at > day(0) else day(0),
                end=end,
                prefix=f"effnet-{i}",
                params={"model": "efficientnet-v2-l", "batch_size": 32},
                metric="val_accuracy",
            )
        # Spot pool: long checkpointed runs, some interrupted (KILLED).
        rng = self.rng
        for i in range(1, 9):
            r = b[f"pool-{i}"]
            for d in range(DAYS):
                hrs = float(r.hours[d])
                if hrs <= 0:
                    continue
                t = day(d) + timedelta(hours=r.start_hour)
                stop = t + timedelta(hours=hrs)
                k = 0
                while t < stop - timedelta(hours=1):
                    k += 1
                    dur = min(float(rng.uniform(3.0, 10.0)), (stop - t).total_seconds() / 3600)
                    t_end = t + timedelta(minutes=int(dur * 60))
                    interrupted = rng.random() < 0.12
                    self.runs.append(
                        Run(
                            _run_id("unet", r.name, str(d), str(k)),
                            "segmentation/train-unet",
                            None,
                            f"unet-{r.name[-2:]}-{day(d):%m%d}-{k}",
                            "KILLED" if interrupted else "FINISHED",
                            "jun",
                            t,
                            t_end,
                            {
                                "model": "unet-effb4",
                                "epochs": 30,
                                "resume_from_checkpoint": True,
                                "gpus": 4,
                            },
                            {}
                            if interrupted
                            else {"val_dice": round(float(rng.uniform(0.8, 0.9)), 4)},
                            {
                                "team": "research",
                                "project": "segmentation",
                                "capacity": "spot",
                                "checkpointing": "enabled",
                                **({"termination": "spot-interruption"} if interrupted else {}),
                            },
                            [r.rid],
                            4,
                            "mlflow",
                        )
                    )
                    t = t_end + timedelta(minutes=5)
        self._hpo_runs(b["hpo-aws"], "segmentation/hpo-asha", "jun", "applied", "segmentation")
        self._hpo_runs(
            b["gcp-hpo"], "damage-assessment/hpo-l4", "tomasz", "applied", "damage-assessment"
        )
        # The forgotten p5 cluster: one failed launch, then 24 idle hours.
        t = day(SPIKE_TOTAL_DAY) + timedelta(minutes=40)
        self.runs.append(
            Run(
                _run_id("vith", "p5"),
                "foundation-vision/pretrain-vit-h",
                None,
                "vith-p5-smoke-test",
                "FAILED",
                "priya",
                t,
                t + timedelta(minutes=23),
                {"model": "vit-h/14", "nodes": 4, "global_batch_size": 8192},
                {},
                {"team": "research", "project": "foundation-vision", "error": "NCCL timeout"},
                [b[f"p5-{i}"].rid for i in range(1, 5)],
                32,
                "mlflow",
            )
        )
        # Perception burst on ND96asr_v4.
        for i in range(1, 5):
            t = day(TEAM_SPIKE_DAY) + timedelta(hours=9, minutes=10)
            self.runs.append(
                Run(
                    _run_id("segxl", str(i)),
                    "perception/defect-segmentation-xl",
                    None,
                    f"seg-xl-nd-{i}",
                    "FINISHED",
                    "marco",
                    t,
                    t + timedelta(hours=13, minutes=30),
                    {"model": "mask2former-swin-l", "batch_size": 128, "nodes": 1},
                    {"val_miou": round(float(rng.uniform(0.78, 0.84)), 4)},
                    {"team": "perception", "project": "defect-detection"},
                    [b[f"az-nd-{i}"].rid],
                    8,
                    "mlflow",
                )
            )
        # Vertex sweep (one MLflow run per custom job).
        for r in self.res:
            if r.key.startswith("vx-"):
                d = int(np.argmax(r.hours > 0))
                t = r.created_at
                self.runs.append(
                    Run(
                        _run_id("vertex", r.name),
                        "damage-assessment/vertex-hpo",
                        None,
                        r.name,
                        "FINISHED",
                        "tomasz",
                        t,
                        t + timedelta(hours=float(r.hours[d]) - 0.1),
                        {"model": "vit-b/16", "machine_type": "a2-highgpu-8g", "trial_count": 16},
                        {"val_accuracy": round(float(rng.uniform(0.88, 0.93)), 4)},
                        {
                            "team": "applied",
                            "project": "damage-assessment",
                            "platform": "vertex-ai",
                        },
                        [r.rid],
                        8,
                        "mlflow",
                    )
                )


def _commitments() -> list[Commitment]:
    r = ACCOUNTS["aws-research"]
    return [
        Commitment(
            "aws-ri-p4d",
            "aws",
            "aws-research",
            "us-east-1",
            f"arn:aws:ec2:us-east-1:{r.sub_id}:reserved-instances/{guid('ri', 'p4d')}",
            "p4d.24xlarge 1yr Partial Upfront x4",
            "Usage",
            "Reserved Instance",
            "Hours",
            Decimal(4),
            # $19.2256/h effective: $9.8506/h recurring fee + $9.375/h amortised upfront
            # ($328,500.00 paid on 2026-03-01, before the window: $900.00 a day).
            Decimal("19.2256"),
            {},
            "Amazon Elastic Compute Cloud",
            datetime(2026, 3, 1),
            1,
            payment="Partial Upfront",
            upfront_rate=Decimal("9.375"),
        ),
        Commitment(
            "aws-sp-m6i",
            "aws",
            "aws-prod",
            "us-east-1",
            f"arn:aws:savingsplans::{ACCOUNTS['aws-prod'].billing_account_id}:savingsplan/"
            f"{guid('sp', 'm6i')}",
            "EC2 Instance Savings Plan m6i us-east-1 $2.00/h",
            "Spend",
            "Savings Plan",
            "USD",
            Decimal("2.00"),
            Decimal(1),
            {"m6i.2xlarge": Decimal("0.2420")},
            "Amazon Elastic Compute Cloud",
            datetime(2026, 3, 1),
            1,
        ),
        Commitment(
            "az-res-nc24",
            "azure",
            "az-research",
            "eastus",
            f"/providers/Microsoft.Capacity/reservationOrders/{guid('ro', 'nc24')}/"
            f"reservations/{guid('res', 'nc24')}",
            "NC24ads_A100_v4 eastus 1yr x3",
            "Usage",
            "Reservation",
            "Hours",
            Decimal(3),
            Decimal("2.3140"),
            {},
            "Virtual Machines",
            # Monthly billing plan; its term ends on 2026-10-01, when the renewal takes over.
            datetime(2025, 10, 1),
            1,
        ),
        Commitment(
            "az-res-nc24-renewal",
            "azure",
            "az-research",
            "eastus",
            f"/providers/Microsoft.Capacity/reservationOrders/{guid('ro', 'nc24-renewal')}/"
            f"reservations/{guid('res', 'nc24-renewal')}",
            "NC24ads_A100_v4 eastus 1yr x3 (renewal, paid upfront)",
            "Usage",
            "Reservation",
            "Hours",
            Decimal(3),
            # Same rate, all paid upfront on 2026-10-01: 3 x 8,760 h x $2.314 = $60,811.92,
            # amortised at $166.608 a day.
            Decimal("2.3140"),
            {},
            "Virtual Machines",
            datetime(2026, 10, 1),
            1,
            payment="All Upfront",
            upfront_rate=Decimal("2.3140"),
            covers="az-res-nc24",
        ),
        Commitment(
            "gcp-cud-a2",
            "gcp",
            "gcp-research",
            "us-central1",
            gcp_compute_id(
                ACCOUNTS["gcp-research"].sub_id,
                "regions/us-central1",
                "commitments",
                "cud-a2-highgpu-1yr",
            ),
            "cud-a2-highgpu-1yr",
            "Usage",
            "Committed Use Discount",
            "Hours",
            Decimal(4),
            Decimal("2.314233"),
            {},
            "Compute Engine",
            datetime(2026, 7, 1),
            1,
        ),
    ]


ANOMALIES: list[dict[str, Any]] = [
    {
        "date": f"{day(SPIKE_TOTAL_DAY):%Y-%m-%d}",
        "scope": "total",
        "scope_value": "total",
        "direction": "spike",
        "note": "forgotten 4 x p5.48xlarge on-demand cluster ran all day (~$5.3k); also visible "
        "for provider AWS, account 203948576120, service Amazon Elastic Compute Cloud "
        "and tag:team research",
        "also_visible_in": [
            {"scope": "provider", "scope_value": "AWS"},
            {"scope": "account", "scope_value": "203948576120"},
            {"scope": "service", "scope_value": "Amazon Elastic Compute Cloud"},
            {"scope": "tag:team", "scope_value": "research"},
        ],
    },
    *[
        {
            "date": f"{day(d):%Y-%m-%d}",
            "scope": "service",
            "scope_value": "Vertex AI",
            "direction": "spike",
            "note": "Vertex AI custom-job sweep on a2-highgpu-8g (2 jobs a day, 3 days)",
            "also_visible_in": [{"scope": "tag:team", "scope_value": "applied"}],
        }
        for d in VERTEX_SPIKE_DAYS
    ],
    *[
        {
            "date": f"{day(d):%Y-%m-%d}",
            "scope": "account",
            "scope_value": "acme-data-lake",
            "direction": "drop",
            "note": "acme-data-lake paused for a network migration: VMs stopped, no BigQuery "
            "jobs; only storage billed",
            "also_visible_in": [
                {"scope": "service", "scope_value": "BigQuery"},
                {"scope": "tag:team", "scope_value": "data"},
            ],
        }
        for d in DROP_DAYS
    ],
    {
        "date": f"{day(TEAM_SPIKE_DAY):%Y-%m-%d}",
        "scope": "tag:team",
        "scope_value": "perception",
        "direction": "spike",
        "note": "perception team burst onto 4 x Standard_ND96asr_v4 for 14 hours (~$1.5k)",
        "also_visible_in": [
            {"scope": "provider", "scope_value": "Microsoft"},
            {"scope": "account", "scope_value": ACCOUNTS["az-research"].sub_id},
            {"scope": "service", "scope_value": "Virtual Machines"},
        ],
    },
]


def _office_hours(d: int, hour: int, busy: float, idle: float, peak: float) -> float:
    """A working day's hour: ``busy`` 09:00-18:00 Monday to Friday (``peak`` at 11:00),
    ``idle`` otherwise."""
    if day(d).weekday() >= 5 or not 9 <= hour < 18:
        return idle
    return peak if hour == 11 else busy


def _no_bill() -> np.ndarray:
    return np.zeros(DAYS)


class _Unbilled:
    """Planted cases of the rules added in issue 20. They are in the inventory, with their
    metrics and list prices, but have no lines in the sample's bill (an account whose
    export is not loaded): their savings come from the list prices, and the bill and
    everything computed from it (spend, anomalies, commitments, run costs) stay as they
    were. They use no randomness, so the rest of the organisation is unchanged."""

    def __init__(self, b: _Builder) -> None:
        self.b = b

    def build(self) -> None:
        b = self.b
        research, prod = "aws-research", "aws-prod"
        east = "us-east-1"
        created = _days_ago(200)

        def res(key: str, account: str, kind: str, rid: str, name: str, **kw: Any) -> Res:
            region = kw.pop("region", east)
            zone = kw.pop("zone", None)
            return b.add(
                Res(key, kw.pop("provider", "aws"), account, region, zone, kind, rid, name,
                    kw.pop("state", "running"), kw.pop("created", created), hours=_no_bill(),
                    **kw)
            )  # fmt: skip

        def daily(r: Res, metric: str, stat: str, values: list[float] | float) -> None:
            vals = values if isinstance(values, list) else [values] * DAYS
            r.samples += [(metric, stat, 86400, day(d), float(v)) for d, v in enumerate(vals)]

        # -- volume_type_upgrade: a gp2 data disk on a running research machine ----------
        host = b.by_key["rightsize-aws"]
        gp2 = res("gp2-cache", research, "volume", ebs_volume_id("feature-cache-gp2"),
                  "feature-cache-gp2", state="in-use", attached_to=host.rid, size_gb=1000.0,
                  details={"volume_type": "gp2", "iops": 3000, "device": "/dev/sdg"},
                  tags={"team": "platform", "project": "features", "env": "prod"})  # fmt: skip
        b.plant(
            "volume_type_upgrade",
            gp2,
            "1,000 GB gp2 (3,000 IOPS, 250 MiB/s): 100.00 a month; as gp3 with 250 MiB/s "
            "80.00 + 125 × 0.04 = 85.00; saves 15.00",
        )
        io1 = res("io1-db", research, "volume", ebs_volume_id("metadata-db-io1"),
                  "metadata-db-io1", state="in-use", attached_to=host.rid, size_gb=200.0,
                  details={"volume_type": "io1", "iops": 4000, "device": "/dev/sdh"},
                  tags={"team": "platform", "project": "features", "env": "prod"})  # fmt: skip
        b.negative(io1, ("volume_type_upgrade",), "io1 and io2 cost the same here")
        # pd-ssd data disk of a steady GCP serving machine that uses ~35 IOPS
        serving = b.by_key["gcp-api-1"]
        pd = res("pd-ssd-cache", "gcp-serving", "volume",
                 gcp_compute_id(ACCOUNTS["gcp-serving"].sub_id, f"zones/{serving.zone}", "disks",
                                "serving-cache-ssd"),
                 "serving-cache-ssd", provider="gcp", region=serving.region, zone=serving.zone,
                 state="in-use", attached_to=serving.rid, size_gb=500.0,
                 details={"disk_type": "pd-ssd"},
                 tags={"team": "applied", "project": "serving", "env": "prod"})  # fmt: skip
        b.plant(
            "volume_type_upgrade",
            pd,
            "500 GB pd-ssd (85.00 a month) whose VM's disks peak at ~35 IOPS; pd-balanced "
            "(50.00) gives 6,000",
        )

        # -- idle_nat_gateway -----------------------------------------------------------
        nat = res("nat-idle", research, "nat_gateway", "nat-0" + hex_id(16, "nat", "old-vpc"),
                  "nat-old-training-vpc", state="available",
                  details={"vpc_id": "vpc-0" + hex_id(16, "vpc", "old-training")},
                  tags={"team": "research", "project": "foundation"})  # fmt: skip
        b.plant("idle_nat_gateway", nat, "no traffic in 90 days: 730 h × 0.045 = 32.85")
        nat_busy = res(
            "nat-busy",
            research,
            "nat_gateway",
            "nat-0" + hex_id(16, "nat", "training-vpc"),
            "nat-training-vpc",
            state="available",
            tags={"team": "research", "project": "foundation"},
        )
        daily(nat_busy, "net_out_bytes", "Sum", 4.2e10)
        daily(nat_busy, "net_in_bytes", "Sum", 1.1e10)
        b.negative(nat_busy, ("idle_nat_gateway",), "pulls ~53 GB a day for the training fleet")

        # -- idle_load_balancer ---------------------------------------------------------
        elb = "arn:aws:elasticloadbalancing:us-east-1:" + ACCOUNTS[prod].sub_id + ":loadbalancer/"
        alb = res("alb-idle", prod, "load_balancer", elb + "app/demo-ocr-2025/" + hex_id(16, "lb"),
                  "demo-ocr-2025", state="active",
                  details={"lb_type": "application", "scheme": "internet-facing"},
                  tags={"team": "applied", "project": "ocr", "env": "demo"})  # fmt: skip
        daily(alb, "requests", "Sum", [0.0] * (DAYS - 7) + [9, 4, 11, 6, 3, 8, 5])
        b.plant("idle_load_balancer", alb, "50 requests in the last 7 days (scanners)")
        alb_busy = res("alb-busy", prod, "load_balancer",
                       elb + "app/inference-gw/" + hex_id(16, "lb2"), "inference-gw",
                       state="active", details={"lb_type": "application"},
                       tags={"team": "applied", "project": "ocr", "env": "prod"})  # fmt: skip
        daily(alb_busy, "requests", "Sum", 2.4e6)
        b.negative(alb_busy, ("idle_load_balancer",), "2.4 million requests a day")

        # -- idle_file_system -------------------------------------------------------------
        fsx = res("fsx-idle", research, "file_system", "fs-0" + hex_id(16, "fsx", "imagenet"),
                  "fsx-imagenet-scratch", state="available", size_gb=4800.0,
                  details={"file_system_type": "lustre", "deployment_type": "SCRATCH_2"},
                  tags={"team": "research", "project": "foundation"})  # fmt: skip
        daily(fsx, "disk_io_ops", "Sum", [2.1e8] * 40 + [0.0] * (DAYS - 40))
        b.plant("idle_file_system", fsx, "no client I/O for 50 days: 4,800 GB × 0.14 = 672.00")
        efs = res("efs-busy", research, "file_system", "fs-" + hex_id(8, "efs", "home"),
                  "efs-home", state="available", size_gb=350.0,
                  details={"file_system_type": "efs"},
                  tags={"team": "research", "project": "notebooks"})  # fmt: skip
        daily(efs, "disk_io_ops", "Sum", 3.5e6)
        b.negative(efs, ("idle_file_system",), "home directories, read all day")

        # -- offhours_schedule: a GPU workstation that works office hours ----------------
        for key, name, env in (
            ("ws-dev", "ws-gpu-dev-alice", "dev"),
            ("ws-prod", "ws-gpu-render-farm", "prod"),
        ):
            ws = res(key, research, "vm", ec2_instance_id(name), name,
                     instance_type="g5.2xlarge", lifecycle="on-demand", zone="us-east-1a",
                     tags={"team": "perception", "project": "workstations", "env": env},
                     details={"platform": "Linux/UNIX"})  # fmt: skip
            for d in range(DAYS):
                cpu = [_office_hours(d, h, 40.0, 1.0, 85.0) for h in range(24)]
                gpu = [_office_hours(d, h, 60.0, 0.5, 70.0) for h in range(24)]
                ws.samples += [
                    ("cpu_util_pct", "Average", 86400, day(d), round(sum(cpu) / 24, 3)),
                    ("cpu_util_pct", "Maximum", 86400, day(d), max(cpu)),
                    ("gpu_util_pct", "Average", 86400, day(d), round(sum(gpu) / 24, 3)),
                    ("net_in_bytes", "Sum", 86400, day(d), 6e8),
                    ("net_out_bytes", "Sum", 86400, day(d), 2e8),
                ]
                if d >= DAYS - 14:
                    for h in range(24):
                        at = day(d) + timedelta(hours=h)
                        ws.samples += [
                            ("cpu_util_pct", "Average", 3600, at, cpu[h]),
                            ("gpu_util_pct", "Average", 3600, at, gpu[h]),
                        ]
            if env == "dev":
                b.plant(
                    "offhours_schedule",
                    ws,
                    "busy 09-18 Mon-Fri, idle nights and weekends: 108 of 168 hours; "
                    "1.212 × 730 × 108 / 168 = 568.77",
                )
            else:
                b.negative(ws, ("offhours_schedule",), "the same pattern, but tagged production")


def build_org(rng: np.random.Generator) -> Org:
    b = _Builder(rng)
    b.build_aws()
    b.build_azure()
    b.build_gcp()
    b.build_runs()
    _Unbilled(b).build()
    commitments = _commitments()
    sp = next(c for c in commitments if c.key == "aws-sp-m6i")
    b.plant(
        "commitment_underused",
        sp.cid,
        "EC2 Instance Savings Plan for $2.00/h; the 4 remaining m6i.2xlarge use $0.968/h "
        "(~48 % utilisation)",
        provider="aws",
    )
    for c in commitments:
        if c.key != "aws-sp-m6i":
            b.neg.append(
                {
                    "resource_id": c.cid,
                    "provider": c.provider,
                    "must_not_fire": ["commitment_underused"],
                    "note": f"{c.name}: utilisation 97-100 %",
                }
            )
    return Org(b.res, commitments, b.runs, b.recs, b.neg, list(ANOMALIES))
