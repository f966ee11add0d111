"""``mlcost sql`` (issue 23): no statement writes anywhere, EXPLAIN ANALYZE included, and the
result is streamed to the output: the same bytes as the whole table, with flat memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import mlcost.sql as sql
from mlcost.errors import InputError, ReadOnlyError
from mlcost.ingest import ingest_billing
from mlcost.output import table_to_text
from mlcost.store import Store
from tests.conftest import Cli, focus_row, write_csv


@pytest.fixture
def billed(store: Store, tmp_path: Path) -> Store:
    rows = [
        focus_row(BilledCost=f"{i}.25", ResourceId=f"i-{i}", ResourceName=f"=cmd|{i}")
        for i in range(25)
    ]
    ingest_billing(store, [str(write_csv(tmp_path / "b.csv", rows))])
    return store


@pytest.mark.parametrize(
    "statement",
    [
        "EXPLAIN ANALYZE COPY (SELECT 1) TO '{tmp}/inside.csv'",
        "explain analyse copy cost to '{tmp}/inside.csv' (FORMAT csv)",
        "/* hi */ EXPLAIN (FORMAT json) COPY (SELECT 1) TO '{tmp}/inside.csv'",
        "EXPLAIN ANALYZE INSERT INTO cost (BilledCost) VALUES (1)",
        "EXPLAIN ANALYZE DELETE FROM cost",
        "EXPLAIN ANALYZE PRAGMA version",
        "EXPLAIN ANALYZE SET threads = 1",
        "EXPLAIN ANALYZE CALL pragma_version()",
    ],
)
def test_explain_of_anything_but_a_select_is_refused(
    billed: Store, cli: Cli, statement: str
) -> None:
    # DuckDB lets a read-only connection without file access write in its temp folder.
    temp = billed.path.with_name(billed.path.name + ".tmp")
    temp.mkdir(exist_ok=True)
    done = cli("--db", str(billed.path), "sql", statement.format(tmp=temp))

    assert done.returncode == 1
    assert "read-only" in done.stderr and "Traceback" not in done.stderr
    assert not (temp / "inside.csv").exists()
    with billed.reader() as con:
        assert con.execute("SELECT count(*) FROM cost").fetchone() == (25,)


def test_explain_analyze_of_a_select_still_works(billed: Store) -> None:
    sql.check_read_only("EXPLAIN ANALYZE SELECT sum(BilledCost) FROM cost")
    sql.check_read_only("EXPLAIN WITH t AS (SELECT 1) SELECT * FROM t")
    with pytest.raises(ReadOnlyError):
        sql.check_read_only("EXPLAIN ANALYZE WITH t AS (SELECT 1) DELETE FROM cost")
    with pytest.raises(InputError, match="exactly one"):
        sql.check_read_only("SELECT 1; SELECT 2")


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_streamed_result_is_byte_for_byte_the_whole_tables(
    billed: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fmt: str
) -> None:
    monkeypatch.setattr(sql, "BATCH_ROWS", 4)  # 25 rows: seven batches
    query = "SELECT * FROM cost ORDER BY BilledCost"
    whole = table_to_text(sql.run_query(billed, query), fmt)

    out = tmp_path / f"streamed.{fmt}"
    rows = sql.write_query(billed, query, output=out)

    assert rows == 25
    assert out.read_text() == whole
    if fmt == "csv":
        assert "'=cmd|3" in whole  # a formula in a cloud string is disarmed, as ever
    else:
        assert json.loads(whole)[1]["BilledCost"] == 1.25


def test_an_empty_result_is_written_whole(billed: Store, tmp_path: Path) -> None:
    query = "SELECT ResourceId, BilledCost FROM cost WHERE false"
    for fmt in ("csv", "json"):
        out = tmp_path / f"empty.{fmt}"
        assert sql.write_query(billed, query, output=out) == 0
        assert out.read_text() == table_to_text(sql.run_query(billed, query), fmt)
    out = tmp_path / "empty.parquet"
    assert sql.write_query(billed, query, output=out) == 0
    assert pq.read_table(out).column_names == ["ResourceId", "BilledCost"]


def test_the_terminal_table_counts_rows_it_does_not_show(
    billed: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    monkeypatch.setattr(sql, "BATCH_ROWS", 4)
    monkeypatch.setattr(sql, "TABLE_ROW_LIMIT", 10)
    buffer = io.StringIO()

    rows = sql.write_query(
        billed, "SELECT ResourceId FROM cost", fmt="table", console=Console(file=buffer)
    )

    assert rows == 25
    assert "15 more rows" in buffer.getvalue()


def test_a_large_result_streams_in_flat_memory(store: Store, tmp_path: Path) -> None:
    """1.5 million rows of 400 bytes (600 MB as one table) written as Parquet: the
    process's peak memory stays far below the table's size."""
    out = tmp_path / "big.parquet"
    query = "SELECT i, repeat('x', 400) || i AS pad FROM range(1500000) t(i)"
    # The peak is read from /proc (VmHWM, this process's own): getrusage's ru_maxrss would
    # count the pytest process it was forked from, which Linux carries over an exec.
    script = (
        "import re, sys\n"
        "from mlcost.cli import main\n"
        f"sys.argv = ['mlcost', '--db', {str(store.path)!r}, 'sql', {query!r}, "
        f"'--output', {str(out)!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "status = open('/proc/self/status').read()\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)) // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    peak_mb = int(done.stdout.strip().splitlines()[-1])
    assert pq.ParquetFile(out).metadata.num_rows == 1_500_000
    # Interpreter, DuckDB and pyarrow take ~150 MB; the result is never held whole.
    assert peak_mb < 450, f"peak {peak_mb} MB"


def test_a_failure_half_way_is_one_sentence(billed: Store, cli: Cli) -> None:
    done = cli(
        "--db",
        str(billed.path),
        "sql",
        "SELECT CAST(CASE WHEN BilledCost > 20 THEN 'x' ELSE '1' END AS INTEGER) FROM cost",
        "-f",
        "csv",
    )
    assert done.returncode == 1
    assert done.stderr.startswith("mlcost: The query failed: ")
    assert "Traceback" not in done.stderr


def test_the_sum_is_exact_through_the_stream(billed: Store, tmp_path: Path) -> None:
    out = tmp_path / "sum.json"
    sql.write_query(billed, "SELECT sum(BilledCost) AS total FROM cost", output=out)
    # Σ (i + 0.25) for i < 25 = 300 + 6.25
    assert json.loads(out.read_text(), parse_float=Decimal) == [{"total": Decimal("306.25")}]
