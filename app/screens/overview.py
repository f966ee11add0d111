"""Overview: the headline figures (the same as `mlcost analyze` and the report), spend
by provider, service, account or team with its daily trend, and data freshness."""

from __future__ import annotations

from datetime import date, timedelta

import altair as alt
import streamlit as st
from mlcost.app.common import (
    TAG_KEY,
    account_label,
    chart_frame,
    dated,
    get,
    money,
    no_data,
    period_caption,
    table,
)

from mlcost.figures import FIGURES, SPEND_FIGURES, Headline
from mlcost.output import markdown_text


def render() -> None:
    rows = get("rows")
    st.header("Overview")
    if not rows["cost"]:
        no_data("No billing data yet: run `mlcost ingest billing …` (or `mlcost ingest sample`).")
    head = get("headline")
    st.caption(
        period_caption(head)
        + " The same figures as `mlcost analyze --format json` and the report, for the "
        "same filters. Hover the ? beside a figure for what it sums."
    )
    before = None
    if dated() and head.first_day and head.last_day:
        before = get("headline_before", first=str(head.first_day), last=str(head.last_day))
    currencies = list(dict.fromkeys(f.currency for f in head.figures if f.currency))
    for currency in currencies:
        cols = st.columns(3)
        for col, key in zip(cols, SPEND_FIGURES, strict=True):
            value = head.get(key, currency)
            delta = None
            if before is not None:
                change = value - before.get(key, currency)
                delta = f"{change:+,.2f} on the {before.period} before"
            col.metric(
                f"{_label(head, key)} ({markdown_text(currency)})",
                money(value, currency),
                delta=delta,
                delta_color="inverse",
                help=_meaning(head, key),
            )
    cols = st.columns(3)
    for currency in currencies or [None]:
        saving = head.get("monthly_savings", currency)
        cols[0].metric(
            f"Savings a month ({markdown_text(currency)})" if currency else "Savings a month",
            money(saving, currency) if rows["recommendations"] else "–",
            help=_meaning(head, "monthly_savings")
            + ("; with a date range, the findings whose detection window overlaps it."
               if rows["recommendations"] else ". Run `mlcost analyze` first."),
        )  # fmt: skip
    cols[1].metric(
        "Open anomalies",
        str(head.get("open_anomalies")) if rows["anomalies"] else "–",
        help=_meaning(head, "open_anomalies") + " (see Anomalies).",
    )
    if rows["cost"] and not dated():
        _months()
    if rows["cost"]:
        _spend_by()
    st.subheader("Data freshness")
    fresh = get("freshness")
    if fresh.num_rows:
        table(fresh, key="freshness")
    else:
        no_data("Nothing loaded yet: run `mlcost ingest …`.")


def _label(head: Headline, key: str) -> str:
    return FIGURES[key][0]


def _meaning(head: Headline, key: str) -> str:
    return FIGURES[key][1][0].upper() + FIGURES[key][1][1:]


def _months() -> None:
    """This month, the month before and the run-rate forecast (no date range chosen)."""
    spend = get("month_spend")
    if spend.num_rows:
        st.caption(
            "Amortised spend by calendar month: the month the billing data ends in (the data "
            "may lag the calendar), the month before, and the run-rate forecast to its end."
        )
    for r in spend.to_pylist():
        cols = st.columns(3)
        cur = r["currency"]
        month = r["month"]
        before = (date.fromisoformat(month + "-01") - timedelta(days=1)).strftime("%Y-%m")
        cols[0].metric(f"{month} to date ({markdown_text(cur)})", money(r["this_month"], cur))
        cols[1].metric(f"{before} ({markdown_text(cur)})", money(r["last_month"], cur))
        cols[2].metric(
            f"{month} forecast ({markdown_text(cur)})",
            money(r["forecast"], cur),
            help=f"Run rate: {r['days_covered']} of {r['days_in_month']} days billed.",
        )


def _spend_by() -> None:
    st.subheader("Spend by")
    by = st.selectbox(
        "Spend by",
        ["provider", "service", "account", f"tag:{TAG_KEY}"],
        format_func=lambda b: f"{TAG_KEY} tag" if b.startswith("tag:") else b,
        key="trend_by",
        label_visibility="collapsed",
    )
    spend = get("spend_by", by=by)
    if not spend.num_rows:
        no_data("No spend in the chosen filters.")
        return
    if by == "account":
        names = get("options")["account_names"]
        labels = [account_label(a, names) for a in spend.column("account").to_pylist()]
        spend = spend.drop_columns(["account", "account_name"]).add_column(0, by, [labels])
    table(
        spend,
        [by, "currency", "billed_cost", "effective_cost", "usage_cost", "rows"],
        rename={
            by: f"{TAG_KEY} tag" if by.startswith("tag:") else by,
            "billed_cost": "billed spend",
            "effective_cost": "amortised spend",
            "usage_cost": "usage spend",
            "rows": "billing lines",
        },
        key="spend_by_table",
    )
    trend = get("trend", by=by)
    if not trend.num_rows:
        return
    st.caption(
        "Daily usage spend (EffectiveCost of Usage charges: the usage spend column; "
        "monthly fees, tax and credits are not spread over days). Top 8, the rest as (other)."
    )
    chart = (
        alt.Chart(chart_frame(trend))
        .mark_area()
        .encode(
            x=alt.X("period:T", title="charge day", axis=alt.Axis(format="%b %d")),
            y=alt.Y(
                "sum(effective_cost):Q", title="usage spend a day", axis=alt.Axis(format=",.0f")
            ),
            color=alt.Color(
                "value:N",
                title=None,
                legend=alt.Legend(orient="bottom", columns=3, labelLimit=360),
            ),
            tooltip=[
                alt.Tooltip("period:T", title="day"),
                alt.Tooltip("value:N", title=by),
                alt.Tooltip("currency:N"),
                alt.Tooltip("effective_cost:Q", title="usage spend", format=",.2f"),
            ],
        )
        .properties(height=320)
    )
    st.altair_chart(chart, width="stretch")
