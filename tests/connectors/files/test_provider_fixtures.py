"""Each provider's export, as its documented schema writes it (tests/fixtures/providers),
converted to FOCUS 1.2: totals to the last decimal, and every column the source can fill
filled as the specification defines it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mlcost import mappings
from mlcost.ingest import ingest_billing
from mlcost.store import Store
from tests.conftest import run_cli

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
D = Decimal

DATASETS: dict[str, list[str]] = {
    "aws-legacy": ["aws_legacy_cur.csv"],
    "aws-cur2": ["aws_cur2.parquet"],
    "azure-ea": ["azure_ea.csv"],
    "azure-mca": ["azure_mca_actual.csv", "azure_mca_amortized.csv"],
    "azure-focuscost": ["azure_focuscost.csv"],
    "gcp": ["gcp_billing_export.jsonl"],
}

# Σ (BilledCost, EffectiveCost, ListCost, ContractedCost), by hand:
TOTALS: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {
    # Billed: Σ lineItem/UnblendedCost = 327.726 + 8 + 7.04 + 0.5 + 5.75 + 10.80 + 15 + 3.72
    # + 3 + 25 + 0 (RI-covered) + 37.20 (RI fee) + 29.38 + 0.56 (tax) − 50 (credit)
    # − 16.3863 (EDP). Effective: + 98.50 (RI effective) − 37.20 + 12.40 + 6.20 (RI fee's
    # unused parts). List and contracted: billed + 163.863 (RI-covered usage at on-demand).
    "aws-legacy": (D("407.2897"), D("487.1897"), D("571.1527"), D("571.1527")),
    # Billed: 17.0688 (spot) + 0 + 0 (SP usage, negation) + 168 (SP fee) + 174 (FSx) + 4
    # (ECR) + 9.09 (tax). Effective: 17.0688 + 98.475 + 0 + (168 − 98.475) + 174 + 4 + 9.09.
    # List: 45.376 (spot at on-demand) + 151.50 + 0 + 168 + 174 + 4 + 9.09.
    # Contracted: 17.0688 + 151.50 (SP usage at its rate) + 0 + 168 + 174 + 4 + 9.09.
    "aws-cur2": (D("372.1588"), D("372.1588"), D("551.966"), D("523.6588")),
    # Σ cost = 79.2 + 135.17 × 0.032258 + 4.8 × 30/10 + 0.00015 × 1520000/1000 + 10.44
    # + 3.72 + 48 + 49.99. List: PayGPrice × Quantity / block for usage (3.673 × 24,
    # 5.26 × 3, 0.000165 × 1520, the rest at their unit price), the purchase at its cost.
    "azure-ea": (
        D("210.33831386"),
        D("210.33831386"),
        D("220.69311386"),
        D("210.33831386"),
    ),
    # EUR = USD × 0.92. Billed: 250.2124 + 4.60 + 8.464 + 2.208 + 0 (covered) + 0 (unused)
    # + 1589.76 (reservation purchase). Effective: the same usage + 220.80 (100 h at 2.40)
    # + 44.16 (20 unused hours) and the purchase at 0. List: paygCostInBillingCurrency
    # (250.2124 + 5.06 + 9.568 + 2.208 + 404.80 + 80.96) + 1589.76. Contracted: unitPrice
    # × quantity in EUR (250.2124 + 4.60 + 8.464 + 2.208 + 368.00 + 73.60) + 1589.76.
    "azure-mca": (D("1855.2444"), D("530.4444"), D("2342.5684"), D("2296.8444")),
    # Microsoft's own FOCUS values, as written.
    "azure-focuscost": (D("17368.602"), D("88.602"), D("17368.647"), D("17368.602")),
    # Billed = effective = cost + credits: 58.80 − 16.464 + 17 + 11.20 + 5.20 + 31.25 + 12
    # + 2.50 + 8.50 + 10.77 (tax) − 0.01 (rounding). List = contracted = Σ cost.
    "gcp": (D("140.746"), D("140.746"), D("157.21"), D("157.21")),
}

#: The services each export holds that the packaged mapping does not know, with rows.
UNKNOWN: dict[str, dict[str, int]] = {
    "aws-legacy": {"Acme Vector Database Pro": 1},
    "aws-cur2": {},
    "azure-ea": {"DataCorp Feature Store - Pro plan": 1, "Microsoft Dev Box": 1},
    "azure-mca": {},
    "gcp": {"Places API": 1},
}

MCA_SOURCE = "azure:a1b2c3d4-mca0-4000-8000-000000000001:b1c2d3e4_2019-05-31"
CONVERTED = [name for name in DATASETS if name != "azure-focuscost"]


def load(store: Store, name: str) -> Any:
    return ingest_billing(store, [str(FIXTURES / f) for f in DATASETS[name]])


def rows(store: Store, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with store.reader() as con:
        return con.execute(sql, params or []).fetchall()


def by_description(store: Store, columns: str) -> dict[str, tuple[Any, ...]]:
    got = rows(store, f"SELECT ChargeDescription, {columns} FROM cost")  # noqa: S608
    return {r[0]: r[1:] for r in got}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_each_export_reconciles_to_the_last_decimal(store: Store, name: str) -> None:
    load(store, name)
    got = rows(
        store,
        "SELECT sum(BilledCost), sum(EffectiveCost), sum(ListCost), sum(ContractedCost) FROM cost",
    )[0]
    assert got == TOTALS[name]


@pytest.mark.parametrize("name", CONVERTED)
def test_unknown_services_are_other_and_counted_in_the_ingest_report(
    store: Store, name: str
) -> None:
    done = load(store, name)
    counted: dict[str, int] = {}
    for f in done.files:
        for service, n in f.other_services.items():
            counted[service] = counted.get(service, 0) + n
    assert counted == UNKNOWN[name]
    other = rows(
        store,
        "SELECT ServiceName, count(*) FROM cost WHERE ServiceCategory = 'Other' GROUP BY 1",
    )
    known_other = {s.service_name for s in mappings.services() if s.category == "Other"}
    assert {k: v for k, v in other if k not in known_other} == UNKNOWN[name]


def test_every_converted_row_is_categorised_and_priced_as_focus_requires(store: Store) -> None:
    for name in CONVERTED:
        load(store, name)
    subcategories = mappings.subcategories()
    got = rows(store, "SELECT DISTINCT ServiceName, ServiceCategory, ServiceSubcategory FROM cost")
    categories: dict[str, set[str]] = {}
    for service, category, subcategory in got:
        assert service is not None and category is not None and subcategory is not None
        assert subcategory in subcategories[category], (service, category, subcategory)
        categories.setdefault(service, set()).add(category)
    # FOCUS: each ServiceName has exactly one ServiceCategory.
    assert all(len(c) == 1 for c in categories.values()), categories

    def violations(condition: str) -> list[tuple[Any, ...]]:
        return rows(
            store,
            f"SELECT x_source, ServiceName, ChargeCategory FROM cost WHERE {condition}",  # noqa: S608
        )

    # MUST NOT be null.
    assert not violations(
        "ListCost IS NULL OR ContractedCost IS NULL OR PricingCurrency IS NULL "
        "OR PricingCurrencyEffectiveCost IS NULL OR InvoiceIssuerName IS NULL"
    )
    # Unit price × PricingQuantity = cost (the validator's tolerance: 1e-9, relative).
    for price, cost in (("ListUnitPrice", "ListCost"), ("ContractedUnitPrice", "ContractedCost")):
        assert not violations(
            f"{price} IS NOT NULL AND PricingQuantity IS NOT NULL AND "
            f"abs({price} * PricingQuantity - {cost}) > 1e-9 * greatest(abs({cost}), 1)"
        )
    # Tax: no quantity, unit, unit price, SKU or pricing category.
    assert not violations(
        "ChargeCategory = 'Tax' AND (PricingQuantity IS NOT NULL OR PricingUnit IS NOT NULL "
        "OR ListUnitPrice IS NOT NULL OR ContractedUnitPrice IS NOT NULL OR SkuId IS NOT NULL "
        "OR SkuMeter IS NOT NULL OR PricingCategory IS NOT NULL)"
    )
    # Pairs that are null together.
    for a, b in (
        ("PricingQuantity", "PricingUnit"),
        ("ConsumedQuantity", "ConsumedUnit"),
        ("RegionId", "RegionName"),
        ("ResourceId", "ResourceType"),
        ("BillingAccountId", "BillingAccountType"),
        ("SubAccountId", "SubAccountType"),
    ):
        assert not violations(f"({a} IS NULL) <> ({b} IS NULL)"), (a, b)
    assert not violations("SkuId IS NULL AND SkuMeter IS NOT NULL")
    assert not violations("ChargeCategory <> 'Usage' AND ConsumedQuantity IS NOT NULL")
    # Usage and purchases have their prices; the exceptions are purchases Azure writes
    # without a meter (a Marketplace plan, a reservation), hence without a SkuId.
    assert sorted(
        violations(
            "ChargeCategory IN ('Usage', 'Purchase') AND ChargeClass IS NULL AND ("
            "PricingQuantity IS NULL OR ListUnitPrice IS NULL OR ContractedUnitPrice IS NULL "
            "OR PricingCategory IS NULL OR SkuId IS NULL)"
        )
    ) == [
        ("azure:8608480", "DataCorp Feature Store - Pro plan", "Purchase"),
        (MCA_SOURCE, "Virtual Machines", "Purchase"),
    ]


def test_each_service_name_has_one_category_across_the_sample_and_every_fixture(
    store: Store,
) -> None:
    from mlcost.ingest import ingest_sample

    ingest_sample(store)
    for name in DATASETS:
        load(store, name)

    split = rows(
        store,
        "SELECT ServiceName, list(DISTINCT ServiceCategory ORDER BY ServiceCategory) FROM cost "
        "GROUP BY 1 HAVING count(DISTINCT ServiceCategory) > 1",
    )
    assert split == []
    assert rows(store, "SELECT count(*) FROM cost WHERE ServiceCategory IS NULL") == [(0,)]
    # The sample and the fixtures share services, and agree on them.
    shared = rows(
        store,
        "SELECT count(DISTINCT ServiceName) FROM cost WHERE ServiceName IN "
        "(SELECT ServiceName FROM cost WHERE x_source LIKE 'sample%') "
        "AND ServiceName IN (SELECT ServiceName FROM cost WHERE x_source NOT LIKE 'sample%')",
    )
    assert shared[0][0] >= 4, shared


def test_aws_legacy_cur_regions_invoice_issuer_accounts_and_tax(store: Store) -> None:
    load(store, "aws-legacy")
    got = by_description(
        store,
        "RegionId, RegionName, InvoiceIssuerName, BillingAccountType, SubAccountType, "
        "ResourceType, SkuMeter",
    )
    p4d = got["$32.7726 per On Demand Linux p4d.24xlarge Instance Hour"]
    assert p4d == (
        "us-east-1",
        "US East (N. Virginia)",
        "Amazon Web Services, Inc.",
        "Payer Account",
        "Linked Account",
        "Instance",
        "Compute Instance",
    )
    # product/region without product/regionCode; product/location as RegionName.
    assert got["$1.408 per Hour for Train:ml.g5.xlarge in US West (Oregon)"][:2] == (
        "us-west-2",
        "US West (Oregon)",
    )
    # Only a location: the region is found by its name.
    assert got["$0.30 per metric-month - first 10,000 metrics"][:2] == (
        "us-east-1",
        "US East (N. Virginia)",
    )
    assert got["$0.09 per GB - first 10 TB / month data transfer out"][:2] == (None, None)
    assert got["$0.005 per In-use public IPv4 address per hour"][5] == "Elastic IP"
    assert got["$0.023 per GB - first 50 TB / month of storage used"][5] == "Bucket"
    assert got["Claude 3 Haiku input tokens"][5] == "foundation model"

    tax = rows(
        store,
        "SELECT ServiceName, ServiceCategory, BilledCost, ListCost, ContractedCost, "
        "PricingQuantity, PricingUnit, RegionId FROM cost WHERE ChargeCategory = 'Tax' "
        "ORDER BY BilledCost",
    )
    assert tax == [
        ("Amazon SageMaker", "AI and Machine Learning", *(D("0.56"),) * 3, None, None, None),
        ("Amazon Elastic Compute Cloud", "Compute", *(D("29.38"),) * 3, None, None, None),
    ]
    ri = rows(
        store,
        "SELECT BilledCost, EffectiveCost, ListCost, ContractedCost, ContractedUnitPrice, "
        "PricingCategory FROM cost WHERE x_LineItemType = 'DiscountedUsage'",
    )
    assert ri == [(D("0"), D("98.5"), D("163.863"), D("163.863"), D("32.7726"), "Committed")]
    tags = rows(store, "SELECT Tags FROM cost WHERE ResourceId = 'i-0a1b2c3d4e5f60001'")
    assert json.loads(tags[0][0]) == {"team": "vision", "cost center": "ml-research"}


def test_aws_cur2_names_services_from_the_product_map_and_the_mapping(store: Store) -> None:
    load(store, "aws-cur2")
    got = dict(
        rows(
            store,
            "SELECT x_LineItemType || ':' || x_ProductCode, ServiceName FROM cost",
        )
    )
    assert got["Usage:AmazonFSx"] == "Amazon FSx"
    assert got["Usage:AmazonECR"] == "Amazon EC2 Container Registry (ECR)"
    assert got["SavingsPlanRecurringFee:MachineLearningSavingsPlans"] == (
        "Savings Plans for AWS Machine Learning"
    )
    negation = rows(
        store,
        "SELECT BilledCost, EffectiveCost, ListCost, ContractedCost, ListUnitPrice, "
        "ContractedUnitPrice FROM cost WHERE x_LineItemType = 'SavingsPlanNegation'",
    )
    assert negation == [(D("0"),) * 6]
    spot = rows(
        store,
        "SELECT PricingCategory, ListUnitPrice, ContractedUnitPrice, SubAccountName "
        "FROM cost WHERE x_UsageType LIKE '%SpotUsage%'",
    )
    assert spot == [("Dynamic", D("5.672"), D("2.1336"), "ml-training")]


def test_azure_ea_lists_at_the_payg_price_per_block_and_names_regions(store: Store) -> None:
    load(store, "azure-ea")
    got = by_description(
        store,
        "RegionId, RegionName, PricingQuantity, PricingUnit, ConsumedQuantity, ConsumedUnit, "
        "ListUnitPrice, ListCost, ContractedCost, ResourceType",
    )
    # "10 Hours": priced per block of 10 hours, consumed in hours.
    t4 = got["Virtual Machines NCasT4 v3 Series - NC4as T4 v3 - US East 2"]
    assert t4 == (
        "eastus2",
        "East US 2",
        D("3"),
        "10 Hours",
        D("30"),
        "Hours",
        D("5.26"),
        D("15.78"),
        D("14.4"),
        "Microsoft.MachineLearningServices/workspaces/computes",
    )
    # The older "US East" spelling is eastus.
    a100 = got["Virtual Machines NCads A100 v4 Series - NC24ads A100 v4 - US East"]
    assert a100[:2] == ("eastus", "East US")
    assert a100[7] == D("88.152")  # PayGPrice × Quantity: the file has no PayG cost
    openai = got["Azure OpenAI - gpt-4o-mini-0718-Inp-glbl - Sweden Central"]
    assert openai[:8] == (
        "swedencentral",
        "Sweden Central",
        D("1520"),
        "1K",
        D("1520000"),
        "Units",
        D("0.000165"),
        D("0.2508"),
    )
    assert got["Bandwidth - Standard Data Transfer Out - Zone 1"][:2] == (None, None)
    accounts = rows(
        store,
        "SELECT DISTINCT BillingAccountType, SubAccountType, InvoiceIssuerName, PricingCurrency "
        "FROM cost",
    )
    assert accounts == [("Billing Account", "Subscription", "Microsoft", "USD")]
    tags = rows(store, "SELECT Tags FROM cost WHERE ResourceName = 'gpu-train-01' LIMIT 1")
    assert json.loads(tags[0][0]) == {"team": "vision", "cost center": "ml-research"}


def test_azure_mca_prices_in_usd_and_bills_in_eur(store: Store) -> None:
    load(store, "azure-mca")
    got = by_description(
        store,
        "BillingCurrency, PricingCurrency, EffectiveCost, PricingCurrencyEffectiveCost, "
        "ListUnitPrice, PricingCurrencyListUnitPrice, ContractedUnitPrice, "
        "PricingCurrencyContractedUnitPrice, ResourceName, CommitmentDiscountStatus",
    )
    nd96 = got["Virtual Machines NDasrA100 v4 Series - ND96asr A100 v4 - EU West"]
    assert nd96 == (
        "EUR",
        "USD",
        D("250.2124"),
        D("271.97"),
        D("25.02124"),
        D("27.197"),
        D("25.02124"),
        D("27.197"),
        "nd96-01",
        None,
    )
    purchase = got["Reserved VM Instance, Standard_NC24ads_A100_v4, EU West, 1 Year"]
    assert purchase[2:4] == (D("0"), D("0"))  # spread over the usage it covers
    covered = rows(
        store,
        "SELECT ChargeCategory, CommitmentDiscountStatus, BilledCost, EffectiveCost, "
        "PricingCurrencyEffectiveCost, ListCost, ContractedCost FROM cost "
        "WHERE CommitmentDiscountId IS NOT NULL AND ChargeCategory = 'Usage' "
        "ORDER BY EffectiveCost",
    )
    assert covered == [
        ("Usage", "Unused", D("0"), D("44.16"), D("48"), D("80.96"), D("73.6")),
        ("Usage", "Used", D("0"), D("220.8"), D("240"), D("404.8"), D("368")),
    ]


def test_azure_focuscost_loads_as_focus_with_microsofts_values(store: Store) -> None:
    done = load(store, "azure-focuscost")
    assert done.files[0].format == "focus"
    got = rows(
        store,
        "SELECT ServiceName, ServiceCategory, ServiceSubcategory, PricingUnit, x_PricingBlockSize "
        "FROM cost ORDER BY BilledCost",
    )
    assert got[0] == (
        "Azure OpenAI Service",
        "AI and Machine Learning",
        "Generative AI",
        "1000 Tokens",
        "1000",
    )


def test_gcp_regions_resource_types_and_invoice_lines(store: Store) -> None:
    load(store, "gcp")
    got = by_description(
        store,
        "ServiceCategory, RegionId, RegionName, ResourceType, ContractedUnitPrice, "
        "ListUnitPrice, PricingCategory, SubAccountType",
    )
    assert got["Nvidia Tesla A100 GPU running in Americas"] == (
        "Compute",
        "us-central1",
        "Iowa",
        "compute.googleapis.com/instances",
        D("2.94"),
        D("2.94"),
        "Committed",
        "Project",
    )
    # A multi-region bucket has no region.
    assert got["Standard Storage US Multi-region"][:4] == (
        "Storage",
        None,
        None,
        "storage.googleapis.com/buckets",
    )
    assert got["Custom model training Nvidia L4 GPU running in Americas"][0] == (
        "AI and Machine Learning"
    )
    assert got["Analysis"][0] == "Databases"
    invoice = rows(
        store,
        "SELECT ChargeCategory, ServiceName, ServiceCategory, PricingQuantity, PricingUnit, "
        "SkuId, SubAccountId, ListCost, ContractedCost FROM cost "
        "WHERE ServiceName = 'Invoice' ORDER BY ChargeCategory",
    )
    assert invoice == [
        ("Adjustment", "Invoice", "Other", None, None, None, None, D("-0.01"), D("-0.01")),
        ("Tax", "Invoice", "Other", None, None, None, None, D("10.77"), D("10.77")),
    ]


def test_the_ingest_report_names_the_services_filed_under_other(tmp_path: Path) -> None:
    db = str(tmp_path / "m.duckdb")
    done = run_cli("--db", db, "ingest", "billing", str(FIXTURES / "azure_ea.csv"))
    assert done.returncode == 0, done.stderr
    assert (
        "2 rows of 2 service(s) not in mlcost's mapping, filed under ServiceCategory Other: "
        "DataCorp Feature Store - Pro plan (1), Microsoft Dev Box (1)"
    ) in " ".join(done.stdout.split())
