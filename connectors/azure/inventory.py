"""Azure inventory and utilisation: VMs with power state, managed disks, snapshots,
images, public IPs and Azure Monitor metrics, as ``resources`` and ``metrics`` rows.

The SDK clients (azure-mgmt-*) come with their own pipeline: DefaultAzureCredential,
paging through ``nextLink``, retries with back-off on 429/5xx. Errors are translated
here, once, into :class:`mlcost.errors.MlcostError` naming the call and subscription.
Nothing is fetched until :meth:`AzureInventory.batches` is iterated, and the store is
never opened here: a failure half-way leaves the store as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

from mlcost.connectors._rows import Window, table, to_json, utc_naive, utcnow

from mlcost.errors import AccessDeniedError, ConfigError, InputError, MlcostError
from mlcost.store import Batch

SOURCE = "azure"
PROVIDER = "azure"
RETAIL_PRICES = "https://prices.azure.com"

#: Azure Monitor platform metrics of a VM and the store's names and statistics for them.
DAILY_METRICS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "Percentage CPU": ("cpu_util_pct", (("average", "Average"), ("maximum", "Maximum"))),
    "Network In Total": ("net_in_bytes", (("total", "Sum"),)),
    "Network Out Total": ("net_out_bytes", (("total", "Sum"),)),
}
HOURLY_METRICS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "Percentage CPU": ("cpu_util_pct", (("average", "Average"),)),
}
#: Azure ML online endpoints: requests (the metric's daily Total is the day's requests).
ENDPOINT_METRICS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "RequestsPerMinute": ("invocations", (("total", "Sum"),)),
}
#: NAT gateways: every byte through it (both directions, all protocols).
NAT_METRICS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "ByteCount": ("net_out_bytes", (("total", "Sum"),)),
}
#: Load balancers: new connections (SYN packets) as requests, and bytes.
LB_METRICS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "SYNCount": ("requests", (("total", "Sum"),)),
    "ByteCount": ("net_in_bytes", (("total", "Sum"),)),
}
#: Azure NetApp Files volumes: operations per second (daily Average × 86,400 = the day's
#: operations, read and write together).
ANF_METRICS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "ReadIops": ("disk_io_ops", (("average", "Sum"),)),
    "WriteIops": ("disk_io_ops", (("average", "Sum"),)),
}
ML_API_VERSION = "2024-04-01"
NETAPP_API_VERSION = "2024-03-01"
ARM = "https://management.azure.com"
_ENDPOINT_STATES = {
    "Succeeded": "running",
    "Creating": "pending",
    "Updating": "pending",
    "Deleting": "deleting",
    "Failed": "failed",
    "Canceled": "failed",
}

#: GPU model by VM size name (the size catalogue gives the count, not the model).
_GPU_MODELS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), model)
    for pattern, model in (
        (r"H100", "H100"),
        (r"H200", "H200"),
        (r"A100|ND96a", "A100"),
        (r"MI300X", "MI300X"),
        (r"A10", "A10"),
        (r"T4", "T4"),
        (r"^Standard_NC\d+r?s_v3$|^Standard_ND40rs_v2$", "V100"),
        (r"^Standard_NC\d+r?s_v2$|^Standard_ND\d+r?s$", "P100"),
    )
)

T = TypeVar("T")


@dataclass
class SubscriptionSummary:
    subscription_id: str
    regions: int = 0
    resources: dict[str, int] = field(default_factory=dict)
    metric_samples: int = 0


#: Seconds to connect to Azure and to wait for an answer (the SDK's defaults are 300 s
#: each): an unreachable endpoint fails in about a minute, not ten.
CLIENT_TIMEOUTS = {"connection_timeout": 10, "read_timeout": 60}


@dataclass
class AzureInventory:
    """What ``mlcost ingest azure`` reads: one scan of the given (or all listable)
    subscriptions. ``client_kwargs`` go to every SDK client (tests pass ``transport``)."""

    subscriptions: Sequence[str] | None = None
    regions: Sequence[str] | None = None
    lookback_days: int = 30
    credential: Any = None
    client_kwargs: Mapping[str, Any] = field(default_factory=lambda: dict(CLIENT_TIMEOUTS))
    now: datetime | None = None
    #: Also load on-demand Linux prices of every VM size in the regions that run VMs.
    prices: bool = True
    summaries: list[SubscriptionSummary] = field(default_factory=list)
    #: Subscriptions skipped because a call was refused, one sentence each.
    warnings: list[str] = field(default_factory=list)
    #: Filled while scanning: VM regions, and each size's vCPUs, memory and GPUs.
    vm_regions: set[str] = field(default_factory=set)
    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def batches(self) -> Iterator[Batch]:
        """Per subscription: one ``resources`` batch per region scanned (an explicit
        partition, so what disappeared disappears), then that subscription's metrics."""
        if self.lookback_days < 1:
            raise InputError(f"--lookback-days must be at least 1, not {self.lookback_days}.")
        credential = self.credential if self.credential is not None else _default_credential()
        now = self.now or utcnow()
        window = Window.ending(now, self.lookback_days)
        for sub in self.subscriptions or self._list_subscriptions(credential):
            # a subscription's batches are gathered first: one refused call skips all of it
            # (its earlier inventory stays) and the other subscriptions still load
            try:
                found = list(_Subscription(self, credential, sub, now, window).batches())
            except AccessDeniedError as exc:
                self.warnings.append(f"{exc.message} Skipped: its earlier inventory is kept.")
                continue
            yield from found
        if self.prices and self.vm_regions:
            rows = self._price_rows(sorted(self.vm_regions))
            yield Batch(
                "prices",
                table("prices", rows),
                partition={"source": SOURCE, "provider": PROVIDER},
                label="azure prices",
            )

    def _price_rows(self, regions: Sequence[str]) -> list[dict[str, Any]]:
        """Pay-as-you-go Linux prices per hour from the public Azure Retail Prices API."""
        from azure.core import PipelineClient
        from azure.core.rest import HttpRequest

        client = PipelineClient(RETAIL_PRICES, **self.client_kwargs)
        rows: list[dict[str, Any]] = []
        for region in regions:
            query = (
                "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
                f"and armRegionName eq '{region}'"
            )
            url: str | None = f"{RETAIL_PRICES}/api/retail/prices?$filter={quote(query)}"
            seen: set[str] = set()
            while url:
                page = _call(
                    "retail prices", f"region {region}", _get_json, client, HttpRequest("GET", url)
                )
                for item in page.get("Items") or []:
                    size = item.get("armSkuName")
                    if not size or size in seen or not _linux_on_demand(item):
                        continue
                    seen.add(size)
                    spec = self.sizes.get(size, {})
                    gpus = spec.get("gpu_count")
                    rows.append(
                        {
                            "provider": PROVIDER,
                            "region": region,
                            "instance_type": size,
                            "sku": item.get("skuId") or item.get("meterId"),
                            "unit": "Hours",
                            "price_per_hour": Decimal(str(item["retailPrice"])),
                            "currency": item.get("currencyCode") or "USD",
                            "source": SOURCE,
                            "vcpus": spec.get("vcpus"),
                            "memory_gb": spec.get("memory_gb"),
                            "gpu_count": gpus,
                            "gpu_model": _gpu_model(size) if gpus else None,
                            "price_type": "on-demand",
                            "effective_at": utc_naive(item.get("effectiveStartDate")),
                        }
                    )
                url = page.get("NextPageLink")
        return rows

    def _list_subscriptions(self, credential: Any) -> list[str]:
        from azure.mgmt.resource.subscriptions import SubscriptionClient

        client = SubscriptionClient(credential, **self.client_kwargs)
        subs = _call(
            "subscriptions.list",
            "the tenant",
            lambda: [_raw(s) for s in client.subscriptions.list()],
        )
        found = [s["subscriptionId"] for s in subs if s.get("state", "Enabled") == "Enabled"]
        if not found:
            raise ConfigError(
                "The Azure credential can list no enabled subscription.",
                "Pass --subscriptions, or grant the identity Reader on the subscriptions.",
            )
        return found


class _Subscription:
    """One subscription's scan."""

    def __init__(
        self, scan: AzureInventory, credential: Any, sub: str, now: datetime, window: Window
    ) -> None:
        self.scan = scan
        self.credential = credential
        self.sub = sub
        self.now = now
        self.window = window
        self.summary = SubscriptionSummary(sub)
        self.wanted = {r.lower() for r in scan.regions} if scan.regions else None

    def _client(self, cls: Any) -> Any:
        return cls(self.credential, self.sub, **self.scan.client_kwargs)

    def _list(
        self, what: str, pager: Callable[..., Iterable[Any]], *args: Any, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Every item of one paged list call, as REST JSON."""
        return _call(
            what, f"subscription {self.sub}", lambda: [_raw(x) for x in pager(*args, **kwargs)]
        )

    def _keep(self, item: Mapping[str, Any]) -> bool:
        return self.wanted is None or _region(item) in self.wanted

    def batches(self) -> Iterator[Batch]:
        from azure.mgmt.compute import ComputeManagementClient
        from azure.mgmt.network import NetworkManagementClient

        compute = self._client(ComputeManagementClient)
        network = self._client(NetworkManagementClient)
        vms = [
            v
            for v in self._list("virtualMachines.list_all", compute.virtual_machines.list_all)
            if self._keep(v)
        ]
        disks = [d for d in self._list("disks.list", compute.disks.list) if self._keep(d)]
        snapshots = [
            s for s in self._list("snapshots.list", compute.snapshots.list) if self._keep(s)
        ]
        images = [i for i in self._list("images.list", compute.images.list) if self._keep(i)]
        ips = [
            p
            for p in self._list("publicIPAddresses.list_all", network.public_ip_addresses.list_all)
            if self._keep(p)
        ]
        nic_vm = self._nic_owners(network) if any(_ip_config(p) for p in ips) else {}
        nats = [
            n
            for n in self._list("natGateways.list_all", network.nat_gateways.list_all)
            if self._keep(n)
        ]
        lbs = [
            lb
            for lb in self._list("loadBalancers.list_all", network.load_balancers.list_all)
            if self._keep(lb)
        ]
        volumes = self._netapp_volumes(compute)
        workspaces = self._workspaces(compute)
        endpoints = self._online_endpoints(compute, workspaces)
        instances = self._compute_instances(compute, workspaces)
        sizes = self._sizes(
            compute,
            {_region(v) for v in vms}
            | {_region(e) for e, _ in endpoints}
            | {_region(c) for c in instances},
        )
        self.scan.vm_regions |= {_region(v) for v in vms}
        self.scan.sizes.update(sizes)

        rows: list[dict[str, Any]] = []
        for vm in vms:
            view = _call(
                "virtualMachines.instance_view",
                f"subscription {self.sub}",
                compute.virtual_machines.instance_view,
                _resource_group(vm["id"]),
                vm["name"],
            )
            rows.append(self._vm_row(vm, _raw(view), sizes))
        rows += [self._disk_row(d) for d in disks]
        rows += [self._snapshot_row(s) for s in snapshots]
        rows += [self._image_row(i) for i in images]
        rows += [self._ip_row(p, nic_vm) for p in ips]
        rows += [self._endpoint_row(e, deployments, sizes) for e, deployments in endpoints]
        rows += [self._nat_row(n) for n in nats]
        rows += [self._lb_row(lb) for lb in lbs]
        rows += [self._netapp_row(v) for v in volumes]
        rows += [self._compute_instance_row(c, sizes) for c in instances]

        regions = set(self.wanted) if self.wanted is not None else self._locations()
        regions |= {r["region"] for r in rows}
        self.summary.regions = len(regions)
        for row in rows:
            kind = row["resource_type"]
            self.summary.resources[kind] = self.summary.resources.get(kind, 0) + 1
        for region in sorted(regions):
            part = [r for r in rows if r["region"] == region]
            yield Batch(
                "resources",
                table("resources", part),
                partition={
                    "source": SOURCE,
                    "provider": PROVIDER,
                    "account_id": self.sub,
                    "region": region,
                },
                label=f"azure {self.sub} {region}",
            )
        yield from self._metric_batches(
            [r["resource_id"] for r in rows if r["resource_type"] == "vm"],
            {
                r["resource_id"]: {
                    "endpoint": ENDPOINT_METRICS,
                    "nat_gateway": NAT_METRICS,
                    "load_balancer": LB_METRICS,
                    "file_system": ANF_METRICS,
                }[r["resource_type"]]
                for r in rows
                if r["resource_type"] in ("endpoint", "nat_gateway", "load_balancer", "file_system")
            },
        )
        self.scan.summaries.append(self.summary)

    # -- lookups -----------------------------------------------------------------

    def _locations(self) -> set[str]:
        from azure.mgmt.resource.subscriptions import SubscriptionClient

        client = SubscriptionClient(self.credential, **self.scan.client_kwargs)
        found = self._list(
            "subscriptions.list_locations", client.subscriptions.list_locations, self.sub
        )
        return {str(loc["name"]).lower() for loc in found if loc.get("name")}

    def _nic_owners(self, network: Any) -> dict[str, str]:
        """IP configuration id (lower case) → the VM its network interface belongs to."""
        owners: dict[str, str] = {}
        for nic in self._list("networkInterfaces.list_all", network.network_interfaces.list_all):
            props = nic.get("properties") or {}
            vm = (props.get("virtualMachine") or {}).get("id")
            for config in props.get("ipConfigurations") or []:
                if vm and config.get("id"):
                    owners[config["id"].lower()] = vm
        return owners

    def _sizes(self, compute: Any, regions: set[str]) -> dict[str, dict[str, Any]]:
        """VM size name → vCPUs, memory and GPUs, from the resource SKU catalogue."""
        sizes: dict[str, dict[str, Any]] = {}
        for region in sorted(regions):
            skus = self._list(
                "resourceSkus.list", compute.resource_skus.list, filter=f"location eq '{region}'"
            )
            for sku in skus:
                if sku.get("resourceType") != "virtualMachines" or sku.get("name") in sizes:
                    continue
                caps = {c.get("name"): c.get("value") for c in sku.get("capabilities") or []}
                sizes[sku["name"]] = {
                    "vcpus": _int(caps.get("vCPUs")),
                    "memory_gb": _float(caps.get("MemoryGB")),
                    "gpu_count": _int(caps.get("GPUs")) or 0,
                }
        return sizes

    def _arm_pages(
        self, client: Any, what: str, path: str, api_version: str = ML_API_VERSION
    ) -> list[dict[str, Any]]:
        """Every item of an ARM list the typed SDKs do not cover, through ``client``'s
        pipeline (same credential, retries and transport), following ``nextLink``."""
        from azure.core.rest import HttpRequest

        url: str | None = f"{ARM}{path}?api-version={api_version}"
        items: list[dict[str, Any]] = []
        while url:
            page = _call(
                what, f"subscription {self.sub}", _get_json, client, HttpRequest("GET", url)
            )
            items += page.get("value") or []
            url = page.get("nextLink")
        return items

    def _workspaces(self, client: Any) -> list[dict[str, Any]]:
        return [
            ws
            for ws in self._arm_pages(
                client,
                "workspaces.list",
                f"/subscriptions/{self.sub}/providers/Microsoft.MachineLearningServices/workspaces",
            )
            if self._keep(ws)
        ]

    def _compute_instances(
        self, client: Any, workspaces: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Azure ML compute instances (the workspaces' notebook VMs)."""
        found = []
        for ws in workspaces:
            for c in self._arm_pages(client, "computes.list", f"{ws['id']}/computes"):
                if (c.get("properties") or {}).get("computeType") == "ComputeInstance":
                    found.append(c)
        return found

    def _netapp_volumes(self, client: Any) -> list[dict[str, Any]]:
        """Azure NetApp Files volumes of every account and capacity pool."""
        found = []
        accounts = self._arm_pages(
            client,
            "netAppAccounts.list",
            f"/subscriptions/{self.sub}/providers/Microsoft.NetApp/netAppAccounts",
            NETAPP_API_VERSION,
        )
        for account in accounts:
            if not self._keep(account):
                continue
            pools = self._arm_pages(
                client, "pools.list", f"{account['id']}/capacityPools", NETAPP_API_VERSION
            )
            for pool in pools:
                found += self._arm_pages(
                    client, "volumes.list", f"{pool['id']}/volumes", NETAPP_API_VERSION
                )
        return found

    def _online_endpoints(
        self, client: Any, workspaces: Sequence[Mapping[str, Any]]
    ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Azure ML online endpoints of every workspace, each with its deployments."""
        found = []
        for ws in workspaces:
            for ep in self._arm_pages(
                client, "onlineEndpoints.list", f"{ws['id']}/onlineEndpoints"
            ):
                if self._keep(ep):
                    deployments = self._arm_pages(
                        client, "onlineDeployments.list", f"{ep['id']}/deployments"
                    )
                    found.append((ep, deployments))
        return found

    # -- rows --------------------------------------------------------------------

    def _base(self, item: Mapping[str, Any], kind: str) -> dict[str, Any]:
        props = item.get("properties") or {}
        return {
            "provider": PROVIDER,
            "account_id": self.sub,
            "region": _region(item),
            "resource_id": item["id"],
            "resource_type": kind,
            "name": item.get("name"),
            "created_at": utc_naive(props.get("timeCreated")),
            "observed_at": self.now,
            "tags": to_json(item.get("tags")),
            "source": SOURCE,
        }

    def _vm_row(
        self, vm: Mapping[str, Any], view: Mapping[str, Any], sizes: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Any]:
        props = vm.get("properties") or {}
        size = (props.get("hardwareProfile") or {}).get("vmSize")
        power = next(
            (
                s["code"]
                for s in view.get("statuses") or []
                if str(s.get("code", "")).startswith("PowerState/")
            ),
            None,
        )
        storage = props.get("storageProfile") or {}
        spec = sizes.get(size or "", {})
        gpus = spec.get("gpu_count")
        details = {
            "os_type": (storage.get("osDisk") or {}).get("osType"),
            "power_state": power,
            "resource_group": _resource_group(vm["id"]),
            "vm_id": props.get("vmId"),
        }
        if props.get("priority") and props["priority"] != "Regular":
            details["priority"] = props["priority"]
        return {
            **self._base(vm, "vm"),
            "state": power.split("/", 1)[1].lower() if power else "unknown",
            "instance_type": size,
            "vcpus": spec.get("vcpus"),
            "memory_gb": spec.get("memory_gb"),
            "gpu_count": gpus,
            "gpu_model": _gpu_model(size) if gpus else None,
            "source_id": (storage.get("imageReference") or {}).get("id"),
            "lifecycle": "spot" if props.get("priority") in ("Spot", "Low") else "on-demand",
            "details": to_json({k: v for k, v in details.items() if v is not None}),
        }

    def _disk_row(self, disk: Mapping[str, Any]) -> dict[str, Any]:
        props = disk.get("properties") or {}
        managed_by = disk.get("managedBy")
        state = props.get("diskState")
        attached = bool(managed_by) or state in ("Attached", "Reserved")
        creation = props.get("creationData") or {}
        source = creation.get("sourceResourceId") or (creation.get("imageReference") or {}).get(
            "id"
        )
        ownership = props.get("lastOwnershipUpdateTime")
        details = {
            "disk_state": state,
            "last_ownership_update": ownership,
            "resource_group": _resource_group(disk["id"]),
            "sku": (disk.get("sku") or {}).get("name"),
            "tier": props.get("tier"),
        }
        return {
            **self._base(disk, "volume"),
            "state": "in-use" if attached else "available",
            "attached_to": managed_by,
            "source_id": source,
            "size_gb": _float(props.get("diskSizeGB")),
            "last_used_at": None if attached else utc_naive(ownership),
            "details": to_json({k: v for k, v in details.items() if v is not None}),
        }

    def _snapshot_row(self, snap: Mapping[str, Any]) -> dict[str, Any]:
        props = snap.get("properties") or {}
        details = {"incremental": props.get("incremental")}
        return {
            **self._base(snap, "snapshot"),
            "state": "available",
            "source_id": (props.get("creationData") or {}).get("sourceResourceId"),
            "size_gb": _float(props.get("diskSizeGB")),
            "details": to_json({k: v for k, v in details.items() if v is not None}),
        }

    def _image_row(self, image: Mapping[str, Any]) -> dict[str, Any]:
        props = image.get("properties") or {}
        os_disk = (props.get("storageProfile") or {}).get("osDisk") or {}
        source = (
            (os_disk.get("snapshot") or {}).get("id")
            or (os_disk.get("managedDisk") or {}).get("id")
            or (props.get("sourceVirtualMachine") or {}).get("id")
        )
        details = {
            "hyper_v_generation": props.get("hyperVGeneration"),
            "os_type": os_disk.get("osType"),
        }
        return {
            **self._base(image, "image"),
            "state": "available",
            "source_id": source,
            "size_gb": _float(os_disk.get("diskSizeGB")),
            "details": to_json({k: v for k, v in details.items() if v is not None}),
        }

    def _ip_row(self, ip: Mapping[str, Any], nic_vm: Mapping[str, str]) -> dict[str, Any]:
        props = ip.get("properties") or {}
        config = _ip_config(ip)
        nat = (props.get("natGateway") or {}).get("id")
        owner = None
        if config:
            owner = (
                nic_vm.get(config.lower())
                or re.split(r"/(?:frontendIPConfigurations|ipConfigurations)/", config, maxsplit=1)[
                    0
                ]
            )
        details = {
            "allocation": props.get("publicIPAllocationMethod"),
            "ip_address": props.get("ipAddress"),
            "ip_configuration": config,
            "nat_gateway": nat,
            "sku": (ip.get("sku") or {}).get("name"),
        }
        return {
            **self._base(ip, "ip_address"),
            "state": "in-use" if config or nat else "available",
            "attached_to": owner or nat,
            "details": to_json(
                {k: v for k, v in details.items() if v is not None or k == "ip_configuration"}
            ),
        }

    def _endpoint_row(
        self,
        ep: Mapping[str, Any],
        deployments: Sequence[Mapping[str, Any]],
        sizes: Mapping[str, Mapping[str, Any]],
    ) -> dict[str, Any]:
        props = ep.get("properties") or {}
        deps: list[dict[str, Any]] = [
            {
                "instance_count": int((d.get("sku") or {}).get("capacity") or 0),
                "instance_type": (d.get("properties") or {}).get("instanceType"),
                "name": d.get("name"),
            }
            for d in deployments
        ]
        size: str | None = next((d["instance_type"] for d in deps if d["instance_type"]), None)
        spec = sizes.get(size or "", {})
        gpus = spec.get("gpu_count")
        match = re.search(r"/workspaces/([^/]+)/", ep["id"], re.IGNORECASE)
        details = {
            "deployments": deps,
            "instance_count": sum(d["instance_count"] for d in deps),
            "workspace": match.group(1) if match else None,
        }
        state = str(props.get("provisioningState") or "unknown")
        return {
            **self._base(ep, "endpoint"),
            "created_at": utc_naive((ep.get("systemData") or {}).get("createdAt")),
            "state": _ENDPOINT_STATES.get(state, state.lower()),
            "instance_type": size,
            "vcpus": spec.get("vcpus"),
            "memory_gb": spec.get("memory_gb"),
            "gpu_count": gpus,
            "gpu_model": _gpu_model(size) if gpus else None,
            "details": to_json({k: v for k, v in details.items() if v is not None}),
        }

    def _nat_row(self, nat: Mapping[str, Any]) -> dict[str, Any]:
        props = nat.get("properties") or {}
        state = str(props.get("provisioningState") or "unknown")
        details = {
            "idle_timeout_minutes": props.get("idleTimeoutInMinutes"),
            "public_ips": len(props.get("publicIpAddresses") or []) or None,
            "resource_group": _resource_group(nat["id"]),
            "sku": (nat.get("sku") or {}).get("name"),
            "subnets": len(props.get("subnets") or []),
        }
        return {
            **self._base(nat, "nat_gateway"),
            "state": "available" if state == "Succeeded" else state.lower(),
            "details": to_json({k: v for k, v in details.items() if v is not None}),
        }

    def _lb_row(self, lb: Mapping[str, Any]) -> dict[str, Any]:
        props = lb.get("properties") or {}
        state = str(props.get("provisioningState") or "unknown")
        details = {
            "backend_pools": len(props.get("backendAddressPools") or []),
            "frontends": len(props.get("frontendIPConfigurations") or []),
            "lb_type": str((lb.get("sku") or {}).get("name") or "basic").lower(),
            "resource_group": _resource_group(lb["id"]),
            "rules": len(props.get("loadBalancingRules") or []),
        }
        return {
            **self._base(lb, "load_balancer"),
            "state": "active" if state == "Succeeded" else state.lower(),
            "details": to_json(details),
        }

    def _netapp_row(self, volume: Mapping[str, Any]) -> dict[str, Any]:
        props = volume.get("properties") or {}
        state = str(props.get("provisioningState") or "unknown")
        quota = props.get("usageThreshold")
        details = {
            "file_system_type": "netapp",
            "resource_group": _resource_group(volume["id"]),
            "service_level": props.get("serviceLevel"),
            "protocols": props.get("protocolTypes"),
        }
        return {
            **self._base(volume, "file_system"),
            "name": str(volume.get("name") or "").rsplit("/", 1)[-1],
            "created_at": utc_naive((volume.get("systemData") or {}).get("createdAt")),
            "state": "available" if state == "Succeeded" else state.lower(),
            "size_gb": round(float(quota) / 2**30, 3) if quota else None,
            "details": to_json({k: v for k, v in details.items() if v is not None}),
        }

    def _compute_instance_row(
        self, c: Mapping[str, Any], sizes: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Any]:
        outer = c.get("properties") or {}
        inner = outer.get("properties") or {}
        size = inner.get("vmSize")
        spec = sizes.get(size or "", {})
        gpus = spec.get("gpu_count")
        match = re.search(r"/workspaces/([^/]+)/", c["id"], re.IGNORECASE)
        last = inner.get("lastOperation") or {}
        details = {
            "platform": "azureml-compute-instance",
            "workspace": match.group(1) if match else None,
            "idle_time_before_shutdown": inner.get("idleTimeBeforeShutdown"),
            "last_operation": last.get("operationName"),
            "last_operation_at": last.get("operationTime"),
            "owner": ((inner.get("personalComputeInstanceSettings") or {}).get("assignedUser")
                      or {}).get("objectId"),
        }  # fmt: skip
        return {
            **self._base(c, "notebook"),
            "created_at": utc_naive(outer.get("createdOn")),
            "state": str(inner.get("state") or "unknown").lower(),
            "instance_type": size,
            "vcpus": spec.get("vcpus"),
            "memory_gb": spec.get("memory_gb"),
            "gpu_count": gpus,
            "gpu_model": _gpu_model(size) if gpus else None,
            "details": to_json({k: v for k, v in details.items() if v is not None}),
        }

    # -- metrics -----------------------------------------------------------------

    def _metric_batches(
        self,
        vm_ids: Sequence[str],
        others: Mapping[str, Mapping[str, tuple[str, tuple[tuple[str, str], ...]]]],
    ) -> Iterator[Batch]:
        from azure.mgmt.monitor import MonitorManagementClient

        monitor = self._client(MonitorManagementClient)
        w = self.window
        rows: list[dict[str, Any]] = []
        queries = [
            (vm_id, query)
            for vm_id in vm_ids
            for query in (
                ("P1D", 86400, w.daily_start, w.daily_end, DAILY_METRICS),
                ("PT1H", 3600, w.hourly_start, w.hourly_end, HOURLY_METRICS),
            )
        ] + [
            (rid, ("P1D", 86400, w.daily_start, w.daily_end, wanted))
            for rid, wanted in others.items()
        ]
        for resource_id, (interval, period_s, start, end, wanted) in queries:
            aggregations = sorted({a for _, stats in wanted.values() for a, _ in stats})
            response = _call(
                "metrics.list",
                f"subscription {self.sub}",
                monitor.metrics.list,
                resource_id,
                timespan=f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}",
                interval=interval,
                metricnames=",".join(wanted),
                aggregation=",".join(a.capitalize() for a in aggregations),
            )
            found = _metric_rows(resource_id, response, wanted, period_s, start, end)
            if wanted is ANF_METRICS:  # operations per second → the day's operations
                found = [{**row, "value": row["value"] * 86400} for row in found]
            rows += found
        rows = _combine(rows)
        self.summary.metric_samples = len(rows)
        if rows:
            yield Batch("metrics", table("metrics", rows), label=f"azure {self.sub} metrics")


def _metric_rows(
    vm_id: str,
    response: Any,
    wanted: Mapping[str, tuple[str, tuple[tuple[str, str], ...]]],
    period_s: int,
    start: datetime,
    end: datetime,
) -> list[dict[str, Any]]:
    rows = []
    for metric in response.value or []:
        name = metric.name.value if metric.name is not None else None
        if name is None or name not in wanted:
            continue
        ours, stats = wanted[name]
        for series in metric.timeseries or []:
            for point in series.data or []:
                ts = utc_naive(point.time_stamp)
                if ts is None or not start <= ts < end:
                    continue
                for attr, stat in stats:
                    value = getattr(point, attr, None)
                    if value is None:
                        continue
                    rows.append(
                        {
                            "resource_id": vm_id,
                            "metric": ours,
                            "ts": ts,
                            "value": float(value),
                            "stat": stat,
                            "period_s": period_s,
                            "source": SOURCE,
                        }
                    )
    return rows


def _combine(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One sample per resource, metric, statistic, period and time: two Azure metrics that
    are one of ours (NetApp read and write operations) are summed."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (row["resource_id"], row["metric"], row["stat"], row["period_s"], row["ts"])
        if key in merged:
            merged[key] = {**merged[key], "value": merged[key]["value"] + row["value"]}
        else:
            merged[key] = row
    return list(merged.values())


# -- helpers -------------------------------------------------------------------------


def _default_credential() -> Any:
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:  # pragma: no cover - a dependency of mlcost
        raise ConfigError("azure-identity is not installed.", "pip install azure-identity") from exc
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def _call(what: str, where: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one SDK call (pages and all) and translate its failure into one clear error."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
    )

    try:
        return fn(*args, **kwargs)
    except MlcostError:
        raise
    except ClientAuthenticationError as exc:
        raise ConfigError(
            f"Azure refused the credential for {what} on {where}: {_first_line(exc)}",
            "Sign in (az login), or set AZURE_CLIENT_ID / AZURE_TENANT_ID / "
            "AZURE_CLIENT_SECRET for a service principal.",
        ) from exc
    except HttpResponseError as exc:
        status = exc.status_code
        code = getattr(exc.error, "code", None) if exc.error is not None else None
        label = f"HTTP {status}" + (f" {code}" if code else "")
        if status == 403:
            raise AccessDeniedError(
                f"Azure denied {what} on {where} ({label}).",
                "Grant the identity the built-in Reader and Monitoring Reader roles there, "
                "or leave it out of --subscriptions. The store is unchanged.",
            ) from exc
        if status == 429:
            raise InputError(
                f"Azure kept throttling {what} on {where} ({label}) after retries.",
                "Try again later or scan fewer subscriptions at once. The store is unchanged.",
            ) from exc
        raise InputError(
            f"Azure {what} on {where} failed ({label}): {_first_line(exc)}",
            "The store is unchanged.",
        ) from exc
    except ServiceRequestError as exc:
        raise InputError(
            f"Cannot reach Azure for {what} on {where}: {_first_line(exc)}",
            "Check the network or proxy settings. The store is unchanged.",
        ) from exc


def _get_json(client: Any, request: Any) -> dict[str, Any]:
    response = client.send_request(request)
    response.raise_for_status()
    return dict(response.json())


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


def _raw(model: Any) -> dict[str, Any]:
    """An SDK model as the REST JSON it was read from (camelCase keys)."""
    if isinstance(model, Mapping):
        return dict(model.as_dict()) if hasattr(model, "as_dict") else dict(model)
    return dict(model.serialize(keep_readonly=True))


def _region(item: Mapping[str, Any]) -> str:
    return str(item.get("location") or "").replace(" ", "").lower()


def _resource_group(resource_id: str) -> str | None:
    match = re.search(r"/resourceGroups/([^/]+)", resource_id, re.IGNORECASE)
    return match.group(1) if match else None


def _ip_config(ip: Mapping[str, Any]) -> str | None:
    return ((ip.get("properties") or {}).get("ipConfiguration") or {}).get("id")


def _gpu_model(size: str | None) -> str | None:
    for pattern, model in _GPU_MODELS:
        if size and pattern.search(size):
            return model
    return None


def _int(value: Any) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
