"""Daily roll-ups of the billing: what the dashboard's Overview, the report and the
headline figures read instead of scanning ``cost`` (docs/concepts/store.md).

Two tables, both derived from ``cost`` and nothing else:

* ``daily_spend``: one row per charge day × billing partition (source, billing period) ×
  provider × account × service × region × charge category × currency;
* ``daily_spend_by_tag``: the same, per configured tag key × that tag's value (a line
  without the tag counts under a NULL value, so each key's rows sum to the bill).

The tag keys are the setting ``anomalies.tag_keys`` (``AnomalySettings.keys``): the keys
the organisation watches spend by are the anomaly detector's tag scopes and the keys
rolled up, one list, so that the two never disagree. The store records the keys its
``daily_spend_by_tag`` holds (table ``rollup_tag_keys``); when the configured keys
differ, the next writer rolls up the new keys from ``cost`` and drops the old ones
(``Store.writer``), and until then :func:`spend_source` reads ``cost`` for a key the store
has not rolled up.

Each keeps the FOCUS cost measures summed (``BilledCost``, ``EffectiveCost``,
``ListCost``, ``ContractedCost``: exact decimals), the lines counted (``charge_rows``),
and the group's earliest ``ChargePeriodStart`` and latest ``ChargePeriodEnd`` under
those names, so that the WHERE clauses and expressions written for ``cost``
(``mlcost.filters``, ``summary.DIMENSIONS``) read a roll-up unchanged: a group lies in
one charge day, so its earliest start is past a day's midnight exactly when all of its
lines' are.

They are rebuilt for exactly the billing partitions a load replaces, inside the load's
transaction (``Store.load``), so they always sum to what ``cost`` sums, to the cent. The
statements are in our DuckDB dialect: on Spark (``mlcost analyze --engine spark``) the
same statements compute the roll-ups over a lake, and the store keeps the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from mlcost.config import AnomalySettings
from mlcost.engine import EngineLike, as_engine, duckdb_json_path
from mlcost.filters import Filters, cost_where
from mlcost.schema import ROLLUP_GROUPS, ROLLUP_MEASURES

#: The roll-up tables (their columns and partitions are in ``mlcost.schema``).
DAILY = "daily_spend"
DAILY_BY_TAG = "daily_spend_by_tag"
ROLLUP_TABLES = (DAILY, DAILY_BY_TAG)
#: The table of the tag keys ``daily_spend_by_tag`` holds (migration 006).
TAG_KEYS_TABLE = "rollup_tag_keys"
#: The tag keys rolled up when none are configured: ``anomalies.tag_keys``'s default
#: (the dashboard's tag filter, ``team``, among them).
DEFAULT_TAG_KEYS: tuple[str, ...] = AnomalySettings().keys

#: The columns a roll-up groups by (besides the charge day), and the summed measures.
GROUP_COLUMNS: tuple[str, ...] = tuple(ROLLUP_GROUPS)
MEASURES = ROLLUP_MEASURES

_GROUPS = ", ".join(GROUP_COLUMNS)
_SUMS = ", ".join(f"sum({m}) AS {m}" for m in MEASURES)
_SPAN = (
    "count(*) AS charge_rows, min(ChargePeriodStart) AS ChargePeriodStart, "
    "max(ChargePeriodStart) AS last_charge_start, max(ChargePeriodEnd) AS ChargePeriodEnd"
)


def _sql(source: str, span: str) -> tuple[str, str]:
    """``daily_spend``'s and ``daily_spend_by_tag``'s SELECTs over ``source`` (billing
    lines, or lines already summed: ``span`` counts and spans them)."""
    daily = f"""
SELECT {_GROUPS}, CAST(ChargePeriodStart AS DATE) AS charge_day, {_SUMS}, {span}
FROM {source}
GROUP BY {_GROUPS}, CAST(ChargePeriodStart AS DATE)
"""  # noqa: S608 - constants
    by_tag = f"""
SELECT {_GROUPS}, CAST(ChargePeriodStart AS DATE) AS charge_day,
       $tag_key AS tag_key, tag_value, {_SUMS}, {span}
FROM (SELECT *, json_extract_string(Tags, $tag_path) AS tag_value FROM {source}) AS tagged
GROUP BY {_GROUPS}, CAST(ChargePeriodStart AS DATE), tag_value
"""  # noqa: S608 - constants
    return daily, by_tag


#: ``daily_spend`` of the rows of ``cost`` (the whole lake on Spark; in a load, the
#: load's own rows, which are all the rows of the partitions it replaces), and
#: ``daily_spend_by_tag`` of one tag key: $tag_key, and $tag_path its JSON path.
DAILY_SQL, BY_TAG_SQL = _sql("cost", _SPAN)

#: In a load, the lines are first summed by what every roll-up groups by, and their
#: tags, into a temporary table: a bill has few tag sets, so that one scan of the new
#: files does the work of every roll-up's, which then read thousands of rows, not
#: millions. The same figures: sums of sums, counts summed, spans of spans.
_LINES = "_mlcost_rollup_lines"
_LINES_SQL = f"""
SELECT {_GROUPS}, Tags, {_SUMS}, {_SPAN}
FROM cost
GROUP BY {_GROUPS}, CAST(ChargePeriodStart AS DATE), Tags
"""  # noqa: S608 - constants
_OF_LINES = dict(
    zip(
        (DAILY_SQL, BY_TAG_SQL),
        _sql(
            _LINES,
            "CAST(sum(charge_rows) AS BIGINT) AS charge_rows, "
            "min(ChargePeriodStart) AS ChargePeriodStart, "
            "max(last_charge_start) AS last_charge_start, "
            "max(ChargePeriodEnd) AS ChargePeriodEnd",
        ),
        strict=True,
    )
)


def statements(
    tag_keys: Sequence[str], json_path: Any = duckdb_json_path
) -> list[tuple[str, str, dict[str, Any]]]:
    """Every roll-up statement for ``tag_keys``: (table, SQL, parameters); ``json_path``
    as the engine that runs them reads a tag's path."""
    out: list[tuple[str, str, dict[str, Any]]] = [(DAILY, DAILY_SQL, {})]
    out += [by_tag_statement(key, json_path) for key in tag_keys]
    return out


def by_tag_statement(
    key: str, json_path: Any = duckdb_json_path
) -> tuple[str, str, dict[str, Any]]:
    """The statement of ``daily_spend_by_tag``'s rows for one tag key."""
    return DAILY_BY_TAG, BY_TAG_SQL, {"tag_key": key, "tag_path": json_path(key)}


def compute(con: EngineLike, tag_keys: Sequence[str]) -> dict[str, pa.Table]:
    """The roll-ups of all of ``cost`` on an engine (Spark over a lake): table → rows."""
    engine = as_engine(con)
    parts: dict[str, list[pa.Table]] = {}
    for table, sql, params in statements(tag_keys, engine.json_path):
        parts.setdefault(table, []).append(engine.arrow(sql, params))
    return {t: pa.concat_tables(p, promote_options="permissive") for t, p in parts.items()}


def rebuild(
    con: duckdb.DuckDBPyConnection,
    partitions: Sequence[tuple[Any, Any]] | None,
    stamp: Any,
    tag_keys: Sequence[str],
) -> None:
    """Replace the roll-ups of ``partitions`` ((source, billing period) pairs; None: all)
    with those of the rows ``cost`` has now, by ``tag_keys`` (the keys the store
    records), on the store's writing connection (inside the caller's transaction)."""
    same = 'x_source IS NOT DISTINCT FROM ? AND "BillingPeriodStart" IS NOT DISTINCT FROM ?'
    for table in ROLLUP_TABLES:
        if partitions is None:
            con.execute(f"DELETE FROM {table}")  # noqa: S608 - constants
        else:
            for source, period in partitions:
                con.execute(f"DELETE FROM {table} WHERE {same}", [source, period])  # noqa: S608
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_LINES} AS {_LINES_SQL}")
    try:
        for table, sql, params in statements(tag_keys):
            _insert(con, (table, _OF_LINES[sql], params), stamp)
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.{_LINES}")


def _insert(
    con: duckdb.DuckDBPyConnection, statement: tuple[str, str, dict[str, Any]], stamp: Any
) -> None:
    table, sql, params = statement
    con.execute(
        f"INSERT INTO {table} BY NAME SELECT *, $stamp AS rolled_up_at FROM ({sql})",  # noqa: S608
        {**params, "stamp": stamp},
    )


def recorded_tag_keys(con: EngineLike) -> tuple[str, ...]:
    """The tag keys the store's ``daily_spend_by_tag`` holds (none on an engine without
    the store's roll-ups, such as Spark over a lake, or a connection to no store)."""
    engine = as_engine(con)
    if engine.name != "duckdb":
        return ()
    try:
        rows = engine.rows(f"SELECT tag_key FROM {TAG_KEYS_TABLE} ORDER BY tag_key")  # noqa: S608
    except duckdb.CatalogException:
        return ()
    return tuple(str(r[0]) for r in rows)


def add_tag_key(con: duckdb.DuckDBPyConnection, key: str, stamp: Any) -> None:
    """Roll up spend by ``key`` over all of ``cost``, and record it (inside the caller's
    transaction)."""
    _insert(con, by_tag_statement(key), stamp)
    con.execute(f"INSERT INTO {TAG_KEYS_TABLE} VALUES (?, ?)", [key, stamp])  # noqa: S608


def drop_tag_key(con: duckdb.DuckDBPyConnection, key: str) -> None:
    """Forget the roll-up by ``key`` (inside the caller's transaction)."""
    con.execute(f"DELETE FROM {DAILY_BY_TAG} WHERE tag_key = ?", [key])  # noqa: S608
    con.execute(f"DELETE FROM {TAG_KEYS_TABLE} WHERE tag_key = ?", [key])  # noqa: S608


# -- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SpendSource:
    """Where spend for some filters is read, and how: ``cost`` or a roll-up.

    ``table`` replaces ``cost`` in a query; ``where``/``params`` narrow it to the
    filters (values are parameters); ``rows`` counts billing lines; ``tag`` is the
    expression of the value of the tag key ``tag_key`` (spend grouped by that tag).
    """

    table: str
    where: str
    params: dict[str, Any] = field(default_factory=dict)
    rows: str = "count(*)"
    tag: str | None = None
    tag_key: str | None = None

    @property
    def rolled_up(self) -> bool:
        return self.table != "cost"


def spend_source(
    con: EngineLike, filters: Filters = Filters(), *, by_tag: str | None = None
) -> SpendSource:
    """The cheapest table that gives the same figures for ``filters`` (and, with
    ``by_tag``, per value of that tag key): ``daily_spend`` without tag filters;
    ``daily_spend_by_tag`` when one rolled-up tag key is filtered on or grouped by;
    else ``cost`` (a key the store has not rolled up, several keys, or an engine without
    the store's roll-ups, such as Spark over a lake)."""
    engine = as_engine(con)
    keys = {k for k, values in filters.tags.items() if values}
    if by_tag is not None:
        keys.add(by_tag)
    if (
        engine.name != "duckdb"
        or len(keys) > 1
        or (keys and not keys <= set(recorded_tag_keys(engine)))
    ):
        where, params = cost_where(filters, engine.json_path)
        tag = None
        if by_tag is not None:
            tag = "json_extract_string(Tags, $by_tag_path)"
            params["by_tag_path"] = engine.json_path(by_tag)
        return SpendSource("cost", where, params, tag=tag, tag_key=by_tag)
    rows = "CAST(sum(charge_rows) AS BIGINT)"
    if not keys:
        where, params = cost_where(filters, engine.json_path)
        return SpendSource(DAILY, where, params, rows)
    (key,) = keys
    where, params = cost_where(filters, engine.json_path, tag_value="tag_value")
    params["rollup_tag_key"] = key
    return SpendSource(
        DAILY_BY_TAG,
        f"tag_key = $rollup_tag_key AND {where}",
        params,
        rows,
        tag="tag_value",
        tag_key=key,
    )


__all__ = [
    "DAILY",
    "DAILY_BY_TAG",
    "DEFAULT_TAG_KEYS",
    "ROLLUP_TABLES",
    "TAG_KEYS_TABLE",
    "SpendSource",
    "add_tag_key",
    "by_tag_statement",
    "compute",
    "drop_tag_key",
    "rebuild",
    "recorded_tag_keys",
    "spend_source",
    "statements",
]
