"""A cost-aware leaderboard: experiments and runs with what they cost (``run_costs``).

* A run's **cost** is the sum of its ``run_costs`` rows (tagged, time_share, estimate);
  a sweep parent's cost is its own plus its trials'.
* **GPU-hours** paid: the GPUs a run held × its hours; used: paid × GPU efficiency (mean
  utilisation); **idle GPU cost**: the money of its rows spent on idle GPUs.
* **cost per point**: cost ÷ the chosen metric's value (the run's latest value).
* **pareto**: no other run of the experiment is at least as good on both cost (lower)
  and metric (higher, or lower with ``maximize=False``) and better on one.
* **idle shared**: the run's part of its machines' idle cost (:func:`idle_shared`);
  cost + idle shared is what the run cost with the machine's empty hours loaded on.
* **cost to target**: walking a sweep's (or experiment's) trials in the order they
  ended, the cost accrued until the best metric so far first reached the target.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

import duckdb
import pyarrow as pa

from mlcost import vocabulary
from mlcost.schema import MONEY_ARROW

_RUNS = """
WITH costs AS (
    SELECT run_id, sum(cost) AS cost, sum(idle_share) AS idle_gpu_cost,
           avg(gpu_efficiency) AS gpu_efficiency
    FROM run_costs
    WHERE run_id IS NOT NULL
      -- $resource_ids: only the cost lines of those resources (NULL: all)
      AND ($resource_ids IS NULL
           OR resource_id IN (SELECT unnest(CAST($resource_ids AS VARCHAR[]))))
    GROUP BY run_id
)
SELECT r.experiment, r.run_id, r.parent_run_id, r.name, r.status, r.source, r.started_at,
       r.ended_at, coalesce(r.gpu_count, 0) AS gpus, r.metrics, c.cost, c.idle_gpu_cost,
       c.gpu_efficiency
FROM runs AS r LEFT JOIN costs AS c USING (run_id)
WHERE (len($experiments) = 0 OR list_contains($experiments, r.experiment))
  AND (CAST($since AS TIMESTAMP) IS NULL OR r.started_at >= $since)
  AND (CAST($until AS TIMESTAMP) IS NULL OR r.started_at < $until)
  -- narrowed to some resources: the runs with a cost line on them, and their sweeps
  AND ($resource_ids IS NULL OR c.run_id IS NOT NULL
       OR r.run_id IN (SELECT t.parent_run_id FROM runs AS t JOIN costs USING (run_id)))
ORDER BY r.experiment, r.started_at, r.run_id
"""

_SHARES = """
SELECT run_id, resource_id, day, cost, method FROM run_costs
WHERE method = 'time_share' AND cost <> 0
  AND ($resource_ids IS NULL
       OR resource_id IN (SELECT unnest(CAST($resource_ids AS VARCHAR[]))))
"""

RUN_COLUMNS = (
    ("experiment", pa.string()),
    ("run_id", pa.string()),
    ("parent_run_id", pa.string()),
    ("name", pa.string()),
    ("status", pa.string()),
    ("source", pa.string()),
    ("started_at", pa.timestamp("us")),
    ("trials", pa.int64()),
    ("cost", MONEY_ARROW),
    ("gpu_hours", pa.float64()),
    ("used_gpu_hours", pa.float64()),
    ("gpu_efficiency", pa.float64()),
    ("idle_gpu_cost", MONEY_ARROW),
    ("idle_shared", MONEY_ARROW),
    ("metric_name", pa.string()),
    ("metric", pa.float64()),
    ("cost_per_point", MONEY_ARROW),
    ("pareto", pa.bool_()),
    ("cost_to_target", MONEY_ARROW),
)
#: The run columns a terminal shows (exports carry all of RUN_COLUMNS).
RUN_TERMINAL_COLUMNS = (
    "name",
    "status",
    "trials",
    "cost",
    "gpu_hours",
    "gpu_efficiency",
    "metric",
    "cost_per_point",
    "pareto",
    "cost_to_target",
)
_Q = Decimal("0.000000000001")


def _hours(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None or end <= start:
        return 0.0
    return (end - start).total_seconds() / 3600


def _metric(metrics: str | None, name: str | None) -> tuple[str | None, float | None]:
    """The run's metric and its value: ``name``'s; without a name, its only metric if it
    has one."""
    if not metrics:
        return name, None
    values = json.loads(metrics)
    if not name:
        numbers = [(k, v) for k, v in values.items() if isinstance(v, int | float)]
        return (numbers[0][0], float(numbers[0][1])) if len(numbers) == 1 else (None, None)
    value = values.get(name)
    return name, (float(value) if isinstance(value, int | float) else None)


def run_table(
    con: duckdb.DuckDBPyConnection,
    *,
    experiments: Sequence[str] = (),
    metric: str | None = None,
    maximize: bool = True,
    target: float | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    resource_ids: Sequence[str] | None = None,
) -> pa.Table:
    """One row per run (sweep parents summing their trials), in RUN_COLUMNS.

    ``since``/``until`` keep the runs started in that time; ``resource_ids`` counts only
    the cost lines of those resources (a provider's, a team's) and keeps the runs that
    have one, with their sweeps."""
    experiments = vocabulary.resolve(
        "experiment",
        experiments,
        vocabulary.experiments(con),
        hint="`mlcost experiments` lists them.",
    )
    if metric:
        (metric,) = vocabulary.resolve(
            "metric", metric, vocabulary.metrics(con, experiments), split=False,
            hint="The metrics are the numeric ones the experiments' runs report.",
        )  # fmt: skip
    rids = list(resource_ids) if resource_ids is not None else None
    found = con.execute(
        _RUNS,
        {"experiments": list(experiments), "since": since, "until": until, "resource_ids": rids},
    ).fetchall()
    rows: list[dict[str, Any]] = []
    for (
        exp,
        run_id,
        parent,
        name,
        status,
        source,
        start,
        end,
        gpus,
        metrics,
        cost,
        idle,
        eff,
    ) in found:
        paid = gpus * _hours(start, end)
        metric_name, metric_value = _metric(metrics, metric)
        rows.append(
            {
                "experiment": exp,
                "run_id": run_id,
                "parent_run_id": parent,
                "name": name,
                "status": status,
                "source": source,
                "started_at": start,
                "ended_at": end,
                "trials": 0,
                "cost": cost if cost is not None else Decimal(0),
                "gpu_hours": paid,
                "used_gpu_hours": paid * eff if eff is not None else None,
                "gpu_efficiency": eff,
                "idle_gpu_cost": idle,
                "metric_name": metric_name if metric_value is not None else metric,
                "metric": metric_value,
            }
        )
    by_id = {r["run_id"]: r for r in rows}
    for run_id, shared in idle_shared(con, rids).items():
        if run_id in by_id:
            by_id[run_id]["idle_shared"] = shared
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["parent_run_id"] in by_id:
            children[r["parent_run_id"]].append(r)
    for parent_id, trials in children.items():
        parent = by_id[parent_id]
        parent["trials"] = len(trials)
        parent["cost"] += sum((t["cost"] for t in trials), Decimal(0))
        parent["gpu_hours"] += sum(t["gpu_hours"] for t in trials)
        used = [t["used_gpu_hours"] for t in trials if t["used_gpu_hours"] is not None]
        if used:
            parent["used_gpu_hours"] = (parent["used_gpu_hours"] or 0.0) + sum(used)
            known = sum(t["gpu_hours"] for t in trials if t["used_gpu_hours"] is not None)
            parent["gpu_efficiency"] = sum(used) / known if known else None
        loaded = [t["idle_shared"] for t in trials if t.get("idle_shared") is not None]
        if loaded:
            parent["idle_shared"] = (parent.get("idle_shared") or Decimal(0)) + sum(loaded)
        idle = [t["idle_gpu_cost"] for t in trials if t["idle_gpu_cost"] is not None]
        if idle:
            parent["idle_gpu_cost"] = (parent["idle_gpu_cost"] or Decimal(0)) + sum(idle)
        if target is not None:
            parent["cost_to_target"] = cost_to_reach(trials, target, maximize=maximize)
        scored = [t for t in trials if t["metric"] is not None]
        if parent["metric"] is None and scored:
            best = (max if maximize else min)(scored, key=lambda t: t["metric"])
            parent["metric"], parent["metric_name"] = best["metric"], best["metric_name"]
    for r in rows:
        m = r["metric"]
        r["cost_per_point"] = (r["cost"] / Decimal(repr(m))).quantize(_Q) if m else None
    _mark_pareto([r for r in rows if not r["trials"]], maximize)
    names = [n for n, _ in RUN_COLUMNS]
    schema = pa.schema(list(RUN_COLUMNS))
    return pa.Table.from_pylist([{k: r.get(k) for k in names} for r in rows], schema=schema)


def idle_shared(
    con: duckdb.DuckDBPyConnection, resource_ids: Sequence[str] | None = None
) -> dict[str, Decimal]:
    """Machines' idle cost shared back: each machine-day's idle row split among the runs
    of that day in proportion to their cost (exact: rounded down, the last run of the day
    takes the remainder). Idle on a day without runs stays unshared. ``resource_ids``:
    only those machines."""
    by_day: dict[tuple[str, Any], list[tuple[str | None, Decimal]]] = defaultdict(list)
    params = {"resource_ids": list(resource_ids) if resource_ids is not None else None}
    for run_id, rid, day, cost, _m in con.execute(_SHARES, params).fetchall():
        by_day[(rid, day)].append((run_id, cost))
    shared: dict[str, Decimal] = defaultdict(Decimal)
    for rows in by_day.values():
        idle = sum((c for r, c in rows if r is None), Decimal(0))
        runs = sorted((r, c) for r, c in rows if r is not None)
        used = sum((c for _r, c in runs), Decimal(0))
        if not runs or not idle or not used:
            continue
        left = idle
        for i, (run_id, cost) in enumerate(runs):
            part = left if i == len(runs) - 1 else (idle * cost / used).quantize(_Q, ROUND_DOWN)
            shared[run_id] += part
            left -= part
    return dict(shared)


def cost_to_reach(
    trials: Sequence[dict[str, Any]], target: float, *, maximize: bool = True
) -> Decimal | None:
    """Cost accrued, trials in the order they ended, until the best metric so far first
    reached ``target``; None if it never did."""
    spent = Decimal(0)
    for t in sorted(trials, key=lambda t: (t["ended_at"] or datetime.max, t["run_id"])):
        spent += t["cost"]
        m = t["metric"]
        if m is not None and (m >= target if maximize else m <= target):
            return spent
    return None


def _mark_pareto(rows: Sequence[dict[str, Any]], maximize: bool) -> None:
    """Per experiment, flag the runs no other run beats on both cost and metric."""
    by_exp: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        r["pareto"] = None if r["metric"] is None else False
        if r["metric"] is not None:
            by_exp[r["experiment"]].append(r)
    sign = 1 if maximize else -1
    for runs in by_exp.values():
        for r in runs:
            r["pareto"] = not any(
                o["cost"] <= r["cost"]
                and sign * o["metric"] >= sign * r["metric"]
                and (o["cost"] < r["cost"] or sign * o["metric"] > sign * r["metric"])
                for o in runs
            )


def experiment_table(runs: pa.Table, *, maximize: bool = True) -> pa.Table:
    """Per experiment: runs, cost, GPU-hours, efficiency, idle GPU cost, best metric."""
    acc: dict[str, dict[str, Any]] = {}
    for r in runs.to_pylist():
        if r["trials"]:
            continue  # a sweep parent's figures are its trials'
        e = acc.setdefault(
            r["experiment"],
            {
                "experiment": r["experiment"],
                "runs": 0,
                "cost": Decimal(0),
                "gpu_hours": 0.0,
                "used_gpu_hours": None,
                "idle_gpu_cost": None,
                "metric_names": set(),
                "best_metric": None,
            },
        )
        e["runs"] += 1
        e["cost"] += r["cost"]
        e["gpu_hours"] += r["gpu_hours"]
        if r["used_gpu_hours"] is not None:
            e["used_gpu_hours"] = (e["used_gpu_hours"] or 0.0) + r["used_gpu_hours"]
        if r["idle_gpu_cost"] is not None:
            e["idle_gpu_cost"] = (e["idle_gpu_cost"] or Decimal(0)) + r["idle_gpu_cost"]
        m = r["metric"]
        if m is not None:
            e["metric_names"].add(r["metric_name"])
        if m is not None and (
            e["best_metric"] is None or (m > e["best_metric"] if maximize else m < e["best_metric"])
        ):
            e["best_metric"] = m
    for e in acc.values():
        # the metric its best_metric is a value of: one name, or the runs disagree
        names = sorted(n for n in e.pop("metric_names") if n)
        e["metric"] = names[0] if len(names) == 1 else ("(several)" if names else None)
    rows = sorted(acc.values(), key=lambda e: (-e["cost"], e["experiment"]))
    schema = pa.schema(
        [
            ("experiment", pa.string()),
            ("runs", pa.int64()),
            ("cost", MONEY_ARROW),
            ("gpu_hours", pa.float64()),
            ("used_gpu_hours", pa.float64()),
            ("idle_gpu_cost", MONEY_ARROW),
            ("metric", pa.string()),
            ("best_metric", pa.float64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def write_back_tags(runs: pa.Table) -> dict[str, dict[str, str]]:
    """The MLflow tags ``--write-back`` sets per run: cost, GPU-hours, efficiency."""
    tags: dict[str, dict[str, str]] = {}
    for r in runs.to_pylist():
        if r["source"] != "mlflow":
            continue
        entry = {
            "mlcost.cost": f"{r['cost'].quantize(Decimal('0.01'))}",
            "mlcost.gpu_hours": f"{r['gpu_hours']:.2f}",
        }
        if r["gpu_efficiency"] is not None:
            entry["mlcost.gpu_efficiency"] = f"{r['gpu_efficiency']:.3f}"
        tags[r["run_id"]] = entry
    return tags
