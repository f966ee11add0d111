"""Spark benchmark: the rules on Spark local over a lake beside DuckDB's, time and memory.

    .venv/bin/python bench/spark_analyze.py                         # 1M, 10M rows (quiet machine)
    .venv/bin/python bench/spark_analyze.py --sizes 100000 1000000  # while developing

For each size, the organisation of bench/analyze.py (billing lines spread over resources
with 21 days of metrics) is built into a store and written as a lake (`mlcost export
lake`). Then, each in a fresh process: `mlcost analyze`'s rules on DuckDB over the store,
and `mlcost analyze --engine spark --lake` (the same rules on pyspark, master ``--master``)
into an empty store. Each process's peak memory is the peak of its whole process tree's
resident memory, sampled every 0.1 s: for Spark, the Python driver and its JVM together.
The Spark time is the analysis alone; the session's start is printed beside it. The last
line is how the Spark time grows from the smallest size to the largest: the per-row cost
a cluster divides (the rest, session start and the fixed cost of each statement, it does
not).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from analyze import build

from mlcost.lake import export_lake
from mlcost.store import Store

HEADER = (
    f"{'spark analyze':<16}{'rows':>12}{'spark s':>10}{'start s':>9}{'peak MB':>9}"
    f"{'duckdb s':>10}{'peak MB':>9}{'×duckdb':>9}  findings"
)

DUCKDB = """
import json, sys, time
from mlcost.recommendations import analyze_recommendations
from mlcost.store import Store
started = time.perf_counter()
result = analyze_recommendations(Store(sys.argv[1]))
print(json.dumps({"s": time.perf_counter() - started, "findings": result.findings}))
"""

SPARK = """
import json, sys, time
from mlcost.config import Settings
from mlcost.engine.spark import analyze_lake, spark_session
from mlcost.store import Store
lake, db, master, memory = sys.argv[1:5]
started = time.perf_counter()
session = spark_session(master, {"spark.driver.memory": memory})
session.sparkContext.setLogLevel("ERROR")
start_s = time.perf_counter() - started
started = time.perf_counter()
result = analyze_lake(Store(db), lake, Settings(), session=session)
print(json.dumps({"s": time.perf_counter() - started, "start_s": start_s,
                  "findings": result.recommendations.findings}))
"""


def spark_available() -> str | None:
    """Why the Spark lines cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError:
        return "the spark extra is not installed (pip install 'mlcost[spark]')"
    if shutil.which("java") is None:
        return "no Java on PATH"
    return None


def _tree_rss_kb(root: int) -> int:
    """Resident memory of a process and all its descendants (the JVM pyspark starts)."""
    total, stack, seen = 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(status.split("VmRSS:")[1].split()[0]) if "VmRSS:" in status else 0
            for task in Path(f"/proc/{pid}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(c) for c in children)
        except (OSError, ValueError, IndexError):
            continue
    return total


def run_measured(script: str, *args: str) -> dict[str, Any]:
    """Run a script in a fresh process; its JSON result plus the tree's peak memory (MB)."""
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(process.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        last = (err.strip().splitlines() or ["killed"])[-1]
        return {"error": f"failed ({last[:80]})"}
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_mb"] = peak[0] / 1024
    return result


def measure(rows: int, work: Path, master: str, memory: str) -> dict[str, Any]:
    """DuckDB's and Spark's figures for one size (the generated files removed after)."""
    db, lake, spark_db = work / "org.duckdb", work / "lake", work / "spark.duckdb"
    resources = max(1_000, min(100_000, rows // 100))
    try:
        build(Store(db), rows, resources)
        export_lake(Store(db), lake)
        duck = run_measured(DUCKDB, str(db))
        spark = run_measured(SPARK, str(lake), str(spark_db), master, memory)
    finally:
        for path in (lake, *work.glob("org.duckdb*"), *work.glob("spark.duckdb*")):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                os.remove(path)
    return {"rows": rows, "duckdb": duck, "spark": spark}


def line(figures: dict[str, Any]) -> str:
    rows, duck, spark = figures["rows"], figures["duckdb"], figures["spark"]
    head = f"{'':<16}{rows:>12,}"
    if "error" in spark:
        return f"{head}  spark {spark['error']}"
    if "error" in duck:
        return f"{head}  duckdb {duck['error']}"
    same = "same" if spark["findings"] == duck["findings"] else "DIFFERENT"
    return (
        f"{head}{spark['s']:>10.1f}{spark['start_s']:>9.1f}{spark['peak_mb']:>9.0f}"
        f"{duck['s']:>10.2f}{duck['peak_mb']:>9.0f}{spark['s'] / duck['s']:>9.1f}"
        f"  {spark['findings']:,} {same}"
    )


def growth(measured: list[dict[str, Any]]) -> str | None:
    """How the Spark time grows from the smallest size to the largest."""
    done = [m for m in measured if "error" not in m["spark"] and "error" not in m["duckdb"]]
    if len(done) < 2:
        return None
    small, large = done[0], done[-1]
    added = large["rows"] - small["rows"]
    spark = large["spark"]["s"] - small["spark"]["s"]
    duck = large["duckdb"]["s"] - small["duckdb"]["s"]
    return (
        f"spark growth {small['rows']:,} → {large['rows']:,} rows "
        f"(×{large['rows'] / small['rows']:.0f}): "
        f"time ×{large['spark']['s'] / small['spark']['s']:.1f}, "
        f"{spark / added * 1e6:.2f} µs per added row (duckdb ×"
        f"{large['duckdb']['s'] / small['duckdb']['s']:.1f}, {duck / added * 1e6:.2f} µs)"
    )


def run_spark_bench(
    sizes: list[int], workdir: Path | None, master: str = "local[*]", memory: str = "8g"
) -> list[str]:
    """The table's lines (printed as they come)."""
    why = spark_available()
    if why:
        print(f"{'spark analyze':<16}not run: {why}", flush=True)
        return []
    printed = [HEADER]
    print(HEADER, flush=True)
    measured = []
    with tempfile.TemporaryDirectory(prefix="mlcost-bench-spark-", dir=workdir) as tmp:
        for rows in sizes:
            measured.append(measure(rows, Path(tmp), master, memory))
            printed.append(line(measured[-1]))
            print(printed[-1], flush=True)
    grew = growth(measured)
    if grew:
        printed.append(grew)
        print(grew, flush=True)
    return printed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--master", default="local[*]", help="Spark master (local[*]: all cores)")
    parser.add_argument("--driver-memory", default="8g", help="spark.driver.memory")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    run_spark_bench(args.sizes, args.workdir, args.master, args.driver_memory)


if __name__ == "__main__":
    main()
