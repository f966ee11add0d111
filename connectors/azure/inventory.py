"""Azure inventory and utilisation: VMs with power state, managed disks, snapshots,
images, public IPs, NAT gateways, load balancers, NetApp Files volumes and Azure ML
endpoints and compute instances, as ``resources`` rows, with their Azure Monitor metrics
(:mod:`.monitor`) and Retail Prices API prices (:mod:`.prices`).

The SDK clients (azure-mgmt-*) come with their own pipeline: DefaultAzureCredential,
paging through ``nextLink``, retries with back-off on 429/5xx. Errors are translated once
(:func:`.api.call`) into :class:`mlcost.errors.MlcostError` naming the call and subscription.
Nothing is fetched until :meth:`AzureInventory.batches` is iterated, and the store is
never opened here: a failure half-way leaves the store as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlcost.connectors._rows import Window, table, to_json, utc_naive, utcnow
from mlcost.connectors.azure.api import (
    ARM,
    CLIENT_TIMEOUTS,
    PROVIDER,
    SOURCE,
    call,
    default_credential,
    get_json,
    gpu_model_of,
    raw,
    region_of,
    resource_group,
    to_float,
    to_int,
)
from mlcost.connectors.azure.monitor import (
    ANF_METRICS,
    ENDPOINT_METRICS,
    LB_METRICS,
    NAT_METRICS,
    MonitorReader,
)
from mlcost.connectors.azure.prices import RETAIL_PRICES, disk_price_rows, vm_price_rows

from mlcost.errors import AccessDeniedError, ConfigError, InputError
from mlcost.store import Batch

ML_API_VERSION = "2024-04-01"
NETAPP_API_VERSION = "2024-03-01"
_ENDPOINT_STATES = {
    "Succeeded": "running",
    "Creating": "pending",
    "Updating": "pending",
    "Deleting": "deleting",
    "Failed": "failed",
    "Canceled": "failed",
}


@dataclass
class SubscriptionSummary:
    subscription_id: str
    regions: int = 0
    resources: dict[str, int] = field(default_factory=dict)
    metric_samples: int = 0


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
    #: Also load on-demand Linux prices of every VM size in the regions that run VMs, and
    #: managed-disk prices in the regions with Premium SSD disks.
    prices: bool = True
    summaries: list[SubscriptionSummary] = field(default_factory=list)
    #: Subscriptions skipped because a call was refused, one sentence each.
    warnings: list[str] = field(default_factory=list)
    #: Filled while scanning: VM regions, and each size's vCPUs, memory and GPUs.
    vm_regions: set[str] = field(default_factory=set)
    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Regions with Premium SSD disks (their disk prices are loaded).
    disk_regions: set[str] = field(default_factory=set)

    def batches(self) -> Iterator[Batch]:
        """Per subscription: one ``resources`` batch per region scanned (an explicit
        partition, so what disappeared disappears), then that subscription's metrics."""
        if self.lookback_days < 1:
            raise InputError(f"--lookback-days must be at least 1, not {self.lookback_days}.")
        credential = self.credential if self.credential is not None else default_credential()
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
        if self.prices and (self.vm_regions or self.disk_regions):
            from azure.core import PipelineClient

            client = PipelineClient(RETAIL_PRICES, **self.client_kwargs)
            rows = vm_price_rows(client, sorted(self.vm_regions), self.sizes)
            rows += disk_price_rows(client, sorted(self.disk_regions))
            yield Batch(
                "prices",
                table("prices", rows),
                partition={"source": SOURCE, "provider": PROVIDER},
                label="azure prices",
            )

    def _list_subscriptions(self, credential: Any) -> list[str]:
        from azure.mgmt.resource.subscriptions import SubscriptionClient

        client = SubscriptionClient(credential, **self.client_kwargs)
        subs = call(
            "subscriptions.list",
            "the tenant",
            lambda: [raw(s) for s in client.subscriptions.list()],
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
        return call(
            what, f"subscription {self.sub}", lambda: [raw(x) for x in pager(*args, **kwargs)]
        )

    def _keep(self, item: Mapping[str, Any]) -> bool:
        return self.wanted is None or region_of(item) in self.wanted

    def batches(self) -> Iterator[Batch]:
        from azure.mgmt.compute import ComputeManagementClient
        from azure.mgmt.monitor import MonitorManagementClient
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
        premium = {region_of(d) for d in disks if _disk_sku(d) == "premium_lrs"}
        sizes, v2_zones = self._sizes(
            compute,
            {region_of(v) for v in vms}
            | {region_of(e) for e, _ in endpoints}
            | {region_of(c) for c in instances}
            | premium,
        )
        self.scan.vm_regions |= {region_of(v) for v in vms}
        self.scan.disk_regions |= premium
        self.scan.sizes.update(sizes)

        rows: list[dict[str, Any]] = []
        for vm in vms:
            view = call(
                "virtualMachines.instance_view",
                f"subscription {self.sub}",
                compute.virtual_machines.instance_view,
                resource_group(vm["id"]),
                vm["name"],
            )
            rows.append(self._vm_row(vm, raw(view), sizes))
        rows += [self._disk_row(d, v2_zones) for d in disks]
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
        instances_by_workspace: dict[str, dict[str, str]] = {}
        for r in rows:
            if r["resource_type"] == "notebook":
                workspace, _, name = r["resource_id"].rpartition("/computes/")
                instances_by_workspace.setdefault(workspace, {})[name.lower()] = r["resource_id"]
        reader = MonitorReader(self._client(MonitorManagementClient), self.sub, self.window)
        samples = reader.rows(
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
            instances_by_workspace,
        )
        self.summary.metric_samples = len(samples)
        if samples:
            yield Batch("metrics", table("metrics", samples), label=f"azure {self.sub} metrics")
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

    def _sizes(
        self, compute: Any, regions: set[str]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
        """From the resource SKU catalogue: VM size name → vCPUs, memory and GPUs, and the
        regions that offer Premium SSD v2 disks → the zones they offer them in (none: the
        region has no zones, and v2 disks there are regional)."""
        sizes: dict[str, dict[str, Any]] = {}
        v2_zones: dict[str, list[str]] = {}
        for region in sorted(regions):
            skus = self._list(
                "resourceSkus.list", compute.resource_skus.list, filter=f"location eq '{region}'"
            )
            for sku in skus:
                if sku.get("resourceType") == "disks" and sku.get("name") == "PremiumV2_LRS":
                    offered = [str(loc).lower() for loc in sku.get("locations") or []]
                    if region in offered:
                        v2_zones[region] = sorted(
                            str(zone)
                            for info in sku.get("locationInfo") or []
                            if str(info.get("location") or "").lower() == region
                            for zone in info.get("zones") or []
                        )
                if sku.get("resourceType") != "virtualMachines" or sku.get("name") in sizes:
                    continue
                caps = {c.get("name"): c.get("value") for c in sku.get("capabilities") or []}
                sizes[sku["name"]] = {
                    "vcpus": to_int(caps.get("vCPUs")),
                    "memory_gb": to_float(caps.get("MemoryGB")),
                    "gpu_count": to_int(caps.get("GPUs")) or 0,
                }
        return sizes, v2_zones

    def _arm_pages(
        self, client: Any, what: str, path: str, api_version: str = ML_API_VERSION
    ) -> list[dict[str, Any]]:
        """Every item of an ARM list the typed SDKs do not cover, through ``client``'s
        pipeline (same credential, retries and transport), following ``nextLink``."""
        from azure.core.rest import HttpRequest

        url: str | None = f"{ARM}{path}?api-version={api_version}"
        items: list[dict[str, Any]] = []
        while url:
            page = call(what, f"subscription {self.sub}", get_json, client, HttpRequest("GET", url))
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
            "region": region_of(item),
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
            "resource_group": resource_group(vm["id"]),
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
            "gpu_model": gpu_model_of(size) if gpus else None,
            "source_id": (storage.get("imageReference") or {}).get("id"),
            "lifecycle": "spot" if props.get("priority") in ("Spot", "Low") else "on-demand",
            "details": to_json({k: v for k, v in details.items() if v is not None}),
        }

    def _disk_row(
        self, disk: Mapping[str, Any], v2_zones: Mapping[str, list[str]]
    ) -> dict[str, Any]:
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
            "resource_group": resource_group(disk["id"]),
            "sku": (disk.get("sku") or {}).get("name"),
            "tier": props.get("tier"),
            # what a move to Premium SSD v2 depends on: not an OS disk, and in a region that
            # offers v2 in zones, a zonal disk
            "os_type": props.get("osType"),
            "zones": list(disk.get("zones") or []) or None,
            "premium_v2_zones": v2_zones.get(region_of(disk))
            if _disk_sku(disk) == "premium_lrs"
            else None,
        }
        return {
            **self._base(disk, "volume"),
            "state": "in-use" if attached else "available",
            "attached_to": managed_by,
            "source_id": source,
            "size_gb": to_float(props.get("diskSizeGB")),
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
            "size_gb": to_float(props.get("diskSizeGB")),
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
            "size_gb": to_float(os_disk.get("diskSizeGB")),
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
            "gpu_model": gpu_model_of(size) if gpus else None,
            "details": to_json({k: v for k, v in details.items() if v is not None}),
        }

    def _nat_row(self, nat: Mapping[str, Any]) -> dict[str, Any]:
        props = nat.get("properties") or {}
        state = str(props.get("provisioningState") or "unknown")
        details = {
            "idle_timeout_minutes": props.get("idleTimeoutInMinutes"),
            "public_ips": len(props.get("publicIpAddresses") or []) or None,
            "resource_group": resource_group(nat["id"]),
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
            "resource_group": resource_group(lb["id"]),
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
            "resource_group": resource_group(volume["id"]),
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
            "gpu_model": gpu_model_of(size) if gpus else None,
            "details": to_json({k: v for k, v in details.items() if v is not None}),
        }

    # -- metrics -----------------------------------------------------------------


def _ip_config(ip: Mapping[str, Any]) -> str | None:
    return ((ip.get("properties") or {}).get("ipConfiguration") or {}).get("id")


def _disk_sku(disk: Mapping[str, Any]) -> str:
    return str((disk.get("sku") or {}).get("name") or "").lower()
