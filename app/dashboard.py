"""The mlcost dashboard (Streamlit): Overview, Recommendations, Anomalies, Commitments,
Experiments.

Every figure comes from the library (mlcost.views, summary, recommendations,
commitments); this script only reads, caches for a short while and draws. The page and
the filters live in the URL query string, so a view survives navigation and can be
shared. Strings from the clouds are shown as text (tables, st.text, charts), never HTML.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import altair as alt
import duckdb
import pandas as pd
import pyarrow as pa
import streamlit as st

from mlcost import commitments, views
from mlcost.errors import MlcostError
from mlcost.output import cell_text, write_csv, write_json
from mlcost.recommendations import (
    get_recommendation,
    list_recommendations,
    savings_summary,
    set_status,
)
from mlcost.rules import all_rules
from mlcost.store import DEFAULT_DB, Store

PAGES = {
    "overview": "Overview",
    "recommendations": "Recommendations",
    "anomalies": "Anomalies",
    "commitments": "Commitments",
    "experiments": "Experiments",
}
#: The tag whose values the tag filter offers (teams own spend).
TAG_KEY = "team"
#: Seconds a query result is reused: short, so a finished ingest shows up quickly.
CACHE_TTL_S = 30
LIST_PARAMS = ("provider", "account", "tag", "rule")


def money(value: Any, currency: str | None) -> str:
    """An amount as the dashboard shows it: two decimals, thousands separated."""
    if value is None:
        return "–"
    return f"{Decimal(value):,.2f} {currency or ''}".strip()


def plain(text: str | None) -> str:
    """A cloud string made inert where Streamlit reads Markdown (labels): every
    punctuation character backslash-escaped, so it shows as typed."""
    return "".join("\\" + c if c in _MARKDOWN else c for c in (text or ""))


_MARKDOWN = set("\\`*_{}[]()<>#+-.!|~$:=^")


def db_path() -> str:
    return str(Path(os.environ.get("MLCOST_DB", DEFAULT_DB)).resolve())


# ---------------------------------------------------------------------------- data access


def _filters(fkey: str) -> views.Filters:
    raw = json.loads(fkey)
    return views.Filters(
        since=date.fromisoformat(raw["since"]) if raw.get("since") else None,
        until=date.fromisoformat(raw["until"]) if raw.get("until") else None,
        providers=tuple(raw.get("provider", ())),
        accounts=tuple(raw.get("account", ())),
        tags={TAG_KEY: tuple(raw["tag"])} if raw.get("tag") else {},
    )


def _recommendations(con: duckdb.DuckDBPyConnection, f: views.Filters, arg: dict) -> pa.Table:
    return list_recommendations(
        con,
        rules=arg.get("rules", ()),
        providers=f.providers,
        accounts=f.accounts,
        tags=f.tags,
        min_savings=arg.get("min_savings") or None,
        status=arg.get("status", "open"),
    )


_QUERIES: dict[str, Callable[[duckdb.DuckDBPyConnection, views.Filters, dict], Any]] = {
    "rows": lambda con, f, a: {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]  # noqa: S608
        for t in ("cost", "recommendations", "anomalies", "runs", "run_costs", "metrics")
    },
    "options": lambda con, f, a: views.filter_options(con, TAG_KEY),
    "month_spend": lambda con, f, a: views.month_spend(con, f),
    "savings": lambda con, f, a: savings_summary(con, providers=f.providers, accounts=f.accounts),
    "trend": lambda con, f, a: views.spend_trend(con, a["by"], f),
    "totals": lambda con, f, a: views.spend_totals(con, a["by"], f),
    "freshness": lambda con, f, a: views.freshness(con),
    "anomalies": lambda con, f, a: views.list_anomalies(con, f),
    "series": lambda con, f, a: views.anomaly_series(
        con, a["scope"], a["scope_value"], a["provider"]
    ),
    "recommendations": _recommendations,
    "recommendation": lambda con, f, a: get_recommendation(con, a["id"]),
    "metrics": lambda con, f, a: views.resource_metrics(con, a["resource_id"]),
    "utilisation": lambda con, f, a: views.commitment_utilisation(con, f),
    "coverage": lambda con, f, a: views.coverage_over_time(con, f),
    "expiring": lambda con, f, a: views.only_providers(
        commitments.expiring(con, within_days=a["days"]), f
    ),
    "experiments": lambda con, f, a: views.experiment_costs(con, f),
    "runs": lambda con, f, a: views.run_costs_of(con, a["experiment"]),
}


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch(db: str, what: str, fkey: str, arg: str = "{}") -> Any:
    """One library call on a short read-only connection (the published snapshot while
    an ingest holds the store), cached for CACHE_TTL_S seconds."""
    with Store(Path(db)).reader() as con:
        return _QUERIES[what](con, _filters(fkey), json.loads(arg))


def get(what: str, **arg: Any) -> Any:
    return fetch(db_path(), what, st.session_state["_fkey"], json.dumps(arg, sort_keys=True))


def frame(table: pa.Table, columns: list[str] | None = None) -> pd.DataFrame:
    """A table for display: decimals and timestamps as exact text, strings as they are."""
    if columns:
        table = table.select(columns)
    return pd.DataFrame(
        {
            name: [cell_text(v) for v in table.column(name).to_pylist()]
            for name in table.column_names
        }
    )


def chart_frame(table: pa.Table) -> pd.DataFrame:
    """A table for charting: decimals become floats (drawing only; figures stay exact)."""
    df = table.to_pandas()
    for name in df.columns:
        if df[name].map(lambda v: isinstance(v, Decimal)).any():
            df[name] = df[name].astype(float)
    return df


def no_data(message: str) -> None:
    st.info(message)


# ---------------------------------------------------------------------------- filters


def _init_state(options: dict[str, list[str]]) -> None:
    """Widget state from the URL on the first run of a session."""
    if st.session_state.get("_initialised"):
        return
    qp = st.query_params
    page = qp.get("page", "overview")
    st.session_state["page"] = page if page in PAGES else "overview"
    for key in ("since", "until"):
        try:
            st.session_state[key] = date.fromisoformat(qp[key]) if qp.get(key) else None
        except ValueError:
            st.session_state[key] = None
    allowed = {
        "provider": options["providers"],
        "account": options["accounts"],
        "tag": options["tags"],
        "rule": list(all_rules()),
    }
    for key in LIST_PARAMS:
        st.session_state[key] = [v for v in qp.get_all(key) if v in allowed[key]]
    try:
        st.session_state["min_saving"] = float(qp.get("min_saving", 0) or 0)
    except ValueError:
        st.session_state["min_saving"] = 0.0
    st.session_state["status"] = qp.get("status", "open")
    st.session_state["_initialised"] = True


def sidebar(options: dict[str, list[str]]) -> str:
    _init_state(options)
    side = st.sidebar
    page = side.radio("Page", list(PAGES), format_func=PAGES.__getitem__, key="page")
    side.subheader("Filters")
    side.date_input("From", key="since", value=None)
    side.date_input("To", key="until", value=None)
    side.multiselect("Provider", options["providers"], key="provider")
    side.multiselect("Account", options["accounts"], key="account")
    side.multiselect(f"Tag: {TAG_KEY}", options["tags"], key="tag")
    raw: dict[str, Any] = {"page": page}
    for key in ("since", "until"):
        if st.session_state.get(key):
            raw[key] = st.session_state[key].isoformat()
    for key in ("provider", "account", "tag"):
        if st.session_state.get(key):
            raw[key] = list(st.session_state[key])
    st.session_state["_fkey"] = json.dumps(
        {k: v for k, v in raw.items() if k != "page"}, sort_keys=True
    )
    st.session_state["_url"] = raw
    return str(page)


def sync_url() -> None:
    """Write the page and every filter to the query string (after the page drew its own)."""
    raw = dict(st.session_state.get("_url", {}))
    if st.session_state.get("rule"):
        raw["rule"] = list(st.session_state["rule"])
    if st.session_state.get("min_saving"):
        raw["min_saving"] = str(st.session_state["min_saving"])
    if st.session_state.get("status", "open") != "open":
        raw["status"] = st.session_state["status"]
    current = {k: (st.query_params.get_all(k)) for k in st.query_params}
    wanted = {k: (v if isinstance(v, list) else [v]) for k, v in raw.items()}
    if current != wanted:
        st.query_params.from_dict(raw)


# ---------------------------------------------------------------------------- pages


def overview(rows: dict[str, int]) -> None:
    st.header("Overview")
    if not rows["cost"]:
        no_data("No billing data yet: run `mlcost ingest billing …` (or `mlcost ingest sample`).")
    else:
        spend = get("month_spend")
        for r in spend.to_pylist():
            cols = st.columns(3)
            cols[0].metric(
                f"Spend {r['month']} ({plain(r['currency'])})",
                money(r["this_month"], r["currency"]),
            )
            cols[1].metric(
                f"Spend last month ({plain(r['currency'])})", money(r["last_month"], r["currency"])
            )
            cols[2].metric(
                f"Forecast to month end ({plain(r['currency'])})",
                money(r["forecast"], r["currency"]),
                help=f"Run rate: {r['days_covered']} of {r['days_in_month']} days billed.",
            )
    savings = get("savings")
    totals = [r for r in savings.to_pylist() if r["scope"] == "total"]
    head = st.columns(2)
    if totals:
        for r in totals:
            head[0].metric(
                f"Monthly savings available ({plain(r['currency'])})",
                money(r["monthly_savings"], r["currency"]),
                help=f"{r['findings']} open findings on {r['resources']} resources, "
                "each resource counted once.",
            )
    else:
        head[0].metric(
            "Monthly savings available", "–", help="No open findings: run `mlcost analyze`."
        )
    head[1].metric(
        "Anomalies in range", str(get("anomalies").num_rows) if rows["anomalies"] else "–"
    )
    if rows["cost"]:
        st.subheader("Trend")
        by = st.selectbox(
            "Trend by",
            ["provider", "service", "account", f"tag:{TAG_KEY}"],
            format_func=lambda b: f"{TAG_KEY} tag" if b.startswith("tag:") else b,
            key="trend_by",
        )
        trend = get("trend", by=by)
        if trend.num_rows:
            chart = (
                alt.Chart(chart_frame(trend))
                .mark_area()
                .encode(
                    x=alt.X("period:T", title="day"),
                    y=alt.Y("sum(effective_cost):Q", title="effective cost"),
                    color=alt.Color("value:N", title=by),
                    tooltip=["period:T", "value:N", "currency:N", "effective_cost:Q"],
                )
            )
            st.altair_chart(chart, width="stretch")
            totals_table = get("totals", by=by)
            st.table(
                pd.DataFrame(
                    {
                        by: totals_table.column("value").to_pylist(),
                        "effective cost": [
                            money(v, c)
                            for v, c in zip(
                                totals_table.column("effective_cost").to_pylist(),
                                totals_table.column("currency").to_pylist(),
                                strict=True,
                            )
                        ],
                    }
                )
            )
        else:
            no_data("No spend in the chosen filters.")
    st.subheader("Data freshness")
    fresh = get("freshness")
    if fresh.num_rows:
        st.table(frame(fresh))
    else:
        no_data("Nothing loaded yet: run `mlcost ingest …`.")


def recommendations(rows: dict[str, int]) -> None:
    st.header("Recommendations")
    if not rows["recommendations"]:
        no_data("No findings yet: run `mlcost analyze`.")
        return
    cols = st.columns(3)
    cols[0].multiselect("Rule", list(all_rules()), key="rule")
    cols[1].number_input("Minimum monthly saving", min_value=0.0, step=10.0, key="min_saving")
    cols[2].selectbox("Status", ["open", "dismissed", "closed", "all"], key="status")
    found = get(
        "recommendations",
        rules=list(st.session_state["rule"]),
        min_savings=st.session_state["min_saving"],
        status=st.session_state["status"],
    )
    st.caption(f"{found.num_rows} findings, largest saving first.")
    if not found.num_rows:
        no_data("No finding matches the filters.")
        return
    shown = [
        "id", "rule", "provider", "account_id", "resource_name", "estimated_monthly_savings",
        "currency", "confidence", "status",
    ]  # fmt: skip
    st.dataframe(frame(found, shown), hide_index=True, width="stretch")
    csv_text, json_text = io.StringIO(), io.StringIO()
    write_csv(found, csv_text)
    write_json(found, json_text)
    dl = st.columns(2)
    dl[0].download_button("Download CSV", csv_text.getvalue(), "recommendations.csv", "text/csv")
    dl[1].download_button(
        "Download JSON", json_text.getvalue(), "recommendations.json", "application/json"
    )
    st.subheader("Finding")
    labels = {
        r["id"]: f"{r['rule']}: {r['resource_name'] or r['resource_id']}" for r in found.to_pylist()
    }
    chosen = st.selectbox("Finding", list(labels), format_func=labels.__getitem__, key="finding")
    if chosen is None:
        return
    rec = get("recommendation", id=chosen)
    st.text(rec["title"] or "")
    detail = st.columns(3)
    detail[0].metric("Monthly saving", money(rec["estimated_monthly_savings"], rec["currency"]))
    detail[1].metric("Monthly cost", money(rec["monthly_cost"], rec["currency"]))
    detail[2].metric("Confidence", rec["confidence"] or "–")
    st.text(
        f"Resource: {rec['resource_id']}  ({rec['provider']}, {rec['account_id']}, {rec['region']})"
    )
    st.text(f"Action: {rec['action'] or ''}")
    st.caption("Evidence")
    st.json(rec["evidence"] or "{}")
    metrics = get("metrics", resource_id=rec["resource_id"] or "")
    if metrics.num_rows:
        chart = (
            alt.Chart(chart_frame(metrics))
            .mark_line()
            .encode(
                x=alt.X("ts:T", title="time"),
                y=alt.Y("value:Q"),
                color=alt.Color("series:N"),
                tooltip=["ts:T", "series:N", "value:Q"],
            )
        )
        st.altair_chart(chart, width="stretch")
    else:
        st.caption("No utilisation metrics stored for this resource.")
    if rec["status"] == "open":
        with st.form("dismiss"):
            reason = st.text_input("Reason for dismissing", key="dismiss_reason")
            if st.form_submit_button("Dismiss"):
                try:
                    set_status(Store(Path(db_path())), chosen, dismissed=True, reason=reason)
                except MlcostError as exc:
                    st.error(f"{exc.message} {exc.hint or ''}")
                else:
                    fetch.clear()
                    st.session_state["_flash"] = f"Dismissed {chosen}."
                    st.rerun()
    elif rec["status"] == "dismissed":
        st.text(f"Dismissed: {rec.get('dismissed_reason') or ''}")


def anomalies(rows: dict[str, int]) -> None:
    st.header("Anomalies")
    if not rows["anomalies"]:
        no_data("No data yet: run `mlcost analyze`.")
        return
    found = get("anomalies")
    if not found.num_rows:
        no_data("No anomaly in the chosen filters.")
        return
    st.dataframe(frame(found), hide_index=True, width="stretch")
    items = found.to_pylist()
    chosen = st.selectbox(
        "Anomaly",
        range(len(items)),
        format_func=lambda i: f"{items[i]['date']} {items[i]['scope']}: {items[i]['scope_value']}",
        key="anomaly",
    )
    a = items[chosen or 0]
    series = get("series", scope=a["scope"], scope_value=a["scope_value"], provider=a["provider"])
    df = chart_frame(series)
    base = alt.Chart(df).encode(x=alt.X("date:T"))
    band = base.mark_area(opacity=0.3).encode(y=alt.Y("low:Q", title="cost"), y2="high:Q")
    expected = base.mark_line(strokeDash=[4, 4]).encode(y="expected:Q")
    actual = base.mark_line(point=True, color="firebrick").encode(y="actual:Q")
    st.altair_chart(band + expected + actual, width="stretch")
    st.caption("Drivers")
    st.json(a["drivers"] or "[]")


def commitments_page(rows: dict[str, int]) -> None:
    st.header("Commitments")
    if not rows["cost"]:
        no_data("No billing data yet: run `mlcost ingest billing …`.")
        return
    util = get("utilisation")
    st.subheader("Utilisation")
    if util.num_rows:
        chart = (
            alt.Chart(chart_frame(util))
            .mark_line(point=True)
            .encode(
                x=alt.X("period:N"),
                y=alt.Y("utilisation_cost_pct:Q", title="utilisation (cost, %)"),
                color=alt.Color("name:N"),
                tooltip=["name:N", "period:N", "utilisation_cost_pct:Q", "net_savings:Q"],
            )
        )
        st.altair_chart(chart, width="stretch")
        st.dataframe(frame(util), hide_index=True, width="stretch")
    else:
        no_data("No commitment in the billing data.")
    st.subheader("Coverage over time")
    cov = get("coverage")
    if cov.num_rows:
        chart = (
            alt.Chart(chart_frame(cov))
            .mark_line(point=True)
            .encode(
                x=alt.X("month:N"),
                y=alt.Y("coverage_cost_pct:Q", title="coverage (on-demand equivalent, %)"),
                color=alt.Color("provider:N"),
            )
        )
        st.altair_chart(chart, width="stretch")
        st.dataframe(frame(cov), hide_index=True, width="stretch")
    else:
        no_data("No eligible usage in range.")
    st.subheader("Expiring")
    days = st.number_input("Ending within days", min_value=1, value=60, key="within_days")
    ending = get("expiring", days=int(days))
    if ending.num_rows:
        st.dataframe(frame(ending), hide_index=True, width="stretch")
    else:
        st.caption("No commitment ends in that window.")
    st.subheader("Purchase advice")
    advice = get("recommendations", rules=["commitment_purchase"], status="open")
    if advice.num_rows:
        st.dataframe(
            frame(advice, ["title", "action", "estimated_monthly_savings", "currency", "evidence"]),
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption("No open commitment_purchase finding (run `mlcost analyze`).")


def experiments(rows: dict[str, int]) -> None:
    st.header("Experiments")
    if not rows["runs"]:
        no_data("No experiment runs yet: run `mlcost ingest …` for your tracking server.")
        return
    if not rows["run_costs"]:
        no_data("No run costs yet: run `mlcost analyze` to attribute cost to runs.")
    per = get("experiments")
    st.dataframe(frame(per), hide_index=True, width="stretch")
    names = per.column("experiment").to_pylist()
    experiment = st.selectbox("Experiment", names, key="experiment")
    if experiment is None:
        return
    runs = get("runs", experiment=experiment)
    st.dataframe(frame(runs), hide_index=True, width="stretch")
    metrics = views.metric_names(runs)
    costed = [r for r in runs.to_pylist() if r["cost"] is not None]
    if not metrics or not costed:
        st.caption("Cost versus metric needs runs with both a cost and a metric.")
        return
    metric = st.selectbox("Metric", metrics, key="pareto_metric")
    points = []
    for r in costed:
        value = json.loads(r["metrics"] or "{}").get(metric)
        if isinstance(value, int | float):
            points.append((r["run_id"], r["cost"], float(value)))
    front = views.pareto_front(points)
    df = pd.DataFrame(
        {
            "run_id": [p[0] for p in points],
            "cost": [float(p[1]) for p in points],
            metric: [p[2] for p in points],
            "pareto": [p[0] in front for p in points],
        }
    )
    chart = (
        alt.Chart(df)
        .mark_circle(size=60)
        .encode(
            x=alt.X("cost:Q"),
            y=alt.Y(f"{metric}:Q"),
            color=alt.Color("pareto:N", title="Pareto front"),
            tooltip=["run_id:N", "cost:Q", f"{metric}:Q"],
        )
    )
    st.altair_chart(chart, width="stretch")


RENDER = {
    "overview": overview,
    "recommendations": recommendations,
    "anomalies": anomalies,
    "commitments": commitments_page,
    "experiments": experiments,
}


def main() -> None:
    st.set_page_config(page_title="mlcost", layout="wide")
    db = db_path()
    if not Path(db).exists() and not Path(db + ".snapshot").exists():
        st.title("mlcost")
        st.info(f"No store at {db}: run `mlcost ingest sample` (or `mlcost init`) first.")
        return
    started = time.perf_counter()
    st.session_state.setdefault("_fkey", "{}")
    try:
        options = fetch(db, "options", "{}")
        page = sidebar(options)
        rows = get("rows")
        if st.session_state.get("_flash"):
            st.success(st.session_state.pop("_flash"))
        RENDER[page](rows)
    except MlcostError as exc:
        st.error(f"{exc.message} {exc.hint or ''}")
        return
    sync_url()
    st.caption(f"Rendered in {time.perf_counter() - started:.2f} s from {db}.")


main()
