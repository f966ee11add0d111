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
* :meth:`Engine.json_path`: the path of a JSON member, in the syntax the engine reads.

Parameters are always named (``$name`` in the text, a mapping of values), never pasted
into the text.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

ENGINES = ("duckdb", "spark")

Params = Mapping[str, Any] | None


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
    "Params",
    "as_engine",
    "duckdb_json_path",
]
