"""Shared fixtures: a fresh store, FOCUS files written from rows, the CLI as a subprocess."""

from __future__ import annotations

import csv
import gzip
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
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


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many generated billing files the property tests tried (tests/test_properties)."""
    module = sys.modules.get("tests.test_properties")
    tried = getattr(module, "TRIED", None)
    if tried and sum(tried.values()):
        terminalreporter.write_line(
            f"property tests: {sum(tried.values())} generated billing files tried "
            f"({tried['loaded']} loaded exactly, {tried['refused']} refused by name with the "
            "store unchanged)"
        )
