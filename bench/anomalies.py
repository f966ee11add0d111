"""Anomaly benchmark: labelled synthetic cost series, ours against the 7-day-mean rule.

    .venv/bin/python bench/anomalies.py                  # 300 series x 365 days, then timing
    .venv/bin/python bench/anomalies.py --series 500 --seed 3 --no-timing

Each series is a daily cost with what real bills have and nobody should be paged for: a
level ($30 to $20,000 a day), a weekly rhythm (weekends at 20 % to 100 % of weekdays), a
trend (-20 % to +40 % a year), a level shift in half the series (±5 to 15 %, a new
steady workload), three holidays a year (weekday-only work pauses for a quarter of its
weekend dip) and noise (3 % to 10 %). Into it go 2 to 4 labelled anomalies of known
dates: spikes of +50 % to +300 % and drops of -50 % to -95 %, lasting 1 to 3 days.
Every day from day 22 on is scored, for both detectors, as flagged or not against its
label: precision, recall, F1. Money thresholds are off (the levels are arbitrary); our
percentage threshold is the default 30 %, the same figure the 7-day-mean rule uses.

Timing: the model over 1,000 scopes x 365 days, and ``detect_anomalies`` end to end on a
store holding 1,000 project tags x 365 days of billing lines.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa

from mlcost.anomalies import detect_anomalies, flag_series, model_series, seven_day_mean_rule
from mlcost.config import ANOMALY_SENSITIVITIES, AnomalySettings
from mlcost.schema import arrow_schema
from mlcost.store import Batch, Store

FIRST_SCORED = 22


def make_series(rng: np.random.Generator, days: int) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic daily cost series and its labels (True: an injected anomaly)."""
    t = np.arange(days)
    level = float(np.exp(rng.uniform(np.log(30), np.log(20_000))))
    weekend = rng.uniform(0.2, 1.0)
    weekday_shape = 1 + rng.normal(0, 0.03, 7)
    season = np.where(t % 7 >= 5, weekend, 1.0) * weekday_shape[t % 7]
    trend = 1 + rng.uniform(-0.2, 0.4) * t / 365
    shift = np.ones(days)
    if rng.random() < 0.5:
        at = int(rng.integers(40, days - 10))
        shift[at:] = 1 + rng.choice([-1, 1]) * rng.uniform(0.05, 0.15)
    holidays = np.ones(days)
    for day in (45, 150, 330):
        if day < days and day % 7 < 5:
            holidays[day] = 1 - (1 - weekend) / 4
    noise = 1 + rng.normal(0, rng.uniform(0.03, 0.10), days)
    y = level * season * trend * shift * holidays * np.clip(noise, 0.5, 1.5)
    labels = np.zeros(days, dtype=bool)
    for _ in range(int(rng.integers(2, 5))):
        start = int(rng.integers(60, days - 3))
        length = int(rng.integers(1, 4))
        if labels[max(start - 7, 0) : start + length + 7].any():
            continue  # keep anomalies apart, so each is judged on a normal history
        factor = rng.uniform(1.5, 4.0) if rng.random() < 0.6 else rng.uniform(0.05, 0.5)
        y[start : start + length] *= factor
        labels[start : start + length] = True
    return y, labels


def score(flags: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    tp = int((flags & labels).sum())
    fp = int((flags & ~labels).sum())
    fn = int((~flags & labels).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def ours(y: np.ndarray, settings: AnomalySettings) -> np.ndarray:
    model = model_series(
        y, lookback_days=settings.lookback_days, min_history_days=settings.min_history_days
    )
    return flag_series(
        y,
        model,
        band_sigmas=ANOMALY_SENSITIVITIES[settings.sensitivity],
        min_impact=settings.min_impact,
        min_impact_pct=settings.min_impact_pct,
    )


def accuracy(n: int, days: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    settings = AnomalySettings(min_impact=0.0)
    all_labels, all_ours, all_base = [], [], []
    for _ in range(n):
        y, labels = make_series(rng, days)
        all_labels.append(labels[FIRST_SCORED:])
        all_ours.append(ours(y, settings)[FIRST_SCORED:])
        all_base.append(seven_day_mean_rule(y)[FIRST_SCORED:])
    labels = np.concatenate(all_labels)
    print(f"{n} series x {days} days, {int(labels.sum())} anomalous days of {labels.size}")
    header = ("flags", "false", "missed", "prec", "recall", "F1")
    print(f"{'detector':<24}" + "".join(f"{h:>8}" for h in header))
    for name, flags in (
        ("mlcost (medians + MAD)", np.concatenate(all_ours)),
        ("7-day mean +30 %", np.concatenate(all_base)),
    ):
        p, r, f1 = score(flags, labels)
        false, missed = int((flags & ~labels).sum()), int((~flags & labels).sum())
        counts = "".join(f"{v:>8}" for v in (int(flags.sum()), false, missed))
        print(f"{name:<24}{counts}{p:>8.2f}{r:>8.2f}{f1:>8.2f}")


def timing(days: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    series = [make_series(rng, days)[0] for _ in range(1000)]
    settings = AnomalySettings(min_impact=0.0)
    start = time.perf_counter()
    flagged = sum(int(ours(y, settings).sum()) for y in series)
    model_s = time.perf_counter() - start
    print(f"model: 1,000 scopes x {days} days in {model_s:.2f} s ({flagged} anomalous days)")

    first = datetime(2025, 1, 1)
    columns: dict[str, list[object]] = {
        c: []
        for c in (
            "ChargePeriodStart",
            "ChargePeriodEnd",
            "BillingPeriodStart",
            "EffectiveCost",
            "Tags",
            "ResourceId",
        )
    }
    for i, y in enumerate(series):
        for d, cost in enumerate(y):
            day = first + timedelta(days=d)
            columns["ChargePeriodStart"].append(day)
            columns["ChargePeriodEnd"].append(day + timedelta(days=1))
            columns["BillingPeriodStart"].append(day.replace(day=1))
            columns["EffectiveCost"].append(Decimal(f"{cost:.4f}"))
            columns["Tags"].append(f'{{"project": "p{i:04d}"}}')
            columns["ResourceId"].append(f"i-{i:04d}")
    rows = len(columns["Tags"])
    fixed = {
        "ChargeCategory": "Usage",
        "ProviderName": "AWS",
        "SubAccountId": "111111111111",
        "ServiceName": "Amazon Elastic Compute Cloud",
        "BillingCurrency": "USD",
        "x_source": "bench",
    }
    full = arrow_schema("cost")
    arrays = {k: pa.array(v, full.field(k).type) for k, v in columns.items()}
    arrays |= {k: pa.array([v] * rows, full.field(k).type) for k, v in fixed.items()}
    table = pa.table(arrays)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "mlcost.duckdb")
        store.init()
        store.load([Batch("cost", table)])
        start = time.perf_counter()
        result = detect_anomalies(store, AnomalySettings(min_impact=0.0, tag_keys=["project"]))
        end_to_end = time.perf_counter() - start
    print(
        f"detect_anomalies: {rows:,} billing lines, {result.scopes_judged:,} scopes x {days} "
        f"days in {end_to_end:.1f} s ({len(result.anomalies):,} anomalies, drivers included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=300)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args()
    accuracy(args.series, args.days, args.seed)
    if not args.no_timing:
        timing(args.days, args.seed + 1)


if __name__ == "__main__":
    main()
