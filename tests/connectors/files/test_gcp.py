"""GCP BigQuery billing export files (JSON lines, Parquet, CSV) → FOCUS: credits netted,
the Pacific-time invoice month, and the invoice reconciled to the decimal."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlcost.errors import InputError
from mlcost.ingest import ingest_billing
from mlcost.store import Store
from tests.conftest import write_csv


def record(
    cost: float,
    credits: list[tuple[float, str]] = (),  # type: ignore[assignment]
    *,
    sku: str = "N1 Predefined Instance Core running in Americas",
    service: str = "Compute Engine",
    cost_type: str = "regular",
    start: str = "2026-01-05 08:00:00 UTC",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One line of the standard export's schema (field names from Google's reference)."""
    return {
        "billing_account_id": "01AB23-CD45EF-678901",
        "service": {"id": "6F81-5844-456A", "description": service},
        "sku": {"id": "2E27-4F75-95CD", "description": sku},
        "usage_start_time": start,
        "usage_end_time": start.replace(":00:00", ":59:59"),
        "project": {"id": "ml-research", "name": "ML research", "number": "123"},
        "labels": [{"key": k, "value": v} for k, v in (labels or {}).items()],
        "location": {"location": "us-central1", "country": "US", "region": "us-central1"},
        "export_time": "2026-01-06 02:00:00 UTC",
        "cost": cost,
        "currency": "USD",
        "currency_conversion_rate": 1.0,
        "usage": {"amount": 3600.0, "unit": "seconds", "amount_in_pricing_units": 1.0},
        "credits": [
            {"name": t.title(), "amount": a, "full_name": t, "id": f"c-{t}", "type": t}
            for a, t in credits
        ],
        "invoice": {"month": "202601"},
        "cost_type": cost_type,
    }


RECORDS = [
    record(10.00, [(-1.5, "SUSTAINED_USAGE_DISCOUNT")], labels={"team": "vision"}),
    record(5.00, [(-5.0, "COMMITTED_USAGE_DISCOUNT")]),
    record(3.20, sku="Commitment v1: Cpu in Americas for 1 Year"),
    record(2.123456, [(-2.123456, "PROMOTION")], service="Cloud Storage", sku="Standard Storage"),
    record(4.00, [(-0.8, "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE")]),
    record(1.17, cost_type="tax", sku="Tax"),
    record(-0.50, cost_type="adjustment", sku="Refund"),
    # Used on 1 February UTC, still January in Pacific time: January's invoice.
    record(0.33, start="2026-02-01 03:00:00 UTC"),
]
# By hand, Σ (cost + credits): 8.50 + 0 + 3.20 + 0 + 3.20 + 1.17 − 0.50 + 0.33
INVOICE_TOTAL = Decimal("15.90")


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return path


def write_parquet(path: Path, records: list[dict[str, Any]]) -> Path:
    rows = copy.deepcopy(records)
    for row in rows:
        for key in ("usage_start_time", "usage_end_time", "export_time"):
            row[key] = datetime.strptime(row[key], "%Y-%m-%d %H:%M:%S UTC")
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_flat_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    """As a query result exported to CSV: records as a.b columns, lists as JSON text."""
    rows = []
    for rec in records:
        flat: dict[str, str] = {}
        for key, value in rec.items():
            if isinstance(value, dict):
                flat.update({f"{key}.{k}": str(v) for k, v in value.items()})
            elif isinstance(value, list):
                flat[key] = json.dumps(value)
            else:
                flat[key] = str(value)
        rows.append(flat)
    return write_csv(path, rows)


WRITERS = {"jsonl": write_jsonl, "parquet": write_parquet, "csv": write_flat_csv}


def totals(store: Store) -> tuple[Decimal, Decimal, int]:
    with store.reader() as con:
        got = con.execute("SELECT sum(BilledCost), sum(EffectiveCost), count(*) FROM cost")
        row = got.fetchone()
    assert row is not None
    return row[0], row[1], row[2]


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_gcp_export_reconciles_to_the_invoice(store: Store, tmp_path: Path, kind: str) -> None:
    path = WRITERS[kind](tmp_path / f"billing.{kind}", RECORDS)

    done = ingest_billing(store, [str(path)])

    assert done.files[0].description == "GCP BigQuery billing export (standard)"
    assert totals(store) == (INVOICE_TOTAL, INVOICE_TOTAL, len(RECORDS))
    with store.reader() as con:
        periods = con.execute(
            "SELECT DISTINCT BillingPeriodStart, BillingPeriodEnd, x_source FROM cost"
        ).fetchall()
    # The invoice month in Pacific time (PST is UTC−8), stored in UTC.
    assert periods == [
        (datetime(2026, 1, 1, 8), datetime(2026, 2, 1, 8), "gcp:01AB23-CD45EF-678901")
    ]


def test_gcp_lines_get_categories_commitments_tags_and_kept_columns(
    store: Store, tmp_path: Path
) -> None:
    ingest_billing(store, [str(write_jsonl(tmp_path / "b.jsonl", RECORDS))])
    with store.reader() as con:
        got = con.execute(
            "SELECT x_CostBeforeCredits, ChargeCategory, BilledCost, PricingCategory, "
            "CommitmentDiscountStatus, CommitmentDiscountCategory, Tags, x_SkuDescription, "
            "SubAccountId, ServiceName, RegionId FROM cost ORDER BY ALL"
        ).fetchall()
    rows = {Decimal(r[0]): r[1:] for r in got}
    d = Decimal
    assert rows[d("10")][:5] == ("Usage", d("8.5"), "Standard", None, None)
    assert json.loads(rows[d("10")][5]) == {"team": "vision"}
    assert rows[d("10")][6:] == (
        "N1 Predefined Instance Core running in Americas",
        "ml-research",
        "Compute Engine",
        "us-central1",
    )
    assert rows[d("5")][:5] == ("Usage", d("0"), "Committed", "Used", "Usage")
    assert rows[d("4")][:5] == ("Usage", d("3.2"), "Committed", "Used", "Spend")
    assert rows[d("3.2")][:2] == ("Purchase", d("3.2"))
    assert rows[d("1.17")][:2] == ("Tax", d("1.17"))
    assert rows[d("-0.5")][:2] == ("Adjustment", d("-0.5"))


def test_a_detailed_export_is_recognised(store: Store, tmp_path: Path) -> None:
    detailed = [
        {**r, "resource": {"name": "gpu-1", "global_name": "//compute/gpu-1"}} for r in RECORDS
    ]
    done = ingest_billing(store, [str(write_jsonl(tmp_path / "d.jsonl", detailed))])
    assert done.files[0].description == "GCP BigQuery billing export (detailed)"
    with store.reader() as con:
        got = con.execute("SELECT DISTINCT ResourceId, ResourceName FROM cost").fetchall()
    assert got == [("//compute/gpu-1", "gpu-1")]


def test_a_malformed_gcp_export_is_refused_and_the_store_unchanged(
    store: Store, tmp_path: Path
) -> None:
    ingest_billing(store, [str(write_jsonl(tmp_path / "good.jsonl", RECORDS))])
    before = totals(store)

    bad_credit = copy.deepcopy(RECORDS)
    bad_credit[2]["credits"] = [{"name": "x", "amount": "lots", "type": "PROMOTION"}]
    path = write_jsonl(tmp_path / "in" / "credits.jsonl", bad_credit)
    with pytest.raises(InputError, match=r"credits\.jsonl: row 3, column credits"):
        ingest_billing(store, [str(path)])

    bad_cost = copy.deepcopy(RECORDS)
    bad_cost[4]["cost"] = "ten"
    path = write_flat_csv(tmp_path / "in" / "cost.csv", bad_cost)
    with pytest.raises(InputError, match=r"cost\.csv: row 5, column cost: .*'ten'"):
        ingest_billing(store, [str(path)])

    broken = write_jsonl(tmp_path / "in" / "broken.jsonl", RECORDS)
    broken.write_text(broken.read_text() + '{"cost": 1.0, "billing_acc\n', "utf-8")
    with pytest.raises(InputError, match=r"broken\.jsonl"):
        ingest_billing(store, [str(broken)])

    assert totals(store) == before
