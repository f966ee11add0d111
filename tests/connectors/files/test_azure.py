"""Azure cost details (EA, MCA; ActualCost, AmortizedCost) → FOCUS: the two datasets
combined as documented, Azure's file quirks, and the invoice reconciled to the decimal."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from mlcost.errors import InputError
from mlcost.ingest import ingest_billing
from mlcost.store import Store
from tests.conftest import write_csv

RES = "/providers/Microsoft.Capacity/reservationOrders/ro-1/reservations/r-1"
SAV = "/providers/Microsoft.BillingBenefits/savingsPlanOrders/spo-1/savingsPlans/sp-1"
VM = "/subscriptions/sub-1/resourceGroups/ml/providers/Microsoft.Compute/virtualMachines/gpu-1"


def line(charge: str, model: str, cost: str, **extra: str) -> dict[str, str]:
    """One EA cost details line of January 2026 (column names from the EA schema)."""
    row = {
        "BillingAccountId": "8608480",
        "BillingAccountName": "Contoso ML",
        "BillingPeriodStartDate": "1/1/2026",
        "BillingPeriodEndDate": "1/31/2026",
        "SubscriptionId": "sub-1",
        "SubscriptionName": "ml-prod",
        "Date": "1/5/2026",
        "ProductName": "Virtual Machines NC Series",
        "MeterCategory": "Virtual Machines",
        "MeterSubCategory": "NC Series",
        "MeterName": "NC6",
        "MeterId": "m-1",
        "Quantity": "10",
        "UnitOfMeasure": "1 Hour",
        "CostInBillingCurrency": cost,
        "PayGPrice": "0.9",
        "BillingCurrency": "USD",
        "ResourceLocation": "East US",
        "ResourceGroup": "ml",
        "ResourceId": "",
        "ChargeType": charge,
        "Frequency": "UsageBased",
        "PricingModel": model,
        "BenefitId": "",
        "BenefitName": "",
        "Tags": "",
        "PublisherName": "Microsoft",
    }
    row.update(extra)
    return row


TAGS = '"team": "vision","env": "prod"'
# The amortized dataset of January.
AMORTIZED = [
    line("Usage", "OnDemand", "12.3456789", ResourceId=VM, Tags=TAGS),
    line("Usage", "Reservation", "3.25", BenefitId=RES, BenefitName="nc-ri"),
    line("UnusedReservation", "Reservation", "1.75", BenefitId=RES, BenefitName="nc-ri"),
    line("Usage", "SavingsPlan", "2.10", BenefitId=SAV, BenefitName="compute-sp"),
    line("UnusedSavingsPlan", "SavingsPlan", "0.90", BenefitId=SAV, BenefitName="compute-sp"),
    line("Purchase", "OnDemand", "49.99", Frequency="OneTime", PublisherName="DataCorp"),
    line("RoundingAdjustment", "", "-0.01", Frequency="OneTime"),
]
# The actual (billed) dataset of the same month.
ACTUAL = [
    line("Usage", "OnDemand", "12.3456789", ResourceId=VM, Tags=TAGS),
    line("Usage", "Reservation", "0", BenefitId=RES, BenefitName="nc-ri"),
    line("Usage", "SavingsPlan", "0", BenefitId=SAV, BenefitName="compute-sp"),
    line("Purchase", "OnDemand", "49.99", Frequency="OneTime", PublisherName="DataCorp"),
    line("Purchase", "Reservation", "1200.00", Frequency="OneTime", BenefitId=RES),
    line("Purchase", "SavingsPlan", "73.00", Frequency="Recurring", BenefitId=SAV),
    line("Refund", "Reservation", "-20.00", Frequency="OneTime", BenefitId=RES),
    line("RoundingAdjustment", "", "-0.01", Frequency="OneTime"),
]
# By hand. The invoice (Σ actual): 12.3456789 + 0 + 0 + 49.99 + 1200 + 73 − 20 − 0.01
INVOICE_TOTAL = Decimal("1315.3256789")
# Σ amortized: 12.3456789 + 3.25 + 1.75 + 2.10 + 0.90 + 49.99 − 0.01
AMORTISED_TOTAL = Decimal("70.3256789")


def write_azure(path: Path, rows: list[dict[str, str]], *, mca: bool = False) -> Path:
    """As Azure writes it: a byte-order mark, CRLF line ends; MCA names in camelCase."""
    if mca:
        rows = [{k[0].lower() + k[1:]: v for k, v in row.items()} for row in rows]
    write_csv(path, rows, newline="\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return path


def totals(store: Store) -> tuple[Decimal, Decimal, int]:
    with store.reader() as con:
        got = con.execute("SELECT sum(BilledCost), sum(EffectiveCost), count(*) FROM cost")
        row = got.fetchone()
    assert row is not None
    return row[0], row[1], row[2]


@pytest.mark.parametrize("mca", [False, True], ids=["EA", "MCA"])
def test_actual_and_amortized_together_give_the_invoice_and_the_amortised_total(
    store: Store, tmp_path: Path, mca: bool
) -> None:
    actual = write_azure(tmp_path / "contoso-ActualCost-202601.csv", ACTUAL, mca=mca)
    amortized = write_azure(tmp_path / "contoso-AmortizedCost-202601.csv", AMORTIZED, mca=mca)

    done = ingest_billing(store, [str(actual), str(amortized)])

    assert {f.description for f in done.files} == {f"Azure cost details ({'MCA' if mca else 'EA'})"}
    # 7 amortized rows, plus the actual file's three commitment purchases and refunds.
    assert totals(store) == (INVOICE_TOTAL, AMORTISED_TOTAL, 10)


def test_datasets_are_told_apart_by_content_when_names_do_not_say(
    store: Store, tmp_path: Path
) -> None:
    first = write_azure(tmp_path / "export-1.csv", ACTUAL)
    second = write_azure(tmp_path / "export-2.csv", AMORTIZED)
    ingest_billing(store, [str(first), str(second)])
    assert totals(store) == (INVOICE_TOTAL, AMORTISED_TOTAL, 10)


def test_combined_rows_follow_the_commitment_rules(store: Store, tmp_path: Path) -> None:
    ingest_billing(
        store,
        [
            str(write_azure(tmp_path / "ActualCost.csv", ACTUAL)),
            str(write_azure(tmp_path / "AmortizedCost.csv", AMORTIZED)),
        ],
    )
    with store.reader() as con:
        got = con.execute(
            "SELECT x_ChargeType, x_PricingModel, ChargeCategory, ChargeClass, BilledCost, "
            "EffectiveCost, CommitmentDiscountStatus, CommitmentDiscountType, x_CostDataset "
            "FROM cost ORDER BY ALL"
        ).fetchall()
    rows = {(r[0], r[1], r[8]): r[2:8] for r in got}
    d = Decimal
    assert rows[("Usage", "Reservation", "AmortizedCost")] == (
        "Usage",
        None,
        d("0"),
        d("3.25"),
        "Used",
        "Reservation",
    )
    assert rows[("UnusedReservation", "Reservation", "AmortizedCost")] == (
        "Usage",
        None,
        d("0"),
        d("1.75"),
        "Unused",
        "Reservation",
    )
    assert rows[("UnusedSavingsPlan", "SavingsPlan", "AmortizedCost")][2:] == (
        d("0"),
        d("0.9"),
        "Unused",
        "Savings Plan",
    )
    assert rows[("Purchase", "Reservation", "ActualCost")][:4] == (
        "Purchase",
        None,
        d("1200"),
        d("0"),
    )
    assert rows[("Refund", "Reservation", "ActualCost")][:4] == (
        "Purchase",
        "Correction",
        d("-20"),
        d("0"),
    )
    # Usage lines of the actual file are not loaded: the amortized file has them.
    assert ("Usage", "OnDemand", "ActualCost") not in rows


def test_one_dataset_alone_counts_its_cost_as_billed_and_effective(
    store: Store, tmp_path: Path
) -> None:
    ingest_billing(store, [str(write_azure(tmp_path / "ActualCost.csv", ACTUAL))])
    assert totals(store) == (INVOICE_TOTAL, INVOICE_TOTAL, len(ACTUAL))


def test_azure_dates_tags_and_kept_columns(store: Store, tmp_path: Path) -> None:
    ingest_billing(store, [str(write_azure(tmp_path / "AmortizedCost.csv", AMORTIZED))])
    with store.reader() as con:
        got = con.execute(
            "SELECT ChargePeriodStart, ChargePeriodEnd, BillingPeriodStart, BillingPeriodEnd, "
            "Tags, x_MeterCategory, x_MeterSubCategory, RegionId, SubAccountId, x_source, "
            "ProviderName FROM cost WHERE ResourceId IS NOT NULL"
        ).fetchone()
    assert got is not None
    assert [str(v) for v in got[:4]] == [
        "2026-01-05 00:00:00",
        "2026-01-06 00:00:00",
        "2026-01-01 00:00:00",
        "2026-02-01 00:00:00",
    ]
    assert json.loads(got[4]) == {"team": "vision", "env": "prod"}
    assert got[5:] == (
        "Virtual Machines",
        "NC Series",
        "eastus",
        "sub-1",
        "azure:8608480",
        "Microsoft",
    )


@pytest.mark.parametrize(
    ("row", "column", "value", "expected"),
    [
        (2, "Date", "13/45/2026", ["row 2", "column Date", "'13/45/2026'"]),
        (4, "CostInBillingCurrency", "1.2.3", ["row 4", "CostInBillingCurrency", "'1.2.3'"]),
        (3, "ChargeType", "Gift", ["row 3", "ChargeType", "UnusedReservation"]),
    ],
)
def test_a_malformed_azure_export_is_refused_and_the_store_unchanged(
    store: Store, tmp_path: Path, row: int, column: str, value: str, expected: list[str]
) -> None:
    ingest_billing(store, [str(write_azure(tmp_path / "AmortizedCost.csv", AMORTIZED))])
    before = totals(store)
    rows = [dict(r) for r in ACTUAL]
    rows[row - 1][column] = value
    bad = write_azure(tmp_path / "incoming" / "ActualCost.csv", rows)

    with pytest.raises(InputError) as caught:
        ingest_billing(store, [str(tmp_path / "AmortizedCost.csv"), str(bad)])

    message = str(caught.value)
    assert "incoming/ActualCost.csv" in message
    for fragment in expected:
        assert fragment in message, message
    assert totals(store) == before
