"""Commitments: utilisation per commitment and month, coverage month by month,
expiring terms, and purchase advice (the open commitment_purchase findings)."""

from __future__ import annotations

import altair as alt
import pyarrow as pa
import streamlit as st
from mlcost.app.common import chart_frame, get, no_data, short_id, table


def _short(data: pa.Table) -> pa.Table:
    """The commitment's ARN or resource path by its tail (the name says what it is)."""
    i = data.column_names.index("commitment_id")
    ids = [short_id(v) for v in data.column("commitment_id").to_pylist()]
    return data.set_column(i, "commitment_id", [ids])


def render() -> None:
    rows = get("rows")
    st.header("Commitments")
    if not rows["cost"]:
        no_data("No billing data yet: run `mlcost ingest billing …`.")
        return
    if st.session_state.get("account") or st.session_state.get("tag"):
        st.caption(
            "Account and tag filters: utilisation and expiry show, whole, the commitments "
            "that covered those accounts' or tag values' usage; coverage counts only their "
            "usage."
        )
    util = get("utilisation")
    st.subheader("Utilisation")
    if util.num_rows:
        st.caption(
            "Used ÷ (used + unused) amortised cost per commitment and month; net savings: "
            "the on-demand equivalent of what it covered less its amortised cost."
        )
        chart = (
            alt.Chart(chart_frame(util))
            .mark_line(point=True)
            .encode(
                x=alt.X("period:N", title=None, axis=alt.Axis(labelAngle=0)),
                y=alt.Y(
                    "utilisation_cost_pct:Q",
                    title="utilisation (%)",
                    scale=alt.Scale(domain=[0, 100]),
                ),
                color=alt.Color(
                    "name:N",
                    title=None,
                    legend=alt.Legend(orient="right", labelLimit=320),
                ),
                tooltip=[
                    "name:N",
                    "period:N",
                    "utilisation_cost_pct:Q",
                    alt.Tooltip("net_savings:Q", format=",.2f"),
                ],
            )
            .properties(height=300)
        )
        st.altair_chart(chart, width="stretch")
        table(
            _short(util),
            ["name", "type", "period", "utilisation_cost_pct", "used_cost", "unused_cost",
             "net_savings", "currency"],
            rename={"utilisation_cost_pct": "utilisation % (amortised cost)"},
            formats={"utilisation_cost_pct": "%.1f"},
            widths={"name": "large"},
            key="utilisation_table",
        )  # fmt: skip
    else:
        no_data("No commitment in the billing data.")
    st.subheader("Coverage over time")
    cov = get("coverage")
    if cov.num_rows:
        chart = (
            alt.Chart(chart_frame(cov))
            .mark_line(point=True)
            .encode(
                x=alt.X("month:N", title=None, axis=alt.Axis(labelAngle=0)),
                y=alt.Y(
                    "coverage_cost_pct:Q",
                    title="coverage (on-demand equivalent, %)",
                    scale=alt.Scale(domain=[0, 100]),
                ),
                color=alt.Color("provider:N", legend=alt.Legend(orient="right")),
            )
            .properties(height=260)
        )
        st.altair_chart(chart, width="stretch")
        table(
            cov,
            rename={
                "coverage_hours_pct": "coverage hours %",
                "coverage_cost_pct": "coverage cost %",
            },
            formats={"coverage_hours_pct": "%.1f", "coverage_cost_pct": "%.1f"},
            key="coverage_table",
        )
    else:
        no_data("No eligible usage in range.")
    st.subheader("Expiring")
    days = st.number_input("Ending within days", min_value=1, value=60, key="within_days")
    ending = get("expiring", days=int(days))
    if ending.num_rows:
        table(
            _short(ending),
            ["name", "type", "provider", "term_end", "days_left", "term_end_from", "commitment_id"],
            rename={"commitment_id": "id", "days_left": "days left (negative: ended)"},
            key="expiring_table",
        )
    else:
        st.caption("No commitment ends in that window.")
    st.subheader("Purchase advice")
    advice = get("findings", rules=["commitment_purchase"], status="open")
    if advice.num_rows:
        table(
            advice,
            ["title", "action", "estimated_monthly_savings", "currency"],
            rename={"estimated_monthly_savings": "saving a month"},
            key="advice_table",
        )
    else:
        st.caption("No open commitment_purchase finding (run `mlcost analyze`).")
