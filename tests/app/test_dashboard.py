"""Every dashboard page through Streamlit's AppTest: the sample organisation, an empty
store and no store; the figures shown are the library's."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from mlcost.app import SCRIPT
from streamlit.testing.v1 import AppTest

from mlcost import views
from mlcost.anomalies import list_anomalies
from mlcost.output import cell_text
from mlcost.recommendations import get_recommendation, list_recommendations, savings_summary
from mlcost.store import Store
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


def test_anomalies_page_lists_the_librarys_anomalies_with_series_and_drivers(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "anomalies", monkeypatch)
    found = views.anomalies(Store(sample_db))
    assert found.num_rows > 0
    assert list(at.dataframe[0].value["id"]) == found.column("id").to_pylist()
    first = found.to_pylist()[0]
    assert at.selectbox(key="anomaly").value == first["id"]
    shown = {m.label: m.value for m in at.metric}
    unit = "GPUs" if first["scope"] == "gpus" else first["currency"]
    assert shown["Actual"] == money(first["actual"], unit)
    assert shown["Expected"] == money(first["expected"], unit)
    impact = first["actual"] - first["expected"]
    assert first["impact"] == impact and first["impact_pct"] is not None
    assert shown["Impact"] == f"{impact:+,.2f} ({first['impact_pct']:+.1f} %)"
    assert f"Normal band that day: {first['low']:,.2f} to {money(first['high'], unit)}." in [
        str(c.value) for c in at.caption
    ]
    drivers = views.anomaly_drivers(first["drivers"])
    assert drivers.num_rows > 0
    assert list(at.dataframe[1].value["value"]) == [
        cell_text(v) for v in drivers.column("value").to_pylist()
    ]
    assert any("sensitivity medium" in str(c.value) for c in at.caption)


def test_acknowledge_an_anomaly_and_the_overview_counts_it_no_more(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(sample_db)
    before = views.open_anomalies(store)
    at = page(sample_db, "overview", monkeypatch)
    assert {m.label: m.value for m in at.metric}["Open anomalies"] == str(before)
    at = page(sample_db, "anomalies", monkeypatch)
    chosen = at.selectbox(key="anomaly").value
    at.selectbox(key="ack_reason").select("planned")
    at.text_input(key="ack_note").input("quarterly retraining")
    (submit,) = [b for b in at.button if b.label == "Acknowledge"]
    submit.click().run()
    assert not at.exception
    assert [str(s.value) for s in at.success] == [f"Acknowledged anomaly {chosen}."]
    listed = {r["id"]: r for r in list_anomalies(store).to_pylist()}
    assert (listed[chosen]["status"], listed[chosen]["reason"]) == (
        "acknowledged",
        "planned: quarterly retraining",
    )
    assert views.open_anomalies(store) == before - 1
    at.radio(key="page").set_value("overview").run()
    assert {m.label: m.value for m in at.metric}["Open anomalies"] == str(before - 1)


def test_anomalies_follow_the_tag_filter(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = page(sample_db, "anomalies", monkeypatch, tag="research")
    shown = at.dataframe[0].value
    assert set(shown["scope"]) == {"tag:team"} and set(shown["scope_value"]) == {"research"}
    assert any("account filter keeps the account series" in str(c.value) for c in at.caption)


def test_experiments_page_shows_runs_and_sweeps_from_the_library(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "experiments", monkeypatch)
    with Store(sample_db).reader() as con:
        summary = views.experiment_summary(con)
    per = at.dataframe[0].value
    assert list(per["experiment"]) == summary.column("experiment").to_pylist()
    assert list(per["cost"]) == [cell_text(v) for v in summary.column("cost").to_pylist()]
    at.selectbox(key="experiment").select("damage-assessment/hpo-l4").run()
    assert at.selectbox(key="metric").value == "val_miou"
    at.number_input(key="target").set_value(0.72).run()
    assert not at.exception
    with Store(sample_db).reader() as con:
        runs = views.experiment_runs(
            con, experiments=["damage-assessment/hpo-l4"], metric="val_miou", target=0.72
        )
    sweeps = views.sweeps(runs)
    assert sweeps.num_rows > 10
    shown = at.dataframe[2].value
    assert list(shown["name"]) == sweeps.column("name").to_pylist()
    assert list(shown["cost"]) == [cell_text(v) for v in sweeps.column("cost").to_pylist()]
    reached = sweeps.column("cost_to_target").to_pylist()
    assert any(v is not None for v in reached) and any(v is None for v in reached)
    assert list(shown["cost_to_target"]) == [cell_text(v) for v in reached]


def test_experiments_follow_the_provider_filter(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "experiments", monkeypatch, provider="gcp")
    with Store(sample_db).reader() as con:
        gcp = views.experiment_summary(con, views.Filters(providers=("gcp",)))
        everything = views.experiment_summary(con)
    shown = list(at.dataframe[0].value["experiment"])
    assert shown == gcp.column("experiment").to_pylist()
    assert 0 < len(shown) < everything.num_rows


def test_recommendations_follow_the_date_range(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(sample_db).reader() as con:
        detected = con.sql("SELECT max(last_detected) FROM recommendations").fetchall()[0][0]
        everything = list_recommendations(con)
    day = detected.date()
    at = page(sample_db, "recommendations", monkeypatch, since=str(day), until=str(day))
    assert f"{everything.num_rows} findings, largest saving first." in [
        str(c.value) for c in at.caption
    ]
    before = day - timedelta(days=30)
    at = page(sample_db, "recommendations", monkeypatch, since=str(before), until=str(before))
    assert "No finding matches the filters." in infos(at)
    at.radio(key="page").set_value("overview").run()
    assert {m.label: m.value for m in at.metric}["Monthly savings available"] == "–"


def test_overview_savings_follow_the_tag_filter(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "overview", monkeypatch, tag="research")
    with Store(sample_db).reader() as con:
        (research,) = [
            r
            for r in views.savings(con, views.Filters(tags={"team": ("research",)})).to_pylist()
            if r["scope"] == "total"
        ]
        (total,) = [r for r in views.savings(con).to_pylist() if r["scope"] == "total"]
    assert 0 < research["monthly_savings"] < total["monthly_savings"]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Monthly savings available (USD)"] == money(research["monthly_savings"], "USD")


def test_the_settings_file_reaches_the_app(
    sample_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "mlcost.toml"
    config.write_text('[anomalies]\nsensitivity = "high"\nlookback_days = 28\n')
    monkeypatch.setenv("MLCOST_CONFIG", str(config))
    at = page(sample_db, "anomalies", monkeypatch)
    captions = [str(c.value) for c in at.caption]
    assert any("± 2 robust σ (sensitivity high)" in c and "the 28 days" in c for c in captions)
    assert any(c.endswith(f"with the settings of {config}.") for c in captions)


def test_a_bad_settings_file_is_one_clear_message(
    sample_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "mlcost.toml"
    config.write_text('[anomalies]\nsensitivity = "extreme"\n')
    monkeypatch.setenv("MLCOST_CONFIG", str(config))
    monkeypatch.setenv("MLCOST_DB", str(sample_db))
    at = AppTest.from_file(str(SCRIPT), default_timeout=60).run()
    assert not at.exception
    assert [str(e.value) for e in at.error] == [
        "anomalies.sensitivity must be one of low, medium, high, not 'extreme'."
    ]


def test_commitments_follow_the_account_filter(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(sample_db).reader() as con:
        accounts = con.sql(
            "SELECT DISTINCT SubAccountId FROM cost WHERE CommitmentDiscountStatus = 'Used' "
            "ORDER BY 1 LIMIT 1"
        ).fetchall()
        (account,) = accounts[0]
        f = views.Filters(accounts=(account,))
        util = views.commitment_utilisation(con, f)
        everything = views.commitment_utilisation(con)
        cov = views.coverage_over_time(con, f)
    assert 0 < util.num_rows < everything.num_rows
    at = page(sample_db, "commitments", monkeypatch, account=account)
    assert list(at.dataframe[0].value["commitment_id"]) == util.column("commitment_id").to_pylist()
    assert list(at.dataframe[1].value["covered_cost"]) == [
        cell_text(v) for v in cov.column("covered_cost").to_pylist()
    ]


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


def test_dashboard_command_hands_the_store_and_settings_to_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from typer.testing import CliRunner

    from mlcost.cli import app

    config = tmp_path / "conf" / "mlcost.toml"
    config.parent.mkdir()
    config.write_text('[anomalies]\nsensitivity = "low"\n')
    started: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(
        subprocess, "call", lambda command, env: started.append((command, env)) or 0
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLCOST_CONFIG", raising=False)
    result = CliRunner().invoke(
        app, ["--db", "my.duckdb", "--config", "conf/mlcost.toml", "dashboard", "--port", "8999"]
    )
    assert result.exit_code == 0, result.output
    ((command, env),) = started
    assert command[command.index("--server.port") + 1] == "8999"
    assert env["MLCOST_DB"] == str(tmp_path / "my.duckdb")
    assert env["MLCOST_CONFIG"] == str(config)
    assert f"with the settings of {config}" in " ".join(result.output.split())
    # without --config (nor $MLCOST_CONFIG, nor ./mlcost.toml) the app gets no settings file
    started.clear()
    result = CliRunner().invoke(app, ["--db", "my.duckdb", "dashboard"])
    assert result.exit_code == 0, result.output
    assert "MLCOST_CONFIG" not in started[0][1]
