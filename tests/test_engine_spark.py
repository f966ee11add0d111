"""DuckDB and Spark (pyspark local[2]) give the same answers: each rewrite on literal data,
and every rule on the sample organisation's lake (ids, rules, resources, savings to the
cent, evidence, history), anomalies and run costs. One Spark session for the module."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

pytest.importorskip("sqlglot", reason="the Spark engine's extra (mlcost[spark]) is not installed")
pytest.importorskip("pyspark", reason="the Spark engine's extra (mlcost[spark]) is not installed")
if shutil.which("java") is None:
    pytest.skip("no Java on PATH: pyspark needs Java 17 or newer", allow_module_level=True)

from mlcost import commitments
from mlcost.config import Settings
from mlcost.engine import DuckDBEngine
from mlcost.engine.spark import SparkEngine, analyze_lake, spark_session
from mlcost.lake import export_lake
from mlcost.recommendations import FIELDS, AnalyzeResult
from mlcost.rollups import ROLLUP_TABLES
from mlcost.store import Store
from mlcost.summary import spend_by
from tests.conftest import copy_store

SAMPLE_KEY = Path(__file__).parent.parent / "sample_data" / "answer_key.json"


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkEngine]:
    started = time.perf_counter()
    session = spark_session("local[2]", {"spark.sql.shuffle.partitions": "2"})
    session.sparkContext.setLogLevel("ERROR")
    print(f"\nSpark session started in {time.perf_counter() - started:.1f} s")
    yield SparkEngine(session)
    session.stop()


@pytest.fixture(scope="module")
def lake(spark: SparkEngine, sample_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample organisation's lake (as `mlcost analyze` left its store), read by Spark."""
    folder = tmp_path_factory.mktemp("lake")
    export_lake(Store(sample_master), folder)
    spark.read_lake(folder)
    return folder


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


@pytest.mark.parametrize("dimension", ["day", "service", "account", "month", "tag:team"])
def test_spend_by_is_the_same_on_spark_over_the_lake(
    spark: SparkEngine, lake: Path, sample_master: Path, dimension: str
) -> None:
    """The daily roll-ups' figures: billed, amortised and usage spend, to the digit."""
    with Store(sample_master).reader() as con:
        expected = spend_by(con, dimension).to_pylist()
    assert len(expected) > 1
    assert spend_by(spark, dimension).to_pylist() == expected


def test_a_lake_without_some_tables_reads_them_as_empty(
    spark: SparkEngine, lake: Path, tmp_path: Path
) -> None:
    shutil.copytree(lake / "cost", tmp_path / "only-cost" / "cost")
    other = SparkEngine(spark.session)
    assert other.read_lake(tmp_path / "only-cost") == ["cost"]
    assert other.rows("SELECT count(*) FROM runs") == [(0,)]
    assert "instance_type" in other.columns("resources")
    assert other.rows("SELECT count(*) FROM cost")[0][0] > 1000
    spark.read_lake(lake)  # the module's other tests read the whole lake


COMMITMENT_VIEWS: dict[str, Callable[[Any], pa.Table]] = {
    "utilisation by month": lambda e: commitments.utilisation(e, grain="month"),
    "utilisation by day": lambda e: commitments.utilisation(e, grain="day"),
    "coverage by provider": lambda e: commitments.coverage(e, by="provider"),
    "coverage by instance family": lambda e: commitments.coverage(e, by="family"),
    "expiring within 60 days": lambda e: commitments.expiring(e),
}


@pytest.mark.parametrize("view", sorted(COMMITMENT_VIEWS))
def test_commitments_are_the_same_on_spark_over_the_lake(
    spark: SparkEngine, lake: Path, sample_master: Path, view: str
) -> None:
    with Store(sample_master).reader() as con:
        expected = COMMITMENT_VIEWS[view](con).to_pylist()
    assert expected
    assert COMMITMENT_VIEWS[view](spark).to_pylist() == expected


@pytest.fixture(scope="module")
def on_spark(
    spark: SparkEngine, lake: Path, sample_master: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Store, AnalyzeResult]:
    """The sample organisation's lake analysed on Spark (`analyze_lake`) into a copy of
    the store `mlcost analyze` (DuckDB) filled: findings, anomalies and run costs."""
    copy = Store(copy_store(sample_master, tmp_path_factory.mktemp("copy")))
    started = time.perf_counter()
    result = analyze_lake(copy, lake, Settings(), session=spark.session)
    rules = sum(r.seconds for r in result.rules)
    total = time.perf_counter() - started
    print(f"\nanalyze_lake on Spark: {total:.1f} s, of which the rules {rules:.1f} s")
    return copy, result


def test_every_rule_finds_the_same_on_spark_over_the_lake(
    on_spark: tuple[Store, AnalyzeResult], sample_master: Path
) -> None:
    """The sample organisation analysed by `mlcost analyze` (DuckDB), and its lake analysed
    on Spark into a copy of the store: the same findings, field for field, with the same
    history."""
    copy, result = on_spark
    on_duckdb, on_spark_ = (_findings(Store(sample_master)), _findings(copy))
    assert sorted(on_spark_) == sorted(on_duckdb)
    differing = {
        (rid, key)
        for rid, row in on_duckdb.items()
        for key, value in row.items()
        if on_spark_[rid][key] != value
    }
    assert differing == set()
    assert {r["rule"] for r in on_spark_.values()} >= {"idle_vm", "commitment_purchase"}
    assert len(on_spark_) == result.findings + sum(
        r["status"] == "closed" for r in on_duckdb.values()
    )
    assert sum(r["estimated_monthly_savings"] or 0 for r in on_spark_.values()) == sum(
        r["estimated_monthly_savings"] or 0 for r in on_duckdb.values()
    )
    # the daily roll-ups computed on Spark over the lake replaced the store's own, and
    # are the same rows, to the last decimal
    spark_rollups, duckdb_rollups = _rollups(copy), _rollups(Store(sample_master))
    assert min(spark_rollups["stamp"]) > max(duckdb_rollups["stamp"])
    assert spark_rollups["rows"] == duckdb_rollups["rows"]


def _rollups(store: Store) -> dict[str, Any]:
    """Every roll-up row but its stamp, and the stamps (when each was rolled up)."""
    out: dict[str, Any] = {"rows": {}, "stamp": []}
    with store.reader() as con:
        for table in ROLLUP_TABLES:
            out["rows"][table] = con.execute(
                f"SELECT * EXCLUDE (rolled_up_at) FROM {table} ORDER BY ALL"  # noqa: S608
            ).fetchall()
            stamps = con.execute(f"SELECT rolled_up_at FROM {table}").fetchall()  # noqa: S608
            out["stamp"] += [r[0] for r in stamps]
    assert out["rows"][ROLLUP_TABLES[0]], "no roll-ups"
    return out


_ANOMALY_FIELDS = (
    "date, provider, scope, scope_value, direction, severity, actual, expected, low, high, drivers"
)


def test_the_anomalies_are_the_same_on_spark_over_the_lake(
    on_spark: tuple[Store, AnalyzeResult], sample_master: Path
) -> None:
    """The anomaly model run per series on Spark (applyInPandas, our judging function):
    the same anomalies as on DuckDB (day, scope, direction, amounts, drivers), the planted
    spike among them at the figure the bill gives."""
    sql = f"SELECT {_ANOMALY_FIELDS} FROM anomalies ORDER BY date, scope, scope_value"  # noqa: S608
    with Store(sample_master).reader() as con:
        on_duckdb = con.sql(sql).to_arrow_table().to_pylist()
        # the forgotten p5 cluster (answer key): the day's whole usage bill, by hand
        spike_day = con.execute(
            "SELECT sum(EffectiveCost) FROM cost WHERE ChargeCategory = 'Usage' "
            "AND ChargePeriodEnd <= ChargePeriodStart + INTERVAL 1 DAY "
            "AND CAST(ChargePeriodStart AS DATE) = DATE '2026-09-09'"
        ).fetchone()[0]
    with on_spark[0].reader() as con:
        spark_rows = con.sql(sql).to_arrow_table().to_pylist()
    assert len(on_duckdb) > 20
    assert spark_rows == on_duckdb
    spike = next(a for a in spark_rows if (a["date"], a["scope"]) == (date(2026, 9, 9), "total"))
    assert (spike["direction"], spike["actual"]) == ("spike", spike_day)
    assert spike["actual"] - spike["expected"] > 5000  # the answer key's ~$5.3k


def test_run_costs_are_the_same_on_spark_to_the_cent_and_conserve_the_bill(
    on_spark: tuple[Store, AnalyzeResult], sample_master: Path
) -> None:
    """Attribution per machine-day on Spark (applyInPandas, our split): every run_costs
    row as on DuckDB, exactly; runs plus idle equal each shared machine's usage bill;
    the experiments' costs are the answer key's."""
    sql = (
        "SELECT run_id, resource_id, day, method, cost, idle_share, gpu_efficiency "
        "FROM run_costs ORDER BY ALL"
    )
    conserved = (
        "SELECT (SELECT sum(cost) FROM run_costs WHERE method = 'time_share'), "
        "(SELECT sum(EffectiveCost) FROM cost WHERE ChargeCategory = 'Usage' AND ResourceId "
        "IN (SELECT resource_id FROM run_costs WHERE method = 'time_share'))"
    )
    by_experiment = (
        "SELECT r.experiment, round(sum(c.cost), 2) FROM run_costs AS c "
        "JOIN runs AS r USING (run_id) GROUP BY 1"
    )
    with Store(sample_master).reader() as con:
        on_duckdb = con.execute(sql).fetchall()
    with on_spark[0].reader() as con:
        spark_rows = con.execute(sql).fetchall()
        shared, billed = con.execute(conserved).fetchone()
        experiments = dict(con.execute(by_experiment).fetchall())
    assert len(on_duckdb) > 1000
    assert spark_rows == on_duckdb
    assert shared == billed
    key = json.loads(SAMPLE_KEY.read_text("utf-8"))["experiments"]
    assert experiments == {e["experiment"]: Decimal(e["cost"]) for e in key}
    assert experiments["foundation-vision/pretrain-vit-l"] == Decimal("80867.11")


def _findings(store: Store) -> dict[str, dict[str, Any]]:
    with store.reader() as con:
        rows = con.sql(f"SELECT {', '.join(FIELDS)} FROM recommendations").to_arrow_table()  # noqa: S608
    return {r["id"]: _comparable(r) for r in rows.to_pylist()}
