"""The command line as a user runs it: exit codes, messages, formats, the demo."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import Cli, focus_row, write_csv


def spend(cli: Cli, db: str) -> list[dict[str, str]]:
    done = cli(
        "--db",
        db,
        "sql",
        "SELECT ProviderName, sum(BilledCost) AS billed FROM cost GROUP BY 1 ORDER BY 1",
        "--format",
        "csv",
    )
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(io.StringIO(done.stdout)))


def test_ingest_reports_each_file_and_the_partitions_it_replaced(
    cli: Cli, db: str, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "jan.csv", [focus_row(BilledCost="12.34"), focus_row(BilledCost="0.66")]
    )
    first = cli("--db", db, "ingest", "billing", str(path))
    assert first.returncode == 0, first.stderr
    assert "jan.csv: FOCUS 1.0, 2 rows" in first.stdout
    again = cli("--db", db, "ingest", "billing", str(path))
    assert "replacing 2 older rows" in again.stdout
    assert spend(cli, db) == [{"ProviderName": "AWS", "billed": "13.000000000000"}]


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"BilledCost,EffectiveCost\n1,1\n", ["missing the required FOCUS column"]),
        (None, ["row 1, column EffectiveCost", "'n/a'"]),
        (b"\x1f\x8b\x08\x00garbage", ["truncated or corrupt"]),
    ],
)
def test_a_bad_file_exits_1_names_the_file_and_changes_nothing(
    cli: Cli, db: str, tmp_path: Path, content: bytes | None, fragments: list[str]
) -> None:
    good = write_csv(tmp_path / "good.csv", [focus_row(BilledCost="5")])
    assert cli("--db", db, "ingest", "billing", str(good)).returncode == 0
    bad = tmp_path / ("bad.csv.gz" if content and content.startswith(b"\x1f") else "bad.csv")
    if content is None:
        write_csv(bad, [focus_row(EffectiveCost="n/a")])
    else:
        bad.write_bytes(content)

    done = cli("--db", db, "ingest", "billing", str(bad))

    assert done.returncode == 1
    assert done.stderr.startswith(f"mlcost: {bad}")
    for fragment in fragments:
        assert fragment in done.stderr
    assert len(done.stderr.splitlines()) <= 2  # one sentence, one hint; no traceback
    assert spend(cli, db) == [{"ProviderName": "AWS", "billed": "5.000000000000"}]


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM cost",
        "INSERT INTO cost (BilledCost) VALUES (1)",
        "DROP TABLE cost",
        "CREATE TABLE t AS SELECT 1",
        "UPDATE cost SET BilledCost = 0",
        "COPY cost TO 'stolen.csv'",
        "ATTACH 'other.duckdb'",
        "SELECT 1; DELETE FROM cost",
    ],
)
def test_sql_refuses_anything_that_writes(
    cli: Cli, db: str, tmp_path: Path, statement: str
) -> None:
    write_csv(tmp_path / "b.csv", [focus_row(BilledCost="5")])
    cli("--db", db, "ingest", "billing", str(tmp_path / "b.csv"))
    done = cli("--db", db, "sql", statement, cwd=tmp_path)
    assert done.returncode == 1
    assert "mlcost:" in done.stderr
    assert spend(cli, db) == [{"ProviderName": "AWS", "billed": "5.000000000000"}]
    assert not (tmp_path / "stolen.csv").exists()


def test_sql_cannot_read_files_outside_the_store(cli: Cli, db: str) -> None:
    done = cli("--db", db, "sql", "SELECT * FROM read_csv('/etc/passwd')")
    assert done.returncode == 1
    assert "disabled" in done.stderr


def test_sql_writes_json_and_parquet(cli: Cli, db: str, tmp_path: Path) -> None:
    cli(
        "--db",
        db,
        "ingest",
        "billing",
        str(
            write_csv(
                tmp_path / "b.csv", [focus_row(BilledCost="0.1"), focus_row(BilledCost="0.2")]
            )
        ),
    )
    done = cli("--db", db, "sql", "SELECT sum(BilledCost) AS total FROM cost", "-f", "json")
    assert json.loads(done.stdout, parse_float=Decimal) == [{"total": Decimal("0.3")}]
    out = tmp_path / "cost.parquet"
    done = cli("--db", db, "sql", "SELECT * FROM cost", "--output", str(out))
    assert done.returncode == 0 and out.stat().st_size > 0


def test_usage_errors_exit_2(cli: Cli, db: str) -> None:
    assert cli("--db", db, "analyze", "--format", "xml").returncode == 2
    assert cli("no-such-command").returncode == 2


def test_a_bad_config_file_exits_1(cli: Cli, db: str, tmp_path: Path) -> None:
    (tmp_path / "mlcost.toml").write_text("[stor]\n")
    done = cli("--db", db, "init", cwd=tmp_path)
    assert done.returncode == 1
    assert "unknown section [stor]" in done.stderr


def test_mlcost_db_environment_variable_names_the_store(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "from-env.duckdb"
    assert cli("init", env={"MLCOST_DB": str(path)}).returncode == 0
    assert path.exists()


def test_reading_before_init_says_what_to_do(cli: Cli, tmp_path: Path) -> None:
    done = cli("--db", str(tmp_path / "none.duckdb"), "analyze")
    assert done.returncode == 1
    assert "mlcost init" in done.stderr


def test_analyze_prints_spend_by_provider_service_and_month(
    cli: Cli, db: str, tmp_path: Path
) -> None:
    rows = [
        focus_row(BilledCost="10", EffectiveCost="8"),
        focus_row(
            BilledCost="5",
            EffectiveCost="5",
            ProviderName="Microsoft",
            ServiceName="Virtual Machines",
        ),
    ]
    cli("--db", db, "ingest", "billing", str(write_csv(tmp_path / "b.csv", rows)))
    done = cli("--db", db, "analyze", "--format", "csv")
    got = {
        (r["dimension"], r["value"]): (r["billed_cost"], r["effective_cost"])
        for r in csv.DictReader(io.StringIO(done.stdout))
    }
    assert got[("provider", "AWS")] == ("10.000000000000", "8.000000000000")
    assert got[("service", "Virtual Machines")] == ("5.000000000000", "5.000000000000")
    assert got[("month", "2026-01")] == ("15.000000000000", "13.000000000000")
    table = cli("--db", db, "analyze", "--format", "table")
    assert "Spend by provider" in table.stdout and "15.00" in table.stdout


def test_progress_shows_on_a_terminal_and_stays_quiet_in_pipes(
    cli: Cli, db: str, tmp_path: Path
) -> None:
    import os
    import pty
    import sys

    path = write_csv(tmp_path / "b.csv", [focus_row(ResourceId=f"i-{i}") for i in range(100)])
    piped = cli("--db", db, "ingest", "billing", str(path))
    assert piped.returncode == 0 and piped.stderr == ""

    exe = str(Path(sys.executable).with_name("mlcost"))
    pid, fd = pty.fork()
    if pid == 0:  # child: stdout and stderr are the terminal
        os.execv(exe, [exe, "--db", db, "ingest", "billing", str(path)])
    seen = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"b.csv 100 rows" in seen  # the progress line: file, rows so far…
    assert b"0:00:0" in seen  # …and the time elapsed, which only the progress bar shows


#: What `mlcost --help` imports, printed after the help (the command modules are imported
#: through importlib, which `python -X importtime` does not list: sys.modules does).
_IMPORTED_BY_HELP = """
import runpy, sys
sys.argv = ["mlcost", "--help"]
try:
    runpy.run_module("mlcost.cli", run_name="__main__")
except SystemExit as exc:
    assert not exc.code, exc.code
print("imported:", " ".join(sorted(sys.modules)))
"""


def test_help_imports_neither_duckdb_arrow_pandas_nor_the_connectors() -> None:
    """`mlcost --help` starts fast: the command modules import DuckDB, Arrow, pandas and
    the connectors only inside the commands that use them."""
    done = subprocess.run([sys.executable, "-c", _IMPORTED_BY_HELP], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "ingest" in done.stdout and "recommendations" in done.stdout
    imported = done.stdout.rsplit("imported: ", 1)[1].split()
    assert "mlcost.cli.analysis" in imported and "mlcost.cli.data" in imported
    heavy = [
        name
        for name in imported
        if name.split(".")[0] in ("duckdb", "pyarrow", "pandas")
        or name.startswith(("mlcost.connectors", "mlcost.store", "mlcost.ingest"))
    ]
    assert heavy == []
