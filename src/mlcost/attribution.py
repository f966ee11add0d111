"""What each ML run cost: billing lines attributed to runs (``run_costs``).

Three methods, each row saying which:

* **tagged**: billing lines that belong to one run alone: lines tagged ``mlcost.run_id``
  and lines of a SageMaker job (its ARN is in the run's ``resource_ids``). The whole line
  goes to the run.
* **time_share**: a machine that runs come and go on. Each usage line of the machine
  (``EffectiveCost``: amortised, so commitment-covered hours are not free) is split
  into days; within a day the machine's paid seconds are the line's ``ConsumedQuantity``
  in hours (else the whole charge period). A run that held ``h`` of the machine's ``C``
  GPUs (else vCPUs, else the whole machine) for ``s`` seconds gets ``cost × s·h/C ÷ paid
  seconds``; if runs claim more than was paid, they share it pro rata. What no run used
  is the machine's **idle** cost: a row with ``run_id`` NULL. Shares are rounded down at
  the store's 12 places and idle takes the remainder, so for every line (an hour, for
  hourly billing) runs plus idle equal the billed cost exactly.
* **estimate**: days after the last billed day (billing lags): run seconds × the
  instance's on-demand price from ``prices`` × the run's share of the machine (a SageMaker
  job: its instances × its billable seconds, from the AWS connector's params). The next
  ``analyze`` after the bill arrives replaces them with time_share rows.

``idle_share`` is the part of a row's cost that bought nothing: on a run's row, the money
on idle GPUs (cost × (1 − GPU efficiency)) where utilisation is known; on an idle row,
all of it. ``gpu_efficiency`` is the run's mean GPU utilisation (0–1, to 9 places) on that machine:
MLflow system metrics of the run where ingested, else the machine's ``gpu_util_pct``
samples that overlap the run.

The SQL runs through an engine (``mlcost.engine``): on Spark the machines' days are split
on the executors, by the same functions.
"""

from __future__ import annotations

import bisect
import decimal
import functools
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pyarrow as pa

from mlcost.engine import Engine, EngineLike, apply_by_group, as_engine
from mlcost.schema import MONEY_ARROW, PROVIDER_KEY_SQL, arrow_schema
from mlcost.store import Batch, Store

METHODS = ("tagged", "time_share", "estimate")
#: Tag on a billing line naming the run it belongs to.
RUN_ID_TAG = "mlcost.run_id"
#: Tag on a run: how many vCPUs it holds of a machine without GPUs.
VCPUS_TAG = "mlcost.vcpus"
#: Resource ids of a run that are jobs billed for that run alone.
JOB_MARKERS = (
    ":training-job/",
    ":processing-job/",
    ":transform-job/",
    ":hyper-parameter-tuning-job/",
    "/customJobs/",
    "/hyperparameterTuningJobs/",
)
#: Prefix of a run's resource id given as a host name, resolved through ``resources``.
HOST_PREFIX = "host:"
#: Resource id under which run-level metrics (MLflow system metrics) are kept.
RUN_METRICS_PREFIX = "mlflow-run:"

_PLACES = Decimal("0.000000000001")
_DAY = timedelta(days=1)
_CONTEXT = decimal.Context(prec=60)


@dataclass(frozen=True)
class RunSpan:
    """A run's hold on one machine: when, and how much of it (``holding`` of ``capacity``)."""

    run_id: str
    start: datetime
    end: datetime
    holding: Decimal


@dataclass(frozen=True)
class Split:
    """One charge split between runs; ``idle`` is what no run used (plus rounding)."""

    shares: dict[str, Decimal]
    idle: Decimal


@dataclass
class AttributionResult:
    """What one attribution wrote: rows per method and the money in them."""

    rows: dict[str, int]
    attributed: Decimal
    idle: Decimal
    estimated: Decimal

    def summary(self) -> str:
        """One line for ``mlcost analyze``."""
        return (
            f"{self.attributed:,.2f} to runs, {self.idle:,.2f} idle, "
            f"{self.estimated:,.2f} estimated"
        )


def split_charge(
    cost: Decimal,
    start: datetime,
    end: datetime,
    spans: Sequence[RunSpan],
    capacity: Decimal,
    paid_seconds: Decimal | None = None,
) -> Split:
    """Split one billing charge of a machine among the runs that overlap it.

    ``paid_seconds`` is how long the machine was billed within [start, end) (the line's
    usage hours); default, the whole period. Shares round down; idle gets the remainder,
    so ``sum(shares) + idle == cost`` exactly.
    """
    period = Decimal(int((end - start).total_seconds()))
    paid = paid_seconds if paid_seconds is not None and paid_seconds > 0 else period
    used: dict[str, Decimal] = defaultdict(Decimal)
    for span in spans:
        lo, hi = max(start, span.start), min(end, span.end)
        if hi <= lo:
            continue
        seconds = Decimal(int((hi - lo).total_seconds()))
        used[span.run_id] += _CONTEXT.divide(_CONTEXT.multiply(seconds, span.holding), capacity)
    total = sum(used.values(), Decimal(0))
    denominator = max(paid, total)
    shares: dict[str, Decimal] = {}
    for run_id in sorted(used):
        share = _CONTEXT.divide(_CONTEXT.multiply(cost, used[run_id]), denominator)
        shares[run_id] = share.quantize(_PLACES, rounding=ROUND_DOWN, context=_CONTEXT)
    idle = cost - sum(shares.values(), Decimal(0))
    return Split(shares, idle)


def split_by_day(
    cost: Decimal, start: datetime, end: datetime, quantity: Decimal | None
) -> list[tuple[datetime, datetime, Decimal, Decimal | None]]:
    """A charge over several days as one piece per day, cost and quantity in proportion
    to time (rounded down, the last piece takes the remainder)."""
    if end <= start:
        return [(start, end, cost, quantity)]
    edges = [start]
    cursor = datetime.combine(start.date(), datetime.min.time()) + _DAY
    while cursor < end:
        edges.append(cursor)
        cursor += _DAY
    edges.append(end)
    if len(edges) == 2:
        return [(start, end, cost, quantity)]
    total = Decimal(int((end - start).total_seconds()))
    pieces = []
    cost_left, qty_left = cost, quantity
    for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
        if i == len(edges) - 2:
            pieces.append((lo, hi, cost_left, qty_left))
            break
        part = Decimal(int((hi - lo).total_seconds()))
        c = (cost * part / total).quantize(_PLACES, rounding=ROUND_DOWN, context=_CONTEXT)
        q = None
        if quantity is not None and qty_left is not None:
            q = (quantity * part / total).quantize(_PLACES, rounding=ROUND_DOWN, context=_CONTEXT)
            qty_left -= q
        cost_left -= c
        pieces.append((lo, hi, c, q))
    return pieces


# -- reading the store ------------------------------------------------------------------

#: Runs that name the resources they ran on (``resource_ids``: a JSON list, read here).
_RUN_RESOURCES = """
SELECT run_id, started_at, ended_at, coalesce(gpu_count, 0), tags, params, resource_ids
FROM runs
WHERE resource_ids IS NOT NULL AND started_at IS NOT NULL
"""

_MACHINES = """
SELECT resource_id, lower(name), coalesce(gpu_count, 0), coalesce(vcpus, 0),
       provider, region, instance_type
FROM resources
"""

#: The usage lines of the resources runs ran on (:data:`_RIDS`), lines tagged with a
#: known run left out (they are the run's alone).
_USAGE = """
SELECT c.ResourceId AS rid, c.ChargePeriodStart AS start_at, c.ChargePeriodEnd AS end_at,
       sum(c.EffectiveCost) AS cost,
       sum(CASE WHEN lower(c.ConsumedUnit) IN ('hours', 'hour', 'hrs', 'h')
                THEN c.ConsumedQuantity END) AS hours,
       bool_and(lower(c.ConsumedUnit) IN ('hours', 'hour', 'hrs', 'h')) AS all_hours
FROM cost AS c
WHERE c.ChargeCategory = 'Usage' AND c.ResourceId IN (SELECT rid FROM _mlcost_rids)
  AND c.EffectiveCost IS NOT NULL
  AND coalesce(json_extract_string(c.Tags, '$."mlcost.run_id"'), '')
      NOT IN (SELECT run_id FROM runs)
GROUP BY ALL
"""

_USAGE_DAYS = """
SELECT min(CAST(start_at AS DATE)), max(CAST(end_at AS DATE)) FROM _mlcost_usage
"""

#: Each usage line once per day it touches (:data:`_CALENDAR`): the machine-days
#: :func:`_attribute_machine_day` splits (a line of no length: its start's day).
_MACHINE_DAYS = """
SELECT u.rid, d.day, u.start_at, u.end_at, u.cost, u.hours, u.all_hours
FROM _mlcost_usage AS u
JOIN _mlcost_calendar AS d
  ON (CAST(d.day AS TIMESTAMP) < u.end_at
      AND CAST(d.day AS TIMESTAMP) + INTERVAL 1 DAY > u.start_at)
  OR (u.end_at <= u.start_at AND d.day = CAST(u.start_at AS DATE))
"""

_TAGGED_LINES = """
SELECT json_extract_string(Tags, '$."mlcost.run_id"') AS run_id, ResourceId,
       CAST(ChargePeriodStart AS DATE), sum(EffectiveCost)
FROM cost
WHERE ChargeCategory = 'Usage' AND Tags IS NOT NULL
  AND json_extract_string(Tags, '$."mlcost.run_id"') IN (SELECT run_id FROM runs)
GROUP BY ALL
"""

_PROVIDER = PROVIDER_KEY_SQL.format(n="ProviderName")
_LAST_BILLED = (
    f"SELECT {_PROVIDER}, max(ChargePeriodEnd) FROM cost "  # noqa: S608 (schema.py's constant)
    "WHERE ChargeCategory = 'Usage' GROUP BY 1"
)

_PRICES = """
SELECT provider, region, instance_type, min(price_per_hour)
FROM prices WHERE instance_type IS NOT NULL AND price_per_hour IS NOT NULL
GROUP BY ALL
"""

_GPU_UTIL = """
SELECT s.run_id, s.rid, avg(m.value)
FROM _mlcost_spans AS s
JOIN metrics AS m
  ON m.resource_id = s.rid AND m.metric = 'gpu_util_pct' AND m.ts < s.end_at
 AND m.ts + to_seconds(coalesce(m.period_s, 0)) > s.start_at
GROUP BY ALL
"""

_RUN_GPU_UTIL = """
SELECT resource_id, avg(value) FROM metrics
WHERE resource_id LIKE $prefix AND metric = 'gpu_util_pct'
GROUP BY ALL
"""

#: The registered tables the statements above read.
_RIDS, _SPANS, _CALENDAR = "_mlcost_rids", "_mlcost_spans", "_mlcost_calendar"
_USAGE_TABLE = "_mlcost_usage"
#: What attributing one machine-day returns: the runs' (and idle's) parts of its cost,
#: ``tagged`` for a job's lines, ``time_share`` for a shared machine's.
_PARTS = pa.schema(
    [
        ("run_id", pa.string()),
        ("resource_id", pa.string()),
        ("day", pa.date32()),
        ("cost", MONEY_ARROW),
        ("method", pa.string()),
    ]
)


@dataclass(frozen=True)
class _Machine:
    gpus: int
    vcpus: int
    provider: str | None
    region: str | None
    instance_type: str | None

    @property
    def capacity(self) -> Decimal:
        return Decimal(self.gpus or self.vcpus or 1)


@dataclass(frozen=True)
class _RunOn:
    run_id: str
    start: datetime
    end: datetime
    gpus: int
    tags: dict[str, Any]
    params: dict[str, Any]
    resources: int


def _json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _holding(run: _RunOn, machine: _Machine) -> Decimal:
    """How much of the machine the run holds, in the machine's capacity unit."""
    capacity = machine.capacity
    if machine.gpus and run.gpus:
        return min(Decimal(run.gpus) / Decimal(run.resources), capacity)
    vcpus = run.tags.get(VCPUS_TAG)
    if not machine.gpus and machine.vcpus and vcpus:
        try:
            return min(Decimal(str(vcpus)), capacity)
        except decimal.InvalidOperation:
            pass
    return capacity


def _is_job(resource_id: str) -> bool:
    return any(marker in resource_id for marker in JOB_MARKERS)


@dataclass(frozen=True)
class _Plan:
    """How one resource's cost is split: a job's lines go whole to its ``owners``; a
    shared machine's among the runs it ran (``spans``, by start) by ``capacity``."""

    job: bool
    owners: tuple[str, ...]
    spans: tuple[RunSpan, ...]
    capacity: Decimal

    @property
    def starts(self) -> list[datetime]:
        return [s.start for s in self.spans]

    @property
    def longest(self) -> timedelta:
        return max((s.end - s.start for s in self.spans), default=timedelta(0))


def _plan(rid: str, runs: Sequence[_RunOn], machine: _Machine) -> _Plan:
    if _is_job(rid):
        return _Plan(True, tuple(sorted({r.run_id for r in runs})), (), machine.capacity)
    by_run = {r.run_id: RunSpan(r.run_id, r.start, r.end, _holding(r, machine)) for r in runs}
    spans = tuple(sorted(by_run.values(), key=lambda s: (s.start, s.run_id)))
    return _Plan(False, (), spans, machine.capacity)


#: The columns of a machine-day's rows (:data:`_MACHINE_DAYS`).
_MACHINE_DAY_COLUMNS = ("rid", "day", "start_at", "end_at", "cost", "hours", "all_hours")


def _attribute_machine_day(group: pa.Table, *, plans: Mapping[str, _Plan]) -> pa.Table:
    """One machine's cost on one day split among runs (see :data:`_PARTS`): each of its
    lines' part on that day (:func:`split_by_day`), a job's equally among the runs that
    name it, a shared machine's by :func:`split_charge`. The group function of
    :func:`compute_run_costs`, on any engine; exact: the parts add up to the day's cost."""
    rows = sorted(
        zip(*(group.column(c).to_pylist() for c in _MACHINE_DAY_COLUMNS), strict=True),
        key=lambda r: (r[2], r[3]),
    )
    rid, day = rows[0][0], rows[0][1]
    plan = plans[rid]
    starts, longest = plan.starts, plan.longest
    parts: dict[str | None, Decimal] = defaultdict(Decimal)
    for _, _, start, end, cost, hours, all_hours in rows:
        for lo, hi, part, q in split_by_day(cost, start, end, hours if all_hours else None):
            if lo.date() != day:
                continue
            if plan.job:
                # A job named by several runs (rare): equal parts, the last takes the rest.
                owners = plan.owners
                share = (part / len(owners)).quantize(_PLACES, ROUND_DOWN, context=_CONTEXT)
                for i, run_id in enumerate(owners):
                    final = i == len(owners) - 1
                    parts[run_id] += part - share * (len(owners) - 1) if final else share
                continue
            first = bisect.bisect_left(starts, lo - longest)
            last = bisect.bisect_left(starts, hi)
            near = [s for s in plan.spans[first:last] if s.end > lo]
            paid = q * 3600 if q is not None else None
            split = split_charge(part, lo, hi, near, plan.capacity, paid)
            for run_id, share in split.shares.items():
                parts[run_id] += share
            parts[None] += split.idle
    method = "tagged" if plan.job else "time_share"
    return pa.Table.from_pylist(
        [
            {"run_id": run_id, "resource_id": rid, "day": day, "cost": cost, "method": method}
            for run_id, cost in parts.items()
        ],
        schema=_PARTS,
    )


def _attribute_machine(group: pa.Table, *, plans: Mapping[str, _Plan]) -> pa.Table:
    """One machine's days, each by :func:`_attribute_machine_day`: the group function of
    :func:`compute_run_costs` (a group per machine, not per machine-day: a group's fixed
    cost on Spark outweighs a day's work)."""
    day = functools.partial(_attribute_machine_day, plans=plans)
    return apply_by_group(group, ["day"], day, _PARTS)


def _resource_ids(text: str | None) -> list[str]:
    """A run's ``resource_ids`` (a JSON list) as text ids."""
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    if not isinstance(value, list):
        return []
    return [v if isinstance(v, str) else json.dumps(v) for v in value if v is not None]


def compute_run_costs(con: EngineLike, now: datetime | None = None) -> dict[str, pa.Table]:
    """Every run_costs row, per method, from the store's runs, cost, resources, prices
    and metrics (read-only), on the store's connection or an engine: the usage lines are
    split per machine-day by :func:`_attribute_machine_day` (on Spark, on the executors);
    runs, machines and the parts come to this process."""
    engine = as_engine(con)
    machines: dict[str, _Machine] = {}
    by_host: dict[str, str] = {}
    for rid, name, gpus, vcpus, provider, region, itype in engine.rows(_MACHINES):
        machines[rid] = _Machine(int(gpus), int(vcpus), provider, region, itype)
        if name:
            by_host.setdefault(name, rid)

    runs_on: dict[str, list[_RunOn]] = defaultdict(list)
    raw = [
        (run_id, started, ended, gpus, tags, params, rid)
        for run_id, started, ended, gpus, tags, params, ids in engine.rows(_RUN_RESOURCES)
        for rid in _resource_ids(ids)
    ]
    counts: dict[str, int] = defaultdict(int)
    for row in raw:
        counts[row[0]] += 1
    for run_id, started, ended, gpus, tags, params, rid in raw:
        if rid.startswith(HOST_PREFIX):
            rid = by_host.get(rid[len(HOST_PREFIX) :].lower(), rid)
        end = ended or now or datetime.utcnow()
        if end <= started:
            continue
        runs_on[rid].append(
            _RunOn(run_id, started, end, int(gpus), _json(tags), _json(params), counts[run_id])
        )

    rows: dict[str, list[dict[str, Any]]] = {m: [] for m in METHODS}
    efficiency = _Efficiency(engine, runs_on)
    no_machine = _Machine(0, 0, None, None, None)

    # tagged: lines tagged with the run, and job resources (whole lines).
    tagged_totals: dict[tuple[str, str, date], Decimal] = defaultdict(Decimal)
    for run_id, rid, day, cost in engine.rows(_TAGGED_LINES):
        tagged_totals[(run_id, rid, day)] += cost
    parts = _machine_day_parts(
        engine,
        {rid: _plan(rid, runs, machines.get(rid, no_machine)) for rid, runs in runs_on.items()},
    )
    shared: list[dict[str, Any]] = []
    for part in parts:
        if part["method"] == "tagged":
            tagged_totals[(part["run_id"], part["resource_id"], part["day"])] += part["cost"]
        else:
            shared.append(part)
    for (run_id, rid, day), cost in sorted(tagged_totals.items()):
        eff = efficiency.of(run_id, rid)
        rows["tagged"].append(_row(run_id, rid, day, cost, "tagged", eff))

    # time_share: machines that runs share over time.
    billed_days: dict[str, set[date]] = defaultdict(set)
    shared.sort(key=lambda p: (p["resource_id"], p["day"], p["run_id"] or ""))
    for part in shared:
        rid, run_id, day, cost = part["resource_id"], part["run_id"], part["day"], part["cost"]
        billed_days[rid].add(day)
        if run_id is None:
            rows["time_share"].append(_row(None, rid, day, cost, "time_share", None))
            continue
        eff = efficiency.of(run_id, rid) if machines.get(rid, no_machine).gpus else None
        rows["time_share"].append(_row(run_id, rid, day, cost, "time_share", eff))

    # estimate: after the last billed day of the run's provider.
    last_billed = dict(engine.rows(_LAST_BILLED))
    prices = {(p, r, t): price for p, r, t, price in engine.rows(_PRICES)}
    for rid in sorted(runs_on):
        for run in runs_on[rid]:
            rate, share = _estimate_rate(rid, run, machines.get(rid), prices)
            if rate is None:
                continue
            provider = machines[rid].provider if rid in machines else "aws"
            cutoff = last_billed.get(provider)
            start = max(run.start, cutoff) if cutoff else run.start
            if start >= run.end:
                continue
            for lo, hi, _c, _q in split_by_day(Decimal(0), start, run.end, None):
                if lo.date() in billed_days[rid]:
                    continue
                seconds = Decimal(int((hi - lo).total_seconds()))
                cost = (rate * share * seconds / 3600).quantize(_PLACES, context=_CONTEXT)
                eff = efficiency.of(run.run_id, rid)
                rows["estimate"].append(_row(run.run_id, rid, lo.date(), cost, "estimate", eff))
    schema = arrow_schema("run_costs")
    return {m: pa.Table.from_pylist(rows[m], schema=schema) for m in METHODS}


def _machine_day_parts(engine: Engine, plans: Mapping[str, _Plan]) -> list[dict[str, Any]]:
    """The parts of every machine-day's cost of the ``plans``' resources (:data:`_PARTS`
    rows), from :func:`_attribute_machine_day` run once per machine-day."""
    rids = pa.table({"rid": pa.array(sorted(plans), pa.string())})
    with engine.registered(_RIDS, rids):
        engine.materialise(_USAGE_TABLE, _USAGE)
        first, last = engine.rows(_USAGE_DAYS)[0]
        if first is None:
            return []
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        with engine.registered(_CALENDAR, pa.table({"day": pa.array(days, pa.date32())})):
            attribute = functools.partial(_attribute_machine, plans=plans)
            parts = engine.group_apply(_MACHINE_DAYS, ["rid"], attribute, _PARTS)
    return parts.to_pylist()


def _estimate_rate(
    rid: str, run: _RunOn, machine: _Machine | None, prices: dict[tuple[str, str, str], Decimal]
) -> tuple[Decimal | None, Decimal]:
    """(on-demand price per hour, the run's share of it) for a run on a resource."""
    if machine is not None and machine.instance_type:
        price = prices.get((machine.provider or "", machine.region or "", machine.instance_type))
        return price, _holding(run, machine) / machine.capacity
    if _is_job(rid) and rid.startswith("arn:aws:sagemaker:"):
        # SageMaker bills BillableTimeInSeconds per instance (less than the wall time on
        # managed spot): the share is instances x billable / wall seconds.
        region = rid.split(":")[3]
        price = prices.get(("aws", region, str(run.params.get("instance_type", ""))))
        wall = Decimal(int((run.end - run.start).total_seconds()))
        try:
            count = Decimal(str(run.params.get("instance_count", 1)))
            billable = Decimal(str(run.params.get("billable_seconds") or wall))
        except decimal.InvalidOperation:
            return price, Decimal(1)
        return price, count * min(billable, wall) / wall
    return None, Decimal(0)


class _Efficiency:
    """Runs' mean GPU utilisation (0-1) per machine, where metrics say: read in two
    queries (run-level metrics, then machine samples overlapping each run)."""

    def __init__(self, engine: Engine, runs_on: dict[str, list[_RunOn]]) -> None:
        self.by_run: dict[str, float] = {
            run_id[len(RUN_METRICS_PREFIX) :]: value
            for run_id, value in engine.rows(_RUN_GPU_UTIL, {"prefix": RUN_METRICS_PREFIX + "%"})
            if value is not None
        }
        spans = [(r.run_id, rid, r.start, r.end) for rid, runs in runs_on.items() for r in runs]
        table = pa.table(
            {
                "run_id": pa.array([s[0] for s in spans], pa.string()),
                "rid": pa.array([s[1] for s in spans], pa.string()),
                "start_at": pa.array([s[2] for s in spans], pa.timestamp("us")),
                "end_at": pa.array([s[3] for s in spans], pa.timestamp("us")),
            }
        )
        with engine.registered(_SPANS, table):
            found = engine.rows(_GPU_UTIL)
        self.by_span = {(run_id, rid): value for run_id, rid, value in found if value is not None}

    def of(self, run_id: str, rid: str) -> float | None:
        value = self.by_run.get(run_id, self.by_span.get((run_id, rid)))
        # to 9 places: a mean of floats differs in its last digits between engines (the
        # order of the sum), so unrounded the engines could differ in idle_share's last place
        return None if value is None else round(max(0.0, min(1.0, value / 100)), 9)


def _row(
    run_id: str | None,
    rid: str,
    day: date,
    cost: Decimal,
    method: str,
    eff: float | None,
) -> dict[str, Any]:
    if run_id is None:
        idle: Decimal | None = cost
    elif eff is not None:
        idle = (cost * Decimal(1 - eff)).quantize(_PLACES, context=_CONTEXT)
    else:
        idle = None
    return {
        "run_id": run_id,
        "resource_id": rid,
        "day": day,
        "cost": cost,
        "method": method,
        "idle_share": idle,
        "gpu_efficiency": eff,
    }


def analyze_run_costs(store: Store, *, engine: Engine | None = None) -> AttributionResult:
    """Recompute run_costs from the store (or on ``engine``, its tables the store's input:
    ``--engine spark``) and replace every method's rows in one load."""
    if engine is None:
        with store.reader() as con:
            tables = compute_run_costs(con)
    else:
        tables = compute_run_costs(engine)
    batches: Iterable[Batch] = [
        Batch("run_costs", tables[m], partition={"method": m}, label=f"run_costs:{m}")
        for m in METHODS
    ]
    store.load(batches)
    return _result(tables)


def _result(tables: dict[str, pa.Table]) -> AttributionResult:
    def total(rows: list[dict[str, Any]]) -> Decimal:
        return sum((r["cost"] for r in rows), Decimal(0))

    share = tables["time_share"].to_pylist()
    return AttributionResult(
        rows={m: t.num_rows for m, t in tables.items()},
        attributed=total(tables["tagged"].to_pylist()) + total([r for r in share if r["run_id"]]),
        idle=total([r for r in share if r["run_id"] is None]),
        estimated=total(tables["estimate"].to_pylist()),
    )
