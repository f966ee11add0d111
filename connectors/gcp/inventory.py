"""GCP inventory and utilisation: Compute Engine instances, disks, snapshots, images and
addresses, and Cloud Monitoring metrics, as ``resources`` and ``metrics`` rows.

Credentials are google-auth's application default credentials. Compute Engine and
Resource Manager are read over their REST transports; Cloud Monitoring over gRPC (its
only transport). Every call retries with back-off on 429/503; errors are translated
here, once, into :class:`mlcost.errors.MlcostError` naming the call and project.
Nothing is fetched until :meth:`GcpInventory.batches` is iterated.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from mlcost.connectors._rows import Window, table, to_json, utc_naive, utcnow

from mlcost.errors import AccessDeniedError, ConfigError, InputError, MlcostError
from mlcost.store import Batch

SOURCE = "gcp"
PROVIDER = "gcp"
GLOBAL = "global"

T = TypeVar("T")


@dataclass(frozen=True)
class MetricQuery:
    """One Cloud Monitoring query over all instances of a project."""

    metric_type: str
    ours: str
    aligner: str  # ALIGN_MEAN, ALIGN_MAX, ALIGN_SUM
    stat: str
    period_s: int
    scale: float = 1.0
    #: How series of one instance combine (several NICs, disks or GPUs): sum or mean.
    combine: str = "sum"
    #: The monitored resource type and the labels naming the resource (joined by "/").
    resource_type: str = "gce_instance"
    id_labels: tuple[str, ...] = ("instance_id",)


DAY, HOUR = 86400, 3600
_CPU = "compute.googleapis.com/instance/cpu/utilization"
_NET_IN = "compute.googleapis.com/instance/network/received_bytes_count"
_NET_OUT = "compute.googleapis.com/instance/network/sent_bytes_count"
_DISK_READ = "compute.googleapis.com/instance/disk/read_ops_count"
_DISK_WRITE = "compute.googleapis.com/instance/disk/write_ops_count"
#: Published by the Ops Agent on GPU VMs (percent, one series per GPU).
_GPU = "agent.googleapis.com/gpu/utilization"
METRIC_QUERIES: tuple[MetricQuery, ...] = (
    # CPU utilisation is a 0-1 fraction in GCP; the store keeps percent.
    MetricQuery(_CPU, "cpu_util_pct", "ALIGN_MEAN", "Average", DAY, 100.0, "mean"),
    MetricQuery(_CPU, "cpu_util_pct", "ALIGN_MAX", "Maximum", DAY, 100.0, "mean"),
    MetricQuery(_CPU, "cpu_util_pct", "ALIGN_MEAN", "Average", HOUR, 100.0, "mean"),
    MetricQuery(_NET_IN, "net_in_bytes", "ALIGN_SUM", "Sum", DAY),
    MetricQuery(_NET_OUT, "net_out_bytes", "ALIGN_SUM", "Sum", DAY),
    MetricQuery(_DISK_READ, "disk_io_ops", "ALIGN_SUM", "Sum", DAY),
    MetricQuery(_DISK_WRITE, "disk_io_ops", "ALIGN_SUM", "Sum", DAY),
    MetricQuery(_GPU, "gpu_util_pct", "ALIGN_MEAN", "Average", DAY, 1.0, "mean"),
)
#: Vertex AI online predictions per endpoint (one series per deployed model: summed).
VERTEX_QUERY = MetricQuery(
    "aiplatform.googleapis.com/prediction/online/prediction_count",
    "invocations",
    "ALIGN_SUM",
    "Sum",
    DAY,
    resource_type="aiplatform.googleapis.com/Endpoint",
    id_labels=("endpoint_id",),
)
#: Cloud NAT gateways: bytes sent and received through each (one series per VM using it).
NAT_QUERIES = tuple(
    MetricQuery(
        f"router.googleapis.com/nat/{kind}_bytes_count",
        ours,
        "ALIGN_SUM",
        "Sum",
        DAY,
        resource_type="nat_gateway",
        id_labels=("router_id", "gateway_name"),
    )
    for kind, ours in (("sent", "net_out_bytes"), ("received", "net_in_bytes"))
)
#: Filestore instances: NFS operations served.
FILESTORE_QUERIES = tuple(
    MetricQuery(
        f"file.googleapis.com/nfs/server/{kind}_ops_count",
        "disk_io_ops",
        "ALIGN_SUM",
        "Sum",
        DAY,
        resource_type="filestore_instance",
        id_labels=("instance_name",),
    )
    for kind in ("read", "write", "metadata")
)
ALL_QUERIES = (*METRIC_QUERIES, VERTEX_QUERY, *NAT_QUERIES, *FILESTORE_QUERIES)
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
            self.credentials = _default_credentials()
        if self.retry is None:
            self.retry = _default_retry()
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

    def _billing_client(self, cls: Any) -> Any:
        return cls(
            credentials=self.credentials, client_options=self.client_options, transport="rest"
        )

    def _billing_account_projects(self, account: str) -> list[str]:
        """The projects a billing account pays for (billing enabled), from the Cloud
        Billing API."""
        from google.cloud import billing_v1

        name = account if account.startswith("billingAccounts/") else f"billingAccounts/{account}"
        client = self._billing_client(billing_v1.CloudBillingClient)
        found = _call(
            "billingAccounts.projects.list",
            f"billing account {name.removeprefix('billingAccounts/')}",
            lambda: [
                p.project_id
                for p in client.list_project_billing_info(name=name, retry=self.retry)
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

    def _price_rows(self) -> list[dict[str, Any]]:
        """On-demand prices from the Cloud Billing Catalog's Compute Engine SKUs: per hour
        for each machine type seen (its vCPUs × the family's core rate + its memory × the
        RAM rate, + its GPUs × the GPU rate), and per unit for disks by type, snapshots,
        images and unused static addresses in the regions that hold them."""
        from google.cloud import billing_v1

        client = self._billing_client(billing_v1.CloudCatalogClient)
        skus = _call(
            "cloudbilling services.skus.list",
            "the Compute Engine catalog",
            lambda: list(
                client.list_skus(
                    request={"parent": f"services/{COMPUTE_SERVICE}", "currency_code": "USD"},
                    retry=self.retry,
                )
            ),
        )
        rates = _on_demand_rates(skus)
        rows = []
        for (region, mtype), spec in sorted(self.machine_specs.items()):
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
        regions = self.storage_regions | {region for region, _ in self.machine_specs}
        return rows + _unit_price_rows(rates, sorted(regions))

    def _rest(self, cls: Any) -> Any:
        return cls(
            credentials=self.credentials, client_options=self.client_options, transport="rest"
        )

    def _list_projects(self) -> list[str]:
        from google.cloud import resourcemanager_v3

        client = self._rest(resourcemanager_v3.ProjectsClient)
        found = _call(
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
                regions.add(_scope_region(scope))
                items.extend(getattr(scoped, kind))

        _call(what, self.where, fetch)
        return items, regions

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
        filestores = self._rest_list(FILESTORE_API, "v1", "instances", "filestore instances.list")
        workbench = self._rest_list(NOTEBOOKS_API, "v2", "instances", "notebooks instances.list")
        snapshots = _call(
            "snapshots.list",
            self.where,
            lambda: list(
                self.scan._rest(compute_v1.SnapshotsClient).list(
                    project=self.project, retry=self.scan.retry
                )
            ),
        )
        images = _call(
            "images.list",
            self.where,
            lambda: list(
                self.scan._rest(compute_v1.ImagesClient).list(
                    project=self.project, retry=self.scan.retry
                )
            ),
        )
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
            location, name = _location(wb["name"]), wb["name"].rsplit("/", 1)[-1]
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
        self.scan.storage_regions |= {_scope_region(d.zone or d.region) for d in disks} | {
            _scope_region(a.region) for a in addresses if a.region
        }
        rows += [self._snapshot_row(s) for s in snapshots]
        rows += [self._image_row(i) for i in images]
        rows += [self._address_row(a) for a in addresses]
        nats = [(router, nat) for router in routers for nat in router.nats]
        rows += [self._nat_row(router, nat) for router, nat in nats]
        rows += [self._filestore_row(f) for f in filestores]
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
        vm_ids = {str(i.id): _full_name(i.self_link) for i in instances}
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
        if any(ids_by_type.values()):
            yield from self._metric_batches(ids_by_type)
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
            page = _call(
                what, self.where, partial(_vertex_page, session, url, token, self.scan.retry)
            )
            found += page.get(collection) or []
            token = page.get("nextPageToken") or ""
            if not token:
                return found

    def _nat_id(self, router: Any, nat: Any) -> str:
        return f"{_full_name(router.self_link)}/nats/{nat.name}"

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
            "region": _scope_region(router.region),
            "resource_id": self._nat_id(router, nat),
            "resource_type": "nat_gateway",
            "name": nat.name,
            "state": "available",
            "created_at": utc_naive(router.creation_timestamp or None),
            "observed_at": self.now,
            "details": _details(details),
            "tags": "{}",
            "source": SOURCE,
        }

    def _filestore_row(self, f: Mapping[str, Any]) -> dict[str, Any]:
        shares = f.get("fileShares") or []
        capacity = sum(float(s.get("capacityGb") or 0) for s in shares)
        location = _location(f["name"])
        state = str(f.get("state") or "")
        details = {
            "file_system_type": "filestore",
            "tier": f.get("tier"),
            "shares": [s.get("name") for s in shares] or None,
        }
        return {
            "provider": PROVIDER,
            "account_id": self.project,
            "region": _scope_region(f"zones/{location}") if location.count("-") == 2 else location,
            "resource_id": f"//file.googleapis.com/{f['name']}",
            "resource_type": "file_system",
            "name": f["name"].rsplit("/", 1)[-1],
            "state": "available" if state == "READY" else state.lower(),
            "created_at": utc_naive(f.get("createTime")),
            "observed_at": self.now,
            "size_gb": capacity or None,
            "details": _details(details),
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
            "region": _scope_region(f"zones/{_location(wb['name'])}"),
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
            "gpu_model": _gpu_model(accelerators[0].get("type", "")) if gpus else None,
            "details": _details(details),
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
                page = _call(
                    "endpoints.list",
                    f"{self.where} in {region}",
                    partial(_vertex_page, session, url, token, self.scan.retry),
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
            "gpu_model": _gpu_model(first["accelerator_type"]) if gpus else None,
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
            found[link] = _call(
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
            "resource_id": _full_name(item.self_link),
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
            **self._base(vm, "vm", _scope_region(vm.zone)),
            "state": _STATES.get(vm.status, vm.status.lower() or "unknown"),
            "instance_type": vm.machine_type.rsplit("/", 1)[-1] or None,
            "vcpus": mtype.guest_cpus if mtype is not None else None,
            "memory_gb": mtype.memory_mb / 1024 if mtype is not None else None,
            "gpu_count": gpu_count,
            "gpu_model": _gpu_model(accelerators[0][0]) if gpu_count else None,
            "source_id": _full_name(boot_disk.source_image)
            if boot_disk is not None and boot_disk.source_image
            else None,
            "lifecycle": "spot" if spot else "on-demand",
            "details": _details(details),
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
            **self._base(disk, "volume", _scope_region(scope)),
            "state": "in-use" if users else "available",
            "attached_to": _full_name(users[0]) if users else None,
            "source_id": _full_name(source) if source else None,
            "size_gb": float(disk.size_gb) if disk.size_gb else None,
            "last_used_at": None if users else utc_naive(disk.last_detach_timestamp or None),
            "details": _details(details),
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
            "source_id": _full_name(snap.source_disk) if snap.source_disk else None,
            "size_gb": float(snap.disk_size_gb) if snap.disk_size_gb else None,
            "details": _details(details),
        }

    def _image_row(self, image: Any) -> dict[str, Any]:
        source = image.source_snapshot or image.source_disk or image.source_image or None
        details = {
            "family": image.family or None,
            "source_snapshot": _full_name(image.source_snapshot) if image.source_snapshot else None,
            "status": image.status or None,
        }
        return {
            **self._base(image, "image", GLOBAL),
            "state": "available" if image.status in ("READY", "") else image.status.lower(),
            "source_id": _full_name(source) if source else None,
            "size_gb": float(image.disk_size_gb) if image.disk_size_gb else None,
            "details": _details(details),
        }

    def _address_row(self, address: Any) -> dict[str, Any]:
        users = list(address.users)
        details = {
            "address": address.address or None,
            "address_type": address.address_type or None,
            "status": address.status or None,
        }
        return {
            **self._base(address, "ip_address", _scope_region(address.region) or GLOBAL),
            # RESERVED: billed and bound to nothing.
            "state": "in-use" if address.status == "IN_USE" or users else "available",
            "attached_to": _full_name(users[0]) if users else None,
            "details": _details(details),
        }

    # -- metrics -----------------------------------------------------------------

    def _metric_batches(self, ids_by_type: Mapping[str, Mapping[str, str]]) -> Iterator[Batch]:
        """Metrics of the project's resources: ``ids_by_type`` maps a monitored resource
        type to {its labels, joined by "/" → our resource id}."""
        from google.cloud import monitoring_v3

        options = dict(self.scan.monitoring_options)
        if "transport" not in options:  # a given transport carries its own credentials
            options["credentials"] = self.scan.credentials
        client = monitoring_v3.MetricServiceClient(**options)
        rows: list[dict[str, Any]] = []
        # (resource, metric, stat, period, ts) → values to combine
        combined: dict[tuple[str, str, str, int, datetime], list[float]] = defaultdict(list)
        how: dict[tuple[str, str, str, int, datetime], str] = {}
        w = self.window
        queries = [q for q in ALL_QUERIES if ids_by_type.get(q.resource_type)]
        for q in queries:
            ids = ids_by_type[q.resource_type]
            start, end = (
                (w.daily_start, w.daily_end)
                if q.period_s == DAY
                else (w.hourly_start, w.hourly_end)
            )
            request = {
                "name": f"projects/{self.project}",
                "filter": f'metric.type = "{q.metric_type}" '
                f'AND resource.type = "{q.resource_type}"',
                "interval": {"start_time": _ts(start), "end_time": _ts(end)},
                "aggregation": {
                    "alignment_period": {"seconds": q.period_s},
                    "per_series_aligner": q.aligner,
                },
                "view": "FULL",
            }

            def fetch(request: dict[str, Any] = request) -> list[Any]:
                return list(client.list_time_series(request=request, retry=self.scan.retry))

            for series in _call("timeSeries.list", self.where, fetch):
                labels = series.resource.labels
                vm = ids.get("/".join(labels.get(label, "") for label in q.id_labels))
                if vm is None:
                    continue
                # Per-query sums across a VM's series (NICs, GPUs) are kept apart from
                # the sum of two queries into one metric (disk reads + writes).
                per_query: dict[datetime, list[float]] = defaultdict(list)
                for point in series.points:
                    end_time = utc_naive(point.interval.end_time)
                    if end_time is None:
                        continue
                    ts = end_time - timedelta(seconds=q.period_s)
                    if not start <= ts < end:
                        continue
                    value = point.value
                    number = (
                        value.double_value if "double_value" in value else float(value.int64_value)
                    )
                    per_query[ts].append(number * q.scale)
                for ts, values in per_query.items():
                    key = (vm, q.ours, q.stat, q.period_s, ts)
                    combined[key] += values
                    how[key] = q.combine
        for (vm, metric, stat, period_s, ts), values in combined.items():
            value = (
                sum(values)
                if how[(vm, metric, stat, period_s, ts)] == "sum"
                else sum(values) / len(values)
            )
            rows.append(
                {
                    "resource_id": vm,
                    "metric": metric,
                    "ts": ts,
                    "value": value,
                    "stat": stat,
                    "period_s": period_s,
                    "source": SOURCE,
                }
            )
        self.summary.metric_samples = len(rows)
        if rows:
            yield Batch("metrics", table("metrics", rows), label=f"gcp {self.project} metrics")


# -- helpers -------------------------------------------------------------------------


def _default_credentials() -> Any:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _ = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform.read-only"]
        )
    except DefaultCredentialsError as exc:
        raise ConfigError(
            "No Google application default credentials were found.",
            "Run `gcloud auth application-default login`, or set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service account key file.",
        ) from exc
    return credentials


def _default_retry() -> Any:
    from google.api_core import exceptions, retry

    return retry.Retry(
        predicate=retry.if_exception_type(
            exceptions.TooManyRequests,
            exceptions.ResourceExhausted,
            exceptions.ServiceUnavailable,
            exceptions.InternalServerError,
        ),
        initial=1.0,
        maximum=30.0,
        multiplier=2.0,
        timeout=180.0,
    )


def _call(what: str, where: str, fn: Callable[[], T]) -> T:
    """Run one API call (pages and all) and translate its failure into one clear error."""
    from google.api_core import exceptions
    from google.auth.exceptions import GoogleAuthError

    try:
        return fn()
    except MlcostError:
        raise
    except GoogleAuthError as exc:
        raise ConfigError(
            f"Google refused the credential for {what} on {where}: {_first_line(exc)}",
            "Run `gcloud auth application-default login` or check GOOGLE_APPLICATION_CREDENTIALS.",
        ) from exc
    except (exceptions.Forbidden, exceptions.PermissionDenied) as exc:
        raise AccessDeniedError(
            f"Google denied {what} on {where} (HTTP 403 {_reason(exc)}).",
            "Grant roles/compute.viewer and roles/monitoring.viewer there, or leave it out "
            "of --projects. The store is unchanged.",
        ) from exc
    except (exceptions.TooManyRequests, exceptions.ResourceExhausted, exceptions.RetryError) as exc:
        raise InputError(
            f"Google kept throttling {what} on {where} after retries.",
            "Try again later or scan fewer projects at once. The store is unchanged.",
        ) from exc
    except exceptions.GoogleAPICallError as exc:
        raise InputError(
            f"Google {what} on {where} failed (HTTP {exc.code}): {_first_line(exc)}",
            "The store is unchanged.",
        ) from exc
    except OSError as exc:  # requests' connection errors are OSErrors
        raise InputError(
            f"Cannot reach Google for {what} on {where} ({type(exc).__name__}).",
            "Check the network or proxy settings. The store is unchanged.",
        ) from exc


def _vertex_page(session: Any, url: str, token: str, retry: Any) -> dict[str, Any]:
    """One page of endpoints.list; an API not enabled in the project reads as no endpoints."""
    from google.api_core import exceptions

    def get() -> dict[str, Any]:
        response = session.get(url, params={"pageToken": token} if token else {}, timeout=60)
        if response.status_code == 403 and "SERVICE_DISABLED" in response.text:
            return {}
        if response.status_code >= 400:
            raise exceptions.from_http_response(response)
        return dict(response.json())

    return dict(retry(get)())


def _location(name: str) -> str:
    """``projects/P/locations/us-central1-a/instances/N`` → ``us-central1-a``."""
    match = re.search(r"/locations/([^/]+)/", name)
    return match.group(1) if match else ""


def _reason(exc: Any) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else "PERMISSION_DENIED"


def _full_name(link: str) -> str:
    """A Compute Engine self link as the full resource name: //compute.googleapis.com/projects/…"""
    match = re.search(r"/compute/(?:v1|beta|alpha)/(projects/.*)$", link)
    return f"//compute.googleapis.com/{match.group(1)}" if match else link


def _scope_region(scope: str) -> str:
    """``zones/us-central1-a``, a zone URL, ``regions/us-central1`` or ``global`` → region."""
    name = scope.rstrip("/").rsplit("/", 1)[-1]
    if "zones/" in scope or re.fullmatch(r"[a-z]+-[a-z]+\d+-[a-z]", name):
        return name.rsplit("-", 1)[0]
    return name


def _gpu_model(accelerator_type: str) -> str:
    """``…/acceleratorTypes/nvidia-tesla-a100``, ``nvidia-l4`` or ``NVIDIA_L4`` → ``A100``,
    ``L4``."""
    name = accelerator_type.rsplit("/", 1)[-1].lower().replace("_", "-")
    name = re.sub(r"^nvidia-(tesla-)?", "", name)
    return name.split("-", 1)[0].upper()


def _details(details: Mapping[str, Any]) -> str:
    return to_json({k: v for k, v in details.items() if v is not None})


def _ts(value: datetime) -> str:
    return f"{value:%Y-%m-%dT%H:%M:%SZ}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
