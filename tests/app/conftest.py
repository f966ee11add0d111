"""Stores for the dashboard tests: the sample organisation (analysed as `mlcost analyze`
does: findings, anomalies, run costs; with a hostile tag value from one more billing
source) built once, and copied for tests that write."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlcost.analysis import run_analyses
from mlcost.config import Settings
from mlcost.ingest import ingest_billing, ingest_sample
from mlcost.store import Store
from tests.conftest import focus_row, write_csv

#: A tag value that would run script if a page pasted it into HTML.
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="session")
def sample_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
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
    to.mkdir(parents=True, exist_ok=True)
    for path in master.parent.glob(master.name + "*"):
        if not path.name.endswith(".lock"):
            shutil.copy2(path, to / path.name)
    return to / master.name


@pytest.fixture
def sample_db(sample_master: Path, tmp_path: Path) -> Path:
    """A private copy of the analysed sample store."""
    return copy_store(sample_master, tmp_path / "sample")


@pytest.fixture
def empty_db(tmp_path: Path) -> Path:
    store = Store(tmp_path / "empty" / "mlcost.duckdb")
    store.init()
    return store.path
