"""Filtered read-side figures for the dashboard: spend this month, trends, freshness,
findings and savings, anomalies with their series and band, commitments, experiments
and sweeps.

The dashboard computes nothing itself; every figure it shows comes from here, and these
functions pass the filters (as parameters) to the library's own queries: ``summary``,
``recommendations``, ``anomalies``, ``commitments`` and ``experiments``. Sums are exact
decimals from DuckDB; amounts in different currencies are never added together.
"""

from __future__ import annotations

import calendar
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlcost import anomalies as anomaly_lib
from mlcost import commitments, recommendations, vocabulary
from mlcost import experiments as experiment_lib
from mlcost.config import ANOMALY_SENSITIVITIES, AnomalySettings
from mlcost.engine import EngineLike, as_engine
from mlcost.errors import InputError
from mlcost.filters import ACCOUNT_ID, PROVIDER_KEY, Filters, cost_where
from mlcost.rollups import spend_source
from mlcost.store import Store
from mlcost.summary import ACCOUNT_NAME, DIMENSIONS, data_end

__all__ = ["Filters", "cost_where"]

TREND_BY = ("provider", "service", "account")

#: The ``loads`` log per table and source (:func:`freshness`).
FRESHNESS = """
SELECT "table", coalesce(source, '(all)') AS source, max(loaded_at) AS last_loaded,
       arg_max(rows_in, loaded_at) AS rows_last_load, count(*) AS loads
FROM loads GROUP BY "table", coalesce(source, '(all)') ORDER BY 1, 2
"""
#: A resource's samples since $since (all when NULL) (:func:`resource_metrics`).
RESOURCE_METRICS = (
    "SELECT ts, metric || ' (' || stat || ')' AS series, value, metric FROM metrics "
    "WHERE resource_id = $resource_id AND (CAST($since AS TIMESTAMP) IS NULL OR ts >= $since) "
    "ORDER BY metric, stat, ts"
)
#: The months with usage in the range (:func:`coverage_over_time`).
USAGE_MONTHS = (
    "SELECT DISTINCT date_trunc('month', ChargePeriodStart) FROM cost "
    "WHERE ChargeCategory = 'Usage' AND ($since IS NULL OR ChargePeriodStart >= $since) "
    "AND ($until IS NULL OR ChargePeriodStart < $until) ORDER BY 1"
)
#: The keys of an experiment's runs' metrics whose values are numbers (:func:`metric_names`).
METRIC_NAMES = (
    "SELECT DISTINCT k FROM (SELECT unnest(json_keys(metrics)) AS k, metrics FROM runs "
    "WHERE experiment = $experiment AND metrics IS NOT NULL) AS m "
    """WHERE json_type(metrics, '$."' || replace(k, '"', '\\"') || '"') """
    "IN ('DOUBLE', 'UBIGINT', 'BIGINT') ORDER BY k"
)


#: The statements of :func:`filter_options` ({table}: cost or a roll-up), in our dialect.
OPTION_PROVIDERS = (
    f"SELECT DISTINCT {PROVIDER_KEY} FROM {{table}} WHERE ProviderName IS NOT NULL ORDER BY 1"  # noqa: S608
)
OPTION_ACCOUNTS = (
    f"SELECT DISTINCT {ACCOUNT_ID} AS a FROM {{table}} WHERE {ACCOUNT_ID} IS NOT NULL "  # noqa: S608
    "ORDER BY 1"
)
OPTION_TAGS = (
    "SELECT DISTINCT {tag} AS v FROM {table} WHERE {where} AND {tag} IS NOT NULL ORDER BY 1"
)


def filter_options(con: EngineLike, tag_key: str = "team") -> dict[str, list[str]]:
    """The values each filter can take: providers, accounts and the tag's values (from
    the daily roll-ups where they hold the tag)."""
    engine = as_engine(con)
    every = spend_source(engine)
    tagged = spend_source(engine, by_tag=tag_key)
    providers = engine.rows(OPTION_PROVIDERS.format(table=every.table))
    accounts = engine.rows(OPTION_ACCOUNTS.format(table=every.table))
    tags = engine.rows(
        OPTION_TAGS.format(tag=tagged.tag, table=tagged.table, where=tagged.where),
        tagged.params,
    )
    return {
        "providers": [r[0] for r in providers],
        "accounts": [r[0] for r in accounts],
        "tags": [r[0] for r in tags],
    }


def month_spend(con: EngineLike, filters: Filters = Filters()) -> pa.Table:
    """Per currency: effective cost in the data's last month and the month before, and a
    run-rate forecast to the end of that month (month to date ÷ days covered × days in it).

    "This month" is the month the billing data ends in (the data may lag the calendar).
    """
    engine = as_engine(con)
    end = data_end(engine)
    schema = pa.schema(
        [
            ("month", pa.string()),
            ("currency", pa.string()),
            ("this_month", pa.decimal128(38, 12)),
            ("last_month", pa.decimal128(38, 12)),
            ("days_covered", pa.int64()),
            ("days_in_month", pa.int64()),
            ("forecast", pa.decimal128(38, 12)),
        ]
    )
    if end is None:
        return schema.empty_table()
    last_day = (end - timedelta(microseconds=1)).date()
    start = last_day.replace(day=1)
    previous = (start - timedelta(days=1)).replace(day=1)
    days_in = calendar.monthrange(start.year, start.month)[1]
    covered = last_day.day
    source = spend_source(engine, filters)
    rows = engine.rows(
        f"""
        SELECT BillingCurrency,
               coalesce(sum(EffectiveCost) FILTER (WHERE ChargePeriodStart >= $start), 0),
               coalesce(sum(EffectiveCost) FILTER (WHERE ChargePeriodStart < $start), 0)
        FROM {source.table}
        WHERE {source.where} AND ChargePeriodStart >= $previous AND ChargePeriodStart < $next
        GROUP BY 1 ORDER BY 1
        """,  # noqa: S608 - the WHERE is built from constants; values are parameters
        {
            **source.params,
            "start": datetime.combine(start, datetime.min.time()),
            "previous": datetime.combine(previous, datetime.min.time()),
            "next": datetime.combine(start + timedelta(days=days_in), datetime.min.time()),
        },
    )

    month = start.strftime("%Y-%m")
    out = [
        {
            "month": month,
            "currency": currency,
            "this_month": this,
            "last_month": last,
            "days_covered": covered,
            "days_in_month": days_in,
            "forecast": _money(this * days_in / covered),
        }
        for currency, this, last in rows
    ]
    return pa.Table.from_pylist(out, schema=schema)


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.000000000001"))


def spend_trend(
    con: EngineLike,
    by: str,
    filters: Filters = Filters(),
    *,
    grain: str = "day",
    top: int = 8,
) -> pa.Table:
    """Effective cost per period (``day`` or ``month``) and value of ``by`` (provider,
    service, account or ``tag:<key>``); values past the ``top`` largest are ``(other)``.
    Read from the daily roll-ups where the filters allow (``mlcost.rollups``)."""
    engine = as_engine(con)
    by_tag = by[4:] if by.startswith("tag:") else None
    source = spend_source(engine, filters, by_tag=by_tag)
    if by_tag is not None:
        expression = source.tag
    elif by == "account":
        # the name on the bill, with the id (names are not unique across providers)
        expression = f"coalesce({ACCOUNT_NAME} || ' (' || {ACCOUNT_ID} || ')', {ACCOUNT_ID})"
    elif by in TREND_BY:
        expression = DIMENSIONS[by]
    else:
        raise InputError(
            f"Cannot show a trend by {by!r}; choose provider, service, account or tag:KEY."
        )
    if grain not in ("day", "month"):
        raise InputError(f"Unknown grain {grain!r}; choose day or month.")
    sql = f"""
        WITH c AS (
            SELECT CAST(date_trunc('{grain}', ChargePeriodStart) AS DATE) AS period,
                   coalesce(CAST({expression} AS VARCHAR), '(none)') AS value,
                   BillingCurrency AS currency, EffectiveCost
            FROM {source.table} WHERE {source.where} AND ChargeCategory = 'Usage'
        ),
        ranked AS (
            SELECT value, row_number() OVER (ORDER BY sum(EffectiveCost) DESC, value) AS n
            FROM c GROUP BY value
        )
        SELECT period, CASE WHEN r.n <= $top THEN c.value ELSE '(other)' END AS value,
               currency, sum(EffectiveCost) AS effective_cost
        FROM c JOIN ranked r USING (value)
        GROUP BY period, CASE WHEN r.n <= $top THEN c.value ELSE '(other)' END, currency
        ORDER BY period, effective_cost DESC
    """  # noqa: S608 - expression, table and grain are our constants; values are parameters
    return engine.arrow(sql, {**source.params, "top": top})


def spend_totals(
    con: EngineLike, by: str, filters: Filters = Filters(), *, top: int = 8
) -> pa.Table:
    """The trend summed over the whole range: one row per value and currency."""
    engine = as_engine(con)
    trend = spend_trend(engine, by, filters, grain="month", top=top)
    with engine.registered("_trend", trend):
        return engine.arrow(
            "SELECT value, currency, sum(effective_cost) AS effective_cost FROM _trend "
            "GROUP BY value, currency ORDER BY effective_cost DESC, value"
        )


def finding(con: duckdb.DuckDBPyConnection, rec_id: str) -> dict[str, Any]:
    """One finding (``recommendations.get_recommendation``) with its account's name."""
    found = recommendations.get_recommendation(con, rec_id)
    found["account_name"] = vocabulary.account_names(con).get(found["account_id"] or "")
    return found


#: Evidence charts: (key, title with its unit, metrics drawn, the scale's domain, the
#: factor a stored value is multiplied by). One chart per unit, so a flat GPU line is
#: never drawn on the scale of network bytes.
EVIDENCE_UNITS: tuple[tuple[str, str, tuple[str, ...], tuple[float, float] | None, float], ...] = (
    ("cpu", "CPU utilisation (%)", ("cpu_util_pct",), (0.0, 100.0), 1.0),
    ("gpu", "GPU utilisation (%)", ("gpu_util_pct", "gpu_mem_util_pct"), (0.0, 100.0), 1.0),
    ("memory", "Memory utilisation (%)", ("mem_util_pct",), (0.0, 100.0), 1.0),
    ("network", "Network (MB)", ("net_in_bytes", "net_out_bytes"), None, 1e-6),
    ("requests", "Requests", ("invocations",), None, 1.0),
    ("disk", "Disk operations", ("disk_io_ops",), None, 1.0),
)
#: How a metric reads in a chart's legend (with its statistic: "GPU average").
SERIES_NAMES = {
    "cpu_util_pct": "CPU",
    "gpu_util_pct": "GPU",
    "gpu_mem_util_pct": "GPU memory",
    "mem_util_pct": "memory",
    "net_in_bytes": "in",
    "net_out_bytes": "out",
    "invocations": "requests",
    "disk_io_ops": "operations",
}
#: The thresholds a rule judges each unit by: (unit key, parameter, what the line means).
RULE_THRESHOLDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "idle_vm": (
        ("cpu", "cpu_max_pct", "idle at or below"),
        ("gpu", "gpu_max_pct", "idle at or below"),
        ("network", "network_max_mb", "idle at or below (in + out, a day)"),
    ),
    "idle_gpu": (
        ("gpu", "gpu_avg_max_pct", "idle: average at or below"),
        ("gpu", "gpu_day_max_pct", "no day's average above"),
    ),
    "idle_notebook": (("cpu", "cpu_max_pct", "idle: peak at or below"),),
    "idle_endpoint": (("requests", "max_invocations", "idle: at most"),),
}


@dataclass(frozen=True)
class EvidenceChart:
    """One unit's utilisation samples of a resource, with the rule's thresholds."""

    key: str
    title: str
    data: pa.Table  # ts, series, value (in the chart's unit)
    domain: tuple[float, float] | None
    thresholds: tuple[tuple[float, str], ...]


def evidence(
    con: duckdb.DuckDBPyConnection,
    resource_id: str,
    rule: str,
    rule_settings: Mapping[str, Any] | None = None,
) -> list[EvidenceChart]:
    """The utilisation behind a finding, one chart per unit (CPU %, GPU %, network MB,
    requests…), each with the thresholds its rule judged by (``mlcost.toml`` values over
    the rule's defaults)."""
    from mlcost.rules import all_rules

    samples = resource_metrics(con, resource_id)
    known = all_rules().get(rule)
    values: dict[str, Any] = {**(known.defaults() if known else {}), **(rule_settings or {})}
    charts = []
    for key, title, metrics, domain, scale in EVIDENCE_UNITS:
        mine = samples.filter(pc.is_in(samples.column("metric"), pa.array(list(metrics))))
        if not mine.num_rows:
            continue
        names = [
            f"{SERIES_NAMES.get(m, m)} {(stat or '').lower()}".strip()
            for m, stat in zip(
                mine.column("metric").to_pylist(),
                [s.rsplit("(", 1)[-1].rstrip(")") for s in mine.column("series").to_pylist()],
                strict=True,
            )
        ]
        data = pa.table(
            {
                "ts": mine.column("ts"),
                "series": pa.array(names, pa.string()),
                "value": pc.multiply(pc.cast(mine.column("value"), pa.float64()), scale),
            }
        )
        lines = tuple(
            (float(values[param]), f"{rule}: {meaning} {values[param]:g}")
            for unit, param, meaning in RULE_THRESHOLDS.get(rule, ())
            if unit == key and param in values
        )
        charts.append(EvidenceChart(key, title, data, domain, lines))
    return charts


def freshness(con: EngineLike) -> pa.Table:
    """Per table and source: when it was last loaded, how many rows that load brought,
    and how many loads there have been (from the ``loads`` log)."""
    return as_engine(con).arrow(FRESHNESS)


def findings(
    con: duckdb.DuckDBPyConnection,
    filters: Filters = Filters(),
    *,
    rules: Sequence[str] = (),
    min_savings: Decimal | float | None = None,
    status: str = "open",
    limit: int | None = None,
) -> pa.Table:
    """The findings the filters keep (``recommendations.list_recommendations``): the
    date range keeps those whose detection window (first to last detected) overlaps it;
    the ``limit`` largest savings where it is given."""
    return recommendations.list_recommendations(
        con,
        limit=limit,
        rules=rules,
        providers=filters.providers,
        accounts=filters.accounts,
        tags=filters.tags,
        min_savings=min_savings,
        status=status,
        detected_since=filters.since,
        detected_until=filters.until,
    )


def savings(con: duckdb.DuckDBPyConnection, filters: Filters = Filters()) -> pa.Table:
    """``recommendations.savings_summary`` of the findings :func:`findings` keeps (each
    resource counted once in the ``total`` rows)."""
    return recommendations.savings_summary(
        con,
        providers=filters.providers,
        accounts=filters.accounts,
        tags=filters.tags,
        detected_since=filters.since,
        detected_until=filters.until,
    )


def anomalies(
    store: Store,
    filters: Filters = Filters(),
    *,
    scopes: Sequence[str] = (),
    tag_keys: Sequence[str] = (),
) -> pa.Table:
    """``anomalies.list_anomalies`` (with acknowledgements; ``scopes`` and ``tag_keys`` as
    it reads them) narrowed by the filters.

    An anomaly is one scope's series, so the filters keep the series they describe: the
    date range its day; a provider the series of that provider alone; an account the
    ``account`` series of those accounts; a tag the ``tag:<key>`` series of those values
    (an account filter and a tag filter together keep nothing)."""
    found = anomaly_lib.list_anomalies(store, scopes=scopes, since=filters.since, tag_keys=tag_keys)
    keep = [True] * found.num_rows
    columns = {c: found.column(c).to_pylist() for c in ("date", "provider", "scope", "scope_value")}
    tag_scopes = {f"tag:{key}": set(values) for key, values in filters.tags.items() if values}
    for i in range(found.num_rows):
        scope, value, day = columns["scope"][i], columns["scope_value"][i], columns["date"][i]
        keep[i] = (
            (not filters.until or (day is not None and day <= filters.until))
            and (
                not filters.providers or _provider_key(columns["provider"][i]) in filters.providers
            )
            and (not filters.accounts or (scope == "account" and value in filters.accounts))
            and all(scope == s and value in v for s, v in tag_scopes.items())
        )
    return found.filter(pa.array(keep, pa.bool_())).sort_by(
        [("date", "descending"), ("scope", "ascending"), ("scope_value", "ascending")]
    )


def _provider_key(name: str | None) -> str | None:
    """A provider's key as ``schema.PROVIDER_KEY_SQL`` writes it (aws, azure, gcp)."""
    if name is None:
        return None
    return {"AWS": "aws", "Microsoft": "azure", "Google Cloud": "gcp"}.get(name, name.lower())


def open_anomalies(store: Store, filters: Filters = Filters()) -> int:
    """How many of the anomalies :func:`anomalies` keeps nobody has acknowledged yet."""
    found = anomalies(store, filters)
    return int(pc.sum(pc.equal(found.column("status"), "open")).as_py() or 0)


def anomaly_series(
    con: duckdb.DuckDBPyConnection,
    settings: AnomalySettings,
    scope: str,
    scope_value: str,
    currency: str | None,
) -> pa.Table:
    """One scope's whole daily series as the detector sees it (``anomalies.scope_series``)
    with the expected cost and normal band it judged each day by (``model_series`` and
    the sensitivity's band width); the first ``min_history_days`` have no band."""
    schema = pa.schema(
        [
            ("date", pa.date32()),
            ("actual", pa.decimal128(38, 12)),
            ("expected", pa.float64()),
            ("low", pa.float64()),
            ("high", pa.float64()),
        ]
    )
    # only this scope kind is read (a series' days and cut-off do not depend on the others)
    keys = [scope[4:]] if scope.startswith("tag:") else []
    series, _ = anomaly_lib.scope_series(
        con, dataclasses.replace(settings, tag_keys=keys), scopes=[scope]
    )
    chosen = next(
        (
            s
            for s in series
            if (s.scope, s.value) == (scope, scope_value)
            and (s.currency == currency or scope == anomaly_lib.GPU_SCOPE)
        ),
        None,
    )
    if chosen is None:
        return schema.empty_table()
    model = anomaly_lib.model_series(
        chosen.values,
        lookback_days=settings.lookback_days,
        min_history_days=settings.min_history_days,
    )
    width = ANOMALY_SENSITIVITIES[settings.sensitivity] * model.spread
    low = np.maximum(model.expected - width, 0.0)
    high = model.expected + width

    def floats(values: Any) -> list[float | None]:
        return [None if np.isnan(v) else float(v) for v in values]

    return pa.table(
        {
            "date": [chosen.day(i) for i in range(len(chosen.costs))],
            "actual": chosen.costs,
            "expected": floats(model.expected),
            "low": floats(low),
            "high": floats(high),
        },
        schema=schema,
    )


def anomaly_drivers(drivers: str | None) -> pa.Table:
    """An anomaly's drivers (the ``drivers`` JSON of ``list_anomalies``) as rows: the
    services, accounts, resources and tag values whose cost moved most that day."""
    rows = json.loads(drivers or "[]")
    columns = ("dimension", "value", "actual", "expected", "change", "share_pct")
    return pa.table(
        {
            c: pa.array([None if r.get(c) is None else str(r.get(c)) for r in rows], pa.string())
            for c in columns
        }
    )


def resource_metrics(
    con: EngineLike, resource_id: str, *, since: datetime | None = None
) -> pa.Table:
    """A resource's utilisation samples (the evidence behind an idle or rightsizing
    finding): time, series (metric and statistic), value, and the metric."""
    return as_engine(con).arrow(RESOURCE_METRICS, {"resource_id": resource_id, "since": since})


def only_providers(table: pa.Table, filters: Filters) -> pa.Table:
    """The rows of a per-provider table (commitments' views) the provider filter keeps."""
    if not filters.providers:
        return table
    keep = pc.is_in(table.column("provider"), value_set=pa.array(list(filters.providers)))
    return table.filter(keep)


def _commitments_used(table: pa.Table, con: EngineLike, f: Filters) -> pa.Table:
    """The rows of a per-commitment table whose commitment has a billing line in the
    account and tag filters (it covered their usage, or is owned there): whole figures."""
    if not (f.accounts or any(f.tags.values())):
        return table
    engine = as_engine(con)
    where, params = cost_where(Filters(accounts=f.accounts, tags=f.tags), engine.json_path)
    ids = engine.rows(
        f"SELECT DISTINCT CommitmentDiscountId FROM cost WHERE {where} "  # noqa: S608
        "AND CommitmentDiscountId IS NOT NULL",
        params,
    )
    keep = pc.is_in(table.column("commitment_id"), value_set=pa.array([r[0] for r in ids]))
    return table.filter(keep)


def commitment_utilisation(
    con: EngineLike, filters: Filters = Filters(), *, grain: str = "month"
) -> pa.Table:
    """``commitments.utilisation`` per ``grain`` (day, month, or all: the whole range)
    within the date range, of the providers' commitments and of those that served the
    accounts' and tag values' usage."""
    table = commitments.utilisation(con, grain=grain, **_range(filters))
    return _commitments_used(only_providers(table, filters), con, filters)


def expiring(con: EngineLike, filters: Filters = Filters(), *, within_days: int = 60) -> pa.Table:
    """``commitments.expiring`` of the commitments :func:`commitment_utilisation` keeps
    (the term ends are dated from the end of the data, not the date range)."""
    table = commitments.expiring(con, within_days=within_days)
    return _commitments_used(only_providers(table, filters), con, filters)


def commitment_coverage(
    con: EngineLike,
    filters: Filters = Filters(),
    *,
    by: str = "provider",
    grain: str = "all",
) -> pa.Table:
    """Commitment coverage of the eligible usage the filters keep (``commitments.coverage``):
    over the whole date range (``grain="all"``, as `mlcost commitments` prints it) or
    month by month (``"month"``: :func:`coverage_over_time`, the dashboard's chart)."""
    if grain == "month":
        return coverage_over_time(con, filters, by=by)
    if grain != "all":
        raise InputError(f"Unknown coverage grain {grain!r}; choose all or month.")
    table = commitments.coverage(
        con, by=by, accounts=filters.accounts, tags=filters.tags, **_range(filters)
    )
    return only_providers(table, filters) if by == "provider" else table


def coverage_over_time(
    con: EngineLike, filters: Filters = Filters(), *, by: str = "provider"
) -> pa.Table:
    """Commitment coverage per month (``commitments.coverage`` run month by month) of the
    eligible usage of the providers, accounts and tag values chosen."""
    months = as_engine(con).rows(USAGE_MONTHS, _range(filters))
    parts = []
    for (start,) in months:
        start_dt = (
            datetime.combine(start, datetime.min.time()) if isinstance(start, date) else start
        )
        next_month = (start_dt + timedelta(days=32)).replace(day=1)
        part = commitments.coverage(
            con,
            by=by,
            since=start_dt,
            until=next_month,
            accounts=filters.accounts,
            tags=filters.tags,
        )
        if by == "provider":
            part = only_providers(part, filters)
        parts.append(
            part.add_column(0, "month", pa.array([start_dt.strftime("%Y-%m")] * part.num_rows))
        )
    if not parts:
        empty = commitments.coverage(con, by=by, since=datetime(1, 1, 1), until=datetime(1, 1, 2))
        return empty.add_column(0, "month", pa.array([], pa.string()))
    return pa.concat_tables(parts)


def _range(filters: Filters) -> dict[str, Any]:
    _, params = cost_where(Filters(since=filters.since, until=filters.until))
    return {"since": params.get("since"), "until": params.get("until")}


def resource_ids(con: EngineLike, filters: Filters) -> list[str] | None:
    """The resources the provider, account and tag filters keep (billed there, or
    inventoried there); None when none of those filters is set."""
    if not (filters.providers or filters.accounts or any(filters.tags.values())):
        return None
    engine = as_engine(con)
    where, params = cost_where(
        Filters(providers=filters.providers, accounts=filters.accounts, tags=filters.tags),
        engine.json_path,
    )
    inventory = ["TRUE"]
    if filters.providers:
        inventory.append("list_contains($providers, provider)")
    if filters.accounts:
        inventory.append("list_contains($accounts, account_id)")
    for i, (_, values) in enumerate(sorted(filters.tags.items())):
        if values:
            inventory.append(
                f"list_contains($tag_values_{i}, json_extract_string(tags, $tag_path_{i}))"
            )
    rows = engine.rows(
        f"SELECT ResourceId FROM cost WHERE {where} AND ResourceId IS NOT NULL "  # noqa: S608
        f"UNION SELECT resource_id FROM resources WHERE {' AND '.join(inventory)}",
        params,
    )
    return [r[0] for r in rows]


def experiment_runs(
    con: duckdb.DuckDBPyConnection,
    filters: Filters = Filters(),
    *,
    experiments: Sequence[str] = (),
    metric: str | None = None,
    maximize: bool = True,
    target: float | None = None,
) -> pa.Table:
    """``experiments.run_table`` (runs and sweeps, with cost, GPU-hours, efficiency,
    Pareto and cost to target) of the runs started in the date range, counting only the
    cost lines of the resources the provider, account and tag filters keep."""
    return experiment_lib.run_table(
        con,
        experiments=experiments,
        metric=metric,
        maximize=maximize,
        target=target,
        resource_ids=resource_ids(con, filters),
        **_range(filters),
    )


def experiment_summary(
    con: duckdb.DuckDBPyConnection,
    filters: Filters = Filters(),
    *,
    metric: str | None = None,
    maximize: bool = True,
) -> pa.Table:
    """``experiments.experiment_table`` of :func:`experiment_runs` (one row per experiment),
    with its GPU efficiency: used ÷ paid GPU-hours of its runs whose utilisation is known."""
    runs = experiment_runs(con, filters, metric=metric, maximize=maximize)
    table = experiment_lib.experiment_table(runs, maximize=maximize)
    # GPU efficiency: used ÷ paid GPU-hours of the runs whose utilisation is known
    known: dict[str, list[float]] = {}
    for r in runs.to_pylist():
        if not r["trials"] and r["used_gpu_hours"] is not None:
            pair = known.setdefault(r["experiment"], [0.0, 0.0])
            pair[0] += r["used_gpu_hours"]
            pair[1] += r["gpu_hours"]
    efficiency = [
        used / paid if paid else None
        for used, paid in (known.get(e, [0.0, 0.0]) for e in table.column("experiment").to_pylist())
    ]
    return table.append_column("gpu_efficiency", pa.array(efficiency, pa.float64()))


def sweeps(runs: pa.Table) -> pa.Table:
    """The sweeps among ``experiment_runs``: parent runs with their trials summed."""
    return runs.filter(pc.greater(runs.column("trials"), 0))


def metric_names(con: EngineLike, experiment: str) -> list[str]:
    """The numeric metrics the experiment's runs report (keys of their ``metrics``)."""
    rows = as_engine(con).rows(METRIC_NAMES, {"experiment": experiment})
    return [r[0] for r in rows]
