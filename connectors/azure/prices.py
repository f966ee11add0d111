"""Azure list prices from the public Retail Prices API (no credential): pay-as-you-go
Linux prices of the VM sizes seen, and managed-disk prices (Premium SSD per size tier,
Premium SSD v2 per GiB, IOPS and MB/s provisioned), with each meter's effective date."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from mlcost.connectors._rows import utc_naive
from mlcost.connectors.azure.api import PROVIDER, SOURCE, call, get_json, gpu_model_of

RETAIL_PRICES = "https://prices.azure.com"
#: Premium SSD meters: one price a month per disk of each size tier (``P30 LRS Disk``).
_PREMIUM_TIER = re.compile(r"^(P\d+) LRS Disk$")
#: Premium SSD v2 meters: per GiB, IOPS and MB/s provisioned, each by the hour.
PREMIUM_V2 = {
    "Premium LRS Provisioned Capacity": ("volume:premiumv2_lrs", "GiB-Hours"),
    "Premium LRS Provisioned IOPS": ("volume_iops:premiumv2_lrs", "IOPS-Hours"),
    "Premium LRS Provisioned Throughput (MBps)": ("volume_throughput:premiumv2_lrs", "MBps-Hours"),
}


def _pages(client: Any, region: str, query: str) -> Iterator[dict[str, Any]]:
    """Every item a Retail Prices query returns, following ``NextPageLink``."""
    from azure.core.rest import HttpRequest

    url: str | None = f"{RETAIL_PRICES}/api/retail/prices?$filter={quote(query)}"
    while url:
        page = call("retail prices", f"region {region}", get_json, client, HttpRequest("GET", url))
        yield from page.get("Items") or []
        url = page.get("NextPageLink")


def _row(region: str, item: Mapping[str, Any], **values: Any) -> dict[str, Any]:
    return {
        "provider": PROVIDER,
        "region": region,
        "sku": item.get("skuId") or item.get("meterId"),
        "price_per_hour": Decimal(str(item["retailPrice"])),
        "currency": item.get("currencyCode") or "USD",
        "source": SOURCE,
        "price_type": "on-demand",
        "effective_at": utc_naive(item.get("effectiveStartDate")),
        **values,
    }


def vm_price_rows(
    client: Any, regions: Sequence[str], sizes: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Pay-as-you-go Linux prices per hour of every VM size in ``regions`` (``sizes``:
    each size's vCPUs, memory and GPUs from the resource SKU catalogue)."""
    rows: list[dict[str, Any]] = []
    for region in regions:
        query = (
            "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
            f"and armRegionName eq '{region}'"
        )
        seen: set[str] = set()
        for item in _pages(client, region, query):
            size = item.get("armSkuName")
            if not size or size in seen or not _linux_on_demand(item):
                continue
            seen.add(size)
            spec = sizes.get(size, {})
            gpus = spec.get("gpu_count")
            rows.append(
                _row(
                    region,
                    item,
                    instance_type=size,
                    unit="Hours",
                    vcpus=spec.get("vcpus"),
                    memory_gb=spec.get("memory_gb"),
                    gpu_count=gpus,
                    gpu_model=gpu_model_of(size) if gpus else None,
                )
            )
    return rows


def disk_price_rows(client: Any, regions: Sequence[str]) -> list[dict[str, Any]]:
    """Managed-disk prices of ``regions``: each Premium SSD (LRS) size tier's price a month
    (``volume:premium_lrs:p30``, ``Months``), and Premium SSD v2's prices per GiB, IOPS and
    MB/s provisioned by the hour, where the region offers it."""
    rows: list[dict[str, Any]] = []
    for region in regions:
        query = (
            "serviceName eq 'Storage' and priceType eq 'Consumption' "
            f"and armRegionName eq '{region}' and (productName eq 'Premium SSD Managed Disks' "
            "or productName eq 'Azure Premium SSD v2')"
        )
        seen: set[str] = set()
        for item in _pages(client, region, query):
            meter = str(item.get("meterName") or "")
            tier = _PREMIUM_TIER.match(meter)
            if tier and str(item.get("unitOfMeasure")) == "1/Month":
                product, unit = f"volume:premium_lrs:{tier.group(1).lower()}", "Months"
            elif meter in PREMIUM_V2:
                product, unit = PREMIUM_V2[meter]
            else:  # ZRS, bursting, reservations, snapshots …
                continue
            if product in seen or item.get("retailPrice") is None:
                continue
            seen.add(product)
            rows.append(_row(region, item, product=product, unit=unit))
    return rows


def _linux_on_demand(item: Mapping[str, Any]) -> bool:
    """A pay-as-you-go Linux meter (not Windows, Spot or Low Priority)."""
    text = f"{item.get('productName', '')} {item.get('skuName', '')} {item.get('meterName', '')}"
    return (
        item.get("type") == "Consumption"
        and item.get("retailPrice") is not None
        and "Windows" not in text
        and "Spot" not in text
        and "Low Priority" not in text
    )
