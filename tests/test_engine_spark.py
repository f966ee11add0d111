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

import mlcost.engine.spark as spark_module
from mlcost import commitments, rollups
from mlcost.analysis import Analyses
from mlcost.cli.common import out
from mlcost.config import Settings
from mlcost.engine import DuckDBEngine
from mlcost.engine.lake_cost import lake_error
from mlcost.engine.spark import SparkEngine, analyze_lake, spark_session
from mlcost.errors import InputError
from mlcost.export import export_focus
from mlcost.lake import export_lake
from mlcost.recommendations import FIELDS
from mlcost.rollups import ROLLUP_TABLES
from mlcost.schema import FOCUS_COLUMNS, MONEY
from mlcost.store import Store
from mlcost.summary import spend_by
from tests.conftest import copy_store, run_main

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
) -> tuple[Store, Analyses]:
    """The sample organisation's lake analysed on Spark (`analyze_lake`) into a copy of
    the store `mlcost analyze` (DuckDB) filled: findings, anomalies and run costs."""
    copy = Store(copy_store(sample_master, tmp_path_factory.mktemp("copy")))
    started = time.perf_counter()
    result = analyze_lake(copy, lake, Settings(), session=spark.session)
    rules = sum(r.seconds for r in result.recommendations.rules)
    total = time.perf_counter() - started
    print(f"\nanalyze_lake on Spark: {total:.1f} s, of which the rules {rules:.1f} s")
    return copy, result


def test_every_rule_finds_the_same_on_spark_over_the_lake(
    on_spark: tuple[Store, Analyses], sample_master: Path
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
    assert len(on_spark_) == result.recommendations.findings + sum(
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


def test_the_rollups_by_configured_tag_keys_are_the_same_on_spark(
    spark: SparkEngine, lake: Path, sample_master: Path
) -> None:
    """The roll-ups by other tag keys than the default (``anomalies.tag_keys``, which
    `analyze_lake` takes from the store) computed on Spark over the lake: DuckDB's rows
    over the store, to the last decimal."""
    keys = ("env", "team")
    on_spark = rollups.compute(spark, keys)
    with Store(sample_master).reader() as con:
        on_duckdb = rollups.compute(con, keys)
    for name in ROLLUP_TABLES:
        want = on_duckdb[name]
        got = on_spark[name].select(want.column_names).cast(want.schema)
        assert want.num_rows > 100
        assert sorted(got.to_pylist(), key=repr) == sorted(want.to_pylist(), key=repr), name
    assert set(on_spark[rollups.DAILY_BY_TAG].column("tag_key").to_pylist()) == set(keys)


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


def test_analyze_on_spark_prints_what_analyze_on_duckdb_prints(
    on_spark: tuple[Store, Analyses],
    lake: Path,
    sample_master: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`mlcost analyze --engine spark` prints what `analyze_lake` computed (the module's
    run, not a second one) in the lines `mlcost analyze` prints: the billing, headline
    and spend, the findings by rule with their savings, the anomalies and the run costs;
    in 80 columns."""
    copy, done = on_spark
    asked: list[tuple[Path, str, tuple[str, ...]]] = []

    def analyzed(store: Store, at: str, settings: Settings, *, cost: Any = ()) -> Analyses:
        asked.append((store.path, at, tuple(cost)))
        return done

    monkeypatch.setattr(spark_module, "analyze_lake", analyzed)
    monkeypatch.setattr(out, "width", 80)
    ran = run_main(
        capsys,
        "--db",
        str(copy.path),
        "analyze",
        "--format",
        "table",
        "--engine",
        "spark",
        "--lake",
        str(lake),
    )
    assert ran.code == 0, ran.stderr
    assert asked == [(copy.path, str(lake), ())]
    duck = copy_store(sample_master, tmp_path / "duckdb")
    on_duckdb = run_main(
        capsys, "--db", str(duck), "analyze", "--format", "table"
    ).stdout.splitlines()
    lines = ran.stdout.splitlines()
    head, tail = lines[: len(lines) - len(on_duckdb)], lines[len(lines) - len(on_duckdb) :]
    as_of = done.recommendations.as_of
    assert as_of is not None
    assert (
        " ".join(" ".join(head).split())
        == f"Analysed on Spark over {lake} (data to {as_of:%Y-%m-%d})."
    )
    assert tail == on_duckdb
    assert max(len(line) for line in lines) <= 80
    printed = " ".join(ran.stdout.split())
    for said in (
        "Headline, charges of",
        "Open findings by rule and provider",
        "/month (each resource once).",
        " ".join(done.anomalies.summary().split()),
        f"Run costs: {done.run_costs.summary()} (mlcost experiments).",
    ):
        assert said in printed, said


_ANOMALY_FIELDS = (
    "date, provider, scope, scope_value, direction, severity, actual, expected, low, high, drivers"
)


def test_the_anomalies_are_the_same_on_spark_over_the_lake(
    on_spark: tuple[Store, Analyses], sample_master: Path
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
    on_spark: tuple[Store, Analyses], sample_master: Path
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


# -- the clouds' own FOCUS exports read in place as the cost table -------------------------

_MONEY = [c for c, t in FOCUS_COLUMNS.items() if t == MONEY]
_TIMES = [c for c, t in FOCUS_COLUMNS.items() if t == "TIMESTAMP"]
_TAG_PAIRS = (
    "list_transform(json_keys(Tags), lambda k: {'key': k, 'value': Tags->>k, 'x_inherited': false})"
)

#: Each export's physical shape, written by DuckDB from the store's rows: (money, time,
#: Tags as SQL over a column {c}; the x_ column it adds; the file under the export folder).
SHAPES: dict[str, tuple[str, str, str, str, str]] = {
    # AWS Data Exports, FOCUS 1.2 with AWS columns: doubles, UTC timestamps, Tags a map
    "aws": (
        "CAST({c} AS DOUBLE)",
        "timezone('UTC', {c})",
        "CAST(CAST(Tags AS JSON) AS MAP(VARCHAR, VARCHAR))",
        "'AmazonEC2' AS x_ServiceCode",
        "focus-export/data/BILLING_PERIOD={p}/focus-export-00001.snappy.parquet",
    ),
    # Azure FocusCost (Parquet): doubles, zone-less timestamps, Tags JSON text
    "azure": (
        "CAST({c} AS DOUBLE)",
        "{c}",
        "CAST(Tags AS VARCHAR)",
        "'ml' AS x_ResourceGroupName",
        "focuscost/{p}01-{p}28/8c3a9f0e-run/part_0_0001.parquet",
    ),
    # GCP's FOCUS table exported to Parquet: NUMERIC (DECIMAL(38,9); one more place here
    # for the sample's Azure rows, at 10), UTC timestamps, Tags a list of key/value structs
    "gcp": (
        "CAST({c} AS DECIMAL(38, 10))",
        "timezone('UTC', {c})",
        _TAG_PAIRS,
        "'regular' AS x_CostType",
        "focus-{p}-000000000000.parquet",
    ),
    # Azure FocusCost (CSV): every value text, as the CSV export writes it
    "azure-csv": (
        "CAST({c} AS VARCHAR)",
        "strftime({c}, '%Y-%m-%dT%H:%M:%SZ')",
        "CAST(Tags AS VARCHAR)",
        "'ml' AS x_ResourceGroupName",
        "focuscost/{p}01-{p}28/run/part_0_0001.csv",
    ),
}


def write_shape(lake: Path, folder: Path, shape: str, where: str = "true") -> Path:
    """The lake's cost rows (``where``) as a cloud writes its FOCUS export, one file per
    billing period, with the cloud's own files beside them (manifests)."""
    money, time_, tags, extra, layout = SHAPES[shape]
    replaced = [*(f"{money.format(c=c)} AS {c}" for c in _MONEY)]
    replaced += [f"{time_.format(c=c)} AS {c}" for c in _TIMES]
    replaced.append(f"{tags} AS Tags")
    if shape == "azure-csv":
        replaced += [f"CAST({c} AS VARCHAR) AS {c}" for c in ("SkuPriceDetails",)]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = f"SELECT * FROM read_parquet('{lake}/cost/*.parquet') WHERE {where}"  # noqa: S608
    by_period = f"SELECT DISTINCT strftime(BillingPeriodStart, '%Y-%m') FROM ({rows})"  # noqa: S608
    periods = con.sql(by_period).fetchall()
    for (period,) in periods:
        target = folder / layout.format(p=period)
        target.parent.mkdir(parents=True, exist_ok=True)
        query = (
            f"SELECT * EXCLUDE (x_source, x_ingested_at) REPLACE ({', '.join(replaced)}), "  # noqa: S608
            f"{extra} FROM ({rows}) WHERE strftime(BillingPeriodStart, '%Y-%m') = '{period}'"
        )
        fmt = "(FORMAT csv, HEADER true)" if shape == "azure-csv" else "(FORMAT parquet)"
        con.execute(f"COPY ({query}) TO '{target}' {fmt}")
        (target.parent / "manifest.json").write_text('{"files": []}')
    return folder


def _rows_not_in_the_store(engine: SparkEngine, lake: Path) -> tuple[int, int, int]:
    """(rows, rows of the cost table the store's lake lacks, rows of the store's lake the
    cost table lacks), comparing every FOCUS column's value (Tags as JSON text)."""
    ours = engine.session.table("cost").select(*FOCUS_COLUMNS)
    store = engine.session.read.parquet(str(lake / "cost")).select(*FOCUS_COLUMNS)
    return ours.count(), ours.exceptAll(store).count(), store.exceptAll(ours).count()


@pytest.mark.parametrize("shape", [*SHAPES, "mlcost export focus"])
def test_each_clouds_export_reads_as_the_stores_cost_rows(
    spark: SparkEngine, lake: Path, sample_master: Path, tmp_path: Path, shape: str
) -> None:
    """Each cloud's FOCUS export of the sample organisation, read in place: every row,
    every FOCUS column, every value the store holds (money to the last decimal, tags as
    the same JSON text)."""
    if shape == "mlcost export focus":
        export_focus(Store(sample_master), tmp_path / "export")
        folder = tmp_path / "export"
    else:
        folder = write_shape(lake, tmp_path / shape, shape)
    other = SparkEngine(spark.session)
    other.read_lake(lake, cost=[str(folder)])
    rows, extra, missing = _rows_not_in_the_store(other, lake)
    assert (rows, extra, missing) == (12_829, 0, 0)
    spark.read_lake(lake)


def test_a_lake_of_the_three_clouds_exports_reads_as_the_store(
    spark: SparkEngine, lake: Path, sample_master: Path, tmp_path: Path
) -> None:
    """cost/aws, cost/azure, cost/gcp: each cloud's rows in its own export's shape, found
    as three exports and read in place side by side: the store's rows and spend. (The
    rules' findings follow from the rows: every rule is checked on Spark over the store's
    own lake above, and a full run here would double the module's time.)"""
    mixed = tmp_path / "mixed"
    shutil.copytree(lake, mixed, ignore=lambda d, names: ["cost"] if d == str(lake) else [])
    write_shape(lake, mixed / "cost" / "aws", "aws", "ProviderName = 'AWS'")
    write_shape(lake, mixed / "cost" / "azure", "azure", "ProviderName = 'Microsoft'")
    write_shape(lake, mixed / "cost" / "gcp", "gcp", "ProviderName = 'Google Cloud'")
    other = SparkEngine(spark.session)
    assert other.read_lake(mixed) == ["cost", "resources", "metrics", "prices", "runs"]
    assert _rows_not_in_the_store(other, lake) == (12_829, 0, 0)
    with Store(sample_master).reader() as con:
        expected = spend_by(con, "tag:team").to_pylist()
    assert spend_by(other, "tag:team").to_pylist() == expected


def test_an_export_without_a_required_column_is_refused_by_name(
    spark: SparkEngine, lake: Path, tmp_path: Path
) -> None:
    folder = write_shape(lake, tmp_path / "aws", "aws")
    for part in folder.rglob("*.parquet"):
        with duckdb.connect() as con:
            con.execute(f"COPY (SELECT * EXCLUDE (EffectiveCost) FROM '{part}') TO '{part}'")  # noqa: S608
    with pytest.raises(InputError, match=r"aws: missing the required FOCUS column EffectiveCost"):
        SparkEngine(spark.session).read_lake(lake, cost=[str(folder)])


def test_a_cost_of_a_type_that_is_no_amount_is_refused_by_name(
    spark: SparkEngine, lake: Path, tmp_path: Path
) -> None:
    folder = write_shape(lake, tmp_path / "aws", "aws")
    for part in folder.rglob("*.parquet"):
        with duckdb.connect() as con:
            con.execute(
                f"COPY (SELECT * REPLACE (BilledCost > 0 AS BilledCost) FROM '{part}') "  # noqa: S608
                f"TO '{part}'"
            )
    with pytest.raises(InputError, match=r"column BilledCost is boolean, which mlcost cannot"):
        SparkEngine(spark.session).read_lake(lake, cost=[str(folder)])


@pytest.mark.parametrize(
    ("shape", "column", "bad", "said"),
    [
        ("azure-csv", "BilledCost", "'12,5'",
         "expected a finite number that fits DECIMAL(38,12), found '12,5'"),
        ("azure-csv", "ChargePeriodStart", "'yesterday'",
         "expected a timestamp (ISO 8601), found 'yesterday'"),
        ("azure-csv", "ChargeCategory", "'Usgae'", "expected one of Usage, Purchase"),
        ("azure", "BilledCost", "CAST('NaN' AS DOUBLE)", "expected a finite number"),
        ("gcp", "Tags", "[{'key': 'team', 'value': 'a', 'x_inherited': false}, "
         "{'key': 'team', 'value': 'b', 'x_inherited': true}]", "expected each tag key once"),
    ],
)  # fmt: skip
def test_a_value_that_does_not_convert_is_refused_naming_it(
    spark: SparkEngine, lake: Path, tmp_path: Path, shape: str, column: str, bad: str, said: str
) -> None:
    """Never a silent NULL: a query that reads one row's bad value stops, with the
    export's folder, the column and the value."""
    folder = _with_a_bad_value(lake, tmp_path, shape, column, bad)
    other = SparkEngine(spark.session)
    other.read_lake(lake, cost=[str(folder)])
    with pytest.raises(Exception) as raised:
        other.rows(f'SELECT count("{column}") FROM cost')  # noqa: S608
    refused = lake_error(raised.value)
    assert refused is not None
    assert refused.message.startswith(f"{folder}: column {column}: {said}")


def test_a_bad_value_stops_analyze_and_leaves_the_store_unchanged(
    spark: SparkEngine, lake: Path, sample_master: Path, tmp_path: Path
) -> None:
    """A value stops the analyses that read it (a row no analysis reads is never
    converted): here every row's, so the first rule that reads the billing stops."""
    folder = _with_a_bad_value(lake, tmp_path, "azure-csv", "ChargeCategory", "'Usgae'", "true")
    copy = Store(copy_store(sample_master, tmp_path / "copy"))
    before = _findings(copy)
    with pytest.raises(InputError, match=r"column ChargeCategory: expected one of .*'Usgae'"):
        analyze_lake(copy, lake, Settings(), session=spark.session, cost=[str(folder)])
    assert _findings(copy) == before
    spark.read_lake(lake)


def _with_a_bad_value(
    lake: Path, tmp_path: Path, shape: str, column: str, bad: str, rows: str = "third"
) -> Path:
    """An export of ``shape`` with ``bad`` in ``column``: in the third row of its last
    file, or in every row (``rows="true"``)."""
    folder = write_shape(lake, tmp_path / shape, shape)
    parts = sorted(folder.rglob("part_0_0001.*" if "azure" in shape else "*.parquet"))
    which = "row_number() OVER () = 3" if rows == "third" else rows
    for part in parts if rows != "third" else parts[-1:]:
        _replace_value(part, shape, column, bad, which)
    return folder


def _replace_value(part: Path, shape: str, column: str, bad: str, which: str) -> None:
    with duckdb.connect() as con:
        source = f"read_csv('{part}', all_varchar=true)" if shape == "azure-csv" else f"'{part}'"
        fmt = "(FORMAT csv, HEADER true)" if shape == "azure-csv" else "(FORMAT parquet)"
        con.execute(
            f"COPY (SELECT * REPLACE (CASE WHEN {which} THEN {bad} "  # noqa: S608
            f"ELSE {column} END AS {column}) FROM {source}) TO '{part}.new' {fmt}"
        )
    Path(f"{part}.new").replace(part)
