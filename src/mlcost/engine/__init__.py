"""The one interface the analyses run their SQL through (DESIGN.md §1, "Beyond one machine").

The analyses' SQL is written in DuckDB's dialect with named parameters (``$as_of``). An
:class:`Engine` runs it: :class:`DuckDBEngine` (the default) on a connection to the store,
:class:`mlcost.engine.spark.SparkEngine` (extra ``mlcost[spark]``) on Spark, translating
each statement at run time. What an analysis may ask of an engine, and nothing more:

* :meth:`Engine.arrow` / :meth:`Engine.rows`: run a query, fetch its (small) result;
* :meth:`Engine.materialise`: keep a query's result as a named intermediate table (a
  temporary table on DuckDB, a cached view on Spark);
* :meth:`Engine.register` / :meth:`Engine.registered`: an Arrow table as a named table;
* :meth:`Engine.columns`: the column names of a table;
* :meth:`Engine.define_macro`: a scalar SQL function later statements call (DuckDB's
  ``TEMP MACRO``; expanded in place on Spark, which has none);
* :meth:`Engine.json_path`: the path of a JSON member, in the syntax the engine reads;
* :meth:`Engine.group_apply`: a Python function run on each group of a query's rows (the
  analyses' Python parts: the anomaly model per series, attribution per machine),
  locally on DuckDB, on the executors on Spark (``applyInPandas``).

Parameters are always named (``$name`` in the text, a mapping of values), never pasted
into the text.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

ENGINES = ("duckdb", "spark")

Params = Mapping[str, Any] | None

#: A function of one group's rows (an Arrow table, in no set order) that returns its
#: result rows (an Arrow table of the schema given to :meth:`Engine.group_apply`).
GroupFunction = Callable[[pa.Table], pa.Table]


class Engine(ABC):
    """Where analysis SQL runs (see the module docstring)."""

    #: ``duckdb`` or ``spark``
    name: str

    @abstractmethod
    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        """The result of a query, as Arrow (timestamps naive UTC, money exact decimal)."""

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """The result of a query, as tuples."""
        table = self.arrow(sql, params)
        return list(zip(*(c.to_pylist() for c in table.columns), strict=True))

    @abstractmethod
    def materialise(self, name: str, sql: str, params: Params = None) -> None:
        """Keep the result of ``sql`` as the intermediate table ``name`` (replacing it)."""

    @abstractmethod
    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table readable as ``name`` (replacing any table of that name)."""

    @abstractmethod
    def unregister(self, name: str) -> None:
        """Forget a table :meth:`register` made."""

    @contextlib.contextmanager
    def registered(self, name: str, table: pa.Table) -> Iterator[None]:
        """``table`` readable as ``name`` for the duration of the block."""
        self.register(name, table)
        try:
            yield
        finally:
            self.unregister(name)

    @abstractmethod
    def columns(self, name: str) -> list[str]:
        """The column names of a table, in order."""

    @abstractmethod
    def define_macro(self, name: str, args: Sequence[str], body: str) -> None:
        """A scalar function ``name(args…)`` that later statements may call."""

    def json_path(self, key: str) -> str:
        """The JSON path of a top-level member ``key`` (a parameter's value: the engines
        read different path syntaxes)."""
        return duckdb_json_path(key)

    def group_apply(
        self,
        sql: str,
        by: Sequence[str],
        func: GroupFunction,
        schema: pa.Schema,
        params: Params = None,
    ) -> pa.Table:
        """``func`` run once per group of the rows of ``sql`` that share the values of the
        columns ``by``, the results together (their rows in no set order): they reach the
        caller, so they must be small. On Spark the groups run where the data is:
        ``func`` must be picklable (a module-level function, or a ``functools.partial`` of
        one with small arguments) and its results exact types (text, dates, integers
        without nulls, decimals). This default runs every group here, one after another."""
        return apply_by_group(self.arrow(sql, params), by, func, schema)


def apply_by_group(
    table: pa.Table, by: Sequence[str], func: GroupFunction, schema: pa.Schema
) -> pa.Table:
    """``func`` on each group of ``table``'s rows sharing the values of ``by`` (NULL is a
    value), the results concatenated as ``schema``."""
    if table.num_rows == 0:
        return schema.empty_table()
    table = table.sort_by([(c, "ascending") for c in by])
    keys = list(zip(*(table.column(c).to_pylist() for c in by), strict=True))
    results = []
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            results.append(func(table.slice(start, i - start)).cast(schema))
            start = i
    return pa.concat_tables(results).combine_chunks()


def duckdb_json_path(key: str) -> str:
    """DuckDB's JSON path of a top-level member ``key``: ``$."key"``, quotes escaped."""
    return "$." + '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DuckDBEngine(Engine):
    """Today's behaviour: the SQL runs as written, on a DuckDB connection to the store."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        return self.con.sql(sql, params=dict(params) if params else None).to_arrow_table()

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, dict(params) if params else None).fetchall()

    def materialise(self, name: str, sql: str, params: Params = None) -> None:
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}", dict(params) if params else None
        )

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    def columns(self, name: str) -> list[str]:
        return [
            row[0]
            for row in self.con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                "ORDER BY column_index",
                [name],
            ).fetchall()
        ]

    def define_macro(self, name: str, args: Sequence[str], body: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP MACRO {name}({', '.join(args)}) AS {body}")


#: What the analyses accept: an engine, or a connection to the store (the dashboard's and
#: the CLI's), which runs on DuckDB.
EngineLike = duckdb.DuckDBPyConnection | Engine


def as_engine(con_or_engine: EngineLike) -> Engine:
    """An engine for a store connection (the dashboard and CLI hold connections)."""
    if isinstance(con_or_engine, Engine):
        return con_or_engine
    return DuckDBEngine(con_or_engine)


__all__ = [
    "ENGINES",
    "DuckDBEngine",
    "Engine",
    "EngineLike",
    "GroupFunction",
    "Params",
    "apply_by_group",
    "as_engine",
    "duckdb_json_path",
]
