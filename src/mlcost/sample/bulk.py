"""Large FOCUS cost datasets for benchmarks, generated batch by batch.

:func:`iter_cost_batches` yields exactly ``rows`` rows with the cost table's schema. The
rows are hourly charge periods over the sample window for a synthetic fleet sized to the
request (``ceil(rows / 2160)`` resources, one row per resource per hour), so memory is
bounded by the fleet size and the batch, never by ``rows``.

Every per-row random value is a hash of (seed, row index), so the output does not depend
on ``batch_rows``. Money is exact: unit prices are integers of 1e-6 USD, quantities
integers of 1e-4 units, and costs are written straight into decimal128(38,12) buffers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa

from mlcost.sample.catalog import (
    DAYS,
    INSTANCE_TYPES,
    PROVIDER_NAMES,
    REGION_NAMES,
    REGIONS,
    STORAGE_PRICES,
    WINDOW_START,
    digest,
    guid,
    hex_id,
    month_start,
    next_month,
)
from mlcost.sample.generator import SERVICES, cost_schema, service_categories

HOURS = DAYS * 24
_PROVIDERS = ("aws", "azure", "gcp")
_REGIONS = REGIONS
_BILLING = {
    "aws": ("482910375561", "Acme Vision (management)", "Management Account", "Linked Account"),
    "azure": (
        "7a4c2e91-5b3d-4f8a-9c6e-1d2b3a4f5e6c:0b9d8e7f-6a5b-4c3d-9e1f-0a9b8c7d6e5f_2019-05-31",
        "Acme Vision Inc.",
        "Billing Profile",
        "Subscription",
    ),
    "gcp": ("01A2B3-C4D5E6-F7A8B9", "Acme Vision GCP billing", "Billing Account", "Project"),
}
_TEAMS = ("research", "perception", "applied", "platform", "data", "mlops")
_PROJECTS = (
    "foundation-vision",
    "defect-detection",
    "segmentation",
    "damage-assessment",
    "retail-shelf",
    "inference-api",
    "feature-store",
    "pipelines",
    "ocr",
)
_ENVS = ("research", "dev", "staging", "prod")
# kind -> weight; "fee" is a commitment's recurring purchase line.
_KINDS = (
    ("vm", 0.55),
    ("volume", 0.2),
    ("snapshot", 0.05),
    ("ip_address", 0.05),
    ("endpoint", 0.05),
    ("notebook", 0.03),
    ("bucket", 0.065),
    ("fee", 0.005),
)
_STORAGE_KEY = {
    ("aws", "volume"): "aws:gp3",
    ("aws", "snapshot"): "aws:snapshot",
    ("aws", "ip_address"): "aws:eip",
    ("aws", "bucket"): "aws:s3",
    ("azure", "volume"): "azure:Premium_LRS",
    ("azure", "snapshot"): "azure:snapshot",
    ("azure", "ip_address"): "azure:pip",
    ("azure", "bucket"): "azure:blob",
    ("gcp", "volume"): "gcp:pd-balanced",
    ("gcp", "snapshot"): "gcp:snapshot",
    ("gcp", "ip_address"): "gcp:address-in-use",
    ("gcp", "bucket"): "gcp:gcs",
}
_US_PER_HOUR = 3_600_000_000


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser over uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _uniform(idx: np.ndarray, seed: int, stream: int) -> np.ndarray:
    salt = np.uint64(int(digest("bulk", str(seed), str(stream))[:16], 16))
    return (_mix(idx.astype(np.uint64) ^ salt) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def decimal_array(units: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """decimal128(38,12) from int64 values in units of 1e-12, built straight from buffers."""
    units = np.ascontiguousarray(units, dtype=np.int64)
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = np.where(units < 0, -1, 0)
    validity = None
    null_count = 0
    if valid is not None and not valid.all():
        validity = pa.py_buffer(np.packbits(valid.astype(np.uint8), bitorder="little"))
        null_count = int((~valid).sum())
    return pa.Array.from_buffers(
        pa.decimal128(38, 12),
        len(units),
        [validity, pa.py_buffer(words)],
        null_count=null_count,
    )


def _string_take(values: list[str | None], idx: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(idx))


@dataclass
class _Fleet:
    """Per-resource attributes (arrays of length R) and small lookup tables."""

    provider: np.ndarray
    kind: list[str]
    region: list[str]
    zone: list[str | None]
    sub_id: list[str]
    sub_name: list[str]
    rid: list[str | None]
    name: list[str]
    rtype: list[str]
    service: list[str]
    service_cat: list[str]
    service_sub: list[str]
    sku: list[str]
    sku_price: list[str]
    sku_details: list[str | None]
    meter: list[str]
    description: list[str]
    unit: list[str]
    tags: list[str]
    charge_category: list[str]
    charge_frequency: list[str]
    pricing_category: list[str | None]
    price_micro: np.ndarray  # list unit price, 1e-6 USD
    paid_micro: np.ndarray  # contracted unit price, 1e-6 USD
    qty_units: np.ndarray  # base quantity per hour, 1e-4 units
    elastic: np.ndarray
    committed: np.ndarray
    fee: np.ndarray
    cd_id: list[str | None]
    cd_name: list[str | None]
    cd_category: list[str | None]
    cd_type: list[str | None]
    cd_unit: list[str | None]


def _micro(d: Decimal) -> int:
    return int(d * 1_000_000)


def _build_fleet(n: int, seed: int) -> _Fleet:
    rng = np.random.default_rng(seed)
    prov = rng.choice(3, size=n, p=[0.5, 0.25, 0.25])
    kinds = [k for k, _ in _KINDS]
    kind_idx = rng.choice(len(kinds), size=n, p=[w for _, w in _KINDS])
    region_pick = rng.integers(0, 2, n)
    sub_pick = rng.integers(0, 12, n)
    tag_pick = rng.integers(0, 60, n)
    life = rng.random(n)
    sizes = rng.choice([50, 100, 200, 500, 1000, 2000, 4000], size=n)
    bucket_tb = rng.uniform(1, 200, n)
    counts = rng.integers(1, 4, n)
    by_provider = {
        p: [t for t in INSTANCE_TYPES.values() if t.provider == p and t.platform == "vm"]
        for p in _PROVIDERS
    }
    ml_types = {
        "aws": [t for t in INSTANCE_TYPES.values() if t.platform == "sagemaker"],
        "azure": [INSTANCE_TYPES[x] for x in ("Standard_NC4as_T4_v3", "Standard_DS3_v2")],
        "gcp": [INSTANCE_TYPES[x] for x in ("g2-standard-4", "n1-standard-4", "e2-standard-4")],
    }
    type_pick = rng.random(n)
    tags = ["{}"] + [
        json.dumps(
            {
                "team": _TEAMS[i % len(_TEAMS)],
                "project": _PROJECTS[(i * 7) % len(_PROJECTS)],
                "env": _ENVS[(i * 3) % len(_ENVS)],
                **({"experiment": f"exp-{i:02d}"} if i % 4 == 0 else {}),
            },
            sort_keys=True,
            separators=(", ", ": "),
        )
        for i in range(59)
    ]
    f = _Fleet(
        provider=prov,
        kind=[],
        region=[],
        zone=[],
        sub_id=[],
        sub_name=[],
        rid=[],
        name=[],
        rtype=[],
        service=[],
        service_cat=[],
        service_sub=[],
        sku=[],
        sku_price=[],
        sku_details=[],
        meter=[],
        description=[],
        unit=[],
        tags=[],
        charge_category=[],
        charge_frequency=[],
        pricing_category=[],
        price_micro=np.zeros(n, np.int64),
        paid_micro=np.zeros(n, np.int64),
        qty_units=np.zeros(n, np.int64),
        elastic=np.zeros(n, bool),
        committed=np.zeros(n, bool),
        fee=np.zeros(n, bool),
        cd_id=[],
        cd_name=[],
        cd_category=[],
        cd_type=[],
        cd_unit=[],
    )
    for i in range(n):
        p = _PROVIDERS[int(prov[i])]
        kind = kinds[int(kind_idx[i])]
        region = _REGIONS[p][int(region_pick[i])]
        zone = (
            f"{region}{'abc'[i % 3]}"
            if p == "aws"
            else (f"{region}-{'abc'[i % 3]}" if p == "gcp" else None)
        )
        s = int(sub_pick[i])
        if p == "aws":
            sub_id = str(int(digest("acct", str(s))[:12], 16) % 10**12).zfill(12)
            sub_name = f"acme-{_TEAMS[s % 6]}-{_ENVS[s % 4]}"
        elif p == "azure":
            sub_id = guid("sub", str(s))
            sub_name = f"acme-vision-{_TEAMS[s % 6]}-{_ENVS[s % 4]}"
        else:
            sub_id = f"acme-{_TEAMS[s % 6]}-{_ENVS[s % 4]}-{s:02d}"
            sub_name = sub_id
        name = f"{kind.replace('_', '-')}-{i:07d}"
        h = hex_id(16, "bulk", str(seed), str(i))
        fee = kind == "fee"
        base_kind = "vm" if fee else kind
        it = None
        if kind in ("vm", "fee"):
            pool = by_provider[p]
            it = pool[int(type_pick[i] * len(pool))]
        elif kind in ("endpoint", "notebook"):
            pool = ml_types[p]
            it = pool[int(type_pick[i] * len(pool))]
        if p == "aws":
            rid = {
                "vm": f"i-0{h}",
                "volume": f"vol-0{h}",
                "snapshot": f"snap-0{h}",
                "ip_address": f"eipalloc-0{h}",
                "bucket": f"acme-bucket-{h[:8]}",
                "endpoint": f"arn:aws:sagemaker:{region}:{sub_id}:endpoint/{name}",
                "notebook": f"arn:aws:sagemaker:{region}:{sub_id}:notebook-instance/{name}",
            }[base_kind]
        elif p == "azure":
            rg = f"rg-{_TEAMS[s % 6]}"
            typ = {
                "vm": "Microsoft.Compute/virtualMachines",
                "volume": "Microsoft.Compute/disks",
                "snapshot": "Microsoft.Compute/snapshots",
                "ip_address": "Microsoft.Network/publicIPAddresses",
                "bucket": "Microsoft.Storage/storageAccounts",
                "endpoint": "Microsoft.MachineLearningServices/workspaces",
                "notebook": "Microsoft.MachineLearningServices/workspaces",
            }[base_kind]
            leaf = {
                "endpoint": f"mlw-{rg[3:]}/onlineEndpoints/{name}",
                "notebook": f"mlw-{rg[3:]}/computes/{name}",
            }.get(base_kind, name)
            rid = f"/subscriptions/{sub_id}/resourceGroups/{rg}/providers/{typ}/{leaf}"
        else:
            cz = f"zones/{zone}"
            rid = {
                "vm": f"//compute.googleapis.com/projects/{sub_id}/{cz}/instances/{name}",
                "volume": f"//compute.googleapis.com/projects/{sub_id}/{cz}/disks/{name}",
                "snapshot": f"//compute.googleapis.com/projects/{sub_id}/global/snapshots/{name}",
                "ip_address": f"//compute.googleapis.com/projects/{sub_id}/regions/{region}"
                f"/addresses/{name}",
                "bucket": f"//storage.googleapis.com/projects/_/buckets/acme-{h[:10]}",
                "endpoint": f"//aiplatform.googleapis.com/projects/{sub_id}/locations/{region}"
                f"/endpoints/{int(h[:12], 16)}",
                "notebook": f"//notebooks.googleapis.com/projects/{sub_id}/locations/{zone}"
                f"/instances/{name}",
            }[base_kind]
        service, rtype = SERVICES[(p, base_kind)]
        cat, sub = service_categories(p, service)
        committed = kind == "vm" and life[i] < 0.25
        spot = kind == "vm" and 0.25 <= life[i] < 0.40
        cd: tuple[str | None, ...] = (None,) * 5
        if it is not None:
            price = it.price
            unit = "Hours"
            qty = 10_000 * (int(counts[i]) if kind == "endpoint" else 1)
            details = json.dumps(
                {
                    "CoreCount": it.vcpus,
                    "GpuCount": it.gpu_count,
                    "InstanceType": it.name,
                    "MemorySize": it.memory_gb,
                },
                sort_keys=True,
                separators=(", ", ": "),
            )
            sku_key = it.name
        else:
            price, unit = STORAGE_PRICES[_STORAGE_KEY[(p, kind)]]
            size = float(bucket_tb[i]) * 1000 if kind == "bucket" else float(sizes[i])
            qty = round(size / 730 * 10_000) if unit == "GB-Months" else 10_000
            details = None
            sku_key = _STORAGE_KEY[(p, kind)]
        pm = _micro(price)
        if committed or fee:
            cnum = int(digest("cd", p, str(s % 3))[:4], 16) % 1000
            ctype = {
                "aws": "Savings Plan",
                "azure": "Reservation",
                "gcp": "Committed Use Discount",
            }[p]
            cid = {
                "aws": f"arn:aws:savingsplans::{_BILLING['aws'][0]}:savingsplan/"
                f"{guid('bsp', str(cnum))}",
                "azure": f"/providers/Microsoft.Capacity/reservationOrders/{guid('bro', str(cnum))}"
                f"/reservations/{guid('brs', str(cnum))}",
                "gcp": f"//compute.googleapis.com/projects/{sub_id}/regions/{region}"
                f"/commitments/cud-{cnum:03d}",
            }[p]
            cd = (
                cid,
                f"{ctype.lower().replace(' ', '-')}-{cnum:03d}",
                "Spend" if p == "aws" else "Usage",
                ctype,
                "USD" if p == "aws" else "Hours",
            )
        paid = pm * 6 // 10 if committed else (pm * 35 // 100 if spot else pm)
        if fee:
            # A commitment's hourly fee: 20 instances' worth at the committed rate.
            pm = pm * 6 // 10 * 20
            paid = pm
            rid, name, rtype = cd[0] or rid, cd[1] or name, cd[3] or rtype
            unit = "Hours"
            details = None
        sku = hex_id(16, "sku", p, sku_key, region).upper()
        f.kind.append(kind)
        f.region.append(region)
        f.zone.append(zone if kind in ("vm", "volume") else None)
        f.sub_id.append(sub_id)
        f.sub_name.append(sub_name)
        f.rid.append(rid)
        f.name.append(name)
        f.rtype.append(rtype)
        f.service.append(service)
        f.service_cat.append(cat)
        f.service_sub.append(sub)
        f.sku.append(sku)
        f.sku_price.append(
            f"{sku}.{'FEE' if fee else 'COMMIT' if committed else 'SPOT' if spot else 'OD'}"
        )
        f.sku_details.append(details)
        f.meter.append(
            "Compute Usage"
            if it is not None
            else ("Storage" if unit == "GB-Months" else "IP Address Hours")
        )
        f.description.append(
            f"{cd[3]} recurring fee: {cd[1]}"
            if fee
            else (
                f"${price} per {'Spot' if spot else 'On Demand'} {sku_key} hour"
                if unit == "Hours" and it is not None
                else f"${price} per {unit} of {sku_key.split(':')[-1]}"
            )
        )
        f.unit.append(unit)
        f.tags.append("{}" if fee else tags[int(tag_pick[i])])
        f.charge_category.append("Purchase" if fee else "Usage")
        f.charge_frequency.append("Recurring" if fee else "Usage-Based")
        # A commitment's purchase is bought at its published rate: Standard.
        f.pricing_category.append("Committed" if committed else "Dynamic" if spot else "Standard")
        f.price_micro[i] = pm
        f.paid_micro[i] = paid
        f.qty_units[i] = qty
        f.elastic[i] = kind in ("vm", "notebook") and not committed and life[i] > 0.7
        f.committed[i] = committed
        f.fee[i] = fee
        for col, v in zip(
            (f.cd_id, f.cd_name, f.cd_category, f.cd_type, f.cd_unit), cd, strict=True
        ):
            col.append(v)
    return f


def _hour_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per hour of the window: start (us), billing period start/end (us), month index,
    weekend/night flag."""
    epoch = datetime(1970, 1, 1)
    starts = np.empty(HOURS + 1, np.int64)
    bp_start = np.empty(HOURS + 1, np.int64)
    bp_end = np.empty(HOURS + 1, np.int64)
    month = np.empty(HOURS + 1, np.int64)
    quiet = np.empty(HOURS + 1, bool)
    for h in range(HOURS + 1):
        ts = WINDOW_START + timedelta(hours=h)
        starts[h] = (ts - epoch) // timedelta(microseconds=1)
        ms = month_start(ts)
        bp_start[h] = (ms - epoch) // timedelta(microseconds=1)
        bp_end[h] = (next_month(ms) - epoch) // timedelta(microseconds=1)
        month[h] = ms.month - WINDOW_START.month
        quiet[h] = ts.weekday() >= 5 or ts.hour < 7 or ts.hour >= 21
    return starts, bp_start, bp_end, month, quiet


def iter_cost_batches(
    rows: int, *, seed: int = 7, batch_rows: int = 500_000
) -> Iterator[pa.RecordBatch]:
    """Yield FOCUS cost batches totalling exactly ``rows`` rows (hourly charge periods)."""
    if rows < 0 or batch_rows <= 0:
        raise ValueError("rows must be >= 0 and batch_rows > 0")
    if rows == 0:
        return
    schema = cost_schema()
    n_res = max(1, math.ceil(rows / HOURS))
    f = _build_fleet(n_res, seed)
    starts, bp_start, bp_end, month, quiet = _hour_tables()
    prov_names = [PROVIDER_NAMES[p] for p in _PROVIDERS]
    billing = [_BILLING[p] for p in _PROVIDERS]
    months = int(month.max()) + 1
    invoices = [
        str(int(digest("invoice", p, str(m))[:12], 16) % 10**10).zfill(10)
        for p in _PROVIDERS
        for m in range(months)
    ]
    region_names = [REGION_NAMES.get(r) for r in f.region]
    # Dictionary-free string columns, looked up per row with take().
    per_res = {
        "AvailabilityZone": f.zone,
        "ChargeCategory": f.charge_category,
        "ChargeDescription": f.description,
        "ChargeFrequency": f.charge_frequency,
        "CommitmentDiscountCategory": f.cd_category,
        "CommitmentDiscountId": f.cd_id,
        "CommitmentDiscountName": f.cd_name,
        "CommitmentDiscountType": f.cd_type,
        "CommitmentDiscountUnit": f.cd_unit,
        "ConsumedUnit": [None if fee else u for u, fee in zip(f.unit, f.fee, strict=True)],
        "PricingCategory": f.pricing_category,
        "PricingUnit": f.unit,
        "RegionId": f.region,
        "RegionName": region_names,
        "ResourceId": f.rid,
        "ResourceName": f.name,
        "ResourceType": f.rtype,
        "ServiceCategory": f.service_cat,
        "ServiceName": f.service,
        "ServiceSubcategory": f.service_sub,
        "SkuId": f.sku,
        "SkuMeter": f.meter,
        "SkuPriceDetails": f.sku_details,
        "SkuPriceId": f.sku_price,
        "SubAccountId": f.sub_id,
        "SubAccountName": f.sub_name,
        "Tags": f.tags,
    }
    res_arrays = {k: pa.array(v, pa.string()) for k, v in per_res.items()}
    sub_type = pa.array([b[3] for b in billing], pa.string())
    prov_arrays = {
        "BillingAccountId": pa.array([b[0] for b in billing], pa.string()),
        "BillingAccountName": pa.array([b[1] for b in billing], pa.string()),
        "BillingAccountType": pa.array([b[2] for b in billing], pa.string()),
        "ProviderName": pa.array(prov_names, pa.string()),
        "SubAccountType": sub_type,
    }
    invoice_arr = pa.array(invoices, pa.string())
    is_spot = np.array([c == "Dynamic" for c in f.pricing_category])

    for offset in range(0, rows, batch_rows):
        n = min(batch_rows, rows - offset)
        idx = np.arange(offset, offset + n, dtype=np.int64)
        hour = idx // n_res
        r = idx % n_res
        r_arr = pa.array(r)
        prov = f.provider[r]
        prov_arr = pa.array(prov)
        # Quantity: full hour, except elastic capacity at nights and weekends.
        u = _uniform(idx, seed, 1)
        q = f.qty_units[r].copy()
        el = f.elastic[r]
        frac = np.where(quiet[hour], np.floor(u * 4) / 4, np.where(u < 0.1, 0.75, 1.0))
        q = np.where(el, np.maximum((q * frac).astype(np.int64) // 2500 * 2500, 2500), q)
        price = f.price_micro[r]
        paid = f.paid_micro[r]
        # Small price noise for spot rows (+-10 % in 1e-4 USD steps).
        spot = is_spot[r]
        noise = ((_uniform(idx, seed, 2) - 0.5) * 0.2 * paid).astype(np.int64) // 100 * 100
        paid = np.where(spot, paid + noise, paid)
        list_cost = price * q * 100
        contracted = paid * q * 100
        committed = f.committed[r]
        fee = f.fee[r]
        billed = np.where(committed, 0, contracted)
        effective = np.where(fee, 0, contracted)
        cols: dict[str, pa.Array] = {}
        for name, arr in res_arrays.items():
            cols[name] = arr.take(r_arr)
        for name, arr in prov_arrays.items():
            cols[name] = arr.take(prov_arr)
        cols["BillingCurrency"] = pa.array(np.full(n, "USD", dtype=object), pa.string())
        cols["PricingCurrency"] = cols["BillingCurrency"]
        cols["InvoiceIssuerName"] = cols["ProviderName"]
        cols["PublisherName"] = cols["ProviderName"]
        cols["InvoiceId"] = invoice_arr.take(pa.array(prov * months + month[hour]))
        ts = pa.timestamp("us")
        cols["ChargePeriodStart"] = pa.array(starts[hour], ts)
        cols["ChargePeriodEnd"] = pa.array(starts[hour + 1], ts)
        cols["BillingPeriodStart"] = pa.array(bp_start[hour], ts)
        cols["BillingPeriodEnd"] = pa.array(bp_end[hour], ts)
        cols["CommitmentDiscountStatus"] = pa.array(
            ["Used" if c else None for c in committed.tolist()], pa.string()
        )
        cols["CapacityReservationId"] = pa.nulls(n, pa.string())
        cols["CapacityReservationStatus"] = pa.nulls(n, pa.string())
        cols["ChargeClass"] = pa.nulls(n, pa.string())
        qty_units = q * 100_000_000  # 1e-4 -> 1e-12
        cols["PricingQuantity"] = decimal_array(qty_units)
        cols["ConsumedQuantity"] = decimal_array(qty_units, ~fee)
        cols["CommitmentDiscountQuantity"] = decimal_array(
            np.where(committed & (prov == 0), contracted, qty_units), committed | fee
        )
        cols["ListUnitPrice"] = decimal_array(price * 1_000_000)
        cols["PricingCurrencyListUnitPrice"] = cols["ListUnitPrice"]
        cols["ContractedUnitPrice"] = decimal_array(paid * 1_000_000)
        cols["PricingCurrencyContractedUnitPrice"] = cols["ContractedUnitPrice"]
        cols["ListCost"] = decimal_array(list_cost)
        cols["ContractedCost"] = decimal_array(contracted)
        cols["BilledCost"] = decimal_array(billed)
        cols["EffectiveCost"] = decimal_array(effective)
        cols["PricingCurrencyEffectiveCost"] = cols["EffectiveCost"]
        yield pa.RecordBatch.from_arrays([cols[c] for c in schema.names], schema=schema)
