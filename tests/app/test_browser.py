"""The dashboard in a real browser: `mlcost dashboard` on a free port, driven through
Playwright with the system's Chromium (headless). Screenshots of every page and the
render times go to build/test-output/dashboard/ (or $MLCOST_TEST_OUTPUT): every page at
1440×900 and at 1024 wide (NAME-1024.png)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from mlcost import figures, views
from mlcost.anomalies import list_anomalies
from mlcost.recommendations import get_recommendation, list_recommendations
from mlcost.store import Store
from tests.app.conftest import EVIL, copy_store

log = logging.getLogger(__name__)
PAGES = ("overview", "recommendations", "anomalies", "commitments", "experiments")
#: A figure written out with many decimals (4083.840000000000): what no page may show.
RAW_DECIMALS = re.compile(r"\d\.\d{5,}")
BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
OUTPUT = (
    Path(
        os.environ.get(
            "MLCOST_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "build" / "test-output"
        )
    )
    / "dashboard"
)

pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium on this machine (`apt-get install -y chromium`; .ci/run installs it)",
)


def money(value: object, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(db: Path, config: Path | None = None) -> Iterator[str]:
    """`mlcost dashboard` on ``db`` on a free port, until the block ends: its URL."""
    port = free_port()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    # one log per store served: the two tests may run at once on two xdist workers
    log_path = OUTPUT / f"server-{db.parent.name}.log"
    server_log = open(log_path, "w")  # noqa: SIM115 - closed below
    exe = Path(sys.executable).with_name("mlcost")
    settings = ["--config", str(config)] if config else []
    process = subprocess.Popen(
        [str(exe), "--db", str(db), *settings, "dashboard", "--port", str(port)],
        stdout=server_log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlcost dashboard did not start: {log_path.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        server_log.close()


@pytest.fixture
def served(sample_master: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`mlcost dashboard` over a copy of the sample store, with a settings file (anomaly
    sensitivity high): its URL and the store."""
    db = copy_store(sample_master, tmp_path / "served")
    config = tmp_path / "mlcost.toml"
    config.write_text('[anomalies]\nsensitivity = "high"\n')
    with serve(db, config) as url:
        yield url, db


def test_dashboard_in_chromium(served: tuple[str, Path]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    url, db = served
    store = Store(db)
    dialogs: list[str] = []
    timings: dict[str, str] = {}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=BROWSER, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

            def visit(query: str, shot: str) -> None:
                started = time.perf_counter()
                page.goto(f"{url}/?{query}")
                wait_rendered()
                loaded = time.perf_counter() - started
                caption = page.get_by_text("Rendered in").first.inner_text()
                timings[shot] = f"{loaded:.2f} s page load; app: {caption.split(' from ')[0]}"
                shoot(shot)

            def shoot(shot: str) -> None:
                # the viewport, as the analyst first sees it; then the whole page (the app
                # scrolls inside its main block, so a "full page" shot is the viewport)
                page.screenshot(path=str(OUTPUT / f"{shot}.png"))
                size = page.viewport_size or {"width": 1440, "height": 900}
                height = page.evaluate(
                    "document.querySelector('[data-testid=\"stMain\"]').scrollHeight"
                )
                page.set_viewport_size({"width": size["width"], "height": max(height, 900)})
                page.wait_for_timeout(700)
                page.screenshot(path=str(OUTPUT / f"{shot}-full.png"))
                page.set_viewport_size(size)

            def wait_rendered() -> None:
                # during a rerun the stale caption and the new one can both be on the page
                page.get_by_text("Rendered in").first.wait_for(timeout=60_000)
                page.wait_for_load_state("networkidle")
                # a rerun shows the stale page first: wait until Streamlit is idle again
                page.wait_for_function(
                    "!document.querySelector('[data-testid=\"stStatusWidget\"]')",
                    timeout=60_000,
                )

            for name in PAGES:
                visit(f"page={name}", name)
                assert page.locator("h2").first.inner_text().startswith(name.capitalize())
                assert page.locator('[data-testid="stException"]').count() == 0
                # the settings `mlcost dashboard --config` named are the app's
                assert "with the settings of" in page.get_by_text("Rendered in").first.inner_text()
                # no figure written out with a dozen decimals, anywhere on the page
                text = page.locator("body").inner_text()
                assert not RAW_DECIMALS.findall(text), (name, RAW_DECIMALS.findall(text)[:5])
                # Streamlit's developer toolbar ("Deploy") is not shown to the analyst
                assert page.get_by_text("Deploy", exact=True).count() == 0
                assert not page.locator('[data-testid="stAppDeployButton"]').is_visible()

            # every page at a laptop's width too: nothing cut off on the right
            page.set_viewport_size({"width": 1024, "height": 900})
            for name in PAGES:
                visit(f"page={name}", f"{name}-1024")
                overflow = page.evaluate(
                    "document.querySelector('[data-testid=\"stMain\"]').scrollWidth"
                    " - document.querySelector('[data-testid=\"stMain\"]').clientWidth"
                )
                assert overflow <= 1, (name, overflow)
            page.set_viewport_size({"width": 1440, "height": 900})

            # an idle GPU finding: its GPU utilisation has a chart (and percent axis) of its own
            with store.reader() as con:
                gpu = list_recommendations(con, rules=["idle_gpu"]).column("id")[0].as_py()
            visit("page=recommendations&rule=idle_gpu", "finding-idle-gpu")
            charts = page.locator('[data-testid="stVegaLiteChart"] .role-title-text')
            titles = charts.all_text_contents()
            assert "GPU utilisation (%)" in titles and "Network (MB)" in titles, titles
            assert gpu in page.locator("body").inner_text()

            # Overview: the figures shown are the library's
            visit("page=overview", "overview")
            head = figures.headline(store)
            with store.reader() as con:
                (spend,) = views.month_spend(con).to_pylist()
            shown = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
            for key in ("billed_spend", "amortised_spend", "usage_spend", "monthly_savings"):
                assert money(head.get(key, "USD"), "USD") in shown, key
            assert money(spend["this_month"], "USD") in shown
            assert money(spend["last_month"], "USD") in shown
            assert money(spend["forecast"], "USD") in shown

            # A hostile tag value, picked as a filter through the URL, is shown as text
            visit("page=overview&" + urllib.parse.urlencode({"tag": EVIL}), "xss-tag")
            assert page.get_by_text(EVIL).first.is_visible()
            assert page.locator("img[src='x']").count() == 0
            evil = figures.headline(store, views.Filters(tags={"team": (EVIL,)}))
            assert money(evil.get("amortised_spend", "USD"), "USD") == "12.34 USD"
            shown = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
            assert "12.34 USD" in shown

            # Apply a filter in the sidebar, then navigate: the filter stays (in the URL too)
            visit("page=recommendations", "recommendations")
            page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first.click()
            page.get_by_role("option", name="aws (AWS)", exact=True).click()
            page.keyboard.press("Escape")
            page.wait_for_url("**provider=aws**", timeout=30_000)
            wait_rendered()
            with store.reader() as con:
                aws = list_recommendations(con, providers=["aws"])
            page.get_by_text(f"{aws.num_rows} findings, largest saving first.").wait_for()
            page.screenshot(path=str(OUTPUT / "recommendations-aws.png"), full_page=True)
            page.locator('[data-testid="stSidebarNav"]').get_by_text("Commitments").click()
            page.wait_for_url("**commitments**", timeout=30_000)
            wait_rendered()
            page.get_by_role("heading", name="Commitments").first.wait_for()
            assert "provider=aws" in page.url

            # The date range: findings by their detection window (the data they were judged
            # on), so October shows them all, and August none
            with store.reader() as con:
                everything = views.findings(con)
                found = views.findings(
                    con, views.Filters(since=date(2026, 10, 1), until=date(2026, 10, 15))
                )
            assert found.num_rows == everything.num_rows > 0
            visit("page=recommendations&since=2026-10-01&until=2026-10-15", "recommendations-dated")
            page.get_by_text(f"{found.num_rows} findings, largest saving first.").wait_for()
            visit("page=recommendations&since=2026-08-01&until=2026-08-31", "recommendations-none")
            page.get_by_text("0 findings, largest saving first.").wait_for()
            visit("page=overview&since=2026-08-01&until=2026-08-31", "overview-august")
            labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
            assert "Savings a month (USD)" in [label.strip() for label in labels]
            assert "0.00 USD" in page.locator('[data-testid="stMetricValue"]').all_inner_texts()

            # Anomalies: the library's list, the band of the configured sensitivity, and
            # acknowledging one takes it off the Overview's open count
            open_before = views.open_anomalies(store)
            visit("page=anomalies", "anomalies")
            found = views.anomalies(store)
            page.get_by_text(f"{found.num_rows} anomalies, {open_before} open").wait_for()
            page.get_by_text("(sensitivity high)").wait_for()
            first = found.column("id")[0].as_py()
            page.get_by_role("button", name="Acknowledge").click()
            page.get_by_text(f"Acknowledged anomaly {first}.").wait_for(timeout=30_000)
            page.screenshot(path=str(OUTPUT / "acknowledged.png"), full_page=True)
            (acked,) = [r for r in list_anomalies(store).to_pylist() if r["id"] == first]
            assert acked["status"] == "acknowledged"
            visit("page=overview", "overview-acknowledged")
            shown = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
            assert str(open_before - 1) in shown

            # Experiments: sweeps from mlcost.experiments, narrowed by the provider filter
            visit("page=experiments&provider=gcp", "experiments-gcp")
            page.get_by_text("Sweeps", exact=True).wait_for()
            page.get_by_text("only the cost lines of the resources billed").wait_for()
            assert page.locator('[data-testid="stDataFrame"]').count() >= 2

            # Dismiss a finding with a reason
            visit("page=recommendations&rule=idle_vm", "dismiss")
            with store.reader() as con:
                first = list_recommendations(con, rules=["idle_vm"]).column("id")[0].as_py()
            page.get_by_label("Reason for dismissing").fill("kept for the quarterly audit")
            page.get_by_role("button", name="Dismiss").click()
            page.get_by_text(f"Dismissed {first}.").wait_for(timeout=30_000)
            page.screenshot(path=str(OUTPUT / "dismissed.png"), full_page=True)
            with store.reader() as con:
                rec = get_recommendation(con, first)
            assert (rec["status"], rec["dismissed_reason"]) == (
                "dismissed",
                "kept for the quarterly audit",
            )
        finally:
            browser.close()
    assert dialogs == []
    report = "\n".join(f"{name}: {timing}" for name, timing in timings.items())
    (OUTPUT / "render-times.txt").write_text(report + "\n")
    log.warning("dashboard render times (page load to rendered, sample store):\n%s", report)
    for name in PAGES:
        assert (OUTPUT / f"{name}.png").stat().st_size > 0


#: What a cloud string must never become on a page: a link, an image, a TeX formula, a
#: coloured span, emphasis, an icon in a text (the headings' own links are "#…").
MARKUP = (
    "a[href]:not([href^='#'])",
    "img",
    ".katex",
    "[data-testid='stMarkdownColoredText']",
    "strong",
    "em",
    "del",
    "[data-testid='stMarkdownContainer'] [data-testid='stIconMaterial']",
)
#: The page's own content (the navigation's links are Streamlit's).
PARTS = ("[data-testid='stMain']", "[data-testid='stSidebarUserContent']")
#: Where Streamlit renders Markdown (captions, metrics, messages) or shows text as it is.
SHOWN = ("stCaptionContainer", "stMetricLabel", "stMetricValue", "stAlert", "stText")


#: Resolves once the page has not changed for half a second: the browser may lay the
#: page's elements out again just after the run that sent them ended (seen when a fast
#: render's last element arrives within milliseconds of the others), and the texts are
#: read from the page as it stays.
SETTLED = """() => new Promise(done => {
    let quiet;
    const observer = new MutationObserver(() => { clearTimeout(quiet); quiet = later(); });
    const later = () => setTimeout(() => { observer.disconnect(); done(); }, 500);
    observer.observe(document.body, {subtree: true, childList: true, characterData: true});
    quiet = later();
})"""


def test_cloud_strings_are_text_in_the_browser(tmp_path: Path) -> None:
    """The injection test's payloads in all seven fields, every page in Chromium: no
    link, image, formula, emphasis, colour or icon made of them anywhere on a page, and
    they read as typed where Streamlit renders Markdown (tests/test_injection.py checks
    every text of every page through AppTest, with the options and tables)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from mlcost.output import WORD_JOINER
    from tests.test_injection import load_hostile, payload

    store = Store(tmp_path / "hostile" / "mlcost.duckdb")
    store.init()
    load_hostile(store)
    dialogs: list[str] = []
    markup = ", ".join(f"{part} {m}" for part in PARTS for m in MARKUP)
    filters = urllib.parse.urlencode(
        {"tag": payload("tag:team"), "account": payload("SubAccountId")}
    )
    shown: dict[str, str] = {}
    with serve(store.path) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=BROWSER, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1200})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            for query in [f"page={name}" for name in PAGES] + [f"page=overview&{filters}"]:
                page.goto(f"{url}/?{query}")
                page.get_by_text("Rendered in").first.wait_for(timeout=60_000)
                page.wait_for_load_state("networkidle")
                page.wait_for_function(
                    "!document.querySelector('[data-testid=\"stStatusWidget\"]')",
                    timeout=60_000,
                )
                if "account=" in query:  # the filters' run
                    page.get_by_text("; accounts ").first.wait_for(timeout=30_000)
                page.evaluate(SETTLED)
                assert page.locator('[data-testid="stException"]').count() == 0, query
                made = page.locator(markup)
                assert made.count() == 0, (query, made.evaluate_all("m => m.map(e => e.outerHTML)"))
                assert page.locator("img[src='x'], a[href*='evil']").count() == 0, query
                for testid in SHOWN:
                    texts = page.locator(f"[data-testid='{testid}']").all_inner_texts()
                    shown[f"{query} {testid}"] = "\n".join(texts).replace(WORD_JOINER, "")
                shot = query[5:].split("&")[0] + ("-filtered" if "&" in query else "")
                page.screenshot(path=str(OUTPUT / f"hostile-{shot}.png"))
        finally:
            browser.close()
    assert dialogs == []
    currency = payload("BillingCurrency")
    assert currency in shown["page=overview stMetricLabel"]
    assert currency in shown["page=overview stMetricValue"]
    assert currency in shown["page=anomalies stMetricValue"]
    assert currency in shown["page=anomalies stCaptionContainer"]  # the normal band
    caption = shown[f"page=overview&{filters} stCaptionContainer"]
    assert payload("SubAccountId") in caption and payload("tag:team") in caption, caption
    assert payload("RegionId") in shown["page=recommendations stText"]  # a finding's detail
