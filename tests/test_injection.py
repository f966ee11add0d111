"""Cloud strings are data in every output (issue 23): a link, an image tag or a formula
written into a field by whoever names cloud resources never becomes markup or a formula.

Seven fields carry a payload each; every output of the report (HTML, Markdown, JSON,
Slack, email) and the findings' exports (CSV, JSON, Parquet) are checked. The
dashboard's DOM is checked by tests/app."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from mlcost.recommendations import analyze_recommendations
from mlcost.report import build_report, render
from mlcost.store import Store
from tests.conftest import Cli
from tests.rules.builder import Org


def payload(field: str) -> str:
    """A field's hostile value: a Markdown link, an HTML image, a Slack link, a formula."""
    return f"=1+[{field}](http://evil.example/{field})<img src=x onerror={field}><http://e|{field}>"


FIELDS = (
    "ProviderName",
    "BillingCurrency",
    "ServiceName",
    "SubAccountId",
    "RegionId",
    "ResourceName",
    "tag:team",
)


@pytest.fixture
def hostile(store: Store) -> Store:
    org = Org()
    org.resource(
        "i-hostile",
        "vm",
        instance_type="m5.large",
        name=payload("ResourceName"),
        tags={"team": payload("tag:team")},
    )
    org.usage("i-hostile", cpu=1.0, net_mb=1.0)
    org.bill(
        "i-hostile",
        "2.304",
        Tags=json.dumps({"team": payload("tag:team")}),
        ProviderName=payload("ProviderName"),
        BillingCurrency=payload("BillingCurrency"),
        ServiceName=payload("ServiceName"),
        SubAccountId=payload("SubAccountId"),
        RegionId=payload("RegionId"),
    )
    org.load(store)
    analyze_recommendations(store)
    return store


def assert_markdown_is_text(markdown: str) -> None:
    for field in FIELDS:
        assert payload(field) not in markdown
    # No link, image, autolink or HTML survives: every bracket and angle is escaped.
    assert "](" not in markdown
    assert re.search(r"(?<!\\)<", markdown) is None, markdown
    assert "\\<img src=x onerror=BillingCurrency\\>" in markdown  # shown, as text


def assert_html_is_text(html: str) -> None:
    assert "<img" not in html and "<http" not in html
    assert "&lt;img src=x onerror=BillingCurrency&gt;" in html


def test_the_report_shows_every_field_as_text(hostile: Store) -> None:
    report = build_report(hostile, "7d")

    assert_markdown_is_text(render(report, "md"))
    assert_html_is_text(render(report, "html"))
    # JSON is data: the values exactly as the clouds wrote them.
    data = json.loads(render(report, "json"))
    assert data["spend"][0]["currency"] == payload("BillingCurrency")


def test_slack_and_email_show_every_field_as_text(
    hostile: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcost.delivery import summary_lines

    report = build_report(hostile, "7d")
    text = "\n".join(summary_lines(report))
    assert payload("BillingCurrency") in text  # the raw line; Slack gets it escaped:

    import mlcost.delivery as delivery

    sent: list[bytes] = []

    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return b"ok"

    def urlopen(request: Any, timeout: float) -> Response:
        sent.append(request.data)
        return Response()

    monkeypatch.setattr(delivery.urllib.request, "urlopen", urlopen)
    monkeypatch.setenv("MLCOST_SLACK_WEBHOOK_URL", "https://hooks.example/services/T/B/x")
    delivery.send_slack(report, delivery.SlackSettings())
    slack = json.loads(sent[0])["text"]
    assert "<img" not in slack and "<http://e" not in slack
    assert "&lt;img src=x onerror=BillingCurrency&gt;" in slack


def test_findings_exports_keep_values_and_disarm_formulas(
    hostile: Store, cli: Cli, tmp_path: Path
) -> None:
    db = str(hostile.path)
    csv_out = tmp_path / "f.csv"
    assert cli("--db", db, "recommendations", "-o", str(csv_out)).returncode == 0
    text = csv_out.read_text()
    # A cell a spreadsheet would run as a formula starts with ' instead.
    assert f"'{payload('ResourceName')}" in text

    json_out = tmp_path / "f.json"
    assert cli("--db", db, "recommendations", "-o", str(json_out)).returncode == 0
    assert payload("ResourceName") in json_out.read_text()

    parquet_out = tmp_path / "f.parquet"
    assert cli("--db", db, "recommendations", "-o", str(parquet_out)).returncode == 0
    names = pq.read_table(parquet_out).column("resource_name").to_pylist()
    assert names == [payload("ResourceName")]
