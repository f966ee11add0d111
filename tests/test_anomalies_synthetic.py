"""A smaller run of bench/anomalies.py: labelled synthetic series, ours against the
7-day-mean rule (the full benchmark prints the same table for 300 series)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np

from mlcost.anomalies import seven_day_mean_rule
from mlcost.config import AnomalySettings


def _bench() -> ModuleType:
    path = Path(__file__).parent.parent / "bench" / "anomalies.py"
    spec = importlib.util.spec_from_file_location("bench_anomalies", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ours_beats_the_seven_day_mean_rule_on_labelled_series() -> None:
    bench = _bench()
    rng = np.random.default_rng(5)
    settings = AnomalySettings(min_impact=0.0)
    labels, ours, base = [], [], []
    for _ in range(60):
        y, truth = bench.make_series(rng, 365)
        first = bench.FIRST_SCORED
        labels.append(truth[first:])
        ours.append(bench.ours(y, settings)[first:])
        base.append(seven_day_mean_rule(y)[first:])
    truth = np.concatenate(labels)
    p, r, f1 = bench.score(np.concatenate(ours), truth)
    bp, br, bf1 = bench.score(np.concatenate(base), truth)
    print(f"\nours: precision {p:.2f} recall {r:.2f} F1 {f1:.2f}")
    print(f"7-day mean +30 %: precision {bp:.2f} recall {br:.2f} F1 {bf1:.2f}")
    assert truth.sum() > 200
    assert f1 >= 0.9
    assert bf1 < 0.5 and f1 - bf1 > 0.5
