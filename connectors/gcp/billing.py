"""Cloud Billing through google-cloud-billing: the Compute Engine SKU prices of the Cloud
Billing Catalog (CloudCatalogClient) and the projects a billing account pays for
(CloudBillingClient)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from mlcost.connectors._rows import utc_naive
from mlcost.connectors.gcp.api import GLOBAL, PROVIDER, SOURCE, call

from mlcost.errors import ConfigError


def billing_account_projects(client: Any, account: str, retry: Any) -> list[str]:
    """The projects a billing account pays for (billing enabled), from the Cloud Billing
    API (``client``: a CloudBillingClient)."""
    name = account if account.startswith("billingAccounts/") else f"billingAccounts/{account}"
    found = call(
        "billingAccounts.projects.list",
        f"billing account {name.removeprefix('billingAccounts/')}",
        lambda: [
            p.project_id
            for p in client.list_project_billing_info(name=name, retry=retry)
            if p.billing_enabled
        ],
    )
    if not found:
        raise ConfigError(
            f"Billing account {name.removeprefix('billingAccounts/')} pays for no project "
            "the credential can see.",
            "Check the id, or grant roles/billing.viewer on the billing account.",
        )
    return sorted(found)


def catalog_price_rows(
    client: Any,
    retry: Any,
    machine_specs: Mapping[tuple[str, str], Mapping[str, Any]],
    storage_regions: set[str],
) -> list[dict[str, Any]]:
    """On-demand prices from the Cloud Billing Catalog's Compute Engine SKUs
    (``client``: a CloudCatalogClient): per hour for each machine type seen (its vCPUs ×
    the family's core rate + its memory × the RAM rate, + its GPUs × the GPU rate), and
    per unit for disks by type, snapshots, images and unused static addresses in the
    regions that hold them."""
    skus = call(
        "cloudbilling services.skus.list",
        "the Compute Engine catalog",
        lambda: list(
            client.list_skus(
                request={"parent": f"services/{COMPUTE_SERVICE}", "currency_code": "USD"},
                retry=retry,
            )
        ),
    )
    rates = _on_demand_rates(skus)
    rows = []
    for (region, mtype), spec in sorted(machine_specs.items()):
        priced = _machine_price(rates, region, mtype, spec)
        if priced is None:
            continue
        price, effective = priced
        built_in = mtype.split("-", 1)[0] in GPU_FAMILIES
        rows.append(
            {
                "provider": PROVIDER,
                "region": region,
                "instance_type": mtype,
                "unit": "Hours",
                "price_per_hour": price,
                "currency": "USD",
                "source": SOURCE,
                "vcpus": spec.get("vcpus"),
                "memory_gb": spec.get("memory_gb"),
                "gpu_count": spec.get("gpu_count") if built_in else 0,
                "gpu_model": spec.get("gpu_model") if built_in else None,
                "price_type": "on-demand",
                "effective_at": effective,
            }
        )
    regions = storage_regions | {region for region, _ in machine_specs}
    return rows + _unit_price_rows(rates, sorted(regions))


#: The Cloud Billing Catalog's service id of Compute Engine.
COMPUTE_SERVICE = "6F81-5844-456A"
#: Families whose machine types include their GPUs.
GPU_FAMILIES = ("a2", "a3", "g2")
#: Machine family (the first part of a machine type) → how its SKUs begin.
SKU_FAMILIES = {
    "n1": "N1 Predefined Instance",
    "n2": "N2 Instance",
    "n2d": "N2D AMD Instance",
    "e2": "E2 Instance",
    "c2": "Compute optimized",
    "c2d": "C2D AMD Instance",
    "c3": "C3 Instance",
    "a2": "A2 Instance",
    "a3": "A3 Instance",
    "g2": "G2 Instance",
}


#: Unit prices of what is not a machine: (product, how its SKU description begins, the
#: store's unit). Snapshots and images are global in the inventory: priced at the lowest
#: price of the regions scanned.
UNIT_SKUS: tuple[tuple[str, str, str], ...] = (
    ("volume:pd-standard", "Storage PD Capacity", "GB-Months"),
    ("volume:pd-balanced", "Balanced PD Capacity", "GB-Months"),
    ("volume:pd-ssd", "SSD backed PD Capacity", "GB-Months"),
    ("volume:pd-extreme", "Extreme PD Capacity", "GB-Months"),
    ("snapshot", "Storage PD Snapshot", "GB-Months"),
    ("image", "Storage Image", "GB-Months"),
    ("ip_address", "Static Ip Charge", "Hours"),
)


@dataclass(frozen=True)
class _Rate:
    """One on-demand SKU rate: USD per usage unit, its SKU id and effective time."""

    price: Decimal
    sku: str
    effective_at: datetime | None


def _on_demand_rates(skus: Sequence[Any]) -> dict[tuple[str, str], _Rate]:
    """(region, SKU description) → its on-demand USD rate per unit (the last tier)."""
    rates: dict[tuple[str, str], _Rate] = {}
    for sku in skus:
        if sku.category.usage_type != "OnDemand" or not sku.pricing_info:
            continue
        info = sku.pricing_info[0]
        tiers = info.pricing_expression.tiered_rates
        if not tiers:
            continue
        price = tiers[-1].unit_price
        rate = Decimal(int(price.units or 0)) + Decimal(int(price.nanos or 0)) / Decimal(10) ** 9
        effective = utc_naive(info.effective_time) if info.effective_time else None
        for region in sku.service_regions:
            rates[(region, str(sku.description))] = _Rate(rate, str(sku.sku_id), effective)
    return rates


def _find(rates: Mapping[tuple[str, str], _Rate], region: str, start: str) -> _Rate | None:
    for (r, description), rate in rates.items():
        if r == region and description.startswith(start):
            return rate
    return None


def _machine_price(
    rates: Mapping[tuple[str, str], _Rate], region: str, mtype: str, spec: Mapping[str, Any]
) -> tuple[Decimal, datetime | None] | None:
    """A machine type's price per hour and the latest effective time of its SKUs."""
    prefix = SKU_FAMILIES.get(mtype.split("-", 1)[0])
    if prefix is None:
        return None
    core, ram = _find(rates, region, f"{prefix} Core"), _find(rates, region, f"{prefix} Ram")
    if core is None or ram is None:
        return None
    price = core.price * int(spec.get("vcpus") or 0) + ram.price * Decimal(
        str(spec.get("memory_gb") or 0)
    )
    used = [core, ram]
    # GPUs are part of the accelerator-optimised types (A2, A3, G2); on N1 they are
    # attached per instance and priced apart from the machine type
    gpus = int(spec.get("gpu_count") or 0) if mtype.split("-", 1)[0] in GPU_FAMILIES else 0
    if gpus:
        model = str(spec.get("gpu_model") or "")
        gpu = next(
            (
                v
                for (r, d), v in rates.items()
                if r == region and " GPU " in f" {d} " and re.search(rf"\b{re.escape(model)}\b", d)
            ),
            None,
        )
        if gpu is None:
            return None
        price += gpu.price * gpus
        used.append(gpu)
    times = [r.effective_at for r in used if r.effective_at is not None]
    return price, max(times) if times else None


def _unit_price_rows(
    rates: Mapping[tuple[str, str], _Rate], regions: Sequence[str]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for product, start, unit in UNIT_SKUS:
        found = [(region, _find(rates, region, start)) for region in regions]
        priced = [(region, rate) for region, rate in found if rate is not None]
        if product in ("snapshot", "image") and priced:
            priced = [(GLOBAL, min(priced, key=lambda p: p[1].price)[1])]
        for region, rate in priced:
            rows.append(
                {
                    "provider": PROVIDER,
                    "region": region,
                    "product": product,
                    "sku": rate.sku,
                    "unit": unit,
                    "price_per_hour": rate.price,
                    "currency": "USD",
                    "source": SOURCE,
                    "price_type": "on-demand",
                    "effective_at": rate.effective_at,
                }
            )
    return rows
