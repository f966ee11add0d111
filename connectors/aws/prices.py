"""AWS list prices: the Price List Query API (``pricing:GetProducts``, its us-east-1
endpoint) for on-demand prices, and ``ec2:DescribeSpotPriceHistory`` for spot prices.

Only what the inventory needs is asked for, region by region: the instance families seen
(every size, so rightsizing has somewhere to go) and the current families that replace
old ones, the SageMaker instance types seen, and one query each for EBS volumes and
snapshots, public IPv4 addresses, NAT gateways, load balancers and EFS. Each price keeps
the date AWS gives it (the on-demand term's ``effectiveDate``, the spot price's
``Timestamp``) and its SKU.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from mlcost.connectors.aws.api import Account

SOURCE = "aws"
PROVIDER = "aws"
#: The Price List Query API answers in us-east-1 (also ap-south-1 and eu-central-1).
PRICING_REGION = "us-east-1"
#: The price list's units as the store writes them (FOCUS-style PricingUnit).
UNITS = {
    "Hrs": "Hours",
    "GB-Mo": "GB-Months",
    "IOPS-Mo": "IOPS-Months",
    "MiBps-Mo": "MiBps-Months",
    "GiBps-mo": "GiBps-Months",
    "GB": "GB",
}


@dataclass(frozen=True)
class Query:
    """One GetProducts query, and how a product it returns becomes a price row."""

    service: str
    filters: tuple[tuple[str, str, str], ...]  # (type, field, value)
    what: str  # for messages: "m5 instances", "EBS storage" …


def _term(field: str, value: str) -> tuple[str, str, str]:
    return ("TERM_MATCH", field, value)


def instance_queries(region: str, families: Iterable[str]) -> list[Query]:
    """Linux, shared-tenancy, on-demand prices of every size of each EC2 family."""
    base = (
        _term("regionCode", region),
        _term("operatingSystem", "Linux"),
        _term("tenancy", "Shared"),
        _term("preInstalledSw", "NA"),
        _term("capacitystatus", "Used"),
    )
    return [
        Query("AmazonEC2", (*base, ("CONTAINS", "instanceType", f"{family}.")), f"{family}")
        for family in sorted(set(families))
    ]


def sagemaker_query(region: str, instance_types: Iterable[str]) -> Query | None:
    names = sorted(set(instance_types))
    if not names:
        return None
    return Query(
        "AmazonSageMaker",
        (
            _term("regionCode", region),
            ("ANY_OF", "instanceName", ",".join(names)),
            ("ANY_OF", "component", "Hosting,Notebook"),
        ),
        "SageMaker instances",
    )


def storage_and_network_queries(region: str) -> list[Query]:
    here = _term("regionCode", region)
    return [
        Query(
            "AmazonEC2",
            (
                here,
                (
                    "ANY_OF",
                    "productFamily",
                    "Storage,Storage Snapshot,System Operation,Provisioned Throughput,NAT Gateway",
                ),
            ),
            "EBS and NAT gateways",
        ),
        Query("AmazonVPC", (here, _term("group", "VPCPublicIPv4Address")), "public IPv4"),
        Query(
            "AWSELB",
            (here, ("ANY_OF", "productFamily", "Load Balancer-Application,Load Balancer-Network")),
            "load balancers",
        ),
        Query("AmazonEFS", (here, _term("storageClass", "General Purpose")), "EFS"),
    ]


def get_products(account: Account, query: Query) -> Iterator[dict[str, Any]]:
    """Every product a query matches, parsed (PriceList items are JSON text)."""
    filters = [{"Type": t, "Field": f, "Value": v} for t, f, v in query.filters]
    for item in account.pages(
        "pricing",
        PRICING_REGION,
        "get_products",
        "PriceList",
        ServiceCode=query.service,
        Filters=filters,
        FormatVersion="aws_v1",
    ):
        yield json.loads(item) if isinstance(item, str) else dict(item)


def price_row(region: str, product: Mapping[str, Any]) -> dict[str, Any] | None:
    """The store's ``prices`` row for one price-list product, or None for what the rules
    do not use (another operating system, a data-processing charge we do not model …)."""
    info = product.get("product") or {}
    attrs: Mapping[str, str] = info.get("attributes") or {}
    on_demand = ((product.get("terms") or {}).get("OnDemand") or {}).values()
    term = next(iter(on_demand), None)
    if term is None:
        return None
    dims = sorted(
        (term.get("priceDimensions") or {}).values(),
        key=lambda d: Decimal(str(d.get("beginRange") or 0)),
    )
    if not dims:
        return None
    dim = dims[0]  # the first tier (EBS io2 IOPS are tiered)
    price = Decimal(str((dim.get("pricePerUnit") or {}).get("USD", "")) or "NaN")
    if price.is_nan():
        return None
    row: dict[str, Any] = {
        "provider": PROVIDER,
        "region": region,
        "sku": info.get("sku"),
        "unit": UNITS.get(str(dim.get("unit")), str(dim.get("unit"))),
        "price_per_hour": price,
        "currency": "USD",
        "source": SOURCE,
        "price_type": "on-demand",
        "effective_at": _time(term.get("effectiveDate")),
    }
    usage = str(attrs.get("usagetype", ""))
    family = str(info.get("productFamily") or attrs.get("productFamily") or "")
    if family == "Compute Instance":
        if attrs.get("operation", "RunInstances") != "RunInstances" or row["unit"] != "Hours":
            return None
        gpus = _int(attrs.get("gpu"))
        return {
            **row,
            "instance_type": attrs.get("instanceType"),
            "vcpus": _int(attrs.get("vcpu")),
            "memory_gb": _gib(attrs.get("memory")),
            "gpu_count": gpus or 0,
            "current_generation": attrs.get("currentGeneration", "Yes") == "Yes",
        }
    if attrs.get("instanceName", "").startswith("ml."):
        return {**row, "instance_type": attrs["instanceName"]} if row["unit"] == "Hours" else None
    product_key = _product_key(family, usage, attrs)
    return {**row, "product": product_key} if product_key else None


#: EBS usage-type suffixes → the volume type's API name (io1's is ``piops``; magnetic
#: volumes have none), for price-list items without ``volumeApiName`` (older ones).
_EBS_USAGE = {"": "standard", "piops": "io1"}


def _volume_api_name(usage: str, attrs: Mapping[str, str]) -> str:
    if attrs.get("volumeApiName"):
        return str(attrs["volumeApiName"])
    match = re.search(r"EBS:Volume(?:Usage|P-IOPS|P-Throughput)(?:\.(\w+))?$", usage)
    if match is None:
        return ""
    suffix = match.group(1) or ""
    return _EBS_USAGE.get(suffix, suffix)


def _product_key(family: str, usage: str, attrs: Mapping[str, str]) -> str | None:
    """Our name for a non-instance product (``volume:gp3``, ``snapshot`` …)."""
    volume = _volume_api_name(usage, attrs)
    if family == "Storage" and "EBS:VolumeUsage" in usage and volume:
        return f"volume:{volume}"
    if family == "Storage Snapshot" and usage.endswith("EBS:SnapshotUsage"):
        return "snapshot"
    if family == "System Operation" and "EBS:VolumeP-IOPS" in usage and volume:
        return f"volume_iops:{volume}"
    if family == "Provisioned Throughput" and "EBS:VolumeP-Throughput" in usage and volume:
        return f"volume_throughput:{volume}"
    if family == "NAT Gateway" and usage.endswith("NatGateway-Hours"):
        return "nat_gateway"
    if family == "NAT Gateway" and usage.endswith("NatGateway-Bytes"):
        return "nat_gateway_data"
    if usage.endswith("PublicIPv4:IdleAddress"):
        return "ip_address"
    if family.startswith("Load Balancer-") and usage.endswith("LoadBalancerUsage"):
        return "load_balancer:" + family.removeprefix("Load Balancer-").lower()
    if attrs.get("servicecode") == "AmazonEFS" and usage.endswith("TimedStorage-ByteHrs"):
        return "file_system:efs"
    return None


def region_prices(
    home: Account,
    account: Account,
    region: str,
    rows: Sequence[Mapping[str, Any]],
    now: datetime,
    successors: Mapping[str, str],
) -> list[dict[str, Any]]:
    """On-demand prices (asked of the Price List API as ``home``) and spot prices (of
    ``account``) for what a region's inventory ``rows`` use: the instance families seen and
    the current families ``successors`` names for them, the SageMaker types, storage and
    networking."""
    ec2_types = {r["instance_type"] for r in rows if r["resource_type"] == "vm"}
    ml_types = {
        r["instance_type"]
        for r in rows
        if r["resource_type"] in ("endpoint", "notebook")
        and str(r.get("instance_type") or "").startswith("ml.")
    }
    families = {t.split(".", 1)[0] for t in ec2_types if t}
    families |= {successors[f] for f in families if f in successors}
    queries = instance_queries(region, families)
    queries += [q for q in [sagemaker_query(region, ml_types)] if q is not None]
    queries += storage_and_network_queries(region)
    # the price list names no GPU model, and no size for SageMaker types;
    # DescribeInstanceTypes did, for the types seen
    specs = {r["instance_type"]: r for r in rows if r.get("instance_type") and r.get("vcpus")}
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for query in queries:
        for product in get_products(home, query):
            row = price_row(region, product)
            if row is None:
                continue
            spec = specs.get(row.get("instance_type"))
            for column in ("vcpus", "memory_gb", "gpu_count", "gpu_model"):
                if spec and row.get(column) is None:
                    row[column] = spec.get(column)
            key = (row.get("instance_type"), row.get("product"), row.get("sku"))
            found[key] = row
    on_demand = [found[k] for k in sorted(found, key=lambda k: tuple(map(str, k)))]
    spot_types = sorted(
        {
            r["instance_type"]
            for r in rows
            if r["resource_type"] == "vm" and r.get("lifecycle") != "spot"
        }
    )
    return on_demand + spot_rows(account, region, spot_types, now)


def spot_rows(
    account: Account, region: str, instance_types: Sequence[str], now: datetime
) -> list[dict[str, Any]]:
    """The spot price of each type now: the latest price of each zone, and of the zones
    the highest (so a saving estimated from it is the smallest a zone offers)."""
    if not instance_types:
        return []
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for item in account.pages(
        "ec2",
        region,
        "describe_spot_price_history",
        "SpotPriceHistory",
        InstanceTypes=sorted(set(instance_types)),
        ProductDescriptions=["Linux/UNIX", "Linux/UNIX (Amazon VPC)"],
        StartTime=now - timedelta(hours=1),
        EndTime=now,
    ):
        key = (str(item["InstanceType"]), str(item.get("AvailabilityZone")))
        stamp = item.get("Timestamp")
        if key not in latest or (stamp and stamp > latest[key]["Timestamp"]):
            latest[key] = item
    best: dict[str, dict[str, Any]] = {}
    for (itype, _zone), item in sorted(latest.items()):
        price = Decimal(str(item["SpotPrice"]))
        if itype not in best or price > best[itype]["price_per_hour"]:
            best[itype] = {
                "provider": PROVIDER,
                "region": region,
                "instance_type": itype,
                "unit": "Hours",
                "price_per_hour": price,
                "currency": "USD",
                "source": SOURCE,
                "price_type": "spot",
                "effective_at": _time(item.get("Timestamp")),
            }
    return [best[t] for t in sorted(best)]


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _int(text: Any) -> int | None:
    match = re.match(r"\s*(\d+)", str(text or ""))
    return int(match.group(1)) if match else None


def _gib(text: Any) -> float | None:
    """``"16 GiB"`` → 16.0; ``"0.5 GiB"`` → 0.5."""
    match = re.match(r"\s*([\d.,]+)\s*GiB", str(text or ""))
    return float(match.group(1).replace(",", "")) if match else None
