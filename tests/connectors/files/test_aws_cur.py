"""AWS CUR (legacy CSV, legacy Parquet, CUR 2.0) → FOCUS: amortisation by line item type,
tags, kept columns, and the invoice reconciled to the last decimal."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlcost.connectors.files.aws_cur import cur_name

from mlcost.errors import InputError
from mlcost.ingest import ingest_billing
from mlcost.store import Store
from tests.conftest import write_csv

RI = "arn:aws:ec2:us-east-1:111111111111:reserved-instances/ri-1"
SP = "arn:aws:savingsplans::111111111111:savingsplan/sp-1"

# One January: (line item type, unblended cost, extra columns). Built from the CUR data
# dictionary's columns; the amounts are ours.
LINES: list[tuple[str, str, dict[str, str]]] = [
    (
        "Usage",
        "1.92",
        {
            "lineItem/UsageType": "BoxUsage:m5.xlarge",
            "lineItem/Operation": "RunInstances",
            "product/productFamily": "Compute Instance",
            "lineItem/ResourceId": "i-0aaa",
            "lineItem/UsageAmount": "10",
            "pricing/publicOnDemandCost": "1.92",
            "resourceTags/user:team": "vision",
        },
    ),
    (
        "Usage",
        "0.023456789",
        {
            "lineItem/UsageType": "TimedStorage-ByteHrs",
            "lineItem/ProductCode": "AmazonS3",
            "product/ProductName": "Amazon Simple Storage Service",
            "resourceTags/user:team": "nlp",
            "resourceTags/user:env": "prod",
        },
    ),
    (
        "DiscountedUsage",
        "0",
        {
            "lineItem/UsageType": "BoxUsage:m5.xlarge",
            "reservation/ReservationARN": RI,
            "reservation/EffectiveCost": "0.75",
            "pricing/publicOnDemandCost": "1.92",
            "lineItem/ResourceId": "i-0bbb",
        },
    ),
    (
        "RIFee",
        "36.50",
        {
            "reservation/ReservationARN": RI,
            "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": "12.25",
            "reservation/UnusedRecurringFee": "6.10",
        },
    ),
    ("Fee", "300.00", {"reservation/ReservationARN": RI}),
    (
        "SavingsPlanCoveredUsage",
        "4.00",
        {"savingsPlan/SavingsPlanARN": SP, "savingsPlan/SavingsPlanEffectiveCost": "2.60"},
    ),
    ("SavingsPlanNegation", "-4.00", {"savingsPlan/SavingsPlanARN": SP}),
    (
        "SavingsPlanRecurringFee",
        "5.00",
        {
            "savingsPlan/SavingsPlanARN": SP,
            "savingsPlan/TotalCommitmentToDate": "5.00",
            "savingsPlan/UsedCommitment": "2.60",
        },
    ),
    ("SavingsPlanUpfrontFee", "120.00", {"savingsPlan/SavingsPlanARN": SP}),
    ("Refund", "-1.20", {}),
    ("Tax", "4.5678", {}),
    ("Credit", "-10.00", {}),
    ("EdpDiscount", "-0.55", {}),
]

# By hand, Σ lineItem/UnblendedCost (the invoice): 1.92 + 0.023456789 + 0 + 36.50 + 300
# + 4.00 − 4.00 + 5.00 + 120 − 1.20 + 4.5678 − 10 − 0.55
INVOICE_TOTAL = Decimal("456.261256789")
# Amortised: 1.92 + 0.023456789 + 0.75 (RI effective) + 18.35 (RI unused 12.25 + 6.10)
# + 0 (RI upfront) + 2.60 (SP effective) + 0 (negation) + 2.40 (SP unused 5.00 − 2.60)
# + 0 (SP upfront) − 1.20 + 4.5678 − 10 − 0.55
AMORTISED_TOTAL = Decimal("18.861256789")
#: A commitment's recurring fee (RIFee, SavingsPlanRecurringFee) is two FOCUS rows: the
#: purchase (EffectiveCost 0) and the part that went unused (a Usage row, status Unused).
FEES_WITH_UNUSED = 2


def legacy_rows() -> list[dict[str, str]]:
    rows = []
    for i, (kind, cost, extra) in enumerate(LINES):
        row = {
            "identity/LineItemId": f"li-{i}",
            "bill/PayerAccountId": "111111111111",
            "bill/BillingPeriodStartDate": "2026-01-01T00:00:00Z",
            "bill/BillingPeriodEndDate": "2026-02-01T00:00:00Z",
            "bill/InvoiceId": "INV-2026-01",
            "lineItem/UsageAccountId": "222222222222",
            "lineItem/LineItemType": kind,
            "lineItem/UsageStartDate": "2026-01-05T10:00:00Z",
            "lineItem/UsageEndDate": "2026-01-05T11:00:00Z",
            "lineItem/ProductCode": "AmazonEC2",
            "product/ProductName": "Amazon Elastic Compute Cloud",
            "product/region": "us-east-1",
            "lineItem/CurrencyCode": "USD",
            "lineItem/UnblendedCost": cost,
            "lineItem/LineItemDescription": f"{kind} line",
        }
        row.update(extra)
        rows.append(row)
    return rows


def header() -> list[str]:
    names: dict[str, None] = {}
    for row in legacy_rows():
        names.update(dict.fromkeys(row))
    return list(names)


def write_legacy_csv(path: Path) -> Path:
    return write_csv(path, legacy_rows(), header())


MONEY_COLUMNS = {
    "line_item_unblended_cost",
    "line_item_usage_amount",
    "pricing_public_on_demand_cost",
    "reservation_effective_cost",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
}


def _typed_columns(rows: list[dict[str, str]], names: list[str]) -> dict[str, pa.Array]:
    """CUR Parquet types: doubles for amounts, timestamps for dates, strings otherwise."""
    out: dict[str, pa.Array] = {}
    for name in names:
        snake = cur_name(name)
        values = [row.get(name) or None for row in rows]
        if snake in MONEY_COLUMNS:
            out[snake] = pa.array([float(v) if v else None for v in values], pa.float64())
        elif snake.endswith("_date"):
            stamps = [pa.scalar(v.replace("Z", "")).cast(pa.timestamp("ms")) for v in values]  # type: ignore[union-attr]
            out[snake] = pa.array([s.as_py() for s in stamps], pa.timestamp("ms"))
        else:
            out[snake] = pa.array(values, pa.string())
    return out


def write_legacy_parquet(path: Path) -> Path:
    names = header()
    columns = _typed_columns(legacy_rows(), [n for n in names if "resourceTags" not in n])
    for tag in ("team", "env"):
        columns[f"resource_tags_user_{tag}"] = pa.array(
            [row.get(f"resourceTags/user:{tag}") or None for row in legacy_rows()]
        )
    pq.write_table(pa.table(columns), path)
    return path


def _cur2_tags(row: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (f"user_{k.split(':', 1)[1]}", v)
        for k, v in row.items()
        if k.startswith("resourceTags/") and v
    ]


def write_cur2_parquet(path: Path) -> Path:
    names = [n for n in header() if "resourceTags" not in n]
    rows = legacy_rows()
    columns = _typed_columns(rows, names)
    columns["resource_tags"] = pa.array(
        [_cur2_tags(r) for r in rows], pa.map_(pa.string(), pa.string())
    )
    columns["product"] = pa.array(
        [[("servicename", "ec2")] for _ in rows], pa.map_(pa.string(), pa.string())
    )
    pq.write_table(pa.table(columns), path)
    return path


def write_cur2_csv(path: Path) -> Path:
    rows = []
    for row in legacy_rows():
        out = {cur_name(k): v for k, v in row.items() if not k.startswith("resourceTags/")}
        out["resource_tags"] = json.dumps(dict(_cur2_tags(row)))
        out["product"] = json.dumps({"servicename": "ec2"})
        rows.append(out)
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return write_csv(path, rows, list(names))


WRITERS = {
    "legacy.csv": write_legacy_csv,
    "legacy.csv.gz": write_legacy_csv,
    "legacy.parquet": write_legacy_parquet,
    "cur2.parquet": write_cur2_parquet,
    "cur2.csv.gz": write_cur2_csv,
}
DETECTED = {
    "legacy.csv": "AWS CUR (legacy CSV)",
    "legacy.csv.gz": "AWS CUR (legacy CSV)",
    "legacy.parquet": "AWS CUR (legacy Parquet)",
    "cur2.parquet": "AWS CUR 2.0",
    "cur2.csv.gz": "AWS CUR 2.0",
}


def totals(store: Store) -> tuple[Decimal, Decimal, int]:
    with store.reader() as con:
        row = con.execute("SELECT sum(BilledCost), sum(EffectiveCost), count(*) FROM cost")
        got = row.fetchone()
    assert got is not None
    return got[0], got[1], got[2]


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_cur_reconciles_to_the_invoice_and_the_amortised_total(
    store: Store, tmp_path: Path, name: str
) -> None:
    path = WRITERS[name](tmp_path / name)

    done = ingest_billing(store, [str(path)])

    assert done.files[0].description == DETECTED[name]
    assert done.files[0].detected
    assert totals(store) == (INVOICE_TOTAL, AMORTISED_TOTAL, len(LINES) + FEES_WITH_UNUSED)


def test_each_line_item_type_gets_its_focus_category_and_costs(
    store: Store, tmp_path: Path
) -> None:
    ingest_billing(store, [str(write_legacy_csv(tmp_path / "cur.csv"))])
    with store.reader() as con:
        got = con.execute(
            "SELECT x_LineItemType, ChargeCategory, BilledCost, EffectiveCost, "
            "CommitmentDiscountType, CommitmentDiscountStatus FROM cost"
        ).fetchall()
    by_type = {r[0]: r[1:] for r in got if r[5] != "Unused"}
    unused = {r[0]: r[1:] for r in got if r[5] == "Unused"}
    assert by_type["DiscountedUsage"] == (
        "Usage",
        Decimal("0"),
        Decimal("0.75"),
        "Reserved Instance",
        "Used",
    )
    # A recurring fee is a purchase that amortises to nothing; what went unused is a Usage
    # row of its own (FOCUS: EffectiveCost 0 on a commitment purchase), billed at 0.
    assert by_type["RIFee"][:3] == ("Purchase", Decimal("36.5"), Decimal("0"))
    assert unused["RIFee"] == (
        "Usage",
        Decimal("0"),
        Decimal("18.35"),
        "Reserved Instance",
        "Unused",
    )
    assert by_type["Fee"][:3] == ("Purchase", Decimal("300"), Decimal("0"))
    assert by_type["SavingsPlanCoveredUsage"] == (
        "Usage",
        Decimal("0"),
        Decimal("2.6"),
        "Savings Plan",
        "Used",
    )
    assert by_type["SavingsPlanNegation"][1:3] == (Decimal("0"), Decimal("0"))
    assert by_type["SavingsPlanRecurringFee"][:3] == ("Purchase", Decimal("5"), Decimal("0"))
    assert unused["SavingsPlanRecurringFee"] == (
        "Usage",
        Decimal("0"),
        Decimal("2.4"),
        "Savings Plan",
        "Unused",
    )
    assert set(unused) == {"RIFee", "SavingsPlanRecurringFee"}
    assert by_type["SavingsPlanUpfrontFee"][1:3] == (Decimal("120"), Decimal("0"))
    assert by_type["Tax"][:2] == ("Tax", Decimal("4.5678"))
    assert by_type["Refund"][0] == "Credit"
    assert by_type["EdpDiscount"][:2] == ("Credit", Decimal("-0.55"))


@pytest.mark.parametrize("name", ["legacy.csv", "legacy.parquet", "cur2.parquet", "cur2.csv.gz"])
def test_user_tags_become_one_tags_object_and_provider_columns_are_kept(
    store: Store, tmp_path: Path, name: str
) -> None:
    ingest_billing(store, [str(WRITERS[name](tmp_path / name))])
    with store.reader() as con:
        got = con.execute(
            "SELECT Tags, x_UsageType, x_Operation, x_ProductFamily, ServiceName, "
            "SubAccountId, x_source, ListCost FROM cost WHERE ResourceId = 'i-0aaa'"
        ).fetchone()
        storage = con.execute(
            "SELECT Tags, ServiceName FROM cost WHERE x_UsageType = 'TimedStorage-ByteHrs'"
        ).fetchone()
    assert got is not None and storage is not None
    assert json.loads(got[0]) == {"team": "vision"}
    assert got[1:] == (
        "BoxUsage:m5.xlarge",
        "RunInstances",
        "Compute Instance",
        "Amazon Elastic Compute Cloud",
        "222222222222",
        "aws-cur:111111111111",
        Decimal("1.92"),
    )
    assert json.loads(storage[0]) == {"team": "nlp", "env": "prod"}
    assert storage[1] == "Amazon Simple Storage Service"


def test_the_same_month_in_two_cur_flavours_replaces_not_adds(store: Store, tmp_path: Path) -> None:
    ingest_billing(store, [str(write_legacy_csv(tmp_path / "legacy.csv"))])
    ingest_billing(store, [str(write_cur2_parquet(tmp_path / "cur2.parquet"))])
    assert totals(store) == (INVOICE_TOTAL, AMORTISED_TOTAL, len(LINES) + FEES_WITH_UNUSED)


# -- refusals -----------------------------------------------------------------------


def _corrupt(tmp_path: Path, row: int, column: str, value: str) -> Path:
    rows = legacy_rows()
    rows[row - 1][column] = value
    return write_csv(tmp_path / "incoming" / "cur.csv", rows, header())


@pytest.mark.parametrize(
    ("row", "column", "value", "expected"),
    [
        (3, "lineItem/UnblendedCost", "1,5", ["row 3", "lineItem/UnblendedCost", "'1,5'"]),
        (5, "lineItem/LineItemType", "Mystery", ["row 5", "lineItem/LineItemType", "RIFee"]),
        (2, "lineItem/UsageStartDate", "soon", ["row 2", "lineItem/UsageStartDate", "'soon'"]),
        (
            4,
            "reservation/UnusedRecurringFee",
            "n/a",
            ["row 4", "reservation/UnusedRecurringFee", "'n/a'"],
        ),
        # After the two fee lines that give a second (unused) row: still the file's row.
        (12, "lineItem/UnblendedCost", "12,50", ["row 12", "lineItem/UnblendedCost", "'12,50'"]),
        (
            11,
            "lineItem/UsageStartDate",
            "13/1/26",
            ["row 11", "lineItem/UsageStartDate", "from 2000-01-01", "'13/1/26'"],
        ),
        (
            13,
            "bill/BillingPeriodStartDate",
            "9999-01-01T00:00:00Z",
            ["row 13", "bill/BillingPeriodStartDate", "'9999-01-01T00:00:00Z'"],
        ),
    ],
)
def test_a_malformed_cur_is_refused_by_file_row_and_column_and_the_store_unchanged(
    store: Store, tmp_path: Path, row: int, column: str, value: str, expected: list[str]
) -> None:
    ingest_billing(store, [str(write_legacy_csv(tmp_path / "good.csv"))])
    before = totals(store)
    bad = _corrupt(tmp_path, row, column, value)

    with pytest.raises(InputError) as caught:
        ingest_billing(store, [str(bad)])

    message = str(caught.value)
    assert "cur.csv" in message
    for fragment in expected:
        assert fragment in message, message
    assert totals(store) == before


def test_a_cur_without_its_cost_column_is_refused_naming_it(store: Store, tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "lineItem/UnblendedCost"} for r in legacy_rows()]
    path = write_csv(tmp_path / "cur.csv", rows, [h for h in header() if "Unblended" not in h])
    with pytest.raises(InputError, match=r"cur\.csv: missing the column line_item_unblended_cost"):
        ingest_billing(store, [str(path)], fmt="aws-cur")
    assert totals(store)[2] == 0
