"""Every dashboard page through Streamlit's AppTest: the sample organisation, an empty
store and no store; the figures shown are the library's."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from mlcost.app import SCRIPT
from streamlit.testing.v1 import AppTest

from mlcost import views
from mlcost.recommendations import get_recommendation, list_recommendations, savings_summary
from mlcost.schema import arrow_schema
from mlcost.store import Batch, Store
from tests.app.conftest import EVIL

PAGES = ("overview", "recommendations", "anomalies", "commitments", "experiments")


def money(value: Decimal, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def page(db: Path, name: str, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    monkeypatch.setenv("MLCOST_DB", str(db))
    at = AppTest.from_file(str(SCRIPT), default_timeout=60)
    at.query_params["page"] = name
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def infos(at: AppTest) -> list[str]:
    return [str(i.value) for i in at.info]


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_the_sample(
    sample_db: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, name, monkeypatch)
    assert at.header[0].value == name.capitalize()
    assert at.radio(key="page").value == name


@pytest.mark.parametrize("name", PAGES)
def test_every_page_says_what_to_run_on_an_empty_store(
    empty_db: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(empty_db, name, monkeypatch)
    assert any("run `mlcost" in text for text in infos(at)), infos(at)


def test_no_store_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = page(tmp_path / "missing.duckdb", "overview", monkeypatch)
    assert "run `mlcost ingest sample`" in infos(at)[0]


def test_overview_figures_are_the_librarys(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "overview", monkeypatch)
    shown = {m.label: m.value for m in at.metric}
    with Store(sample_db).reader() as con:
        (spend,) = views.month_spend(con).to_pylist()
        (total,) = [r for r in savings_summary(con).to_pylist() if r["scope"] == "total"]
        totals = views.spend_totals(con, "provider")
    # the sample's October, amortised (see `mlcost demo`), plus the extra source's 12.34
    assert spend["this_month"] == Decimal("123164.274823848") + Decimal("12.34")
    assert shown["Spend 2026-10 (USD)"] == money(spend["this_month"], "USD")
    assert shown["Spend last month (USD)"] == money(spend["last_month"], "USD")
    assert shown["Forecast to month end (USD)"] == money(spend["forecast"], "USD")
    assert shown["Monthly savings available (USD)"] == money(total["monthly_savings"], "USD")
    table = at.table[0].value
    assert list(table["provider"]) == totals.column("value").to_pylist()
    freshness = at.table[1].value
    assert set(freshness["table"]) >= {"cost", "recommendations", "metrics"}


def test_overview_trend_by_team_shows_the_tag_value_as_data(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "overview", monkeypatch)
    at.selectbox(key="trend_by").select("tag:team").run()
    assert not at.exception
    teams = list(at.table[0].value["tag:team"])
    assert EVIL in teams and "research" in teams


def test_filters_come_from_the_url_and_apply(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "recommendations", monkeypatch, provider="aws", min_saving="100")
    with Store(sample_db).reader() as con:
        expected = list_recommendations(con, providers=["aws"], min_savings=100)
    assert at.multiselect(key="provider").value == ["aws"]
    shown = at.dataframe[0].value
    assert list(shown["id"]) == expected.column("id").to_pylist()
    assert 0 < len(shown) < 40
    # the filters are written back to the URL so the view can be shared
    assert at.query_params["provider"] == "aws"
    assert at.query_params["page"] == "recommendations"


def test_filter_survives_navigation(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = page(sample_db, "overview", monkeypatch)
    at.multiselect(key="provider").select("gcp").run()
    at.radio(key="page").set_value("recommendations").run()
    assert not at.exception
    assert at.multiselect(key="provider").value == ["gcp"]
    assert set(at.dataframe[0].value["provider"]) == {"gcp"}
    assert at.query_params["provider"] == "gcp"


def test_date_filter_narrows_the_spend(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = page(sample_db, "overview", monkeypatch, since="2026-10-15", until="2026-10-15")
    with Store(sample_db).reader() as con:
        one_day = views.month_spend(
            con, views.Filters(since=date(2026, 10, 15), until=date(2026, 10, 15))
        ).to_pylist()[0]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Spend 2026-10 (USD)"] == money(one_day["this_month"], "USD")
    assert one_day["this_month"] < Decimal("10000")


def test_dismiss_a_finding_with_a_reason(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = page(sample_db, "recommendations", monkeypatch, rule="idle_vm")
    chosen = at.selectbox(key="finding").value
    at.text_input(key="dismiss_reason").input("build agent, needed on Mondays")
    (submit,) = [b for b in at.button if b.label == "Dismiss"]
    submit.click().run()
    assert not at.exception
    with Store(sample_db).reader() as con:
        rec = get_recommendation(con, chosen)
    assert rec["status"] == "dismissed"
    assert rec["dismissed_reason"] == "build agent, needed on Mondays"
    assert chosen not in list(at.dataframe[0].value["id"])


def test_dismiss_needs_a_reason(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = page(sample_db, "recommendations", monkeypatch)
    (submit,) = [b for b in at.button if b.label == "Dismiss"]
    submit.click().run()
    assert [e.value for e in at.error] == [
        'A dismissal needs a reason. Add --reason "why it is not waste".'
    ]


def test_commitments_purchase_advice_is_the_open_findings(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "commitments", monkeypatch)
    with Store(sample_db).reader() as con:
        advice = list_recommendations(con, rules=["commitment_purchase"])
    assert advice.num_rows > 0
    assert list(at.dataframe[-1].value["title"]) == advice.column("title").to_pylist()


def test_anomalies_and_experiments_with_data(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(sample_db)
    anomaly = {
        "date": date(2026, 10, 20), "provider": "azure", "scope": "team",
        "scope_value": "perception", "actual": Decimal("900"), "expected": Decimal("100"),
        "low": Decimal("80"), "high": Decimal("120"), "direction": "up", "severity": "high",
        "drivers": '[{"resource": "vm-nd-burst-01", "delta": 800}]',
    }  # fmt: skip
    with store.reader() as con:
        run_id = con.sql(
            "SELECT run_id FROM runs WHERE experiment = 'segmentation/train-unet' LIMIT 1"
        ).fetchall()[0][0]
    cost = {"run_id": run_id, "resource_id": "i-1", "day": date(2026, 10, 1),
            "cost": Decimal("42"), "method": "test", "gpu_efficiency": 0.8}  # fmt: skip
    store.load(
        [
            Batch("anomalies", pa.Table.from_pylist([anomaly], schema=arrow_schema("anomalies"))),
            Batch("run_costs", pa.Table.from_pylist([cost], schema=arrow_schema("run_costs"))),
        ]
    )
    at = page(sample_db, "anomalies", monkeypatch)
    assert list(at.dataframe[0].value["scope_value"]) == ["perception"]
    at = page(sample_db, "experiments", monkeypatch)
    per = at.dataframe[0].value
    assert per.iloc[0]["experiment"] == "segmentation/train-unet"
    assert per.iloc[0]["cost"] == "42.000000000000"


def test_overview_savings_follow_the_provider_filter(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "overview", monkeypatch, provider="gcp")
    with Store(sample_db).reader() as con:
        summary = savings_summary(con, providers=["gcp"]).to_pylist()
        everything = savings_summary(con).to_pylist()
    (gcp,) = [r for r in summary if r["scope"] == "total"]
    (total,) = [r for r in everything if r["scope"] == "total"]
    assert 0 < gcp["monthly_savings"] < total["monthly_savings"]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Monthly savings available (USD)"] == money(gcp["monthly_savings"], "USD")


def test_commitments_follow_the_provider_filter(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "commitments", monkeypatch, provider="azure")
    assert set(at.dataframe[0].value["provider"]) == {"azure"}
    assert set(at.dataframe[1].value["provider"]) == {"azure"}
