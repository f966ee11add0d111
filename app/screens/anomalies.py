"""Anomalies: the anomalies `mlcost anomalies` lists; for the one chosen, its scope's
daily series with the expected cost and the normal band, its drivers, and a form to
acknowledge it."""

from __future__ import annotations

from decimal import Decimal

import altair as alt
import pyarrow as pa
import pyarrow.compute as pc
import streamlit as st
from mlcost.app.common import (
    TAG_KEY,
    account_label,
    act,
    chart_frame,
    get,
    money,
    money_change,
    no_data,
    settings,
    short_id,
    table,
)

from mlcost import anomalies as anomaly_lib
from mlcost import views
from mlcost.config import ANOMALY_SENSITIVITIES
from mlcost.output import markdown_text


def render() -> None:
    rows = get("rows")
    st.header("Anomalies")
    if not rows["anomalies"]:
        no_data("No data yet: run `mlcost analyze`.")
        return
    if st.session_state.get("account") or st.session_state.get("tag"):
        st.caption(
            "Each anomaly is one scope's series: an account filter keeps the account "
            f"series of those accounts, a {TAG_KEY} filter the tag:{TAG_KEY} series of those "
            "values (both together keep none); other scopes span accounts and teams."
        )
    found = get("anomalies")
    if not found.num_rows:
        no_data("No anomaly in the chosen filters.")
        return
    opened = found.filter(pc.equal(found.column("status"), "open")).num_rows
    st.caption(
        f"{found.num_rows} anomalies, {opened} open, newest first. Amounts are the day's "
        "usage spend (EffectiveCost of Usage charges) in the billing currency; the gpus "
        "series counts GPUs."
    )
    names = get("options")["account_names"]
    series = [
        f"{k}: {account_label(v, names) if k == 'account' else v}"
        for k, v in zip(
            found.column("scope").to_pylist(), found.column("scope_value").to_pylist(), strict=True
        )
    ]
    shown = found.append_column("series", pa.array(series, pa.string()))
    columns = ["id", "date", "series", "direction", "severity", "actual", "expected",
               "impact_pct", "status"]  # fmt: skip
    if any(found.column("reason").to_pylist()):
        columns.append("reason")
    table(
        shown,
        columns,
        rename={"impact_pct": "impact %"},
        formats={"impact_pct": "%+.1f"},
        widths={"series": "medium"},
        key="anomalies_table",
    )
    items = found.to_pylist()
    labels = {a["id"]: f"{a['date']} {a['scope']}: {a['scope_value']}" for a in items}
    chosen = st.selectbox("Anomaly", list(labels), format_func=labels.__getitem__, key="anomaly")
    a = next((x for x in items if x["id"] == chosen), items[0])
    unit = "GPUs" if a["scope"] == anomaly_lib.GPU_SCOPE else a["currency"]
    detail = st.columns(3)
    detail[0].metric("Actual", money(a["actual"], unit))
    detail[1].metric("Expected", money(a["expected"], unit))
    pct = f"{a['impact_pct']:+.1f} %" if a["impact_pct"] is not None else None
    detail[2].metric("Impact", money_change(a["impact"], unit), delta=pct, delta_color="inverse")
    st.caption(
        f"Normal band that day: {money(a['low'], None)} to {money(a['high'], unit)}. "
        f"Status: {markdown_text(a['status'])}."
    )
    _series(a, items, unit)
    st.subheader("Drivers")
    drivers = views.anomaly_drivers(a["drivers"])
    if drivers.num_rows:
        table(_numbers(drivers), rename={"share_pct": "share %"}, key="drivers_table")
    else:
        st.caption("No driver recorded for this anomaly.")
    if a["status"] == "open":
        with st.form("acknowledge"):
            cols = st.columns([1, 3])
            reason = cols[0].selectbox("Reason", anomaly_lib.FEEDBACK_REASONS, key="ack_reason")
            note = cols[1].text_input("Note (optional)", key="ack_note")
            if st.form_submit_button("Acknowledge"):
                act(
                    lambda store: anomaly_lib.acknowledge(store, a["id"], reason, note or None),
                    markdown_text(f"Acknowledged anomaly {a['id']}."),
                )
    else:
        st.text(f"Acknowledged: {a['reason'] or ''}")


def _numbers(drivers: pa.Table) -> pa.Table:
    """The drivers' figures (JSON text) as numbers, for a readable, sortable table."""
    values = [
        short_id(v) if d == "resource" else v
        for d, v in zip(
            drivers.column("dimension").to_pylist(),
            drivers.column("value").to_pylist(),
            strict=True,
        )
    ]
    out = {"dimension": drivers.column("dimension"), "value": pa.array(values, pa.string())}
    for name in ("actual", "expected", "change"):
        out[name] = pa.array(
            [None if v is None else Decimal(v) for v in drivers.column(name).to_pylist()],
            pa.decimal128(38, 12),
        )
    out["share_pct"] = pa.array(
        [None if v is None else float(v) for v in drivers.column("share_pct").to_pylist()],
        pa.float64(),
    )
    return pa.table(out)


def _series(a: dict, items: list[dict], unit: str | None) -> None:
    series = get("series", scope=a["scope"], scope_value=a["scope_value"], currency=a["currency"])
    if not series.num_rows:
        st.caption("This scope has no complete day of billing left to draw.")
        return
    df = chart_frame(series)
    same = [
        x["date"] for x in items if (x["scope"], x["scope_value"]) == (a["scope"], a["scope_value"])
    ]
    flagged = df[df["date"].isin(same)]
    y_title = "GPUs running" if unit == "GPUs" else f"usage spend a day ({unit})"
    base = alt.Chart(df).encode(x=alt.X("date:T", title=None, axis=alt.Axis(format="%b %d")))
    band = base.mark_area(opacity=0.25).encode(
        y=alt.Y("low:Q", title=y_title, axis=alt.Axis(format=",.0f")), y2="high:Q"
    )
    expected = base.mark_line(strokeDash=[4, 4]).encode(y="expected:Q")
    actual = base.mark_line(color="black").encode(
        y="actual:Q",
        tooltip=[
            alt.Tooltip("date:T"),
            *(alt.Tooltip(f"{c}:Q", format=",.2f") for c in ("actual", "expected", "low", "high")),
        ],
    )
    points = (
        alt.Chart(flagged)
        .mark_point(color="firebrick", size=80, filled=True)
        .encode(x="date:T", y="actual:Q")
    )
    st.altair_chart((band + expected + actual + points).properties(height=300), width="stretch")
    cfg = settings().anomalies
    sigmas = ANOMALY_SENSITIVITIES[cfg.sensitivity]
    st.caption(
        "The scope's whole daily series (black), the expected cost (dashed) and the "
        "normal band the detector judged each day by; red: the anomalies. Band: "
        f"expected ± {sigmas:g} robust σ (sensitivity {cfg.sensitivity}), learnt from "
        f"the {cfg.lookback_days} days before each day."
    )
