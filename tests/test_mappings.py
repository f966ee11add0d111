"""The packaged service and region tables: FOCUS 1.2 values only, one category per
ServiceName, and every service of the ML stacks we bill covered."""

from __future__ import annotations

import pytest
from mlcost.connectors.files.focus import ENUMS

from mlcost import mappings


def test_every_subcategory_belongs_to_one_focus_category() -> None:
    subs = mappings.subcategories()
    assert set(subs) == set(ENUMS["ServiceCategory"][0])
    every = [s for values in subs.values() for s in values]
    assert len(every) == len(set(every)) == 82
    assert subs["Other"] == ("Other (Other)",)
    assert "Data Warehouses" in subs["Databases"]


def test_each_service_name_has_exactly_one_category_and_a_valid_subcategory() -> None:
    subs = mappings.subcategories()
    seen: dict[tuple[str, str], str] = {}
    for row in mappings.services():
        assert row.subcategory in subs[row.category], row
        assert seen.setdefault((row.provider, row.service_name), row.category) == row.category
        # Other is the fallback for unknown services; only lines that are no service
        # (GCP's invoice-level tax and rounding) are filed there on purpose.
        assert row.category != "Other" or (row.provider, row.key) == ("gcp", "Invoice"), row


def test_azure_and_gcp_services_are_keyed_by_their_service_name() -> None:
    for row in mappings.services():
        if row.provider != "aws":
            assert row.key == row.service_name, row


@pytest.mark.parametrize(
    ("provider", "service", "expected"),
    [
        ("aws", "AmazonSageMaker", ("AI and Machine Learning", "Machine Learning")),
        ("aws", "Amazon SageMaker", ("AI and Machine Learning", "Machine Learning")),
        ("aws", "AmazonBedrock", ("AI and Machine Learning", "Generative AI")),
        ("aws", "AmazonEC2", ("Compute", "Virtual Machines")),
        ("aws", "AmazonS3", ("Storage", "Object Storage")),
        ("aws", "AmazonEFS", ("Storage", "File Storage")),
        ("aws", "AmazonFSx", ("Storage", "File Storage")),
        ("aws", "AmazonVPC", ("Networking", "Network Infrastructure")),
        ("aws", "AWSDataTransfer", ("Networking", "Network Connectivity")),
        ("aws", "AmazonCloudWatch", ("Management and Governance", "Observability")),
        ("azure", "Virtual Machines", ("Compute", "Virtual Machines")),
        ("azure", "Azure Machine Learning", ("AI and Machine Learning", "Machine Learning")),
        ("azure", "Azure OpenAI", ("AI and Machine Learning", "Generative AI")),
        ("azure", "Cognitive Services", ("AI and Machine Learning", "AI Platforms")),
        ("azure", "Storage", ("Storage", "Storage Platforms")),
        ("azure", "Virtual Network", ("Networking", "Network Infrastructure")),
        ("azure", "Bandwidth", ("Networking", "Network Connectivity")),
        ("gcp", "Compute Engine", ("Compute", "Virtual Machines")),
        ("gcp", "Vertex AI", ("AI and Machine Learning", "Machine Learning")),
        ("gcp", "Cloud Storage", ("Storage", "Object Storage")),
        ("gcp", "BigQuery", ("Databases", "Data Warehouses")),
        ("gcp", "Networking", ("Networking", "Network Connectivity")),
        ("gcp", "Cloud Logging", ("Management and Governance", "Observability")),
        ("Microsoft", "Storage Accounts", ("Storage", "Storage Platforms")),
        ("Google Cloud", "Filestore", ("Storage", "File Storage")),
        ("aws", "AWSMarketplaceThing", mappings.OTHER),
        ("gcp", None, mappings.OTHER),
    ],
)
def test_the_ml_stack_storage_and_networking_are_covered(
    provider: str, service: str | None, expected: tuple[str, str]
) -> None:
    assert mappings.service_category(provider, service) == expected


def test_region_names_follow_each_providers_own_naming() -> None:
    assert mappings.region_name("aws", "us-east-1") == "US East (N. Virginia)"
    assert mappings.region_name("aws", "eu-west-1") == "Europe (Ireland)"
    assert mappings.region_name("azure", "East US") == "East US"
    assert mappings.region_name("azure", "eastus2") == "East US 2"
    # Older EA exports write the meter region's name.
    assert mappings.region_name("azure", "US East") == "East US"
    assert mappings.region_name("azure", "EU West") == "West Europe"
    assert mappings.region_name("azure", "Unassigned") is None
    assert mappings.region_name("gcp", "us-central1") == "Iowa"
    assert mappings.region_name("gcp", "europe-west4") == "Netherlands"
    assert mappings.region_name("gcp", "mars-north1") is None


def test_query_parameters_are_parallel_lists_with_unique_keys() -> None:
    for provider in mappings.PROVIDERS:
        keys, names, cats, subs = mappings.service_params(provider)
        assert len(keys) == len(set(keys)) == len(names) == len(cats) == len(subs)
        by_name = mappings.service_name_params(provider)
        assert len(by_name[0]) == len(set(by_name[0]))
        regions = mappings.region_params(provider)
        assert len(regions[0]) == len(set(regions[0])) == len(regions[1]) == len(regions[2])


def test_every_sample_organisation_service_is_mapped_to_its_category() -> None:
    from pathlib import Path

    import duckdb

    cost = Path(__file__).resolve().parents[1] / "sample_data" / "cost.parquet"
    got = duckdb.sql(
        "SELECT DISTINCT ProviderName, ServiceName, ServiceCategory, ServiceSubcategory "
        "FROM read_parquet($path)",
        params={"path": str(cost)},
    ).fetchall()
    for provider, service, category, subcategory in got:
        # The sample's tax lines are a ServiceName of their own, which no provider bills
        # under: they are filed under Other, as an unknown service would be.
        known = mappings.service(provider, service) is not None
        assert known or (service, (category, subcategory)) == ("Tax", mappings.OTHER)
        assert mappings.service_category(provider, service) == (category, subcategory)
