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
from tests.test_rollups import assert_reconciles


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


# -- billing rows as Parquet files beside the store (docs/store-design.md) ---------------


def billing(source: str, month: int, *amounts: str, extra: str | None = None) -> pa.Table:
    """Billing rows of one source and 2026 month, one per amount."""
    n = len(amounts)
    columns: dict[str, list[object]] = {
        "BillingPeriodStart": [datetime(2026, month, 1)] * n,
        "ChargePeriodStart": [datetime(2026, month, 2)] * n,
        "BilledCost": [Decimal(a) for a in amounts],
        "EffectiveCost": [Decimal(a) for a in amounts],
        "ServiceName": ["Amazon EC2"] * n,
        "x_source": [source] * n,
    }
    full = arrow_schema("cost")
    table = pa.Table.from_pydict(columns, schema=pa.schema([full.field(c) for c in columns]))
    return table if extra is None else table.append_column("x_ServiceCode", pa.array([extra] * n))


def totals(store: Store) -> list[tuple[object, ...]]:
    with store.reader() as con:
        return con.execute(
            'SELECT x_source, month("BillingPeriodStart"), count(*), sum("BilledCost") '
            "FROM cost GROUP BY ALL ORDER BY ALL"
        ).fetchall()


def billing_files(store: Store) -> set[str]:
    return {p.relative_to(store.parts_path).as_posix() for p in store.parts_path.rglob("*.parquet")}


def test_a_load_writes_its_own_partitions_files_and_leaves_the_others_untouched(
    store: Store,
) -> None:
    store.load(
        [Batch("cost", billing("aws", 7, "1.10", "2.20")), Batch("cost", billing("gcp", 7, "5"))]
    )
    before = billing_files(store)
    assert len(before) == 2
    assert any("BillingPeriod=2026-07/x_source=aws/" in f for f in before)
    # a restated July of aws: one new file replaces its one file; gcp's is the same file
    result = store.load([Batch("cost", billing("aws", 7, "3.000000000001"))])
    assert result.rows_replaced == {"cost": 2} and result.partitions == {"cost": 1}
    after = billing_files(store)
    gcp = {f for f in before if "x_source=gcp" in f}
    assert gcp <= after and len(after - before) == 1
    assert totals(store) == [
        ("aws", 7, 1, Decimal("3.000000000001")),
        ("gcp", 7, 1, Decimal("5.000000000000")),
    ]
    # the replaced file stays for readers until a later load, RETAIN_REPLACED after
    assert before - gcp <= after
    with store.reader() as con:
        (listed,) = con.execute("SELECT count(*) FROM cost_files").fetchone() or (0,)
    assert listed == 2


def test_a_file_of_several_partitions_is_written_once_and_read_for_its_current_ones(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of three partitions is one file, listed once per partition; a later load
    that restates one of them leaves the file read for the other two only, and the file
    is deleted only once its last partition was replaced RETAIN_REPLACED ago."""
    import mlcost.billing_files as files_module

    three = pa.concat_tables(
        [billing("aws", 7, "1.10", "2.20"), billing("aws", 8, "3"), billing("gcp", 7, "5")]
    )
    assert store.load([Batch("cost", three)]).partitions == {"cost": 3}
    (mixed,) = billing_files(store)
    assert mixed.startswith("cost/BillingPeriod=mixed/x_source=mixed/")
    with store.reader() as con:
        listed = con.execute(
            'SELECT x_source, month("BillingPeriodStart"), "rows", path FROM cost_files '
            "ORDER BY ALL"
        ).fetchall()
    assert listed == [("aws", 7, 2, mixed), ("aws", 8, 1, mixed), ("gcp", 7, 1, mixed)]
    # aws's July restated: the mixed file now reads as aws August and gcp July only
    result = store.load([Batch("cost", billing("aws", 7, "9.99"))])
    assert result.rows_replaced == {"cost": 2}
    expected = [
        ("aws", 7, 1, Decimal("9.990000000000")),
        ("aws", 8, 1, Decimal("3.000000000000")),
        ("gcp", 7, 1, Decimal("5.000000000000")),
    ]
    assert totals(store) == expected
    # long after: the file is still listed for two partitions, so it stays and reads so
    monkeypatch.setattr(files_module, "RETAIN_REPLACED", files_module.timedelta(0))
    store.init()
    assert mixed in billing_files(store)
    assert totals(store) == expected
    # its last two partitions replaced (one load each): now it goes
    store.load([Batch("cost", billing("gcp", 7, "6"))])
    assert totals(store)[2] == ("gcp", 7, 1, Decimal("6.000000000000"))
    store.load([Batch("cost", billing("aws", 8, "4"))])
    store.init()
    assert mixed not in billing_files(store)
    assert [t[3] for t in totals(store)] == [Decimal("9.99"), Decimal("4"), Decimal("6")]


def test_replaced_and_orphaned_billing_files_are_deleted_by_a_later_writer(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlcost.billing_files as files_module

    store.load([Batch("cost", billing("aws", 7, "1"))])
    first = billing_files(store)
    store.load([Batch("cost", billing("aws", 7, "2"))])
    # what a load killed before its commit leaves behind: a file no list names
    orphan = store.parts_path / "cost" / "BillingPeriod=2026-09" / "x_source=aws" / "x.parquet"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"PAR1")
    monkeypatch.setattr(files_module, "RETAIN_REPLACED", files_module.timedelta(0))
    store.init()
    left = billing_files(store)
    assert len(left) == 1 and not left & first
    assert not orphan.parent.exists()
    assert totals(store) == [("aws", 7, 1, Decimal("2.000000000000"))]


def test_a_refused_load_writes_no_billing_file(store: Store) -> None:
    store.load([Batch("cost", billing("aws", 7, "1"))])
    before = billing_files(store)

    def exploding() -> Iterator[pa.RecordBatch]:
        yield from billing("aws", 8, "7").to_batches()
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.load([Batch("cost", billing("aws", 7, "9")), Batch("cost", exploding())])
    assert billing_files(store) == before
    assert totals(store) == [("aws", 7, 1, Decimal("1.000000000000"))]


def test_a_failure_while_writing_partitions_leaves_the_store_and_its_folder_unchanged(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlcost.billing_files as files_module

    store.load([Batch("cost", billing("aws", 7, "1"))])
    before = billing_files(store)
    real = files_module.fsync
    synced: list[Path] = []

    def disk_full_on_the_second(path: Path) -> None:
        synced.append(path)
        if len(synced) == 2:
            raise OSError(28, "No space left on device")
        real(path)

    monkeypatch.setattr(files_module, "fsync", disk_full_on_the_second)
    # two batches: gcp's July file is written, then the file of aws's July and August fails
    two = pa.concat_tables([billing("aws", 7, "9"), billing("aws", 8, "7")])
    with pytest.raises(OSError, match="No space"):
        store.load([Batch("cost", billing("gcp", 7, "5")), Batch("cost", two)])
    assert len(synced) == 2 and "BillingPeriod=mixed" in synced[1].as_posix()
    assert billing_files(store) == before
    assert [p.name for p in (store.parts_path / "cost").iterdir()] == ["BillingPeriod=2026-07"]
    assert totals(store) == [("aws", 7, 1, Decimal("1.000000000000"))]


def test_a_load_keeps_the_rows_of_a_batch_without_a_partition_beside_one_with(
    store: Store,
) -> None:
    """Billing batches that name their partition and batches that do not, in one load:
    every batch's rows are listed (the temporary table's copy wrote only the named ones)."""
    july = {"x_source": "aws", "BillingPeriodStart": datetime(2026, 7, 1)}
    result = store.load(
        [
            Batch("cost", billing("aws", 7, "1.5"), partition=july),
            Batch("cost", billing("gcp", 7, "5")),
        ]
    )
    assert result.partitions == {"cost": 2}
    assert totals(store) == [
        ("aws", 7, 1, Decimal("1.500000000000")),
        ("gcp", 7, 1, Decimal("5.000000000000")),
    ]


def test_extra_columns_are_read_from_the_files_that_have_them(store: Store) -> None:
    store.load([Batch("cost", billing("aws", 7, "1", extra="AmazonEC2"))])
    store.load([Batch("cost", billing("gcp", 7, "2"))])
    with store.reader(sandboxed=True) as con:
        rows = con.execute("SELECT x_source, x_ServiceCode FROM cost ORDER BY 1").fetchall()
    assert rows == [("aws", "AmazonEC2"), ("gcp", None)]


def old_layout_store(path: Path) -> Store:
    """A store as mlcost wrote it before billing files: migrations 001-003, the cost
    rows in the store file (with an extra column), and its read snapshot."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
            "name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        for m in migrations()[:3]:
            con.execute(m.sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [m.version, m.name])
        con.execute('ALTER TABLE cost ADD COLUMN "x_ServiceCode" VARCHAR')
        con.execute(
            """INSERT INTO cost BY NAME
            SELECT CAST(0.000000000001 * i + 1.25 AS DECIMAL(38, 12)) AS "BilledCost",
                   TIMESTAMP '2026-01-01' + INTERVAL (i % 3) MONTH AS "BillingPeriodStart",
                   CASE WHEN i % 2 = 0 THEN 'aws' ELSE 'focus:Azure:1' END AS x_source,
                   CASE WHEN i % 5 = 0 THEN 'AmazonEC2' END AS "x_ServiceCode",
                   TIMESTAMP '2026-04-02' AS x_ingested_at
            FROM range(3000) t(i)"""
        )
    Path(str(path) + ".snapshot").write_bytes(path.read_bytes())
    return Store(path)


def test_an_old_layout_store_migrates_to_billing_files_with_identical_totals(
    tmp_path: Path,
) -> None:
    old = old_layout_store(tmp_path / "old.duckdb")
    query = (
        'SELECT x_source, "BillingPeriodStart", count(*), sum("BilledCost"), '
        'count("x_ServiceCode"), max(x_ingested_at) FROM cost GROUP BY ALL ORDER BY ALL'
    )
    with duckdb.connect(str(old.path), read_only=True) as con:
        want = con.execute(query).fetchall()
    assert len(want) == 6 and sum(r[2] for r in want) == 3000
    # 3000 rows of 1.25 plus 0 … 2999 millionths of a millionth
    assert sum(r[3] for r in want) == Decimal("3750") + Decimal("0.000000000001") * 4498500
    assert old.init() == ["004_billing_parts", "005_daily_rollups", "006_rollup_tag_keys"]
    assert_reconciles(old)  # the roll-ups of the billing already there
    with old.reader() as con:
        assert con.execute(query).fetchall() == want
        tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary"
        ).fetchall()
    assert ("cost",) not in tables
    # one file of six partitions, listed once for each
    assert len(billing_files(old)) == 1
    with old.reader() as con:
        assert con.execute("SELECT count(*), count(DISTINCT path) FROM cost_files").fetchone() == (
            6,
            1,
        )
    # and it loads as any store: a restated month replaces that month of that source only
    result = old.load([Batch("cost", billing("aws", 1, "10"))])
    assert result.rows_replaced == {"cost": 500}
    after = totals(old)
    assert ("aws", 1, 1, Decimal("10.000000000000")) in after
    assert sum(int(r[2]) for r in after) == 2501
    assert_reconciles(old)


KILLED_LOAD = textwrap.dedent(
    """
    import os, signal, sys
    import mlcost.store as m
    from tests.test_store import billing
    db, stage = sys.argv[1:3]
    original = getattr(m.Store, stage)

    def killed(self, *args, **kwargs):
        if stage != "_publish_snapshot":
            original(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(m.Store, stage, killed)
    batches = [m.Batch("cost", billing("aws", 7, "2")), m.Batch("cost", billing("aws", 8, "3"))]
    m.Store(db).load(batches)
    """
)


@pytest.mark.parametrize(
    ("stage", "committed"),
    [
        ("_write_billing_parts", False),  # new files written, not listed
        ("_swap_billing_parts", False),  # listed inside the transaction, not committed
        ("_publish_snapshot", True),  # committed, the snapshot not yet copied
    ],
)
def test_a_load_killed_at_any_stage_leaves_the_last_committed_state(
    store: Store, stage: str, committed: bool
) -> None:
    store.load([Batch("cost", billing("aws", 7, "1"))])
    root = Path(__file__).parent.parent
    done = subprocess.run(
        [sys.executable, "-c", KILLED_LOAD, str(store.path), stage],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == -9, done.stderr
    old = [("aws", 7, 1, Decimal("1.000000000000"))]
    new = [("aws", 7, 1, Decimal("2.000000000000")), ("aws", 8, 1, Decimal("3.000000000000"))]
    assert totals(store) == (new if committed else old)
    # the next writer sweeps what the killed load left unlisted, and loads as usual
    store.load([Batch("cost", billing("gcp", 7, "5"))])
    with store.reader() as con:
        named = {r[0] for r in con.execute("SELECT path FROM cost_files").fetchall()}
        named |= {r[0] for r in con.execute("SELECT path FROM cost_files_retired").fetchall()}
    assert billing_files(store) == named
    assert totals(store) == [*(new if committed else old), ("gcp", 7, 1, Decimal("5.000000000000"))]


def test_a_shared_reader_is_every_reader_of_its_block(store: Store) -> None:
    """Inside ``shared_reader`` each ``reader()`` (a library call's) is the one
    connection, open until the block ends; a sandboxed reader (user SQL) stays its own;
    after the block, readers are short-lived again."""
    with store.shared_reader() as shared:
        with store.reader() as first, store.reader() as second:
            assert first is shared and second is shared
        with store.shared_reader() as nested:
            assert nested is shared
        with store.reader() as again:
            assert again.execute("SELECT count(*) FROM cost").fetchone() == (0,)
        with store.reader(sandboxed=True) as sandboxed:
            assert sandboxed is not shared
    with pytest.raises(duckdb.ConnectionException):
        shared.execute("SELECT 1")
    with store.reader() as after:
        assert after is not shared


def test_in_one_process_a_writer_waits_for_a_reader_and_a_reader_reads_the_snapshot(
    store: Store,
) -> None:
    """The dashboard's case: its pages' readers and a change a page makes share one
    process, where DuckDB refuses at once a file open the other way (read-only vs
    read-write). Readers read the main file when it is newer than the snapshot: then
    the writer waits for the reader, as for another process's, and a reader while this
    process writes reads the snapshot."""
    import os
    import threading

    store.load([Batch("resources", resources(("1", "r", "i-a")))])

    def main_file_newest() -> None:
        future = time.time() + 60
        os.utime(store.path, (future, future))

    main_file_newest()
    reading = threading.Event()

    def read_a_while() -> None:
        with store.shared_reader() as con:
            reading.set()
            time.sleep(0.5)
            assert con.execute("SELECT count(*) FROM resources").fetchone() == (1,)

    reader = threading.Thread(target=read_a_while)
    reader.start()
    reading.wait(5)
    started = time.monotonic()
    store.load([Batch("resources", resources(("1", "r", "i-b")))])  # waits, then writes
    assert time.monotonic() - started >= 0.2
    reader.join()
    assert resource_ids(store) == ["i-b"]
    with store.writer():
        main_file_newest()
        assert resource_ids(store) == ["i-b"]  # held for writing here: the snapshot


def test_a_scan_of_wide_parquet_row_groups_has_the_writer_memory_raised_while_it_runs(
    tmp_path: Path,
) -> None:
    """A Parquet file's largest row group (compressed bytes, from its metadata) raises the
    writer's memory limit by two such groups per thread while its scan runs, and only
    then: wide plain-coded text spilled under the plain limit (store.reading_memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from mlcost.connectors.files.focus import largest_row_group

    from mlcost.store import Scan, _reading, memory_bytes

    assert memory_bytes("512MB") == 512_000_000
    assert memory_bytes("1GiB") == 2**30
    assert memory_bytes(" 1.5 GB ") == 1_500_000_000
    assert memory_bytes("80%") is None

    path = tmp_path / "wide.parquet"
    table = pa.table({"id": [f"line-{i:07d}" for i in range(30_000)], "n": list(range(30_000))})
    pq.write_table(table, path, row_group_size=20_000, use_dictionary=False)
    meta = pq.read_metadata(path)
    sizes = [
        sum(meta.row_group(i).column(j).total_compressed_size for j in range(2))
        for i in range(meta.num_row_groups)
    ]
    assert len(sizes) == 2 and sizes[0] > sizes[1]
    assert largest_row_group([path]) == sizes[0]
    assert largest_row_group([tmp_path / "missing.parquet"]) == 0

    con = duckdb.connect()
    con.execute("SET threads = 2; SET memory_limit = '512MB'")

    def limit() -> int:
        text = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        value = memory_bytes(text.replace(" ", ""))
        assert value is not None, text
        return value

    before = limit()
    with _reading(con, "512MB", Scan("SELECT 1", row_group_bytes=50_000_000)):
        raised = limit()
    assert abs(raised - 712_000_000) < 2**20  # 512MB + 2 threads x 2 groups x 50MB
    assert limit() == before
    with _reading(con, "512MB", Scan("SELECT 1")):  # not Parquet: as it was
        assert limit() == before


def test_duckdb_never_prints_its_progress_bar_over_the_cli(tmp_path: Path) -> None:
    """DuckDB prints its progress bar on stdout from a query of 2 s on (a 10M-row file's
    look at its text took 8 s, and its bar broke the CLI's output): off on the store's
    connections and on those that read and plan files."""
    from mlcost.store import memory_connection

    def bar(con: duckdb.DuckDBPyConnection) -> object:
        return con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0]

    with memory_connection() as con:
        assert bar(con) is False
    store = Store(tmp_path / "s.duckdb")
    store.init()
    with store.reader() as con:
        assert bar(con) is False


def test_a_billing_scan_taken_on_trust_is_kept_only_where_its_files_pass_the_look(
    tmp_path: Path,
) -> None:
    """A scan that takes text on trust (Scan.careful) is written first, on a connection
    of its own. Its files are kept where ``trusted`` says they hold what the careful scan
    would have written; otherwise, and where it fails (a row it refuses aborts only its
    own connection's statement, not the load), they are deleted and the careful scan is
    written: its rows stored, its error reported."""
    from mlcost.store import Scan

    def select(amount: str, where: str = "true") -> str:
        return (
            "SELECT TIMESTAMP '2026-03-01' AS BillingPeriodStart, "  # noqa: S608
            "TIMESTAMP '2026-03-02' AS ChargePeriodStart, "
            f"CAST('{amount}' AS DECIMAL(38,12)) AS BilledCost, "
            f"CAST('{amount}' AS DECIMAL(38,12)) AS EffectiveCost, 'aws' AS x_source "
            f"FROM range(3) WHERE {where}"
        )

    looked: list[list[int]] = []

    def trusted(answer: bool) -> object:
        def look(paths: list[Path]) -> bool:
            with duckdb.connect() as con:  # the written rows, there to be looked at
                counts = [
                    con.execute("SELECT count(*) FROM read_parquet(?)", [str(p)]).fetchone()[0]
                    for p in paths
                ]
            looked.append(counts)
            return answer

        return look

    def load(trusting: Scan) -> list[tuple[object, ...]]:
        store = Store(tmp_path / "s.duckdb")
        store.init()
        store.load([Batch("cost", trusting, label="bill")])
        listed = {p.name for p in (tmp_path / "s.duckdb.parts").rglob("*.parquet")}
        with store.reader() as con:
            known = con.execute(
                "SELECT path FROM cost_files UNION SELECT path FROM cost_files_retired"
            ).fetchall()
            assert listed == {Path(p).name for (p,) in known}  # nothing else left behind
            return con.execute('SELECT count(*), sum("BilledCost") FROM cost').fetchall()

    def careful() -> Scan:
        return Scan(select("2"))

    kept = load(Scan(select("1"), careful=careful, trusted=trusted(True)))
    assert kept == [(3, Decimal("3"))] and looked == [[3]]
    redone = load(Scan(select("1"), careful=careful, trusted=trusted(False)))
    # each load replaces the last one's rows (one source, one billing period)
    assert redone == [(3, Decimal("6"))] and looked == [[3], [3]]
    failing = Scan(select("1", "error('a row refused') IS NULL"), careful=careful)
    assert load(failing) == [(3, Decimal("6"))] and len(looked) == 2
    # the careful scan fails too: its error is the one reported, the store as it was
    both = Scan(
        select("1", "error('trusting') IS NULL"),
        careful=lambda: Scan(
            select("2", "error('careful') IS NULL"),
            explain=lambda exc: StoreError(f"careful said: {exc}"),
        ),
    )
    with pytest.raises(StoreError, match=r"careful said: .*careful"):
        load(both)
    assert load(Scan(select("1"), careful=careful, trusted=trusted(True))) == [(3, Decimal("3"))]
