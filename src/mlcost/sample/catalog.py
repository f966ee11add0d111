"""Fixed facts the sample organisation is built from: the window, accounts, regions,
instance types with their public on-demand list prices, and resource-id formats. The
accounts and prices are data files (``data/accounts.toml``, ``data/instance_types.csv``,
``data/prices.toml``), read here once.

Nothing here is random: ids are derived from names with SHA-256, so the same name gives
the same id in every table and for every seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from mlcost import mappings
from mlcost.sample.declarations import (
    AccountFile,
    PriceFile,
    SampleDataError,
    read_csv,
    read_toml,
    to_decimal,
    to_int,
)

#: First day of the sample (a Monday), UTC midnight.
WINDOW_START = datetime(2026, 8, 3)
#: Number of days in the sample window (2026-08-03 through 2026-10-31 inclusive).
DAYS = 90
WINDOW_END = WINDOW_START + timedelta(days=DAYS)
#: When the inventory (``resources``) was observed.
OBSERVED_AT = datetime(2026, 10, 31, 23, 0)

#: Short provider keys (resources, prices, answer key) and their FOCUS ProviderName.
PROVIDER_NAMES: dict[str, str] = {"aws": "AWS", "azure": "Microsoft", "gcp": "Google Cloud"}


def day(i: int) -> datetime:
    """Midnight of day ``i`` of the window."""
    return WINDOW_START + timedelta(days=i)


def month_start(ts: datetime) -> datetime:
    return datetime(ts.year, ts.month, 1)


def next_month(ts: datetime) -> datetime:
    return datetime(ts.year + (ts.month == 12), ts.month % 12 + 1, 1)


def days_in_month(ts: datetime) -> int:
    return (next_month(ts) - month_start(ts)).days


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def hex_id(n: int, *parts: str) -> str:
    return digest(*parts)[:n]


def guid(*parts: str) -> str:
    h = digest(*parts)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def aws_sku(*parts: str) -> str:
    """An AWS-style SKU (16 upper-case base-32 characters)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    n = int(digest("sku", *parts)[:20], 16)
    return "".join(alphabet[(n >> (5 * i)) & 31] for i in range(16))


def gcp_sku(*parts: str) -> str:
    h = digest("sku", *parts).upper()
    return f"{h[:4]}-{h[4:8]}-{h[8:12]}"


@dataclass(frozen=True)
class Account:
    provider: str
    billing_account_id: str
    billing_account_name: str
    billing_account_type: str
    sub_id: str
    sub_name: str
    sub_type: str


def _accounts() -> dict[str, Account]:
    where = "mlcost/sample/data/accounts.toml"
    f = read_toml(AccountFile, "accounts.toml")
    out: dict[str, Account] = {}
    for a in f.account:
        if a.key in out:
            raise SampleDataError(f"{where}, account {a.key!r}: the key is used twice.")
        if a.provider not in f.billing_account:
            raise SampleDataError(
                f"{where}, account {a.key!r}: no [billing_account.{a.provider}] is given."
            )
        b = f.billing_account[a.provider]
        out[a.key] = Account(a.provider, b.id, b.name, b.type, a.id, a.name, a.type)
    return out


#: The accounts (AWS linked accounts, Azure subscriptions, GCP projects), by the key
#: resources name them with (``data/accounts.toml``).
ACCOUNTS: dict[str, Account] = _accounts()

#: The regions the sample (and the benchmark datasets) use, per provider.
REGIONS: dict[str, tuple[str, ...]] = {
    "aws": ("us-east-1", "us-west-2"),
    "azure": ("eastus", "westeurope"),
    "gcp": ("us-central1", "europe-west4"),
}


def _region_name(provider: str, region: str) -> str:
    name = mappings.region_name(provider, region)
    assert name is not None, (provider, region)
    return name


#: RegionId -> RegionName, from the packaged region table (:mod:`mlcost.mappings`).
REGION_NAMES: dict[str, str] = {
    region: _region_name(provider, region)
    for provider, regions in REGIONS.items()
    for region in regions
}


@dataclass(frozen=True)
class InstanceType:
    name: str
    provider: str
    vcpus: int
    memory_gb: float
    gpu_count: int
    gpu_model: str | None
    #: Public on-demand list price, USD per hour (Linux, the sample's regions).
    price: Decimal
    previous_generation: bool = False
    #: "vm" for plain instances; "sagemaker", "azureml", "vertex" for managed ML capacity.
    platform: str = "vm"


def _instance_types() -> dict[str, InstanceType]:
    name = "instance_types.csv"
    columns = ("name", "provider", "vcpus", "memory_gb", "gpu_count", "gpu_model", "price")
    out: dict[str, InstanceType] = {}
    rows = read_csv(name, (*columns, "previous_generation", "platform"), optional=("gpu_model",))
    for n, row in enumerate(rows, start=2):
        where = f"mlcost/sample/data/{name}, line {n}"
        memory = row["memory_gb"]
        if row["previous_generation"] not in ("true", "false"):
            raise SampleDataError(f"{where}: previous_generation is true or false.")
        out[row["name"]] = InstanceType(
            row["name"],
            row["provider"],
            to_int(row["vcpus"], where),
            # As written: 2048 stays an integer (the bill's SkuPriceDetails show it so).
            to_int(memory, where) if memory.isdigit() else float(memory),
            to_int(row["gpu_count"], where),
            row["gpu_model"] or None,
            to_decimal(row["price"], where),
            row["previous_generation"] == "true",
            row["platform"],
        )
    return out


#: Instance types with their public on-demand list prices, USD per hour (Linux: AWS
#: us-east-1 / us-west-2, Azure East US, Google Cloud us-central1), from
#: ``data/instance_types.csv``; ``platform`` is "vm" for plain instances, "sagemaker",
#: "azureml" or "vertex" for managed ML capacity.
INSTANCE_TYPES: dict[str, InstanceType] = _instance_types()

_PRICES = read_toml(PriceFile, "prices.toml")
_WHERE = "mlcost/sample/data/prices.toml"

#: Spot / low-priority prices used in the sample (USD per hour).
SPOT_PRICES: dict[str, Decimal] = {
    k: to_decimal(v, f"{_WHERE}: spot.{k}") for k, v in _PRICES.spot.items()
}

#: Storage and network list prices (USD per PricingUnit, in FOCUS unit format).
STORAGE_PRICES: dict[str, tuple[Decimal, str]] = {
    k: (to_decimal(v.price, f"{_WHERE}: storage.{k}"), v.unit) for k, v in _PRICES.storage.items()
}

#: Vertex AI custom training on a2-highgpu-8g (machine + 8 A100 + Vertex surcharge).
VERTEX_TRAINING_A2_8G = to_decimal(_PRICES.vertex.training_a2_8g, f"{_WHERE}: vertex")
#: Vertex AI online prediction node price per hour, by machine type.
VERTEX_PREDICTION = {
    k: to_decimal(v, f"{_WHERE}: vertex.prediction") for k, v in _PRICES.vertex.prediction.items()
}
#: Vertex AI Workbench instance price per hour (machine plus management fee).
VERTEX_WORKBENCH = {
    k: to_decimal(v, f"{_WHERE}: vertex.workbench") for k, v in _PRICES.vertex.workbench.items()
}


def ec2_instance_id(name: str) -> str:
    return "i-0" + hex_id(16, "ec2", name)


def ebs_volume_id(name: str) -> str:
    return "vol-0" + hex_id(16, "ebs", name)


def ebs_snapshot_id(name: str) -> str:
    return "snap-0" + hex_id(16, "snap", name)


def ami_id(name: str) -> str:
    return "ami-0" + hex_id(16, "ami", name)


def eip_id(name: str) -> str:
    return "eipalloc-0" + hex_id(16, "eip", name)


def sagemaker_arn(region: str, account: str, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:{kind}/{name.lower()}"


def azure_id(sub: str, rg: str, provider_type: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider_type}/{name}"


def gcp_compute_id(project: str, scope: str, collection: str, name: str) -> str:
    """``//compute.googleapis.com/projects/P/<scope>/<collection>/<name>``; scope is
    ``zones/Z``, ``regions/R`` or ``global``."""
    return f"//compute.googleapis.com/projects/{project}/{scope}/{collection}/{name}"


def gcp_numeric_id(*parts: str) -> str:
    return str(int(digest("num", *parts)[:15], 16))[:19]
