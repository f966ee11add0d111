"""The same question gives the same figure everywhere: on the sample organisation, for
the same filters, the dashboard's Overview, `mlcost analyze --format json`, the 30-day
report and a notebook (`mlcost.open(db).headline(...)`) show the same spend (billed,
amortised, usage), savings and open anomalies, to the cent; each is
`mlcost.figures.headline`."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from mlcost.app import SCRIPT
from streamlit.testing.v1 import AppTest

import mlcost
from mlcost import figures
from mlcost.filters import Filters
from mlcost.report import build_report, render
from mlcost.store import Store
from tests.conftest import copy_store, run_main

LABELS = {
    "billed_spend": "Billed spend (USD)",
    "amortised_spend": "Amortised spend (USD)",
    "usage_spend": "Usage spend (USD)",
    "monthly_savings": "Savings a month (USD)",
    "open_anomalies": "Open anomalies",
}
CENT = Decimal("0.01")


def as_shown(value: Decimal | int) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f} USD"


@pytest.mark.parametrize("provider", [None, "aws"], ids=["everything", "aws"])
def test_overview_analyze_and_the_30_day_report_agree_to_the_cent(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    sample_master: Path,
    tmp_path: Path,
    provider: str | None,
) -> None:
    db = copy_store(sample_master, tmp_path / "store")
    store = Store(db)
    narrow = Filters(providers=(provider,)) if provider else Filters()
    # the report: its last 30 whole days
    report = build_report(store, "30d", filters=narrow)
    since = report["window"]["start"].date()
    until_day = report["window"]["end"].date() - timedelta(days=1)  # the end is exclusive
    assert (str(since), str(until_day)) == ("2026-10-02", "2026-10-31")
    in_report = {(f["figure"], f["currency"]): f["value"] for f in report["headline"]}

    # mlcost analyze --format json, for the same days and provider (spelled as billed)
    args = ["--db", str(db), "analyze", "--format", "json", "--since", str(since),
            "--until", str(until_day)] + (["--provider", "AWS"] if provider else [])  # fmt: skip
    ran = run_main(capsys, *args)
    assert ran.code == 0, ran.stderr
    analyzed = json.loads(ran.stdout, parse_float=Decimal)
    in_analyze = {(f["figure"], f["currency"]): f["value"] for f in analyzed["figures"]}

    # the Overview, with that date range and provider in its filters
    monkeypatch.setenv("MLCOST_DB", str(db))
    at = AppTest.from_file(str(SCRIPT), default_timeout=60)
    at.query_params.update(page="overview", since=str(since), until=str(until_day))
    if provider:
        at.query_params["provider"] = provider
    at.run()
    assert not at.exception and not at.error
    shown = {m.label: m.value for m in at.metric}

    library = figures.headline(
        store, Filters(since=since, until=until_day, providers=narrow.providers)
    )
    # a notebook, through the Python API, with the filters as keywords (spelled as billed)
    in_notebook = mlcost.open(db).headline(
        since=str(since), until=until_day, providers="AWS" if provider else None
    )
    assert in_notebook == library
    assert (
        set(in_report)
        == set(in_analyze)
        == {(f.key, f.currency) for f in library.figures}
        == {(k, None if k == "open_anomalies" else "USD") for k in LABELS}
    )
    for (key, currency), value in in_report.items():
        other = in_analyze[(key, currency)]
        if key == "open_anomalies":
            assert value == other == library.get(key)
        else:  # exact decimals in the report and the JSON; the same to the cent
            assert Decimal(value) == Decimal(other) == library.get(key, currency)
        assert shown[LABELS[key]] == as_shown(library.get(key, currency)), key
    # sanity: the figures are the sample's, not zeros
    assert library.get("amortised_spend", "USD") > Decimal(10000)
    assert library.get("monthly_savings", "USD") > 0
    if provider is None:
        assert library.get("open_anomalies") > 0
        # and the rendered report prints them as the Overview does
        markdown = render(report, "md")
        for key in ("billed_spend", "amortised_spend", "usage_spend", "monthly_savings"):
            assert f"{library.get(key, 'USD'):,.2f} USD" in markdown
