"""Ingest benchmark: rows per second and peak memory of `mlcost ingest billing`, by size.

    .venv/bin/python bench/ingest.py                      # 1M and 4M rows, Parquet and CSV.gz
    .venv/bin/python bench/ingest.py --rows 250000 --formats parquet

Files come from the sample generator (`python -m mlcost.sample OUT --rows N`). Each load
runs in a fresh process so its peak RSS is its own. The reference is DuckDB's own plain
load of the same file (`CREATE TABLE t AS SELECT * FROM read_…`), our floor. The full
suite, with analyses and the pandas comparison, comes with `make bench`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mlcost.sample import write_sample

MEASURE = r"""
import json, sys, time
kind, path, db = sys.argv[1:4]
start = time.perf_counter()
if kind == "mlcost":
    from mlcost.ingest import ingest_billing
    from mlcost.store import Store
    store = Store(db)
    store.init()
    rows = ingest_billing(store, [path]).result.rows_in["cost"]
else:
    import duckdb
    con = duckdb.connect(db)
    scan = "read_parquet(?)" if path.endswith(".parquet") else "read_csv(?)"
    con.execute(f"CREATE TABLE t AS SELECT * FROM {scan}", [path])
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
seconds = time.perf_counter() - start
# VmHWM belongs to this process's memory map, made new at exec; ru_maxrss would carry
# the parent's high-water mark across fork.
status = open("/proc/self/status").read()
peak_mb = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": peak_mb}))
"""


def remove_store(db: Path) -> None:
    """A store and everything beside it: WAL, snapshot, lock, its billing files (<db>.parts)."""
    for stale in db.parent.glob(f"{db.name}*"):
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()


def measure(kind: str, path: Path, workdir: Path) -> dict[str, float]:
    db = workdir / f"{kind}-{path.name}.duckdb"
    remove_store(db)
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, kind, str(path), str(db)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 4_000_000])
    parser.add_argument("--formats", nargs="+", default=["parquet", "csv.gz"])
    args = parser.parse_args()
    print(
        f"{'format':<8} {'rows':>11} {'mlcost s':>9} {'rows/s':>10} {'peak MB':>8} "
        f"{'duckdb s':>9} {'peak MB':>8} {'ratio':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="mlcost-bench-") as tmp:
        workdir = Path(tmp)
        for fmt in args.formats:
            for rows in args.rows:
                data = workdir / f"{fmt}-{rows}"
                path = write_sample(data, rows=rows, fmt=fmt)["cost"]
                ours = measure("mlcost", path, workdir)
                floor = measure("duckdb", path, workdir)
                assert ours["rows"] == floor["rows"] == rows, (ours, floor)
                print(
                    f"{fmt:<8} {rows:>11,} {ours['seconds']:>9.1f} "
                    f"{rows / ours['seconds']:>10,.0f} {ours['peak_mb']:>8.0f} "
                    f"{floor['seconds']:>9.1f} {floor['peak_mb']:>8.0f} "
                    f"{ours['seconds'] / floor['seconds']:>6.1f}",
                    flush=True,
                )
                for f in data.iterdir():
                    f.unlink()


if __name__ == "__main__":
    main()
