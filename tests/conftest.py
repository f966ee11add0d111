"""Shared fixtures: a fresh store, FOCUS files written from rows, the CLI as a subprocess."""

from __future__ import annotations

import csv
import gzip
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlcost.store import Store

FIXTURES = Path(__file__).parent / "fixtures"

#: A minimal FOCUS 1.2 header: what mlcost requires plus the usual dimensions.
BASE_COLUMNS = [
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeFrequency",
    "ProviderName",
    "ServiceName",
    "SubAccountId",
    "ResourceId",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "Tags",
]


def spec_example(tmp_path: Path, name: str) -> Path:
    """A FOCUS specification worked example (tests/fixtures/focus_spec_examples, CC BY 4.0)
    with the two columns the spec's examples leave out added explicitly."""
    import io

    text = (FIXTURES / "focus_spec_examples" / name).read_text("utf-8")
    rows = [r for r in csv.DictReader(io.StringIO(text)) if any(r.values())]
    for row in rows:
        row.update(BillingCurrency="USD", ProviderName="FOCUS example")
    return write_csv(tmp_path / name, rows, newline="\r\n")


def focus_row(**values: str) -> dict[str, str]:
    """One January-2026 AWS usage line; keyword arguments override columns."""
    row = {
        "BillingAccountId": "111111111111",
        "BillingCurrency": "USD",
        "BillingPeriodStart": "2026-01-01T00:00:00Z",
        "BillingPeriodEnd": "2026-02-01T00:00:00Z",
        "ChargePeriodStart": "2026-01-05T00:00:00Z",
        "ChargePeriodEnd": "2026-01-06T00:00:00Z",
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "ProviderName": "AWS",
        "ServiceName": "Amazon Elastic Compute Cloud",
        "SubAccountId": "222222222222",
        "ResourceId": "i-0abc",
        "BilledCost": "1.00",
        "EffectiveCost": "1.00",
        "ListCost": "1.00",
        "Tags": '{"team": "vision"}',
    }
    row.update(values)
    return row


def write_csv(
    path: Path,
    rows: Sequence[dict[str, str]],
    columns: Sequence[str] | None = None,
    *,
    newline: str = "\n",
) -> Path:
    """Write rows as a CSV (gzip-compressed when the name ends in .gz)."""
    columns = list(columns or rows[0].keys())
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator=newline)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store" / "mlcost.duckdb", lock_timeout_s=5)
    s.init()
    return s


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the installed `mlcost` console script, as a user would."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("MLCOST_DB", "MLCOST_CONFIG")}
    full_env = {**inherited, "COLUMNS": "120", **(env or {})}
    exe = Path(sys.executable).with_name("mlcost")
    return subprocess.run(
        [str(exe), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def db(tmp_path: Path, cli: Cli) -> str:
    """A fresh store made by `mlcost init`, as its path."""
    path = str(tmp_path / "cli.duckdb")
    done = cli("--db", path, "init")
    assert done.returncode == 0, done.stderr
    assert "ready" in done.stdout
    return path


#: A tag value that would run script if a page pasted it into HTML.
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="session")
def sample_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample organisation analysed as `mlcost analyze` does (findings, anomalies,
    run costs), with a hostile tag value from one more billing source; built once."""
    import json

    from mlcost.analysis import run_analyses
    from mlcost.config import Settings
    from mlcost.ingest import ingest_billing, ingest_sample

    folder = tmp_path_factory.mktemp("sample-store")
    store = Store(folder / "mlcost.duckdb", lock_timeout_s=10)
    ingest_sample(store)
    evil = focus_row(
        BillingPeriodStart="2026-10-01T00:00:00Z",
        BillingPeriodEnd="2026-11-01T00:00:00Z",
        ChargePeriodStart="2026-10-15T00:00:00Z",
        ChargePeriodEnd="2026-10-16T00:00:00Z",
        BilledCost="12.34",
        EffectiveCost="12.34",
        ListCost="12.34",
        Tags=json.dumps({"team": EVIL}),
    )
    ingest_billing(store, [str(write_csv(folder / "extra.csv", [evil]))], source="extra")
    run_analyses(store, Settings())
    return store.path


def copy_store(master: Path, to: Path) -> Path:
    """A private copy of a store (its snapshot, its billing files), for tests that write."""
    import shutil

    to.mkdir(parents=True, exist_ok=True)
    for path in master.parent.glob(master.name + "*"):
        if path.is_dir():
            shutil.copytree(path, to / path.name)
        elif not path.name.endswith(".lock"):
            shutil.copy2(path, to / path.name)
    return to / master.name


@dataclass
class Ran:
    """What one in-process `mlcost` run printed and how it exited."""

    code: int
    stdout: str
    stderr: str


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    """`mlcost ARGS` in this process (through main(), so errors exit 1 as in a shell):
    much faster than a subprocess for tests that run many commands."""
    from mlcost import cli as cli_module

    capsys.readouterr()
    old = sys.argv
    sys.argv = ["mlcost", *args]
    code = 0
    try:
        cli_module.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A local address (http://127.0.0.1:PORT/) that accepts connections and never
    answers: for the timeouts of every network wait, without the network."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


# -- running in parallel (pytest-xdist: `pytest -n 2 --dist loadfile`, as `make test` does) --


#: The property tests' counts (tests/test_properties.TRIED), summed over the workers.
_TRIED_ON_WORKERS: dict[str, int] = {}


def _property_tests_tried() -> dict[str, int]:
    module = sys.modules.get("tests.test_properties")
    return dict(getattr(module, "TRIED", None) or {})


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand the property tests' counts to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["property_tests_tried"] = _property_tests_tried()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the xdist controller: add up what each worker's property tests tried."""
    for key, count in getattr(node, "workeroutput", {}).get("property_tests_tried", {}).items():
        _TRIED_ON_WORKERS[key] = _TRIED_ON_WORKERS.get(key, 0) + count


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many generated billing files the property tests tried (tests/test_properties)."""
    tried = _property_tests_tried()
    for key, count in _TRIED_ON_WORKERS.items():
        tried[key] = tried.get(key, 0) + count
    if sum(tried.values()):
        terminalreporter.write_line(
            f"property tests: {sum(tried.values())} generated billing files tried "
            f"({tried['loaded']} loaded exactly, {tried['refused']} refused by name with the "
            "store unchanged)"
        )
