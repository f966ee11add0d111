"""`mlcost export focus`: the cost table as a FOCUS dataset that loads back to the same
rows and totals, written whole or not at all, with filters that refuse a misspelling."""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mlcost.errors import InputError
from mlcost.export import export_focus, focus_columns
from mlcost.ingest import ingest_billing, ingest_sample
from mlcost.schema import FOCUS_COLUMNS
from mlcost.store import Store
from tests.conftest import Cli, focus_row, write_csv

SUMS = (
    "SELECT count(*), sum(BilledCost), sum(EffectiveCost), sum(ListCost), sum(ContractedCost), "
    "sum(PricingQuantity), sum(ConsumedQuantity) FROM cost"
)


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("sample") / "mlcost.duckdb", lock_timeout_s=5)
    store.init()
    ingest_sample(store)
    return store


def _rows(store: Store) -> list[tuple[object, ...]]:
    """Every FOCUS column of every row, in a stable order (x_source and the load time
    name where a row came from, not what it is)."""
    names = ", ".join(f'"{c}"' for c in FOCUS_COLUMNS)
    with store.reader() as con:
        return con.execute(f"SELECT {names} FROM cost ORDER BY ALL").fetchall()  # noqa: S608


@pytest.mark.parametrize("name", ["focus.parquet", "focus.csv", "focus.csv.gz", "lake"])
def test_an_export_loads_back_to_the_same_rows_and_totals(
    sample_store: Store, tmp_path: Path, name: str
) -> None:
    summary = export_focus(sample_store, tmp_path / name)

    copy = Store(tmp_path / "copy.duckdb", lock_timeout_s=5)
    copy.init()
    ingest_billing(copy, [str(tmp_path / name)])

    with sample_store.reader() as con:
        original = con.execute(SUMS).fetchone()
    with copy.reader() as con:
        reloaded = con.execute(SUMS).fetchone()
    assert original is not None and reloaded == original
    assert summary.rows == original[0]
    assert _rows(copy) == _rows(sample_store)


def test_a_folder_export_is_one_parquet_file_per_billing_period(
    sample_store: Store, tmp_path: Path
) -> None:
    summary = export_focus(sample_store, tmp_path / "lake")

    with sample_store.reader() as con:
        periods = con.execute(
            "SELECT strftime(BillingPeriodStart, '%Y-%m'), count(*) FROM cost GROUP BY 1 ORDER BY 1"
        ).fetchall()
    found = sorted(
        (p.parent.name.removeprefix("BillingPeriod="), pq.read_metadata(p).num_rows)
        for p in summary.files
    )
    assert found == periods
    first = pq.read_schema(summary.files[0])
    assert first.names == [name for name, _ in focus_columns("1.2")]  # no partition column
    assert str(first.field("ChargePeriodStart").type) == "timestamp[us, tz=UTC]"


def test_csv_is_byte_faithful_with_iso_timestamps_and_plain_decimals(
    store: Store, tmp_path: Path
) -> None:
    rows = [
        focus_row(
            BilledCost="1.230",
            EffectiveCost="5",
            ResourceName='=HYPERLINK("http://x")',
            ChargeDescription="+1 GPU, -2 CPU",
            Tags='{"team": "@vision", " org": "ml"}',
        )
    ]
    ingest_billing(store, [str(write_csv(tmp_path / "in.csv", rows))])

    export_focus(store, tmp_path / "out.csv")

    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as handle:
        (got,) = list(csv.DictReader(handle))
    assert got["BilledCost"] == "1.23" and got["EffectiveCost"] == "5"
    assert got["ChargePeriodStart"] == "2026-01-05T00:00:00Z"
    assert got["BillingPeriodEnd"] == "2026-02-01T00:00:00Z"
    # Interchange, not a spreadsheet: nothing is prefixed or escaped.
    assert got["ResourceName"] == '=HYPERLINK("http://x")'
    assert got["ChargeDescription"] == "+1 GPU, -2 CPU"
    assert got["Tags"] == '{"team":"@vision"," org":"ml"}'
    assert "x_source" not in got


def test_versions_and_extensions_choose_the_columns(sample_store: Store, tmp_path: Path) -> None:
    export_focus(sample_store, tmp_path / "v10.csv.gz", focus_version="1.0")
    export_focus(sample_store, tmp_path / "v13.parquet", focus_version="1.3")
    export_focus(sample_store, tmp_path / "x.parquet", with_extensions=True)

    with gzip.open(tmp_path / "v10.csv.gz", "rt", encoding="utf-8") as handle:
        v10 = next(csv.reader(handle))
    assert "BilledCost" in v10 and "InvoiceId" not in v10 and "ServiceSubcategory" not in v10
    v13 = pq.read_schema(tmp_path / "v13.parquet").names
    assert "ServiceProviderName" in v13 and "ProviderName" not in v13
    extended = pq.read_schema(tmp_path / "x.parquet").names
    assert {"x_source", "x_ingested_at"} <= set(extended)
    assert len(v10) == len(FOCUS_COLUMNS) - 14  # the columns FOCUS 1.1 and 1.2 added


def test_filters_narrow_the_export_and_a_misspelt_provider_is_refused(
    sample_store: Store, tmp_path: Path
) -> None:
    from datetime import date

    summary = export_focus(
        sample_store,
        tmp_path / "gcp.parquet",
        providers=["GCP"],
        since=date(2026, 9, 1),
        until=date(2026, 10, 1),
    )
    with sample_store.reader() as con:
        expected = con.execute(
            "SELECT count(*), sum(BilledCost) FROM cost WHERE ProviderName = 'Google Cloud' "
            "AND ChargePeriodStart >= '2026-09-01' AND ChargePeriodStart < '2026-10-01'"
        ).fetchone()
    assert expected is not None and expected[0] > 0
    assert (summary.rows, summary.billed_cost["USD"]) == expected

    with pytest.raises(InputError, match=r"provider 'gpc'.*aws \(AWS\), azure \(Microsoft\)"):
        export_focus(sample_store, tmp_path / "none.parquet", providers=["gpc"])
    assert not (tmp_path / "none.parquet").exists()


def test_a_failed_export_leaves_nothing_behind(sample_store: Store, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "other.txt").write_text("keep me")

    with pytest.raises(InputError, match="not empty"):
        export_focus(sample_store, tmp_path / "full")
    with pytest.raises(InputError, match="does not exist"):
        export_focus(sample_store, tmp_path / "missing" / "x.parquet")
    with pytest.raises(InputError, match="parquet or csv, not 'xlsx'"):
        export_focus(sample_store, tmp_path / "x.xlsx")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["full", "other.txt"]


def test_the_cli_exports_and_reports_the_totals(cli: Cli, db: str, tmp_path: Path) -> None:
    rows = [focus_row(BilledCost="10.25", EffectiveCost="9.75"), focus_row(BilledCost="0.75")]
    assert (
        cli("--db", db, "ingest", "billing", str(write_csv(tmp_path / "b.csv", rows))).returncode
        == 0
    )

    done = cli("--db", db, "export", "focus", "--output", str(tmp_path / "out.parquet"))

    assert done.returncode == 0, done.stderr
    assert "Exported 2 FOCUS 1.2 rows" in done.stderr
    assert "USD 11.00 billed" in done.stderr
    table = pq.read_table(tmp_path / "out.parquet")
    assert sum(table.column("BilledCost").to_pylist()) == Decimal("11.00")

    bad = cli("--db", db, "export", "focus", "--output", str(tmp_path / "o.csv"), "--provider", "x")
    assert bad.returncode == 1
    assert "Unknown provider 'x'; the known values are: aws (AWS)" in bad.stderr
