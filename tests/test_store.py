"""The store: schema from migrations, load() replaces partitions atomically, sharing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from mlcost.errors import StoreBusyError, StoreError
from mlcost.schema import TABLES, arrow_schema
from mlcost.store import Batch, Store, migrations


def resources(*rows: tuple[str, str, str]) -> pa.Table:
    """Resource rows (account, region, resource id) in the connectors' Arrow schema."""
    schema = arrow_schema("resources")
    data = {name: [None] * len(rows) for name in schema.names}
    data["provider"] = ["aws"] * len(rows)
    data["account_id"] = [r[0] for r in rows]
    data["region"] = [r[1] for r in rows]
    data["resource_id"] = [r[2] for r in rows]
    data["source"] = ["aws"] * len(rows)
    return pa.Table.from_pydict(data, schema=schema)


def resource_ids(store: Store) -> list[str]:
    with store.reader() as con:
        return [
            r[0] for r in con.execute("SELECT resource_id FROM resources ORDER BY 1").fetchall()
        ]


def test_migrations_create_exactly_the_public_schema(store: Store) -> None:
    with store.reader() as con:
        for spec in TABLES.values():
            got = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position",
                [spec.name],
            ).fetchall()
            want = [(c, t.replace("JSON", "JSON")) for c, t in spec.columns.items()]
            assert got == want, spec.name
        versions = con.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert versions == [(m.version, m.name) for m in migrations()]


def test_init_twice_applies_nothing_the_second_time(tmp_path: Path) -> None:
    s = Store(tmp_path / "a.duckdb")
    assert s.init() == [f"{m.version:03d}_{m.name}" for m in migrations()]
    assert s.init() == []


def test_reading_a_missing_store_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="mlcost init"), Store(tmp_path / "none.duckdb").reader():
        pass


def test_a_store_from_a_newer_mlcost_is_refused(tmp_path: Path) -> None:
    s = Store(tmp_path / "a.duckdb")
    s.init()
    with duckdb.connect(str(s.path)) as con:
        con.execute("INSERT INTO schema_migrations VALUES (999, 'future', now())")
    s.snapshot_path.unlink()
    with pytest.raises(StoreError, match="newer mlcost"), s.reader():
        pass


def test_explicit_partition_is_replaced_whole_and_others_are_kept(store: Store) -> None:
    store.load(
        [
            Batch(
                "resources",
                resources(("1", "us-east-1", "i-a"), ("1", "us-east-1", "i-b")),
                partition={"source": "aws", "account_id": "1", "region": "us-east-1"},
            )
        ]
    )
    store.load(
        [
            Batch(
                "resources",
                resources(("2", "us-east-1", "i-c")),
                partition={"source": "aws", "account_id": "2", "region": "us-east-1"},
            )
        ]
    )
    # Account 1 re-observed: i-b is gone, i-d is new; account 2 is untouched.
    result = store.load(
        [
            Batch(
                "resources",
                resources(("1", "us-east-1", "i-a"), ("1", "us-east-1", "i-d")),
                partition={"source": "aws", "account_id": "1", "region": "us-east-1"},
            )
        ]
    )
    assert resource_ids(store) == ["i-a", "i-c", "i-d"]
    assert result.rows_replaced == {"resources": 2}
    # An account with nothing left: an empty batch still clears its partition.
    store.load(
        [
            Batch(
                "resources",
                resources(),
                partition={"source": "aws", "account_id": "2", "region": "us-east-1"},
            )
        ]
    )
    assert resource_ids(store) == ["i-a", "i-d"]


def test_rows_outside_their_declared_partition_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="do not belong"):
        store.load(
            [
                Batch(
                    "resources",
                    resources(("9", "eu-west-1", "i-x")),
                    partition={"source": "aws", "account_id": "1", "region": "eu-west-1"},
                )
            ]
        )
    assert resource_ids(store) == []


def test_one_load_may_replace_several_explicit_partitions_of_a_table(store: Store) -> None:
    """Each batch is checked against its own partition only (a connector yields one
    per account and region), and a stray row in a later batch is still refused."""
    east = {"source": "aws", "account_id": "1", "region": "us-east-1"}
    west = {"source": "aws", "account_id": "1", "region": "eu-west-1"}
    store.load(
        [
            Batch("resources", resources(("1", "us-east-1", "i-a")), partition=east),
            Batch("resources", resources(("1", "eu-west-1", "i-b")), partition=west),
        ]
    )
    assert resource_ids(store) == ["i-a", "i-b"]
    with pytest.raises(StoreError, match="1 rows for resources do not belong"):
        store.load(
            [
                Batch("resources", resources(("1", "us-east-1", "i-c")), partition=east),
                Batch(
                    "resources",
                    resources(("1", "eu-west-1", "i-d"), ("1", "us-east-1", "i-e")),
                    partition=west,
                ),
            ]
        )
    assert resource_ids(store) == ["i-a", "i-b"]


def test_a_failure_half_way_leaves_the_store_exactly_as_it_was(store: Store) -> None:
    store.load([Batch("resources", resources(("1", "r", "i-keep")))])

    def exploding() -> Iterator[pa.RecordBatch]:
        yield from resources(("1", "r", "i-new1")).to_batches()
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.load(
            [
                Batch("resources", resources(("1", "r", "i-replaced")), partition=None),
                Batch("resources", exploding()),
            ]
        )
    assert resource_ids(store) == ["i-keep"]
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM loads").fetchone() == (1,)


def test_unknown_columns_are_refused_but_x_columns_are_added(store: Store) -> None:
    table = resources(("1", "r", "i-a"))
    with pytest.raises(StoreError, match="no column 'colour'"):
        store.load([Batch("resources", table.append_column("colour", pa.array(["red"])))])
    store.load([Batch("resources", table.append_column("x_colour", pa.array(["red"])))])
    with store.reader() as con:
        assert con.execute("SELECT x_colour FROM resources").fetchone() == ("red",)


def test_money_survives_the_store_exactly(store: Store) -> None:
    columns = {
        "provider": ["aws", "aws"],
        "region": ["us-east-1"] * 2,
        "instance_type": ["p4d.24xlarge", "g5.xlarge"],
        "sku": [None, None],
        "unit": ["Hours"] * 2,
        "price_per_hour": [Decimal("32.7726"), Decimal("1.006")],
        "currency": ["USD"] * 2,
        "source": ["aws"] * 2,
    }
    schema = arrow_schema("prices")
    prices = pa.Table.from_pydict(columns, schema=pa.schema([schema.field(c) for c in columns]))
    store.load([Batch("prices", prices)])
    with store.reader() as con:
        assert con.execute("SELECT sum(price_per_hour) FROM prices").fetchone() == (
            Decimal("33.7786"),
        )


# -- sharing the file between processes -------------------------------------------------

HOLD_WRITER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM resources")
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    """
)


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITER, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def test_readers_see_the_last_committed_state_while_another_process_writes(store: Store) -> None:
    store.load([Batch("resources", resources(("1", "r", "i-a")))])
    time.sleep(0.01)
    store.path.touch()  # the main file is newer than the snapshot: readers try it first
    proc = _hold(store.path, 5)
    try:
        started = time.monotonic()
        assert resource_ids(store) == ["i-a"]  # from the snapshot, at once
        assert time.monotonic() - started < 2
    finally:
        proc.kill()
        proc.wait()


def test_a_second_writer_waits_then_fails_with_a_clear_message(tmp_path: Path) -> None:
    s = Store(tmp_path / "busy.duckdb", lock_timeout_s=0.5)
    s.init()
    proc = _hold(s.path, 5)
    try:
        with pytest.raises(StoreBusyError, match="held by another process"):
            s.load([Batch("resources", resources(("1", "r", "i-a")))])
    finally:
        proc.kill()
        proc.wait()


def test_a_writer_gets_in_once_the_other_process_is_done(tmp_path: Path) -> None:
    s = Store(tmp_path / "later.duckdb", lock_timeout_s=20)
    s.init()
    proc = _hold(s.path, 1)
    try:
        s.load([Batch("resources", resources(("1", "r", "i-a")))])
    finally:
        proc.wait()
    assert resource_ids(s) == ["i-a"]


def test_load_marker_orders_loads_even_within_one_microsecond(store: Store) -> None:
    first = store.load([Batch("resources", resources(("1", "r", "i-a")))]).loaded_at
    second = store.load([Batch("resources", resources(("1", "r", "i-b")))]).loaded_at
    assert isinstance(first, datetime) and second > first
    assert resource_ids(store) == ["i-b"]


def test_metrics_reingest_replaces_the_samples_it_refetched_and_keeps_older_history(
    store: Store,
) -> None:
    def samples(days: list[int], value: float) -> pa.Table:
        n = len(days)
        return pa.Table.from_pydict(
            {
                "resource_id": ["i-1"] * n,
                "metric": ["cpu_util_pct"] * n,
                "ts": [datetime(2026, 10, d) for d in days],
                "value": [value] * n,
                "stat": ["Average"] * n,
                "period_s": [86400] * n,
                "source": ["aws"] * n,
            },
            schema=arrow_schema("metrics"),
        )

    store.load([Batch("metrics", samples([1, 2], 10.0))])
    # A later ingest's look-back covers day 2 again (revised) and day 3.
    store.load([Batch("metrics", samples([2, 3], 20.0))])
    with store.reader() as con:
        rows = con.execute("SELECT day(ts), value FROM metrics ORDER BY ts").fetchall()
    assert rows == [(1, 10.0), (2, 20.0), (3, 20.0)]


def test_a_scan_reports_how_far_it_has_got_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Scan's rows are counted at its end; meanwhile the callback hears its progress."""
    import mlcost.store as store_module
    from mlcost.store import Scan

    monkeypatch.setattr(store_module, "PROGRESS_POLL_S", 0.02)
    store = Store(tmp_path / "s.duckdb")
    store.init()
    calls: list[tuple[str, int, float | None]] = []

    def on_rows(label: str, rows: int, done: float | None = None) -> None:
        calls.append((label, rows, done))

    # a scan long enough to be watched: 150 million numbers, one row in a million kept
    scan = Scan(
        "SELECT 'aws' AS provider, 'us-east-1' AS region, 'm' || i AS instance_type, "
        "'Hours' AS unit, 1.0 AS price_per_hour, 'USD' AS currency, 'test' AS source "
        "FROM range($1) AS t(i) WHERE hash(i) % 1000000 = 0",
        [150_000_000],
    )
    result = store.load([Batch("prices", scan, label="prices")], on_rows=on_rows)
    rows = result.rows_in["prices"]
    assert rows > 0
    assert calls[0] == ("prices", 0, None) and calls[-1] == ("prices", rows, None)
    fractions = [done for _, _, done in calls if done is not None]
    assert len(fractions) >= 2, calls  # heard while it ran
    assert all(0 <= f <= 1 for f in fractions)
    assert fractions == sorted(fractions)
    assert sum(r for _, r, _ in calls) == rows
