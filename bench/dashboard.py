"""Dashboard benchmark: the library calls behind each dashboard page, uncached, on the
generated organisation of bench/analyze.py (analysed first, as `mlcost analyze` does).

    .venv/bin/python bench/dashboard.py                       # 10M billing rows, 100k resources
    .venv/bin/python bench/dashboard.py --rows 1000000 --resources 10000

Each page's time is what one uncached render spends in DuckDB (the app caches results
for 30 seconds after that).
"""

from __future__ import annotations

import argparse
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


def overview(con: Con, store: Store) -> None:
    views.filter_options(con)
    vocabulary.account_names(con)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="billing lines")
    parser.add_argument("--resources", type=int, default=100_000, help="resources")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlcost-bench-", dir=args.workdir) as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        built = build(store, args.rows, args.resources)
        run_analyses(store, Settings())
        print(f"organisation: {args.rows:,} billing rows, {args.resources:,} resources "
              f"(generated in {built:.1f} s)")  # fmt: skip
        print(f"{'page':<18}{'seconds':>10}")
        for name, render in PAGES.items():
            started = time.perf_counter()
            with store.reader() as con:
                render(con, store)
            print(f"{name:<18}{time.perf_counter() - started:>10.2f}")


if __name__ == "__main__":
    main()
