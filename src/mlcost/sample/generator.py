"""Turn the sample organisation (:mod:`mlcost.sample.org`) into Arrow tables.

* ``cost``: a FOCUS 1.2 export (exactly :data:`mlcost.schema.FOCUS_COLUMNS`), one row per
  resource per day, plus commitment purchase / used / unused rows, tax and a credit.
  Money is built from :class:`~decimal.Decimal` values: every figure is exact.
* ``resources``, ``metrics``, ``runs``, ``prices``: exactly ``arrow_schema(name)``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from mlcost import mappings
from mlcost.sample.catalog import (
    ACCOUNTS,
    DAYS,
    INSTANCE_TYPES,
    OBSERVED_AT,
    PROVIDER_NAMES,
    REGION_NAMES,
    SPOT_PRICES,
    STORAGE_PRICES,
    VERTEX_PREDICTION,
    VERTEX_TRAINING_A2_8G,
    VERTEX_WORKBENCH,
    WINDOW_START,
    Account,
    aws_sku,
    day,
    days_in_month,
    digest,
    gcp_sku,
    guid,
    month_start,
    next_month,
)
from mlcost.sample.declarations import read_csv
from mlcost.sample.metrics import metrics_table
from mlcost.sample.model import SOURCE
from mlcost.sample.org import WEEKEND, Commitment, Org, Res, build_org
from mlcost.schema import FOCUS_COLUMNS, arrow_schema, arrow_type

TABLE_NAMES = ("cost", "resources", "metrics", "runs", "prices")
_Q6 = Decimal("0.000001")
_CENT = Decimal("0.01")


def cost_schema() -> pa.Schema:
    """The FOCUS export's schema: the FOCUS columns, in order, with the store's types."""
    return pa.schema([pa.field(c, arrow_type(t)) for c, t in FOCUS_COLUMNS.items()])


def table_schema(name: str) -> pa.Schema:
    return cost_schema() if name == "cost" else arrow_schema(name)


def dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(", ", ": "))


@dataclass(frozen=True)
class SampleData:
    """The generated sample: five Arrow tables and the answer key."""

    tables: dict[str, pa.Table]
    answer_key: dict[str, Any]


# ------------------------------------------------------------------------------------
# cost
# ------------------------------------------------------------------------------------

#: (ServiceName, FOCUS ResourceType) per kind of resource. Services are named as each
#: provider's own export names them: AWS bills EBS volumes and snapshots under Amazon EC2's
#: product (``AmazonEC2``) and public IPv4 addresses (Elastic IPs) under Amazon VPC's
#: (since February 2024); Azure names the meter category (``Storage`` for managed disks,
#: snapshots and images); GCP names the service (``Compute Engine`` for VMs, persistent
#: disks, snapshots, images and static addresses). ServiceCategory and ServiceSubcategory
#: come from :mod:`mlcost.mappings` (:func:`service_categories`), so that each
#: ServiceName has exactly one of each, the same the converters give it. The table is
#: ``data/services.csv``.
SERVICES: dict[tuple[str, str], tuple[str, str]] = {
    (row["provider"], row["kind"]): (row["service_name"], row["resource_type"])
    for row in read_csv("services.csv", ("provider", "kind", "service_name", "resource_type"))
}


def service_categories(provider: str, service: str) -> tuple[str, str]:
    """(ServiceCategory, ServiceSubcategory) of a sample ServiceName, from the packaged
    provider mapping (an unknown service, such as ``Tax``, is ``Other``)."""
    return mappings.service_category(provider, service)


_OD_TERM = {"aws": "JRTCKXETXF", "azure": "Consumption", "gcp": "OnDemand"}


def sku_id(provider: str, *parts: str) -> str:
    if provider == "aws":
        return aws_sku(*parts)
    if provider == "azure":
        return guid("meter", *parts)
    return gcp_sku(*parts)


def invoice_id(provider: str, month: datetime) -> str:
    n = int(digest("invoice", provider, f"{month:%Y%m}")[:12], 16)
    if provider == "aws":
        return str(n % 10**10).zfill(10)
    if provider == "azure":
        return "G" + str(n % 10**9).zfill(9)
    return "5" + str(n % 10**9).zfill(9)


def unit_price(r: Res) -> tuple[Decimal, str, str]:
    """(on-demand list price, PricingUnit, SKU key) for one unit of a resource."""
    if r.price_key is not None:
        price, unit = STORAGE_PRICES[r.price_key]
        return price, unit, r.price_key
    assert r.instance_type is not None
    it = r.instance_type
    if r.provider == "gcp" and r.kind == "endpoint":
        return VERTEX_PREDICTION[it], "Hours", f"vertex-prediction:{it}"
    if r.provider == "gcp" and r.kind == "notebook":
        return VERTEX_WORKBENCH[it], "Hours", f"vertex-workbench:{it}"
    if r.provider == "gcp" and r.kind == "job":
        return VERTEX_TRAINING_A2_8G, "Hours", f"vertex-training:{it}"
    return INSTANCE_TYPES[it].price, "Hours", it


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x))).normalize() if x != int(x) else Decimal(int(x))


class _CostBuilder:
    def __init__(self, org: Org) -> None:
        self.org = org
        self.rows: list[dict[str, Any]] = []
        self.columns = list(FOCUS_COLUMNS)

    def base(
        self,
        acct: Account,
        region: str | None,
        start: datetime,
        end: datetime,
        tags: dict[str, str],
    ) -> dict[str, Any]:
        row: dict[str, Any] = dict.fromkeys(self.columns)
        bp = month_start(start)
        provider = PROVIDER_NAMES[acct.provider]
        row.update(
            BillingAccountId=acct.billing_account_id,
            BillingAccountName=acct.billing_account_name,
            BillingAccountType=acct.billing_account_type,
            BillingCurrency="USD",
            BillingPeriodStart=bp,
            BillingPeriodEnd=next_month(bp),
            ChargePeriodStart=start,
            ChargePeriodEnd=end,
            InvoiceId=invoice_id(acct.provider, bp),
            InvoiceIssuerName=provider,
            ProviderName=provider,
            PublisherName=provider,
            PricingCurrency="USD",
            RegionId=region,
            RegionName=REGION_NAMES.get(region) if region else None,
            SubAccountId=acct.sub_id,
            SubAccountName=acct.sub_name,
            SubAccountType=acct.sub_type,
            Tags=dumps(tags),
        )
        return row

    @staticmethod
    def prices(
        row: dict[str, Any],
        qty: Decimal,
        unit: str,
        list_price: Decimal | None,
        contracted_price: Decimal | None,
        billed: Decimal,
        effective: Decimal,
        list_cost: Decimal,
        contracted_cost: Decimal,
        consumed: bool = True,
    ) -> None:
        row.update(
            PricingQuantity=qty,
            PricingUnit=unit,
            ConsumedQuantity=qty if consumed else None,
            ConsumedUnit=unit if consumed else None,
            ListUnitPrice=list_price,
            PricingCurrencyListUnitPrice=list_price,
            ContractedUnitPrice=contracted_price,
            PricingCurrencyContractedUnitPrice=contracted_price,
            ListCost=list_cost,
            ContractedCost=contracted_cost,
            BilledCost=billed,
            EffectiveCost=effective,
            PricingCurrencyEffectiveCost=effective,
        )

    def resource_row(
        self, r: Res, d: int, qty: Decimal, unit: str, list_price: Decimal, sku_key: str
    ) -> dict[str, Any]:
        acct = ACCOUNTS[r.account]
        start = day(d)
        row = self.base(acct, r.region, start, start + timedelta(days=1), r.tags)
        service, rtype = SERVICES[(r.provider, r.kind)]
        category, sub = service_categories(r.provider, service)
        sku = sku_id(r.provider, sku_key, r.region)
        it = INSTANCE_TYPES.get(r.instance_type or "")
        details: dict[str, Any] | None = None
        if it is not None:
            details = {
                "InstanceType": it.name,
                "CoreCount": it.vcpus,
                "MemorySize": it.memory_gb,
                "GpuCount": it.gpu_count,
            }
        row.update(
            AvailabilityZone=r.zone if r.provider != "azure" else None,
            ChargeCategory="Usage",
            ChargeFrequency="Usage-Based",
            ResourceId=r.rid,
            ResourceName=r.name,
            ResourceType=rtype,
            ServiceName=service,
            ServiceCategory=category,
            ServiceSubcategory=sub,
            SkuId=sku,
            SkuMeter=_meter(r, unit),
            SkuPriceDetails=dumps(details) if details else None,
        )
        return row

    def usage(
        self,
        r: Res,
        d: int,
        *,
        covered_by: Commitment | None = None,
        covered_qty: Decimal | None = None,
    ) -> None:
        """Rows for resource ``r`` on day ``d``: on-demand / spot, or the covered part of a
        commitment plus any on-demand remainder."""
        price, unit, sku_key = unit_price(r)
        if r.price_key is not None and unit == "GB-Months":
            size = r.sizes[d] if r.sizes is not None else r.size_gb
            assert size is not None
            qty = (_dec(size) / days_in_month(day(d))).quantize(_Q6)
        elif unit == "Hours" and r.kind == "ip_address":
            qty = _dec(r.hours[d])
        else:
            qty = _dec(r.hours[d]) * r.count
        if qty <= 0:
            return
        od_qty = qty
        if covered_by is not None and covered_qty:
            c = covered_by
            row = self.resource_row(r, d, covered_qty, unit, price, sku_key)
            rate = c.plan_rates[r.instance_type or ""] if c.category == "Spend" else c.rate
            eff = rate * covered_qty
            self.prices(
                row, covered_qty, unit, price, rate, Decimal(0), eff, price * covered_qty, eff
            )
            row.update(
                PricingCategory="Committed",
                CommitmentDiscountStatus="Used",
                CommitmentDiscountCategory=c.category,
                CommitmentDiscountId=c.cid,
                CommitmentDiscountName=c.name,
                CommitmentDiscountType=c.ctype,
                CommitmentDiscountUnit=c.unit,
                CommitmentDiscountQuantity=eff if c.category == "Spend" else covered_qty,
                SkuPriceId=f"{row['SkuId']}.{digest('term', c.cid)[:10].upper()}",
                ChargeDescription=f"{r.instance_type} usage covered by {c.ctype} {c.name}",
            )
            self.rows.append(row)
            od_qty = qty - covered_qty
            if od_qty <= 0:
                return
        row = self.resource_row(r, d, od_qty, unit, price, sku_key)
        spot = r.lifecycle == "spot"
        paid = SPOT_PRICES[r.instance_type or ""] if spot else price
        cost = paid * od_qty
        self.prices(row, od_qty, unit, price, paid, cost, cost, price * od_qty, cost)
        row.update(
            PricingCategory="Dynamic" if spot else "Standard",
            SkuPriceId=f"{row['SkuId']}.{'SPOT' if spot else _OD_TERM[r.provider]}",
            ChargeDescription=_description(r, paid, unit, spot),
        )
        self.rows.append(row)

    def commitment_rows(self, c: Commitment, d: int, used: Decimal) -> None:
        """A commitment's rows for day ``d``: the upfront payment (One-Time Purchase) on the
        day its term starts, the daily recurring fee (Recurring Purchase) unless it was all
        paid upfront, and the Unused row for what was not used. ``used`` is hours (Usage)
        or USD at plan rates (Spend). Used and unused rows carry the amortised cost
        (recurring fee plus the upfront payment spread evenly over the term)."""
        acct = ACCOUNTS[c.account]
        start = day(d)
        capacity = c.quantity * 24
        fee = capacity * c.recurring_rate
        category, subcategory = service_categories(c.provider, c.service)
        common: dict[str, Any] = {
            "CommitmentDiscountCategory": c.category,
            "CommitmentDiscountId": c.cid,
            "CommitmentDiscountName": c.name,
            "CommitmentDiscountType": c.ctype,
            "CommitmentDiscountUnit": c.unit,
            "ResourceId": c.cid,
            "ResourceName": c.name,
            "ResourceType": c.ctype,
            "ServiceName": c.service,
            "ServiceCategory": category,
            "ServiceSubcategory": subcategory,
            "SkuId": sku_id(c.provider, "commitment", c.cid),
        }
        unit = "Hours"
        common.update(SkuMeter=c.ctype)
        if c.upfront and start == c.start:
            # Billed in full on the first day; its charge period is the whole term.
            hours = capacity * c.term_days
            upfront = self.base(acct, c.region, start, c.end, {})
            upfront.update(common)
            self.prices(
                upfront,
                hours,
                unit,
                c.upfront_rate,
                c.upfront_rate,
                c.upfront,
                Decimal(0),
                c.upfront,
                c.upfront,
                consumed=False,
            )
            upfront.update(
                ChargeCategory="Purchase",
                ChargeFrequency="One-Time",
                PricingCategory="Standard",
                CommitmentDiscountQuantity=hours,
                ChargeDescription=f"{c.ctype} upfront payment ({c.payment}): {c.name}",
                SkuPriceId=f"{common['SkuId']}.UPFRONT",
            )
            self.rows.append(upfront)
        if fee:
            purchase = self.base(acct, c.region, start, start + timedelta(days=1), {})
            purchase.update(common)
            self.prices(
                purchase,
                Decimal(24) if c.category == "Spend" else capacity,
                unit,
                c.quantity if c.category == "Spend" else c.recurring_rate,
                c.quantity if c.category == "Spend" else c.recurring_rate,
                fee,
                Decimal(0),
                fee,
                fee,
                consumed=False,
            )
            purchase.update(
                ChargeCategory="Purchase",
                ChargeFrequency="Recurring",
                PricingCategory="Standard",
                CommitmentDiscountQuantity=capacity,
                ChargeDescription=f"{c.ctype} recurring fee: {c.name}",
                SkuPriceId=f"{common['SkuId']}.FEE",
            )
            self.rows.append(purchase)
        unused = capacity - used
        assert unused >= 0, (c.key, d, used)
        if unused == 0:
            return
        row = self.base(acct, c.region, start, start + timedelta(days=1), {})
        row.update(common)
        if c.category == "Spend":
            qty, rate, unit = unused, Decimal(1), "USD"
        else:
            qty, rate = unused, c.rate
        eff = qty * rate
        # Capacity already committed has no list price: ListUnitPrice (which FOCUS needs on
        # every Usage row) is 0, so ListCost is 0 and sum(ListCost - EffectiveCost) nets the
        # unused commitment off the savings.
        self.prices(
            row, qty, unit, Decimal(0), rate, Decimal(0), eff, Decimal(0), eff, consumed=False
        )
        row.update(
            ChargeCategory="Usage",
            ChargeFrequency="Usage-Based",
            PricingCategory="Committed",
            CommitmentDiscountStatus="Unused",
            CommitmentDiscountQuantity=unused,
            ChargeDescription=f"Unused {c.ctype}: {c.name}",
            SkuPriceId=f"{common['SkuId']}.UNUSED",
        )
        self.rows.append(row)

    def build(self, rng: np.random.Generator) -> list[dict[str, Any]]:
        org = self.org
        by_commitment: dict[str, list[Res]] = defaultdict(list)
        for r in org.resources:
            if r.commitment:
                by_commitment[r.commitment].append(r)
        for r in org.resources:
            if r.commitment or not r.hours.any() or (r.kind == "image" and r.price_key is None):
                continue
            for day_index in np.flatnonzero(r.hours > 0):
                self.usage(r, int(day_index))
        for key in by_commitment:  # each covered VM has exactly one commitment each day
            for d in range(DAYS):
                terms = [c for c in org.commitments if (c.covers or c.key) == key]
                assert sum(c.active(day(d)) for c in terms) == 1, (key, d)
        for c in org.commitments:
            for d in range(DAYS):
                if not c.active(day(d)):
                    continue
                remaining = c.quantity * 24
                used = Decimal(0)
                for r in by_commitment[c.covers or c.key]:
                    hrs = _dec(r.hours[d]) * r.count
                    if hrs <= 0:
                        continue
                    if c.category == "Spend":
                        cost = c.plan_rates[r.instance_type or ""] * hrs
                        assert cost <= remaining - used, "Savings Plan oversubscribed"
                        self.usage(r, d, covered_by=c, covered_qty=hrs)
                        used += cost
                    else:
                        cov = min(hrs, remaining - used)
                        self.usage(r, d, covered_by=c, covered_qty=cov)
                        used += cov
                self.commitment_rows(c, d, used)
        self._bigquery(rng)
        self._tax_and_credit()
        order = {"AWS": 0, "Microsoft": 1, "Google Cloud": 2}
        self.rows.sort(
            key=lambda x: (
                x["ChargePeriodStart"],
                order[x["ProviderName"]],
                x["SubAccountId"],
                x["ServiceName"] or "",
                x["ResourceId"] or "",
                x["ChargeCategory"],
                x["CommitmentDiscountStatus"] or "",
            )
        )
        return self.rows

    def _bigquery(self, rng: np.random.Generator) -> None:
        from mlcost.sample.org import TREND, planted_days

        drop = list(planted_days()["drop"])
        acct = ACCOUNTS["gcp-data"]
        price, unit = STORAGE_PRICES["gcp:bigquery"]
        tib = np.where(WEEKEND, rng.uniform(6, 10, DAYS), rng.uniform(26, 36, DAYS)) * TREND
        tib[drop] = rng.uniform(0.05, 0.2, len(drop))
        tags = {"team": "data", "project": "pipelines", "env": "prod"}
        category, subcategory = service_categories("gcp", "BigQuery")
        for d in range(DAYS):
            qty = Decimal(str(round(float(tib[d]), 4)))
            row = self.base(acct, "us-central1", day(d), day(d + 1), tags)
            cost = price * qty
            self.prices(row, qty, unit, price, price, cost, cost, cost, cost)
            row.update(
                ChargeCategory="Usage",
                ChargeFrequency="Usage-Based",
                PricingCategory="Standard",
                ServiceName="BigQuery",
                ServiceCategory=category,
                ServiceSubcategory=subcategory,
                SkuId=gcp_sku("bigquery-analysis", "US"),
                SkuPriceId=f"{gcp_sku('bigquery-analysis', 'US')}.OnDemand",
                SkuMeter="Analysis",
                ChargeDescription="Analysis (on-demand), per TiB scanned",
            )
            self.rows.append(row)

    def _tax_and_credit(self) -> None:
        # Sales tax on the data-platform account: 6.25 % of its monthly billed usage.
        acct = ACCOUNTS["aws-data"]
        monthly: dict[datetime, Decimal] = defaultdict(Decimal)
        for row in self.rows:
            if row["SubAccountId"] == acct.sub_id and row["ChargeCategory"] == "Usage":
                monthly[row["BillingPeriodStart"]] += row["BilledCost"]
        tax_category = service_categories("aws", "Tax")
        for bp, total in sorted(monthly.items()):
            tax = (total * Decimal("0.0625")).quantize(_CENT)
            row = self.base(acct, None, max(bp, WINDOW_START), next_month(bp), {})
            row.update(
                ChargeCategory="Tax",
                ChargeFrequency="Recurring",
                BilledCost=tax,
                EffectiveCost=tax,
                PricingCurrencyEffectiveCost=tax,
                ListCost=tax,
                ContractedCost=tax,
                ServiceName="Tax",
                ServiceCategory=tax_category[0],
                ServiceSubcategory=tax_category[1],
                ChargeDescription="Sales tax (6.25 %) for the billing period",
            )
            self.rows.append(row)
        research = ACCOUNTS["aws-research"]
        credit = Decimal("-2500.00")
        credit_category = service_categories("aws", "Amazon Elastic Compute Cloud")
        row = self.base(research, None, datetime(2026, 9, 1), datetime(2026, 10, 1), {})
        row.update(
            ChargeCategory="Credit",
            ChargeFrequency="One-Time",
            BilledCost=credit,
            EffectiveCost=credit,
            PricingCurrencyEffectiveCost=credit,
            ListCost=credit,
            ContractedCost=credit,
            ServiceName="Amazon Elastic Compute Cloud",
            ServiceCategory=credit_category[0],
            ServiceSubcategory=credit_category[1],
            ChargeDescription="AWS Activate promotional credit",
        )
        self.rows.append(row)


def _meter(r: Res, unit: str) -> str:
    if r.kind in ("vm", "endpoint", "notebook", "job"):
        return "Compute Usage" if r.kind == "vm" else f"{r.kind.title()} Instance Usage"
    return (
        {"GB-Months": "Storage", "Hours": "IP Address Hours"}[unit]
        if r.kind != "bucket"
        else "Standard Storage"
    )


def _description(r: Res, price: Decimal, unit: str, spot: bool) -> str:
    if r.kind in ("vm", "endpoint", "notebook", "job"):
        how = "Spot" if spot else "On Demand"
        return f"${price} per {how} Linux {r.instance_type} {r.kind.title()} Hour"
    label = r.price_key.split(":", 1)[1] if r.price_key else r.kind
    return f"${price} per {unit} of {label} ({r.kind.replace('_', ' ')})"


# ------------------------------------------------------------------------------------
# resources, metrics, runs, prices
# ------------------------------------------------------------------------------------


def _resources(org: Org) -> list[dict[str, Any]]:
    rows = []
    for r in org.resources:
        if not r.inventory:
            continue
        it = INSTANCE_TYPES.get(r.instance_type or "")
        details = dict(r.details)
        if r.kind == "endpoint":
            details.setdefault("instance_count", r.count)
        rows.append(
            {
                "provider": r.provider,
                "account_id": ACCOUNTS[r.account].sub_id,
                "region": r.region,
                "resource_id": r.rid,
                "resource_type": r.kind,
                "name": r.name,
                "state": r.state,
                "created_at": r.created_at,
                "observed_at": OBSERVED_AT,
                "instance_type": r.instance_type,
                "vcpus": it.vcpus if it else None,
                "memory_gb": float(it.memory_gb) if it else None,
                "gpu_count": it.gpu_count if it else None,
                "gpu_model": it.gpu_model if it else None,
                "attached_to": r.attached_to,
                "source_id": r.source_id,
                "size_gb": float(r.sizes[-1]) if r.sizes is not None else r.size_gb,
                "lifecycle": r.lifecycle,
                "last_used_at": r.last_used_at,
                "details": dumps(details),
                "tags": dumps(r.tags),
                "source": SOURCE,
            }
        )
    return rows


def _runs(org: Org) -> list[dict[str, Any]]:
    rows = [
        {
            "run_id": r.run_id,
            "experiment": r.experiment,
            "parent_run_id": r.parent_run_id,
            "name": r.name,
            "status": r.status,
            "user": r.user,
            "started_at": r.started_at,
            "ended_at": r.ended_at,
            "params": dumps(r.params),
            "metrics": dumps(r.metrics),
            "tags": dumps(r.tags),
            "resource_ids": json.dumps(r.resource_ids),
            "gpu_count": r.gpu_count,
            "source": r.source,
        }
        for r in org.runs
    ]
    rows.sort(key=lambda x: (x["started_at"], x["run_id"]))
    return rows


_HOME_REGION = {"aws": "us-east-1", "azure": "eastus", "gcp": "us-central1"}


#: List prices per unit of what is not an instance type, for the resources the sample's
#: bill does not cover (their savings are estimated from these): (provider, region,
#: product) -> (price, unit), from ``data/unit_prices.csv``.
UNIT_PRICES: dict[tuple[str, str, str], tuple[Decimal, str]] = {
    (row["provider"], row["region"], row["product"]): (Decimal(row["price"]), row["unit"])
    for row in read_csv("unit_prices.csv", ("provider", "region", "product", "price", "unit"))
}


def _prices(org: Org) -> list[dict[str, Any]]:
    pairs: set[tuple[str, str, str]] = {
        (it.provider, _HOME_REGION[it.provider], it.name) for it in INSTANCE_TYPES.values()
    }
    for r in org.resources:
        if r.instance_type:
            pairs.add((r.provider, r.region, r.instance_type))
    rows = []
    for provider, region, name in sorted(pairs):
        rows.append(
            {
                "provider": provider,
                "region": region,
                "instance_type": name,
                "sku": sku_id(provider, name, region),
                "unit": "Hours",
                "price_per_hour": INSTANCE_TYPES[name].price,
                "currency": "USD",
                "source": SOURCE,
                "vcpus": INSTANCE_TYPES[name].vcpus,
                "memory_gb": INSTANCE_TYPES[name].memory_gb,
                "gpu_count": INSTANCE_TYPES[name].gpu_count,
                "gpu_model": INSTANCE_TYPES[name].gpu_model,
                "current_generation": not INSTANCE_TYPES[name].previous_generation,
            }
        )
    for (provider, region, product), (price, unit) in sorted(UNIT_PRICES.items()):
        rows.append(
            {
                "provider": provider,
                "region": region,
                "sku": sku_id(provider, product, region),
                "unit": unit,
                "price_per_hour": price,
                "currency": "USD",
                "source": SOURCE,
                "product": product,
                "price_type": "on-demand",
            }
        )
    return rows


def _money(x: Decimal) -> str:
    """Cents when exact (``328500.00``), else every significant place (``166.608``)."""
    q = x.quantize(_CENT)
    return f"{q if q == x else x.normalize():f}"


def _commitment_summary(org: Org, cost_rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per commitment, over the window: what was billed (upfront and recurring Purchase
    rows), what was amortised onto usage (used plus unused EffectiveCost) and utilisation
    (used / amortised)."""
    upfront: dict[str, Decimal] = defaultdict(Decimal)
    recurring: dict[str, Decimal] = defaultdict(Decimal)
    amortised: dict[str, Decimal] = defaultdict(Decimal)
    unused: dict[str, Decimal] = defaultdict(Decimal)
    for row in cost_rows:
        cid = row["CommitmentDiscountId"]
        if cid is None:
            continue
        if row["ChargeCategory"] == "Purchase":
            target = upfront if row["ChargeFrequency"] == "One-Time" else recurring
            target[cid] += row["BilledCost"]
            continue
        amortised[cid] += row["EffectiveCost"]
        if row["CommitmentDiscountStatus"] == "Unused":
            unused[cid] += row["EffectiveCost"]
    out = []
    for c in org.commitments:
        cid = c.cid
        util = (amortised[cid] - unused[cid]) / amortised[cid]
        entry: dict[str, Any] = {
            "commitment_id": cid,
            "provider": c.provider,
            "name": c.name,
            "type": c.ctype,
            "payment": c.payment,
            "term_start": f"{c.start:%Y-%m-%d}",
            "term_end": f"{c.end:%Y-%m-%d}",
            "upfront": _money(c.upfront),
            "upfront_billed_in_window": _money(upfront[cid]),
            "recurring_billed_in_window": _money(recurring[cid]),
            "amortised_in_window": _money(amortised[cid]),
            "unused": _money(unused[cid]),
            "utilisation_pct": float(round(util * 100, 2)),
        }
        daily = _money(c.upfront / c.term_days) if c.upfront else None
        if c.upfront and not upfront[cid]:
            entry["note"] = (
                f"{c.payment}: the upfront payment ({_money(c.upfront)}) was billed on "
                f"{c.start:%Y-%m-%d}, before the window, and is amortised at {daily} a day, "
                f"so in the window EffectiveCost exceeds BilledCost by {daily} a day"
            )
        elif upfront[cid]:
            entry["note"] = (
                f"{c.payment}, purchased in the window: one Purchase row (ChargeFrequency "
                f"One-Time, BilledCost {_money(upfront[cid])}, EffectiveCost 0, charge "
                f"period {c.start:%Y-%m-%d} to {c.end:%Y-%m-%d}), amortised at {daily} a day "
                f"onto the covered usage. A detector on BilledCost sees a one-day cash spike "
                f"on {c.start:%Y-%m-%d}: a purchase, not an anomaly. EffectiveCost does not "
                f"move: it renews the reservation before it at the same rate"
            )
        out.append(entry)
    return out


def _experiment_costs(org: Org, cost_rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per experiment, what its runs cost, from the org's own cost rows and run windows.

    A SageMaker job's lines belong to its run. A machine's day is split by GPU-seconds:
    a run holding g of the machine's G GPUs for s seconds of the day gets
    day cost x (s x g / G) / (billed hours x 3600), or its pro-rata part of the day cost
    when the runs held more than was billed. What no run held is idle, in no experiment.
    """
    res = {r.rid: r for r in org.resources}
    day_cost: dict[tuple[str, datetime], Decimal] = defaultdict(Decimal)
    day_hours: dict[tuple[str, datetime], Decimal] = defaultdict(Decimal)
    for row in cost_rows:
        if row["ChargeCategory"] != "Usage" or row["ResourceId"] not in res:
            continue
        key = (row["ResourceId"], row["ChargePeriodStart"])
        day_cost[key] += row["EffectiveCost"]
        if row["ConsumedUnit"] == "Hours":
            day_hours[key] += row["ConsumedQuantity"]
    # (resource, day) -> {run_id: GPU-seconds / machine GPUs}
    held: dict[tuple[str, datetime], dict[str, Decimal]] = defaultdict(dict)
    owner: dict[str, str] = {}
    for run in org.runs:
        owner[run.run_id] = run.experiment
        for rid in run.resource_ids:
            r = res[rid]
            if r.kind == "job":
                continue
            gpus = INSTANCE_TYPES[r.instance_type or ""].gpu_count if r.instance_type else 0
            frac = (
                min(Decimal(run.gpu_count) / len(run.resource_ids), Decimal(gpus)) / gpus
                if gpus and run.gpu_count
                else Decimal(1)
            )
            d = datetime.combine(run.started_at.date(), datetime.min.time())
            while d < run.ended_at:
                lo, hi = max(d, run.started_at), min(d + timedelta(days=1), run.ended_at)
                if hi > lo:
                    seconds = Decimal(int((hi - lo).total_seconds()))
                    held[(rid, d)][run.run_id] = seconds * frac
                d += timedelta(days=1)
    cost: dict[str, Decimal] = defaultdict(Decimal)
    runs: dict[str, set[str]] = defaultdict(set)
    for run in org.runs:
        for rid in run.resource_ids:
            if res[rid].kind == "job":
                for (line_rid, _d), c in day_cost.items():
                    if line_rid == rid:
                        cost[run.experiment] += c
                runs[run.experiment].add(run.run_id)
    for key, by_run in held.items():
        if key not in day_cost:
            continue
        paid = day_hours.get(key) or Decimal(86400) / 3600
        denominator = max(paid * 3600, sum(by_run.values()))
        for run_id, seconds in by_run.items():
            cost[owner[run_id]] += day_cost[key] * seconds / denominator
            runs[owner[run_id]].add(run_id)
    return [
        {"experiment": name, "runs": len(runs[name]), "cost": f"{cost[name].quantize(_CENT)}"}
        for name in sorted(cost, key=lambda n: (-cost[n], n))
    ]


def generate(seed: int = 7) -> SampleData:
    """Build the sample organisation. Same seed, same tables, byte for byte."""
    rng = np.random.default_rng(seed)
    org = build_org(rng)
    cost_rows = _CostBuilder(org).build(rng)
    tables = {
        "cost": pa.Table.from_pylist(cost_rows, schema=cost_schema()),
        "resources": pa.Table.from_pylist(_resources(org), schema=arrow_schema("resources")),
        "metrics": metrics_table(org, rng),
        "runs": pa.Table.from_pylist(_runs(org), schema=arrow_schema("runs")),
        "prices": pa.Table.from_pylist(_prices(org), schema=arrow_schema("prices")),
    }
    answer_key: dict[str, Any] = {
        "organisation": "Acme Vision",
        "window": {
            "start": f"{WINDOW_START:%Y-%m-%d}",
            "end": f"{day(DAYS - 1):%Y-%m-%d}",
            "days": DAYS,
        },
        "seed": seed,
        "recommendations": org.recommendations,
        "anomalies": org.anomalies,
        "negatives": org.negatives,
        "commitments": _commitment_summary(org, cost_rows),
        "experiments": _experiment_costs(org, cost_rows),
    }
    return SampleData(tables, answer_key)
