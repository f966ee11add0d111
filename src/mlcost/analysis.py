"""`mlcost analyze` as a library call: every analysis over the store, in order.

The CLI, the scheduled job and notebooks call :func:`run_analyses`, so they all run the
same analyses with the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlcost.anomalies import AnomalyResult, detect_anomalies
from mlcost.attribution import AttributionResult, analyze_run_costs
from mlcost.config import Settings
from mlcost.engine import Engine
from mlcost.recommendations import AnalyzeResult, analyze_recommendations
from mlcost.store import Store


@dataclass
class Analyses:
    """What one analysis run produced, per analysis."""

    recommendations: AnalyzeResult
    anomalies: AnomalyResult
    run_costs: AttributionResult
    extra: dict[str, Any] = field(default_factory=dict)


def run_analyses(store: Store, settings: Settings) -> Analyses:
    """Run every analysis: waste rules and commitment findings, anomaly detection, and the
    cost of each ML run."""
    recommendations = analyze_recommendations(store, settings.rules)
    anomalies = detect_anomalies(store, settings.anomalies)
    run_costs = analyze_run_costs(store)
    return Analyses(recommendations=recommendations, anomalies=anomalies, run_costs=run_costs)


def analyze_on_engine(
    store: Store, engine: Engine, settings: Settings
) -> tuple[AnomalyResult, AttributionResult]:
    """The anomalies and run costs on ``engine`` (its tables the store's input tables:
    ``analyze --engine spark`` over a lake), written to ``store`` as :func:`run_analyses`
    writes them: the same partitions replaced, the acknowledgements kept."""
    anomalies = detect_anomalies(store, settings.anomalies, engine=engine)
    run_costs = analyze_run_costs(store, engine=engine)
    return anomalies, run_costs
