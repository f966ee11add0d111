"""The mlcost dashboard (Streamlit): Overview, Recommendations, Anomalies, Commitments,
Experiments.

Every figure comes from the library (mlcost.views, which passes the filters to summary,
recommendations, anomalies, commitments and experiments); this script only reads, caches
for a short while and draws. The page and the filters live in the URL query string, so a
view survives navigation and can be shared. The store is $MLCOST_DB and the settings
$MLCOST_CONFIG (both set by `mlcost dashboard`). Strings from the clouds are shown as
text (tables, st.text, charts), never HTML.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import altair as alt
import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import streamlit as st

from mlcost import anomalies as anomaly_lib
from mlcost import views
from mlcost.config import ANOMALY_SENSITIVITIES, Settings, load_settings
from mlcost.errors import MlcostError
from mlcost.output import cell_text, write_csv, write_json
from mlcost.recommendations import get_recommendation, set_status
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


def config_path() -> str:
    """The settings file `mlcost dashboard --config` named ($MLCOST_CONFIG), or ''."""
    return os.environ.get("MLCOST_CONFIG", "")


def settings(config: str) -> Settings:
    """The settings of ``config`` (else ./mlcost.toml if present, else the defaults)."""
    return load_settings(config or None)


def open_store(db: str, config: str) -> Store:
    """The store with the settings' lock timeout and memory limit, as the CLI opens it."""
    s = settings(config).store
    return Store(
        Path(db), lock_timeout_s=s.lock_timeout_s, writer_memory_limit=s.writer_memory_limit
    )


def act(change: Callable[[Store], object], done: str) -> None:
    """Make a change a form asks for through the library, then show the page anew with
    ``done`` said (or the library's error, and nothing changed)."""
    try:
        change(open_store(db_path(), config_path()))
    except MlcostError as exc:
        st.error(problem(exc))
    else:
        fetch.clear()
        st.session_state["_flash"] = done
        st.rerun()


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


@dataclass
class Source:
    """What a query reads: a read-only connection on the store, and the settings."""

    con: duckdb.DuckDBPyConnection
    settings: Settings


def _findings(src: Source, f: views.Filters, arg: dict) -> pa.Table:
    return views.findings(
        src.con,
        f,
        rules=arg.get("rules", ()),
        min_savings=arg.get("min_savings") or None,
        status=arg.get("status", "open"),
    )


def _runs(src: Source, f: views.Filters, arg: dict) -> pa.Table:
    return views.experiment_runs(
        src.con,
        f,
        experiments=[arg["experiment"]],
        metric=arg.get("metric"),
        maximize=arg.get("maximize", True),
        target=arg.get("target"),
    )


def _rows(src: Source, f: views.Filters, a: dict) -> dict[str, int]:
    tables = ("cost", "recommendations", "anomalies", "runs", "run_costs", "metrics")
    return {t: src.con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}  # noqa: S608


Query = Callable[[Source, views.Filters, dict], Any]
#: Queries on the read-only connection.
_QUERIES: dict[str, Query] = {
    "rows": _rows,
    "options": lambda s, f, a: views.filter_options(s.con, TAG_KEY),
    "month_spend": lambda s, f, a: views.month_spend(s.con, f),
    "savings": lambda s, f, a: views.savings(s.con, f),
    "trend": lambda s, f, a: views.spend_trend(s.con, a["by"], f),
    "totals": lambda s, f, a: views.spend_totals(s.con, a["by"], f),
    "freshness": lambda s, f, a: views.freshness(s.con),
    "series": lambda s, f, a: views.anomaly_series(
        s.con, s.settings.anomalies, a["scope"], a["scope_value"], a["currency"]
    ),
    "findings": _findings,
    "recommendation": lambda s, f, a: get_recommendation(s.con, a["id"]),
    "metrics": lambda s, f, a: views.resource_metrics(s.con, a["resource_id"]),
    "utilisation": lambda s, f, a: views.commitment_utilisation(s.con, f),
    "coverage": lambda s, f, a: views.coverage_over_time(s.con, f),
    "expiring": lambda s, f, a: views.expiring(s.con, f, within_days=a["days"]),
    "experiments": lambda s, f, a: views.experiment_summary(s.con, f),
    "metric_names": lambda s, f, a: views.metric_names(s.con, a["experiment"]),
    "runs": _runs,
}
#: Queries through the store (library calls that open their own reader).
_STORE_QUERIES: dict[str, Callable[[Store, views.Filters, dict], Any]] = {
    "anomalies": lambda store, f, a: views.anomalies(store, f),
    "open_anomalies": lambda store, f, a: views.open_anomalies(store, f),
}


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch(db: str, config: str, what: str, fkey: str, arg: str = "{}") -> Any:
    """One library call on a short read-only connection (the published snapshot while
    an ingest holds the store), cached for CACHE_TTL_S seconds."""
    store = open_store(db, config)
    if what in _STORE_QUERIES:
        return _STORE_QUERIES[what](store, _filters(fkey), json.loads(arg))
    with store.reader() as con:
        return _QUERIES[what](Source(con, settings(config)), _filters(fkey), json.loads(arg))


def get(what: str, **arg: Any) -> Any:
    key = json.dumps(arg, sort_keys=True)
    return fetch(db_path(), config_path(), what, st.session_state["_fkey"], key)


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


def problem(exc: MlcostError) -> str:
    """An error from the library as one line: the message, then the hint if any."""
    return f"{exc.message} {exc.hint}" if exc.hint else exc.message


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
                "each resource counted once; with a date range, the findings detected in it.",
            )
    else:
        head[0].metric(
            "Monthly savings available", "–", help="No open findings: run `mlcost analyze`."
        )
    head[1].metric(
        "Open anomalies",
        str(get("open_anomalies")) if rows["anomalies"] else "–",
        help="Anomalies in the filters nobody has acknowledged yet (see Anomalies).",
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
        "findings",
        rules=list(st.session_state["rule"]),
        min_savings=st.session_state["min_saving"],
        status=st.session_state["status"],
    )
    st.caption(f"{found.num_rows} findings, largest saving first.")
    if st.session_state.get("since") or st.session_state.get("until"):
        st.caption(
            "Date range: the findings whose detection window (first to last detected) overlaps it."
        )
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
                act(
                    lambda store: set_status(store, chosen, dismissed=True, reason=reason),
                    f"Dismissed {chosen}.",
                )
    elif rec["status"] == "dismissed":
        st.text(f"Dismissed: {rec.get('dismissed_reason') or ''}")


def anomalies(rows: dict[str, int]) -> None:
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
    st.caption(f"{found.num_rows} anomalies, {opened} open, newest first.")
    shown = [
        "id", "date", "scope", "scope_value", "direction", "severity", "currency", "actual",
        "expected", "impact", "impact_pct", "status", "reason",
    ]  # fmt: skip
    st.dataframe(frame(found, shown), hide_index=True, width="stretch")
    items = found.to_pylist()
    labels = {a["id"]: f"{a['date']} {a['scope']}: {a['scope_value']}" for a in items}
    chosen = st.selectbox("Anomaly", list(labels), format_func=labels.__getitem__, key="anomaly")
    a = next((x for x in items if x["id"] == chosen), items[0])
    unit = "GPUs" if a["scope"] == anomaly_lib.GPU_SCOPE else a["currency"]
    detail = st.columns(4)
    detail[0].metric("Actual", money(a["actual"], unit))
    detail[1].metric("Expected", money(a["expected"], unit))
    pct = f" ({a['impact_pct']:+.1f} %)" if a["impact_pct"] is not None else ""
    detail[2].metric("Impact", f"{Decimal(a['impact']):+,.2f}{pct}")
    detail[3].metric("Status", a["status"])
    st.caption(f"Normal band that day: {money(a['low'], None)} to {money(a['high'], unit)}.")
    series = get("series", scope=a["scope"], scope_value=a["scope_value"], currency=a["currency"])
    if series.num_rows:
        df = chart_frame(series)
        same = [
            x["date"]
            for x in items
            if (x["scope"], x["scope_value"]) == (a["scope"], a["scope_value"])
        ]
        flagged = df[df["date"].isin(same)]
        base = alt.Chart(df).encode(x=alt.X("date:T", title="day"))
        band = base.mark_area(opacity=0.25).encode(
            y=alt.Y("low:Q", title="GPUs" if unit == "GPUs" else "daily cost"), y2="high:Q"
        )
        expected = base.mark_line(strokeDash=[4, 4]).encode(y="expected:Q")
        actual = base.mark_line(color="black").encode(
            y="actual:Q", tooltip=["date:T", "actual:Q", "expected:Q", "low:Q", "high:Q"]
        )
        points = (
            alt.Chart(flagged)
            .mark_point(color="firebrick", size=80, filled=True)
            .encode(x="date:T", y="actual:Q")
        )
        st.altair_chart(band + expected + actual + points, width="stretch")
        cfg = settings(config_path()).anomalies
        sigmas = ANOMALY_SENSITIVITIES[cfg.sensitivity]
        st.caption(
            "The scope's whole daily series (black), the expected cost (dashed) and the "
            "normal band the detector judged each day by; red: the anomalies. Band: "
            f"expected ± {sigmas:g} robust σ (sensitivity {cfg.sensitivity}), learnt from "
            f"the {cfg.lookback_days} days before each day."
        )
    else:
        st.caption("This scope has no complete day of billing left to draw.")
    st.subheader("Drivers")
    drivers = views.anomaly_drivers(a["drivers"])
    if drivers.num_rows:
        st.dataframe(frame(drivers), hide_index=True, width="stretch")
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
                    f"Acknowledged anomaly {a['id']}.",
                )
    else:
        st.text(f"Acknowledged: {a['reason'] or ''}")


def commitments_page(rows: dict[str, int]) -> None:
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
    advice = get("findings", rules=["commitment_purchase"], status="open")
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
    if any(st.session_state.get(k) for k in ("since", "until", "provider", "account", "tag")):
        st.caption(
            "Date range: the runs started in it. Provider, account and tag: only the cost "
            "lines of the resources billed or inventoried there, and the runs that have one."
        )
    per = get("experiments")
    if not per.num_rows:
        no_data("No run in the chosen filters.")
        return
    shown = [
        "experiment", "runs", "cost", "gpu_hours", "used_gpu_hours", "gpu_efficiency",
        "idle_gpu_cost", "best_metric",
    ]  # fmt: skip
    st.dataframe(frame(per, shown), hide_index=True, width="stretch")
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
    shown = [
        "name", "status", "started_at", "cost", "gpu_hours", "gpu_efficiency", "idle_gpu_cost",
        "metric", "cost_per_point", "pareto",
    ]  # fmt: skip
    st.dataframe(frame(leaves, shown), hide_index=True, width="stretch")
    st.subheader("Sweeps")
    sweeps = views.sweeps(runs)
    if sweeps.num_rows:
        shown = [
            "name", "trials", "cost", "gpu_hours", "gpu_efficiency", "idle_gpu_cost", "metric",
            "cost_to_target",
        ]  # fmt: skip
        st.dataframe(frame(sweeps, shown), hide_index=True, width="stretch")
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
            x=alt.X("cost:Q"),
            y=alt.Y("metric:Q", title=metric),
            color=alt.Color("pareto:N", title="Pareto front"),
            tooltip=["run:N", "cost:Q", "metric:Q"],
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
    config = config_path()
    try:
        settings(config)  # a bad settings file is one clear message, before any page
        options = fetch(db, config, "options", "{}")
        page = sidebar(options)
        rows = get("rows")
        if st.session_state.get("_flash"):
            st.success(st.session_state.pop("_flash"))
        RENDER[page](rows)
    except MlcostError as exc:
        st.error(problem(exc))
        return
    sync_url()
    used = f" with the settings of {config}" if config else ""
    st.caption(f"Rendered in {time.perf_counter() - started:.2f} s from {db}{used}.")


main()
