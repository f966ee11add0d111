"""The periodic report: figures equal the library's, cloud strings stay text, and it is
delivered to a local SMTP server and a local Slack webhook."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlcost import commitments
from mlcost.analysis import run_analyses
from mlcost.anomalies import list_anomalies
from mlcost.config import EmailSettings, ReportSettings, Settings, SlackSettings
from mlcost.delivery import DeliveryError, send_email, send_slack
from mlcost.ingest import ingest_sample
from mlcost.recommendations import analyze_recommendations, list_recommendations, savings_summary
from mlcost.report import build_report, render, report_window
from mlcost.store import Store
from tests.conftest import Cli
from tests.rules.builder import Org

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("report") / "mlcost.duckdb")
    store.init()
    ingest_sample(store)
    run_analyses(store, Settings())
    return store


def test_report_figures_are_the_librarys(sample: Store) -> None:
    report = build_report(sample, "30d")
    assert report["window"]["label"] == "2026-10-02 to 2026-10-31"
    with sample.reader() as con:
        ((current, previous),) = con.execute(
            "SELECT sum(EffectiveCost) FILTER (WHERE ChargePeriodStart >= '2026-10-02'), "
            "sum(EffectiveCost) FILTER (WHERE ChargePeriodStart < '2026-10-02') FROM cost "
            "WHERE ChargePeriodStart >= '2026-09-02' AND ChargePeriodStart < '2026-11-01'"
        ).fetchall()
        total = next(r for r in savings_summary(con).to_pylist() if r["scope"] == "total")
        top = list_recommendations(con, limit=10).to_pylist()
        used = commitments.utilisation(
            con, grain="all", since=report["window"]["start"], until=report["window"]["end"]
        ).to_pylist()
    (spend,) = report["spend"]
    assert (spend["effective_cost"], spend["previous_effective_cost"]) == (current, previous)
    assert spend["change"] == current - previous
    assert report["savings"] == [total]
    assert [r["id"] for r in report["recommendations"]] == [r["id"] for r in top]
    assert report["commitments"] == used
    assert sum(d["effective_cost"] for d in report["daily"]) == current
    planted = {(a["scope"], a["scope_value"], str(a["date"])) for a in report["anomalies"]}
    assert ("service", "Vertex AI", "2026-10-06") in planted
    assert ("tag:team", "perception", "2026-10-20") in planted
    with_ids = {a["id"] for a in list_anomalies(sample).to_pylist()}
    assert {a["id"] for a in report["anomalies"]} <= with_ids
    services = {m["name"]: m for m in report["movers"]["services"]}
    assert services["Vertex AI"]["change"] > 0  # the planted October Vertex AI spike


def test_each_format_renders_the_same_figures(sample: Store) -> None:
    report = build_report(sample, "30d")
    total = report["savings"][0]["monthly_savings"]
    as_json = json.loads(render(report, "json"))
    assert Decimal(as_json["savings"][0]["monthly_savings"]) == total
    html = render(report, "html")
    markdown = render(report, "md")
    shown = f"{total:,.2f}"
    assert shown in html and shown in markdown
    assert "<svg" in html and "<script" not in html.lower()
    # self-contained: nothing is fetched when a mail client opens it
    assert 'src="http' not in html and "<link" not in html and "url(" not in html


def test_month_period_is_the_last_whole_month(sample: Store) -> None:
    with sample.reader() as con:
        window = report_window(con, "month")
    assert window is not None and window.label == "October 2026"
    assert (window.start.month, window.end.month, window.previous_start.month) == (10, 11, 9)


@pytest.fixture
def evil_store(store: Store) -> Store:
    org = Org()
    org.resource("i-evil", "vm", instance_type="m5.large", name=EVIL, tags={"team": EVIL})
    org.usage("i-evil", cpu=1.0, net_mb=1.0)
    org.bill("i-evil", "2.304", Tags=json.dumps({"team": EVIL}))
    org.cost[-1]["ServiceName"] = EVIL
    org.load(store)
    analyze_recommendations(store)
    return store


def test_cloud_strings_are_escaped_in_html_and_markdown(evil_store: Store) -> None:
    report = build_report(evil_store, "7d")
    assert report["recommendations"][0]["resource_name"] == EVIL
    html = render(report, "html")
    assert EVIL not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    markdown = render(report, "md")
    assert EVIL not in markdown and "\\<img src=x onerror=alert\\(1\\)\\>" in markdown


# -- delivery -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def test_email_goes_out_with_html_and_a_plain_text_alternative(evil_store: Store) -> None:
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = EmailSettings(
            smtp_host="127.0.0.1", smtp_port=port, security="none",
            from_address="finops@example.com", to=["ml-leads@example.com"], password_env="",
        )  # fmt: skip
        report = build_report(evil_store, "7d")
        assert send_email(report, settings) == "emailed to 1 recipient(s)"
    finally:
        controller.stop()
    (message,) = inbox.messages
    assert message["To"] == "ml-leads@example.com"
    assert message["Subject"].startswith("mlcost report: ")
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in message.walk()
             if p.get_content_type() in ("text/plain", "text/html")}  # fmt: skip
    assert set(parts) == {"text/plain", "text/html"}
    assert EVIL not in parts["text/html"] and "&lt;img" in parts["text/html"]
    assert "Savings available" in parts["text/plain"]


def test_an_unreachable_mail_server_is_one_clear_error() -> None:
    settings = EmailSettings(
        smtp_host="127.0.0.1", smtp_port=free_port(), security="none",
        from_address="a@example.com", to=["b@example.com"],
    )  # fmt: skip
    with pytest.raises(DeliveryError, match=r"The mail server 127\.0\.0\.1:\d+ did not take"):
        send_email({"empty": True, "title": "t"}, settings)


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[Any]]]:
    received: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            status = 500 if "fail" in self.path else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/secret-token", received
    server.shutdown()


def test_slack_gets_the_figures_and_never_shows_the_webhook(
    sample: Store, webhook: tuple[str, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = webhook
    monkeypatch.setenv("MLCOST_SLACK_WEBHOOK_URL", url)
    report = build_report(sample, "30d")
    assert send_slack(report, SlackSettings(), link="https://wiki.example.com/finops") == (
        "sent to Slack"
    )
    ((path, payload),) = received
    assert path == "/services/T000/B000/secret-token"
    total = report["savings"][0]["monthly_savings"]
    assert f"{total:,.2f}" in payload["text"]
    assert "<https://wiki.example.com/finops|Read the full report>" in payload["text"]

    monkeypatch.setenv("MLCOST_SLACK_WEBHOOK_URL", url.replace("secret-token", "fail"))
    with pytest.raises(DeliveryError) as caught:
        send_slack(report, SlackSettings())
    assert "HTTP 500" in str(caught.value) and "secret" not in str(caught.value)


def test_slack_without_its_secret_says_which_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLCOST_SLACK_WEBHOOK_URL", raising=False)
    with pytest.raises(Exception, match=r"\$MLCOST_SLACK_WEBHOOK_URL"):
        send_slack({"empty": True, "title": "t"}, SlackSettings())


def test_cli_report_writes_each_format_and_sends(
    cli: Cli, db: str, tmp_path: Path, webhook: tuple[str, list[Any]]
) -> None:
    url, received = webhook
    assert cli("--db", db, "ingest", "sample").returncode == 0
    assert cli("--db", db, "analyze").returncode == 0
    for suffix in ("html", "md", "json"):
        out = tmp_path / f"weekly.{suffix}"
        done = cli("--db", db, "report", "--period", "7d", "--output", str(out))
        assert done.returncode == 0, done.stderr
        assert out.stat().st_size > 500
    assert json.loads((tmp_path / "weekly.json").read_text())["period"] == "7d"
    sent = cli("--db", db, "report", "--send", "slack", env={"MLCOST_SLACK_WEBHOOK_URL": url})
    assert sent.returncode == 0, sent.stderr
    assert "sent to Slack" in sent.stderr and url not in sent.stderr + sent.stdout
    assert len(received) == 1
    bad = cli("--db", db, "report", "--output", str(tmp_path / "r.pdf"))
    assert bad.returncode == 1 and ".html, .md or .json" in bad.stderr
    assert ReportSettings().period == "7d"


def test_a_7_day_report_lists_the_periods_anomalies_and_counts_older_open_ones(
    sample: Store,
) -> None:
    report = build_report(sample, "7d")
    start, end = report["window"]["start"].date(), report["window"]["end"].date()
    assert report["window"]["label"] == "2026-10-25 to 2026-10-31"
    every = list_anomalies(sample).to_pylist()
    mine = [a for a in every if start <= a["date"] < end]
    older = [a for a in every if a["date"] < start and a["status"] == "open"]
    assert older, "the sample has anomalies before the last week"
    assert [a["id"] for a in report["anomalies"]] == [a["id"] for a in mine]
    assert report["older_open_anomalies"] == len(older)
    markdown = render(report, "md")
    assert f"{len(older)} older anomalies are still open" in markdown
    # the headline's open anomalies are the period's, as on the Overview for those days
    (count,) = [f["value"] for f in report["headline"] if f["figure"] == "open_anomalies"]
    assert count == sum(a["status"] == "open" for a in mine)


def test_the_daily_chart_has_a_value_axis_dated_days_and_each_bars_amount(
    sample: Store,
) -> None:
    import re

    report = build_report(sample, "30d")
    html = render(report, "html")
    svg = html[html.index("<svg") : html.index("</svg>")]
    days = report["daily"]
    assert len(re.findall(r"<rect ", svg)) == len(days) == 30
    # each bar says its day and amount; the axis is labelled with dates and round amounts
    first = days[0]
    assert f"<title>{first['day']:%Y-%m-%d}: {first['effective_cost']:,.2f} USD</title>" in svg
    labels = re.findall(r'fill="#52606d">(\w{3} \d\d)</text>', svg)
    assert labels == ["Oct 02", "Oct 07", "Oct 12", "Oct 17", "Oct 22", "Oct 27"]
    assert 'aria-label="Daily amortised spend in USD, 2026-10-02 to 2026-10-31"' in svg
    ticks = [int(t.replace(",", "")) for t in re.findall(r">([\d,]+)</text>", svg)]
    assert 0 in ticks and max(ticks) >= max(float(d["effective_cost"]) for d in days)
    assert "Daily amortised spend (USD, EffectiveCost)" in svg


def test_a_webhook_or_mail_server_that_never_answers_fails_within_its_timeout(
    silent_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time
    import urllib.parse

    monkeypatch.setenv("MLCOST_SLACK_WEBHOOK_URL", silent_server + "services/T0/B0/token")
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        send_slack({"empty": True, "title": "t"}, SlackSettings(timeout_s=1))
    assert str(caught.value).startswith("Slack did not answer within 1 s.")
    assert "token" not in str(caught.value)
    port = urllib.parse.urlsplit(silent_server).port
    settings = EmailSettings(
        smtp_host="127.0.0.1", smtp_port=port or 0, security="none", timeout_s=1,
        from_address="a@example.com", to=["b@example.com"],
    )  # fmt: skip
    with pytest.raises(DeliveryError, match=r"127\.0\.0\.1:\d+ did not answer within 1 s\."):
        send_email({"empty": True, "title": "t"}, settings)
    assert time.monotonic() - started < 10
