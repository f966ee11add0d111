"""Ingest by physical layout: the same billing rows written as the clouds and their tools
write them, each loaded by mlcost beside DuckDB's plain load of the same file.

    .venv/bin/python bench/layouts.py --rows 1000000          # every layout at 1M rows
    .venv/bin/python bench/layouts.py --rows 200000 --only money-d18 cur2-parquet

The rows are the sample generator's FOCUS rows (``mlcost.sample``), rewritten by DuckDB
(casts) and pyarrow (the Parquet writer's choices) as:

* FOCUS Parquet whose money is DECIMAL(38,12), DECIMAL(18,6) or DOUBLE; whose timestamps
  are UTC TIMESTAMPTZ, zone-less TIMESTAMP, INT96 (Spark's) or ISO text; with plain or
  dictionary-encoded strings; in 64k- or 1M-row groups; in one file or in 100;
* AWS CUR 2.0 Parquet and legacy CUR Parquet (bench/cur.py), and FOCUS CSV.gz.

For each, in fresh processes: mlcost's ingest (``ingest_billing`` into a new store, as
``mlcost ingest billing``), split into the load SQL (which writes the billing files) and
what follows it (the new files listed in place of the old, commit, checkpoint and the
published snapshot), and
DuckDB's plain ``CREATE TABLE t AS SELECT * FROM read_parquet(…)`` / ``read_csv(…)`` of
the same files. ``×file`` is mlcost's time over that; for a conversion (CUR), ``×focus``
is mlcost's time over DuckDB's plain load of the same rows in FOCUS form (the baseline
layout). Peak memory is each process's own (VmHWM).

``--repeat N`` loads each file N times each way, mlcost and DuckDB alternately, and keeps
each one's fastest load (and its peak memory): the development machine's speed varies by
a fifth between runs, which one load each way reads as a change of ratio.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))

from cur import write_cur
from ingest import remove_store

from mlcost.sample import write_sample
from mlcost.schema import FOCUS_COLUMNS, MONEY


@dataclass(frozen=True)
class Layout:
    """How one FOCUS Parquet file set is written (the baseline is our own writer's)."""

    money: str = "DECIMAL(38,12)"  # or DECIMAL(18,6), DOUBLE
    time: str = "TIMESTAMPTZ"  # or TIMESTAMP, INT96, VARCHAR
    dictionary: bool = True
    row_group: int = 1 << 20
    files: int = 1


#: name → (title, layout); None is a format of its own (CUR, CSV.gz).
LAYOUTS: dict[str, tuple[str, Layout | None]] = {
    "baseline": ("baseline: DECIMAL(38,12), TIMESTAMPTZ, dict", Layout()),
    "money-d18": ("money DECIMAL(18,6)", Layout(money="DECIMAL(18,6)")),
    "money-double": ("money DOUBLE", Layout(money="DOUBLE")),
    "time-naive": ("timestamps TIMESTAMP (no zone)", Layout(time="TIMESTAMP")),
    "time-int96": ("timestamps INT96 (Spark)", Layout(time="INT96")),
    "time-string": ("timestamps as ISO text", Layout(time="VARCHAR")),
    "plain-strings": ("strings plain (no dictionary)", Layout(dictionary=False)),
    "groups-64k": ("64k-row groups", Layout(row_group=65_536)),
    "files-100": ("100 files", Layout(files=100)),
    "issue-24": (
        "issue 24: DECIMAL(18,6), TIMESTAMP, 64k grp",
        Layout(money="DECIMAL(18,6)", time="TIMESTAMP", row_group=65_536),
    ),
    "spark": (
        "Spark: DOUBLE, INT96, plain, 100 files",
        Layout(money="DOUBLE", time="INT96", dictionary=False, files=100),
    ),
    "cur2-parquet": ("AWS CUR 2.0 Parquet", None),
    "cur-legacy-parquet": ("AWS legacy CUR Parquet", None),
    "focus-csv.gz": ("CSV.gz of the baseline rows", None),
}

_MONEY = [name for name, kind in FOCUS_COLUMNS.items() if kind == MONEY]
_TIMES = [name for name, kind in FOCUS_COLUMNS.items() if kind == "TIMESTAMP"]


def write_layout(base: Path, layout: Layout, folder: Path) -> Path:
    """The base file's rows written with ``layout``'s physical choices, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(base)]).fetchall()
        names = [r[0] for r in described]
        select = []
        for name in names:
            ident = '"' + name.replace('"', '""') + '"'
            if name in _MONEY and layout.money != MONEY:
                select.append(f"CAST({ident} AS {layout.money}) AS {ident}")
            elif name in _TIMES:
                cast = {
                    "TIMESTAMPTZ": f"CAST({ident} AS TIMESTAMPTZ)",
                    "TIMESTAMP": f"CAST({ident} AS TIMESTAMP)",
                    "INT96": f"CAST({ident} AS TIMESTAMP)",
                    "VARCHAR": f"strftime({ident}, '%Y-%m-%dT%H:%M:%SZ')",
                }[layout.time]
                select.append(f"{cast} AS {ident}")
            else:
                select.append(ident)
        total = con.execute("SELECT count(*) FROM read_parquet(?)", [str(base)]).fetchall()[0]
        rows = int(total[0]) if total else 0
        per_file = -(-rows // layout.files)
        reader = con.sql(
            f"SELECT {', '.join(select)} FROM read_parquet($1)",  # noqa: S608
            params=[str(base)],
        ).to_arrow_reader(min(per_file, layout.row_group))
        options: dict[str, Any] = {
            "compression": "snappy",
            "use_dictionary": layout.dictionary,
            "use_deprecated_int96_timestamps": layout.time == "INT96",
        }
        writer: pq.ParquetWriter | None = None
        written = index = 0
        for batch in reader:
            if writer is None or written >= per_file:
                if writer is not None:
                    writer.close()
                writer = pq.ParquetWriter(
                    folder / f"part-{index:03d}.parquet", batch.schema, **options
                )
                index, written = index + 1, 0
            writer.write_table(pa.Table.from_batches([batch]), row_group_size=layout.row_group)
            written += batch.num_rows
        if writer is not None:
            writer.close()
    return folder


def write_other(base: Path, name: str, folder: Path) -> Path:
    """CUR 2.0 / legacy CUR Parquet (bench/cur.py) or FOCUS CSV.gz of the base rows."""
    folder.mkdir(parents=True, exist_ok=True)
    if name == "focus-csv.gz":
        plain = folder / "cost.csv"
        with duckdb.connect() as con:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(
                "COPY (SELECT * FROM read_parquet($1)) TO "  # noqa: S608
                + "'"
                + str(plain).replace("'", "''")
                + "' (FORMAT csv, HEADER)",
                [str(base)],
            )
        with open(plain, "rb") as raw, gzip.open(folder / "cost.csv.gz", "wb", 1) as out:
            shutil.copyfileobj(raw, out, 1 << 22)
        plain.unlink()
    else:
        flavour = "cur2.parquet" if name == "cur2-parquet" else "legacy.parquet"
        write_cur(base, flavour, folder).rename(folder / "cur.parquet")
    return folder


# One load in a process of its own, so that its peak memory is its own.
MEASURE = r"""
import glob, json, os, sys, time
kind, folder, db = sys.argv[1:4]
files = sorted(glob.glob(os.path.join(folder, "*")))
if kind == "mlcost":
    from mlcost.ingest import ingest_billing
    from mlcost.store import Store
else:
    import duckdb
start = time.perf_counter()
after = None
if kind == "mlcost":
    store = Store(db)
    marks = {}
    def on_rows(label, rows, done=None):
        marks["sql_end"] = time.perf_counter()
    store.init()
    rows = ingest_billing(store, [folder], on_rows=on_rows).result.rows_in["cost"]
    end = time.perf_counter()
    after = end - marks["sql_end"]
else:
    con = duckdb.connect(db)
    scan = "read_csv(?)" if files[0].endswith(".csv.gz") else "read_parquet(?)"
    con.execute(f"CREATE TABLE t AS SELECT * FROM {scan}", [files])
    rows = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    con.close()
    end = time.perf_counter()
status = open("/proc/self/status").read()
peak_mb = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({"rows": rows, "s": end - start, "after_s": after, "peak_mb": peak_mb}))
"""


def measure(kind: str, folder: Path, db: Path) -> dict[str, Any]:
    """One load of ``folder`` (mlcost or duckdb) in a fresh process, on a fresh store,
    the disk quiet first: the files just written (8.95 GB of CSV for a 10M-row CSV.gz)
    would otherwise be written out during the first load measured, and slow it."""
    remove_store(db)
    os.sync()
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, kind, str(folder), str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    remove_store(db)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["killed"])[-1]
        return {"error": f"failed ({last[:70]})"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


HEADER = (
    f"{'layout':<44}{'rows':>11}{'mlcost s':>9}{'after s':>8}{'peak MB':>8}"
    f"{'duckdb s':>9}{'peak MB':>8}{'×file':>7}{'×focus':>7}"
)


def _s(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def line(title: str, ours: dict[str, Any], floor: dict[str, Any], focus_s: float | None) -> str:
    if "error" in ours:
        return f"{title:<44}  mlcost {ours['error']}"
    text = (
        f"{title:<44}{ours['rows']:>11,}{_s(ours['s']):>9}{_s(ours['after_s']):>8}"
        f"{ours['peak_mb']:>8.0f}"
    )
    if "error" in floor:
        return text + f"  duckdb {floor['error']}"
    text += f"{_s(floor['s']):>9}{floor['peak_mb']:>8.0f}{ours['s'] / floor['s']:>7.2f}"
    return text + (f"{ours['s'] / focus_s:>7.2f}" if focus_s else f"{'':>7}")


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of one side's loads (the first error if every one failed)."""
    good = [run for run in runs if "error" not in run]
    return min(good, key=lambda run: run["s"]) if good else runs[0]


def run_layouts(rows: int, work: Path, only: list[str] | None = None, repeat: int = 1) -> list[str]:
    """Print (and return) one line per layout at ``rows`` rows; files live in ``work``."""
    base = write_sample(work / "base", rows=rows, fmt="parquet")["cost"]
    db = work / "load.duckdb"
    lines: list[str] = []
    focus_s: float | None = None
    names = [n for n in LAYOUTS if only is None or n in only]
    if any(LAYOUTS[n][1] is None and n != "focus-csv.gz" for n in names):
        names = ["baseline", *[n for n in names if n != "baseline"]]  # the ×focus reference
    for name in names:
        title, layout = LAYOUTS[name]
        folder = work / name
        if layout is not None:
            write_layout(base, layout, folder)
        else:
            write_other(base, name, folder)
        runs: dict[str, list[dict[str, Any]]] = {"mlcost": [], "duckdb": []}
        for _ in range(max(repeat, 1)):
            for kind, done in runs.items():
                done.append(measure(kind, folder, db))
        ours, floor = best(runs["mlcost"]), best(runs["duckdb"])
        if name == "baseline" and "s" in floor:
            focus_s = floor["s"]
        converted = layout is None and name != "focus-csv.gz"
        text = line(title, ours, floor, focus_s if converted else None)
        print(text, flush=True)
        lines.append(text)
        shutil.rmtree(folder)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", nargs="+", choices=list(LAYOUTS), default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="loads each way; the best kept")
    args = parser.parse_args()
    started = time.perf_counter()
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory(prefix="mlcost-layouts-", dir=args.workdir) as tmp:
        run_layouts(args.rows, Path(tmp), args.only, args.repeat)
    print(
        "after s: of mlcost's time, what follows the load SQL and its billing files (files "
        "listed, commit, checkpoint, snapshot published). ×file: over DuckDB's plain load of "
        "the same files; ×focus: over DuckDB's plain load of the same rows as FOCUS Parquet "
        f"(baseline). Ran in {time.perf_counter() - started:.0f} s."
    )


if __name__ == "__main__":
    main()
