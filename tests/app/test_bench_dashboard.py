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
    assert [line.split()[0] for line in lines[2:]] == [
        "overview", "recommendations", "anomalies", "commitments", "experiments",
    ]  # fmt: skip
