"""Every dashboard page through Streamlit's AppTest: the sample organisation, an empty
store and no store; the figures shown are the library's."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from mlcost.app import SCRIPT
from mlcost.app.common import fetch, short_id
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from mlcost import figures, views
from mlcost.anomalies import list_anomalies
from mlcost.recommendations import get_recommendation, list_recommendations, savings_summary
from mlcost.store import Store
from mlcost.summary import spend_by
from tests.app.conftest import EVIL
from tests.test_injection import markdown_shows as shown

PAGES = ("overview", "recommendations", "anomalies", "commitments", "experiments")
#: A figure written with many decimals: what no page may show an analyst.
RAW_DECIMALS = re.compile(r"\d\.\d{5,}")


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


def go(at: AppTest, name: str) -> AppTest:
    """Navigate to another page in the same session, as the page link does: a session
    asks for a page by the hash of its URL path (AppTest.switch_page only knows pages
    that are files)."""
    at._page_hash = calc_hash(name)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def infos(at: AppTest) -> list[str]:
    return [str(i.value) for i in at.info]


def texts(at: AppTest) -> list[str]:
    """Every piece of text the page shows outside tables and charts."""
    return [
        str(e.value)
        for kind in ("metric", "caption", "text", "markdown", "info", "success", "warning")
        for e in getattr(at, kind)
    ]


def test_a_render_reads_the_store_through_one_connection_and_lets_it_go(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each uncached render opens the store once, however many figures it asks for (an
    opening costs ~0.1 s on a big store: the Overview asked eight times), and closes it
    when done, so a writer can open the store next."""
    opened: list[bool] = []
    real = Store._open_for_reading

    def counted(self: Store, sandboxed: bool) -> object:
        opened.append(sandboxed)
        return real(self, sandboxed)

    monkeypatch.setattr(Store, "_open_for_reading", counted)
    for name, params in (("overview", {}), ("overview", {"since": "2026-10-01"}),
                         ("commitments", {})):  # fmt: skip
        fetch.clear()
        opened.clear()
        at = page(sample_db, name, monkeypatch, **params)
        assert at.header[0].value == name.capitalize()
        assert opened == [False], (name, params)
    # cached: no opening at all
    opened.clear()
    page(sample_db, "commitments", monkeypatch)
    assert opened == []
    assert Store(sample_db).init() == []  # the writer opens it: no reader was left open


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_the_sample_without_raw_decimals(
    sample_db: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, name, monkeypatch)
    assert at.header[0].value == name.capitalize()
    shown = texts(at)
    assert not [t for t in shown if RAW_DECIMALS.search(t)]
    for frame in at.dataframe:  # money and figures are numbers the grid formats
        for column in frame.value.columns:
            strings = [v for v in frame.value[column] if isinstance(v, str)]
            assert not [s for s in strings if RAW_DECIMALS.fullmatch(s.strip())], column


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
    shown = metrics(at)
    store = Store(sample_db)
    head = figures.headline(store)
    with store.reader() as con:
        (spend,) = views.month_spend(con).to_pylist()
        providers = spend_by(con, "provider")
    # the sample's October, amortised (see `mlcost demo`), plus the extra source's 12.34
    assert spend["this_month"] == Decimal("123164.274823848") + Decimal("12.34")
    for key, label in (
        ("billed_spend", "Billed spend"),
        ("amortised_spend", "Amortised spend"),
        ("usage_spend", "Usage spend"),
        ("monthly_savings", "Savings a month"),
    ):
        assert shown[f"{label} (USD)"] == money(head.get(key, "USD"), "USD")  # type: ignore[arg-type]
    assert shown["Open anomalies"] == str(head.get("open_anomalies"))
    assert shown["2026-10 to date (USD)"] == money(spend["this_month"], "USD")
    assert shown["2026-09 (USD)"] == money(spend["last_month"], "USD")
    assert shown["2026-10 forecast (USD)"] == money(spend["forecast"], "USD")
    # the provider table is `mlcost analyze`'s: billed, amortised and usage, each labelled
    table = at.dataframe[0].value
    assert list(table["provider"]) == providers.column("provider").to_pylist()
    for column, name in (
        ("billed spend", "billed_cost"),
        ("amortised spend", "effective_cost"),
        ("usage spend", "usage_cost"),
    ):
        assert list(table[column]) == [float(v) for v in providers.column(name).to_pylist()]
    # AWS as `mlcost analyze` prints it on the demo store (247,707.39 amortised; 249,342.13
    # of usage: tax and credits left out), plus this store's extra 12.34 AWS line
    aws = table[table["provider"] == "AWS"].iloc[0]
    assert round(aws["amortised spend"], 2) == 247707.39 + 12.34
    assert round(aws["usage spend"], 2) == 249342.13 + 12.34
    freshness = at.dataframe[1].value
    assert set(freshness["table"]) >= {"cost", "recommendations", "metrics"}


def test_accounts_are_named_beside_their_ids(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "overview", monkeypatch)
    at.selectbox(key="trend_by").select("account").run()
    accounts = list(at.dataframe[0].value["account"])
    # a GCP project id that is also an Azure subscription's name reads as two accounts
    assert "Acme Vision Research (acme-vision-research)" in accounts
    assert "acme-vision-research (3f2b8c1e-7a4d-4e59-9b1c-2d6e8f0a7c35)" in accounts
    at = go(at, "recommendations")
    assert any("(acme-vision-research)" in a for a in at.dataframe[0].value["account"])


def test_overview_by_team_shows_the_tag_value_as_data(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "overview", monkeypatch)
    at.selectbox(key="trend_by").select("tag:team").run()
    assert not at.exception
    teams = list(at.dataframe[0].value["team tag"])
    assert EVIL in teams and "research" in teams


def test_filters_come_from_the_url_in_any_spelling_and_apply(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "recommendations", monkeypatch, provider="AWS", min_saving="100")
    with Store(sample_db).reader() as con:
        expected = list_recommendations(con, providers=["aws"], min_savings=100)
    assert at.multiselect(key="provider").value == ["aws"]
    shown = at.dataframe[0].value
    assert list(shown["id"]) == expected.column("id").to_pylist()
    assert 0 < len(shown) < 40
    # the filters are written back to the URL so the view can be shared
    assert at.query_params["provider"] == "aws"
    assert at.query_params["page"] == "recommendations"


def test_an_unknown_filter_value_in_the_url_is_said_with_the_known_ones(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCOST_DB", str(sample_db))
    at = AppTest.from_file(str(SCRIPT), default_timeout=60)
    at.query_params["page"] = "recommendations"
    at.query_params["provider"] = "awz"
    at.run()
    (warning,) = [shown(str(w.value)) for w in at.warning]
    assert "Unknown provider 'awz'" in warning and "gcp (Google Cloud)" in warning
    assert at.multiselect(key="provider").value == []


def test_filter_survives_navigation(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = page(sample_db, "overview", monkeypatch)
    at.multiselect(key="provider").select("gcp").run()
    at = go(at, "recommendations")
    assert at.multiselect(key="provider").value == ["gcp"]
    assert set(at.dataframe[0].value["provider"]) == {"gcp"}
    assert at.query_params["provider"] == "gcp"


def test_a_date_range_shows_its_figures_and_the_period_before_not_month_figures(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "overview", monkeypatch, since="2026-10-01", until="2026-10-15")
    f = views.Filters(since=date(2026, 10, 1), until=date(2026, 10, 15))
    head = figures.headline(Store(sample_db), f)
    shown = metrics(at)
    amortised = head.get("amortised_spend", "USD")
    assert shown["Amortised spend (USD)"] == money(amortised, "USD")  # type: ignore[arg-type]
    assert Decimal(50000) < amortised < Decimal(70000)  # type: ignore[operator]
    # no "month before" reading 0.00, no forecast equal to the month to date
    assert not [label for label in shown if "to date" in label or "forecast" in label]
    assert "2026-09 (USD)" not in shown
    before = figures.headline(Store(sample_db), figures.previous_period(f, f.since, f.until))  # type: ignore[arg-type]
    (delta,) = [m.delta for m in at.metric if m.label == "Amortised spend (USD)"]
    change = amortised - before.get("amortised_spend", "USD")  # type: ignore[operator]
    assert delta == f"{change:+,.2f} on the 2026-09-16 to 2026-09-30 before"
    assert any("Charges of 2026-10-01 to 2026-10-15" in str(c.value) for c in at.caption)


def test_findings_are_dated_by_the_data_so_a_range_in_october_shows_them(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(sample_db).reader() as con:
        everything = list_recommendations(con)
        detected = {r["last_detected"] for r in everything.to_pylist()}
    # analyze judged data ending 2026-11-01 00:00 (the last billed hour), whenever it ran
    assert detected == {datetime_of("2026-11-01")}
    at = page(sample_db, "recommendations", monkeypatch, since="2026-10-01", until="2026-10-15")
    assert f"{everything.num_rows} findings, largest saving first." in [
        str(c.value) for c in at.caption
    ]
    assert any("detection window" in str(c.value) for c in at.caption)
    at = page(sample_db, "recommendations", monkeypatch, since="2026-08-01", until="2026-08-31")
    assert "No finding matches the filters." in infos(at)
    at = go(at, "overview")
    assert metrics(at)["Savings a month (USD)"] == "0.00 USD"


def datetime_of(day: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(day)


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


def test_an_idle_gpu_finding_draws_gpu_utilisation_on_its_own_percent_axis(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "recommendations", monkeypatch, rule="idle_gpu")
    with Store(sample_db).reader() as con:
        rec = get_recommendation(con, at.selectbox(key="finding").value)
    assert rec["rule"] == "idle_gpu"
    charts = at.get("vega_lite_chart")
    specs = [_spec(c.proto) for c in charts]
    by_title = {_y_title(s): s for s in specs}
    assert {"CPU utilisation (%)", "GPU utilisation (%)", "Network (MB)"} <= set(by_title)
    gpu = by_title["GPU utilisation (%)"]
    lines, threshold = gpu["layer"]
    assert lines["encoding"]["y"]["scale"]["domain"] == [0.0, 100.0]
    series = {r["series"] for r in _data(gpu, lines)}
    assert series == {"GPU average", "GPU memory average"}
    # the rule's thresholds (10 % average, no day above 20 %) drawn dashed on that axis
    assert sorted(r["threshold"] for r in _data(gpu, threshold)) == [10.0, 20.0]
    assert threshold["mark"]["strokeDash"] == [6, 4]
    # bytes on an axis of their own, in MB from zero (no percent domain)
    (network,) = by_title["Network (MB)"]["layer"]
    assert network["encoding"]["y"]["scale"] == {"zero": True}


def _y_title(spec: dict) -> str:
    layer = spec.get("layer", [spec])[0]
    return str(layer["encoding"]["y"]["title"])


def _spec(proto: object) -> dict:
    """The chart spec the page sends, with its datasets (Arrow, sent beside it) as rows."""
    import pyarrow as pa

    spec = json.loads(proto.spec)  # type: ignore[attr-defined]
    spec["datasets"] = {
        d.name: pa.ipc.open_stream(d.data.data).read_all().to_pylist()
        for d in proto.datasets  # type: ignore[attr-defined]
    }
    return spec


def _data(spec: dict, layer: dict) -> list[dict]:
    name = layer.get("data", {}).get("name") or spec.get("data", {}).get("name")
    return list(spec["datasets"][name])


def test_commitments_purchase_advice_is_the_open_findings(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "commitments", monkeypatch)
    with Store(sample_db).reader() as con:
        advice = list_recommendations(con, rules=["commitment_purchase"])
    assert advice.num_rows > 0
    assert list(at.dataframe[-1].value["title"]) == advice.column("title").to_pylist()


def test_commitments_show_names_and_short_ids_not_whole_arns(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "commitments", monkeypatch)
    util = at.dataframe[0].value
    assert "p4d.24xlarge 1yr Partial Upfront x4" in set(util["name"])
    shown = [str(v) for frame in at.dataframe for c in frame.value.columns for v in frame.value[c]]
    assert not [v for v in shown if v.startswith(("arn:", "/providers/", "/subscriptions/"))]
    expiring = at.dataframe[2].value
    assert all(len(i) <= 28 and i.startswith("…") for i in expiring["id"])


def test_anomalies_page_lists_the_librarys_anomalies_with_series_and_drivers(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "anomalies", monkeypatch)
    found = views.anomalies(Store(sample_db))
    assert found.num_rows > 0
    shown = at.dataframe[0].value
    assert list(shown["id"]) == found.column("id").to_pylist()
    assert list(shown["actual"]) == [float(v) for v in found.column("actual").to_pylist()]
    first = found.to_pylist()[0]
    assert at.selectbox(key="anomaly").value == first["id"]
    shown_metrics = metrics(at)
    unit = "GPUs" if first["scope"] == "gpus" else first["currency"]
    assert shown_metrics["Actual"] == money(first["actual"], unit)
    assert shown_metrics["Expected"] == money(first["expected"], unit)
    impact = first["actual"] - first["expected"]
    assert first["impact"] == impact and first["impact_pct"] is not None
    assert shown_metrics["Impact"] == f"{impact:+,.2f} {unit}"
    (delta,) = [m.delta for m in at.metric if m.label == "Impact"]
    assert delta == f"{first['impact_pct']:+.1f} %"
    band = f"Normal band that day: {first['low']:,.2f} to {money(first['high'], unit)}."
    assert any(str(c.value).startswith(band) for c in at.caption)
    drivers = views.anomaly_drivers(first["drivers"])
    assert drivers.num_rows > 0
    # resources by the tail of their id; a missing tag value an empty cell, not "None"
    assert list(at.dataframe[1].value["value"]) == [
        short_id(v) if d == "resource" else (v or "")
        for d, v in zip(
            drivers.column("dimension").to_pylist(),
            drivers.column("value").to_pylist(),
            strict=True,
        )
    ]
    assert list(at.dataframe[1].value["change"]) == [
        float(v) for v in drivers.column("change").to_pylist()
    ]
    assert any("sensitivity medium" in str(c.value) for c in at.caption)


def test_acknowledge_an_anomaly_and_the_overview_counts_it_no_more(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(sample_db)
    before = views.open_anomalies(store)
    at = page(sample_db, "overview", monkeypatch)
    assert metrics(at)["Open anomalies"] == str(before)
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
    at = go(at, "overview")
    assert metrics(at)["Open anomalies"] == str(before - 1)


def test_anomalies_follow_the_tag_filter(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = page(sample_db, "anomalies", monkeypatch, tag="research")
    shown = at.dataframe[0].value
    assert set(shown["series"]) == {"tag:team: research"}
    assert any("account filter keeps the account series" in str(c.value) for c in at.caption)


def test_experiments_page_shows_runs_and_sweeps_from_the_library(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(sample_db, "experiments", monkeypatch)
    with Store(sample_db).reader() as con:
        summary = views.experiment_summary(con)
    per = at.dataframe[0].value
    assert list(per["experiment"]) == summary.column("experiment").to_pylist()
    assert list(per["cost"]) == [float(v) for v in summary.column("cost").to_pylist()]
    # the metric each best value is of, named
    assert list(per["metric"]) == [m or "" for m in summary.column("metric").to_pylist()]
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
    assert list(shown["cost"]) == [float(v) for v in sweeps.column("cost").to_pylist()]
    reached = sweeps.column("cost_to_target").to_pylist()
    assert any(v is not None for v in reached) and any(v is None for v in reached)
    assert [None if v != v else v for v in shown["cost to target"]] == [
        None if v is None else float(v) for v in reached
    ]


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


@pytest.mark.parametrize(("param", "value", "narrow"), [
    ("tag", "research", views.Filters(tags={"team": ("research",)})),
    ("provider", "gcp", views.Filters(providers=("gcp",))),
])  # fmt: skip
def test_overview_savings_follow_the_filters(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch, param: str, value: str, narrow: views.Filters
) -> None:
    at = page(sample_db, "overview", monkeypatch, **{param: value})
    with Store(sample_db).reader() as con:
        (part,) = [r for r in views.savings(con, narrow).to_pylist() if r["scope"] == "total"]
        (total,) = [r for r in savings_summary(con).to_pylist() if r["scope"] == "total"]
    assert 0 < part["monthly_savings"] < total["monthly_savings"]
    shown = metrics(at)
    assert shown["Savings a month (USD)"] == money(part["monthly_savings"], "USD")


def test_the_settings_file_reaches_the_app(
    sample_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "mlcost.toml"
    config.write_text('[anomalies]\nsensitivity = "high"\nlookback_days = 28\n')
    monkeypatch.setenv("MLCOST_CONFIG", str(config))
    at = page(sample_db, "anomalies", monkeypatch)
    captions = [shown(str(c.value)) for c in at.caption]
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


def test_commitments_follow_the_account_and_provider_filters(
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
    assert list(at.dataframe[0].value["name"]) == util.column("name").to_pylist()
    assert list(at.dataframe[1].value["covered cost"]) == [
        float(v) for v in cov.column("covered_cost").to_pylist()
    ]
    at = page(sample_db, "commitments", monkeypatch, provider="azure")
    with Store(sample_db).reader() as con:
        azure = views.commitment_utilisation(con, views.Filters(providers=("azure",)))
    assert set(azure.column("provider").to_pylist()) == {"azure"}
    assert list(at.dataframe[0].value["name"]) == azure.column("name").to_pylist()
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

    class Server:
        def __init__(self, command: list[str], env: dict[str, str]) -> None:
            started.append((command, env))

        def wait(self, timeout: float | None = None) -> int:
            return 0

    monkeypatch.setattr(subprocess, "Popen", Server)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLCOST_CONFIG", raising=False)
    result = CliRunner().invoke(
        app, ["--db", "my.duckdb", "--config", "conf/mlcost.toml", "dashboard", "--port", "8999"]
    )
    assert result.exit_code == 0, result.output
    ((command, env),) = started
    assert command[command.index("--server.port") + 1] == "8999"
    # no "Deploy" button or developer menu for the people reading the dashboard
    assert command[command.index("--client.toolbarMode") + 1] == "minimal"
    assert env["MLCOST_DB"] == str(tmp_path / "my.duckdb")
    assert env["MLCOST_CONFIG"] == str(config)
    # the terminal wraps long paths anywhere (xdist's tmp paths are longer): compare unwrapped
    assert f"withthesettingsof{config}" in "".join(result.output.split())
    # without --config (nor $MLCOST_CONFIG, nor ./mlcost.toml) the app gets no settings file
    started.clear()
    result = CliRunner().invoke(app, ["--db", "my.duckdb", "dashboard"])
    assert result.exit_code == 0, result.output
    assert "MLCOST_CONFIG" not in started[0][1]
