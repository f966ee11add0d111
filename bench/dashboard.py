"""Dashboard benchmark: the library calls behind each dashboard page, uncached, on the
generated organisation of bench/analyze.py (analysed first, as `mlcost analyze` does),
and the Overview page rendered by Streamlit, uncached, against its 1 s target.

    .venv/bin/python bench/dashboard.py                       # 10M billing rows, 100k resources
    .venv/bin/python bench/dashboard.py --rows 1000000 --resources 10000
    .venv/bin/python bench/dashboard.py --rows 50000000 --overview-only   # issue 19's line
    .venv/bin/python bench/dashboard.py --rows 50000000 --overview-only --store /big/bench.duckdb

Each page's time is what one uncached render spends in the library (the app caches
results for 30 seconds after that). The Overview render is the page itself, run by
Streamlit's AppTest with its cache cleared: the time the page reports ("Rendered in …":
the sidebar's filter options, the headline figures, this month, spend by service and its
daily trend, freshness), the best of three uncached renders after one to start Streamlit.
``--overview-only`` skips the analyses and the other pages (they do not change what the
Overview reads: its spend comes from the daily roll-ups).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from analyze import build

from mlcost import figures, summary, views, vocabulary
from mlcost.analysis import run_analyses
from mlcost.config import AnomalySettings, Settings
from mlcost.store import Store

Con = Any
#: Issue 19's acceptance: the Overview of a 50M-row store renders in under a second.
OVERVIEW_TARGET_S = 1.0
SCRIPT = Path(__file__).parents[1] / "app" / "dashboard.py"


def overview(con: Con, store: Store) -> None:
    """What the Overview asks the library (app/common.py's queries for it)."""
    summary.billing_lines(con)
    for table in ("recommendations", "anomalies", "runs", "run_costs", "metrics"):
        con.execute(f"SELECT count(*) FROM {table}").fetchall()  # noqa: S608
    views.filter_options(con)
    vocabulary.account_names(con)
    vocabulary.providers(con)
    figures.headline(store)
    views.month_spend(con)
    summary.spend_by(con, "service")
    views.spend_trend(con, "service")
    views.freshness(con)


def recommendations(con: Con, store: Store) -> None:
    found = views.findings(con, min_savings=10)
    first = found.column("id")[0].as_py() if found.num_rows else None
    if first:
        rec = views.finding(con, first)
        views.evidence(con, rec["resource_id"], rec["rule"])


def anomalies(con: Con, store: Store) -> None:
    found = views.anomalies(store)
    # the series of the newest anomaly (of the total bill where there is none)
    a = found.to_pylist()[0] if found.num_rows else {"scope": "total", "scope_value": "total"}
    views.anomaly_series(con, AnomalySettings(), a["scope"], a["scope_value"], a.get("currency"))


def commitments_page(con: Con, store: Store) -> None:
    views.commitment_utilisation(con)
    views.coverage_over_time(con)
    views.expiring(con)
    views.findings(con, rules=["commitment_purchase"])


def experiments(con: Con, store: Store) -> None:
    summary = views.experiment_summary(con)
    if summary.num_rows:
        name = summary.column("experiment")[0].as_py()
        views.experiment_runs(con, experiments=[name], metric=None)


PAGES: dict[str, Callable[[Con, Store], None]] = {
    "overview": overview,
    "recommendations": recommendations,
    "anomalies": anomalies,
    "commitments": commitments_page,
    "experiments": experiments,
}


def overview_render(store: Store, runs: int = 3) -> float:
    """Seconds the Overview page takes to render uncached, as the page reports it (the
    best of ``runs``, after one run that starts Streamlit and imports the app)."""
    from mlcost.app import common
    from streamlit.testing.v1 import AppTest

    os.environ["MLCOST_DB"] = str(store.path)
    times = []
    for attempt in range(runs + 1):
        common.fetch.clear()
        at = AppTest.from_file(str(SCRIPT), default_timeout=600).run()
        if at.exception:
            raise RuntimeError(f"the Overview failed: {at.exception[0].message}")
        rendered = [c.value for c in at.caption if c.value.startswith("Rendered in ")]
        match = re.match(r"Rendered in ([0-9.]+) s", rendered[0] if rendered else "")
        if match is None:
            raise RuntimeError("the Overview did not say how long it took to render")
        if attempt:
            times.append(float(match.group(1)))
    return min(times)


def overview_line(rows: int, seconds: float) -> str:
    """The Overview render against its target, as `make bench` prints it."""
    verdict = "under" if seconds < OVERVIEW_TARGET_S else "OVER"
    return (
        f"{'Overview render':<16}{rows:>12,} rows: {seconds:.2f} s uncached, "
        f"{verdict} the {OVERVIEW_TARGET_S:g} s target"
    )


def _kept_rows(store: Store) -> int:
    """The billing rows of a store kept by an earlier run (migrated first, as `mlcost
    init` would), or 0 where there is none."""
    if not store.path.exists():
        return 0
    store.init()
    with store.reader() as con:
        (rows,) = con.execute('SELECT coalesce(sum("rows"), 0) FROM cost_files').fetchone() or (0,)
    return int(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="billing lines")
    parser.add_argument("--resources", type=int, default=100_000, help="resources")
    parser.add_argument(
        "--overview-only",
        action="store_true",
        help="only the Overview (library calls and the rendered page), without the analyses",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="keep the generated store here and reuse it on the next run (built if absent): "
        "a 50M-row store takes long to build, and the render is best measured apart",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlcost-bench-", dir=args.workdir) as tmp:
        store = Store(args.store or Path(tmp) / "bench.duckdb")
        if args.store is not None and _kept_rows(store) == args.rows:
            built = 0.0
        else:
            built = build(store, args.rows, args.resources)
        if not args.overview_only:
            run_analyses(store, Settings())
        print(f"organisation: {args.rows:,} billing rows, {args.resources:,} resources "
              f"(generated in {built:.1f} s)")  # fmt: skip
        print(f"{'page':<18}{'seconds':>10}")
        for name, render in PAGES.items():
            if args.overview_only and name != "overview":
                continue
            started = time.perf_counter()
            with store.reader() as con:
                render(con, store)
            print(f"{name:<18}{time.perf_counter() - started:>10.2f}")
        print(overview_line(args.rows, overview_render(store)))


if __name__ == "__main__":
    main()
