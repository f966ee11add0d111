"""Stores for the dashboard tests: the sample organisation (analysed as `mlcost analyze`
does: findings, anomalies, run costs; with a hostile tag value from one more billing
source) built once, and copied for tests that write."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcost.store import Store

# The analysed sample store and its helpers live in tests/conftest.py (the CLI tests use
# them too); re-exported here for the dashboard tests.
from tests.conftest import EVIL, copy_store  # noqa: F401


@pytest.fixture
def sample_db(sample_master: Path, tmp_path: Path) -> Path:
    """A private copy of the analysed sample store."""
    return copy_store(sample_master, tmp_path / "sample")


@pytest.fixture
def empty_db(tmp_path: Path) -> Path:
    store = Store(tmp_path / "empty" / "mlcost.duckdb")
    store.init()
    return store.path
