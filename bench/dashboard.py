"""Dashboard benchmark: the library calls behind each dashboard page, uncached, on the
generated organisation of bench/analyze.py (analysed first).

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

from mlcost import commitments, views
from mlcost.recommendations import (
    analyze_recommendations,
    get_recommendation,
    list_recommendations,
    savings_summary,
)
from mlcost.store import Store

Con = Any


def overview(con: Con) -> None:
    views.filter_options(con)
    views.month_spend(con)
    savings_summary(con)
    views.list_anomalies(con)
    views.spend_trend(con, "service")
    views.spend_totals(con, "service")
    views.freshness(con)


def recommendations(con: Con) -> None:
    found = list_recommendations(con, min_savings=10)
    first = found.column("id")[0].as_py() if found.num_rows else None
    if first:
        rec = get_recommendation(con, first)
        views.resource_metrics(con, rec["resource_id"])


def commitments_page(con: Con) -> None:
    commitments.utilisation(con, grain="month")
    views.coverage_over_time(con)
    commitments.expiring(con)
    list_recommendations(con, rules=["commitment_purchase"])


def experiments(con: Con) -> None:
    views.experiment_costs(con)


PAGES: dict[str, Callable[[Con], None]] = {
    "overview": overview,
    "recommendations": recommendations,
    "anomalies": lambda con: views.list_anomalies(con),
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
        analyze_recommendations(store)
        print(f"organisation: {args.rows:,} billing rows, {args.resources:,} resources "
              f"(generated in {built:.1f} s)")  # fmt: skip
        print(f"{'page':<18}{'seconds':>10}")
        for name, render in PAGES.items():
            started = time.perf_counter()
            with store.reader() as con:
                render(con)
            print(f"{name:<18}{time.perf_counter() - started:>10.2f}")


if __name__ == "__main__":
    main()
