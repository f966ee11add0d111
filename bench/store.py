"""Store benchmark: a load's time by the size of the store it goes into, readers during it.

    .venv/bin/python bench/store.py                          # stores of 1M, 10M and 50M rows
    .venv/bin/python bench/store.py --sizes 20000 50000 --load-rows 10000   # seconds

For each size, smallest first, the store is grown to that many billing rows, then
`mlcost ingest billing` loads the same --load-rows FOCUS Parquet file into it (its
partitions replace the ones the previous size's load wrote: a restatement) in a process
of its own, while another process runs `mlcost sql` in a loop. Printed per size: the
load's time, the reader's runs (each must exit 0 and see the totals from before the load
or after it, never a mix), its longest run against its run with no load, and disk use.
The load times should stay within 1.5x of each other (docs/store-design.md).

Then `mlcost sql "SELECT * FROM cost" --format csv` over the store of the size nearest
--sql-rows (10M by default), its output to /dev/null: time and the process's peak
memory (must be under 1 GB).

The store grows with copies of the load file's rows under other sources (base-1,
base-2 …, at most 10M rows a load), loaded through Store.load like any billing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))

from mlcost.sample import write_sample
from mlcost.store import Batch, Scan, Store

#: Rows of one growing load, at most (its temporary table spills to disk past that).
GROW_ROWS = 10_000_000
TOTALS = "SELECT count(*) AS n, sum(BilledCost) AS billed FROM cost"
ALL_ROWS = "SELECT * FROM cost"

# The measured load, in a process of its own: the time is the work, not the imports.
LOAD = r"""
import json, sys, time
path, db = sys.argv[1:3]
from mlcost.ingest import ingest_billing
from mlcost.store import Store
start = time.perf_counter()
rows = ingest_billing(Store(db), [path], source="bench-load").result.rows_in["cost"]
print(json.dumps({"rows": rows, "s": time.perf_counter() - start}))
"""

# `mlcost sql` run as the CLI runs it, its peak memory (VmHWM: this process's own, made
# new at exec) printed to stderr when it exits.
SQL_PEAK = r"""
import atexit, sys
def peak():
    status = open("/proc/self/status").read()
    print("peak_mb", int(status.split("VmHWM:")[1].split()[0]) / 1024, file=sys.stderr)
atexit.register(peak)
from mlcost.cli import main
sys.argv = ["mlcost", *sys.argv[1:]]
main()
"""


def mlcost(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlcost.cli", *args]


def reader_loop(db: str, stop: Path, out: Path) -> None:
    """Run `mlcost sql` until ``stop`` exists; write each run's seconds, exit code and
    totals to ``out`` (JSON lines)."""
    with open(out, "w") as handle:
        while not stop.exists():
            started = time.perf_counter()
            done = subprocess.run(
                mlcost("--db", db, "sql", TOTALS, "--format", "csv"),
                capture_output=True,
                text=True,
                check=False,
            )
            record = {
                "s": time.perf_counter() - started,
                "rc": done.returncode,
                "totals": done.stdout.strip().splitlines()[-1:],
                "error": done.stderr.strip()[-200:],
            }
            handle.write(json.dumps(record) + "\n")
            handle.flush()


def totals(store: Store) -> str:
    with store.reader() as con:
        n, billed = con.execute(TOTALS).fetchone() or (0, 0)
    return f"{n},{billed}"


def grow(store: Store, template: Path, rows: int, have: int) -> int:
    """Load copies of the template's rows under new sources until there are ``rows``
    of them (in loads of at most GROW_ROWS); returns how many there are now."""
    per_file = int(_count(template))
    while have < rows:
        batches = []
        take = min(rows - have, GROW_ROWS)
        while take > 0:
            chunk = min(take, per_file)
            source = f"base-{have // per_file + 1}"
            scan = Scan(
                "SELECT * EXCLUDE (x_ingested_at) REPLACE ($2 AS x_source) "
                "FROM read_parquet($1) LIMIT $3",
                [str(template), source, chunk],
            )
            batches.append(Batch("cost", scan, label=source))
            take -= chunk
            have += chunk
        store.load(batches)
    return have


def _count(path: Path) -> int:
    return int(pq.ParquetFile(path).metadata.num_rows)


def disk(store: Store) -> tuple[float, float, float]:
    """MB of the billing files, of the store file, of its read snapshot."""
    parts = sum(p.stat().st_size for p in store.parts_path.rglob("*") if p.is_file())
    main = store.path.stat().st_size if store.path.exists() else 0
    snap = store.snapshot_path.stat().st_size if store.snapshot_path.exists() else 0
    return parts / 2**20, main / 2**20, snap / 2**20


def measure_load(store: Store, load_file: Path, work: Path) -> dict[str, Any]:
    """The load, with a reader looping beside it; the reader's runs with no load first."""
    before = totals(store)
    idle = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            mlcost("--db", str(store.path), "sql", TOTALS, "--format", "csv"),
            capture_output=True,
            check=True,
        )
        idle.append(time.perf_counter() - started)
    stop, out = work / "reader.stop", work / "reader.jsonl"
    stop.unlink(missing_ok=True)
    reader = subprocess.Popen(
        [sys.executable, __file__, "--reader", str(store.path), str(stop), str(out)]
    )
    time.sleep(min(idle) * 1.5)  # the reader is running when the load starts
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(load_file), str(store.path)],
        capture_output=True,
        text=True,
        check=False,
    )
    time.sleep(min(idle) * 1.5)  # and it reads the new state once too
    stop.touch()
    reader.wait()
    if done.returncode != 0:
        raise SystemExit(f"the load failed: {done.stderr.strip()[-300:]}")
    load = json.loads(done.stdout.strip().splitlines()[-1])
    after = totals(store)
    runs = [json.loads(line) for line in out.read_text().splitlines()]
    failed = [r for r in runs if r["rc"] != 0]
    mixed = [r for r in runs if r["rc"] == 0 and r["totals"] not in ([before], [after])]
    return {
        "load_s": load["s"],
        "rows": load["rows"],
        "runs": len(runs),
        "failed": len(failed),
        "first_failure": failed[0]["error"] if failed else "",
        "mixed": len(mixed),
        "longest_s": max((r["s"] for r in runs), default=float("nan")),
        "idle_s": statistics.median(idle),
        "saw_after": sum(1 for r in runs if r["totals"] == [after]),
    }


def measure_sql(store: Store) -> dict[str, float]:
    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        done = subprocess.run(
            [sys.executable, "-c", SQL_PEAK, "--db", str(store.path), "sql",
             ALL_ROWS, "--format", "csv"],
            stdout=sink, stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"mlcost sql failed: {done.stderr.strip()[-300:]}")
    peak = next(line for line in done.stderr.splitlines() if line.startswith("peak_mb"))
    return {"s": seconds, "peak_mb": float(peak.split()[1])}


def run(sizes: list[int], load_rows: int, sql_rows: int, workdir: Path | None) -> None:
    """Print the store's lines: one per size, then the load-time ratio and `mlcost sql`."""
    sizes = sorted(sizes)
    sql_size = min(sizes, key=lambda size: abs(size - sql_rows))
    print(
        f"{'store load':<16}{'store rows':>12}{'load rows':>11}{'load s':>9}{'reads':>7}"
        f"{'failed':>7}{'mixed':>6}{'longest s':>10}{'idle s':>8}{'parts MB':>10}"
        f"{'file MB':>9}{'snap MB':>9}",
        flush=True,
    )
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="mlcost-bench-", dir=workdir) as tmp:
        work = Path(tmp)
        load_file = write_sample(work / "load", rows=load_rows, fmt="parquet")["cost"]
        store = Store(work / "store.duckdb", lock_timeout_s=600)
        # The first load gives the store realistic rows to copy as it grows.
        subprocess.run(
            [sys.executable, "-c", LOAD, str(load_file), str(store.path)], check=True,
            capture_output=True,
        )  # fmt: skip
        template = work / "template.parquet"
        with store.reader() as con:
            rows = con.sql(ALL_ROWS).to_arrow_reader(100_000)
            with pq.ParquetWriter(template, rows.schema) as out:
                for batch in rows:
                    out.write_batch(batch)
        base = 0  # rows beside the load's own
        for size in sizes:
            base = grow(store, template, size - load_rows, base)
            have = base + load_rows
            result = measure_load(store, load_file, work)
            loads.append(result["load_s"])
            parts, main_mb, snap = disk(store)
            print(
                f"{'':<16}{have:>12,}{result['rows']:>11,}{result['load_s']:>9.1f}"
                f"{result['runs']:>7}{result['failed']:>7}{result['mixed']:>6}"
                f"{result['longest_s']:>10.2f}{result['idle_s']:>8.2f}{parts:>10.0f}"
                f"{main_mb:>9.1f}{snap:>9.1f}",
                flush=True,
            )
            if result["failed"]:
                print(f"  a read failed: {result['first_failure']}", flush=True)
            if size == sql_size:
                sql = measure_sql(store)
                print(
                    f'mlcost sql "{ALL_ROWS}" --format csv on {have:,} rows: '
                    f"{sql['s']:.1f} s, peak {sql['peak_mb']:.0f} MB (must be under 1024)",
                    flush=True,
                )
    print(
        f"store load time, largest store / smallest: {max(loads) / min(loads):.2f}x (target "
        "1.5x); reads: `mlcost sql` runs during the load (a new process each), longest run "
        "against the median run with no load (idle s).",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000, 50_000_000])
    parser.add_argument("--load-rows", type=int, default=1_000_000)
    parser.add_argument("--sql-rows", type=int, default=10_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reader", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reader:
        reader_loop(args.reader[0], Path(args.reader[1]), Path(args.reader[2]))
        return
    run(args.sizes, args.load_rows, args.sql_rows, args.workdir)


if __name__ == "__main__":
    main()
