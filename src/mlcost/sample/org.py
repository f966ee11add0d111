"""The sample organisation, "Acme Vision", built from its declarations: the data files in
``mlcost/sample/data/`` (resources with their planted cases, commitments, anomalies; the
format is in ``docs/sample-organisation.md``). :mod:`mlcost.sample.generator` turns the
result into tables.

What the files do not say is derived here: resource ids from names, a VM's boot disk
and the details every VM of a cloud has, billed hours from their pattern. Randomness
(elastic fleets' daily hours, runs, metric noise) comes only from the
``numpy.random.Generator`` passed in, consumed in a fixed order: the files' order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

import numpy as np

from mlcost.sample import runs
from mlcost.sample.catalog import (
    ACCOUNTS,
    DAYS,
    INSTANCE_TYPES,
    STORAGE_PRICES,
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
from mlcost.sample.declarations import (
    AnomalyFile,
    CommitmentDecl,
    CommitmentFile,
    DailySample,
    Day,
    Hours,
    Negative,
    Plant,
    ResourceDecl,
    ResourceFile,
    SampleDataError,
    read_toml,
    to_decimal,
)
from mlcost.sample.model import PROFILES, TREND, WEEKEND, Commitment, Org, Res, Run

__all__ = [
    "PROFILES",
    "TREND",
    "WEEKEND",
    "Commitment",
    "Org",
    "Res",
    "Run",
    "build_org",
    "planted_days",
]

#: The resource files, in the order their resources are built (and randomness drawn):
#: the three billed clouds, then the resources the sample's bill does not cover.
RESOURCE_FILES = ("aws.toml", "azure.toml", "gcp.toml", "unbilled.toml")
KINDS = (
    "vm",
    "volume",
    "snapshot",
    "image",
    "ip_address",
    "endpoint",
    "notebook",
    "bucket",
    "job",
    "nat_gateway",
    "load_balancer",
    "file_system",
)
#: Per provider: the home region, and the zone a VM is in unless it says otherwise.
HOME = {
    "aws": ("us-east-1", "us-east-1a"),
    "azure": ("eastus", "1"),
    "gcp": ("us-central1", "us-central1-a"),
}
#: Metric patterns given as samples rather than drawn from a profile.
PATTERNS = ("office_hours",)


@cache
def planted_days() -> dict[str, tuple[int, ...]]:
    """The planted anomaly days by name (``anomalies.toml``), as indices into the window."""
    where = "mlcost/sample/data/anomalies.toml"
    out: dict[str, tuple[int, ...]] = {}
    for name, value in _anomaly_file().planted_days.items():
        days = value if isinstance(value, list) else [value]
        out[name] = tuple(_index(d, f"{where}: planted_days.{name}") for d in days)
    return out


@cache
def _anomaly_file() -> AnomalyFile:
    return read_toml(AnomalyFile, "anomalies.toml")


def _index(d: date, where: str, end: bool = False) -> int:
    """Day ``d``'s index in the window; ``end``: the day after the window is allowed (an
    exclusive stop)."""
    i = (d - WINDOW_START.date()).days
    if not 0 <= i < DAYS + end:
        raise SampleDataError(f"{where}: {d} is outside the window.")
    return i


def _days(value: Day | list[Day], where: str) -> list[int]:
    """Window indices of a day, a planted day's name, or a list of them."""
    out: list[int] = []
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, str):
            if v not in planted_days():
                raise SampleDataError(
                    f"{where}: no planted day {v!r}; the planted days are "
                    f"{', '.join(planted_days())}."
                )
            out += planted_days()[v]
        else:
            out.append(_index(v, where))
    return out


def _span(start: Day | None, stop: Day | None, where: str) -> tuple[int, int]:
    lo = _days(start, where)[0] if start is not None else 0
    if stop is None:
        hi = DAYS
    elif isinstance(stop, str):
        hi = _days(stop, where)[0]
    else:
        hi = _index(stop, where, end=True)
    _require(lo < hi, where, "start must come before stop")
    return lo, hi


def _require(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise SampleDataError(f"{where}: {what}.")


def _one_of(value: str | None, allowed: Any, where: str, what: str) -> None:
    if value is not None and value not in allowed:
        raise SampleDataError(
            f"{where}: unknown {what} {value!r}; the {what}s are: {', '.join(sorted(allowed))}."
        )


class OrgBuilder:
    """Builds the organisation: resources with their boot disks, runs, the answer key."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.res: list[Res] = []
        self.runs: list[Run] = []
        self.recs: list[dict[str, Any]] = []
        self.neg: list[dict[str, Any]] = []
        self.by_key: dict[str, Res] = {}
        #: key -> resource id, for every declared resource (``@key`` references).
        self.ids: dict[str, str] = {}

    # -- the answer key -------------------------------------------------------------------
    def plant(self, p: Plant, rid: str, provider: str) -> None:
        entry: dict[str, Any] = {
            "rule": p.rule,
            "resource_id": rid,
            "provider": provider,
            "note": p.note,
        }
        if p.may_also:
            entry["may_also"] = list(p.may_also)
        self.recs.append(entry)

    def negative(self, n: Negative, rid: str, provider: str) -> None:
        self.neg.append(
            {
                "resource_id": rid,
                "provider": provider,
                "must_not_fire": list(n.rules),
                "note": n.note,
            }
        )

    # -- hours ----------------------------------------------------------------------------
    def elastic(self, weekday: list[int], weekend: list[int], start: int) -> np.ndarray:
        lo = self.rng.integers(weekday[0], weekday[1] + 1, DAYS)
        we = self.rng.integers(weekend[0], weekend[1] + 1, DAYS)
        h = np.where(WEEKEND, we, lo).astype(float)
        h = np.minimum(24.0, np.round(h * TREND))
        h[:start] = 0
        return h

    def hours(self, spec: Hours | str, where: str) -> np.ndarray:
        where = f"{where}: 'hours'"
        if isinstance(spec, str):
            _one_of(spec, ("always", "none"), where, "pattern")
            return np.full(DAYS, 24.0) if spec == "always" else np.zeros(DAYS)
        if spec.on is not None:
            _require(spec.start is None and spec.stop is None, where, "on takes no start or stop")
        lo, hi = _span(spec.start, spec.stop, where)
        if spec.elastic is not None:
            e = spec.elastic
            _require(len(e.weekday) == len(e.weekend) == 2, where, "elastic ranges are [lo, hi]")
            _require(
                spec.stop is None and spec.on is None, where, "elastic hours have no stop or on"
            )
            h = self.elastic(e.weekday, e.weekend, lo)
        else:
            h = np.zeros(DAYS)
            if spec.on is not None:
                h[_days(spec.on, where)] = spec.per_day
            else:
                h[lo:hi] = spec.per_day
        if spec.off is not None:
            h[_days(spec.off, where)] = 0
        for d, value in spec.set.items():
            try:
                when = date.fromisoformat(d)
            except ValueError:
                raise SampleDataError(f"{where}: set: {d!r} is not a date.") from None
            h[_days(when, where)] = value
        return h

    # -- resources ------------------------------------------------------------------------
    def declare(self, d: ResourceDecl, provider: str, where: str) -> None:
        """Check a declaration and note its id (and its boot disk's) for references."""
        _one_of(provider, HOME, where, "provider")
        _one_of(d.kind, KINDS, where, "kind")
        _require(d.key not in self.ids, where, "the key is used twice")
        _one_of(d.account, ACCOUNTS, where, "account")
        _require(
            ACCOUNTS[d.account].provider == provider, where, f"{d.account} is not on {provider}"
        )
        _one_of(d.type, INSTANCE_TYPES, where, "instance type")
        _one_of(d.price, STORAGE_PRICES, where, "price")
        _one_of(d.profile, PROFILES, where, "profile")
        _one_of(d.pattern, PATTERNS, where, "pattern")
        _require(d.created is not None or d.series is not None, where, "'created' is missing")
        _require(
            d.series is None or (d.kind, provider) == ("job", "aws"),
            where,
            "only AWS jobs come in a series",
        )
        for name in d.null_details:
            _require(name not in d.details, where, f"{name!r} is both in details and null_details")
        self.ids[d.key] = self.rid(d, provider, where)
        for companion in self.companions(d, provider, self.ids[d.key]):
            self.ids[companion.key] = companion.rid

    def ref(self, value: str | None, where: str) -> str | None:
        """A resource id, or ``@key``: the id of the organisation's resource ``key``."""
        if value is None or not value.startswith("@"):
            return value
        if value[1:] not in self.ids:
            raise SampleDataError(f"{where}: {value!r} names no resource of the organisation.")
        return self.ids[value[1:]]

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, str):
            return self.ref(value, where)
        if isinstance(value, list):
            return [self.resolve(v, where) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v, where) for k, v in value.items()}
        return value

    def place(self, d: ResourceDecl, provider: str) -> tuple[str, str | None]:
        """(region, zone): a zone names its region; a VM has its cloud's default zone."""
        zone = d.zone if d.zone is not None else (HOME[provider][1] if d.kind == "vm" else None)
        if d.region is not None:
            return d.region, zone
        if zone is not None and provider == "aws":
            return zone[:-1], zone
        if zone is not None and provider == "gcp":
            return zone[:-2], zone
        return HOME[provider][0], zone

    def rid(self, d: ResourceDecl, provider: str, where: str) -> str:
        """The declared id, or one derived from the name as each cloud writes it."""
        if d.id is not None:
            return d.id
        n = d.id_name or d.name
        sub = ACCOUNTS[d.account].sub_id
        region, zone = self.place(d, provider)
        kind = d.kind
        if provider == "aws":
            sagemaker = {
                "endpoint": "endpoint",
                "notebook": "notebook-instance",
                "job": "training-job",
            }
            simple: dict[str, Callable[[str], str]] = {
                "vm": ec2_instance_id,
                "volume": ebs_volume_id,
                "snapshot": ebs_snapshot_id,
                "image": ami_id,
                "ip_address": eip_id,
                "bucket": str,
            }
            if kind in sagemaker:
                return sagemaker_arn(region, sub, sagemaker[kind], n)
            if kind in simple:
                return simple[kind](n)
        if provider == "azure":
            types = {
                "vm": "Compute/virtualMachines",
                "volume": "Compute/disks",
                "snapshot": "Compute/snapshots",
                "image": "Compute/images",
                "ip_address": "Network/publicIPAddresses",
                "bucket": "Storage/storageAccounts",
            }
            _require(
                d.resource_group is not None, where, "an Azure resource needs a resource_group"
            )
            rg = d.resource_group or ""
            if kind in types:
                return azure_id(sub, rg, f"Microsoft.{types[kind]}", n)
            if kind in ("endpoint", "notebook"):
                _require(d.workspace is not None, where, "an Azure ML resource needs a workspace")
                part = "onlineEndpoints" if kind == "endpoint" else "computes"
                ws = "Microsoft.MachineLearningServices/workspaces"
                return azure_id(sub, rg, ws, f"{d.workspace}/{part}/{n}")
        if provider == "gcp":
            scopes = {
                "vm": (f"zones/{zone}", "instances"),
                "volume": (f"zones/{zone}", "disks"),
                "snapshot": ("global", "snapshots"),
                "image": ("global", "images"),
                "ip_address": (f"regions/{region}", "addresses"),
            }
            if kind in scopes:
                return gcp_compute_id(sub, *scopes[kind], n)
            if kind == "endpoint":
                eid = gcp_numeric_id("vertex-endpoint", n)
                return (
                    f"//aiplatform.googleapis.com/projects/{sub}/locations/{region}/endpoints/{eid}"
                )
            if kind == "notebook":
                return f"//notebooks.googleapis.com/projects/{sub}/locations/{zone}/instances/{n}"
            if kind == "bucket":
                return f"//storage.googleapis.com/projects/_/buckets/{n}"
        raise SampleDataError(f"{where}: give the {provider} {kind}'s id (no default for it).")

    def companions(self, d: ResourceDecl, provider: str, rid: str) -> list[Res]:
        """A VM's boot disk (not for a VM outside the inventory, or a bare one)."""
        if d.kind != "vm" or not d.inventory or d.bare:
            return []
        region, zone = self.place(d, provider)
        sub = ACCOUNTS[d.account].sub_id
        details: dict[str, Any]
        if provider == "aws":
            suffix, name, size, price = "root", f"{d.name}-root", 100, "aws:gp3"
            disk_id = ebs_volume_id(name)
            details = {"volume_type": "gp3", "iops": 3000, "device": "/dev/xvda"}
        elif provider == "azure":
            suffix, size, price = "os", 256, "azure:Premium_LRS"
            name = f"{d.name}_OsDisk_1_{hex_id(32, 'osdisk', d.name)}"
            rg = d.resource_group or ""
            disk_id = azure_id(sub, rg, "Microsoft.Compute/disks", name)
            details = {"sku": "Premium_LRS", "tier": "P15", "disk_state": "Attached"}
            details["resource_group"] = rg
        else:
            suffix, name, size, price = "boot", d.name, 100, "gcp:pd-balanced"
            disk_id = gcp_compute_id(sub, f"zones/{zone}", "disks", name)
            details = {"disk_type": "pd-balanced", "boot": True}
        disk = Res(f"{d.key}:{suffix}", provider, d.account, region, zone, "volume", disk_id,
                   name, "in-use", d.created or WINDOW_START, attached_to=rid,
                   size_gb=d.boot_disk_gb or size, source_id=d.source, details=details,
                   tags=d.tags, hours=np.full(DAYS, 24.0), price_key=price)  # fmt: skip
        return [disk]

    def vm_details(
        self, d: ResourceDecl, provider: str, state: str, lifecycle: str | None
    ) -> dict[str, Any]:
        """What every VM of a cloud says about itself, before the declaration's details."""
        if d.kind != "vm" or d.bare:
            return {}
        if provider == "aws":
            return {
                "platform": "Linux/UNIX",
                "vpc_id": "vpc-0" + hex_id(16, "vpc", ACCOUNTS[d.account].sub_id),
            }
        if provider == "azure":
            return {
                "power_state": f"PowerState/{state}",
                "resource_group": d.resource_group,
                "os_type": "Linux",
                "vm_id": guid("vmid", d.name),
            }
        return {
            "status": "RUNNING" if state == "running" else "TERMINATED",
            "provisioning_model": "SPOT" if lifecycle == "spot" else "STANDARD",
            "instance_id": gcp_numeric_id("gce", d.name),
        }

    def add(self, r: Res) -> Res:
        assert r.key not in self.by_key, r.key
        self.res.append(r)
        self.by_key[r.key] = r
        return r

    def build(self, d: ResourceDecl, provider: str, where: str) -> None:
        if d.series is not None:
            runs.sagemaker_jobs(
                self, d, provider, sorted({x for v in planted_days().values() for x in v})
            )
            return
        assert d.created is not None
        region, zone = self.place(d, provider)
        hours = self.hours(d.hours, where)
        elastic = isinstance(d.hours, Hours) and d.hours.elastic is not None
        state = d.state or ("stopped" if elastic and hours[-1] <= 0 else "running")
        lifecycle = d.lifecycle or ("on-demand" if d.kind == "vm" else None)
        details = self.vm_details(d, provider, state, lifecycle)
        details.update(self.resolve(d.details, f"{where}: 'details'"))
        details.update(dict.fromkeys(d.null_details))
        sizes = None
        size_gb = d.size_gb
        if d.size_tb is not None:
            _require(len(d.size_tb) == 2, where, "size_tb is [first day, last day]")
            sizes = np.round(np.linspace(d.size_tb[0], d.size_tb[1], DAYS) * 1000)
            size_gb = d.size_tb[1] * 1000
        metric_days = None
        if d.metric_days is not None:
            metric_days = np.arange(*_span(d.metric_days.start, d.metric_days.stop, where))
        r = self.add(
            Res(
                d.key,
                provider,
                d.account,
                region,
                zone,
                d.kind,
                self.ids[d.key],
                d.name,
                state,
                d.created,
                instance_type=d.type,
                count=d.count,
                attached_to=self.ref(d.attached_to, f"{where}: 'attached_to'"),
                source_id=self.ref(d.source, f"{where}: 'source'"),
                size_gb=size_gb,
                lifecycle=lifecycle,
                last_used_at=d.last_used,
                details=details,
                tags=d.tags,
                hours=hours,
                sizes=sizes,
                profile=d.profile,
                metric_days=metric_days,
                inventory=d.inventory,
                commitment=d.commitment,
                price_key=d.price,
                start_hour=d.start_hour,
            )
        )
        for c in self.companions(d, provider, r.rid):
            c.source_id = r.source_id
            self.add(c)
        for s in d.daily:
            self.daily(r, s, f"{where}: 'daily'")
        if d.pattern == "office_hours":
            _office_hours_samples(r)
        if d.plant is not None:
            self.plant(d.plant, r.rid, provider)
        if d.negative is not None:
            self.negative(d.negative, r.rid, provider)

    def daily(self, r: Res, s: DailySample, where: str) -> None:
        lo, hi = _span(s.start, s.stop, where)
        if (s.value is None) == (s.values is None):
            raise SampleDataError(f"{where}: give either value or values.")
        if s.values is not None:
            _require(
                s.stop is None and lo + len(s.values) <= DAYS, where, "values run past the window"
            )
            pairs = list(enumerate(s.values, start=lo))
        else:
            pairs = [(i, s.value or 0.0) for i in range(lo, hi)]
        r.samples += [(s.metric, s.stat, 86400, day(i), float(v)) for i, v in pairs]


def _office_hours(d: int, hour: int, busy: float, idle: float, peak: float) -> float:
    """A working day's hour: ``busy`` 09:00-18:00 Monday to Friday (``peak`` at 11:00),
    ``idle`` otherwise."""
    if day(d).weekday() >= 5 or not 9 <= hour < 18:
        return idle
    return peak if hour == 11 else busy


def _office_hours_samples(ws: Res) -> None:
    """A GPU workstation that works office hours: daily metrics for the window, hourly
    ones for its last 14 days."""
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


def _commitments(decls: CommitmentFile) -> Iterator[tuple[CommitmentDecl, Commitment, str]]:
    where_file = "mlcost/sample/data/commitments.toml"
    keys = {c.key for c in decls.commitment}
    for c in decls.commitment:
        where = f"{where_file}, commitment {c.key!r}"
        _one_of(c.provider, HOME, where, "provider")
        _one_of(c.account, ACCOUNTS, where, "account")
        _one_of(c.category, ("Usage", "Spend"), where, "category")
        _one_of(c.covers, keys, where, "commitment")
        yield (
            c,
            Commitment(
                c.key,
                c.provider,
                c.account,
                c.region,
                c.id,
                c.name,
                c.category,
                c.type,
                c.unit,
                to_decimal(c.quantity, f"{where}: 'quantity'"),
                to_decimal(c.rate, f"{where}: 'rate'"),
                {k: to_decimal(v, f"{where}: 'plan_rates'") for k, v in c.plan_rates.items()},
                c.service,
                c.start,
                c.term_years,
                payment=c.payment,
                upfront_rate=to_decimal(c.upfront_rate, f"{where}: 'upfront_rate'"),
                covers=c.covers,
            ),
            where,
        )


def _anomalies() -> list[dict[str, Any]]:
    where = "mlcost/sample/data/anomalies.toml"
    out: list[dict[str, Any]] = []
    for a in _anomaly_file().anomaly:
        for d in _days(a.days, f"{where}: anomaly {a.note[:30]!r}"):
            out.append(
                {
                    "date": f"{day(d):%Y-%m-%d}",
                    "scope": a.scope,
                    "scope_value": a.scope_value,
                    "direction": a.direction,
                    "note": a.note,
                    "also_visible_in": [
                        {"scope": s.scope, "scope_value": s.scope_value} for s in a.also_visible_in
                    ],
                }
            )
    return out


@dataclass(frozen=True)
class Declarations:
    """Every declaration file, read and type-checked."""

    #: Per file of :data:`RESOURCE_FILES`, its resources.
    resources: dict[str, ResourceFile]
    commitments: CommitmentFile


def read_files() -> Declarations:
    """Read every declaration file (a :class:`SampleDataError` names a bad entry)."""
    return Declarations(
        {name: read_toml(ResourceFile, name) for name in RESOURCE_FILES},
        read_toml(CommitmentFile, "commitments.toml"),
    )


def build_org(rng: np.random.Generator, files: Declarations | None = None) -> Org:
    """The organisation from its data files (``files``: as :func:`read_files` gives)."""
    files = read_files() if files is None else files
    b = OrgBuilder(rng)
    entries: list[tuple[str, ResourceDecl, str, str]] = []
    for name, f in files.resources.items():
        for d in f.resource:
            where = f"mlcost/sample/data/{name}, resource {d.key!r}"
            provider = d.provider or f.provider
            if provider is None:
                raise SampleDataError(f"{where}: no provider (give one for the file or entry).")
            b.declare(d, provider, where)
            entries.append((name, d, provider, where))
    commitments = list(_commitments(files.commitments))
    for _, d, _, where in entries:
        _one_of(d.commitment, {c.key for c, _, _ in commitments}, where, "commitment")
    # The runs use the billed resources' hours; the unbilled ones come after them.
    for name, d, provider, where in entries:
        if name != "unbilled.toml":
            b.build(d, provider, where)
    runs.build_runs(b, planted_days())
    for name, d, provider, where in entries:
        if name == "unbilled.toml":
            b.build(d, provider, where)
    for decl, c, _ in commitments:
        if decl.plant is not None:
            b.plant(decl.plant, c.cid, c.provider)
    for decl, c, _ in commitments:
        if decl.negative is not None:
            b.negative(decl.negative, c.cid, c.provider)
    return Org(b.res, [c for _, c, _ in commitments], b.runs, b.recs, b.neg, _anomalies())
