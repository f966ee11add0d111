"""The benchmarks run (how fast is for `bench/`, not for tests): a small smoke version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "bench"


def test_analyze_benchmark_runs_and_prints_a_time_per_rule(tmp_path: Path) -> None:
    from mlcost.rules import RULE_IDS

    done = subprocess.run(
        [sys.executable, str(BENCH / "analyze.py"), "--rows", "20000", "--resources", "500",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("organisation: 20,000 billing rows, 500 resources")
    printed = {line.split()[0] for line in lines[2:]}
    assert set(RULE_IDS) <= printed
    # the generated organisation has idle VMs and unattached disks to find
    counts = {line.split()[0]: line.split()[1] for line in lines[2 : 2 + len(RULE_IDS)]}
    assert int(counts["idle_vm"].replace(",", "")) > 0
    assert int(counts["unattached_volume"].replace(",", "")) > 0
