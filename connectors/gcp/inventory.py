"""GCP inventory and utilisation: Compute Engine instances, disks, snapshots, images,
addresses, Cloud NAT gateways, Filestore, Vertex AI endpoints and Workbench instances, as
``resources`` rows, with their Cloud Monitoring metrics (:mod:`.monitoring`) and Cloud
Billing prices (:mod:`.billing`).

Credentials are google-auth's application default credentials. Compute Engine and
Resource Manager are read over their REST transports; Cloud Monitoring over gRPC (its
only transport). Every call retries with back-off on 429/503; errors are translated once
(:func:`.api.call`) into :class:`mlcost.errors.MlcostError` naming the call and project.
Nothing is fetched until :meth:`GcpInventory.batches` is iterated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from mlcost.connectors._rows import Window, table, to_json, utc_naive, utcnow
from mlcost.connectors.gcp.api import (
    GLOBAL,
    PROVIDER,
    SOURCE,
    call,
    default_credentials,
    default_retry,
    details_json,
    full_name,
    gpu_model_of,
    location_of,
    rest_page,
    scope_region,
)
from mlcost.connectors.gcp.billing import billing_account_projects, catalog_price_rows
from mlcost.connectors.gcp.monitoring import metric_rows

from mlcost.errors import AccessDeniedError, ConfigError, InputError
from mlcost.store import Batch

#: Managed services the project may not have enabled, read over REST.
FILESTORE_API = "https://file.googleapis.com"
NOTEBOOKS_API = "https://notebooks.googleapis.com"

_STATES = {
    "RUNNING": "running",
    "TERMINATED": "stopped",
    "STOPPED": "stopped",
    "STOPPING": "stopping",
    "SUSPENDED": "suspended",
    "SUSPENDING": "stopping",
    "PROVISIONING": "pending",
    "STAGING": "pending",
    "REPAIRING": "pending",
}


@dataclass
class ProjectSummary:
    project_id: str
    regions: int = 0
    resources: dict[str, int] = field(default_factory=dict)
    metric_samples: int = 0


@dataclass
class GcpInventory:
    """What ``mlcost ingest gcp`` reads: one scan of the given (or all listable) projects.

    ``client_options`` go to the Compute Engine and Resource Manager clients (tests point
    ``api_endpoint`` at a local server); ``monitoring_options`` to the Monitoring client.
    """

    projects: Sequence[str] | None = None
    regions: Sequence[str] | None = None
    lookback_days: int = 30
    credentials: Any = None
    client_options: Mapping[str, Any] | None = None
    monitoring_options: Mapping[str, Any] = field(default_factory=dict)
    retry: Any = None
    now: datetime | None = None
    #: Also list Vertex AI endpoints in every region scanned (``vertex_endpoint``
    #: replaces ``https://REGION-aiplatform.googleapis.com``, for tests).
    vertex: bool = True
    vertex_endpoint: str | None = None
    #: Filestore instances and Vertex AI Workbench instances (``rest_endpoint`` replaces
    #: their APIs' base URLs, for tests).
    rest_endpoint: str | None = None
    #: Price the machine types, disks, snapshots, images and addresses seen from the Cloud
    #: Billing Catalog (google-cloud-billing's CloudCatalogClient, with ``client_options``).
    prices: bool = True
    #: Scan exactly the projects this billing account pays for (CloudBillingClient).
    billing_account: str | None = None
    #: (region, machine type) → the VM row that described it, for pricing.
    machine_specs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: Regions with disks or addresses, for their unit prices.
    storage_regions: set[str] = field(default_factory=set)
    summaries: list[ProjectSummary] = field(default_factory=list)
    #: Projects skipped because a call was refused, one sentence each.
    warnings: list[str] = field(default_factory=list)

    def batches(self) -> Iterator[Batch]:
        """Per project: one ``resources`` batch per region scanned (an explicit partition;
        snapshots and images under ``global``), then the project's metrics."""
        if self.lookback_days < 1:
            raise InputError(f"--lookback-days must be at least 1, not {self.lookback_days}.")
        if self.credentials is None:
            self.credentials = default_credentials()
        if self.retry is None:
            self.retry = default_retry()
        if self.projects and self.billing_account:
            raise InputError(
                "Give --projects or --billing-account, not both.",
                "--billing-account scans exactly the projects that account pays for.",
            )
        now = self.now or utcnow()
        window = Window.ending(now, self.lookback_days)
        projects = self.projects
        if self.billing_account:
            projects = self._billing_account_projects(self.billing_account)
        for project in projects or self._list_projects():
            # a project's batches are gathered first: one refused call skips all of it
            # (its earlier inventory stays) and the other projects still load
            try:
                found = list(_Project(self, project, now, window).batches())
            except AccessDeniedError as exc:
                self.warnings.append(f"{exc.message} Skipped: its earlier inventory is kept.")
                continue
            yield from found
        if self.prices and (self.machine_specs or self.storage_regions):
            yield Batch(
                "prices",
                table("prices", self._price_rows()),
                partition={"source": SOURCE, "provider": PROVIDER},
                label="gcp prices",
            )

    def _billing_account_projects(self, account: str) -> list[str]:
        from google.cloud import billing_v1

        client = self._rest(billing_v1.CloudBillingClient)
        return billing_account_projects(client, account, self.retry)

    def _price_rows(self) -> list[dict[str, Any]]:
        from google.cloud import billing_v1

        client = self._rest(billing_v1.CloudCatalogClient)
        return catalog_price_rows(client, self.retry, self.machine_specs, self.storage_regions)

    def _rest(self, cls: Any) -> Any:
        return cls(
            credentials=self.credentials, client_options=self.client_options, transport="rest"
        )

    def _list_projects(self) -> list[str]:
        from google.cloud import resourcemanager_v3

        client = self._rest(resourcemanager_v3.ProjectsClient)
        found = call(
            "projects.search",
            "the credential's organisation",
            lambda: [
                p.project_id for p in client.search_projects(query="state:ACTIVE", retry=self.retry)
            ],
        )
        if not found:
            raise ConfigError(
                "The Google credential can list no active project.",
                "Pass --projects, or grant the identity roles/browser (or roles/viewer).",
            )
        return sorted(found)


class _Project:
    """One project's scan."""

    def __init__(self, scan: GcpInventory, project: str, now: datetime, window: Window) -> None:
        self.scan = scan
        self.project = project
        self.now = now
        self.window = window
        self.where = f"project {project}"
        self.summary = ProjectSummary(project)
        self.wanted = {r.lower() for r in scan.regions} | {GLOBAL} if scan.regions else None

    def _aggregated(self, what: str, client: Any, kind: str) -> tuple[list[Any], set[str]]:
        """Every item of an aggregated list, and every region its scopes name."""
        items: list[Any] = []
        regions: set[str] = set()

        def fetch() -> None:
            pager = client.aggregated_list(
                project=self.project,
                retry=self.scan.retry,
            )
            for scope, scoped in pager:
                regions.add(scope_region(scope))
                items.extend(getattr(scoped, kind))

        call(what, self.where, fetch)
        return items, regions

    def _listed(self, what: str, client: Any) -> list[Any]:
        """Every item of a project's (global) list call."""
        return call(
            what,
            self.where,
            lambda: list(client.list(project=self.project, retry=self.scan.retry)),
        )

    def _keep(self, region: str) -> bool:
        return self.wanted is None or region in self.wanted

    def batches(self) -> Iterator[Batch]:
        from google.cloud import compute_v1

        instances, regions = self._aggregated(
            "instances.aggregatedList", self.scan._rest(compute_v1.InstancesClient), "instances"
        )
        disks, disk_regions = self._aggregated(
            "disks.aggregatedList", self.scan._rest(compute_v1.DisksClient), "disks"
        )
        addresses, address_regions = self._aggregated(
            "addresses.aggregatedList", self.scan._rest(compute_v1.AddressesClient), "addresses"
        )
        routers, _ = self._aggregated(
            "routers.aggregatedList", self.scan._rest(compute_v1.RoutersClient), "routers"
        )
        regional_rules, _ = self._aggregated(
            "forwardingRules.aggregatedList",
            self.scan._rest(compute_v1.ForwardingRulesClient),
            "forwarding_rules",
        )
        global_rules = self._listed(
            "globalForwardingRules.list", self.scan._rest(compute_v1.GlobalForwardingRulesClient)
        )
        backend_services, _ = self._aggregated(
            "backendServices.aggregatedList",
            self.scan._rest(compute_v1.BackendServicesClient),
            "backend_services",
        )
        filestores = self._rest_list(FILESTORE_API, "v1", "instances", "filestore instances.list")
        workbench = self._rest_list(NOTEBOOKS_API, "v2", "instances", "notebooks instances.list")
        snapshots = self._listed("snapshots.list", self.scan._rest(compute_v1.SnapshotsClient))
        images = self._listed("images.list", self.scan._rest(compute_v1.ImagesClient))
        machine_types = self._machine_types(compute_v1, instances)
        disk_by_link = {d.self_link: d for d in disks}
        boot_links = {d.source for i in instances for d in i.disks if d.boot}

        rows: list[dict[str, Any]] = []
        rows += [self._vm_row(i, machine_types, disk_by_link) for i in instances]
        # a Workbench instance runs on a VM of the same name in its zone: it replaces that
        # VM in the inventory, and the VM's metrics become the notebook's
        notebook_of: dict[str, str] = {}
        notebooks = []
        for wb in workbench:
            location, name = location_of(wb["name"]), wb["name"].rsplit("/", 1)[-1]
            vm = next(
                (r for r in rows if r["name"] == name and f"zones/{location}/" in r["resource_id"]),
                None,
            )
            row = self._workbench_row(wb, vm)
            notebooks.append(row)
            if vm is not None:
                notebook_of[vm["resource_id"]] = row["resource_id"]
        rows = [r for r in rows if r["resource_id"] not in notebook_of] + notebooks
        for row in rows:
            if row.get("instance_type") and row.get("vcpus"):
                self.scan.machine_specs.setdefault((row["region"], row["instance_type"]), row)
        rows += [self._disk_row(d, boot_links) for d in disks]
        self.scan.storage_regions |= {scope_region(d.zone or d.region) for d in disks} | {
            scope_region(a.region) for a in addresses if a.region
        }
        rows += [self._snapshot_row(s) for s in snapshots]
        rows += [self._image_row(i) for i in images]
        rows += [self._address_row(a) for a in addresses]
        nats = [(router, nat) for router in routers for nat in router.nats]
        rows += [self._nat_row(router, nat) for router, nat in nats]
        rows += [self._filestore_row(f) for f in filestores]
        balancers = [
            (rule, kind)
            for rule in [*regional_rules, *global_rules]
            if (kind := load_balancer_kind(rule)) is not None
        ]
        backends = {b.self_link: b for b in backend_services}
        rows += [self._lb_row(rule, kind, backends) for rule, kind in balancers]
        rows = [r for r in rows if self._keep(r["region"])]

        scanned = (regions | disk_regions | address_regions | {GLOBAL}) - {""}
        scanned = set(self.wanted) if self.wanted is not None else scanned
        endpoints = self._vertex_endpoints(sorted(scanned - {GLOBAL})) if self.scan.vertex else []
        rows += [self._endpoint_row(region, e) for region, e in endpoints]
        scanned |= {r["region"] for r in rows}
        self.summary.regions = len(scanned)
        for row in rows:
            kind = row["resource_type"]
            self.summary.resources[kind] = self.summary.resources.get(kind, 0) + 1
        for region in sorted(scanned):
            yield Batch(
                "resources",
                table("resources", [r for r in rows if r["region"] == region]),
                partition={
                    "source": SOURCE,
                    "provider": PROVIDER,
                    "account_id": self.project,
                    "region": region,
                },
                label=f"gcp {self.project} {region}",
            )
        present = {r["resource_id"] for r in rows}
        vm_ids = {str(i.id): full_name(i.self_link) for i in instances}
        vm_ids = {k: notebook_of.get(v, v) for k, v in vm_ids.items()}
        ids_by_type = {
            "gce_instance": {k: v for k, v in vm_ids.items() if v in present},
            "aiplatform.googleapis.com/Endpoint": {
                r["resource_id"].rsplit("/", 1)[1]: r["resource_id"]
                for r in rows
                if r["resource_type"] == "endpoint"
            },
            "nat_gateway": {
                f"{router.id}/{nat.name}": self._nat_id(router, nat)
                for router, nat in nats
                if self._nat_id(router, nat) in present
            },
            "filestore_instance": {
                r["name"]: r["resource_id"] for r in rows if r["resource_type"] == "file_system"
            },
        }
        for rule, (_, monitored) in balancers:
            if full_name(rule.self_link) in present:
                region = scope_region(rule.region) if rule.region else GLOBAL
                ids = ids_by_type.setdefault(monitored, {})
                ids[f"{region}/{rule.name}"] = full_name(rule.self_link)
        if any(ids_by_type.values()):
            rows = metric_rows(
                self.project,
                self.window,
                ids_by_type,
                options=self.scan.monitoring_options,
                credentials=self.scan.credentials,
                retry=self.scan.retry,
            )
            self.summary.metric_samples = len(rows)
            if rows:
                yield Batch("metrics", table("metrics", rows), label=f"gcp {self.project} metrics")
        self.scan.summaries.append(self.summary)

    def _rest_list(
        self, api: str, version: str, collection: str, what: str
    ) -> list[dict[str, Any]]:
        """Every item of ``projects/P/locations/-/<collection>`` of a REST API (all
        locations at once); a project without the API enabled has none."""
        from google.auth.transport.requests import AuthorizedSession

        session = AuthorizedSession(self.scan.credentials)
        base = self.scan.rest_endpoint or api
        url = f"{base}/{version}/projects/{self.project}/locations/-/{collection}"
        found: list[dict[str, Any]] = []
        token = ""
        while True:
            page = call(what, self.where, partial(rest_page, session, url, token, self.scan.retry))
            found += page.get(collection) or []
            token = page.get("nextPageToken") or ""
            if not token:
                return found

    def _nat_id(self, router: Any, nat: Any) -> str:
        return f"{full_name(router.self_link)}/nats/{nat.name}"

    def _nat_row(self, router: Any, nat: Any) -> dict[str, Any]:
        details = {
            "router": router.name,
            "nat_ip_allocate_option": nat.nat_ip_allocate_option or None,
            "source_subnetwork_ip_ranges_to_nat": nat.source_subnetwork_ip_ranges_to_nat or None,
            "nat_ips": len(nat.nat_ips) or None,
        }
        return {
            "provider": PROVIDER,
            "account_id": self.project,
            "region": scope_region(router.region),
            "resource_id": self._nat_id(router, nat),
            "resource_type": "nat_gateway",
            "name": nat.name,
            "state": "available",
            "created_at": utc_naive(router.creation_timestamp or None),
            "observed_at": self.now,
            "details": details_json(details),
            "tags": "{}",
            "source": SOURCE,
        }

    def _lb_row(
        self, rule: Any, kind: tuple[str, str], backends: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A forwarding rule of a load balancer (each bills by the hour), with the backend
        service it sends to where it names one (a passthrough Network Load Balancer)."""
        lb_type, monitored = kind
        backend = backends.get(rule.backend_service) if rule.backend_service else None
        target = rule.target or rule.backend_service
        details = {
            "lb_type": lb_type,
            "scheme": rule.load_balancing_scheme or None,
            "ip_address": rule.I_p_address or None,
            "protocol": rule.I_p_protocol or None,
            "ports": rule.port_range or ",".join(rule.ports) or None,
            "target": "/".join(target.rsplit("/", 2)[-2:]) if target else None,
            "backends": len(backend.backends) if backend is not None else None,
            "monitored_resource": monitored,
        }
        region = scope_region(rule.region) if rule.region else GLOBAL
        return {
            **self._base(rule, "load_balancer", region),
            "state": "active",
            "details": details_json(details),
        }

    def _filestore_row(self, f: Mapping[str, Any]) -> dict[str, Any]:
        shares = f.get("fileShares") or []
        capacity = sum(float(s.get("capacityGb") or 0) for s in shares)
        location = location_of(f["name"])
        state = str(f.get("state") or "")
        details = {
            "file_system_type": "filestore",
            "tier": f.get("tier"),
            "shares": [s.get("name") for s in shares] or None,
        }
        return {
            "provider": PROVIDER,
            "account_id": self.project,
            "region": scope_region(f"zones/{location}") if location.count("-") == 2 else location,
            "resource_id": f"//file.googleapis.com/{f['name']}",
            "resource_type": "file_system",
            "name": f["name"].rsplit("/", 1)[-1],
            "state": "available" if state == "READY" else state.lower(),
            "created_at": utc_naive(f.get("createTime")),
            "observed_at": self.now,
            "size_gb": capacity or None,
            "details": details_json(details),
            "tags": to_json(f.get("labels")),
            "source": SOURCE,
        }

    def _workbench_row(self, wb: Mapping[str, Any], vm: Mapping[str, Any] | None) -> dict[str, Any]:
        setup = wb.get("gceSetup") or {}
        accelerators = setup.get("acceleratorConfigs") or []
        gpus = sum(int(a.get("coreCount") or 0) for a in accelerators)
        machine = str(setup.get("machineType") or "").rsplit("/", 1)[-1] or None
        state = str(wb.get("state") or "")
        details = {
            "platform": "vertex-workbench",
            "creator": wb.get("creator"),
            "health_state": wb.get("healthState"),
            "vm": vm["resource_id"] if vm else None,
        }
        return {
            "provider": PROVIDER,
            "account_id": self.project,
            "region": scope_region(f"zones/{location_of(wb['name'])}"),
            "resource_id": f"//notebooks.googleapis.com/{wb['name']}",
            "resource_type": "notebook",
            "name": wb["name"].rsplit("/", 1)[-1],
            "state": "running" if state == "ACTIVE" else state.lower(),
            "created_at": utc_naive(wb.get("createTime")),
            "observed_at": self.now,
            "instance_type": machine or (vm or {}).get("instance_type"),
            "vcpus": (vm or {}).get("vcpus"),
            "memory_gb": (vm or {}).get("memory_gb"),
            "gpu_count": gpus,
            "gpu_model": gpu_model_of(accelerators[0].get("type", "")) if gpus else None,
            "details": details_json(details),
            "tags": to_json(wb.get("labels")),
            "source": SOURCE,
        }

    def _vertex_endpoints(self, regions: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
        """Vertex AI endpoints of every region (REST; a project without the Vertex AI API
        enabled has none)."""
        from google.auth.transport.requests import AuthorizedSession

        session = AuthorizedSession(self.scan.credentials)
        found: list[tuple[str, dict[str, Any]]] = []
        for region in regions:
            base = self.scan.vertex_endpoint or f"https://{region}-aiplatform.googleapis.com"
            url = f"{base}/v1/projects/{self.project}/locations/{region}/endpoints"
            token = ""
            while True:
                page = call(
                    "endpoints.list",
                    f"{self.where} in {region}",
                    partial(rest_page, session, url, token, self.scan.retry),
                )
                found += [(region, e) for e in page.get("endpoints") or []]
                token = page.get("nextPageToken") or ""
                if not token:
                    break
        return found

    def _endpoint_row(self, region: str, ep: Mapping[str, Any]) -> dict[str, Any]:
        models = ep.get("deployedModels") or []
        deployed = []
        for m in models:
            dedicated = m.get("dedicatedResources") or {}
            spec = dedicated.get("machineSpec") or {}
            deployed.append(
                {
                    "accelerator_count": spec.get("acceleratorCount"),
                    "accelerator_type": spec.get("acceleratorType"),
                    "display_name": m.get("displayName"),
                    "machine_type": spec.get("machineType"),
                    "min_replica_count": dedicated.get("minReplicaCount"),
                }
            )
        first = deployed[0] if deployed else {}
        gpus = int(first.get("accelerator_count") or 0)
        endpoint_id = str(ep.get("name", "")).rsplit("/", 1)[-1]
        details = {
            "deployed_models": [{k: v for k, v in d.items() if v is not None} for d in deployed],
            "instance_count": sum(int(d["min_replica_count"] or 0) for d in deployed),
        }
        return {
            "provider": PROVIDER,
            "account_id": self.project,
            "region": region,
            "resource_id": f"//aiplatform.googleapis.com/projects/{self.project}"
            f"/locations/{region}/endpoints/{endpoint_id}",
            "resource_type": "endpoint",
            "name": ep.get("displayName") or endpoint_id,
            # An endpoint with no deployed model holds (and bills) no machines.
            "state": "running" if deployed else "empty",
            "created_at": utc_naive(ep.get("createTime")),
            "observed_at": self.now,
            "instance_type": first.get("machine_type"),
            "gpu_count": gpus if deployed else None,
            "gpu_model": gpu_model_of(first["accelerator_type"]) if gpus else None,
            "details": to_json(details),
            "tags": to_json(ep.get("labels")),
            "source": SOURCE,
        }

    def _machine_types(self, compute_v1: Any, instances: Sequence[Any]) -> dict[str, Any]:
        """Machine type URL → its description (vCPUs, memory, bundled accelerators)."""
        client = self.scan._rest(compute_v1.MachineTypesClient)
        found: dict[str, Any] = {}
        for instance in instances:
            link = instance.machine_type
            if not link or link in found:
                continue
            match = re.search(r"zones/([^/]+)/machineTypes/([^/]+)$", link)
            if not match:
                continue
            zone, name = match.groups()
            found[link] = call(
                "machineTypes.get",
                self.where,
                partial(
                    client.get,
                    project=self.project,
                    zone=zone,
                    machine_type=name,
                    retry=self.scan.retry,
                ),
            )
        return found

    # -- rows --------------------------------------------------------------------

    def _base(self, item: Any, kind: str, region: str) -> dict[str, Any]:
        return {
            "provider": PROVIDER,
            "account_id": self.project,
            "region": region,
            "resource_id": full_name(item.self_link),
            "resource_type": kind,
            "name": item.name,
            "created_at": utc_naive(item.creation_timestamp or None),
            "observed_at": self.now,
            "tags": to_json(dict(item.labels)),
            "source": SOURCE,
        }

    def _vm_row(
        self, vm: Any, machine_types: Mapping[str, Any], disks: Mapping[str, Any]
    ) -> dict[str, Any]:
        mtype = machine_types.get(vm.machine_type)
        accelerators = [(a.accelerator_type, a.accelerator_count) for a in vm.guest_accelerators]
        if not accelerators and mtype is not None:
            accelerators = [
                (a.guest_accelerator_type, a.guest_accelerator_count) for a in mtype.accelerators
            ]
        gpu_count = sum(int(n) for _, n in accelerators)
        scheduling = vm.scheduling
        model = scheduling.provisioning_model or "STANDARD"
        spot = model == "SPOT" or bool(scheduling.preemptible)
        boot = next((d.source for d in vm.disks if d.boot), None)
        boot_disk = disks.get(boot) if boot else None
        details = {
            "instance_id": str(vm.id),
            "last_start_timestamp": vm.last_start_timestamp or None,
            "last_stop_timestamp": vm.last_stop_timestamp or None,
            "preemptible": True if scheduling.preemptible else None,
            "provisioning_model": model,
            "status": vm.status,
        }
        return {
            **self._base(vm, "vm", scope_region(vm.zone)),
            "state": _STATES.get(vm.status, vm.status.lower() or "unknown"),
            "instance_type": vm.machine_type.rsplit("/", 1)[-1] or None,
            "vcpus": mtype.guest_cpus if mtype is not None else None,
            "memory_gb": mtype.memory_mb / 1024 if mtype is not None else None,
            "gpu_count": gpu_count,
            "gpu_model": gpu_model_of(accelerators[0][0]) if gpu_count else None,
            "source_id": full_name(boot_disk.source_image)
            if boot_disk is not None and boot_disk.source_image
            else None,
            "lifecycle": "spot" if spot else "on-demand",
            "details": details_json(details),
        }

    def _disk_row(self, disk: Any, boot_links: set[str]) -> dict[str, Any]:
        users = list(disk.users)
        scope = disk.zone or disk.region
        source = disk.source_image or disk.source_snapshot or None
        details = {
            "boot": True if disk.self_link in boot_links else None,
            "disk_type": disk.type_.rsplit("/", 1)[-1] or None,
            "last_attach_timestamp": disk.last_attach_timestamp or None,
            "last_detach_timestamp": disk.last_detach_timestamp or None,
        }
        return {
            **self._base(disk, "volume", scope_region(scope)),
            "state": "in-use" if users else "available",
            "attached_to": full_name(users[0]) if users else None,
            "source_id": full_name(source) if source else None,
            "size_gb": float(disk.size_gb) if disk.size_gb else None,
            "last_used_at": None if users else utc_naive(disk.last_detach_timestamp or None),
            "details": details_json(details),
        }

    def _snapshot_row(self, snap: Any) -> dict[str, Any]:
        details = {
            "status": snap.status or None,
            "storage_bytes": int(snap.storage_bytes) if snap.storage_bytes else None,
            "storage_locations": list(snap.storage_locations) or None,
        }
        return {
            **self._base(snap, "snapshot", GLOBAL),
            "state": "available" if snap.status in ("READY", "") else snap.status.lower(),
            "source_id": full_name(snap.source_disk) if snap.source_disk else None,
            "size_gb": float(snap.disk_size_gb) if snap.disk_size_gb else None,
            "details": details_json(details),
        }

    def _image_row(self, image: Any) -> dict[str, Any]:
        source = image.source_snapshot or image.source_disk or image.source_image or None
        details = {
            "family": image.family or None,
            "source_snapshot": full_name(image.source_snapshot) if image.source_snapshot else None,
            "status": image.status or None,
        }
        return {
            **self._base(image, "image", GLOBAL),
            "state": "available" if image.status in ("READY", "") else image.status.lower(),
            "source_id": full_name(source) if source else None,
            "size_gb": float(image.disk_size_gb) if image.disk_size_gb else None,
            "details": details_json(details),
        }

    def _address_row(self, address: Any) -> dict[str, Any]:
        users = list(address.users)
        details = {
            "address": address.address or None,
            "address_type": address.address_type or None,
            "status": address.status or None,
        }
        return {
            **self._base(address, "ip_address", scope_region(address.region) or GLOBAL),
            # RESERVED: billed and bound to nothing.
            "state": "in-use" if address.status == "IN_USE" or users else "available",
            "attached_to": full_name(users[0]) if users else None,
            "details": details_json(details),
        }


def load_balancer_kind(rule: Any) -> tuple[str, str] | None:
    """A forwarding rule's load balancer type (``application``, ``network``) and the
    Cloud Monitoring resource its traffic is published on; None for a forwarding rule that
    is no load balancer mlcost can measure (Private Service Connect, protocol forwarding
    to one VM, Traffic Director, regional proxy Network Load Balancers)."""
    target = rule.target or ""
    scheme = rule.load_balancing_scheme or "EXTERNAL"
    if "/targetHttpProxies/" in target or "/targetHttpsProxies/" in target:
        if scheme == "INTERNAL_MANAGED":
            return "application", "internal_http_lb_rule"
        if rule.region:
            return "application", "http_external_regional_lb_rule"
        return "application", "https_lb_rule"
    if ("/targetTcpProxies/" in target or "/targetSslProxies/" in target) and not rule.region:
        return "network", "tcp_ssl_proxy_rule"
    if rule.backend_service or "/targetPools/" in target:
        if scheme == "INTERNAL":
            udp = rule.I_p_protocol == "UDP"
            return "network", "internal_udp_lb_rule" if udp else "internal_tcp_lb_rule"
        if scheme == "EXTERNAL":
            return "network", "loadbalancing.googleapis.com/ExternalNetworkLoadBalancerRule"
    return None
