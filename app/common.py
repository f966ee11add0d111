"""What every dashboard page shares: the store and settings it reads, the cached library
calls, the sidebar filters (kept in the URL), and how figures are shown (money with its
currency and thousands separators, ids shortened with the whole one a click away).

Every figure comes from the library (``mlcost.views``, ``mlcost.figures``); the pages only
read, cache for a short while and draw. Strings from the clouds are shown as text: in
text-only widgets (tables, st.text, st.code, select options, charts), or, where Streamlit
reads Markdown (metric labels and values, captions, messages), through
``mlcost.output.markdown_text``, which shows them as typed (docs/security.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd
import pyarrow as pa
import streamlit as st

from mlcost import api, figures, summary, views, vocabulary
from mlcost.config import Settings, load_settings
from mlcost.errors import MlcostError
from mlcost.output import cell_text, markdown_text
from mlcost.store import DEFAULT_DB, Store

#: Page key → title, in the order of the navigation.
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
#: Ids longer than this are shown by their tail in tables (the whole id in the detail).
SHORT_ID = 28


# ---------------------------------------------------------------------------- formatting


def money(value: Any, currency: str | None) -> str:
    """An amount as the dashboard shows it: two decimals, thousands separated, currency
    (Markdown: for metric values and captions)."""
    if value is None:
        return "–"
    return f"{Decimal(value):,.2f} {markdown_text(currency)}".strip()


def money_change(value: Any, currency: str | None) -> str:
    """A change in money, signed: ``+1,523.49 USD`` (Markdown, as :func:`money`)."""
    if value is None:
        return "–"
    return f"{Decimal(value):+,.2f} {markdown_text(currency)}".strip()


def count(value: Any) -> str:
    return "–" if value is None else f"{int(value):,}"


def short_id(value: str | None) -> str:
    """A long id (an ARN, an Azure resource path) by its tail: ``…/savingsplan/70dc6fe6…``
    reads as what it is; the whole id is in the detail, with a copy button."""
    if not value or len(value) <= SHORT_ID:
        return value or ""
    tail = value.rstrip("/").rsplit("/", 1)[-1]
    if ":" in tail and len(tail) > SHORT_ID:
        tail = tail.rsplit(":", 1)[-1]
    return "…" + tail[-(SHORT_ID - 1) :]


def account_label(account_id: str | None, names: dict[str, str | None]) -> str:
    """An account as ``Name (id)``: the name the bill gives it, and the id (names are
    not unique: a GCP project id can be an Azure subscription's name)."""
    if not account_id:
        return ""
    name = names.get(account_id)
    return f"{name} ({account_id})" if name and name != account_id else account_id


def problem(exc: MlcostError) -> str:
    """An error from the library as one line: the message, then the hint if any (as
    Markdown that shows it as written: messages quote values from the store and the URL)."""
    return markdown_text(f"{exc.message} {exc.hint}" if exc.hint else exc.message)


def no_data(message: str) -> None:
    st.info(message)


def table(
    data: pa.Table,
    columns: Sequence[str] | None = None,
    *,
    money_columns: Sequence[str] = (),
    rename: dict[str, str] | None = None,
    formats: dict[str, str] | None = None,
    widths: dict[str, Literal["small", "medium", "large"]] | None = None,
    key: str | None = None,
    **kwargs: Any,
) -> Any:
    """A table on the page: money as numbers with thousands separators and 2 decimals
    (sortable; exact figures are in the downloads and exports), other decimals and
    floats rounded for reading, timestamps to the second, text as it is."""
    if columns:
        data = data.select(list(columns))
    frame: dict[str, Any] = {}
    config: dict[str, Any] = {}
    for field in data.schema:
        values = data.column(field.name).to_pylist()
        label = (rename or {}).get(field.name, field.name.replace("_", " "))
        fmt = (formats or {}).get(field.name)
        if field.name in money_columns or pa.types.is_decimal(field.type):
            frame[label] = [None if v is None else float(v) for v in values]
            config[label] = st.column_config.NumberColumn(label, format=fmt or "accounting")
        elif pa.types.is_floating(field.type):
            frame[label] = values
            config[label] = st.column_config.NumberColumn(label, format=fmt or "%.2f")
        elif pa.types.is_integer(field.type):
            frame[label] = values
            config[label] = st.column_config.NumberColumn(label, format=fmt or "localized")
        elif pa.types.is_timestamp(field.type):
            frame[label] = [None if v is None else v.strftime("%Y-%m-%d %H:%M") for v in values]
        elif pa.types.is_boolean(field.type):
            frame[label] = values
        else:  # text: an empty cell, not the word None
            frame[label] = ["" if v is None else cell_text(v) for v in values]
            if field.name in (widths or {}):
                config[label] = st.column_config.TextColumn(label, width=(widths or {})[field.name])
    return st.dataframe(
        pd.DataFrame(frame),
        hide_index=True,
        width="stretch",
        column_config=config,
        key=key,
        **kwargs,
    )


def chart_frame(data: pa.Table) -> pd.DataFrame:
    """A table for charting: decimals become floats (drawing only; figures stay exact)."""
    df = data.to_pandas()
    for name in df.columns:
        if df[name].map(lambda v: isinstance(v, Decimal)).any():
            df[name] = df[name].astype(float)
    return df


# ---------------------------------------------------------------------------- the store


def db_path() -> str:
    return str(Path(os.environ.get("MLCOST_DB", DEFAULT_DB)).resolve())


def config_path() -> str:
    """The settings file `mlcost dashboard --config` named ($MLCOST_CONFIG), or ''."""
    return os.environ.get("MLCOST_CONFIG", "")


def settings(config: str | None = None) -> Settings:
    """The settings of ``config`` (else ./mlcost.toml if present, else the defaults)."""
    return load_settings((config if config is not None else config_path()) or None)


def open_store(db: str, config: str) -> Store:
    """The store as the settings have it (lock timeout, memory limit, roll-up tag
    keys), as the CLI opens it."""
    return Store.from_settings(Path(db), settings(config))


def act(change: Callable[[Store], object], done: str) -> None:
    """Make a change a form asks for through the library, then show the page anew with
    ``done`` said (or the library's error, and nothing changed)."""
    release_reader()  # the writer needs the file: this render's reader lets it go
    try:
        change(open_store(db_path(), config_path()))
    except MlcostError as exc:
        st.error(problem(exc))
    else:
        fetch.clear()
        st.session_state["_flash"] = done
        st.rerun()


def filters_of(fkey: str) -> views.Filters:
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


def _findings(ws: api.Workspace, f: views.Filters, arg: dict) -> pa.Table:
    return ws.findings(
        filters=f,
        rules=arg.get("rules", ()),
        min_savings=arg.get("min_savings") or None,
        status=arg.get("status", "open"),
    )


def _runs(ws: api.Workspace, f: views.Filters, arg: dict) -> pa.Table:
    return ws.run_costs(
        [arg["experiment"]],
        filters=f,
        metric=arg.get("metric"),
        maximize=arg.get("maximize", True),
        target=arg.get("target"),
    )


def _rows(src: Source, f: views.Filters, a: dict) -> dict[str, int]:
    tables = ("recommendations", "anomalies", "runs", "run_costs", "metrics")
    counted = {t: src.con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}  # noqa: S608
    return {"cost": summary.billing_lines(src.con), **counted}


def _options(src: Source, f: views.Filters, a: dict) -> dict[str, Any]:
    options: dict[str, Any] = dict(views.filter_options(src.con, TAG_KEY))
    options["account_names"] = vocabulary.account_names(src.con)
    options["provider_names"] = {t.value: t.aliases for t in vocabulary.providers(src.con)}
    return options


def _resolve(src: Source, f: views.Filters, a: dict) -> list[str]:
    """URL values in the store's spelling (``mlcost.vocabulary``): an unknown one is the
    library's error, shown on the page."""
    what = a["what"]
    if what == "provider":
        return list(vocabulary.resolve("provider", a["values"], vocabulary.providers(src.con)))
    if what == "account":
        return list(vocabulary.resolve("account", a["values"], vocabulary.accounts(src.con)))
    if what == "rule":
        return list(vocabulary.resolve("rule", a["values"], vocabulary.rules()))
    known = [vocabulary.Term(v) for v in views.filter_options(src.con, TAG_KEY)["tags"]]
    return list(vocabulary.resolve(f"{TAG_KEY} tag value", a["values"], known, split=False))


Query = Callable[[Source, views.Filters, dict], Any]
#: Queries on the read-only connection.
_QUERIES: dict[str, Query] = {
    "rows": _rows,
    "options": _options,
    "resolve": _resolve,
    "month_spend": lambda s, f, a: views.month_spend(s.con, f),
    "trend": lambda s, f, a: views.spend_trend(s.con, a["by"], f),
    "freshness": lambda s, f, a: views.freshness(s.con),
    "series": lambda s, f, a: views.anomaly_series(
        s.con, s.settings.anomalies, a["scope"], a["scope_value"], a["currency"]
    ),
    "recommendation": lambda s, f, a: views.finding(s.con, a["id"]),
    "evidence": lambda s, f, a: views.evidence(
        s.con, a["resource_id"], a["rule"], s.settings.rules.get(a["rule"], {})
    ),
    "metric_names": lambda s, f, a: views.metric_names(s.con, a["experiment"]),
}
#: Queries through the library's API (``mlcost.api``: each opens its own reader).
_API_QUERIES: dict[str, Callable[[api.Workspace, views.Filters, dict], Any]] = {
    "headline": lambda ws, f, a: ws.headline(filters=f),
    "headline_before": lambda ws, f, a: ws.headline(
        filters=figures.previous_period(
            f, date.fromisoformat(a["first"]), date.fromisoformat(a["last"])
        )
    ),
    "spend_by": lambda ws, f, a: ws.spend(by=a["by"], filters=f),
    "findings": _findings,
    "anomalies": lambda ws, f, a: ws.anomalies(filters=f),
    "utilisation": lambda ws, f, a: ws.commitments("utilisation", filters=f),
    "coverage": lambda ws, f, a: ws.commitments("coverage", grain="month", filters=f),
    "expiring": lambda ws, f, a: ws.commitments("expiring", within_days=a["days"], filters=f),
    "experiments": lambda ws, f, a: ws.experiments(filters=f),
    "runs": _runs,
}


class _Render(threading.local):
    """What one render of a page (one script run, on its own thread) reads through."""

    def __init__(self) -> None:
        self.active = False
        self.stores: dict[tuple[str, str], Store] = {}
        self.readers = contextlib.ExitStack()


_render = _Render()


@contextlib.contextmanager
def one_reader_per_render() -> Iterator[None]:
    """While a page renders, the store is opened once, read-only, when the first query
    not in the cache needs it, and every query of the render reads through that one
    connection (``Store.shared_reader``): the same library calls and figures, on one
    committed state of the store, without the ~0.1 s each opening costs. Closed when
    the render ends (or a change needs the writer: :func:`act`)."""
    _render.active = True
    try:
        yield
    finally:
        _render.active = False
        release_reader()


def release_reader() -> None:
    """Close this render's reader (a later query of the render opens another)."""
    readers, _render.readers, _render.stores = _render.readers, contextlib.ExitStack(), {}
    readers.close()


def _reading_store(db: str, config: str) -> Store:
    """The store a query reads: this render's, its reader open, inside
    :func:`one_reader_per_render`; else one whose every call opens a short reader."""
    if not _render.active:
        return open_store(db, config)
    store = _render.stores.get((db, config))
    if store is None:
        store = open_store(db, config)
        _render.readers.enter_context(store.shared_reader())
        _render.stores[(db, config)] = store
    return store


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def fetch(db: str, config: str, what: str, fkey: str, arg: str = "{}") -> Any:
    """One library call on a read-only connection (the published snapshot while an
    ingest holds the store): the render's one reader inside
    :func:`one_reader_per_render`, else a short one; cached for CACHE_TTL_S seconds."""
    store = _reading_store(db, config)
    if what in _API_QUERIES:
        workspace = api.Workspace(store, settings(config))
        return _API_QUERIES[what](workspace, filters_of(fkey), json.loads(arg))
    with store.reader() as con:
        return _QUERIES[what](Source(con, settings(config)), filters_of(fkey), json.loads(arg))


def get(what: str, **arg: Any) -> Any:
    key = json.dumps(arg, sort_keys=True, default=str)
    return fetch(db_path(), config_path(), what, st.session_state.get("_fkey", "{}"), key)


def get_unfiltered(query: str, **arg: Any) -> Any:
    return fetch(db_path(), config_path(), query, "{}", json.dumps(arg, sort_keys=True))


def filtered() -> bool:
    return any(st.session_state.get(k) for k in ("since", "until", "provider", "account", "tag"))


def dated() -> bool:
    return bool(st.session_state.get("since") or st.session_state.get("until"))


# ---------------------------------------------------------------------------- filters


def init_state(options: dict[str, Any]) -> list[str]:
    """Widget state from the URL on the first run of a session. URL values go through
    the library's vocabulary (any case, bill names); an unknown one is said, with the
    known values, and left out. Returns those messages."""
    if st.session_state.get("_initialised"):
        return list(st.session_state.get("_url_problems", []))
    qp = st.query_params
    problems: list[str] = []
    for key in ("since", "until"):
        try:
            st.session_state[key] = date.fromisoformat(qp[key]) if qp.get(key) else None
        except ValueError:
            problems.append(
                markdown_text(f"{key}={qp[key]!r} is not a date (YYYY-MM-DD); ignored.")
            )
            st.session_state[key] = None
    for key in LIST_PARAMS:
        given = qp.get_all(key)
        st.session_state[key] = []
        if not given:
            continue
        try:
            st.session_state[key] = get_unfiltered("resolve", what=key, values=given)
        except MlcostError as exc:
            problems.append(problem(exc))
    try:
        st.session_state["min_saving"] = float(qp.get("min_saving", 0) or 0)
    except ValueError:
        st.session_state["min_saving"] = 0.0
    status = (qp.get("status") or "open").lower()
    st.session_state["status"] = (
        status if status in ("open", "dismissed", "closed", "all") else "open"
    )
    st.session_state["_initialised"] = True
    st.session_state["_url_problems"] = problems
    return problems


def sidebar(options: dict[str, Any]) -> None:
    """The filters every page applies, with what the dates mean on each."""
    for message in init_state(options):
        st.sidebar.warning(message)
    side = st.sidebar
    side.subheader("Filters")
    side.date_input("From (day, UTC)", key="since", value=None)
    side.date_input("To (day, UTC, inclusive)", key="until", value=None)
    side.caption(
        "Dates are charge days for spend, the detection window (the data a finding was "
        "judged on) for findings, and the day for anomalies."
    )
    names = options["provider_names"]
    side.multiselect(
        "Provider",
        options["providers"],
        key="provider",
        format_func=lambda p: f"{p} ({', '.join(names.get(p, ()))})" if names.get(p) else p,
    )
    accounts = options["account_names"]
    side.multiselect(
        "Account",
        options["accounts"],
        key="account",
        format_func=lambda a: account_label(a, accounts),
    )
    side.multiselect(f"Tag: {TAG_KEY}", options["tags"], key="tag")
    raw: dict[str, Any] = {}
    for key in ("since", "until"):
        if st.session_state.get(key):
            raw[key] = st.session_state[key].isoformat()
    for key in ("provider", "account", "tag"):
        if st.session_state.get(key):
            raw[key] = list(st.session_state[key])
    st.session_state["_fkey"] = json.dumps(raw, sort_keys=True)
    st.session_state["_url"] = raw


def sync_url(page: str) -> None:
    """Write the page and every filter to the query string (after the page drew its own)."""
    raw: dict[str, Any] = {"page": page, **st.session_state.get("_url", {})}
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


def period_caption(head: figures.Headline) -> str:
    """What the headline figures cover, in words (Markdown, for a caption)."""
    parts = [f"Charges of {head.period}"]
    f = head.filters
    if f.providers:
        parts.append("providers " + ", ".join(f.providers))
    if f.accounts:
        parts.append("accounts " + ", ".join(f.accounts))
    for key, values in f.tags.items():
        if values:
            parts.append(f"{key} " + ", ".join(values))
    return markdown_text("; ".join(parts) + ".")
