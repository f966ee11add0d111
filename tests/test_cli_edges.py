"""Errors at the edge: an output that cannot be written, a server that never answers, a
reader that goes away, an extension mlcost does not write, a first load that fails. Each
is one sentence and exit 1 (or a quiet exit 0 for the pipe), never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Cli, run_main


@pytest.mark.parametrize(
    "args",
    [
        ["recommendations", "-o", "{missing}/x.csv"],
        ["recommendations", "-o", "{missing}/x.parquet"],
        ["report", "-o", "{missing}/r.html"],
        ["analyze", "-o", "{missing}/spend.json"],
        ["sql", "SELECT 1 AS one", "-o", "{missing}/one.txt"],
        ["anomalies", "-o", "{tmp}"],
    ],
    ids=["csv", "parquet", "report", "analyze", "table", "a-folder"],
)
def test_an_output_that_cannot_be_written_is_one_sentence_and_exit_1(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path, args: list[str]
) -> None:
    missing = tmp_path / "no" / "such" / "folder"
    filled = [a.format(missing=missing, tmp=tmp_path) for a in args]
    if filled[-1] == str(tmp_path):
        filled[-1] = str(tmp_path / "folder.csv")
        (tmp_path / "folder.csv").mkdir()
    ran = run_main(capsys, "--db", db, *filled)
    assert ran.code == 1
    assert ran.stderr.startswith(f"mlcost: Cannot write {filled[-1]}: "), ran.stderr
    assert "Traceback" not in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 2  # the sentence, then what to do


def test_an_extension_mlcost_does_not_write_is_refused_not_written_as_csv(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    for name in ("recs.xlsx", "recs.tsv", "recs"):
        target = tmp_path / name
        ran = run_main(capsys, "--db", db, "recommendations", "-o", str(target))
        assert ran.code == 1, name
        assert "mlcost does not write" in ran.stderr and ".csv, .json, .parquet" in ran.stderr
        assert not target.exists()
    ran = run_main(capsys, "--db", db, "recommendations", "-o", str(tmp_path / "recs.xlsx"))
    assert "spreadsheets open it" in ran.stderr
    # the extension chooses the format; an explicit --format still wins
    assert run_main(capsys, "--db", db, "sql", "SELECT 1 AS one", "-o", str(tmp_path / "a.json"))
    assert (tmp_path / "a.json").read_text() == '[\n {"one": 1}\n]\n'
    done = run_main(
        capsys, "--db", db, "sql", "SELECT 1 AS one", "-f", "csv", "-o", str(tmp_path / "a.out")
    )
    assert done.code == 0 and (tmp_path / "a.out").read_text() == "one\n1\n"


def test_a_reader_that_goes_away_ends_the_command_quietly_with_exit_0(db: str) -> None:
    exe = Path(sys.executable).with_name("mlcost")
    for args in (
        ["sql", "SELECT range AS n FROM range(300000)", "--format", "csv"],
        ["sql", "SELECT range AS n FROM range(3000)", "--format", "table"],
    ):
        process = subprocess.Popen(
            [str(exe), "--db", db, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()  # `| head -1`
        process.stdout.close()
        assert process.wait(timeout=60) == 0, args
        assert process.stderr.read() == b"", args
        process.stderr.close()


def test_an_mlflow_server_that_never_answers_fails_within_its_timeout(
    cli: Cli, tmp_path: Path, silent_server: str
) -> None:
    pytest.importorskip("mlflow")
    db = tmp_path / "fresh.duckdb"
    started = time.monotonic()
    done = cli(
        "--db", str(db), "ingest", "mlflow", "--tracking-uri", silent_server, "--timeout", "2",
        timeout=90,
    )  # fmt: skip
    took = time.monotonic() - started
    assert done.returncode == 1
    assert f"MLflow at {silent_server} did not answer within 2 s." in done.stderr
    assert "Traceback" not in done.stderr
    # 2 s, one retry after a second's back-off, 2 s again, and the start-up (MLflow's
    # own defaults waited about 250 s)
    assert took < 45, took
    assert not db.exists(), "a failed first load leaves no store behind"


def test_a_failed_first_load_leaves_no_empty_store_behind(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("BilledCost,EffectiveCost\n1,1\n")
    db = tmp_path / "new" / "mlcost.duckdb"
    done = cli("--db", str(db), "ingest", "billing", str(bad))
    assert done.returncode == 1
    assert "missing the required FOCUS column" in done.stderr
    assert sorted(p.name for p in db.parent.glob("*")) == []
    # a store that existed before a failed load is kept, unchanged
    assert cli("--db", str(db), "init").returncode == 0
    assert cli("--db", str(db), "ingest", "billing", str(bad)).returncode == 1
    assert db.exists()


def test_an_mlflow_server_that_is_not_there_is_one_sentence(cli: Cli, tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = tmp_path / "fresh.duckdb"
    done = cli("--db", str(db), "ingest", "mlflow", "--tracking-uri", f"http://127.0.0.1:{port}/")
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"mlcost: MLflow at http://127.0.0.1:{port}/ could not be reached (the connection was "
        "refused or the host is unknown).\n"
    ), done.stderr
    assert not db.exists()
