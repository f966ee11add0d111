"""`mlcost export lake` writes the layout `mlcost analyze --engine spark --lake` reads, and
the engine options refuse what does not go together (no Spark needed)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mlcost.ingest import ingest_billing
from mlcost.store import Store
from tests.conftest import focus_row, run_main, write_csv


def test_export_lake_writes_one_cost_file_per_billing_period(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        focus_row(BilledCost="3.50"),
        focus_row(
            BillingPeriodStart="2026-02-01T00:00:00Z",
            BillingPeriodEnd="2026-03-01T00:00:00Z",
            ChargePeriodStart="2026-02-03T00:00:00Z",
            ChargePeriodEnd="2026-02-04T00:00:00Z",
            BilledCost="1.25",
        ),
    ]
    ingest_billing(store, [str(write_csv(tmp_path / "billing.csv", rows))])
    ran = run_main(capsys, "--db", str(store.path), "export", "lake", str(tmp_path / "lake"))
    assert ran.code == 0, ran.stderr
    assert sorted(p.name for p in (tmp_path / "lake" / "cost").iterdir()) == [
        "2026-01.parquet",
        "2026-02.parquet",
    ]
    january = pq.read_table(tmp_path / "lake" / "cost" / "2026-01.parquet")
    assert [str(v) for v in january.column("BilledCost").to_pylist()] == ["3.500000000000"]
    assert "Wrote" in ran.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lake", "somewhere"], "--lake goes with --engine spark"),
        (["--engine", "spark"], "--lake goes with --engine spark"),
        (["--engine", "oracle"], "choose one of duckdb, spark"),
    ],
)
def test_analyze_refuses_engine_options_that_do_not_go_together(
    store: Store, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    ran = run_main(capsys, "--db", str(store.path), "analyze", *args)
    assert ran.code == 2
    assert message in " ".join(ran.stderr.split())
