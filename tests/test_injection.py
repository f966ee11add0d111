"""Cloud strings are data in every output (issue 23): a link, an image tag, a formula,
emphasis or a TeX formula written into a field by whoever names cloud resources never
becomes markup, a link or a formula.

Seven fields carry a payload each. Every output is checked for every field: the
findings' and `mlcost sql`'s CSV, JSON and Parquet; the report as HTML, Markdown and
JSON; Slack; email; and every dashboard page (through Streamlit's AppTest here, in
Chromium's DOM in tests/app/test_browser.py). Where an output does not carry a field at
all (Slack's summary has figures, not names), the matrix says so and the test checks the
field is absent rather than shown raw."""

from __future__ import annotations

import csv
import email
import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from markdown_it import MarkdownIt
from markupsafe import escape

from mlcost.analysis import run_analyses
from mlcost.config import EmailSettings, Settings, SlackSettings
from mlcost.output import WORD_JOINER
from mlcost.report import build_report, render
from mlcost.store import Store
from tests.conftest import Cli
from tests.rules.builder import AS_OF, Org

FIELDS = (
    "ProviderName",
    "BillingCurrency",
    "ServiceName",
    "SubAccountId",
    "RegionId",
    "ResourceName",
    "tag:team",
)


def payload(field: str) -> str:
    """A field's hostile value: a formula, a Markdown link, an HTML image, a Slack link,
    bold, a TeX formula and a bare address that renderers turn into a link."""
    return (
        f"=1+[{field}](http://evil.example/{field})<img src=x onerror={field}>"
        f"<http://e|{field}> **{field}** $x^2$ www.evil.example/{field}"
    )


def hostile_org() -> Org:
    """One VM whose every cloud string is a payload: idle (a finding), billed 60 days
    with a spike 4 days before the end (an anomaly of its service, account and team), and
    one ML run on it (an experiment with a cost)."""
    org = Org()
    org.resource(
        "i-hostile",
        "vm",
        instance_type="m5.large",
        name=payload("ResourceName"),
        account_id=payload("SubAccountId"),
        region=payload("RegionId"),
        tags={"team": payload("tag:team")},
    )
    org.usage("i-hostile", cpu=1.0, net_mb=1.0)
    values = {
        "Tags": json.dumps({"team": payload("tag:team")}),
        "ProviderName": payload("ProviderName"),
        "BillingCurrency": payload("BillingCurrency"),
        "ServiceName": payload("ServiceName"),
        "SubAccountId": payload("SubAccountId"),
        "RegionId": payload("RegionId"),
    }
    org.bill("i-hostile", "2.304", days=55, ending=AS_OF - timedelta(days=5), **values)
    org.bill("i-hostile", "400", days=1, ending=AS_OF - timedelta(days=4), **values)
    org.bill("i-hostile", "2.304", days=4, **values)
    org.run("run-1", "i-hostile", AS_OF - timedelta(days=3), 120)
    return org


def load_hostile(store: Store) -> Store:
    """``store`` with the hostile organisation loaded and analysed as `mlcost analyze` does."""
    hostile_org().load(store)
    run_analyses(store, Settings())
    return store


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The hostile organisation's store, built once: every test here only reads it."""
    store = Store(tmp_path_factory.mktemp("hostile") / "mlcost.duckdb", lock_timeout_s=5)
    store.init()
    return load_hostile(store)


# -- what a reader sees -----------------------------------------------------------------

#: Markdown as Streamlit and GitHub read it: CommonMark with raw HTML, tables and
#: strikethrough. Links that they find in plain text afterwards (GFM autolink literals,
#: Streamlit's :material/…: icons) are looked for in the text it renders.
_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_FOUND_LINK = re.compile(r"(?i)https?://|www\.|\w@\w|:material/")
_MARKUP = re.compile(r"<(a|img|script|iframe)\b")
_EMPHASIS = re.compile(r"<(strong|em|s|del)>(.*?)</\1>", re.S)


def markdown_shows(source: str) -> str:
    """What a Markdown text shows a reader, after checking no cloud string in it makes
    markup: no link, image or raw HTML at all, no payload's **bold** (the report's own
    headings and figures are bold), no TeX formula or Streamlit colour, and no address
    a renderer would link."""
    assert re.search(r"(?<!\\)\$", source) is None, source  # $…$ is TeX in Streamlit
    assert re.search(r"(?<!\\):[a-z]+\[", source) is None, source  # :red[…]
    rendered = _MARKDOWN.render(source)
    assert _MARKUP.search(rendered) is None, rendered
    emphasised = [text for _, text in _EMPHASIS.findall(rendered)]
    assert not [t for t in emphasised if t in FIELDS], rendered  # a payload's **field**
    text = html.unescape(re.sub(r"<[^>]+>", "", rendered))
    assert _FOUND_LINK.search(text) is None, text
    return text.replace(WORD_JOINER, "").strip()


def strings(value: Any) -> Iterator[str]:
    """Every string in a value, and in JSON text inside it (tags, evidence)."""
    if isinstance(value, str):
        yield value
        if value.startswith(("{", "[")):
            try:
                nested = json.loads(value)
            except ValueError:
                return
            yield from strings(nested)
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)


# -- the files: CSV, JSON, Parquet ------------------------------------------------------

#: A query over everything the store keeps of the seven fields.
EVERY_FIELD = (
    "SELECT c.ProviderName, c.BillingCurrency, c.ServiceName, c.SubAccountId, c.RegionId, "
    "r.name AS ResourceName, c.Tags FROM cost c JOIN resources r ON r.resource_id = "
    "c.ResourceId LIMIT 1"
)
#: What the findings carry: the resource's account, region, name and tags, the currency.
IN_FINDINGS = ("BillingCurrency", "SubAccountId", "RegionId", "ResourceName", "tag:team")


def read_cells(path: Path) -> list[str]:
    if path.suffix == ".csv":
        with path.open(newline="") as handle:
            return [cell for row in csv.reader(handle) for cell in row]
    if path.suffix == ".json":
        return list(strings(json.loads(path.read_text())))
    return list(strings(pq.read_table(path).to_pylist()))


@pytest.mark.parametrize("suffix", ["csv", "json", "parquet"])
def test_files_keep_every_field_as_data_and_disarm_formulas(
    hostile: Store, cli: Cli, tmp_path: Path, suffix: str
) -> None:
    db = str(hostile.path)
    for name, args, fields in (
        ("findings", ["recommendations"], IN_FINDINGS),
        ("sql", ["sql", EVERY_FIELD], FIELDS),
    ):
        out = tmp_path / f"{name}.{suffix}"
        done = cli("--db", db, *args, "-o", str(out))
        assert done.returncode == 0, done.stderr
        cells = read_cells(out)
        for field in fields:
            if suffix == "csv":
                # a cell a spreadsheet would run as a formula starts with ' instead
                inside_json = [s for c in cells if c.startswith(("{", "[")) for s in strings(c)]
                assert "'" + payload(field) in cells or payload(field) in inside_json, field
                assert payload(field) not in cells, (name, field)
            else:  # JSON and Parquet are data: the values exactly as the clouds wrote them
                assert payload(field) in cells, (name, field)
        if suffix == "csv":
            assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))], name


# -- the report: HTML, Markdown, JSON ---------------------------------------------------

#: What the report names: currency, provider, the movers (services, accounts), the
#: anomalies' scopes and the findings' resources and regions.
IN_REPORT = ("BillingCurrency", "ServiceName", "SubAccountId", "ResourceName")


class _Tags(HTMLParser):
    def __init__(self, document: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(document)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def html_shows(document: str) -> str:
    """What an HTML document shows, after checking no cloud string became markup: no
    image, no link (the report has none of its own), no handler, no payload's <strong>."""
    parsed = _Tags(document)
    names = [tag for tag, _ in parsed.tags]
    assert "img" not in names and "a" not in names and "script" not in names
    assert not [a for _, attrs in parsed.tags for a in attrs if a.startswith("on")]
    assert not [f for f in FIELDS if f"<strong>{f}</strong>" in document]
    return "".join(parsed.text)


def test_the_report_shows_every_field_as_text(hostile: Store) -> None:
    report = build_report(hostile, "7d")
    markdown = render(report, "md")
    document = render(report, "html")

    shown_md = "\n".join(markdown_shows(line) for line in markdown.splitlines())
    shown_html = html_shows(document)
    for field in IN_REPORT:
        assert payload(field) in shown_md, field
        assert payload(field) in shown_html, field
        assert str(escape(payload(field))) in document, field
    for field in FIELDS:
        assert payload(field) not in markdown, field  # never written raw
    # JSON is data: the values exactly as the clouds wrote them.
    data = set(strings(json.loads(render(report, "json"))))
    for field in IN_REPORT:
        assert payload(field) in data, field


def test_slack_and_email_show_every_field_as_text(
    hostile: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlcost.delivery as delivery

    report = build_report(hostile, "7d")
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
    delivery.send_slack(report, SlackSettings())
    slack = json.loads(sent[0])["text"]
    # Slack's summary has the figures and their currency; a <…> would be a link or mention
    assert "<" not in slack and ">" not in slack
    unescaped = slack.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert payload("BillingCurrency") in unescaped
    for field in FIELDS:
        assert field == "BillingCurrency" or field not in slack

    mails: list[email.message.Message] = []

    class SMTP:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def __enter__(self) -> SMTP:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def send_message(self, message: email.message.Message) -> None:
            mails.append(email.message_from_bytes(message.as_bytes()))

    monkeypatch.setattr(delivery.smtplib, "SMTP", SMTP)
    settings = EmailSettings(
        smtp_host="mail.example", security="none", from_address="a@example.com", to=["b@x.y"]
    )
    delivery.send_email(report, settings)
    (mail,) = mails
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in mail.walk()
        if not p.is_multipart()
    }
    shown_md = "\n".join(markdown_shows(line) for line in parts["text/plain"].splitlines())
    shown_html = html_shows(parts["text/html"])
    for field in IN_REPORT:
        assert payload(field) in shown_md and payload(field) in shown_html, field
    assert not [f for f in FIELDS if f in str(mail["Subject"])]


# -- the dashboard ----------------------------------------------------------------------

#: Where Streamlit shows text as it is: st.text, st.code, st.json, tables, the options of
#: a select box (and our own CSS, st.html). Everything else is read as Markdown: bodies,
#: captions, messages, metrics' labels, values and deltas, every widget's label and
#: help, a radio's options.
PLAIN_ELEMENTS = frozenset({"text", "json", "code", "dataframe", "html"})
PLAIN_OPTIONS = frozenset({"selectbox", "multiselect"})
MARKDOWN_FIELDS = ("body", "label", "help", "delta")
#: The dashboard shows everything the report does, and the provider, the region and the
#: team (filters, spend tables, a finding's detail).
IN_DASHBOARD = FIELDS


def dashboard_shows(at: Any) -> tuple[list[str], list[str]]:
    """Every text a rendered page shows, as (texts read as Markdown, each checked to make
    no markup and given as what it shows; plain texts)."""
    markdown: list[str] = []
    plain: list[str] = []

    def visit(node: Any) -> None:
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if hasattr(node, "children"):  # a block: expanders and tabs have Markdown labels
            label = getattr(node, "label", None)
            if isinstance(label, str) and label:
                markdown.append(markdown_shows(label))
            for child in node.children.values():
                visit(child)
            return
        if proto is None:
            return
        if kind in PLAIN_ELEMENTS:
            if kind == "dataframe":
                frame = node.value
                plain.extend(str(c) for c in frame.columns)
                plain.extend(str(v) for column in frame.columns for v in frame[column])
            else:
                plain.append(proto.code_text if kind == "code" else proto.body)
            return
        for name in MARKDOWN_FIELDS:
            value = getattr(proto, name, None)
            if isinstance(value, str) and value:
                markdown.append(markdown_shows(value))
        options = [str(o) for o in getattr(proto, "options", [])]
        if kind in PLAIN_OPTIONS:
            plain.extend(options)
        else:
            markdown.extend(markdown_shows(o) for o in options)

    visit(at._tree)
    return markdown, plain


def dashboard_runs(db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """Every page of the dashboard on ``db``, with each choice that shows other strings:
    spend by each dimension, each anomaly, and the filters set to the hostile values."""
    from mlcost.app import SCRIPT
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MLCOST_DB", str(db))

    def page(name: str, **params: str) -> Any:
        at = AppTest.from_file(str(SCRIPT), default_timeout=60)
        at.query_params["page"] = name
        for key, value in params.items():
            at.query_params[key] = value
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    at = page("overview")
    for by in ("provider", "service", "account", "tag:team"):
        at.selectbox(key="trend_by").set_value(by).run()
        yield f"overview by {by}", at
    filtered = page("overview", tag=payload("tag:team"), account=payload("SubAccountId"))
    assert filtered.multiselect(key="tag").value == [payload("tag:team")]
    yield "overview filtered", filtered
    yield "recommendations", page("recommendations")
    at = page("anomalies")
    for anomaly in at.selectbox(key="anomaly").options:
        at.selectbox(key="anomaly").set_value(anomaly).run()
        yield f"anomaly {anomaly}", at
    for name in ("commitments", "experiments"):
        yield name, page(name)


def test_the_dashboard_shows_every_field_as_text(
    hostile: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    markdown: list[str] = []
    plain: list[str] = []
    pages = []
    for name, at in dashboard_runs(hostile.path, monkeypatch):
        pages.append(name)
        read, text = dashboard_shows(at)  # checks that no Markdown text makes markup
        markdown += read
        plain += text
    assert len(pages) >= 10, pages  # 4 × spend by, filtered, findings, anomalies, 2 more
    shown = "\n".join(markdown + plain)
    for field in IN_DASHBOARD:
        assert payload(field) in shown, field
    # where Streamlit reads Markdown: the currency in metric labels and values, the
    # filters in the Overview's caption, the anomaly's band
    read = "\n".join(markdown)
    for field in ("BillingCurrency", "SubAccountId", "tag:team"):
        assert payload(field) in read, field
