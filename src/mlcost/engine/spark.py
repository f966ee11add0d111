"""The analyses on Apache Spark (extra ``mlcost[spark]``): see docs/spark.md.

Each statement is translated at run time (:func:`mlcost.engine.translate.to_spark`);
parameters travel as Spark named parameters, never in the text. The session runs in UTC
with naive timestamps (``TIMESTAMP_NTZ``, as the store's), exact decimal arithmetic
(``allowPrecisionLoss=false``: with Spark's default, savings drift in the fourth decimal)
and DuckDB's lenient arithmetic (ANSI mode off: a division by zero is NULL). Intermediate
tables are cached temporary views; only the small results reach the driver. The Python
parts (the anomaly model, attribution) run per group on the executors with
``applyInPandas`` (:meth:`SparkEngine.group_apply`), calling the same functions as on DuckDB.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from mlcost import rollups
from mlcost.analysis import Analyses, analyze_on_engine
from mlcost.config import Settings
from mlcost.engine import Engine, GroupFunction, Params
from mlcost.errors import InputError
from mlcost.lake import LAKE_TABLES
from mlcost.recommendations import judge_rules
from mlcost.schema import arrow_schema
from mlcost.store import Batch, Store

_INSTALL = "Install it with `pip install 'mlcost[spark]'` (Java 17 or newer must be on PATH)."
try:
    from mlcost.engine.translate import Macro, parameters, to_spark
except ImportError as exc:  # the extra is not installed
    raise InputError("The Spark engine needs sqlglot, which is not installed.", _INSTALL) from exc

#: The settings a SparkEngine's session always has: what makes its answers DuckDB's.
SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.jsonGenerator.ignoreNullFields": "false",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
}


def spark_session(master: str = "local[2]", conf: Mapping[str, str] | None = None) -> Any:
    """A Spark session for the analyses: ``conf`` (``[spark] conf`` in mlcost.toml) then
    :data:`SESSION_CONF`, which the answers depend on."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise InputError(
            "The Spark engine needs pyspark, which is not installed.", _INSTALL
        ) from exc
    builder = SparkSession.builder.appName("mlcost").master(master)
    defaults = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "8",
    }
    if master.startswith("local"):
        # the Python parts run in worker processes started from PYSPARK_PYTHON (else
        # `python3` from PATH, which may lack mlcost): this interpreter, unless set
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in {**defaults, **(conf or {}), **SESSION_CONF}.items():
        builder = builder.config(key, str(value))
    session = builder.getOrCreate()
    for key, value in SESSION_CONF.items():  # a session got, not built, has its own
        session.conf.set(key, value)
    return session


class SparkEngine(Engine):
    """Analysis SQL on a Spark session (the store's tables readable there by name)."""

    name = "spark"

    def __init__(self, session: Any) -> None:
        self.session = session
        self.macros: dict[str, Macro] = {}
        self._cached: set[str] = set()

    # -- reading -------------------------------------------------------------

    def translate(self, sql: str) -> str:
        """``sql`` as this engine runs it."""
        return to_spark(sql, self.macros)

    def _frame(self, sql: str, params: Params) -> Any:
        used = parameters(sql)
        args = {k: self._value(v) for k, v in (params or {}).items() if k in used}
        return self.session.sql(self.translate(sql), args=args or None)

    def _value(self, value: Any) -> Any:
        """A parameter as Spark takes it: a literal, or an array column for a list."""
        from pyspark.sql import functions as F

        if isinstance(value, list | tuple):
            if not value:
                return F.array().cast("array<string>")
            return F.array(*[F.lit(v) for v in value])
        if isinstance(value, Decimal | datetime | int | float | str | bool) or value is None:
            return value
        raise TypeError(f"no Spark parameter for a {type(value).__name__}")

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        table = self._frame(sql, params).toArrow()
        return _naive_utc(table)

    # -- intermediate tables -------------------------------------------------

    def materialise(self, name: str, sql: str, params: Params = None) -> None:
        if name in self._cached:
            self.session.catalog.uncacheTable(name)
        self._frame(sql, params).createOrReplaceTempView(name)
        self.session.catalog.cacheTable(name)
        self._cached.add(name)

    def register(self, name: str, table: pa.Table) -> None:
        self.session.createDataFrame(table).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        self.session.catalog.dropTempView(name)

    def columns(self, name: str) -> list[str]:
        return list(self.session.table(name).columns)

    def define_macro(self, name: str, args: Sequence[str], body: str) -> None:
        self.macros[name] = (tuple(args), body)

    def json_path(self, key: str) -> str:
        # get_json_object reads bracket paths; a quote in a key cannot be written in one
        if "'" in key:
            raise InputError(
                f"The tag key {key!r} has a quote, which Spark's JSON paths cannot name."
            )
        return f"$['{key}']"

    def group_apply(
        self,
        sql: str,
        by: Sequence[str],
        func: GroupFunction,
        schema: pa.Schema,
        params: Params = None,
    ) -> pa.Table:
        frame = self._frame(sql, params)
        source = frame.schema
        ddl = ", ".join(f"`{f.name}` {_spark_type(f.type)}" for f in schema)
        applied = frame.groupBy(*by).applyInPandas(_in_pandas(func, source, schema), schema=ddl)
        return _naive_utc(applied.toArrow()).cast(schema)

    # -- the lake -----------------------------------------------------------

    def read_lake(self, lake: str | Path, cost: Sequence[str] = ()) -> list[str]:
        """Register the lake's tables (``cost/`` … as ``mlcost export lake`` lays them out)
        under the store's names, a missing one as an empty table; returns the names found.

        ``cost/`` may hold the clouds' own FOCUS exports, one per sub-folder, read in place
        with the store's columns (:mod:`mlcost.engine.lake_cost`); ``cost`` names exports
        elsewhere (folders or URIs) to read instead of ``cost/``."""
        from mlcost.engine.lake_cost import cost_sources, read_cost

        root = str(lake).rstrip("/")
        found: list[str] = []
        for table in LAKE_TABLES:
            path = f"{root}/{table}"
            if table == "cost":
                sources = [c.rstrip("/") for c in cost] or cost_sources(self.session, path)
                if sources:
                    read_cost(self.session, sources).createOrReplaceTempView(table)
                    found.append(table)
                else:
                    self.register(table, arrow_schema(table).empty_table())
                continue
            try:
                frame = self.session.read.option("recursiveFileLookup", "true").parquet(path)
            except Exception as exc:  # Spark's AnalysisException: no such path
                if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
                    # absent, as an empty table of the store's: the rules that need it
                    # find nothing, as on a store without it
                    self.register(table, arrow_schema(table).empty_table())
                    continue
                raise
            frame.createOrReplaceTempView(table)
            found.append(table)
        if "cost" not in found and "resources" not in found:
            raise InputError(
                f"The lake {root} has neither cost/ nor resources/ Parquet files.",
                "Write one with `mlcost export lake DIR`, or pass your FOCUS exports with --cost.",
            )
        return found


def _in_pandas(func: GroupFunction, source: Any, schema: pa.Schema) -> Callable[[Any], Any]:
    """``func`` as ``applyInPandas`` calls it: a group's pandas frame in (as Arrow of the
    query's own types, decimals exact), its Arrow result out as pandas."""
    from pyspark.sql.pandas.types import to_arrow_schema

    arrow_in = to_arrow_schema(source)

    def run(frame: Any) -> Any:
        table = pa.Table.from_pandas(frame, schema=arrow_in, preserve_index=False)
        result = func(_naive_utc(table)).cast(schema).combine_chunks()
        return result.to_pandas(integer_object_nulls=True, date_as_object=True)

    return run


def _spark_type(kind: pa.DataType) -> str:
    """Spark's name of an Arrow type (the ones group results use)."""
    if pa.types.is_decimal(kind):
        return f"DECIMAL({kind.precision},{kind.scale})"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMP_NTZ"
    names = {
        pa.string(): "STRING",
        pa.large_string(): "STRING",
        pa.date32(): "DATE",
        pa.int64(): "BIGINT",
        pa.int32(): "INT",
        pa.bool_(): "BOOLEAN",
        pa.float64(): "DOUBLE",
    }
    if kind not in names:
        raise TypeError(f"no Spark type for a group result of Arrow type {kind}")
    return names[kind]


def _naive_utc(table: pa.Table) -> pa.Table:
    """Timestamps as the store keeps them: naive UTC."""
    fields = []
    changed = False
    for f in table.schema:
        if pa.types.is_timestamp(f.type) and f.type.tz is not None:
            fields.append(pa.field(f.name, pa.timestamp("us"), f.nullable))
            changed = True
        else:
            fields.append(f)
    if not changed:
        return table
    columns = [
        c.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
        if pa.types.is_timestamp(c.type) and c.type.tz is not None
        else c
        for c in table.columns
    ]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def analyze_lake(
    store: Store,
    lake: str | Path,
    settings: Settings,
    *,
    session: Any = None,
    cost: Sequence[str] = (),
) -> Analyses:
    """``mlcost analyze --engine spark --lake PATH``: the rules judged on Spark over the
    lake's tables, the findings (with their history), the daily roll-ups, the anomalies
    and the run costs (:func:`mlcost.analysis.analyze_on_engine`) written to ``store``;
    returns what each analysis found, as :func:`mlcost.analysis.run_analyses` does.

    ``session``: a running Spark session (else one from ``[spark]`` settings); ``cost``:
    FOCUS exports (folders or URIs) read as the cost table in place of the lake's
    ``cost/``. The store gives only its own small tables (findings and dismissals) for
    the history.
    """
    from mlcost.engine.lake_cost import lake_error

    engine = SparkEngine(session or spark_session(settings.spark.master, settings.spark.conf))
    engine.read_lake(lake, cost)
    store.init()
    with store.reader() as con:
        for table in ("recommendations", "recommendation_feedback"):
            engine.register(table, con.sql(f"SELECT * FROM {table}").to_arrow_table())  # noqa: S608
    try:
        result, batches = judge_rules(engine, settings.rules)
        # the roll-ups read every billing row: a value the lake's projection refuses
        # stops here, before anything is written to the store
        rolled = _rollup_batches(engine, store.rollup_tag_keys)
    except Exception as exc:
        refused = lake_error(exc)  # a billing value the lake's projection refused
        if refused is None:
            raise
        raise refused from None
    store.load([*(batches if result.as_of is not None else []), *rolled])
    anomalies, run_costs = analyze_on_engine(store, engine, settings)
    return Analyses(recommendations=result, anomalies=anomalies, run_costs=run_costs)


def _rollup_batches(engine: SparkEngine, tag_keys: Sequence[str]) -> list[Batch]:
    """The daily roll-ups (``mlcost.rollups``) of the lake's billing, computed on Spark by
    the statements the store's loads run, as batches for the store: loaded, they replace
    the roll-ups of the billing partitions (source × billing period) the lake holds, so
    the Overview shows the lake's spend (empty tables left out). By ``tag_keys``: the
    store's, which its writer makes the roll-ups hold before the load."""
    tables = rollups.compute(engine, tag_keys)
    return [Batch(name, rows) for name, rows in tables.items() if rows.num_rows]
