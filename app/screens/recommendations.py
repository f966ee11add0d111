"""Recommendations: the findings, filtered, largest saving first, with downloads; one
finding's evidence drawn one chart per unit with its rule's thresholds, and a form to
dismiss it."""

from __future__ import annotations

import io

import altair as alt
import pandas as pd
import streamlit as st
from mlcost.app.common import (
    account_label,
    act,
    chart_frame,
    dated,
    get,
    money,
    no_data,
    short_id,
    table,
)

from mlcost.output import markdown_text, write_csv, write_json
from mlcost.recommendations import set_status
from mlcost.rules import all_rules
from mlcost.views import EvidenceChart


def render() -> None:
    rows = get("rows")
    st.header("Recommendations")
    if not rows["recommendations"]:
        no_data("No findings yet: run `mlcost analyze`.")
        return
    cols = st.columns(3)
    cols[0].multiselect("Rule", list(all_rules()), key="rule")
    cols[1].number_input("Minimum monthly saving", min_value=0.0, step=10.0, key="min_saving")
    cols[2].selectbox("Status", ["open", "dismissed", "closed", "all"], key="status")
    found = get(
        "findings",
        rules=list(st.session_state["rule"]),
        min_savings=st.session_state["min_saving"],
        status=st.session_state["status"],
    )
    st.caption(f"{found.num_rows} findings, largest saving first.")
    if dated():
        st.caption(
            "Date range: the findings whose detection window overlaps it (the data they "
            "were judged on: the 30 days before the end of the data when first detected, "
            "to the end of the data when last detected)."
        )
    if not found.num_rows:
        no_data("No finding matches the filters.")
        return
    names = get("options")["account_names"]
    shown = found.select(
        ["id", "rule", "provider", "account_id", "resource_name",
         "estimated_monthly_savings", "currency", "confidence", "status"]
    )  # fmt: skip
    shown = shown.set_column(
        3, "account", [[account_label(a, names) for a in found.column("account_id").to_pylist()]]
    ).set_column(
        4,
        "resource",
        [[r["resource_name"] or short_id(r["resource_id"]) for r in found.to_pylist()]],
    )
    table(
        shown,
        rename={"estimated_monthly_savings": "saving a month"},
        widths={"account": "medium", "resource": "medium"},
        key="findings_table",
    )
    csv_text, json_text = io.StringIO(), io.StringIO()
    write_csv(found, csv_text)
    write_json(found, json_text)
    st.caption(
        "Download the findings shown, every field with exact decimals (as `mlcost "
        "recommendations --format csv|json`):"
    )
    dl = st.columns([1, 1, 3])
    dl[0].download_button("CSV", csv_text.getvalue(), "recommendations.csv", "text/csv")
    dl[1].download_button("JSON", json_text.getvalue(), "recommendations.json", "application/json")
    _detail(found)


def _detail(found) -> None:  # type: ignore[no-untyped-def]
    st.subheader("Finding")
    labels = {
        r["id"]: f"{r['rule']}: {r['resource_name'] or short_id(r['resource_id'])}"
        for r in found.to_pylist()
    }
    chosen = st.selectbox("Finding", list(labels), format_func=labels.__getitem__, key="finding")
    if chosen is None:
        return
    rec = get("recommendation", id=chosen)
    st.text(rec["title"] or "")
    detail = st.columns(4)
    detail[0].metric("Saving a month", money(rec["estimated_monthly_savings"], rec["currency"]))
    detail[1].metric("Cost a month", money(rec["monthly_cost"], rec["currency"]))
    detail[2].metric("Confidence", markdown_text(rec["confidence"]) or "–")
    detail[3].metric("Status", markdown_text(rec["status"]) or "–")
    st.text(f"Action: {rec['action'] or ''}")
    where = st.columns([3, 2])
    where[0].caption("Resource (copy with the button on the right)")
    where[0].code(rec["resource_id"] or "", language=None)
    where[1].caption("Provider, account, region")
    account = account_label(rec["account_id"], {rec["account_id"]: rec["account_name"]})
    where[1].text(f"{rec['provider']} · {account}\n{rec['region'] or '–'}")
    st.caption(
        markdown_text(
            f"Finding {rec['id']}: detected in the data ending {rec['first_detected']:%Y-%m-%d}"
            f" (first) and {rec['last_detected']:%Y-%m-%d} (last)."
            if rec["first_detected"] and rec["last_detected"]
            else f"Finding {rec['id']}."
        )
    )
    with st.expander("Evidence (the figures that triggered it)", expanded=False):
        st.json(rec["evidence"] or "{}")
    charts = get("evidence", resource_id=rec["resource_id"] or "", rule=rec["rule"])
    if charts:
        st.caption(
            "Utilisation behind it: one chart per unit; dashed: the thresholds "
            f"{rec['rule']} judges by."
        )
        columns = st.columns(2)
        for i, chart in enumerate(charts):
            with columns[i % 2]:
                st.altair_chart(evidence_chart(chart), width="stretch")
    else:
        st.caption("No utilisation metrics stored for this resource.")
    if rec["status"] == "open":
        with st.form("dismiss"):
            reason = st.text_input("Reason for dismissing", key="dismiss_reason")
            if st.form_submit_button("Dismiss"):
                act(
                    lambda store: set_status(store, chosen, dismissed=True, reason=reason),
                    markdown_text(f"Dismissed {chosen}."),
                )
    elif rec["status"] == "dismissed":
        st.text(f"Dismissed: {rec.get('dismissed_reason') or ''}")


def evidence_chart(chart: EvidenceChart) -> alt.Chart | alt.LayerChart | alt.FacetChart:
    """One unit's samples as lines on their own axis, the rule's thresholds dashed."""
    scale = alt.Scale(domain=list(chart.domain)) if chart.domain else alt.Scale(zero=True)
    lines = (
        alt.Chart(chart_frame(chart.data))
        .mark_line(point=False)
        .encode(
            x=alt.X("ts:T", title=None, axis=alt.Axis(format="%b %d", labelAngle=0)),
            y=alt.Y("value:Q", title=chart.title, scale=scale),
            color=alt.Color(
                "series:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=300)
            ),
            tooltip=[
                alt.Tooltip("ts:T", title="time"),
                "series:N",
                alt.Tooltip("value:Q", format=",.2f"),
            ],
        )
    )
    if not chart.thresholds:
        return alt.layer(lines, title=chart.title).properties(height=280)
    rules = pd.DataFrame(
        {"threshold": [v for v, _ in chart.thresholds], "meaning": [m for _, m in chart.thresholds]}
    )
    marks = (
        alt.Chart(rules)
        .mark_rule(strokeDash=[6, 4], color="firebrick")
        .encode(y="threshold:Q", tooltip=["meaning:N", "threshold:Q"])
    )
    return alt.layer(lines, marks, title=chart.title).properties(height=280)
