"""DuckDB and Spark (pyspark local[2]) give the same answers: each rewrite on literal data,
and every rule on the sample organisation's lake (ids, rules, resources, savings to the
cent, evidence, history). One Spark session for the module."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

pytest.importorskip("sqlglot", reason="the Spark engine's extra (mlcost[spark]) is not installed")
pytest.importorskip("pyspark", reason="the Spark engine's extra (mlcost[spark]) is not installed")
if shutil.which("java") is None:
    pytest.skip("no Java on PATH: pyspark needs Java 17 or newer", allow_module_level=True)

from mlcost.engine import DuckDBEngine
from mlcost.engine.spark import SparkEngine, spark_session
from mlcost.lake import export_lake
from mlcost.recommendations import FIELDS, judge_rules
from mlcost.store import Store


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkEngine]:
    started = time.perf_counter()
    session = spark_session("local[2]", {"spark.sql.shuffle.partitions": "2"})
    session.sparkContext.setLogLevel("ERROR")
    print(f"\nSpark session started in {time.perf_counter() - started:.1f} s")
    yield SparkEngine(session)
    session.stop()


# Each: a DuckDB expression whose Spark translation once gave another answer.
EXPRESSIONS = {
    "instance family (regexp backreference)": (
        "regexp_replace('Standard_E32s_v5', '^(Standard_[A-Za-z]+)[0-9]+', '\\1')"
    ),
    "days between 23:00 and 01:00 next day": (
        "date_diff('day', TIMESTAMP '2026-01-01 23:00:00', TIMESTAMP '2026-01-02 01:00:00')"
    ),
    "hours between 23:59 and 00:01": (
        "date_diff('hour', TIMESTAMP '2026-01-01 23:59:00', TIMESTAMP '2026-01-02 00:01:00')"
    ),
    "tag with a space, path built from its key": (
        """json_extract_string('{"cost center": "ml-42"}', '$."' || 'cost center' || '"')"""
    ),
    "tag read by a JSON pointer": """json_extract_string('{"team": "vision"}', '/team')""",
    "ISO weekday of a Sunday": "isodow(TIMESTAMP '2026-11-01 10:00:00')",
    "second item of a list (1-based)": "['Mon', 'Tue', 'Wed'][2]",
    "item of a list at a computed index": (
        "(SELECT ['Mon', 'Tue', 'Wed'][d] FROM (VALUES (3)) v(d))"
    ),
    "95th percentile, interpolated": (
        "(SELECT quantile_cont(CAST(x AS DOUBLE), 0.95) FROM (VALUES (1), (2), (10)) v(x))"
    ),
    "ordered string_agg": (
        "(SELECT string_agg(c, '' ORDER BY h) FROM (VALUES ('b', 2), ('a', 1), ('c', 3)) v(c, h))"
    ),
    "timestamp with an offset, as naive UTC": (
        "timezone('UTC', TRY_CAST('2026-10-01T12:00:00+02:00' AS TIMESTAMPTZ))"
    ),
}


@pytest.mark.parametrize("what", sorted(EXPRESSIONS))
def test_each_rewrite_gives_duckdbs_answer_on_spark(spark: SparkEngine, what: str) -> None:
    sql = f"SELECT {EXPRESSIONS[what]} AS v"
    expected = DuckDBEngine(duckdb.connect()).rows(sql)[0][0]
    assert spark.rows(sql)[0][0] == expected


def test_json_object_keeps_null_members_and_duckdbs_timestamps(spark: SparkEngine) -> None:
    sql = "SELECT json_object('a', NULL, 'at', TIMESTAMP '2026-10-01 05:00:00', 'n', 2) AS v"
    expected = json.loads(DuckDBEngine(duckdb.connect()).rows(sql)[0][0])
    assert (
        json.loads(spark.rows(sql)[0][0])
        == expected
        == {
            "a": None,
            "at": "2026-10-01 05:00:00",
            "n": 2,
        }
    )


def test_parameters_reach_spark_as_values_never_as_text(spark: SparkEngine) -> None:
    hostile = "x' OR '1'='1"
    rows = spark.rows(
        "SELECT $v AS v, list_contains($l, 'b') AS has_b, $d + 1 AS d",
        {"v": hostile, "l": ["a", "b"], "d": Decimal("1.25")},
    )
    assert rows == [(hostile, True, Decimal("2.25"))]


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    """A finding as a user reads it: JSON parsed (numbers by value), money to the cent."""
    out = dict(row)
    for key in ("evidence", "tags"):
        if out[key] is not None:
            out[key] = json.loads(out[key], parse_float=Decimal)
    for key in ("monthly_cost", "estimated_monthly_savings"):
        if out[key] is not None:
            out[key] = Decimal(out[key]).quantize(Decimal("0.01"))
    return out


def test_every_rule_finds_the_same_on_spark_over_the_lake(
    spark: SparkEngine, sample_master: Path, tmp_path: Path
) -> None:
    """The sample organisation analysed by `mlcost analyze` (DuckDB), and its lake judged on
    Spark: the same findings, field for field, with the same history."""
    store = Store(sample_master)
    export_lake(store, tmp_path / "lake")
    spark.read_lake(tmp_path / "lake")
    with store.reader() as con:
        for table in ("recommendations", "recommendation_feedback"):
            spark.register(table, con.sql(f"SELECT * FROM {table}").to_arrow_table())  # noqa: S608
        fields = ", ".join(FIELDS)
        stored = con.sql(f"SELECT {fields} FROM recommendations").to_arrow_table()  # noqa: S608
    started = time.perf_counter()
    result, batches = judge_rules(spark, {})
    print(f"\n{len(result.rules)} rules judged on Spark in {time.perf_counter() - started:.1f} s")
    on_spark = {r["id"]: _comparable(r) for b in batches for r in b.data.to_pylist()}
    on_duckdb = {r["id"]: _comparable(r) for r in stored.to_pylist()}
    assert sorted(on_spark) == sorted(on_duckdb)
    differing = {
        (rid, key)
        for rid, row in on_duckdb.items()
        for key, value in row.items()
        if on_spark[rid][key] != value
    }
    assert differing == set()
    assert {r["rule"] for r in on_spark.values()} >= {"idle_vm", "commitment_purchase"}
    assert sum(r["estimated_monthly_savings"] or 0 for r in on_spark.values()) == sum(
        r["estimated_monthly_savings"] or 0 for r in on_duckdb.values()
    )
