"""Every rule and analysis statement translates to Spark SQL, and each rewrite says in
Spark what DuckDB means (no JVM needed: text only; tests/test_engine_spark.py runs them)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
import pytest

pytest.importorskip("sqlglot", reason="the Spark engine's extra (mlcost[spark]) is not installed")

from mlcost import anomalies, attribution, commitments, figures, rollups, summary, views
from mlcost.config import AnomalySettings
from mlcost.engine import Engine, Params
from mlcost.engine.translate import TranslationError, to_spark
from mlcost.filters import Filters
from mlcost.recommendations import _MERGE
from mlcost.rules import all_rules
from mlcost.rules.base import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from mlcost.rules.engine import _AS_OF, MACROS, PREPARED, finding_sql
from mlcost.summary import DIMENSIONS, data_end, spend_by

MACRO_MAP = {name: (args, body) for name, args, body in MACROS}


class Recorder(Engine):
    """An engine that keeps the statements an analysis asks it to run (and returns no rows)."""

    name = "recorder"

    def __init__(self) -> None:
        self.statements: list[str] = []

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        self.statements.append(sql)
        return pa.table({})

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        self.statements.append(sql)
        return []

    def materialise(self, name: str, sql: str, params: Params = None) -> None:
        self.statements.append(sql)

    def register(self, name: str, table: pa.Table) -> None: ...

    def unregister(self, name: str) -> None: ...

    def columns(self, name: str) -> list[str]:
        return []

    def define_macro(self, name: str, args: Sequence[str], body: str) -> None: ...


def summary_statements() -> dict[str, str]:
    """The spend summaries' statements, for every dimension (and a tag), filtered."""
    found: dict[str, str] = {}
    filters = Filters(providers=("aws",), accounts=("1",), tags={"team": ("ml",)})
    for dimension in [*DIMENSIONS, "tag:team"]:
        recorder = Recorder()
        spend_by(recorder, dimension, filters=filters, limit=10)
        found[f"summary.spend_by({dimension})"] = recorder.statements[0]
    recorder = Recorder()
    data_end(recorder)
    found["summary.data_end"] = recorder.statements[0]
    for grain in commitments.GRAINS:
        recorder = Recorder()
        commitments.utilisation(recorder, grain=grain)
        found[f"commitments.utilisation({grain})"] = recorder.statements[0]
    for by in commitments.COVERAGE_BY:
        recorder = Recorder()
        commitments.coverage(recorder, by=by, accounts=("1",), tags={"team": ("ml",)})
        found[f"commitments.coverage({by})"] = recorder.statements[0]
    recorder = Recorder()
    commitments.expiring(recorder, as_of=datetime(2026, 11, 1))
    found["commitments.expiring"] = recorder.statements[0]
    return found


def module_statements(module: Any) -> dict[str, str]:
    """A module's SQL constants (``_USAGE = "SELECT …"``): a new one joins the walk."""
    return {
        f"{module.__name__.rsplit('.', 1)[-1]}.{name}": value.format(days="_mlcost_days")
        for name, value in vars(module).items()
        if name.lstrip("_").isupper()
        and isinstance(value, str)
        and "SELECT" in value
        and name != "_LIST_SQL"  # the stored anomalies' listing: the store's, never on Spark
    }


def anomaly_and_attribution_statements() -> dict[str, str]:
    """The anomaly model's and attribution's statements: their constants, every scope's
    series and the drivers of every scope kind (tag keys with a space and a dot)."""
    found = module_statements(anomalies) | module_statements(attribution)
    settings = AnomalySettings(tag_keys=["team", "cost center", "mlcost.run_id"])
    path = Recorder().json_path
    found["anomalies.series"] = anomalies._series_sql(settings, path)[0]
    found["anomalies.drivers"] = anomalies._drivers_sql(settings, path)[0]
    return found


def analysis_statements() -> dict[str, str]:
    """Every statement the analyses run through an engine, by a name for the report."""
    statements = {"rules.as_of": _AS_OF, "recommendations.merge": _MERGE}
    statements |= {f"rules.prepare.{name}": sql for name, sql in PREPARED}
    statements |= {f"rule.{rule.id}": rule.sql for rule in all_rules().values()}
    statements["rules.findings(all columns)"] = finding_sql(
        set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    )
    statements["rules.findings(required columns)"] = finding_sql(set(REQUIRED_COLUMNS))
    return statements | summary_statements() | anomaly_and_attribution_statements()


@pytest.mark.parametrize("name", sorted(analysis_statements()))
def test_every_rule_and_analysis_statement_translates_to_spark(name: str) -> None:
    spark = to_spark(analysis_statements()[name], MACRO_MAP)
    # what has no Spark form must not survive translation
    lowered = spark.lower()
    for duckdb_only in (
        "provider_key(",
        "detail_time(",
        "price_product(",
        "to_days(",
        "to_seconds(",
    ):
        assert duckdb_only not in lowered, f"{name}: {duckdb_only} left in {spark}"
    assert not re.search(r"\$[a-z_]", lowered), f"{name}: a DuckDB parameter left in {spark}"
    assert not re.search(r"\b(json_object|percentile_cont)\(", lowered), spark


def test_the_walk_covers_every_registered_rule() -> None:
    names = analysis_statements()
    assert {n.removeprefix("rule.") for n in names if n.startswith("rule.")} == set(all_rules())


def test_the_walk_covers_the_anomaly_model_and_attribution() -> None:
    names = set(analysis_statements())
    assert {
        "anomalies._LAST_DAYS",
        "anomalies._GPU_DRIVERS",
        "anomalies.series",
        "anomalies.drivers",
        "attribution._USAGE",
        "attribution._MACHINE_DAYS",
        "attribution._GPU_UTIL",
        "attribution._TAGGED_LINES",
    } <= names
    assert "anomalies._LIST_SQL" not in names


def test_parameters_stay_parameters() -> None:
    assert to_spark("SELECT * FROM t WHERE a = $name AND b < $as_of") == (
        "SELECT * FROM t WHERE a = :name AND b < :as_of"
    )


def test_a_macro_call_is_replaced_by_its_body_with_the_arguments_put_in() -> None:
    out = to_spark("SELECT provider_key(ProviderName) FROM cost", MACRO_MAP)
    assert "CASE WHEN (ProviderName) = 'AWS' THEN 'aws'" in out
    nested = to_spark("SELECT detail_time(details, 'launch_time') FROM resources", MACRO_MAP)
    assert nested == (
        "SELECT (CAST(TRY_CAST(GET_JSON_OBJECT((details), '$[\\'' || ('launch_time') || '\\']')"
        " AS TIMESTAMP_LTZ) AS TIMESTAMP_NTZ)) FROM resources"
    )


def test_regexp_replace_backreferences_are_java_ones() -> None:
    out = to_spark("SELECT regexp_replace(t, '^(Standard_[A-Za-z]+)[0-9]+', '\\1')")
    assert out == "SELECT REGEXP_REPLACE(t, '^(Standard_[A-Za-z]+)[0-9]+', '$1')"


def test_json_paths_built_from_keys_and_json_pointers_become_bracket_paths() -> None:
    assert to_spark("""SELECT json_extract_string(tags, '$."' || k || '"')""") == (
        "SELECT GET_JSON_OBJECT(tags, '$[\\'' || k || '\\']')"
    )
    assert to_spark("SELECT json_extract_string(tags, '/team')") == (
        "SELECT GET_JSON_OBJECT(tags, '$[\\'team\\']')"
    )
    assert to_spark("""SELECT json_extract_string(tags, '$."cost center"')""") == (
        "SELECT GET_JSON_OBJECT(tags, '$[\\'cost center\\']')"
    )


def test_date_diff_counts_boundaries_as_duckdb_does() -> None:
    assert to_spark("SELECT date_diff('day', a, b)") == (
        "SELECT DATEDIFF(CAST(b AS DATE), CAST(a AS DATE))"
    )
    assert to_spark("SELECT date_diff('second', a, b)") == "SELECT TIMESTAMPDIFF(SECOND, a, b)"
    assert to_spark("SELECT date_diff('hour', a, b)") == (
        "SELECT TIMESTAMPDIFF(HOUR, DATE_TRUNC('hour', a), DATE_TRUNC('hour', b))"
    )


def test_json_object_is_a_struct_written_as_json_with_duckdb_timestamps() -> None:
    out = to_spark("SELECT json_object('a', x, 'inner', json_object('b', y))")
    assert out == (
        "SELECT TO_JSON(NAMED_STRUCT('a', x, 'inner', NAMED_STRUCT('b', y)), "
        "MAP('timestampFormat', 'yyyy-MM-dd HH:mm:ss', "
        "'timestampNTZFormat', 'yyyy-MM-dd HH:mm:ss'))"
    )


def test_ordered_aggregates_sort_what_they_collect() -> None:
    assert to_spark("SELECT string_agg(c, '' ORDER BY h) FROM g") == (
        "SELECT ARRAY_JOIN(TRANSFORM(ARRAY_SORT(COLLECT_LIST(NAMED_STRUCT('k0', h, 'v', c))), "
        "_s -> _s.v), '') FROM g"
    )
    with pytest.raises(TranslationError, match="descending"):
        to_spark("SELECT list(c ORDER BY h DESC) FROM g")


def test_list_indexes_weekdays_percentiles_and_ranges() -> None:
    assert to_spark("SELECT ['Mon', 'Tue'][d]") == (
        "SELECT ELEMENT_AT(ARRAY('Mon', 'Tue'), CAST(d AS INT))"
    )
    assert to_spark("SELECT ['Mon', 'Tue'][2]") == (
        "SELECT ELEMENT_AT(ARRAY('Mon', 'Tue'), CAST(2 AS INT))"
    )
    assert to_spark("SELECT isodow(ts)") == "SELECT WEEKDAY(ts) + 1"
    assert to_spark("SELECT quantile_cont(x, 0.95) FROM t") == "SELECT PERCENTILE(x, 0.95) FROM t"
    assert to_spark("SELECT n FROM range(1, 8) d(n)") == "SELECT n FROM RANGE(1, 8) AS d(n)"
    assert to_spark("SELECT $t - to_days(3)") == "SELECT :t - MAKE_DT_INTERVAL(3)"
    assert to_spark("SELECT ts + to_seconds(p)") == "SELECT ts + MAKE_DT_INTERVAL(0, 0, 0, p)"


def test_what_cannot_be_translated_says_so() -> None:
    with pytest.raises(TranslationError, match="parse"):
        to_spark("SELECT json_object('a' || b, 1)")
    with pytest.raises(TranslationError, match="timezone"):
        to_spark("SELECT timezone('Europe/Paris', ts)")


class Answering(Recorder):
    """A recorder that answers its first query with a day (the end of the data), so that
    what is asked after it is recorded too; named ``duckdb`` when the store's roll-ups
    are to be read (``mlcost.rollups``)."""

    def __init__(self, name: str = "recorder") -> None:
        super().__init__()
        self.name = name

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        self.statements.append(sql)
        return [] if len(self.statements) > 1 else [(datetime(2026, 10, 1),) * 4]


def view_statements() -> dict[str, str]:
    """The dashboard's statements (``mlcost.views``, ``mlcost.figures``, the summaries),
    over ``cost`` and over the roll-ups, and the roll-ups' own."""
    found: dict[str, str] = {}
    filters = Filters(since=datetime(2026, 9, 1).date(), providers=("aws",), tags={"team": ("ml",)})
    for name in ("recorder", "duckdb"):
        calls: dict[str, Callable[[Engine], object]] = {
            "filter_options": lambda e: views.filter_options(e, "team"),
            "month_spend": lambda e: views.month_spend(e, filters),
            "figures.spend": lambda e: figures.spend(e, filters),
            "figures.charge_days": lambda e: figures.charge_days(e, filters),
            "summary.overview": summary.overview,
            "freshness": views.freshness,
            "resource_metrics": lambda e: views.resource_metrics(e, "i-1"),
            "resource_ids": lambda e: views.resource_ids(e, filters),
            "metric_names": lambda e: views.metric_names(e, "exp"),
            "coverage_months": lambda e: e.rows(views.USAGE_MONTHS, {"since": None, "until": None}),
        }
        for by in (*views.TREND_BY, "tag:team"):
            calls[f"spend_trend({by})"] = lambda e, by=by: views.spend_trend(e, by, filters)
        for by in ("service", "tag:project"):
            calls[f"spend_by({by})"] = lambda e, by=by: summary.spend_by(e, by)
        for call, run in calls.items():
            recorder = Answering(name)
            run(recorder)
            for i, sql in enumerate(recorder.statements):
                found[f"views.{call}[{name}:{i}]"] = sql
    for i, (table, sql, _) in enumerate(rollups.statements(rollups.DEFAULT_TAG_KEYS)):
        found[f"rollups.{table}[{i}]"] = sql
    return found


@pytest.mark.parametrize("name", sorted(view_statements()))
def test_every_dashboard_and_rollup_statement_translates_to_spark(name: str) -> None:
    spark = to_spark(view_statements()[name])
    assert not re.search(r"\$[a-z_]", spark.lower()), f"{name}: a DuckDB parameter left in {spark}"


def test_filter_options_ask_for_no_select_alias_in_where() -> None:
    recorder = Recorder()
    views.filter_options(recorder, "team")
    for sql in recorder.statements:
        where = sql.split(" WHERE ", 1)[1]
        assert " a " not in f" {where} " and " v " not in f" {where} ", sql
