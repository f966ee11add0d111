"""bench/dashboard.py runs (a small smoke version; timings are for bench/, not tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench"


def test_dashboard_benchmark_times_every_page(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "dashboard.py"), "--rows", "20000", "--resources", "500",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("organisation: 20,000 billing rows, 500 resources")
    assert [line.split()[0] for line in lines[2:-1]] == [
        "overview", "recommendations", "anomalies", "commitments", "experiments",
    ]  # fmt: skip
    assert lines[-1].split()[:4] == ["Overview", "render", "20,000", "rows:"]
    assert "the 1 s target" in lines[-1]


def test_the_overview_alone_is_timed_without_the_analyses(tmp_path: Path) -> None:
    """How the 50M-row Overview line is measured on its own (--overview-only)."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "dashboard.py"), "--rows", "20000", "--resources", "500",
         "--overview-only", "--workdir", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[2:]] == ["overview", "Overview"]
    seconds = float(lines[-1].split("rows: ")[1].split()[0])
    assert seconds > 0
