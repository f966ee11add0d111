"""`mlcost schedule`: cycles on a cron, retries, a failing source that does not stop the
others, one run at a time, and a lock that a killed run leaves behind is recovered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlcost.schedule import RunStatus, read_status, write_status
from mlcost.store import Store
from tests.conftest import Cli, focus_row, write_csv


def config(tmp_path: Path, cron: str, sources: str) -> Path:
    path = tmp_path / "mlcost.toml"
    path.write_text(
        f"""
[schedule]
cron = "{cron}"
retries = 1
backoff_s = 0.05
formats = ["html", "json"]
output_dir = "{tmp_path / "reports"}"
sources = [{sources}]
""",
        encoding="utf-8",
    )
    return path


def test_two_cycles_run_and_a_failing_source_does_not_stop_the_others(
    cli: Cli, tmp_path: Path
) -> None:
    export = write_csv(
        tmp_path / "export" / "b.csv", [focus_row(BilledCost="10", EffectiveCost="8")]
    )
    cfg = config(
        tmp_path,
        "* * * * * *",  # every second (the sixth field is seconds)
        f'{{ kind = "billing", name = "missing", paths = ["{tmp_path / "nope"}"] }}, '
        f'{{ kind = "billing", name = "focus", paths = ["{export.parent}"] }}',
    )
    db = str(tmp_path / "s.duckdb")
    done = cli("--db", db, "--config", str(cfg), "schedule", "--cycles", "2", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("run partial") == 2
    assert "ingest missing failed (attempt 2)" in done.stderr  # retried once, then given up
    status = read_status(Store(Path(db)))
    assert status is not None and status["state"] == "partial"
    steps = {s["name"]: s for s in status["steps"]}
    assert steps["ingest missing"]["state"] == "failed"
    assert steps["ingest missing"]["attempts"] == 2
    assert "no such file or folder" in steps["ingest missing"]["error"]
    assert steps["ingest focus"]["state"] == steps["analyze"]["state"] == "ok"
    assert steps["report"]["state"] == "ok"
    reports = sorted(p.suffix for p in (tmp_path / "reports").iterdir())
    assert reports == [".html", ".html", ".json", ".json"]
    with Store(Path(db)).reader() as con:
        assert con.execute("SELECT sum(BilledCost) FROM cost").fetchone() == (10,)
    shown = cli("--db", db, "--config", str(cfg), "schedule", "--status")
    assert shown.returncode == 1  # a partial run is not a success
    assert "Last run: partial" in shown.stdout and "failed  ingest missing" in shown.stdout


def test_one_run_at_a_time_and_a_killed_runs_lock_is_recovered(cli: Cli, tmp_path: Path) -> None:
    cfg = config(tmp_path, "0 0 1 1 *", "")
    db = str(tmp_path / "s.duckdb")
    exe = str(Path(sys.executable).with_name("mlcost"))
    first = subprocess.Popen(
        [exe, "--db", db, "--config", str(cfg), "schedule"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        lock = Path(db + ".schedule.lock")
        for _ in range(200):
            if lock.exists() and f"pid {first.pid}" in lock.read_text():
                break
            time.sleep(0.05)
        second = cli("--db", db, "--config", str(cfg), "schedule", "--once")
        assert second.returncode == 1
        assert f"Another mlcost schedule is already running for this store (pid {first.pid}" in (
            second.stderr
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the kernel released the killed process's lock: the next start runs
    again = cli("--db", db, "--config", str(cfg), "schedule", "--once")
    assert again.returncode == 0, again.stderr
    assert read_status(Store(Path(db)))["state"] == "ok"  # type: ignore[index]


def test_a_run_whose_process_died_shows_as_interrupted(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_status(store, RunStatus(pid=dead.pid, started_at="2026-11-24 07:00:00"))
    status = read_status(store)
    assert status is not None and status["state"] == "interrupted"
    assert json.loads(Path(str(store.path) + ".schedule.json").read_text())["state"] == "running"
    assert os.getpid() != dead.pid


def test_a_run_never_overwrites_an_earlier_runs_report(tmp_path: Path) -> None:
    from mlcost.schedule import _free_stamp

    (tmp_path / "mlcost-report-20261124-070000.html").write_text("first")
    assert _free_stamp(tmp_path, "20261124-070000", ["html", "md"]) == "20261124-070000-2"
    (tmp_path / "mlcost-report-20261124-070000-2.md").write_text("second")
    assert _free_stamp(tmp_path, "20261124-070000", ["html", "md"]) == "20261124-070000-3"
    assert _free_stamp(tmp_path, "20261124-080000", ["html"]) == "20261124-080000"
