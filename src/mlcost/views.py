"""Filtered read-side figures for the dashboard: spend this month, trends, freshness,
anomalies, evidence series, experiment costs and the Pareto front.

The dashboard computes nothing itself; every figure it shows comes from here or from
``summary``, ``recommendations`` and ``commitments``. Sums are exact decimals from DuckDB;
amounts in different currencies are never added together.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from mlcost import commitments
from mlcost.errors import InputError
from mlcost.schema import PROVIDER_KEY_SQL
from mlcost.summary import DIMENSIONS, data_end

#: The provider key (aws, azure, gcp) of a cost row.
PROVIDER_KEY = PROVIDER_KEY_SQL.format(n="ProviderName")
#: The account id of a cost row, as findings name it.
ACCOUNT_ID = "coalesce(SubAccountId, BillingAccountId)"
TREND_BY = ("provider", "service", "account")


@dataclass(frozen=True)
class Filters:
    """What the user narrowed the view to; empty means everything. ``until`` is inclusive."""

    since: date | None = None
    until: date | None = None
    providers: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def cost_where(filters: Filters) -> tuple[str, dict[str, Any]]:
    """A WHERE clause over ``cost`` and its parameters (values never enter the SQL)."""
    where = ["TRUE"]
    params: dict[str, Any] = {}
    if filters.since:
        where.append("ChargePeriodStart >= $since")
        params["since"] = datetime.combine(filters.since, datetime.min.time())
    if filters.until:
        where.append("ChargePeriodStart < $until")
        params["until"] = datetime.combine(filters.until + timedelta(days=1), datetime.min.time())
    if filters.providers:
        where.append(f"list_contains($providers, {PROVIDER_KEY})")
        params["providers"] = list(filters.providers)
    if filters.accounts:
        where.append(f"list_contains($accounts, {ACCOUNT_ID})")
        params["accounts"] = list(filters.accounts)
    for i, (key, values) in enumerate(sorted(filters.tags.items())):
        if values:
            where.append(
                f"list_contains($tag_values_{i}, json_extract_string(Tags, $tag_path_{i}))"
            )
            params[f"tag_values_{i}"] = list(values)
            params[f"tag_path_{i}"] = _json_path(key)
    return " AND ".join(where), params


def _json_path(key: str) -> str:
    return "$." + '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def filter_options(con: duckdb.DuckDBPyConnection, tag_key: str = "team") -> dict[str, list[str]]:
    """The values each filter can take: providers, accounts and the tag's values."""
    providers = con.sql(
        f"SELECT DISTINCT {PROVIDER_KEY} FROM cost WHERE ProviderName IS NOT NULL ORDER BY 1"  # noqa: S608
    ).fetchall()
    accounts = con.sql(
        f"SELECT DISTINCT {ACCOUNT_ID} AS a FROM cost WHERE a IS NOT NULL ORDER BY 1"  # noqa: S608
    ).fetchall()
    tags = con.execute(
        "SELECT DISTINCT json_extract_string(Tags, ?) AS v FROM cost WHERE v IS NOT NULL "
        "ORDER BY 1",
        [_json_path(tag_key)],
    ).fetchall()
    return {
        "providers": [r[0] for r in providers],
        "accounts": [r[0] for r in accounts],
        "tags": [r[0] for r in tags],
    }


def month_spend(con: duckdb.DuckDBPyConnection, filters: Filters = Filters()) -> pa.Table:
    """Per currency: effective cost in the data's last month and the month before, and a
    run-rate forecast to the end of that month (month to date ÷ days covered × days in it).

    "This month" is the month the billing data ends in (the data may lag the calendar).
    """
    end = data_end(con)
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
    where, params = cost_where(filters)
    rows = con.execute(
        f"""
        SELECT BillingCurrency,
               coalesce(sum(EffectiveCost) FILTER (WHERE ChargePeriodStart >= $start), 0),
               coalesce(sum(EffectiveCost) FILTER (WHERE ChargePeriodStart < $start), 0)
        FROM cost
        WHERE {where} AND ChargePeriodStart >= $previous AND ChargePeriodStart < $next
        GROUP BY 1 ORDER BY 1
        """,  # noqa: S608 - the WHERE is built from constants; values are parameters
        {
            **params,
            "start": datetime.combine(start, datetime.min.time()),
            "previous": datetime.combine(previous, datetime.min.time()),
            "next": datetime.combine(start + timedelta(days=days_in), datetime.min.time()),
        },
    ).fetchall()
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
    con: duckdb.DuckDBPyConnection,
    by: str,
    filters: Filters = Filters(),
    *,
    grain: str = "day",
    top: int = 8,
) -> pa.Table:
    """Effective cost per period (``day`` or ``month``) and value of ``by`` (provider,
    service, account or ``tag:<key>``); values past the ``top`` largest are ``(other)``."""
    if by.startswith("tag:"):
        expression = "json_extract_string(Tags, $tag_path)"
        extra: dict[str, Any] = {"tag_path": _json_path(by[4:])}
    elif by in TREND_BY:
        expression, extra = DIMENSIONS[by], {}
    else:
        raise InputError(
            f"Cannot show a trend by {by!r}; choose provider, service, account or tag:KEY."
        )
    if grain not in ("day", "month"):
        raise InputError(f"Unknown grain {grain!r}; choose day or month.")
    where, params = cost_where(filters)
    sql = f"""
        WITH c AS (
            SELECT CAST(date_trunc('{grain}', ChargePeriodStart) AS DATE) AS period,
                   coalesce(CAST({expression} AS VARCHAR), '(none)') AS value,
                   BillingCurrency AS currency, EffectiveCost
            FROM cost WHERE {where} AND ChargeCategory = 'Usage'
        ),
        ranked AS (
            SELECT value, row_number() OVER (ORDER BY sum(EffectiveCost) DESC, value) AS n
            FROM c GROUP BY value
        )
        SELECT period, CASE WHEN r.n <= $top THEN c.value ELSE '(other)' END AS value,
               currency, sum(EffectiveCost) AS effective_cost
        FROM c JOIN ranked r USING (value)
        GROUP BY ALL ORDER BY period, effective_cost DESC
    """  # noqa: S608 - expression and grain are our constants; values are parameters
    return con.sql(sql, params={**params, **extra, "top": top}).to_arrow_table()


def spend_totals(
    con: duckdb.DuckDBPyConnection, by: str, filters: Filters = Filters(), *, top: int = 8
) -> pa.Table:
    """The trend summed over the whole range: one row per value and currency."""
    trend = spend_trend(con, by, filters, grain="month", top=top)
    con.register("_trend", trend)
    try:
        return con.sql(
            "SELECT value, currency, sum(effective_cost) AS effective_cost FROM _trend "
            "GROUP BY ALL ORDER BY effective_cost DESC, value"
        ).to_arrow_table()
    finally:
        con.unregister("_trend")


def freshness(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Per table and source: when it was last loaded, how many rows that load brought,
    and how many loads there have been (from the ``loads`` log)."""
    return con.sql(
        """
        SELECT "table", coalesce(source, '(all)') AS source, max(loaded_at) AS last_loaded,
               arg_max(rows_in, loaded_at) AS rows_last_load, count(*) AS loads
        FROM loads GROUP BY ALL ORDER BY "table", source
        """
    ).to_arrow_table()


def list_anomalies(
    con: duckdb.DuckDBPyConnection, filters: Filters = Filters(), *, limit: int | None = None
) -> pa.Table:
    """Anomalies (the ``anomalies`` table), newest first, within the date and provider filters."""
    where = ["TRUE"]
    params: dict[str, Any] = {}
    if filters.since:
        where.append("date >= $since")
        params["since"] = filters.since
    if filters.until:
        where.append("date <= $until")
        params["until"] = filters.until
    if filters.providers:
        where.append("list_contains($providers, provider)")
        params["providers"] = list(filters.providers)
    columns = "date, provider, scope, scope_value, actual, expected, low, high, direction"
    sql = (
        f"SELECT {columns}, severity, drivers FROM anomalies WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY date DESC, actual - expected DESC NULLS LAST, scope, scope_value"
        + (f" LIMIT {int(limit)}" if limit else "")
    )
    return con.sql(sql, params=params).to_arrow_table()


def anomaly_series(
    con: duckdb.DuckDBPyConnection, scope: str, scope_value: str, provider: str | None
) -> pa.Table:
    """Every stored day of one anomaly's series: actual against its expected band."""
    return con.sql(
        "SELECT date, actual, expected, low, high FROM anomalies "
        "WHERE scope = ? AND scope_value IS NOT DISTINCT FROM ? "
        "AND provider IS NOT DISTINCT FROM ? ORDER BY date",
        params=[scope, scope_value, provider],
    ).to_arrow_table()


def resource_metrics(
    con: duckdb.DuckDBPyConnection, resource_id: str, *, since: datetime | None = None
) -> pa.Table:
    """A resource's utilisation samples (the evidence behind an idle or rightsizing finding)."""
    return con.sql(
        "SELECT ts, metric || ' (' || stat || ')' AS series, value FROM metrics "
        "WHERE resource_id = ? AND (CAST(? AS TIMESTAMP) IS NULL OR ts >= ?) "
        "ORDER BY metric, stat, ts",
        params=[resource_id, since, since],
    ).to_arrow_table()


def only_providers(table: pa.Table, filters: Filters) -> pa.Table:
    """The rows of a per-provider table (commitments' views) the provider filter keeps."""
    if not filters.providers:
        return table
    keep = pc.is_in(table.column("provider"), value_set=pa.array(list(filters.providers)))
    return table.filter(keep)


def commitment_utilisation(
    con: duckdb.DuckDBPyConnection, filters: Filters = Filters()
) -> pa.Table:
    """``commitments.utilisation`` per month within the date range and providers."""
    return only_providers(commitments.utilisation(con, grain="month", **_range(filters)), filters)


def coverage_over_time(
    con: duckdb.DuckDBPyConnection, filters: Filters = Filters(), *, by: str = "provider"
) -> pa.Table:
    """Commitment coverage per month (``commitments.coverage`` run month by month)."""
    months = con.execute(
        "SELECT DISTINCT date_trunc('month', ChargePeriodStart) FROM cost "
        "WHERE ChargeCategory = 'Usage' AND ($since IS NULL OR ChargePeriodStart >= $since) "
        "AND ($until IS NULL OR ChargePeriodStart < $until) ORDER BY 1",
        _range(filters),
    ).fetchall()
    parts = []
    for (start,) in months:
        start_dt = (
            datetime.combine(start, datetime.min.time()) if isinstance(start, date) else start
        )
        next_month = (start_dt + timedelta(days=32)).replace(day=1)
        part = commitments.coverage(con, by=by, since=start_dt, until=next_month)
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


def experiment_costs(con: duckdb.DuckDBPyConnection, filters: Filters = Filters()) -> pa.Table:
    """Per experiment: runs, attributed cost (``run_costs``), idle share and mean GPU
    efficiency; experiments without attributed cost show a null cost. The date filter
    keeps the runs that started in range."""
    return con.sql(
        """
        WITH rc AS (
            SELECT run_id, sum(cost) AS cost, sum(idle_share) AS idle_share,
                   avg(gpu_efficiency) AS gpu_efficiency
            FROM run_costs GROUP BY run_id
        )
        SELECT r.experiment, count(*) AS runs, count(rc.run_id) AS runs_costed,
               sum(rc.cost) AS cost, sum(rc.idle_share) AS idle_cost,
               avg(rc.gpu_efficiency) AS gpu_efficiency,
               min(r.started_at) AS first_run, max(r.ended_at) AS last_run
        FROM runs r LEFT JOIN rc USING (run_id)
        WHERE ($since IS NULL OR r.started_at >= $since)
          AND ($until IS NULL OR r.started_at < $until)
        GROUP BY r.experiment
        ORDER BY cost DESC NULLS LAST, r.experiment
        """,
        params=_range(filters),
    ).to_arrow_table()


def run_costs_of(con: duckdb.DuckDBPyConnection, experiment: str) -> pa.Table:
    """The runs of one experiment with their attributed cost, GPU efficiency and metrics."""
    return con.sql(
        """
        WITH rc AS (
            SELECT run_id, sum(cost) AS cost, avg(gpu_efficiency) AS gpu_efficiency
            FROM run_costs GROUP BY run_id
        )
        SELECT r.run_id, r.name, r.status, r.parent_run_id, r.started_at, r.ended_at,
               rc.cost, rc.gpu_efficiency, r.metrics
        FROM runs r LEFT JOIN rc USING (run_id)
        WHERE r.experiment = ?
        ORDER BY rc.cost DESC NULLS LAST, r.run_id
        """,
        params=[experiment],
    ).to_arrow_table()


def metric_names(runs: pa.Table) -> list[str]:
    """The metric names the runs report (keys of their ``metrics`` JSON)."""
    import json

    names: set[str] = set()
    for text in runs.column("metrics").to_pylist():
        if text:
            value = json.loads(text)
            if isinstance(value, dict):
                names.update(k for k, v in value.items() if isinstance(v, int | float))
    return sorted(names)


def pareto_front(
    points: Sequence[tuple[str, Decimal | float, float]], *, maximize: bool = True
) -> set[str]:
    """The ids on the cost-versus-metric Pareto front: no other point is at most as
    costly and at least as good (strictly better in one of them)."""
    front: set[str] = set()
    for pid, cost, metric in points:
        good = metric if maximize else -metric
        dominated = any(
            (c <= cost and (m if maximize else -m) >= good)
            and (c < cost or (m if maximize else -m) > good)
            for other, c, m in points
            if other != pid
        )
        if not dominated:
            front.add(pid)
    return front
