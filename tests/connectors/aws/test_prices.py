"""AWS prices: the Price List Query API (a local fake in the API's shape, reached through
botocore's per-service endpoint setting) and the spot price history (moto, and a recorded
answer replayed through the real client), loaded per region, refreshed not duplicated."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from mlcost.connectors.aws import AwsSource

from mlcost.store import Store
from tests.connectors.aws.conftest import build_org, replay
from tests.connectors.aws.fake_pricing import FakePricing, RecordedPages, serve_pricing

REGIONS = ["us-east-1", "eu-west-1"]
EFFECTIVE = datetime(2025, 11, 1)


def _prices(store: Store, where: str = "true") -> list[tuple[Any, ...]]:
    with store.reader() as con:
        return con.execute(
            "SELECT region, coalesce(instance_type, product), unit, price_per_hour, price_type, "  # noqa: S608 - the tests' own text
            "vcpus, memory_gb, gpu_count, gpu_model, current_generation, effective_at "
            f"FROM prices WHERE {where} ORDER BY ALL"
        ).fetchall()


def test_on_demand_prices_of_what_each_region_uses(moto_aws: None, store: Store) -> None:
    org = build_org()
    source = AwsSource(regions=REGIONS, now=org.now)
    store.load(source.batches())
    d = Decimal
    e = EFFECTIVE

    def vm(region: str, t: str, price: str, v: int, mem: float, g: int = 0, m: Any = None):
        return (region, t, "Hours", d(price), "on-demand", v, mem, g, m, True, e)

    def unit(region: str, product: str, unit: str, price: str) -> tuple[Any, ...]:
        return (region, product, unit, d(price), "on-demand", None, None, None, None, None, e)

    # eu-west-1 runs an m5.large: every m5 size (not m5d, not Windows, dedicated or an
    # unused reservation); us-east-1 a g5.xlarge (its model from DescribeInstanceTypes)
    # and a t3.large, a SageMaker endpoint on ml.g4dn.xlarge and a notebook on ml.t3.medium
    expected = [
        vm("eu-west-1", "m5.2xlarge", "0.428", 8, 32.0),
        vm("eu-west-1", "m5.large", "0.107", 2, 8.0),
        vm("eu-west-1", "m5.xlarge", "0.214", 4, 16.0),
        vm("us-east-1", "g5.2xlarge", "1.212", 8, 32.0, 1),
        vm("us-east-1", "g5.4xlarge", "1.624", 16, 64.0, 1),
        vm("us-east-1", "g5.xlarge", "1.006", 4, 16.0, 1, "A10G"),
        # SageMaker: the size of the EC2 type under it
        (*vm("us-east-1", "ml.g4dn.xlarge", "0.7364", 4, 16.0, 1, "T4")[:9], None, e),
        (*vm("us-east-1", "ml.t3.medium", "0.05", 2, 4.0)[:9], None, e),
        vm("us-east-1", "t3.large", "0.0832", 2, 8.0),
        vm("us-east-1", "t3.medium", "0.0416", 2, 4.0),
    ]
    assert _prices(store, "instance_type IS NOT NULL AND price_type = 'on-demand'") == expected
    east = [
        unit("us-east-1", "file_system:efs", "GB-Months", "0.30"),
        unit("us-east-1", "ip_address", "Hours", "0.005"),
        unit("us-east-1", "load_balancer:application", "Hours", "0.0225"),
        unit("us-east-1", "load_balancer:network", "Hours", "0.0225"),
        unit("us-east-1", "nat_gateway", "Hours", "0.045"),
        unit("us-east-1", "nat_gateway_data", "GB", "0.045"),
        unit("us-east-1", "snapshot", "GB-Months", "0.05"),
        unit("us-east-1", "volume:gp2", "GB-Months", "0.10"),
        unit("us-east-1", "volume:gp3", "GB-Months", "0.08"),
        unit("us-east-1", "volume:io1", "GB-Months", "0.125"),
        unit("us-east-1", "volume:io2", "GB-Months", "0.125"),
        unit("us-east-1", "volume:sc1", "GB-Months", "0.015"),
        unit("us-east-1", "volume:st1", "GB-Months", "0.045"),
        unit("us-east-1", "volume:standard", "GB-Months", "0.05"),
        unit("us-east-1", "volume_iops:gp3", "IOPS-Months", "0.005"),
        unit("us-east-1", "volume_iops:io1", "IOPS-Months", "0.065"),
        unit("us-east-1", "volume_iops:io2", "IOPS-Months", "0.065"),  # the first tier
        unit("us-east-1", "volume_throughput:gp3", "MiBps-Months", "0.04"),
    ]
    assert _prices(store, "product IS NOT NULL AND region = 'us-east-1'") == east
    assert _prices(store, "product = 'volume:gp3' AND region = 'eu-west-1'") == [
        unit("eu-west-1", "volume:gp3", "GB-Months", "0.088")
    ]
    assert source.summary.prices == len(_prices(store))
    assert "pricing:GetProducts" in source.summary.actions


def test_previous_generation_families_are_priced_with_their_successor(
    moto_aws: None, store: Store, pricing: tuple[FakePricing, str]
) -> None:
    ec2 = boto3.client("ec2", "us-east-1")
    ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="m4.xlarge")
    store.load(AwsSource(regions=["us-east-1"], lookback_days=1).batches())
    rows = _prices(store, "instance_type LIKE 'm%' AND price_type = 'on-demand'")
    assert [(r[1], r[3], r[9]) for r in rows] == [
        ("m4.4xlarge", Decimal("0.80"), False),
        ("m4.xlarge", Decimal("0.20"), False),
        ("m6i.2xlarge", Decimal("0.384"), True),
        ("m6i.4xlarge", Decimal("0.768"), True),
        ("m6i.large", Decimal("0.096"), True),
        ("m6i.xlarge", Decimal("0.192"), True),
    ]
    queried = {
        f["Value"]
        for request in pricing[0].requests
        for f in request["Filters"]
        if f["Field"] == "instanceType"
    }
    assert queried == {"m4.", "m6i."}


def test_an_overridden_successor_family_is_the_one_priced(
    moto_aws: None, store: Store, pricing: tuple[FakePricing, str]
) -> None:
    """[rules.previous_generation.successors] m4 = "m5": the rule will advise m5, so m5's
    prices are fetched (not the default m6i's), and the rule prices its advice from them."""
    from mlcost.ingest import ingest_aws
    from mlcost.recommendations import analyze_recommendations, list_recommendations

    ec2 = boto3.client("ec2", "us-east-1")
    ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="m4.xlarge")
    rules = {"previous_generation": {"successors": {"m4": "m5"}}}
    ingest_aws(store, regions=["us-east-1"], lookback_days=1, rules=rules)
    queried = {
        f["Value"]
        for request in pricing[0].requests
        for f in request["Filters"]
        if f["Field"] == "instanceType"
    }
    assert queried == {"m4.", "m5."}
    analyze_recommendations(store, rules)
    with store.reader() as con:
        (found,) = list_recommendations(con, rules=["previous_generation"]).to_pylist()
    evidence = json.loads(found["evidence"])
    assert (evidence["suggested_type"], evidence["priced"]) == ("m5.xlarge", True)
    # 730 h × 0.20 (m4.xlarge) × (1 − 0.192 ÷ 0.20): m5.xlarge at 0.192
    assert found["estimated_monthly_savings"] == Decimal("5.84")


def test_spot_prices_from_the_spot_price_history(moto_aws: None, store: Store) -> None:
    org = build_org()
    store.load(AwsSource(regions=REGIONS, now=org.now).batches())
    # moto answers every zone with its one price and time; the spot VM's own type is not
    # asked for (it is on spot already)
    assert _prices(store, "price_type = 'spot'") == [
        ("eu-west-1", "m5.large", "Hours", Decimal("0.00001"), "spot", *[None] * 5,
         datetime(2006, 1, 2, 15, 4, 5)),
        ("us-east-1", "t3.large", "Hours", Decimal("0.00001"), "spot", *[None] * 5,
         datetime(2006, 1, 2, 15, 4, 5)),
    ]  # fmt: skip


def test_spot_price_is_the_highest_zones_latest(moto_aws: None, store: Store) -> None:
    session = boto3.session.Session()
    session.client("ec2", "us-east-1").run_instances(
        ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="g5.xlarge"
    )
    history = [
        ("us-east-1a", "0.4010", datetime(2026, 11, 24, 9, 10)),
        ("us-east-1a", "0.3621", datetime(2026, 11, 24, 6, 0)),  # older: not current
        ("us-east-1b", "0.3877", datetime(2026, 11, 24, 8, 45)),
        ("us-east-1c", "0.4129", datetime(2026, 11, 23, 22, 5)),  # still current in 1c
    ]
    replay(
        session,
        "ec2",
        "DescribeSpotPriceHistory",
        {
            "SpotPriceHistory": [
                {
                    "AvailabilityZone": zone,
                    "InstanceType": "g5.xlarge",
                    "ProductDescription": "Linux/UNIX",
                    "SpotPrice": price,
                    "Timestamp": stamp,
                }
                for zone, price, stamp in history
            ]
        },
    )
    source = AwsSource(regions=["us-east-1"], lookback_days=1, session=session)
    store.load(source.batches())
    assert _prices(store, "price_type = 'spot'") == [
        ("us-east-1", "g5.xlarge", "Hours", Decimal("0.4129"), "spot", *[None] * 5,
         datetime(2026, 11, 23, 22, 5)),
    ]  # fmt: skip


def test_a_reingest_refreshes_prices_and_keeps_other_regions(
    moto_aws: None, store: Store, pricing: tuple[FakePricing, str]
) -> None:
    org = build_org()
    store.load(AwsSource(regions=REGIONS, now=org.now).batches())
    before = len(_prices(store))
    fake = pricing[0]
    for product in fake.products:
        attrs = product["product"]["attributes"]
        if attrs.get("instanceType") == "t3.large" and attrs["regionCode"] == "us-east-1":
            (term,) = product["terms"]["OnDemand"].values()
            (dim,) = term["priceDimensions"].values()
            dim["pricePerUnit"]["USD"] = "0.0800000000"  # a price cut
            term["effectiveDate"] = "2026-01-01T00:00:00Z"
    store.load(AwsSource(regions=["us-east-1"], now=org.now).batches())
    assert len(_prices(store)) == before  # replaced, not added to
    assert _prices(store, "instance_type = 't3.large' AND price_type = 'on-demand'") == [
        ("us-east-1", "t3.large", "Hours", Decimal("0.08"), "on-demand", 2, 8.0, 0, None, True,
         datetime(2026, 1, 1)),
    ]  # fmt: skip
    assert _prices(store, "region = 'eu-west-1' AND instance_type = 'm5.large'")  # kept


def test_without_pricing_permission_the_inventory_loads_and_old_prices_stay(
    moto_aws: None, store: Store, pricing: tuple[FakePricing, str]
) -> None:
    org = build_org()
    store.load(AwsSource(regions=["us-east-1"], now=org.now).batches())
    before = _prices(store)
    pricing[0].error = (
        400,
        {
            "__type": "AccessDeniedException",
            "message": "User is not authorized to perform: pricing:GetProducts",
        },
    )
    source = AwsSource(regions=["us-east-1"], now=org.now)
    store.load(source.batches())
    assert _prices(store) == before
    (warning,) = source.summary.warnings
    assert warning.startswith("no prices for region us-east-1: AWS refused pricing:GetProducts")
    assert warning.endswith("Its earlier prices are kept.")


@pytest.mark.parametrize("flag", [False])
def test_no_prices_skips_them(moto_aws: None, store: Store, flag: bool) -> None:
    org = build_org()
    store.load(AwsSource(regions=REGIONS, now=org.now, prices=flag).batches())
    assert _prices(store) == []


def test_recorded_get_products_pages_through_the_real_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two GetProducts response bodies in the byte shape AWS sends (PriceList items are
    compact JSON strings; the shape of AWS's documented aws-cli example, see
    tests/fixtures/aws_pricing/build.py), served as recorded to the real boto3 client:
    both pages read, the reserved terms ignored, and the 2018-shaped io1 item, which has no
    volumeApiName, priced by its usage type (EBS:VolumeUsage.piops)."""
    from mlcost.connectors.aws import prices
    from mlcost.connectors.aws.api import Account

    recorded = RecordedPages.read("get_products_page1.json", "get_products_page2.json")
    with serve_pricing(recorded) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", url)
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        query = prices.Query("AmazonEC2", (("TERM_MATCH", "regionCode", "us-east-1"),), "test")
        products = list(prices.get_products(Account(session, ""), query))
    assert [r.get("NextToken") for r in recorded.requests] == [
        None,
        "WGDY7ko8fQXdlaUZVdasFQ==:mlcostPage2Token",
    ]
    rows = [prices.price_row("us-east-1", p) for p in products]
    e = EFFECTIVE
    assert [
        (r["instance_type"] or r["product"], r["unit"], r["price_per_hour"], r["effective_at"])
        for r in [{"instance_type": None, "product": None, **row} for row in rows if row]
    ] == [
        ("m5.large", "Hours", Decimal("0.096"), e),
        ("volume:gp3", "GB-Months", Decimal("0.08"), e),
        ("volume_iops:gp3", "IOPS-Months", Decimal("0.005"), e),
        ("volume_throughput:gp3", "MiBps-Months", Decimal("0.04"), e),
        ("volume:io1", "GB-Months", Decimal("0.125"), e),
    ]
    m5 = next(r for r in rows if r and r.get("instance_type") == "m5.large")
    assert (m5["vcpus"], m5["memory_gb"], m5["gpu_count"], m5["current_generation"]) == (
        2,
        8.0,
        0,
        True,
    )
    assert all(r and len(r["sku"]) == 16 for r in rows)
