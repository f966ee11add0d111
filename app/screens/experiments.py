"""Experiments: cost per experiment, and for the one chosen its runs, its sweeps with
the cost to reach a target metric, and cost against the metric with the Pareto front."""

from __future__ import annotations

import altair as alt
import pandas as pd
import pyarrow.compute as pc
import streamlit as st
from mlcost.app.common import filtered, get, no_data, table

from mlcost import views

_RENAME = {
    "gpu_hours": "GPU-hours paid",
    "used_gpu_hours": "GPU-hours used",
    "gpu_efficiency": "GPU efficiency",
    "idle_gpu_cost": "idle GPU cost",
    "cost_per_point": "cost per point",
    "cost_to_target": "cost to target",
}
_FORMATS = {
    "gpu_hours": "accounting",
    "used_gpu_hours": "accounting",
    "gpu_efficiency": "percent",
    "metric": "%.4f",
    "best_metric": "%.4f",
}


def render() -> None:
    rows = get("rows")
    st.header("Experiments")
    if not rows["runs"]:
        no_data("No experiment runs yet: run `mlcost ingest …` for your tracking server.")
        return
    if not rows["run_costs"]:
        no_data("No run costs yet: run `mlcost analyze` to attribute cost to runs.")
    if filtered():
        st.caption(
            "Date range: the runs started in it. Provider, account and tag: only the cost "
            "lines of the resources billed or inventoried there, and the runs that have one."
        )
    per = get("experiments")
    if not per.num_rows:
        no_data("No run in the chosen filters.")
        return
    st.caption(
        "Cost: amortised (EffectiveCost) of the runs' machines, shared by time; best "
        "metric: the best value of the metric named beside it."
    )
    table(
        per,
        ["experiment", "runs", "cost", "gpu_hours", "used_gpu_hours", "gpu_efficiency",
         "idle_gpu_cost", "metric", "best_metric"],
        rename=_RENAME,
        formats=_FORMATS,
        key="experiments_table",
    )  # fmt: skip
    names = per.column("experiment").to_pylist()
    experiment = st.selectbox("Experiment", names, key="experiment")
    if experiment is None:
        return
    metrics = get("metric_names", experiment=experiment)
    cols = st.columns(3)
    metric = cols[0].selectbox("Metric", metrics, key="metric") if metrics else None
    direction = cols[1].radio(
        "Better is", ["higher", "lower"], horizontal=True, key="metric_direction"
    )
    target = cols[2].number_input(
        "Target metric (cost to reach it)", value=None, format="%.4f", key="target"
    )
    runs = get(
        "runs",
        experiment=experiment,
        metric=metric,
        maximize=direction == "higher",
        target=target,
    )
    leaves = runs.filter(pc.equal(runs.column("trials"), 0))
    st.subheader("Runs")
    table(
        leaves,
        ["name", "status", "started_at", "cost", "gpu_hours", "gpu_efficiency", "idle_gpu_cost",
         "metric", "cost_per_point", "pareto"],
        rename={**_RENAME, "metric": metric or "metric"},
        formats=_FORMATS,
        key="runs_table",
    )  # fmt: skip
    st.subheader("Sweeps")
    sweeps = views.sweeps(runs)
    if sweeps.num_rows:
        table(
            sweeps,
            ["name", "trials", "cost", "gpu_hours", "gpu_efficiency", "idle_gpu_cost", "metric",
             "cost_to_target"],
            rename={**_RENAME, "metric": f"best {metric}" if metric else "best metric"},
            formats=_FORMATS,
            key="sweeps_table",
        )  # fmt: skip
        st.caption(
            "A sweep's cost is its own plus its trials'; metric: its best trial's. Cost to "
            "target: walking its trials in the order they ended, what was spent until the "
            "best so far reached the target (empty: never, or no target set)."
        )
    else:
        st.caption("No sweep (a parent run with trials) in this experiment.")
    scored = leaves.filter(pc.invert(pc.is_null(leaves.column("metric"))))
    if not metric or not scored.num_rows:
        st.caption("Cost versus metric needs runs with both a cost and a metric.")
        return
    st.subheader("Cost versus metric")
    df = pd.DataFrame(
        {
            "run": scored.column("name").to_pylist(),
            "cost": [float(c) for c in scored.column("cost").to_pylist()],
            "metric": scored.column("metric").to_pylist(),
            "pareto": scored.column("pareto").to_pylist(),
        }
    )
    chart = (
        alt.Chart(df)
        .mark_circle(size=60)
        .encode(
            x=alt.X("cost:Q", title="cost", axis=alt.Axis(format=",.0f")),
            y=alt.Y("metric:Q", title=metric, scale=alt.Scale(zero=False)),
            color=alt.Color(
                "pareto:N",
                title="on the Pareto front",
                scale=alt.Scale(domain=[True, False], range=["firebrick", "#9aa5b1"]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                "run:N",
                alt.Tooltip("cost:Q", format=",.2f"),
                alt.Tooltip("metric:Q", format=".4f"),
            ],
        )
        .properties(height=320)
    )
    st.altair_chart(chart, width="stretch")
