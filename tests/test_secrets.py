"""Secrets never leave their variables (issue 23): a token planted in each secret setting,
each channel broken every way we know, and every output, file and the store searched.
Also the errors that were tracebacks: a malformed webhook URL, a non-ASCII SMTP password."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlcost import redact
from mlcost.config import EmailSettings
from mlcost.delivery import DeliveryError, send_email
from mlcost.ingest import ingest_sample
from mlcost.report import build_report
from mlcost.store import Store
from tests.conftest import Cli
from tests.test_report import free_port

TOKEN = "zQ9SECRETtoken4242"
PASSWORD = "pässwörd-SECRET-77"
USER = "finops-SECRET-user"


def webhooks(port: int) -> dict[str, str]:
    """Every broken (and one working) shape of the Slack webhook URL, each with the token."""
    return {
        "no scheme": f"hooks.slack.example/services/T0/B0/{TOKEN}",
        "a space": f"https://hooks.slack example/services/T0/B0/{TOKEN}",
        "unreachable": f"http://127.0.0.1:{free_port()}/services/T0/B0/{TOKEN}",
        "refused (500)": f"http://127.0.0.1:{port}/fail/{TOKEN}",
        "userinfo and query": f"http://user:{TOKEN}@127.0.0.1:{port}/fail?token={TOKEN}",
        "ftp": f"ftp://127.0.0.1/{TOKEN}",
    }


@pytest.fixture
def failing_slack() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(500)
            self.end_headers()
            self.wfile.write(f"invalid_token {self.path}".encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()


@pytest.fixture
def smtp_with_login() -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """A local SMTP server that offers AUTH PLAIN and records the logins it is given."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    logins: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password.decode() == PASSWORD)

    class Inbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    port = free_port()
    controller = Controller(
        Inbox(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    yield port, logins
    controller.stop()


def test_redact_masks_urls_tokens_and_remembered_values() -> None:
    redact.remember([f"https://hooks.slack.com/services/T0/B0/{TOKEN}"])
    cases = {
        f"unknown url type: 'hooks.slack.com/services/T0/B0/{TOKEN}'": TOKEN,
        f"https://user:{TOKEN}@example.com/x": TOKEN,
        f"GET https://api.example.com/v1/x?sig={TOKEN}&a=1": TOKEN,
        "Authorization: Bearer abc.def-ghi": "abc.def",
        "xoxb-1234-5678-abcdefgh": "xoxb-1234",
        "key AKIAABCDEFGHIJKLMNOP used": "AKIAABCDEFGHIJKLMNOP",
        "password=hunter2hunter2 sent": "hunter2",
    }
    for text, secret in cases.items():
        assert secret not in redact.redact(text), text
    # What is no secret stays readable: a file and an S3 key named in an error.
    kept = "s3://acme-billing/cur/2026-01/bill.csv.gz: row 2, column BilledCost"
    assert redact.redact(kept) == kept


def test_a_malformed_webhook_url_is_one_sentence_without_the_token(
    cli: Cli, db: str, failing_slack: int, tmp_path: Path
) -> None:
    assert cli("--db", db, "ingest", "sample").returncode == 0
    for case, url in webhooks(failing_slack).items():
        done = cli("--db", db, "report", "--send", "slack", env={"MLCOST_SLACK_WEBHOOK_URL": url})
        assert done.returncode == 1, case
        assert TOKEN not in done.stdout + done.stderr, (case, done.stderr)
        assert "Traceback" not in done.stderr, (case, done.stderr)
        assert "not sent" in done.stderr, case
        assert "written" not in done.stderr, case  # no --output: nothing was written


def test_a_non_ascii_smtp_password_logs_in_as_utf8(
    store: Store, smtp_with_login: tuple[int, list[tuple[str, str]]], monkeypatch: Any
) -> None:
    port, logins = smtp_with_login
    ingest_sample(store)
    report = build_report(store, "7d")
    monkeypatch.setenv("MLCOST_SMTP_USER", USER)
    monkeypatch.setenv("MLCOST_SMTP_PASSWORD", PASSWORD)
    settings = EmailSettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        security="none",
        from_address="finops@example.com",
        to=["lead@example.com"],
        username_env="MLCOST_SMTP_USER",
        timeout_s=3,
    )

    assert send_email(report, settings) == "emailed to 1 recipient(s)"
    assert logins[-1] == (USER, PASSWORD)

    # A wrong one (aiosmtpd then stops answering): one sentence, and no password in it.
    monkeypatch.setenv("MLCOST_SMTP_PASSWORD", "wrong-" + PASSWORD)
    with pytest.raises(DeliveryError) as caught:
        send_email(report, settings)
    assert "127.0.0.1" in str(caught.value)
    assert PASSWORD not in str(caught.value) and USER not in str(caught.value)


def test_the_schedule_keeps_no_secret_in_its_log_status_reports_or_store(
    cli: Cli, tmp_path: Path, failing_slack: int, smtp_with_login: tuple[int, Any]
) -> None:
    smtp_port, _ = smtp_with_login
    db = tmp_path / "store" / "mlcost.duckdb"
    reports = tmp_path / "reports"
    config = tmp_path / "mlcost.toml"
    config.write_text(
        f"""
[report]
link = "https://wiki.example.com/finops"
[report.email]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
security = "none"
from_address = "finops@example.com"
to = ["lead@example.com"]
username_env = "MLCOST_SMTP_USER"
[schedule]
sources = [{{ kind = "sample" }}]
formats = ["html", "md", "json"]
output_dir = "{reports}"
send = ["slack", "email"]
retries = 1
backoff_s = 0
"""
    )
    secrets = {"MLCOST_SMTP_USER": USER, "MLCOST_SMTP_PASSWORD": PASSWORD}
    outputs: list[str] = []
    for case, url in webhooks(failing_slack).items():
        env = {**secrets, "MLCOST_SLACK_WEBHOOK_URL": url, "MLCOST_CONFIG": str(config)}
        done = cli("--db", str(db), "schedule", "--once", env=env, timeout=300)
        assert done.returncode == 1, (case, done.stderr)  # partial: delivery failed
        status = cli("--db", str(db), "schedule", "--status", env=env)
        outputs += [done.stdout, done.stderr, status.stdout, status.stderr]
        assert "send slack" in status.stdout, case

    searched = "\n".join(outputs)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".schedule.json") for p in files)
    assert len([p for p in files if p.parent == reports]) == 3 * len(webhooks(failing_slack))
    for secret in (TOKEN, PASSWORD, USER):
        assert secret not in searched, secret
        for encoded in (secret.encode(), base64.b64encode(secret.encode())):
            for path in files:
                assert encoded not in path.read_bytes(), (secret, path)
    status_file = json.loads(db.with_name(db.name + ".schedule.json").read_text())
    slack = next(step for step in status_file["steps"] if step["name"] == "send slack")
    assert slack["state"] == "failed" and "Slack" in slack["error"]
