"""The benchmark suite behind `make bench`: one table of how mlcost scales.

    .venv/bin/python bench/suite.py                     # 1M, 10M and 50M billing rows
    .venv/bin/python bench/suite.py --sizes 1000000     # one size
    .venv/bin/python bench/suite.py --smoke             # seconds: checks the suite runs

For each size it measures, on generated data (the sample generator's `--rows` files):

* ingest rows/second and peak memory of `mlcost ingest billing` for FOCUS Parquet,
  FOCUS CSV.gz and AWS CUR 2.0 Parquet, each in a fresh process, beside two references
  run on the same files: DuckDB's own plain load (`CREATE TABLE t AS SELECT * FROM
  read_parquet(…)`, our floor) and a notebook-style pandas load plus spend summary
  (against mlcost's ingest plus `summary.spend_by`);
* `mlcost analyze`, per analysis (rules, anomalies, run costs), on a generated
  organisation with that many billing lines;
* the dashboard's queries for each page on that store, uncached, and the Overview page
  rendered by Streamlit, uncached, against its 1 s target (issue 19: at 50M rows; run that
  line alone with `bench/dashboard.py --rows 50000000 --overview-only`);
* `mlcost export focus` of a store of the FOCUS Parquet rows (time, peak memory), and the
  export loaded back into a new store, whose sums must equal the original's;
* ingest by physical layout (bench/layouts.py: money as DECIMAL(38,12), DECIMAL(18,6) or
  DOUBLE, timestamps with or without zone, INT96 or text, plain or dictionary strings,
  64k or 1M-row groups, 1 or 100 files, CUR 2.0 and legacy CUR, CSV.gz) at
  ``--layout-rows`` rows, against DuckDB's plain load of the same files;
* `mlcost analyze --engine spark` (bench/spark_analyze.py): the rules on Spark local over a lake
  of ``--spark-sizes`` rows (1M and 10M) beside DuckDB's, time and peak memory of the
  process tree (the JVM included), and how the Spark time grows with the rows;
* the CLI's start: `mlcost --help`, wall time.
* the store at scale (bench/store.py): a 1M-row load into stores of each size, with a
  reader running `mlcost sql` in a loop beside it, and disk use; then `mlcost sql
  "SELECT * FROM cost" --format csv` on the 10M-row store, its peak memory.

Sizes above 10M rows are several files of at most 10M rows (real exports are split the
same way): the 10M-row file again under other names (one load keeps every file's rows,
and reading, converting and writing a copy is the same work as a different file). The
files are generated once and shared by the sizes.
pandas is skipped, with the reason, where its peak memory at the smallest size, scaled
to the size, would not fit in this machine's memory.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).parent))

from analyze import build
from cur import write_cur
from ingest import remove_store
from layouts import HEADER as LAYOUT_HEADER
from layouts import run_layouts
from spark_analyze import run_spark_bench
from store import run as store_bench

from dashboard import PAGES, overview_line, overview_render
from mlcost.anomalies import detect_anomalies
from mlcost.attribution import analyze_run_costs
from mlcost.config import Settings
from mlcost.recommendations import analyze_recommendations
from mlcost.sample import write_sample
from mlcost.store import Store

FILE_ROWS = 10_000_000
FORMATS = {
    "focus-parquet": "FOCUS Parquet",
    "focus-csv.gz": "FOCUS CSV.gz",
    "cur2-parquet": "CUR 2.0 Parquet",
}

#: pandas' peak MB per row, measured at 1M rows (Performance), until this run measures its own:
#: it decides whether pandas can run at all at a size the run has not seen smaller.
PANDAS_MB_PER_ROW = {"focus-parquet": 3.0e-3, "focus-csv.gz": 1.4e-3, "cur2-parquet": 1.8e-3}

# One load (or reference) in a process of its own, so its peak memory is its own.
MEASURE = r"""
import glob, json, os, sys, time
kind, folder, db = sys.argv[1:4]
files = sorted(glob.glob(os.path.join(folder, "*")))
csv = files[0].endswith(".csv.gz")
if kind == "mlcost":
    from mlcost.ingest import ingest_billing
    from mlcost.store import Store
    from mlcost.summary import spend_by
elif kind == "duckdb":
    import duckdb
else:
    import pandas as pd
start = time.perf_counter()  # after the imports: what is timed is the work
if kind == "mlcost":
    store = Store(db)
    store.init()
    rows = ingest_billing(store, [folder]).result.rows_in["cost"]
    loaded = time.perf_counter()
    with store.reader() as con:
        spend_by(con, "service")
elif kind == "duckdb":
    con = duckdb.connect(db)
    scan = "read_csv(?)" if csv else "read_parquet(?)"
    con.execute(f"CREATE TABLE t AS SELECT * FROM {scan}", [files])
    rows = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    con.close()
    loaded = time.perf_counter()
else:  # pandas, as a notebook would: read every file, then group.
    read = pd.read_csv if csv else pd.read_parquet
    df = pd.concat([read(f) for f in files], ignore_index=True)
    rows = len(df)
    loaded = time.perf_counter()
    if "BilledCost" in df.columns:
        keys, cost = ["ServiceName", "BillingCurrency"], ["BilledCost", "EffectiveCost"]
    else:
        keys, cost = ["line_item_product_code", "line_item_currency_code"], [
            "line_item_unblended_cost"]
    df[cost] = df[cost].astype(float)
    df.groupby(keys)[cost].sum().sort_values(cost[-1], ascending=False)
end = time.perf_counter()
# VmHWM belongs to this process, made new at exec (ru_maxrss would carry the parent's).
status = open("/proc/self/status").read()
peak_mb = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({"rows": rows, "load_s": loaded - start, "total_s": end - start,
                  "peak_mb": peak_mb}))
"""


# `mlcost export focus` of a store, in a process of its own (its peak memory is the
# export's): "load" builds the store, "export" writes it as FOCUS Parquet, "sums" gives
# the totals of a store, so the export loaded back can be checked against the original.
EXPORT = r"""
import json, sys, time
phase, source, db = sys.argv[1:4]
from mlcost.store import Store
store = Store(db)
start = time.perf_counter()
if phase == "load":
    from mlcost.ingest import ingest_billing
    store.init()
    ingest_billing(store, [source])
    result = {}
elif phase == "export":
    from mlcost.export import export_focus
    result = {"rows": export_focus(store, __import__("pathlib").Path(source)).rows}
else:
    with store.reader() as con:
        sums = con.execute("SELECT count(*), sum(BilledCost), sum(EffectiveCost), "
                           "sum(ListCost), sum(ContractedCost) FROM cost").fetchone()
    result = {"sums": [str(v) for v in sums]}
status = open("/proc/self/status").read()
result["peak_mb"] = int(status.split("VmHWM:")[1].split()[0]) / 1024
result["s"] = time.perf_counter() - start
print(json.dumps(result))
"""


def _run(script: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["killed"])[-1]
        return {"error": f"failed ({last[:60]})"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure_export(folder: Path, work: Path) -> str:
    """One line: `mlcost export focus` of a store of the folder's rows (time, peak
    memory), and whether the export loaded back gives the same sums to the last decimal."""
    db, copy, out = work / "export.duckdb", work / "reload.duckdb", work / "export.parquet"
    try:
        steps = [
            _run(EXPORT, "load", str(folder), str(db)),
            _run(EXPORT, "export", str(out), str(db)),
            _run(EXPORT, "load", str(out), str(copy)),
            _run(EXPORT, "sums", "", str(db)),
            _run(EXPORT, "sums", "", str(copy)),
        ]
    finally:
        for stale in [*work.glob("export.duckdb*"), *work.glob("reload.duckdb*"), out]:
            _remove(stale)
    failed = next((s["error"] for s in steps if "error" in s), None)
    if failed:
        return f"{'export focus':<16}  {failed}"
    exported, original, reloaded = steps[1], steps[3]["sums"], steps[4]["sums"]
    same = "same" if original == reloaded else f"DIFFERENT {original} vs {reloaded}"
    rows = exported["rows"]
    return (
        f"{'export focus':<16}{rows:>12,}{_s(exported['s']):>10}{rows / exported['s']:>11,.0f}"
        f"{exported['peak_mb']:>9.0f}  reloaded: {same} count, Σ Billed/Effective/List/"
        "ContractedCost"
    )


def measure(kind: str, folder: Path, db: Path) -> dict[str, Any]:
    remove_store(db)
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, kind, str(folder), str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    remove_store(db)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["killed"])[-1]
        return {"error": f"failed ({last[:60]})"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


class Inputs:
    """The generated files, made once and shared by the sizes: a size of N rows is files
    of at most FILE_ROWS rows, file i > 0 being file 0 again. Only the FOCUS base comes
    from the Python generator; DuckDB derives the rest from it."""

    def __init__(self, work: Path, largest: int, file_rows: int = FILE_ROWS) -> None:
        self.work = work
        self.file_rows = file_rows
        self.base_rows = min(largest, file_rows)
        self.base = write_sample(work / "base", rows=self.base_rows, fmt="parquet")["cost"]
        self.parts: dict[tuple[str, int, int], Path] = {}

    def folder(self, fmt: str, rows: int) -> Path:
        """A folder holding the files of one format at one size (links to the parts)."""
        folder = self.work / f"{fmt}-{rows}"
        folder.mkdir(exist_ok=True)
        sizes = [min(rows, self.file_rows)]
        while sum(sizes) < rows:
            sizes.append(min(self.file_rows, rows - sum(sizes)))
        for i, size in enumerate(sizes):
            part = self.part(fmt, size, i)
            os.link(part, folder / f"part-{i:02d}{''.join(part.suffixes)}")
        return folder

    def part(self, fmt: str, rows: int, index: int) -> Path:
        if index > 0:
            # The same file again: reading, converting and writing it is the same work,
            # and deriving a copy under another account cost a quarter of the suite.
            return self.part(fmt, rows, 0)
        key = (fmt, rows, index)
        if key in self.parts:
            return self.parts[key]
        stem = str(self.work / f"{fmt.replace('.', '_')}-part-{rows}-{index}")
        if fmt == "focus-parquet" and rows == self.base_rows and index == 0:
            path = self.base
        elif fmt == "focus-parquet":
            path = Path(stem + ".parquet")
            with duckdb.connect() as con:
                con.execute(
                    f"COPY (SELECT * FROM read_parquet($1) LIMIT {int(rows)}) "  # noqa: S608
                    f"TO {_literal(path)} (FORMAT parquet, COMPRESSION zstd)",
                    [str(self.base)],
                )
        elif fmt == "focus-csv.gz":
            # DuckDB writes the CSV on both cores; gzip at level 1 beats its own gzip
            # writer threefold (the data is what matters here, not the ratio).
            source = self.part("focus-parquet", rows, index)
            plain = Path(stem + ".csv")
            path = Path(stem + ".csv.gz")
            with duckdb.connect() as con:
                con.execute(
                    f"COPY (SELECT * FROM read_parquet($1)) TO {_literal(plain)} "  # noqa: S608
                    "(FORMAT csv, HEADER)",
                    [str(source)],
                )
            with open(plain, "rb") as raw, gzip.open(path, "wb", compresslevel=1) as out:
                shutil.copyfileobj(raw, out, 1 << 22)
            plain.unlink()
        else:
            source = self.part("focus-parquet", rows, index)
            path = write_cur(source, "cur2.parquet", self.work).rename(Path(stem + ".parquet"))
        self.parts[key] = path
        return path


def _remove(path: Path) -> None:
    """A store's file, or its folder of billing files (``<db>.parts``)."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def analyses(
    rows: int, work: Path, render_runs: int = 3
) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds per analysis, then per dashboard page, on a generated organisation; the
    page times include the Overview rendered by Streamlit, uncached (``overview render``)."""
    store = Store(work / "org.duckdb")
    resources = max(1_000, min(100_000, rows // 100))
    build(store, rows, resources)
    timed: dict[str, float] = {}
    settings = Settings()
    for name, run in (
        ("rules", lambda: analyze_recommendations(store, settings.rules)),
        ("anomalies", lambda: detect_anomalies(store, settings.anomalies)),
        ("run costs", lambda: analyze_run_costs(store)),
    ):
        started = time.perf_counter()
        run()
        timed[name] = time.perf_counter() - started
    timed["total"] = sum(timed.values())
    pages: dict[str, float] = {}
    for page, render in PAGES.items():
        started = time.perf_counter()
        with store.reader() as con:
            render(con, store)
        pages[page] = time.perf_counter() - started
    pages["overview render"] = overview_render(store, render_runs)
    remove_store(work / "org.duckdb")
    return timed, pages


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; Python "
        f"{platform.python_version()}, DuckDB {duckdb.__version__}"
    )


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000, 50_000_000])
    parser.add_argument(
        "--csv-max-rows",
        type=int,
        default=10_000_000,
        help="largest size the CSV.gz load runs at (50M rows of it, with its reference, "
        "add about 10 minutes)",
    )
    parser.add_argument(
        "--export-max-rows",
        type=int,
        default=10_000_000,
        help="largest size `mlcost export focus` is measured at (after the FOCUS Parquet load)",
    )
    parser.add_argument(
        "--formats", nargs="+", choices=list(FORMATS), default=list(FORMATS), help="loads to run"
    )
    parser.add_argument(
        "--ingest-only", action="store_true", help="skip the analyze and dashboard timings"
    )
    parser.add_argument(
        "--layout-rows",
        type=int,
        default=10_000_000,
        help="rows of the ingest-by-layout table (0: skip it)",
    )
    parser.add_argument(
        "--layout-repeat",
        type=int,
        default=2,
        help="loads of each layout each way, the fastest kept (bench/layouts.py --repeat)",
    )
    parser.add_argument(
        "--skip-store", action="store_true", help="skip the store-at-scale lines (bench/store.py)"
    )
    parser.add_argument(
        "--spark-sizes",
        type=int,
        nargs="*",
        default=[1_000_000, 10_000_000],
        help="billing rows of the Spark analyze lines (none: skip them); alone: "
        "bench/spark_analyze.py",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check it runs")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    sizes = [2_000, 5_000] if args.smoke else args.sizes
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    started = time.perf_counter()
    print(f"mlcost benchmark on {machine()}", flush=True)
    header = (
        f"{'ingest':<16}{'rows':>12}{'mlcost s':>10}{'rows/s':>11}{'peak MB':>9}"
        f"{'duckdb s':>10}{'×duckdb':>8}{'pandas s':>10}{'peak MB':>9}{'×pandas':>8}"
    )
    print(header, flush=True)
    pandas_mb_per_row: dict[str, float] = {}
    later: list[tuple[int, dict[str, float], dict[str, float]]] = []
    timings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mlcost-bench-", dir=args.workdir) as tmp:
        begun = time.perf_counter()
        # The smoke run splits its larger size in two files, as 50M rows are split.
        inputs = Inputs(Path(tmp), max(sizes), 3_000 if args.smoke else FILE_ROWS)
        timings.append(f"base file generated in {time.perf_counter() - begun:.0f} s")
        for rows in sizes:
            work = Path(tmp)
            begun = time.perf_counter()
            formats = [f for f in args.formats if f != "focus-csv.gz" or rows <= args.csv_max_rows]
            folders = {fmt: inputs.folder(fmt, rows) for fmt in formats}
            generated = time.perf_counter() - begun
            for fmt, title in FORMATS.items():
                if fmt not in args.formats:
                    continue
                if fmt not in formats:
                    print(f"{title:<16}{rows:>12,}  not run (over --csv-max-rows)", flush=True)
                    continue
                db = work / "load.duckdb"
                ours = measure("mlcost", folders[fmt], db)
                floor = measure("duckdb", folders[fmt], db)
                need = pandas_mb_per_row.get(fmt, PANDAS_MB_PER_ROW[fmt]) * rows
                if need > 0.8 * memory_mb:
                    panda: dict[str, Any] = {"error": f"skipped: needs ~{need / 1024:.0f} GiB"}
                else:
                    panda = measure("pandas", folders[fmt], db)
                    if "peak_mb" in panda:
                        pandas_mb_per_row.setdefault(fmt, panda["peak_mb"] / rows)
                print(_ingest_line(title, rows, ours, floor, panda), flush=True)
                if fmt == "focus-parquet" and rows <= args.export_max_rows:
                    print(measure_export(folders[fmt], work), flush=True)
            for folder in folders.values():
                shutil.rmtree(folder)
            if not args.ingest_only:
                later.append((rows, *analyses(rows, work, 1 if args.smoke else 3)))
            timings.append(
                f"{rows:,} rows: files written in {generated:.0f} s, all measured in "
                f"{time.perf_counter() - begun:.0f} s"
            )
        if later:
            _print_analyses(later)
        if not args.ingest_only:
            print()
            if args.smoke:
                # A Spark session alone takes 15-35 s to start: at 5,000 rows the line
                # would time the JVM, not the analysis (bench/spark_analyze.py runs it alone).
                print(
                    f"{'spark analyze':<16}skipped in the smoke run (bench/spark_analyze.py)",
                    flush=True,
                )
            elif args.spark_sizes:
                begun = time.perf_counter()
                run_spark_bench(args.spark_sizes, args.workdir)
                timings.append(f"spark lines in {time.perf_counter() - begun:.0f} s")
        layout_rows = min(args.layout_rows, 3_000) if args.smoke else args.layout_rows
        if layout_rows:
            begun = time.perf_counter()
            print(f"\ningest by physical layout, {layout_rows:,} rows\n{LAYOUT_HEADER}", flush=True)
            only = ["baseline", "money-d18", "cur2-parquet"] if args.smoke else None
            layouts = Path(tmp) / "layouts"
            layouts.mkdir()
            run_layouts(layout_rows, layouts, only, 1 if args.smoke else args.layout_repeat)
            shutil.rmtree(layouts)
            timings.append(f"layouts measured in {time.perf_counter() - begun:.0f} s")
        print(f"\n{cli_start()}", flush=True)
    if not args.skip_store:
        print()
        begun = time.perf_counter()
        # The smoke run loads 1,000 rows into stores of 2,000 and 5,000.
        load_rows = 1_000 if args.smoke else 1_000_000
        store_bench(sizes, load_rows, 5_000 if args.smoke else 10_000_000, args.workdir)
        timings.append(f"store lines in {time.perf_counter() - begun:.0f} s")
    notes = (
        "×duckdb: mlcost ingest time / DuckDB plain load; ×pandas: mlcost ingest + spend "
        f"summary / pandas load + summary. {'; '.join(timings)}. Suite ran in "
        f"{time.perf_counter() - started:.0f} s."
    )
    print("\n" + textwrap.fill(notes, width=100))


def cli_start(runs: int = 5) -> str:
    """One line: `mlcost --help`'s wall time (the median of ``runs``), and how much of it
    is imports (python -X importtime)."""
    command = [sys.executable, "-m", "mlcost.cli", "--help"]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    traced = subprocess.run(
        [sys.executable, "-X", "importtime", *command[1:]], capture_output=True, text=True
    )
    # The cumulative import time of the CLI package: everything `--help` imports.
    imports_us = sum(
        int(line.split("|")[1])
        for line in traced.stderr.splitlines()
        if line.startswith("import time:") and line.split("|")[2].strip() == "mlcost.cli"
    )
    median = sorted(times)[len(times) // 2]
    return (
        f"{'CLI start':<16}mlcost --help {median:.2f} s (median of {runs}), of which "
        f"imports {imports_us / 1e6:.2f} s (python -X importtime)"
    )


def _print_analyses(later: list[tuple[int, dict[str, float], dict[str, float]]]) -> None:
    print()
    names = ["rules", "anomalies", "run costs", "total"]
    print(f"{'analyze (s)':<16}{'rows':>12}" + "".join(f"{n:>11}" for n in names))
    for rows, timed, _ in later:
        print(f"{'':<16}{rows:>12,}" + "".join(f"{_s(timed[n]):>11}" for n in names))
    print()
    print(f"{'dashboard (s)':<16}{'rows':>12}" + "".join(f"{p[:11]:>12}" for p in PAGES))
    for rows, _, pages in later:
        print(f"{'':<16}{rows:>12,}" + "".join(f"{_s(pages[p]):>12}" for p in PAGES))
    print()
    for rows, _, pages in later:
        print(overview_line(rows, pages["overview render"]))


def _ingest_line(
    title: str, rows: int, ours: dict[str, Any], floor: dict[str, Any], panda: dict[str, Any]
) -> str:
    if "error" in ours:
        return f"{title:<16}{rows:>12,}  mlcost {ours['error']}"
    assert ours["rows"] == rows, (title, ours)
    line = (
        f"{title:<16}{rows:>12,}{_s(ours['load_s']):>10}{rows / ours['load_s']:>11,.0f}"
        f"{ours['peak_mb']:>9.0f}"
    )
    if "error" in floor:
        line += f"{'-':>10}{'-':>8}"
    else:
        line += f"{_s(floor['load_s']):>10}{ours['load_s'] / floor['load_s']:>8.2f}"
    if "error" in panda:
        return line + f"  pandas {panda['error']}"
    return line + (
        f"{_s(panda['total_s']):>10}{panda['peak_mb']:>9.0f}"
        f"{ours['total_s'] / panda['total_s']:>8.2f}"
    )


if __name__ == "__main__":
    main()
