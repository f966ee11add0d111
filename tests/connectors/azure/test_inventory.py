"""mlcost ingest azure against a fake ARM: the real azure-mgmt clients, recorded JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from mlcost.connectors.azure.inventory import AzureInventory

from mlcost.errors import InputError
from mlcost.store import Store

from .fake_arm import ARM, FakeArm, FakeCredential, arm_error

SUB = "11111111-2222-3333-4444-555555555555"
DENIED = "99999999-8888-7777-6666-555555555555"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-ml"
COMPUTE = f"{RG}/providers/Microsoft.Compute"
NOW = datetime(2026, 11, 24, 10, 30)
VM_BUSY = f"{COMPUTE}/virtualMachines/vm-busy"
VM_STOPPED = f"{COMPUTE}/virtualMachines/vm-stopped"
VM_DEALLOC = f"{COMPUTE}/virtualMachines/vm-dealloc"
NIC_CONFIG = (
    f"{RG}/providers/Microsoft.Network/networkInterfaces/vm-busy-nic/ipConfigurations/ipconfig1"
)
IMAGE = f"{COMPUTE}/images/img-cuda"
ENDPOINT = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/mlw/onlineEndpoints/ocr"
NETWORK = f"{RG}/providers/Microsoft.Network"
NAT_IDLE, NAT_BUSY = f"{NETWORK}/natGateways/nat-old", f"{NETWORK}/natGateways/nat-train"
LB_IDLE = f"{NETWORK}/loadBalancers/lb-demo"
ANF = f"{RG}/providers/Microsoft.NetApp/netAppAccounts/anf-ml"
ANF_VOLUME = f"{ANF}/capacityPools/premium/volumes/datasets"
WORKSPACE = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/mlw"
CI = f"{WORKSPACE}/computes/ci-alice"
CI_BOB = f"{WORKSPACE}/computes/ci-bob"


def vm(name: str, size: str, *, priority: str | None = None, image: str | None = None) -> dict:
    props: dict[str, Any] = {
        "vmId": f"id-{name}",
        "hardwareProfile": {"vmSize": size},
        "storageProfile": {"osDisk": {"osType": "Linux", "name": f"{name}-os"}},
        "provisioningState": "Succeeded",
        "timeCreated": "2026-03-01T08:00:00.1234567+00:00",
    }
    if priority:
        props["priority"] = priority
    if image:
        props["storageProfile"]["imageReference"] = {"id": image}
    return {
        "id": f"{COMPUTE}/virtualMachines/{name}",
        "name": name,
        "type": "Microsoft.Compute/virtualMachines",
        "location": "eastus",
        "tags": {"team": "vision"},
        "properties": props,
    }


def instance_view(power: str) -> dict:
    return {
        "statuses": [
            {
                "code": "ProvisioningState/succeeded",
                "level": "Info",
                "time": "2026-03-01T08:01:00Z",
            },
            {"code": f"PowerState/{power}", "level": "Info", "displayStatus": f"VM {power}"},
        ]
    }


def metrics_answer(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
    """Busy VM: three days of CPU and network, two hours of CPU; the others: nothing."""
    interval = query["interval"][0]
    names = query["metricnames"][0].split(",")
    series: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    if path.startswith(VM_BUSY):
        if interval == "P1D":
            series["Percentage CPU"] = [
                {"timeStamp": "2026-11-21T00:00:00Z", "average": 61.5, "maximum": 97.25},
                {"timeStamp": "2026-11-22T00:00:00Z", "average": 58.0, "maximum": 91.0},
                {"timeStamp": "2026-11-23T00:00:00Z"},  # no data that day
            ]
            series["Network In Total"] = [{"timeStamp": "2026-11-21T00:00:00Z", "total": 1.5e9}]
            series["Network Out Total"] = [{"timeStamp": "2026-11-21T00:00:00Z", "total": 2.0e8}]
        else:
            series["Percentage CPU"] = [
                {"timeStamp": "2026-11-24T08:00:00Z", "average": 40.0},
                {"timeStamp": "2026-11-24T09:00:00Z", "average": 42.5},
            ]
    if path.startswith(NAT_BUSY):
        series["ByteCount"] = [
            {"timeStamp": "2026-11-21T00:00:00Z", "total": 4.0e10},
            {"timeStamp": "2026-11-22T00:00:00Z", "total": 3.5e10},
        ]
    if path.startswith(ANF_VOLUME):  # operations per second, averaged over each day
        series["ReadIops"] = [{"timeStamp": "2026-11-21T00:00:00Z", "average": 12.5}]
        series["WriteIops"] = [{"timeStamp": "2026-11-21T00:00:00Z", "average": 2.5}]
    if path == f"{WORKSPACE}/providers/Microsoft.Insights/metrics":
        return 200, compute_instance_metrics(query)
    if path.startswith(ENDPOINT):  # requests per minute, summed over each day
        series["RequestsPerMinute"] = [
            {"timeStamp": "2026-11-21T00:00:00Z", "total": 0.0},
            {"timeStamp": "2026-11-22T00:00:00Z", "total": 3.0},
        ]
    return 200, {
        "cost": 0,
        "timespan": query["timespan"][0],
        "interval": interval,
        "namespace": "Microsoft.Compute/virtualMachines",
        "resourceregion": "eastus",
        "value": [
            {
                "id": f"{path}/{n}",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": n, "localizedValue": n},
                "unit": "Percent" if n == "Percentage CPU" else "Bytes",
                "timeseries": [{"metadatavalues": [], "data": data}] if data else [],
                "errorCode": "Success",
            }
            for n, data in series.items()
        ],
    }


def split_series(name: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    """One series of a workspace metric split by ComputeName."""
    dimension = {"value": "ComputeName", "localizedValue": "ComputeName"}
    return {"metadatavalues": [{"name": dimension, "value": name}], "data": data}


def compute_instance_metrics(query: dict[str, list[str]]) -> dict[str, Any]:
    """The workspace's CPU and GPU utilisation split by compute: ci-alice idle, ci-bob
    training on its GPU, the gpu-cluster (a cluster, not an instance) busy."""
    assert query["$filter"] == ["ComputeName eq '*'"] and query["top"] == ["1000"]
    daily = query["interval"][0] == "P1D"
    days = ["2026-11-21", "2026-11-22", "2026-11-23"]
    cpu = {
        "ci-alice": [{"timeStamp": f"{d}T00:00:00Z", "average": 1.5, "maximum": 4.0} for d in days]
        if daily
        else [{"timeStamp": "2026-11-24T09:00:00Z", "average": 1.25}],
        "ci-bob": [{"timeStamp": f"{d}T00:00:00Z", "average": 35.0, "maximum": 88.0} for d in days]
        if daily
        else [],
        "gpu-cluster": [{"timeStamp": f"{days[0]}T00:00:00Z", "average": 90.0, "maximum": 99.0}],
    }
    gpu = {
        "ci-alice": [{"timeStamp": f"{d}T00:00:00Z", "average": 0.0} for d in days]
        if daily
        else [],
        "ci-bob": [{"timeStamp": f"{d}T00:00:00Z", "average": 65.0} for d in days] if daily else [],
    }
    return {
        "timespan": query["timespan"][0],
        "interval": query["interval"][0],
        "namespace": "Microsoft.MachineLearningServices/workspaces",
        "resourceregion": "eastus",
        "value": [
            {
                "id": f"{WORKSPACE}/providers/Microsoft.Insights/metrics/{name}",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": name, "localizedValue": name},
                "unit": "Count",
                "timeseries": [split_series(c, data) for c, data in series.items() if data],
                "errorCode": "Success",
            }
            for name, series in (
                ("CpuUtilizationPercentage", cpu),
                ("GpuUtilizationPercentage", gpu),
            )
        ],
    }


def disk_price(meter: str, retail: float, unit: str, product: str) -> dict[str, Any]:
    """A managed-disk meter of the Retail Prices API (eastus list prices)."""
    return {
        "currencyCode": "USD",
        "tierMinimumUnits": 0.0,
        "retailPrice": retail,
        "unitPrice": retail,
        "armRegionName": "eastus",
        "location": "US East",
        "effectiveStartDate": "2024-01-01T00:00:00Z",
        "meterId": f"meter-{meter}",
        "meterName": meter,
        "productId": "DZH317F1HKN0",
        "skuId": f"DZH317F1HKN0/{meter[:4].strip()}",
        "productName": product,
        "skuName": meter.removesuffix(" Disk"),
        "serviceName": "Storage",
        "serviceFamily": "Storage",
        "unitOfMeasure": unit,
        "type": "Consumption",
        "isPrimaryMeterRegion": True,
        "armSkuName": "",
    }


V1, V2 = "Premium SSD Managed Disks", "Azure Premium SSD v2"
DISK_PRICES = [
    disk_price("P10 LRS Disk", 19.71, "1/Month", V1),
    disk_price("P30 LRS Disk", 135.17, "1/Month", V1),
    disk_price("P30 ZRS Disk", 202.75, "1/Month", V1),  # zone-redundant: not an LRS tier
    disk_price("P30 LRS Disk Mount", 0.5, "1/Month", V1),  # not a tier's price
    disk_price("Premium LRS Provisioned Capacity", 0.00011, "1 GiB/Hour", V2),
    disk_price("Premium LRS Provisioned IOPS", 0.0000066, "1/Hour", V2),
    disk_price("Premium LRS Provisioned Throughput (MBps)", 0.000055, "1/Hour", V2),
]


def price(size: str, retail: float, product: str, sku_name: str, sku_id: str) -> dict[str, Any]:
    return {
        "currencyCode": "USD",
        "tierMinimumUnits": 0.0,
        "retailPrice": retail,
        "unitPrice": retail,
        "armRegionName": "eastus",
        "location": "US East",
        "effectiveStartDate": "2024-01-01T00:00:00Z",
        "meterId": f"meter-{sku_id}",
        "meterName": sku_name,
        "productId": "DZH318Z0BQ4L",
        "skuId": sku_id,
        "productName": product,
        "skuName": sku_name,
        "serviceName": "Virtual Machines",
        "serviceFamily": "Compute",
        "unitOfMeasure": "1 Hour",
        "type": "Consumption",
        "isPrimaryMeterRegion": True,
        "armSkuName": size,
    }


def retail_prices(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
    """The public Retail Prices API: two pages, Windows and Spot meters beside Linux ones."""
    if "serviceName eq 'Storage'" in query["$filter"][0]:
        assert query["$filter"] == [
            "serviceName eq 'Storage' and priceType eq 'Consumption' and armRegionName eq "
            "'eastus' and (productName eq 'Premium SSD Managed Disks' or productName eq "
            "'Azure Premium SSD v2')"
        ]
        return 200, {"BillingCurrency": "USD", "Items": DISK_PRICES, "NextPageLink": None}
    if "$skip" in query:
        return 200, {
            "BillingCurrency": "USD",
            "Items": [
                price("Standard_E8s_v5", 0.504, "Virtual Machines Esv5 Series", "E8s v5", "E8/1"),
            ],
            "NextPageLink": None,
            "Count": 1,
        }
    assert query["$filter"] == [
        "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
        "and armRegionName eq 'eastus'"
    ]
    return 200, {
        "BillingCurrency": "USD",
        "Items": [
            price("Standard_D4s_v5", 0.376, "Virtual Machines Dsv5 Series Windows", "D4s v5", "W"),
            price("Standard_D4s_v5", 0.0384, "Virtual Machines Dsv5 Series", "D4s v5 Spot", "S"),
            price("Standard_D4s_v5", 0.192, "Virtual Machines Dsv5 Series", "D4s v5", "D4/1"),
            price(
                "Standard_NC4as_T4_v3",
                0.526,
                "Virtual Machines NCasT4 v3 Series",
                "NC4as T4 v3",
                "NC4/1",
            ),
        ],
        "NextPageLink": "https://prices.azure.com/api/retail/prices?$filter=page2&$skip=100",
        "Count": 4,
    }


def routes() -> dict[str, Any]:
    subs = f"/subscriptions/{SUB}"
    r: dict[str, Any] = {
        "/subscriptions": {
            "value": [
                {"id": subs, "subscriptionId": SUB, "displayName": "ML", "state": "Enabled"},
                {"id": "/subscriptions/x", "subscriptionId": "x", "state": "Disabled"},
            ]
        },
        f"{subs}/locations": {
            "value": [
                {"id": f"{subs}/locations/eastus", "name": "eastus", "displayName": "East US"},
                {"id": f"{subs}/locations/westeurope", "name": "westeurope"},
            ]
        },
        # Two pages: the next link carries on where the first stopped.
        f"{subs}/providers/Microsoft.Compute/virtualMachines": {
            "value": [vm("vm-busy", "Standard_NC4as_T4_v3", image=IMAGE)],
            "nextLink": f"{ARM}{subs}/providers/Microsoft.Compute/virtualMachines"
            "?api-version=x&$skiptoken=2",
        },
        f"{COMPUTE}/virtualMachines/vm-busy/instanceView": instance_view("running"),
        f"{COMPUTE}/virtualMachines/vm-stopped/instanceView": instance_view("stopped"),
        f"{COMPUTE}/virtualMachines/vm-dealloc/instanceView": instance_view("deallocated"),
        f"{subs}/providers/Microsoft.Compute/skus": {
            "value": [
                {
                    "resourceType": "virtualMachines",
                    "name": "Standard_NC4as_T4_v3",
                    "locations": ["eastus"],
                    "capabilities": [
                        {"name": "vCPUs", "value": "4"},
                        {"name": "MemoryGB", "value": "28"},
                        {"name": "GPUs", "value": "1"},
                    ],
                },
                {
                    "resourceType": "virtualMachines",
                    "name": "Standard_D4s_v5",
                    "locations": ["eastus"],
                    "capabilities": [
                        {"name": "vCPUs", "value": "4"},
                        {"name": "MemoryGB", "value": "16"},
                    ],
                },
                {"resourceType": "disks", "name": "Premium_LRS", "locations": ["eastus"]},
                {
                    "resourceType": "disks",
                    "name": "PremiumV2_LRS",
                    "locations": ["eastus"],
                    "locationInfo": [{"location": "eastus", "zones": ["3", "1", "2"]}],
                },
            ]
        },
        f"{subs}/providers/Microsoft.Compute/disks": {
            "value": [
                {
                    "id": f"{COMPUTE}/disks/vm-busy-os",
                    "name": "vm-busy-os",
                    "location": "eastus",
                    "managedBy": VM_BUSY,
                    "sku": {"name": "Premium_LRS", "tier": "Premium"},
                    "properties": {
                        "osType": "Linux",
                        "diskState": "Attached",
                        "diskSizeGB": 128,
                        "tier": "P10",
                        "timeCreated": "2026-03-01T08:00:00Z",
                        "creationData": {
                            "createOption": "FromImage",
                            "imageReference": {"id": IMAGE},
                        },
                    },
                },
                # data disks of the busy VM: one zonal (Premium SSD v2 is offered in
                # eastus's zones), one regional (v2 is not, for it)
                *(
                    {
                        "id": f"{COMPUTE}/disks/{name}",
                        "name": name,
                        "location": "eastus",
                        "managedBy": VM_BUSY,
                        "sku": {"name": "Premium_LRS", "tier": "Premium"},
                        **({"zones": zones} if zones else {}),
                        "properties": {
                            "diskState": "Attached",
                            "diskSizeGB": 1024,
                            "tier": "P30",
                            "timeCreated": "2026-03-01T08:00:00Z",
                            "creationData": {"createOption": "Empty"},
                        },
                    }
                    for name, zones in (("data-train", ["1"]), ("data-regional", None))
                ),
                {
                    "id": f"{COMPUTE}/disks/disk-old-data",
                    "name": "disk-old-data",
                    "location": "eastus",
                    "tags": {"team": "data"},
                    "sku": {"name": "Premium_LRS"},
                    "properties": {
                        "diskState": "Unattached",
                        "diskSizeGB": 1024,
                        "tier": "P30",
                        "timeCreated": "2026-01-10T12:00:00Z",
                        "lastOwnershipUpdateTime": "2026-06-02T10:00:00Z",
                        "creationData": {"createOption": "Empty"},
                    },
                },
            ]
        },
        f"{subs}/providers/Microsoft.Compute/snapshots": {
            "value": [
                {
                    "id": f"{COMPUTE}/snapshots/snap-of-deleted",
                    "name": "snap-of-deleted",
                    "location": "eastus",
                    "properties": {
                        "diskSizeGB": 256,
                        "incremental": True,
                        "timeCreated": "2026-05-01T01:00:00Z",
                        "creationData": {
                            "createOption": "Copy",
                            "sourceResourceId": f"{COMPUTE}/disks/disk-deleted-long-ago",
                        },
                    },
                }
            ]
        },
        f"{subs}/providers/Microsoft.Compute/images": {
            "value": [
                {
                    "id": IMAGE,
                    "name": "img-cuda",
                    "location": "eastus",
                    "properties": {
                        "hyperVGeneration": "V2",
                        "storageProfile": {
                            "osDisk": {
                                "osType": "Linux",
                                "osState": "Generalized",
                                "diskSizeGB": 64,
                                "snapshot": {"id": f"{COMPUTE}/snapshots/snap-of-deleted"},
                            }
                        },
                    },
                }
            ]
        },
        f"{subs}/providers/Microsoft.Network/publicIPAddresses": {
            "value": [
                {
                    "id": f"{RG}/providers/Microsoft.Network/publicIPAddresses/pip-busy",
                    "name": "pip-busy",
                    "location": "eastus",
                    "sku": {"name": "Standard"},
                    "properties": {
                        "ipAddress": "20.1.2.3",
                        "publicIPAllocationMethod": "Static",
                        "ipConfiguration": {"id": NIC_CONFIG},
                    },
                },
                {
                    "id": f"{RG}/providers/Microsoft.Network/publicIPAddresses/pip-nat",
                    "name": "pip-nat",
                    "location": "eastus",
                    "sku": {"name": "Standard"},
                    "properties": {
                        "ipAddress": "20.1.2.4",
                        "publicIPAllocationMethod": "Static",
                        "natGateway": {"id": f"{RG}/providers/Microsoft.Network/natGateways/nat-1"},
                    },
                },
                {
                    "id": f"{RG}/providers/Microsoft.Network/publicIPAddresses/pip-idle",
                    "name": "pip-idle",
                    "location": "eastus",
                    "sku": {"name": "Standard"},
                    "properties": {"ipAddress": "20.1.2.5", "publicIPAllocationMethod": "Static"},
                },
            ]
        },
        f"{subs}/providers/Microsoft.Network/networkInterfaces": {
            "value": [
                {
                    "id": f"{RG}/providers/Microsoft.Network/networkInterfaces/vm-busy-nic",
                    "name": "vm-busy-nic",
                    "location": "eastus",
                    "properties": {
                        "virtualMachine": {"id": VM_BUSY},
                        "ipConfigurations": [{"id": NIC_CONFIG, "name": "ipconfig1"}],
                    },
                }
            ]
        },
    }
    # The second page of VMs is the same URL with a skip token: answer it by query.
    first_page = r[f"{subs}/providers/Microsoft.Compute/virtualMachines"]

    def vm_pages(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if "$skiptoken" in query:
            return 200, {
                "value": [
                    vm("vm-stopped", "Standard_D4s_v5"),
                    vm("vm-dealloc", "Standard_D4s_v5", priority="Spot"),
                ]
            }
        return 200, first_page

    r[f"{subs}/providers/Microsoft.Compute/virtualMachines"] = vm_pages
    r["/api/retail/prices"] = retail_prices
    ml = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces"
    r[f"{subs}/providers/Microsoft.MachineLearningServices/workspaces"] = {
        "value": [{"id": f"{ml}/mlw", "name": "mlw", "location": "eastus"}]
    }
    r[f"{ml}/mlw/onlineEndpoints"] = {
        "value": [
            {
                "id": ENDPOINT,
                "name": "ocr",
                "location": "eastus",
                "tags": {"team": "applied"},
                "systemData": {"createdAt": "2025-12-06T00:00:00Z"},
                "properties": {"authMode": "Key", "provisioningState": "Succeeded"},
            }
        ]
    }
    r[f"{ENDPOINT}/deployments"] = {
        "value": [
            {
                "id": f"{ENDPOINT}/deployments/blue",
                "name": "blue",
                "sku": {"name": "Default", "capacity": 2},
                "properties": {
                    "endpointComputeType": "Managed",
                    "instanceType": "Standard_D4s_v5",
                    "provisioningState": "Succeeded",
                },
            }
        ]
    }
    r[f"{ENDPOINT}/providers/Microsoft.Insights/metrics"] = metrics_answer
    for vm_id in (VM_BUSY, VM_STOPPED, VM_DEALLOC):
        r[f"{vm_id}/providers/Microsoft.Insights/metrics"] = metrics_answer
    r[f"{subs}/providers/Microsoft.Network/natGateways"] = {
        "value": [
            {
                "id": nat,
                "name": nat.rsplit("/", 1)[1],
                "location": "eastus",
                "sku": {"name": "Standard"},
                "properties": {
                    "idleTimeoutInMinutes": 4,
                    "provisioningState": "Succeeded",
                    "publicIpAddresses": [{"id": f"{NETWORK}/publicIPAddresses/pip-nat"}],
                    "subnets": [{"id": f"{NETWORK}/virtualNetworks/v/subnets/{n}"}
                                for n in subnets],
                },
            }
            for nat, subnets in ((NAT_IDLE, []), (NAT_BUSY, ["train"]))
        ]
    }  # fmt: skip
    r[f"{subs}/providers/Microsoft.Network/loadBalancers"] = {
        "value": [
            {
                "id": LB_IDLE,
                "name": "lb-demo",
                "location": "eastus",
                "tags": {"team": "applied"},
                "sku": {"name": "Standard", "tier": "Regional"},
                "properties": {
                    "provisioningState": "Succeeded",
                    "frontendIPConfigurations": [{"id": f"{LB_IDLE}/frontendIPConfigurations/fe"}],
                    "backendAddressPools": [{"id": f"{LB_IDLE}/backendAddressPools/be"}],
                    "loadBalancingRules": [],
                },
            }
        ]
    }
    r[f"{subs}/providers/Microsoft.NetApp/netAppAccounts"] = {
        "value": [{"id": ANF, "name": "anf-ml", "location": "eastus"}]
    }
    r[f"{ANF}/capacityPools"] = {
        "value": [{"id": f"{ANF}/capacityPools/premium", "name": "anf-ml/premium"}]
    }
    r[f"{ANF}/capacityPools/premium/volumes"] = {
        "value": [
            {
                "id": ANF_VOLUME,
                "name": "anf-ml/premium/datasets",
                "location": "eastus",
                "systemData": {"createdAt": "2026-02-01T00:00:00Z"},
                "properties": {
                    "provisioningState": "Succeeded",
                    "serviceLevel": "Premium",
                    "usageThreshold": 4398046511104,  # 4 TiB
                    "protocolTypes": ["NFSv4.1"],
                },
            }
        ]
    }
    r[f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/mlw/computes"] = {
        "value": [
            {
                "id": CI,
                "name": "ci-alice",
                "location": "eastus",
                "properties": {
                    "computeType": "ComputeInstance",
                    "createdOn": "2026-05-04T09:30:00Z",
                    "properties": {
                        "vmSize": "Standard_NC4as_T4_v3",
                        "state": "Running",
                        "idleTimeBeforeShutdown": "PT60M",
                        "lastOperation": {
                            "operationName": "Start",
                            "operationTime": "2026-11-03T08:10:00Z",
                            "operationStatus": "Succeeded",
                        },
                        "personalComputeInstanceSettings": {
                            "assignedUser": {"objectId": "a1b2", "tenantId": "t"}
                        },
                    },
                },
            },
            {
                "id": CI_BOB,
                "name": "ci-bob",
                "location": "eastus",
                "properties": {
                    "computeType": "ComputeInstance",
                    "createdOn": "2026-09-01T09:00:00Z",
                    "properties": {"vmSize": "Standard_NC4as_T4_v3", "state": "Running"},
                },
            },
            {
                "id": CI.replace("computes/ci-alice", "computes/gpu-cluster"),
                "name": "gpu-cluster",
                "location": "eastus",
                "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "x"}},
            },
        ]
    }
    for rid in (NAT_IDLE, NAT_BUSY, LB_IDLE, ANF_VOLUME, WORKSPACE):
        r[f"{rid}/providers/Microsoft.Insights/metrics"] = metrics_answer
    return r


def scan(
    transport: FakeArm, *, client: dict[str, Any] | None = None, **kwargs: Any
) -> AzureInventory:
    """The connector on the fake ARM, three days back from NOW, without back-off sleeps."""
    options: dict[str, Any] = {"lookback_days": 3, "now": NOW, **kwargs}
    return AzureInventory(
        credential=FakeCredential(),
        client_kwargs={"transport": transport, "retry_backoff_factor": 0, **(client or {})},
        **options,
    )


def resources(store: Store) -> dict[str, dict[str, Any]]:
    """The resources table keyed by the last part of each id."""
    with store.reader() as con:
        cur = con.execute("SELECT * EXCLUDE (ingested_at) FROM resources ORDER BY resource_id")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return {row["resource_id"].rsplit("/", 1)[1]: row for row in rows}


def test_inventory_rows(store: Store) -> None:
    store.init()
    fake = FakeArm(routes())
    result = store.load(scan(fake).batches())
    got = resources(store)
    assert sorted(got) == [
        "ci-alice", "ci-bob", "data-regional", "data-train", "datasets", "disk-old-data",
        "img-cuda", "lb-demo", "nat-old", "nat-train", "ocr", "pip-busy", "pip-idle", "pip-nat",
        "snap-of-deleted", "vm-busy", "vm-busy-os", "vm-dealloc", "vm-stopped",
    ]  # fmt: skip
    # Both regions of the subscription are partitions: eastus with rows, westeurope empty.
    assert result.partitions["resources"] == 2
    common = {"provider": "azure", "account_id": SUB, "region": "eastus", "source": "azure"}
    assert got["vm-busy"] == {
        **common,
        "resource_id": VM_BUSY,
        "resource_type": "vm",
        "name": "vm-busy",
        "state": "running",
        "created_at": datetime(2026, 3, 1, 8, 0, 0, 123456),
        "observed_at": NOW,
        "instance_type": "Standard_NC4as_T4_v3",
        "vcpus": 4,
        "memory_gb": 28.0,
        "gpu_count": 1,
        "gpu_model": "T4",
        "attached_to": None,
        "source_id": IMAGE,
        "size_gb": None,
        "lifecycle": "on-demand",
        "last_used_at": None,
        "details": '{"os_type": "Linux", "power_state": "PowerState/running", '
        '"resource_group": "rg-ml", "vm_id": "id-vm-busy"}',
        "tags": '{"team": "vision"}',
    }
    # Stopped (still billed) and deallocated (not) are told apart.
    assert got["vm-stopped"]["state"] == "stopped"
    assert json.loads(got["vm-stopped"]["details"])["power_state"] == "PowerState/stopped"
    assert (got["vm-stopped"]["vcpus"], got["vm-stopped"]["gpu_count"]) == (4, 0)
    assert got["vm-stopped"]["gpu_model"] is None
    assert got["vm-dealloc"]["state"] == "deallocated"
    assert got["vm-dealloc"]["lifecycle"] == "spot"
    # Attached vs unattached disk.
    assert {k: got["vm-busy-os"][k] for k in ("state", "attached_to", "source_id", "size_gb")} == {
        "state": "in-use",
        "attached_to": VM_BUSY,
        "source_id": IMAGE,
        "size_gb": 128.0,
    }
    assert got["vm-busy-os"]["last_used_at"] is None
    assert got["disk-old-data"] == {
        **common,
        "resource_id": f"{COMPUTE}/disks/disk-old-data",
        "resource_type": "volume",
        "name": "disk-old-data",
        "state": "available",
        "created_at": datetime(2026, 1, 10, 12),
        "observed_at": NOW,
        "instance_type": None,
        "vcpus": None,
        "memory_gb": None,
        "gpu_count": None,
        "gpu_model": None,
        "attached_to": None,
        "source_id": None,
        "size_gb": 1024.0,
        "lifecycle": None,
        "last_used_at": datetime(2026, 6, 2, 10),
        "details": '{"disk_state": "Unattached", "last_ownership_update": "2026-06-02T10:00:00Z", '
        '"premium_v2_zones": ["1", "2", "3"], "resource_group": "rg-ml", "sku": "Premium_LRS", '
        '"tier": "P30"}',
        "tags": '{"team": "data"}',
    }
    # A snapshot of a disk that no longer exists keeps the source id; the image uses it.
    assert got["snap-of-deleted"]["source_id"] == f"{COMPUTE}/disks/disk-deleted-long-ago"
    assert got["snap-of-deleted"]["size_gb"] == 256.0
    assert got["snap-of-deleted"]["details"] == '{"incremental": true}'
    assert got["img-cuda"]["source_id"] == f"{COMPUTE}/snapshots/snap-of-deleted"
    assert got["img-cuda"]["size_gb"] == 64.0
    # Public IPs: bound to a VM's NIC, to a NAT gateway, or to nothing (unused).
    assert (got["pip-busy"]["state"], got["pip-busy"]["attached_to"]) == ("in-use", VM_BUSY)
    assert got["pip-nat"]["state"] == "in-use"
    assert got["pip-nat"]["attached_to"].endswith("/natGateways/nat-1")
    assert (got["pip-idle"]["state"], got["pip-idle"]["attached_to"]) == ("available", None)
    assert got["pip-idle"]["details"] == (
        '{"allocation": "Static", "ip_address": "20.1.2.5", "ip_configuration": null, '
        '"sku": "Standard"}'
    )
    # An Azure ML online endpoint with its deployment's instances.
    assert {k: v for k, v in got["ocr"].items() if v is not None} == {
        **common,
        "resource_id": ENDPOINT,
        "resource_type": "endpoint",
        "name": "ocr",
        "state": "running",
        "created_at": datetime(2025, 12, 6),
        "observed_at": NOW,
        "instance_type": "Standard_D4s_v5",
        "vcpus": 4,
        "memory_gb": 16.0,
        "gpu_count": 0,
        "details": '{"deployments": [{"instance_count": 2, "instance_type": "Standard_D4s_v5", '
        '"name": "blue"}], "instance_count": 2, "workspace": "mlw"}',
        "tags": '{"team": "applied"}',
    }
    # The second page of VMs was followed.
    assert (
        fake.calls.count(f"GET /subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines")
        == 2
    )


def test_metric_rows(store: Store) -> None:
    store.init()
    store.load(scan(FakeArm(routes())).batches())
    with store.reader() as con:
        rows = con.execute(
            "SELECT resource_id, metric, ts, value, stat, period_s, source FROM metrics "
            "WHERE resource_id IN (?, ?) ORDER BY resource_id, period_s DESC, metric, stat, ts",
            [VM_BUSY, ENDPOINT],
        ).fetchall()
    assert rows == [
        (VM_BUSY, "cpu_util_pct", datetime(2026, 11, 21), 61.5, "Average", 86400, "azure"),
        (VM_BUSY, "cpu_util_pct", datetime(2026, 11, 22), 58.0, "Average", 86400, "azure"),
        (VM_BUSY, "cpu_util_pct", datetime(2026, 11, 21), 97.25, "Maximum", 86400, "azure"),
        (VM_BUSY, "cpu_util_pct", datetime(2026, 11, 22), 91.0, "Maximum", 86400, "azure"),
        (VM_BUSY, "net_in_bytes", datetime(2026, 11, 21), 1.5e9, "Sum", 86400, "azure"),
        (VM_BUSY, "net_out_bytes", datetime(2026, 11, 21), 2.0e8, "Sum", 86400, "azure"),
        (VM_BUSY, "cpu_util_pct", datetime(2026, 11, 24, 8), 40.0, "Average", 3600, "azure"),
        (VM_BUSY, "cpu_util_pct", datetime(2026, 11, 24, 9), 42.5, "Average", 3600, "azure"),
        (ENDPOINT, "invocations", datetime(2026, 11, 21), 0.0, "Sum", 86400, "azure"),
        (ENDPOINT, "invocations", datetime(2026, 11, 22), 3.0, "Sum", 86400, "azure"),
    ]


def test_price_rows(store: Store) -> None:
    store.init()
    store.load(scan(FakeArm(routes())).batches())
    with store.reader() as con:
        rows = con.execute(
            "SELECT provider, region, instance_type, sku, unit, price_per_hour, currency, source, "
            "vcpus, memory_gb, gpu_count, gpu_model FROM prices WHERE instance_type IS NOT NULL "
            "ORDER BY instance_type"
        ).fetchall()
        dated = con.execute("SELECT DISTINCT price_type, effective_at FROM prices").fetchall()
    assert dated == [("on-demand", datetime(2024, 1, 1))]  # the meter's effectiveStartDate
    assert rows == [
        ("azure", "eastus", "Standard_D4s_v5", "D4/1", "Hours", Decimal("0.192"), "USD", "azure",
         4, 16.0, 0, None),
        ("azure", "eastus", "Standard_E8s_v5", "E8/1", "Hours", Decimal("0.504"), "USD", "azure",
         None, None, None, None),
        ("azure", "eastus", "Standard_NC4as_T4_v3", "NC4/1", "Hours", Decimal("0.526"), "USD",
         "azure", 4, 28.0, 1, "T4"),
    ]  # fmt: skip


def test_metrics_request_window() -> None:
    seen: list[dict[str, list[str]]] = []
    r = routes()

    def record(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        seen.append(query)
        return metrics_answer(path, query)

    r[f"{VM_BUSY}/providers/Microsoft.Insights/metrics"] = record
    list(scan(FakeArm(r), subscriptions=[SUB]).batches())
    assert [(q["interval"][0], q["timespan"][0], q["aggregation"][0]) for q in seen] == [
        ("P1D", "2026-11-21T00:00:00Z/2026-11-24T00:00:00Z", "Average,Maximum,Total"),
        ("PT1H", "2026-11-21T10:00:00Z/2026-11-24T10:00:00Z", "Average"),
    ]


def test_region_filter_scans_only_that_region(store: Store) -> None:
    store.init()
    result = store.load(scan(FakeArm(routes()), regions=["westeurope"]).batches())
    assert result.partitions["resources"] == 1
    assert resources(store) == {}


def test_throttled_call_succeeds_on_retry(store: Store) -> None:
    store.init()
    r = routes()
    disks = f"/subscriptions/{SUB}/providers/Microsoft.Compute/disks"
    r[disks] = [
        (*arm_error(429, "TooManyRequests", "slow down"), {"Retry-After": "0"}),
        (200, r[disks]),
    ]
    fake = FakeArm(r)
    store.load(scan(fake).batches())
    assert fake.calls.count(f"GET {disks}") == 2
    assert resources(store)["disk-old-data"]["state"] == "available"


def test_throttled_for_good_names_the_call_and_leaves_store(store: Store) -> None:
    store.init()
    store.load(scan(FakeArm(routes())).batches())
    before = resources(store)
    r = routes()
    r[f"/subscriptions/{SUB}/providers/Microsoft.Compute/snapshots"] = [
        (*arm_error(429, "TooManyRequests", "slow down"), {"Retry-After": "0"})
    ]
    with pytest.raises(InputError) as caught:
        store.load(
            scan(FakeArm(r), now=datetime(2026, 11, 25), client={"retry_total": 1}).batches()
        )
    assert caught.value.message == (
        f"Azure kept throttling snapshots.list on subscription {SUB} "
        "(HTTP 429 TooManyRequests) after retries."
    )
    assert resources(store) == before


def test_a_forbidden_subscription_is_skipped_with_a_warning_and_the_rest_loads(
    store: Store,
) -> None:
    store.init()
    store.load(scan(FakeArm(routes())).batches())
    before = resources(store)
    r = routes()
    r["/subscriptions"] = {
        "value": [
            {"subscriptionId": DENIED, "state": "Enabled"},
            {"subscriptionId": SUB, "state": "Enabled"},
        ]
    }
    r[f"/subscriptions/{DENIED}/providers/Microsoft.Compute/virtualMachines"] = arm_error(
        403, "AuthorizationFailed", "The client does not have authorization"
    )
    second = scan(FakeArm(r))
    store.load(second.batches())
    assert second.warnings == [
        f"Azure denied virtualMachines.list_all on subscription {DENIED} "
        "(HTTP 403 AuthorizationFailed). Skipped: its earlier inventory is kept."
    ]
    assert [s.subscription_id for s in second.summaries] == [SUB]  # scanned after the refusal
    after = resources(store)
    assert after.keys() == before.keys()
    assert all(DENIED not in row["resource_id"] for row in after.values())


def test_nat_gateways_load_balancers_netapp_volumes_and_compute_instances(store: Store) -> None:
    store.init()
    store.load(scan(FakeArm(routes())).batches())
    got = resources(store)
    common = {"provider": "azure", "account_id": SUB, "region": "eastus", "source": "azure"}

    def present(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if v is not None}

    assert present(got["nat-old"]) == {
        **common,
        "resource_id": NAT_IDLE,
        "resource_type": "nat_gateway",
        "name": "nat-old",
        "state": "available",
        "observed_at": NOW,
        "details": '{"idle_timeout_minutes": 4, "public_ips": 1, "resource_group": "rg-ml", '
        '"sku": "Standard", "subnets": 0}',
        "tags": "{}",
    }
    assert present(got["lb-demo"]) == {
        **common,
        "resource_id": LB_IDLE,
        "resource_type": "load_balancer",
        "name": "lb-demo",
        "state": "active",
        "observed_at": NOW,
        "details": '{"backend_pools": 1, "frontends": 1, "lb_type": "standard", '
        '"resource_group": "rg-ml", "rules": 0}',
        "tags": '{"team": "applied"}',
    }
    assert present(got["datasets"]) == {
        **common,
        "resource_id": ANF_VOLUME,
        "resource_type": "file_system",
        "name": "datasets",
        "state": "available",
        "created_at": datetime(2026, 2, 1),
        "observed_at": NOW,
        "size_gb": 4096.0,
        "details": '{"file_system_type": "netapp", "protocols": ["NFSv4.1"], '
        '"resource_group": "rg-ml", "service_level": "Premium"}',
        "tags": "{}",
    }
    # the notebook VM of an Azure ML workspace (the AmlCompute cluster is not one)
    assert present(got["ci-alice"]) == {
        **common,
        "resource_id": CI,
        "resource_type": "notebook",
        "name": "ci-alice",
        "state": "running",
        "created_at": datetime(2026, 5, 4, 9, 30),
        "observed_at": NOW,
        "instance_type": "Standard_NC4as_T4_v3",
        "vcpus": 4,
        "memory_gb": 28.0,
        "gpu_count": 1,
        "gpu_model": "T4",
        "details": '{"idle_time_before_shutdown": "PT60M", "last_operation": "Start", '
        '"last_operation_at": "2026-11-03T08:10:00Z", "owner": "a1b2", '
        '"platform": "azureml-compute-instance", "workspace": "mlw"}',
        "tags": "{}",
    }
    with store.reader() as con:
        rows = con.execute(
            "SELECT resource_id, metric, ts, value, stat, period_s FROM metrics "
            "WHERE resource_id IN (?, ?, ?, ?) ORDER BY resource_id, ts",
            [NAT_IDLE, NAT_BUSY, LB_IDLE, ANF_VOLUME],
        ).fetchall()
    assert rows == [
        # (12.5 + 2.5) operations a second × 86,400
        (ANF_VOLUME, "disk_io_ops", datetime(2026, 11, 21), 1_296_000.0, "Sum", 86400),
        (NAT_BUSY, "net_out_bytes", datetime(2026, 11, 21), 4.0e10, "Sum", 86400),
        (NAT_BUSY, "net_out_bytes", datetime(2026, 11, 22), 3.5e10, "Sum", 86400),
    ]  # the idle gateway and load balancer published nothing


def test_the_new_rules_judge_what_the_azure_scan_read(store: Store) -> None:
    """An Azure scan alone (no bill, no network prices): the idle NAT gateway and load
    balancer are found (no data points in an account whose metrics were read), the busy
    gateway and the NetApp volume in use are not; the savings are unknown, not zero."""
    from mlcost.recommendations import analyze_recommendations, list_recommendations

    store.init()
    store.load(scan(FakeArm(routes())).batches())
    analyze_recommendations(store)
    with store.reader() as con:
        found = list_recommendations(
            con, rules=["idle_nat_gateway", "idle_load_balancer", "idle_file_system"]
        ).to_pylist()
    assert sorted((f["rule"], f["resource_id"]) for f in found) == [
        ("idle_load_balancer", LB_IDLE),
        ("idle_nat_gateway", NAT_IDLE),
    ]
    assert {
        (f["monthly_cost"], f["estimated_monthly_savings"], f["confidence"]) for f in found
    } == {(None, None, "low")}


def test_compute_instances_utilisation_from_their_workspace(store: Store) -> None:
    """An Azure ML compute instance has no metrics of its own: its workspace publishes its
    CPU and GPU utilisation under its name (ComputeName); a cluster's series is not an
    instance's."""
    store.init()
    store.load(scan(FakeArm(routes())).batches())
    with store.reader() as con:
        rows = con.execute(
            "SELECT resource_id, metric, ts, value, stat, period_s FROM metrics "
            "WHERE starts_with(resource_id, ?) "
            "ORDER BY resource_id, metric, stat, period_s DESC, ts",
            [f"{WORKSPACE}/computes/"],
        ).fetchall()
    days = [datetime(2026, 11, d) for d in (21, 22, 23)]

    def daily(ci: str, metric: str, value: float, stat: str) -> list[tuple[Any, ...]]:
        return [(ci, metric, day, value, stat, 86400) for day in days]

    assert rows == [
        *daily(CI, "cpu_util_pct", 1.5, "Average"),
        (CI, "cpu_util_pct", datetime(2026, 11, 24, 9), 1.25, "Average", 3600),
        *daily(CI, "cpu_util_pct", 4.0, "Maximum"),
        *daily(CI, "gpu_util_pct", 0.0, "Average"),
        *daily(CI_BOB, "cpu_util_pct", 35.0, "Average"),
        *daily(CI_BOB, "cpu_util_pct", 88.0, "Maximum"),
        *daily(CI_BOB, "gpu_util_pct", 65.0, "Average"),
    ]


def test_managed_disk_prices_and_what_premium_ssd_v2_depends_on(store: Store) -> None:
    store.init()
    store.load(scan(FakeArm(routes())).batches())
    with store.reader() as con:
        prices = con.execute(
            "SELECT region, product, unit, price_per_hour, sku, effective_at FROM prices "
            "WHERE product IS NOT NULL ORDER BY product"
        ).fetchall()
    stamp = datetime(2024, 1, 1)
    # LRS tiers by the month (not ZRS, not the mount meter); v2 by the hour
    assert prices == [
        ("eastus", "volume:premium_lrs:p10", "Months", Decimal("19.71"), "DZH317F1HKN0/P10",
         stamp),
        ("eastus", "volume:premium_lrs:p30", "Months", Decimal("135.17"), "DZH317F1HKN0/P30",
         stamp),
        ("eastus", "volume:premiumv2_lrs", "GiB-Hours", Decimal("0.00011"), "DZH317F1HKN0/Prem",
         stamp),
        ("eastus", "volume_iops:premiumv2_lrs", "IOPS-Hours", Decimal("0.0000066"),
         "DZH317F1HKN0/Prem", stamp),
        ("eastus", "volume_throughput:premiumv2_lrs", "MBps-Hours", Decimal("0.000055"),
         "DZH317F1HKN0/Prem", stamp),
    ]  # fmt: skip
    got = resources(store)
    assert json.loads(got["data-train"]["details"]) == {
        "disk_state": "Attached",
        "premium_v2_zones": ["1", "2", "3"],
        "resource_group": "rg-ml",
        "sku": "Premium_LRS",
        "tier": "P30",
        "zones": ["1"],
    }
    assert json.loads(got["vm-busy-os"]["details"])["os_type"] == "Linux"
    assert "zones" not in json.loads(got["data-regional"]["details"])


def test_premium_ssd_v2_and_idle_compute_instances_judged_from_the_azure_scan(
    store: Store,
) -> None:
    """volume_type_upgrade: the zonal P30 data disk moves to Premium SSD v2; the regional
    one (v2 is zonal in eastus) and the OS disk do not. idle_notebook (3 days): the
    compute instance idle on CPU and GPU is found, the one training on its GPU is not."""
    from mlcost.recommendations import analyze_recommendations, list_recommendations

    store.init()
    store.load(scan(FakeArm(routes())).batches())
    analyze_recommendations(store, {"idle_notebook": {"idle_days": 3}})
    with store.reader() as con:
        found = list_recommendations(
            con, rules=["volume_type_upgrade", "idle_notebook"]
        ).to_pylist()
    assert sorted((f["rule"], f["resource_id"]) for f in found) == [
        ("idle_notebook", CI),
        ("volume_type_upgrade", f"{COMPUTE}/disks/data-train"),
    ]
    by_rule = {f["rule"]: f for f in found}
    disk = by_rule["volume_type_upgrade"]
    evidence = json.loads(disk["evidence"])
    # P30 a month: 135.17; v2 at 1,024 GiB, 5,000 IOPS, 200 MB/s, 730 hours:
    # 1,024 × 0.00011 × 730 + (5,000 − 3,000) × 0.0000066 × 730 + (200 − 125) × 0.000055
    # × 730 = 82.2272 + 9.636 + 3.01125 = 94.87445; no bill: the saving is the difference
    assert (evidence["current_tier"], evidence["iops_matched"]) == ("P30", 5000)
    assert evidence["current_list_cost"] == 135.17
    assert evidence["suggested_list_cost"] == pytest.approx(94.87445, abs=1e-4)  # to 4 places
    assert disk["monthly_cost"] is None
    assert round(disk["estimated_monthly_savings"], 6) == Decimal("40.29555")
    assert disk["confidence"] == "medium"
    notebook = by_rule["idle_notebook"]
    # running at its list price: 0.526 × 730
    assert notebook["estimated_monthly_savings"] == Decimal("383.98")
    assert json.loads(notebook["evidence"])["cpu_peak_pct"] == 4.0


def test_a_compute_instance_used_in_office_hours_gets_a_schedule(store: Store) -> None:
    """Two weeks of hourly workspace metrics: ci-bob works 08-20 UTC on weekdays and idles
    otherwise (offhours_schedule); ci-alice idles all week (no schedule: it is just idle)."""
    from mlcost.recommendations import analyze_recommendations, list_recommendations

    def hourly(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if query["interval"][0] != "PT1H":
            return 200, compute_instance_metrics(query)
        start, end = (
            datetime.fromisoformat(s.removesuffix("Z")) for s in query["timespan"][0].split("/")
        )
        hours = [
            start + timedelta(hours=n) for n in range(int((end - start).total_seconds()) // 3600)
        ]

        def points(busy: Callable[[datetime], bool]) -> list[dict[str, Any]]:
            return [
                {"timeStamp": f"{h:%Y-%m-%dT%H:%M:%SZ}", "average": 60.0 if busy(h) else 2.0}
                for h in hours
            ]

        office = points(lambda h: h.weekday() < 5 and 8 <= h.hour < 20)
        idle = points(lambda h: False)
        cpu = [split_series("ci-bob", office), split_series("ci-alice", idle)]
        return 200, {
            "timespan": query["timespan"][0],
            "interval": "PT1H",
            "value": [
                {"id": "cpu", "name": {"value": "CpuUtilizationPercentage"}, "unit": "Count",
                 "timeseries": cpu},
                {"id": "gpu", "name": {"value": "GpuUtilizationPercentage"}, "unit": "Count",
                 "timeseries": []},
            ],
        }  # fmt: skip

    r = routes()
    r[f"{WORKSPACE}/providers/Microsoft.Insights/metrics"] = hourly
    store.init()
    store.load(scan(FakeArm(r), lookback_days=14).batches())
    analyze_recommendations(store)
    with store.reader() as con:
        found = list_recommendations(con, rules=["offhours_schedule"]).to_pylist()
    assert [f["resource_id"] for f in found] == [CI_BOB]
    evidence = json.loads(found[0]["evidence"])
    assert evidence["idle_offhours_hours_per_week"] == 108  # 168 − 5 × 12 office hours
    assert evidence["week"][0] == "Mon " + "." * 8 + "#" * 12 + "." * 4
    # running at its list price, 0.526 × 730 = 383.98 a month, stopped 108 of 168 hours
    assert round(found[0]["estimated_monthly_savings"], 6) == Decimal("246.844286")
