"""The daily roll-ups (``mlcost.rollups``): they sum to what ``cost`` sums, to the cent,
after every load, a restatement and a failed load; and the Overview's figures read from
them are the figures read from ``cost``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import mlcost.store as store_module
from mlcost import figures, summary, views
from mlcost.config import AnomalySettings, Settings, load_settings
from mlcost.engine import DuckDBEngine
from mlcost.errors import ConfigError
from mlcost.filters import Filters
from mlcost.ingest import ingest_billing
from mlcost.rollups import (
    DAILY,
    DAILY_BY_TAG,
    DEFAULT_TAG_KEYS,
    rebuild,
    recorded_tag_keys,
    spend_source,
)
from mlcost.store import Batch, Store
from tests.conftest import copy_store, focus_row, write_csv

#: The grain checked: day, provider, account, service, region, charge category, currency.
GRAIN = (
    "CAST(ChargePeriodStart AS DATE), ProviderName, coalesce(SubAccountId, BillingAccountId), "
    "ServiceName, RegionId, ChargeCategory, BillingCurrency"
)
SUMS = "sum(BilledCost), sum(EffectiveCost), sum(ListCost), sum(ContractedCost)"


def direct(con: duckdb.DuckDBPyConnection, tag: str | None = None) -> list[tuple[object, ...]]:
    """Spend by the grain (and a tag's value) straight from the billing lines."""
    value = f", json_extract_string(Tags, '$.{tag}')" if tag else ""
    return con.execute(
        f"SELECT {GRAIN}{value}, {SUMS}, count(*) FROM cost GROUP BY ALL ORDER BY ALL"  # noqa: S608
    ).fetchall()


def rolled(con: duckdb.DuckDBPyConnection, tag: str | None = None) -> list[tuple[object, ...]]:
    """The same from a roll-up (days as DATE already; lines as their counts summed)."""
    if tag is None:
        source, value, where = DAILY, "", "TRUE"
    else:
        source, value, where = DAILY_BY_TAG, ", tag_value", f"tag_key = '{tag}'"
    return con.execute(
        f"SELECT {GRAIN}{value}, {SUMS}, sum(charge_rows) FROM {source} "  # noqa: S608
        f"WHERE {where} GROUP BY ALL ORDER BY ALL"
    ).fetchall()


def assert_reconciles(store: Store) -> None:
    """Every roll-up equals a GROUP BY over ``cost``, to the last decimal."""
    with store.reader() as con:
        want = direct(con)
        assert want, "no billing to check"
        assert rolled(con) == want
        assert set(recorded_tag_keys(con)) == set(store.rollup_tag_keys)
        for key in store.rollup_tag_keys:
            assert rolled(con, key) == direct(con, key), key


def snapshot(store: Store) -> dict[str, list[tuple[object, ...]]]:
    with store.reader() as con:
        return {
            t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()  # noqa: S608
            for t in (DAILY, DAILY_BY_TAG)
        }


@pytest.fixture
def sample(sample_master: Path, tmp_path: Path) -> Store:
    return Store(copy_store(sample_master, tmp_path / "store"), lock_timeout_s=10)


def test_the_rollups_of_the_sample_equal_a_group_by_over_cost_after_loads_and_a_failure(
    sample: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_reconciles(sample)
    # the sample's tagged spend is in the roll-up by tag, and a line without the tag
    # counts under NULL: each key's rows sum to the whole bill
    with sample.reader() as con:
        whole = con.execute("SELECT sum(BilledCost) FROM cost").fetchone()
        for key in DEFAULT_TAG_KEYS:
            assert (
                con.execute(
                    "SELECT sum(BilledCost) FROM daily_spend_by_tag WHERE tag_key = ?", [key]
                ).fetchone()
                == whole
            )
    before = snapshot(sample)

    # a restated October of the "extra" source: its roll-ups change, no other's
    row = focus_row(
        BillingPeriodStart="2026-10-01T00:00:00Z",
        BillingPeriodEnd="2026-11-01T00:00:00Z",
        ChargePeriodStart="2026-10-16T00:00:00Z",
        ChargePeriodEnd="2026-10-17T00:00:00Z",
        BilledCost="100.005",
        EffectiveCost="90.004",
        ListCost="120",
        Tags=json.dumps({"team": "restated"}),
    )
    ingest_billing(sample, [str(write_csv(tmp_path / "restated.csv", [row, row]))], source="extra")
    assert_reconciles(sample)
    after = snapshot(sample)
    for table in (DAILY, DAILY_BY_TAG):
        # x_source is the first column: the other sources' rows are the very same rows
        assert [r for r in after[table] if r[0] != "extra"] == [
            r for r in before[table] if r[0] != "extra"
        ]
    with sample.reader() as con:
        assert con.execute(
            "SELECT tag_value, BilledCost, EffectiveCost, charge_rows FROM daily_spend_by_tag "
            "WHERE x_source = 'extra' AND tag_key = 'team'"
        ).fetchall() == [("restated", Decimal("200.010"), Decimal("180.008"), 2)]

    # a load that fails half-way leaves them exactly as they were: before its rows are
    # in, and after the roll-ups were rebuilt from them (the same transaction)
    def exploding() -> Iterator[pa.RecordBatch]:
        yield from write_batches(sample)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        sample.load([Batch("cost", exploding())])
    assert snapshot(sample) == after

    def rebuilt_then_failed(*args: object) -> None:
        rebuild(*args)  # type: ignore[arg-type]
        raise OSError("killed after the roll-ups")

    monkeypatch.setattr(store_module.rollups, "rebuild", rebuilt_then_failed)
    with pytest.raises(OSError, match="killed after the roll-ups"):
        sample.load([Batch("cost", iter(write_batches(sample)))])
    assert snapshot(sample) == after
    assert_reconciles(sample)


def hand_spend_by_tag(con: duckdb.DuckDBPyConnection, key: str) -> list[tuple[object, ...]]:
    """Spend by one tag's value as `mlcost` shows it, by a hand GROUP BY over ``cost``."""
    return con.execute(
        "SELECT coalesce(json_extract_string(Tags, $path), '(none)'), BillingCurrency, "
        "sum(BilledCost), sum(EffectiveCost), count(*) FROM cost GROUP BY ALL ORDER BY ALL",
        {"path": f"$.{key}"},
    ).fetchall()


def shown_spend_by_tag(con: duckdb.DuckDBPyConnection, key: str) -> list[tuple[object, ...]]:
    """The same from `summary.spend_by` (the CLI's, the report's and the dashboard's)."""
    got = summary.spend_by(con, f"tag:{key}").to_pylist()
    return sorted(
        (r[f"tag:{key}"], r["currency"], r["billed_cost"], r["effective_cost"], r["rows"])
        for r in got
    )


def test_changed_tag_keys_are_rolled_up_by_the_next_writer_and_read_from_cost_until_then(
    sample: Store,
) -> None:
    # the roll-up keys are the anomaly detector's tag keys, trimmed, each once
    settings = Settings(anomalies=AnomalySettings(tag_keys=["team", " env ", "env"]))
    configured = Store.from_settings(sample.path, settings)
    assert configured.rollup_tag_keys == ("team", "env")

    # no writer yet: the store holds the keys it rolled up; spend by env reads the
    # billing lines (the right figure, never a roll-up of another key)
    with configured.reader() as con:
        assert recorded_tag_keys(con) == ("experiment", "project", "team")
        assert spend_source(con, by_tag="env").table == "cost"
        by_env = hand_spend_by_tag(con, "env")
        assert len({r[0] for r in by_env} - {"(none)"}) > 1, "the sample bills by env"
        assert shown_spend_by_tag(con, "env") == by_env

    # the next writer: env rolled up (with progress), project and experiment dropped
    told: list[str] = []
    configured.init(on_rows=lambda label, rows, done=None: told.append(label))
    assert set(told) == {"roll-up by tag env"}

    assert_reconciles(configured)  # every measure and line count of env and team
    with configured.reader() as con:
        assert recorded_tag_keys(con) == ("env", "team")
        assert con.execute(
            "SELECT DISTINCT tag_key FROM daily_spend_by_tag ORDER BY 1"
        ).fetchall() == [("env",), ("team",)]
        assert spend_source(con, by_tag="env").table == DAILY_BY_TAG
        assert shown_spend_by_tag(con, "env") == by_env
        # a key dropped from the roll-ups answers from cost, with the same figure
        assert spend_source(con, by_tag="project").table == "cost"
        assert shown_spend_by_tag(con, "project") == hand_spend_by_tag(con, "project")

    # a store opened with the default keys (no settings) goes back to them
    sample.init()
    assert_reconciles(sample)


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("['team', '']", "anomalies.tag_keys must be a list of non-empty tag keys; '' is not one"),
        ("['team', 3]", "anomalies.tag_keys must be a list of non-empty tag keys; 3 is not one"),
        ("['team', ' ']", "anomalies.tag_keys must be a list of non-empty tag keys; ' ' is"),
        ("'team'", "anomalies.tag_keys must be a list, not str"),
    ],
)
def test_a_bad_tag_key_is_refused_naming_the_setting(tmp_path: Path, value: str, said: str) -> None:
    config = tmp_path / "mlcost.toml"
    config.write_text(f"[anomalies]\ntag_keys = {value}\n")
    with pytest.raises(ConfigError, match=re.escape(said)):
        load_settings(config)


def write_batches(store: Store) -> list[pa.RecordBatch]:
    """The store's billing lines as a load takes them (without the load's own stamp)."""
    with store.reader() as con:
        return con.sql("SELECT * EXCLUDE (x_ingested_at) FROM cost").to_arrow_table().to_batches()


class CostOnly(DuckDBEngine):
    """The store's connection, read as an engine without roll-ups: every figure from ``cost``."""

    name = "cost-only"


FILTERS = {
    "everything": Filters(),
    "dated": Filters(since=date(2026, 9, 3), until=date(2026, 10, 14)),
    "provider and account": Filters(providers=("aws",), accounts=("590127384465",)),
    "team": Filters(tags={"team": ("research", "platform")}),
    "team and dates": Filters(since=date(2026, 10, 1), tags={"team": ("research",)}),
    "another tag": Filters(tags={"env": ("prod",)}),
}


@pytest.mark.parametrize("name", FILTERS)
def test_the_overview_reads_the_rollups_and_gets_the_figures_of_cost(
    sample_master: Path, name: str
) -> None:
    filters = FILTERS[name]
    store = Store(sample_master)
    with store.reader() as con:
        rolled_up, scanned = DuckDBEngine(con), CostOnly(con)
        assert spend_source(rolled_up, filters).rolled_up == (name != "another tag")
        assert figures.spend(rolled_up, filters) == figures.spend(scanned, filters)
        assert figures.charge_days(rolled_up, filters) == figures.charge_days(scanned, filters)
        assert summary.data_end(rolled_up) == summary.data_end(scanned)
        assert summary.overview(rolled_up) == summary.overview(scanned)
        assert views.month_spend(rolled_up, filters) == views.month_spend(scanned, filters)
        for by in ("provider", "service", "account", "region", "month", "day", "tag:team"):
            assert summary.spend_by(rolled_up, by, filters=filters) == summary.spend_by(
                scanned, by, filters=filters
            ), by
        for by in ("provider", "service", "account", "tag:team", "tag:project"):
            for grain in ("day", "month"):
                assert views.spend_trend(rolled_up, by, filters, grain=grain) == (
                    views.spend_trend(scanned, by, filters, grain=grain)
                ), (by, grain)
        for key in ("team", "env"):
            assert views.filter_options(rolled_up, key) == views.filter_options(scanned, key)


def test_the_rollups_are_read_only_when_the_filters_allow() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE rollup_tag_keys AS SELECT unnest(['team', 'project']) AS tag_key")
    assert spend_source(con).table == DAILY
    assert spend_source(con, Filters(providers=("aws",))).table == DAILY
    assert spend_source(con, by_tag="team").table == DAILY_BY_TAG
    assert spend_source(con, Filters(tags={"team": ("a",)}), by_tag="team").table == DAILY_BY_TAG
    # an empty tag filter is no filter
    assert spend_source(con, Filters(tags={"project": ()})).table == DAILY
    # a tag not rolled up, or two tag keys at once: the billing lines
    assert spend_source(con, by_tag="owner").table == "cost"
    assert spend_source(con, Filters(tags={"team": ("a",)}), by_tag="project").table == "cost"
    assert spend_source(CostOnly(con)).table == "cost"
    # a connection to no store has rolled up no tag
    assert spend_source(duckdb.connect(), by_tag="team").table == "cost"
