"""Fixed facts the sample organisation is built from: the window, accounts, regions,
instance types with their public on-demand list prices, and resource-id formats.

Nothing here is random: ids are derived from names with SHA-256, so the same name gives
the same id in every table and for every seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from mlcost import mappings

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


_AWS_PAYER = ("482910375561", "Acme Vision (management)", "Management Account")
_AZ_BILLING = (
    "7a4c2e91-5b3d-4f8a-9c6e-1d2b3a4f5e6c:0b9d8e7f-6a5b-4c3d-9e1f-0a9b8c7d6e5f_2019-05-31",
    "Acme Vision Inc.",
    "Billing Profile",
)
_GCP_BILLING = ("01A2B3-C4D5E6-F7A8B9", "Acme Vision GCP billing", "Billing Account")

ACCOUNTS: dict[str, Account] = {
    "aws-research": Account(
        "aws", *_AWS_PAYER, "203948576120", "acme-ml-research", "Linked Account"
    ),
    "aws-prod": Account("aws", *_AWS_PAYER, "318274650913", "acme-ml-prod", "Linked Account"),
    "aws-data": Account("aws", *_AWS_PAYER, "590127384465", "acme-data-platform", "Linked Account"),
    "az-research": Account(
        "azure",
        *_AZ_BILLING,
        "3f2b8c1e-7a4d-4e59-9b1c-2d6e8f0a7c35",
        "acme-vision-research",
        "Subscription",
    ),
    "az-prod": Account(
        "azure",
        *_AZ_BILLING,
        "b7e4d2a9-1c3f-4a8e-9d6b-5f0e2c7a1b94",
        "acme-vision-prod",
        "Subscription",
    ),
    "gcp-research": Account(
        "gcp", *_GCP_BILLING, "acme-vision-research", "Acme Vision Research", "Project"
    ),
    "gcp-serving": Account(
        "gcp", *_GCP_BILLING, "acme-vision-serving", "Acme Vision Serving", "Project"
    ),
    "gcp-data": Account("gcp", *_GCP_BILLING, "acme-data-lake", "Acme Data Lake", "Project"),
}

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


def _it(
    name: str,
    provider: str,
    vcpus: int,
    mem: float,
    gpus: int,
    gpu: str | None,
    price: str,
    prev: bool = False,
    platform: str = "vm",
) -> InstanceType:
    return InstanceType(name, provider, vcpus, mem, gpus, gpu, Decimal(price), prev, platform)


INSTANCE_TYPES: dict[str, InstanceType] = {
    t.name: t
    for t in (
        # AWS EC2 (us-east-1 / us-west-2 Linux on-demand)
        _it("p5.48xlarge", "aws", 192, 2048, 8, "H100", "55.04"),
        _it("p4d.24xlarge", "aws", 96, 1152, 8, "A100", "32.7726"),
        _it("p3.2xlarge", "aws", 8, 61, 1, "V100", "3.06", prev=True),
        _it("g5.xlarge", "aws", 4, 16, 1, "A10G", "1.006"),
        _it("g5.2xlarge", "aws", 8, 32, 1, "A10G", "1.212"),
        _it("g5.4xlarge", "aws", 16, 64, 1, "A10G", "1.624"),
        _it("g5.12xlarge", "aws", 48, 192, 4, "A10G", "5.672"),
        _it("m4.4xlarge", "aws", 16, 64, 0, None, "0.80", prev=True),
        _it("c4.4xlarge", "aws", 16, 30, 0, None, "0.796", prev=True),
        _it("m5.2xlarge", "aws", 8, 32, 0, None, "0.384"),
        _it("m6i.2xlarge", "aws", 8, 32, 0, None, "0.384"),
        _it("m6i.4xlarge", "aws", 16, 64, 0, None, "0.768"),
        _it("c6i.2xlarge", "aws", 8, 16, 0, None, "0.34"),
        _it("c6i.4xlarge", "aws", 16, 32, 0, None, "0.68"),
        _it("c6i.8xlarge", "aws", 32, 64, 0, None, "1.36"),
        _it("t3.large", "aws", 2, 8, 0, None, "0.0832"),
        # Amazon SageMaker (hosting, notebooks, training)
        _it("ml.g5.xlarge", "aws", 4, 16, 1, "A10G", "1.408", platform="sagemaker"),
        _it("ml.g4dn.xlarge", "aws", 4, 16, 1, "T4", "0.7364", platform="sagemaker"),
        _it("ml.t3.xlarge", "aws", 4, 16, 0, None, "0.20", platform="sagemaker"),
        _it("ml.p3.2xlarge", "aws", 8, 61, 1, "V100", "3.825", platform="sagemaker"),
        _it("ml.g5.2xlarge", "aws", 8, 32, 1, "A10G", "1.515", platform="sagemaker"),
        # Azure (East US, Linux pay-as-you-go)
        _it("Standard_ND96asr_v4", "azure", 96, 900, 8, "A100", "27.197"),
        _it("Standard_NC24ads_A100_v4", "azure", 24, 220, 1, "A100", "3.673"),
        _it("Standard_NC16as_T4_v3", "azure", 16, 110, 1, "T4", "1.204"),
        _it("Standard_NC4as_T4_v3", "azure", 4, 28, 1, "T4", "0.526"),
        _it("Standard_D4s_v5", "azure", 4, 16, 0, None, "0.192"),
        _it("Standard_D8s_v5", "azure", 8, 32, 0, None, "0.384"),
        _it("Standard_D16s_v5", "azure", 16, 64, 0, None, "0.768"),
        _it("Standard_DS4_v2", "azure", 8, 28, 0, None, "0.585", prev=True),
        _it("Standard_DS3_v2", "azure", 4, 14, 0, None, "0.229", prev=True),
        _it("Standard_DS11_v2", "azure", 2, 14, 0, None, "0.185", prev=True),
        _it("Standard_E8s_v5", "azure", 8, 64, 0, None, "0.504"),
        _it("Standard_E16s_v5", "azure", 16, 128, 0, None, "1.008"),
        _it("Standard_E32s_v5", "azure", 32, 256, 0, None, "2.016"),
        # Google Cloud (us-central1 on-demand)
        _it("a2-highgpu-8g", "gcp", 96, 680, 8, "A100", "29.387078"),
        _it("a2-highgpu-1g", "gcp", 12, 85, 1, "A100", "3.673385"),
        _it("g2-standard-4", "gcp", 4, 16, 1, "L4", "0.706832"),
        _it("g2-standard-8", "gcp", 8, 32, 1, "L4", "0.853624"),
        _it("n1-standard-16", "gcp", 16, 60, 0, None, "0.7600", prev=True),
        _it("n1-standard-4", "gcp", 4, 15, 0, None, "0.1900", prev=True),
        _it("n2d-standard-16", "gcp", 16, 64, 0, None, "0.675936"),
        _it("e2-standard-4", "gcp", 4, 16, 0, None, "0.134012"),
        _it("n2-standard-4", "gcp", 4, 16, 0, None, "0.194236"),
        _it("n2-standard-8", "gcp", 8, 32, 0, None, "0.388472"),
        _it("n2-highcpu-16", "gcp", 16, 16, 0, None, "0.573568"),
        _it("n2-highmem-8", "gcp", 8, 64, 0, None, "0.524056"),
        _it("n2-highmem-32", "gcp", 32, 256, 0, None, "2.096224"),
    )
}

#: Spot / low-priority prices used in the sample (USD per hour).
SPOT_PRICES: dict[str, Decimal] = {
    "g5.2xlarge": Decimal("0.4363"),
    "g5.12xlarge": Decimal("2.0416"),
    "g5.xlarge": Decimal("0.3621"),
    "n2-highcpu-16": Decimal("0.137656"),
    "ml.g5.2xlarge": Decimal("0.4545"),
}

#: Storage and network list prices (USD per PricingUnit, in FOCUS unit format).
STORAGE_PRICES: dict[str, tuple[Decimal, str]] = {
    "aws:gp3": (Decimal("0.08"), "GB-Months"),
    "aws:st1": (Decimal("0.045"), "GB-Months"),
    "aws:snapshot": (Decimal("0.05"), "GB-Months"),
    "aws:s3": (Decimal("0.023"), "GB-Months"),
    "aws:eip": (Decimal("0.005"), "Hours"),
    "azure:Premium_LRS": (Decimal("0.12"), "GB-Months"),
    "azure:StandardSSD_LRS": (Decimal("0.075"), "GB-Months"),
    "azure:snapshot": (Decimal("0.05"), "GB-Months"),
    "azure:image": (Decimal("0.05"), "GB-Months"),
    "azure:blob": (Decimal("0.0184"), "GB-Months"),
    "azure:pip": (Decimal("0.005"), "Hours"),
    "gcp:pd-balanced": (Decimal("0.10"), "GB-Months"),
    "gcp:pd-ssd": (Decimal("0.17"), "GB-Months"),
    "gcp:pd-standard": (Decimal("0.04"), "GB-Months"),
    "gcp:snapshot": (Decimal("0.05"), "GB-Months"),
    "gcp:image": (Decimal("0.085"), "GB-Months"),
    "gcp:gcs": (Decimal("0.020"), "GB-Months"),
    "gcp:address-in-use": (Decimal("0.005"), "Hours"),
    "gcp:address-reserved": (Decimal("0.01"), "Hours"),
    "gcp:bigquery": (Decimal("6.25"), "TiB"),
}

#: Vertex AI custom training on a2-highgpu-8g (machine + 8 A100 + Vertex surcharge).
VERTEX_TRAINING_A2_8G = Decimal("33.795140")
#: Vertex AI online prediction node price per hour, by machine type.
VERTEX_PREDICTION = {"g2-standard-4": Decimal("0.812857"), "n1-standard-4": Decimal("0.218499")}
#: Vertex AI Workbench instance price per hour (machine plus management fee).
VERTEX_WORKBENCH = {"e2-standard-4": Decimal("0.150762"), "a2-highgpu-1g": Decimal("3.890123")}


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
