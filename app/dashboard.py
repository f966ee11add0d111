"""The mlcost dashboard (Streamlit): a multipage app (``st.navigation``) with Overview,
Recommendations, Anomalies, Commitments and Experiments, one file each under
``app/screens/`` (not ``pages/``: Streamlit would also read a folder of that name beside
this script as its older automatic multipage layout); the filters and shared widgets
live in ``app/common.py``.

Every figure comes from the library (``mlcost.figures`` and ``mlcost.views``); the pages
only read, cache for a short while and draw. The page and the filters live in the URL,
so a view survives navigation and can be shared (``?page=recommendations&provider=aws``
opens that page with that filter). The store is $MLCOST_DB and the settings
$MLCOST_CONFIG (both set by `mlcost dashboard`).
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st
from mlcost.app import common
from mlcost.app.screens import anomalies, commitments, experiments, overview, recommendations

from mlcost.errors import MlcostError
from mlcost.output import markdown_text

METRIC_CSS = (
    "<style>[data-testid='stMetricValue'] > div "
    "{font-size: clamp(1.35rem, 2.3vw, 2.25rem);}</style>"
)
RENDER = {
    "overview": overview.render,
    "recommendations": recommendations.render,
    "anomalies": anomalies.render,
    "commitments": commitments.render,
    "experiments": experiments.render,
}


def main() -> None:
    st.set_page_config(page_title="mlcost", layout="wide", menu_items={"About": "mlcost"})
    # figures scale with the window, so a laptop's 1024 pixels show them whole (our own
    # constant CSS: no text from the clouds goes here)
    st.html(METRIC_CSS)
    db = common.db_path()
    if not Path(db).exists() and not Path(db + ".snapshot").exists():
        st.title("mlcost")
        st.info(
            f"No store at {markdown_text(db)}: run `mlcost ingest sample` (or `mlcost init`) first."
        )
        return
    started = time.perf_counter()
    asked = st.query_params.get("page", "overview")
    asked = asked if asked in common.PAGES else "overview"
    pages = {
        key: st.Page(render, title=title, url_path=key, default=key == asked)
        for (key, title), render in zip(common.PAGES.items(), RENDER.values(), strict=True)
    }
    chosen = st.navigation(list(pages.values()), position="sidebar")
    page = next(k for k, p in pages.items() if p.url_path == chosen.url_path)
    config = common.config_path()
    try:
        common.settings(config)  # a bad settings file is one clear message, before any page
        with common.one_reader_per_render():
            options = common.get_unfiltered("options")
            common.sidebar(options)
            if st.session_state.get("_flash"):
                st.success(st.session_state.pop("_flash"))
            chosen.run()
    except MlcostError as exc:
        st.error(common.problem(exc))
        return
    common.sync_url(page)
    used = f" with the settings of {markdown_text(config)}" if config else ""
    st.caption(f"Rendered in {time.perf_counter() - started:.2f} s from {markdown_text(db)}{used}.")


main()
