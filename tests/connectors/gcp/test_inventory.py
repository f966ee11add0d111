"""mlcost ingest gcp against local fakes: the real google-cloud clients, REST and gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from google.api_core import exceptions, retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import monitoring_v3
from mlcost.connectors.gcp.inventory import GcpInventory

from mlcost.errors import AccessDeniedError, InputError
from mlcost.store import Store

from .fake_google import FakeGoogle, google_error, serve

P = "acme-ml"
DENIED = "acme-denied"
NOW = datetime(2026, 11, 24, 10, 30)
API = "https://www.googleapis.com/compute/v1/projects"
ZONE = f"{API}/{P}/zones/us-central1-a"
T4 = f"{ZONE}/acceleratorTypes/nvidia-tesla-t4"
FULL = f"//compute.googleapis.com/projects/{P}"
IMAGE = f"{API}/{P}/global/images/img-pytorch"
ROOT = f"/compute/v1/projects/{P}"
TRAIN_BE = f"{API}/{P}/regions/us-central1/backendServices/train-be"


def instance(name: str, id_: int, mtype: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "compute#instance",
        "id": str(id_),
        "name": name,
        "zone": ZONE,
        "machineType": f"{ZONE}/machineTypes/{mtype}",
        "status": status,
        "selfLink": f"{ZONE}/instances/{name}",
        "creationTimestamp": "2026-03-01T08:00:00.000-08:00",
        "labels": {"team": "vision"},
        "scheduling": {"provisioningModel": "STANDARD", "preemptible": False},
        "disks": [{"boot": True, "source": f"{ZONE}/disks/{name}", "deviceName": "boot"}],
        **extra,
    }


ALL_RANGES = "ALL_SUBNETWORKS_ALL_IP_RANGES"


def routes() -> dict[str, Any]:
    warning = {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "There are no results"}}

    def instances(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if query.get("pageToken") == ["p2"]:
            return 200, {
                "items": {
                    "zones/us-central1-a": {
                        "instances": [
                            instance(
                                "stopped-n1",
                                1002,
                                "n1-standard-4",
                                "TERMINATED",
                                guestAccelerators=[
                                    {
                                        "acceleratorType": T4,
                                        "acceleratorCount": 1,
                                    }
                                ],
                                lastStopTimestamp="2026-10-01T12:00:00.000-07:00",
                            ),
                            instance(
                                "spot-e2",
                                1003,
                                "e2-standard-4",
                                "RUNNING",
                                scheduling={"provisioningModel": "SPOT", "preemptible": True},
                            ),
                            # the VM under a Vertex AI Workbench instance of the same name
                            instance("wb-erin", 1004, "e2-standard-4", "RUNNING"),
                        ]
                    }
                }
            }
        return 200, {
            "items": {
                "zones/us-central1-a": {
                    "instances": [
                        instance(
                            "train-l4",
                            1001,
                            "g2-standard-4",
                            "RUNNING",
                            lastStartTimestamp="2026-11-20T01:00:00.000-08:00",
                        )
                    ]
                },
                "zones/europe-west4-b": warning,
            },
            "nextPageToken": "p2",
        }

    def machine_type(name: str, cpus: int, mem_mb: int, gpus: list[Any] | None = None) -> Any:
        return {"name": name, "guestCpus": cpus, "memoryMb": mem_mb, "accelerators": gpus or []}

    return {
        f"/v1/projects/{P}/locations/us-central1/endpoints": {
            "endpoints": [
                {
                    "name": "projects/123456/locations/us-central1/endpoints/5054500",
                    "displayName": "damage-classifier",
                    "createTime": "2026-01-25T00:00:00.000000Z",
                    "labels": {"team": "applied"},
                    "deployedModels": [
                        {
                            "id": "1",
                            "displayName": "damage-classifier-v3",
                            "dedicatedResources": {
                                "machineSpec": {
                                    "machineType": "g2-standard-4",
                                    "acceleratorType": "NVIDIA_L4",
                                    "acceleratorCount": 1,
                                },
                                "minReplicaCount": 2,
                                "maxReplicaCount": 4,
                            },
                        }
                    ],
                },
                {
                    "name": "projects/123456/locations/us-central1/endpoints/777",
                    "displayName": "empty-shell",
                    "createTime": "2026-02-01T00:00:00Z",
                },
            ]
        },
        # The Vertex AI API is not enabled for this region's calls: no endpoints, no error.
        f"/v1/projects/{P}/locations/europe-west4/endpoints": (
            403,
            {
                "error": {
                    "code": 403,
                    "message": "Vertex AI API has not been used in project "
                    "before or it is disabled.",
                    "status": "PERMISSION_DENIED",
                    "details": [{"reason": "SERVICE_DISABLED"}],
                }
            },
        ),
        "/v1/services/6F81-5844-456A/skus": catalog,
        "/v3/projects:search": {
            "projects": [
                {"name": "projects/1", "projectId": P, "state": "ACTIVE"},
            ]
        },
        f"{ROOT}/aggregated/instances": instances,
        f"{ROOT}/zones/us-central1-a/machineTypes/g2-standard-4": machine_type(
            "g2-standard-4",
            4,
            16384,
            [{"guestAcceleratorType": "nvidia-l4", "guestAcceleratorCount": 1}],
        ),
        f"{ROOT}/zones/us-central1-a/machineTypes/n1-standard-4": machine_type(
            "n1-standard-4", 4, 15360
        ),
        f"{ROOT}/zones/us-central1-a/machineTypes/e2-standard-4": machine_type(
            "e2-standard-4", 4, 16384
        ),
        f"{ROOT}/aggregated/disks": {
            "items": {
                "zones/us-central1-a": {
                    "disks": [
                        {
                            "name": "train-l4",
                            "selfLink": f"{ZONE}/disks/train-l4",
                            "zone": ZONE,
                            "sizeGb": "100",
                            "type": f"{ZONE}/diskTypes/pd-balanced",
                            "users": [f"{ZONE}/instances/train-l4"],
                            "sourceImage": IMAGE,
                            "creationTimestamp": "2026-03-01T08:00:00.000-08:00",
                            "labels": {"team": "vision"},
                        },
                        {
                            "name": "pd-orphan",
                            "selfLink": f"{ZONE}/disks/pd-orphan",
                            "zone": ZONE,
                            "sizeGb": "1500",
                            "type": f"{ZONE}/diskTypes/pd-ssd",
                            "creationTimestamp": "2026-02-20T16:00:00.000Z",
                            "lastAttachTimestamp": "2026-02-21T10:00:00.000Z",
                            "lastDetachTimestamp": "2026-07-08T12:00:00.000Z",
                        },
                    ]
                },
                "zones/europe-west4-b": warning,
            }
        },
        f"{ROOT}/aggregated/addresses": {
            "items": {
                "regions/us-central1": {
                    "addresses": [
                        {
                            "name": "api-ip",
                            "selfLink": f"{API}/{P}/regions/us-central1/addresses/api-ip",
                            "region": f"{API}/{P}/regions/us-central1",
                            "address": "34.72.118.5",
                            "addressType": "EXTERNAL",
                            "status": "IN_USE",
                            "users": [f"{ZONE}/instances/train-l4"],
                            "creationTimestamp": "2025-10-27T00:00:00.000Z",
                        },
                        {
                            "name": "old-ip",
                            "selfLink": f"{API}/{P}/regions/us-central1/addresses/old-ip",
                            "region": f"{API}/{P}/regions/us-central1",
                            "address": "35.188.12.96",
                            "addressType": "EXTERNAL",
                            "status": "RESERVED",
                            "creationTimestamp": "2025-08-19T10:00:00.000Z",
                        },
                    ]
                },
                "global": warning,
            }
        },
        f"{ROOT}/aggregated/routers": {
            "items": {
                "regions/us-central1": {
                    "routers": [
                        {
                            "id": "4421",
                            "name": "nat-router",
                            "region": f"{API}/{P}/regions/us-central1",
                            "selfLink": f"{API}/{P}/regions/us-central1/routers/nat-router",
                            "creationTimestamp": "2025-11-02T10:00:00.000-07:00",
                            "network": f"{API}/{P}/global/networks/default",
                            "nats": [
                                {
                                    "name": "nat-old-training",
                                    "natIpAllocateOption": "AUTO_ONLY",
                                    "sourceSubnetworkIpRangesToNat": ALL_RANGES,
                                },
                                {
                                    "name": "nat-serving",
                                    "natIpAllocateOption": "MANUAL_ONLY",
                                    "natIps": [f"{API}/{P}/regions/us-central1/addresses/nat-ip"],
                                },
                            ],
                        },
                        {
                            "id": "4422",
                            "name": "bgp-only",
                            "selfLink": f"{API}/{P}/regions/us-central1/routers/bgp-only",
                            "region": f"{API}/{P}/regions/us-central1",
                        },
                    ]
                },
                "global": warning,
            }
        },
        f"{ROOT}/aggregated/forwardingRules": {
            "items": {
                "regions/us-central1": {
                    "forwardingRules": [
                        {
                            "id": "7001",
                            "name": "ilb-train",
                            "region": f"{API}/{P}/regions/us-central1",
                            "selfLink": f"{API}/{P}/regions/us-central1/forwardingRules/ilb-train",
                            "creationTimestamp": "2026-02-01T10:00:00.000-08:00",
                            "IPAddress": "10.128.0.40",
                            "IPProtocol": "TCP",
                            "ports": ["8080", "8443"],
                            "loadBalancingScheme": "INTERNAL",
                            "backendService": TRAIN_BE,
                            "labels": {"team": "vision"},
                        },
                        # a Private Service Connect endpoint: a forwarding rule, no balancer
                        {
                            "id": "7002",
                            "name": "psc-vertex",
                            "region": f"{API}/{P}/regions/us-central1",
                            "selfLink": f"{API}/{P}/regions/us-central1/forwardingRules/psc-vertex",
                            "IPAddress": "10.128.0.41",
                            "target": "projects/svc/regions/us-central1/serviceAttachments/vx",
                        },
                    ]
                },
                "global": warning,
            }
        },
        f"{ROOT}/global/forwardingRules": {
            "items": [
                {
                    "id": "7003",
                    "name": "web-https",
                    "selfLink": f"{API}/{P}/global/forwardingRules/web-https",
                    "creationTimestamp": "2025-09-01T00:00:00.000-07:00",
                    "IPAddress": "34.120.10.1",
                    "IPProtocol": "TCP",
                    "portRange": "443-443",
                    "loadBalancingScheme": "EXTERNAL_MANAGED",
                    "target": f"{API}/{P}/global/targetHttpsProxies/web-proxy",
                },
                {
                    "id": "7004",
                    "name": "demo-http",
                    "selfLink": f"{API}/{P}/global/forwardingRules/demo-http",
                    "creationTimestamp": "2026-04-01T00:00:00.000-07:00",
                    "IPAddress": "34.120.10.2",
                    "IPProtocol": "TCP",
                    "portRange": "80-80",
                    "loadBalancingScheme": "EXTERNAL",
                    "target": f"{API}/{P}/global/targetHttpProxies/demo-proxy",
                    "labels": {"team": "applied"},
                },
            ]
        },
        f"{ROOT}/aggregated/backendServices": {
            "items": {
                "regions/us-central1": {
                    "backendServices": [
                        {
                            "name": "train-be",
                            "selfLink": TRAIN_BE,
                            "loadBalancingScheme": "INTERNAL",
                            "protocol": "TCP",
                            "backends": [
                                {"group": f"{ZONE}/instanceGroups/train-a"},
                                {"group": f"{ZONE}/instanceGroups/train-b"},
                            ],
                        }
                    ]
                },
                "global": warning,
            }
        },
        f"/v1/projects/{P}/locations/-/instances": {
            "instances": [
                {
                    "name": f"projects/{P}/locations/us-central1-a/instances/imagenet-nfs",
                    "tier": "BASIC_SSD",
                    "state": "READY",
                    "createTime": "2026-01-15T09:00:00.123456789Z",
                    "labels": {"team": "vision"},
                    "fileShares": [{"name": "data", "capacityGb": "2560"}],
                }
            ]
        },
        f"/v2/projects/{P}/locations/-/instances": {
            "instances": [
                {
                    "name": f"projects/{P}/locations/us-central1-a/instances/wb-erin",
                    "state": "ACTIVE",
                    "healthState": "HEALTHY",
                    "creator": "erin@acme.example",
                    "createTime": "2026-06-01T08:00:00Z",
                    "labels": {"team": "vision"},
                    "gceSetup": {"machineType": "e2-standard-4"},
                }
            ]
        },
        f"{ROOT}/global/snapshots": {
            "items": [
                {
                    "name": "snap-gone",
                    "selfLink": f"{API}/{P}/global/snapshots/snap-gone",
                    "sourceDisk": f"{ZONE}/disks/deleted-disk",
                    "diskSizeGb": "60",
                    "storageBytes": "12345678",
                    "storageLocations": ["us"],
                    "status": "READY",
                    "creationTimestamp": "2026-06-01T08:00:00.000Z",
                }
            ]
        },
        f"{ROOT}/global/images": {
            "items": [
                {
                    "name": "img-pytorch",
                    "selfLink": IMAGE,
                    "family": "pytorch",
                    "diskSizeGb": "60",
                    "sourceSnapshot": f"{API}/{P}/global/snapshots/snap-gone",
                    "status": "READY",
                    "creationTimestamp": "2026-06-01T09:00:00.000Z",
                }
            ]
        },
    }


def point(ts: datetime, period_s: int, value: float | int) -> dict[str, Any]:
    end = ts + timedelta(seconds=period_s)
    key = "double_value" if isinstance(value, float) else "int64_value"
    return {"interval": {"start_time": end, "end_time": end}, "value": {key: value}}


def series(instance_id: str, points: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resource": {"type": "gce_instance", "labels": {"instance_id": instance_id}},
        "points": points,
    }


D1, D2 = datetime(2026, 11, 21), datetime(2026, 11, 22)


def time_series(request: monitoring_v3.ListTimeSeriesRequest) -> list[dict[str, Any]]:
    """train-l4 (1001) busy, spot-e2 (1003) idle, 9999 a VM deleted since."""
    metric = request.filter.split('"')[1].rsplit("/", 2)
    metric_name = "/".join(metric[-2:])
    aligner = request.aggregation.per_series_aligner.name
    period = int(request.aggregation.alignment_period.total_seconds())
    day = 86400
    if metric_name == "cpu/utilization" and period == day:
        busy = [0.615, 0.58] if aligner == "ALIGN_MEAN" else [0.9725, 0.91]
        return [
            series("1001", [point(D1, day, busy[0]), point(D2, day, busy[1])]),
            series("1003", [point(D1, day, 0.02)]),
            series("1004", [point(D1, day, 0.005 if aligner == "ALIGN_MEAN" else 0.03)]),
            series("9999", [point(D1, day, 0.5)]),
        ]
    if metric_name == "cpu/utilization":
        return [series("1001", [point(datetime(2026, 11, 24, 9), 3600, 0.425)])]
    if metric_name == "network/received_bytes_count":  # one series per NIC / traffic kind
        return [
            series("1001", [point(D1, day, 1_000_000_000)]),
            series("1001", [point(D1, day, 500_000_000)]),
        ]
    if metric_name == "disk/read_ops_count":
        return [series("1001", [point(D1, day, 100)])]
    if metric_name == "disk/write_ops_count":
        return [series("1001", [point(D1, day, 50)])]
    if metric_name == "online/prediction_count":  # one series per deployed model
        return [
            {
                "resource": {"type": "aiplatform.googleapis.com/Endpoint",
                             "labels": {"endpoint_id": "5054500"}},
                "points": [point(D1, day, 40), point(D2, day, 0)],
            },
            {
                "resource": {"type": "aiplatform.googleapis.com/Endpoint",
                             "labels": {"endpoint_id": "5054500"}},
                "points": [point(D1, day, 2)],
            },
        ]  # fmt: skip
    if metric_name == "nat/sent_bytes_count":  # one series per VM behind the gateway
        return [
            {"resource": {"type": "nat_gateway", "labels": {
                "router_id": "4421", "gateway_name": "nat-serving", "region": "us-central1"}},
             "points": [point(D1, day, 3_000_000_000)]},
            {"resource": {"type": "nat_gateway", "labels": {
                "router_id": "4421", "gateway_name": "nat-serving", "region": "us-central1"}},
             "points": [point(D1, day, 1_000_000_000)]},
        ]  # fmt: skip
    if metric_name == "server/read_ops_count":
        return [
            {"resource": {"type": "filestore_instance",
                          "labels": {"instance_name": "imagenet-nfs", "location": "us-central1-a"}},
             "points": [point(D1, day, 0), point(D2, day, 0)]},
        ]  # fmt: skip
    if metric_name == "https/request_count":  # one series per backend and URL path rule
        return [
            {"resource": {"type": "https_lb_rule", "labels": {
                "region": "global", "forwarding_rule_name": "web-https", "url_map_name": "web",
                "backend_name": name}},
             "points": [point(D1, day, count)]}
            for name, count in (("web-a", 3200), ("web-b", 1800))
        ]  # fmt: skip
    if metric_name == "internal/ingress_packets_count":
        return [
            {"resource": {"type": "internal_tcp_lb_rule", "labels": {
                "region": "us-central1", "forwarding_rule_name": "ilb-train",
                "load_balancer_name": "train-be"}},
             "points": [point(D1, day, 1200), point(D2, day, 900)]},
        ]  # fmt: skip
    if metric_name == "gpu/utilization":  # one series per GPU
        return [series("1001", [point(D1, day, 80.0)]), series("1001", [point(D1, day, 90.0)])]
    return []


FAST = retry.Retry(
    predicate=retry.if_exception_type(exceptions.TooManyRequests),
    initial=0.01,
    maximum=0.02,
    timeout=0.5,
)


@pytest.fixture
def fake() -> FakeGoogle:
    return FakeGoogle(routes(), time_series=time_series)


@pytest.fixture
def endpoints(fake: FakeGoogle) -> Iterator[tuple[str, Any]]:
    with serve(fake) as found:
        yield found


def _sku(
    description: str, usage: str, units: int, nanos: int, unit: str = "h", family: str = "Compute"
) -> dict[str, Any]:
    """One Cloud Billing Catalog SKU of Compute Engine, priced in us-central1, as the REST
    API writes it (a free first tier where the SKU has one, as storage SKUs do)."""
    sku_id = "".join(f"{b:02X}" for b in description.encode()[:6])
    sku_id = f"{sku_id[:4]}-{sku_id[4:8]}-{sku_id[8:12]}"
    tiers = [
        {
            "startUsageAmount": 0,
            "unitPrice": {"currencyCode": "USD", "units": str(units), "nanos": nanos},
        }
    ]
    if unit == "GiBy.mo":
        tiers.insert(0, {"startUsageAmount": 0, "unitPrice": {"currencyCode": "USD"}})
        tiers[1]["startUsageAmount"] = 0.1
    return {
        "name": f"services/6F81-5844-456A/skus/{sku_id}",
        "skuId": sku_id,
        "description": description,
        "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": family,
                     "resourceGroup": "N1Standard", "usageType": usage},
        "serviceRegions": ["us-central1"],
        "pricingInfo": [
            {"effectiveTime": "2026-11-23T08:35:17.285Z",
             "pricingExpression": {"usageUnit": unit, "displayQuantity": 1,
                                   "tieredRates": tiers}}
        ],
        "serviceProviderName": "Google",
    }  # fmt: skip


def catalog(path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
    """The Compute Engine SKUs, in two pages."""
    if query.get("pageToken") != ["page-2"]:
        return 200, {
            "skus": [
                _sku("G2 Instance Core running in Americas", "OnDemand", 0, 24988000),
                _sku("G2 Instance Ram running in Americas", "OnDemand", 0, 2928000),
                _sku("N1 Predefined Instance Core running in Americas", "OnDemand", 0, 31611000),
                _sku("N1 Predefined Instance Ram running in Americas", "OnDemand", 0, 4237000),
            ],
            "nextPageToken": "page-2",
        }
    return 200, {
        "skus": [
            _sku("E2 Instance Core running in Americas", "OnDemand", 0, 21811000),
            _sku("E2 Instance Ram running in Americas", "OnDemand", 0, 2923000),
            _sku(
                "Spot Preemptible E2 Instance Core running in Americas", "Preemptible", 0, 6543000
            ),
            _sku("Nvidia L4 GPU running in Americas", "OnDemand", 0, 560631000),
            _sku("SSD backed PD Capacity", "OnDemand", 0, 170000000, "GiBy.mo", "Storage"),
            _sku("Balanced PD Capacity", "OnDemand", 0, 100000000, "GiBy.mo", "Storage"),
            _sku("Storage PD Snapshot", "OnDemand", 0, 50000000, "GiBy.mo", "Storage"),
            _sku("Commitment v1: Balanced PD Capacity", "Commit1Yr", 0, 60000000, "GiBy.mo"),
            _sku("Static Ip Charge", "OnDemand", 0, 10000000, "h", "Network"),
        ]
    }


def scan(endpoints: tuple[str, Any], **kwargs: Any) -> GcpInventory:
    rest, transport = endpoints
    options: dict[str, Any] = {"lookback_days": 3, "now": NOW, **kwargs}
    return GcpInventory(
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": rest},
        monitoring_options={"transport": transport},
        retry=FAST,
        vertex_endpoint=rest,
        rest_endpoint=rest,
        **options,
    )


def resources(store: Store) -> dict[str, dict[str, Any]]:
    """The resources table keyed by collection/name (``disks/train-l4``)."""
    with store.reader() as con:
        cur = con.execute("SELECT * EXCLUDE (ingested_at) FROM resources ORDER BY resource_id")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return {"/".join(row["resource_id"].rsplit("/", 2)[-2:]): row for row in rows}


def test_inventory_rows(store: Store, fake: FakeGoogle, endpoints: tuple[str, Any]) -> None:
    store.init()
    result = store.load(scan(endpoints).batches())
    got = resources(store)
    assert sorted(got) == [
        "addresses/api-ip", "addresses/old-ip", "disks/pd-orphan", "disks/train-l4",
        "endpoints/5054500", "endpoints/777", "forwardingRules/demo-http",
        "forwardingRules/ilb-train", "forwardingRules/web-https", "images/img-pytorch",
        "instances/imagenet-nfs", "instances/spot-e2",
        "instances/stopped-n1", "instances/train-l4", "instances/wb-erin",
        "nats/nat-old-training", "nats/nat-serving", "snapshots/snap-gone",
    ]  # fmt: skip
    # europe-west4 (empty zone), us-central1 and global are the partitions scanned.
    assert result.partitions["resources"] == 3
    vms = {
        k.split("/")[1]: v
        for k, v in got.items()
        if k.startswith("instances/") and v["resource_type"] == "vm"
    }
    assert sorted(vms) == ["spot-e2", "stopped-n1", "train-l4"]  # wb-erin is a notebook
    common = {"provider": "gcp", "account_id": P, "region": "us-central1", "source": "gcp"}
    assert vms["train-l4"] == {
        **common,
        "resource_id": f"{FULL}/zones/us-central1-a/instances/train-l4",
        "resource_type": "vm",
        "name": "train-l4",
        "state": "running",
        "created_at": datetime(2026, 3, 1, 16),
        "observed_at": NOW,
        "instance_type": "g2-standard-4",
        "vcpus": 4,
        "memory_gb": 16.0,
        "gpu_count": 1,
        "gpu_model": "L4",
        "attached_to": None,
        "source_id": f"{FULL}/global/images/img-pytorch",
        "size_gb": None,
        "lifecycle": "on-demand",
        "last_used_at": None,
        "details": '{"instance_id": "1001", "last_start_timestamp": '
        '"2026-11-20T01:00:00.000-08:00", "provisioning_model": "STANDARD", "status": "RUNNING"}',
        "tags": '{"team": "vision"}',
    }
    stopped = vms["stopped-n1"]
    assert (stopped["state"], stopped["vcpus"], stopped["memory_gb"]) == ("stopped", 4, 15.0)
    assert (stopped["gpu_count"], stopped["gpu_model"]) == (1, "T4")
    assert '"status": "TERMINATED"' in stopped["details"]
    assert '"last_stop_timestamp": "2026-10-01T12:00:00.000-07:00"' in stopped["details"]
    spot = vms["spot-e2"]
    assert (spot["lifecycle"], spot["gpu_count"], spot["gpu_model"]) == ("spot", 0, None)
    assert spot["details"] == (
        '{"instance_id": "1003", "preemptible": true, "provisioning_model": "SPOT", '
        '"status": "RUNNING"}'
    )
    # Attached vs unattached disk.
    disks = {k.split("/")[1]: v for k, v in got.items() if k.startswith("disks/")}
    assert disks["train-l4"]["state"] == "in-use"
    assert disks["train-l4"]["attached_to"] == f"{FULL}/zones/us-central1-a/instances/train-l4"
    assert disks["train-l4"]["details"] == '{"boot": true, "disk_type": "pd-balanced"}'
    assert disks["pd-orphan"] == {
        **common,
        "resource_id": f"{FULL}/zones/us-central1-a/disks/pd-orphan",
        "resource_type": "volume",
        "name": "pd-orphan",
        "state": "available",
        "created_at": datetime(2026, 2, 20, 16),
        "observed_at": NOW,
        "instance_type": None,
        "vcpus": None,
        "memory_gb": None,
        "gpu_count": None,
        "gpu_model": None,
        "attached_to": None,
        "source_id": None,
        "size_gb": 1500.0,
        "lifecycle": None,
        "last_used_at": datetime(2026, 7, 8, 12),
        "details": '{"disk_type": "pd-ssd", "last_attach_timestamp": "2026-02-21T10:00:00.000Z", '
        '"last_detach_timestamp": "2026-07-08T12:00:00.000Z"}',
        "tags": "{}",
    }
    # Snapshot of a deleted disk; the image made from it points at it.
    snap = got["snapshots/snap-gone"]
    assert (snap["region"], snap["state"], snap["size_gb"]) == ("global", "available", 60.0)
    assert snap["source_id"] == f"{FULL}/zones/us-central1-a/disks/deleted-disk"
    assert snap["details"] == (
        '{"status": "READY", "storage_bytes": 12345678, "storage_locations": ["us"]}'
    )
    assert got["images/img-pytorch"]["source_id"] == f"{FULL}/global/snapshots/snap-gone"
    # RESERVED = billed and unused; IN_USE bound to the VM.
    assert (got["addresses/old-ip"]["state"], got["addresses/old-ip"]["attached_to"]) == (
        "available",
        None,
    )
    assert got["addresses/old-ip"]["details"] == (
        '{"address": "35.188.12.96", "address_type": "EXTERNAL", "status": "RESERVED"}'
    )
    assert got["addresses/api-ip"]["state"] == "in-use"
    assert (
        got["addresses/api-ip"]["attached_to"] == f"{FULL}/zones/us-central1-a/instances/train-l4"
    )
    # Vertex AI: an endpoint serving a model on two L4 replicas, and an empty one.
    vertex = f"//aiplatform.googleapis.com/projects/{P}/locations/us-central1/endpoints"
    assert {k: v for k, v in got["endpoints/5054500"].items() if v is not None} == {
        **common,
        "resource_id": f"{vertex}/5054500",
        "resource_type": "endpoint",
        "name": "damage-classifier",
        "state": "running",
        "created_at": datetime(2026, 1, 25),
        "observed_at": NOW,
        "instance_type": "g2-standard-4",
        "gpu_count": 1,
        "gpu_model": "L4",
        "details": '{"deployed_models": [{"accelerator_count": 1, "accelerator_type": "NVIDIA_L4", '
        '"display_name": "damage-classifier-v3", "machine_type": "g2-standard-4", '
        '"min_replica_count": 2}], "instance_count": 2}',
        "tags": '{"team": "applied"}',
    }
    assert (got["endpoints/777"]["state"], got["endpoints/777"]["instance_type"]) == (
        "empty",
        None,
    )
    # Both pages of instances were read.
    assert fake.calls.count(f"{ROOT}/aggregated/instances") == 2


def test_metric_rows(store: Store, fake: FakeGoogle, endpoints: tuple[str, Any]) -> None:
    store.init()
    store.load(scan(endpoints, projects=[P]).batches())
    with store.reader() as con:
        rows = con.execute(
            "SELECT replace(resource_id, ?, ''), metric, ts, round(value, 9), stat, period_s "
            "FROM metrics WHERE metric <> 'invocations' AND starts_with(resource_id, ?) "
            "ORDER BY period_s DESC, resource_id, metric, stat, ts",
            [f"{FULL}/zones/us-central1-a/instances/"] * 2,
        ).fetchall()
    assert rows == [
        ("spot-e2", "cpu_util_pct", D1, 2.0, "Average", 86400),
        ("spot-e2", "cpu_util_pct", D1, 2.0, "Maximum", 86400),
        ("train-l4", "cpu_util_pct", D1, 61.5, "Average", 86400),
        ("train-l4", "cpu_util_pct", D2, 58.0, "Average", 86400),
        ("train-l4", "cpu_util_pct", D1, 97.25, "Maximum", 86400),
        ("train-l4", "cpu_util_pct", D2, 91.0, "Maximum", 86400),
        ("train-l4", "disk_io_ops", D1, 150.0, "Sum", 86400),
        ("train-l4", "gpu_util_pct", D1, 85.0, "Average", 86400),
        ("train-l4", "net_in_bytes", D1, 1.5e9, "Sum", 86400),
        ("train-l4", "cpu_util_pct", datetime(2026, 11, 24, 9), 42.5, "Average", 3600),
    ]
    with store.reader() as con:
        invocations = con.execute(
            "SELECT resource_id, ts, value, stat, period_s FROM metrics "
            "WHERE metric = 'invocations' ORDER BY ts"
        ).fetchall()
    vertex = f"//aiplatform.googleapis.com/projects/{P}/locations/us-central1/endpoints/5054500"
    assert invocations == [(vertex, D1, 42.0, "Sum", 86400), (vertex, D2, 0.0, "Sum", 86400)]
    daily = fake.monitoring_requests[0]
    assert daily.name == f"projects/{P}"
    assert daily.interval.start_time == datetime(
        2026, 11, 21, tzinfo=daily.interval.start_time.tzinfo
    )
    assert daily.interval.end_time == datetime(2026, 11, 24, tzinfo=daily.interval.end_time.tzinfo)


def test_throttled_call_succeeds_on_retry(
    store: Store, fake: FakeGoogle, endpoints: tuple[str, Any]
) -> None:
    store.init()
    path = f"{ROOT}/aggregated/disks"
    fake.routes[path] = [google_error(429, "rateLimitExceeded", "Quota"), (200, fake.routes[path])]
    store.load(scan(endpoints, projects=[P]).batches())
    assert fake.calls.count(path) == 2
    assert resources(store)["disks/pd-orphan"]["state"] == "available"


def test_throttled_for_good_names_the_call_and_leaves_store(
    store: Store, fake: FakeGoogle, endpoints: tuple[str, Any]
) -> None:
    store.init()
    store.load(scan(endpoints, projects=[P]).batches())
    before = resources(store)
    fake.routes[f"{ROOT}/global/snapshots"] = google_error(429, "rateLimitExceeded", "Quota")
    with pytest.raises(InputError) as caught:
        store.load(scan(endpoints, projects=[P], now=NOW + timedelta(days=1)).batches())
    assert caught.value.message == (
        f"Google kept throttling snapshots.list on project {P} after retries."
    )
    assert resources(store) == before


def test_a_forbidden_project_is_skipped_with_a_warning_and_the_rest_loads(
    store: Store, fake: FakeGoogle, endpoints: tuple[str, Any]
) -> None:
    store.init()
    store.load(scan(endpoints).batches())
    before = resources(store)
    fake.routes["/v3/projects:search"] = {
        "projects": [{"projectId": DENIED, "state": "ACTIVE"}, {"projectId": P, "state": "ACTIVE"}]
    }
    fake.routes[f"/compute/v1/projects/{DENIED}/aggregated/instances"] = google_error(
        403, "forbidden", f"Required 'compute.instances.list' permission for 'projects/{DENIED}'"
    )
    second = scan(endpoints)
    store.load(second.batches())
    (warning,) = second.warnings
    assert warning.startswith(
        f"Google denied instances.aggregatedList on project {DENIED} (HTTP 403"
    )
    assert warning.endswith("Skipped: its earlier inventory is kept.")
    assert [s.project_id for s in second.summaries] == [P]
    assert resources(store).keys() == before.keys()


def test_machine_types_are_priced_from_the_billing_catalog(
    store: Store, endpoints: tuple[str, Any]
) -> None:
    store.init()
    store.load(scan(endpoints).batches())
    with store.reader() as con:
        rows = con.execute(
            "SELECT region, instance_type, price_per_hour, vcpus, memory_gb, gpu_count, "
            "gpu_model, unit, source FROM prices WHERE instance_type IS NOT NULL "
            "ORDER BY instance_type"
        ).fetchall()
    assert rows == [
        # 4 × 0.021811 + 16 GiB × 0.002923 (the spot SKU is not an on-demand price)
        ("us-central1", "e2-standard-4", Decimal("0.134012"), 4, 16.0, 0, None, "Hours", "gcp"),
        # 4 × 0.024988 + 16 × 0.002928 + 1 L4 × 0.560631
        ("us-central1", "g2-standard-4", Decimal("0.707431"), 4, 16.0, 1, "L4", "Hours", "gcp"),
        # 4 × 0.031611 + 15 × 0.004237
        ("us-central1", "n1-standard-4", Decimal("0.189999"), 4, 15.0, 0, None, "Hours", "gcp"),
    ]
    with store.reader() as con:
        units = con.execute(
            "SELECT region, product, sku, unit, price_per_hour, price_type, effective_at "
            "FROM prices WHERE product IS NOT NULL ORDER BY product"
        ).fetchall()
    stamp = datetime(2026, 11, 23, 8, 35, 17, 285000)
    # the priced tier, not the free first one; no commitment SKU; snapshots are global
    assert units == [
        ("us-central1", "ip_address", "5374-6174-6963", "Hours", Decimal("0.01"), "on-demand",
         stamp),
        ("global", "snapshot", "5374-6F72-6167", "GB-Months", Decimal("0.05"), "on-demand",
         stamp),
        ("us-central1", "volume:pd-balanced", "4261-6C61-6E63", "GB-Months", Decimal("0.1"),
         "on-demand", stamp),
        ("us-central1", "volume:pd-ssd", "5353-4420-6261", "GB-Months", Decimal("0.17"),
         "on-demand", stamp),
    ]  # fmt: skip


BILLING_ACCOUNT = "01A2B3-C4D5E6-F7A8B9"


def _billing_projects(path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
    """The projects the billing account pays for, in two pages; one has billing disabled."""

    def info(project: str, enabled: bool) -> dict[str, Any]:
        return {
            "name": f"projects/{project}/billingInfo",
            "projectId": project,
            "billingAccountName": f"billingAccounts/{BILLING_ACCOUNT}",
            "billingEnabled": enabled,
        }

    if query.get("pageToken") == ["p2"]:
        return 200, {"projectBillingInfo": [info("acme-sandbox-closed", False)]}
    return 200, {"projectBillingInfo": [info(P, True)], "nextPageToken": "p2"}


def test_a_billing_account_scans_exactly_the_projects_it_pays_for(
    store: Store, fake: FakeGoogle, endpoints: tuple[str, Any]
) -> None:
    store.init()
    fake.routes[f"/v1/billingAccounts/{BILLING_ACCOUNT}/projects"] = _billing_projects
    # the credential can list another project too: --billing-account does not scan it
    fake.routes["/v3/projects:search"] = {
        "projects": [{"projectId": P, "state": "ACTIVE"}, {"projectId": DENIED, "state": "ACTIVE"}]
    }
    scanned = scan(endpoints, billing_account=BILLING_ACCOUNT)
    store.load(scanned.batches())
    assert [s.project_id for s in scanned.summaries] == [P]
    assert fake.calls.count(f"/v1/billingAccounts/{BILLING_ACCOUNT}/projects") == 2
    assert "/v3/projects:search" not in fake.calls
    with store.reader() as con:
        accounts = con.execute("SELECT DISTINCT account_id FROM resources").fetchall()
    assert accounts == [(P,)]


def test_a_billing_account_and_projects_together_are_refused(endpoints: tuple[str, Any]) -> None:
    with pytest.raises(InputError, match="Give --projects or --billing-account, not both"):
        list(scan(endpoints, projects=[P], billing_account=BILLING_ACCOUNT).batches())


def test_a_billing_account_the_credential_may_not_read_is_a_clear_error(
    fake: FakeGoogle, endpoints: tuple[str, Any]
) -> None:
    fake.routes[f"/v1/billingAccounts/{BILLING_ACCOUNT}/projects"] = google_error(
        403, "forbidden", "The caller does not have permission"
    )
    with pytest.raises(AccessDeniedError) as caught:
        list(scan(endpoints, billing_account=BILLING_ACCOUNT).batches())
    assert caught.value.message.startswith(
        f"Google denied billingAccounts.projects.list on billing account {BILLING_ACCOUNT}"
    )


def test_cloud_nat_filestore_and_workbench(
    store: Store, fake: FakeGoogle, endpoints: tuple[str, Any]
) -> None:
    store.init()
    store.load(scan(endpoints, projects=[P]).batches())
    got = resources(store)
    common = {"provider": "gcp", "account_id": P, "region": "us-central1", "source": "gcp"}

    def present(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if v is not None}

    router = f"{FULL}/regions/us-central1/routers/nat-router"
    assert present(got["nats/nat-old-training"]) == {
        **common,
        "resource_id": f"{router}/nats/nat-old-training",
        "resource_type": "nat_gateway",
        "name": "nat-old-training",
        "state": "available",
        "created_at": datetime(2025, 11, 2, 17),
        "observed_at": NOW,
        "details": '{"nat_ip_allocate_option": "AUTO_ONLY", "router": "nat-router", '
        '"source_subnetwork_ip_ranges_to_nat": "ALL_SUBNETWORKS_ALL_IP_RANGES"}',
        "tags": "{}",
    }
    assert '"nat_ips": 1' in got["nats/nat-serving"]["details"]
    filestore = f"//file.googleapis.com/projects/{P}/locations/us-central1-a/instances/imagenet-nfs"
    assert present(got["instances/imagenet-nfs"]) == {
        **common,
        "resource_id": filestore,
        "resource_type": "file_system",
        "name": "imagenet-nfs",
        "state": "available",
        "created_at": datetime(2026, 1, 15, 9, 0, 0, 123456),
        "observed_at": NOW,
        "size_gb": 2560.0,
        "details": '{"file_system_type": "filestore", "shares": ["data"], "tier": "BASIC_SSD"}',
        "tags": '{"team": "vision"}',
    }
    workbench = f"//notebooks.googleapis.com/projects/{P}/locations/us-central1-a/instances/wb-erin"
    assert present(got["instances/wb-erin"]) == {
        **common,
        "resource_id": workbench,
        "resource_type": "notebook",
        "name": "wb-erin",
        "state": "running",
        "created_at": datetime(2026, 6, 1, 8),
        "observed_at": NOW,
        "instance_type": "e2-standard-4",
        "vcpus": 4,
        "memory_gb": 16.0,
        "gpu_count": 0,
        "details": '{"creator": "erin@acme.example", "health_state": "HEALTHY", '
        f'"platform": "vertex-workbench", "vm": "{FULL}/zones/us-central1-a/instances/wb-erin"}}',
        "tags": '{"team": "vision"}',
    }
    with store.reader() as con:
        rows = con.execute(
            "SELECT resource_id, metric, ts, round(value, 9), stat FROM metrics "
            "WHERE resource_id IN (?, ?, ?) AND period_s = 86400 ORDER BY ALL",
            [f"{router}/nats/nat-serving", filestore, workbench],
        ).fetchall()
    assert rows == [
        # two VMs' series behind the gateway, summed
        (f"{router}/nats/nat-serving", "net_out_bytes", D1, 4.0e9, "Sum"),
        (filestore, "disk_io_ops", D1, 0.0, "Sum"),
        (filestore, "disk_io_ops", D2, 0.0, "Sum"),
        # the VM's CPU is the notebook's (a 0-1 fraction, as percent)
        (workbench, "cpu_util_pct", D1, 0.5, "Average"),
        (workbench, "cpu_util_pct", D1, 3.0, "Maximum"),
    ]


def test_the_new_rules_judge_what_the_gcp_scan_read(
    store: Store, fake: FakeGoogle, endpoints: tuple[str, Any]
) -> None:
    """A GCP scan alone: the NAT gateway nobody sends through, the Filestore instance with
    no NFS operations and the load balancer with no traffic are found; the gateway and the
    load balancers with traffic are not."""
    from mlcost.recommendations import analyze_recommendations, list_recommendations

    store.init()
    store.load(scan(endpoints, projects=[P]).batches())
    analyze_recommendations(store)
    with store.reader() as con:
        found = list_recommendations(
            con, rules=["idle_nat_gateway", "idle_file_system", "idle_load_balancer"]
        )
    router = f"{FULL}/regions/us-central1/routers/nat-router"
    pairs = zip(found["rule"].to_pylist(), found["resource_id"].to_pylist(), strict=True)
    # the load balancer with no data points in a project whose metrics were read is idle;
    # the one with 5,000 requests and the passthrough one receiving packets are not
    assert sorted(pairs) == [
        ("idle_file_system",
         f"//file.googleapis.com/projects/{P}/locations/us-central1-a/instances/imagenet-nfs"),
        ("idle_load_balancer", f"{FULL}/global/forwardingRules/demo-http"),
        ("idle_nat_gateway", f"{router}/nats/nat-old-training"),
    ]  # fmt: skip


def test_load_balancers_are_their_forwarding_rules_with_requests_or_packets(
    store: Store, fake: FakeGoogle, endpoints: tuple[str, Any]
) -> None:
    """Each load-balancing forwarding rule (regional and global) is a load balancer, with
    the kind of traffic Cloud Monitoring publishes for it; a Private Service Connect
    endpoint is a forwarding rule but no load balancer."""
    store.init()
    store.load(scan(endpoints, projects=[P]).batches())
    got = resources(store)
    assert "forwardingRules/psc-vertex" not in got

    def present(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if v is not None}

    base = {"provider": "gcp", "account_id": P, "resource_type": "load_balancer",
            "state": "active", "observed_at": NOW, "source": "gcp"}  # fmt: skip
    assert present(got["forwardingRules/ilb-train"]) == {
        **base,
        "region": "us-central1",
        "resource_id": f"{FULL}/regions/us-central1/forwardingRules/ilb-train",
        "name": "ilb-train",
        "created_at": datetime(2026, 2, 1, 18),
        "details": '{"backends": 2, "ip_address": "10.128.0.40", "lb_type": "network", '
        '"monitored_resource": "internal_tcp_lb_rule", "ports": "8080,8443", '
        '"protocol": "TCP", "scheme": "INTERNAL", "target": "backendServices/train-be"}',
        "tags": '{"team": "vision"}',
    }
    assert present(got["forwardingRules/demo-http"]) == {
        **base,
        "region": "global",
        "resource_id": f"{FULL}/global/forwardingRules/demo-http",
        "name": "demo-http",
        "created_at": datetime(2026, 4, 1, 7),
        "details": '{"ip_address": "34.120.10.2", "lb_type": "application", '
        '"monitored_resource": "https_lb_rule", "ports": "80-80", "protocol": "TCP", '
        '"scheme": "EXTERNAL", "target": "targetHttpProxies/demo-proxy"}',
        "tags": '{"team": "applied"}',
    }
    assert '"scheme": "EXTERNAL_MANAGED"' in got["forwardingRules/web-https"]["details"]
    with store.reader() as con:
        rows = con.execute(
            "SELECT replace(resource_id, ?, ''), metric, ts, value, stat, period_s FROM metrics "
            "WHERE metric = 'requests' ORDER BY ALL",
            [f"{FULL}/"],
        ).fetchall()
    assert rows == [
        # a global Application Load Balancer's requests: its two backends' series summed
        ("global/forwardingRules/web-https", "requests", D1, 5000.0, "Sum", 86400),
        # a passthrough one's received packets
        ("regions/us-central1/forwardingRules/ilb-train", "requests", D1, 1200.0, "Sum", 86400),
        ("regions/us-central1/forwardingRules/ilb-train", "requests", D2, 900.0, "Sum", 86400),
    ]
    asked = {r.filter for r in fake.monitoring_requests if "loadbalancing" in r.filter}
    assert asked == {
        'metric.type = "loadbalancing.googleapis.com/https/request_count" '
        'AND resource.type = "https_lb_rule"',
        'metric.type = "loadbalancing.googleapis.com/l3/internal/ingress_packets_count" '
        'AND resource.type = "internal_tcp_lb_rule"',
    }  # only the kinds the project has
