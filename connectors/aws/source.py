"""The AWS connector: inventory, CloudWatch utilisation (:mod:`.cloudwatch`), SageMaker
training jobs and the prices they need (:mod:`.prices`).

A lazy source: nothing is called until :meth:`AwsSource.batches` is iterated. Each account
× region scanned yields its inventory as one explicit ``resources`` partition, so a
resource deleted in the cloud disappears on the next ingest. A region the caller may not
read (AccessDenied, opt-in) is skipped with a warning and yields no partition, so what the
store held for it stays; any other failure stops the whole ingest and the store's one
transaction leaves it as it was.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pyarrow as pa
from mlcost.connectors.aws import prices as pricing
from mlcost.connectors.aws.api import Account, AwsCallError, open_session
from mlcost.connectors.aws.cloudwatch import CloudWatch

from mlcost.errors import InputError
from mlcost.schema import arrow_schema
from mlcost.store import Batch

SOURCE = "aws"
PROVIDER = "aws"
RUNS_SOURCE = "sagemaker"


_FSX_CONFIG = {
    "lustre": "LustreConfiguration",
    "windows": "WindowsConfiguration",
    "ontap": "OntapConfiguration",
    "openzfs": "OpenZFSConfiguration",
}
#: Studio app types that run on a billed instance of their own (JupyterServer runs on a
#: free system instance).
STUDIO_APP_TYPES = ("JupyterLab", "CodeEditor", "KernelGateway", "RStudioServerPro", "Canvas")

_RUN_STATUS = {
    "Completed": "FINISHED",
    "Failed": "FAILED",
    "Stopped": "KILLED",
    "InProgress": "RUNNING",
    "Stopping": "RUNNING",
}


@dataclass
class Summary:
    """What an ingest saw: resources per (region, type), warnings, API calls made."""

    resources: dict[tuple[str, str, str], int] = field(default_factory=dict)
    metric_samples: int = 0
    runs: int = 0
    warnings: list[str] = field(default_factory=list)
    api_calls: int = 0
    actions: set[str] = field(default_factory=set)
    #: Price rows loaded, on-demand and spot.
    prices: int = 0


class AwsSource:
    """Batches for ``resources``, ``metrics`` and ``runs`` of AWS accounts and regions."""

    def __init__(
        self,
        *,
        regions: Sequence[str] | None = None,
        accounts: Sequence[str] | None = None,
        role_name: str | None = None,
        lookback_days: int = 30,
        session: boto3.session.Session | None = None,
        now: datetime | None = None,
        prices: bool = True,
        successors: Mapping[str, str] | None = None,
    ) -> None:
        if accounts and not role_name:
            raise InputError(
                "--accounts needs --role-name: the role mlcost assumes in each account.",
                "Create a read-only role (the IAM policy in docs/tasks/aws.md) in each "
                "account and name it with --role-name.",
            )
        if lookback_days < 1:
            raise InputError(f"--lookback-days must be at least 1, not {lookback_days}.")
        self.regions = list(regions or [])
        self.accounts = list(accounts or [])
        self.role_name = role_name
        self.lookback_days = lookback_days
        self.session = session
        self.now = now
        self.prices = prices
        #: Old family → the current family previous_generation advises (its setting, so an
        #: override is priced too); None: the rule's defaults.
        if successors is None:
            from mlcost.rules.previous_generation import SUCCESSORS

            successors = SUCCESSORS
        self.successors = dict(successors)
        self.summary = Summary()

    # -- the source ----------------------------------------------------------------------

    def batches(self) -> Iterator[Batch]:
        """Yield each account × region's inventory and metrics, then the training jobs."""
        if self.session is not None:
            session, base = self.session, self.session.region_name or "us-east-1"
        else:
            session, base = open_session()
        now = (self.now or datetime.now(UTC)).replace(tzinfo=None, microsecond=0)
        home = Account(session, "")
        self._seen = [home]
        try:
            home.account_id = home.call("sts", base, "get_caller_identity")["Account"]
            runs: list[dict[str, Any]] = []
            #: region -> the first account that scanned it and the types its rows use
            priced: dict[str, tuple[Account, list[dict[str, Any]]]] = {}
            for account in self._accounts(home, base):
                try:
                    regions = self.regions or self._enabled_regions(account, base)
                except AwsCallError as exc:
                    if not exc.denied:
                        raise
                    self.summary.warnings.append(f"skipped account {account.account_id}: {exc}")
                    continue
                for region in regions:
                    try:
                        scan = _RegionScan(account, region, now, self.lookback_days)
                        rows = scan.inventory()
                    except AwsCallError as exc:
                        if not exc.denied:
                            raise
                        self.summary.warnings.append(
                            f"skipped account {account.account_id} region {region}: {exc}"
                        )
                        continue
                    self._count(account.account_id, region, rows)
                    priced.setdefault(region, (account, []))[1].extend(rows)
                    yield Batch(
                        "resources",
                        _table("resources", rows),
                        partition={
                            "source": SOURCE,
                            "provider": PROVIDER,
                            "account_id": account.account_id,
                            "region": region,
                        },
                        label=f"aws {account.account_id} {region} resources",
                    )
                    samples = self._guarded(scan.metrics, rows, account, region, "metrics")
                    if samples:
                        self.summary.metric_samples += len(samples)
                        yield Batch(
                            "metrics",
                            _table("metrics", samples),
                            label=f"aws {account.account_id} {region} metrics",
                        )
                    runs.extend(self._guarded(scan.training_jobs, None, account, region, "runs"))
            if self.prices:
                for region, (account, rows) in sorted(priced.items()):
                    found = self._prices(home, account, region, rows, now)
                    if found is None:
                        continue
                    self.summary.prices += len(found)
                    yield Batch(
                        "prices",
                        _table("prices", found),
                        partition={"source": SOURCE, "provider": PROVIDER, "region": region},
                        label=f"aws {region} prices",
                    )
            self.summary.runs = len(runs)
            if runs:
                yield Batch("runs", _table("runs", runs), label="sagemaker training jobs")
        finally:
            self.summary.api_calls = sum(a.calls for a in self._seen)
            self.summary.actions = set().union(*(a.actions for a in self._seen))

    def _guarded(
        self, fetch: Any, arg: Any, account: Account, region: str, what: str
    ) -> list[dict[str, Any]]:
        """Metrics and runs of a region; a denied call drops only them, with a warning."""
        try:
            return list(fetch(arg) if arg is not None else fetch())
        except AwsCallError as exc:
            if not exc.denied:
                raise
            self.summary.warnings.append(
                f"no {what} for account {account.account_id} region {region}: {exc}"
            )
            return []

    def _prices(
        self,
        home: Account,
        account: Account,
        region: str,
        rows: list[dict[str, Any]],
        now: datetime,
    ) -> list[dict[str, Any]] | None:
        """On-demand and spot prices for what a region's inventory uses; None (a warning,
        the region's earlier prices kept) where the caller may not read them."""
        try:
            return pricing.region_prices(home, account, region, rows, now, self.successors)
        except AwsCallError as exc:
            if not exc.denied:
                raise
            self.summary.warnings.append(
                f"no prices for region {region}: {exc} Its earlier prices are kept."
            )
            return None

    def _count(self, account_id: str, region: str, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            key = (account_id, region, row["resource_type"])
            self.summary.resources[key] = self.summary.resources.get(key, 0) + 1

    def _accounts(self, home: Account, base: str) -> Iterator[Account]:
        if not self.accounts:
            yield home
            return
        ids = self.accounts
        if [a.lower() for a in ids] == ["organization"]:
            ids = [
                a["Id"]
                for a in home.pages("organizations", base, "list_accounts", "Accounts")
                if a.get("Status") == "ACTIVE"
            ]
        for account_id in ids:
            if not re.fullmatch(r"\d{12}", account_id):
                raise InputError(
                    f"{account_id!r} is not an AWS account id (12 digits).",
                    "Give --accounts as 123456789012,… or 'organization'.",
                )
            arn = f"arn:aws:iam::{account_id}:role/{self.role_name}"
            try:
                creds = home.call(
                    "sts", base, "assume_role", RoleArn=arn, RoleSessionName="mlcost-ingest"
                )["Credentials"]
            except AwsCallError as exc:
                if not exc.denied:
                    raise
                self.summary.warnings.append(f"skipped account {account_id}: {exc}")
                continue
            session = boto3.session.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=base,
            )
            account = Account(session, account_id)
            self._seen.append(account)
            yield account

    @staticmethod
    def _enabled_regions(account: Account, base: str) -> list[str]:
        regions = account.call("ec2", base, "describe_regions")["Regions"]
        return sorted(r["RegionName"] for r in regions)


class _RegionScan:
    """One account × region: its inventory rows, then their metrics and training jobs."""

    def __init__(self, account: Account, region: str, now: datetime, lookback_days: int) -> None:
        self.account = account
        self.region = region
        self.now = now
        self.lookback_days = lookback_days
        self.rows: list[dict[str, Any]] = []
        self._types: dict[str, dict[str, Any]] = {}
        self._variants: dict[str, list[dict[str, Any]]] = {}
        # Regions without SageMaker have no endpoint to call (botocore's endpoint list says
        # which do); asking anyway would retry a connection error for minutes.
        self.has_sagemaker = region in account.session.get_available_regions("sagemaker")
        self.has_efs = region in account.session.get_available_regions("efs")
        self.has_fsx = region in account.session.get_available_regions("fsx")

    def _row(self, resource_type: str, resource_id: str, **values: Any) -> dict[str, Any]:
        row: dict[str, Any] = {
            "provider": PROVIDER,
            "account_id": self.account.account_id,
            "region": self.region,
            "resource_id": resource_id,
            "resource_type": resource_type,
            "observed_at": self.now,
            "source": SOURCE,
        }
        row.update(values)
        for key in ("details", "tags"):
            row[key] = _json(row.get(key) or {})
        return row

    def inventory(self) -> list[dict[str, Any]]:
        ec2 = ("ec2", self.region)
        instances = [
            i
            for r in self.account.pages(*ec2, "describe_instances", "Reservations")
            for i in r.get("Instances", [])
            if i["State"]["Name"] not in ("terminated", "shutting-down")
        ]
        volumes = list(self.account.pages(*ec2, "describe_volumes", "Volumes"))
        snapshots = list(
            self.account.pages(*ec2, "describe_snapshots", "Snapshots", OwnerIds=["self"])
        )
        images = self.account.call(
            *ec2, "describe_images", Owners=["self"], IncludeDisabled=True
        ).get("Images", [])
        addresses = self.account.call(*ec2, "describe_addresses").get("Addresses", [])
        nat_gateways = [
            n
            for n in self.account.pages(*ec2, "describe_nat_gateways", "NatGateways")
            if n.get("State") in ("available", "pending")
        ]
        load_balancers = list(
            self.account.pages("elbv2", self.region, "describe_load_balancers", "LoadBalancers")
        )
        lb_tags = self._lb_tags([lb["LoadBalancerArn"] for lb in load_balancers])
        file_systems: list[tuple[str, dict[str, Any]]] = []
        if self.has_efs:
            file_systems += [
                ("efs", f)
                for f in self.account.pages(
                    "efs", self.region, "describe_file_systems", "FileSystems"
                )
            ]
        if self.has_fsx:
            file_systems += [
                ("fsx", f)
                for f in self.account.pages(
                    "fsx", self.region, "describe_file_systems", "FileSystems"
                )
            ]
        endpoints: list[dict[str, Any]] = []
        notebooks: list[dict[str, Any]] = []
        apps: list[dict[str, Any]] = []
        if self.has_sagemaker:
            endpoints = list(
                self.account.pages("sagemaker", self.region, "list_endpoints", "Endpoints")
            )
            notebooks = list(
                self.account.pages(
                    "sagemaker", self.region, "list_notebook_instances", "NotebookInstances"
                )
            )
            apps = self._studio_apps()
        self._load_types(
            [i["InstanceType"] for i in instances]
            + [_ec2_type(t) for t in self._endpoint_types(endpoints)]
            + [_ec2_type(n.get("InstanceType", "")) for n in notebooks]
            + [_ec2_type(a["ResourceSpec"]["InstanceType"]) for a in apps]
        )
        rows = [self._instance(i) for i in instances]
        rows += [self._volume(v) for v in volumes]
        by_snapshot: dict[str, list[str]] = defaultdict(list)
        for image in images:
            for snap in _image_snapshots(image):
                by_snapshot[snap].append(image["ImageId"])
        rows += [self._snapshot(s, by_snapshot.get(s["SnapshotId"], [])) for s in snapshots]
        rows += [self._image(i) for i in images]
        rows += [self._address(a) for a in addresses]
        rows += [self._nat_gateway(n) for n in nat_gateways]
        rows += [
            self._load_balancer(lb, lb_tags.get(lb["LoadBalancerArn"], {})) for lb in load_balancers
        ]
        rows += [self._file_system(kind, f) for kind, f in file_systems]
        rows += [self._endpoint(e) for e in endpoints]
        rows += [self._notebook(n) for n in notebooks]
        rows += [self._studio_app(a) for a in apps]
        self.rows = rows
        return rows

    # -- EC2 ----------------------------------------------------------------------------

    def _load_types(self, names: Iterable[str]) -> None:
        wanted = sorted({n for n in names if n and n not in self._types})
        for start in range(0, len(wanted), 100):
            chunk = wanted[start : start + 100]
            try:
                found = self.account.call(
                    "ec2", self.region, "describe_instance_types", InstanceTypes=chunk
                )["InstanceTypes"]
            except AwsCallError as exc:
                if exc.code != "InvalidInstanceType":
                    raise
                found = []
                for name in chunk:  # one unknown name fails the whole call: ask one by one
                    try:
                        found += self.account.call(
                            "ec2", self.region, "describe_instance_types", InstanceTypes=[name]
                        )["InstanceTypes"]
                    except AwsCallError as one:
                        if one.code != "InvalidInstanceType":
                            raise
            for t in found:
                gpus = t.get("GpuInfo", {}).get("Gpus", [])
                self._types[t["InstanceType"]] = {
                    "vcpus": t.get("VCpuInfo", {}).get("DefaultVCpus"),
                    "memory_gb": _gib(t.get("MemoryInfo", {}).get("SizeInMiB")),
                    "gpu_count": sum(int(g.get("Count", 0)) for g in gpus),
                    "gpu_model": gpus[0].get("Name") if gpus else None,
                }

    def _spec(self, instance_type: str) -> dict[str, Any]:
        return self._types.get(_ec2_type(instance_type), {})

    def _instance(self, i: dict[str, Any]) -> dict[str, Any]:
        tags = _tags(i.get("Tags"))
        state = i["State"]["Name"]
        details: dict[str, Any] = {
            "platform": i.get("PlatformDetails") or i.get("Platform") or "Linux/UNIX",
            "vpc_id": i.get("VpcId"),
            "availability_zone": i.get("Placement", {}).get("AvailabilityZone"),
            "architecture": i.get("Architecture"),
        }
        if state != "running":
            reason = i.get("StateReason", {})
            details["state_reason"] = reason.get("Message") or reason.get("Code")
            details["state_transition_reason"] = i.get("StateTransitionReason") or None
            since = _transition_time(i.get("StateTransitionReason") or "")
            if since and state == "stopped":
                details["stopped_at"] = since
        lifecycle = i.get("InstanceLifecycle") or "on-demand"
        return self._row(
            "vm",
            i["InstanceId"],
            name=tags.get("Name"),
            state=state,
            created_at=_naive(i.get("LaunchTime")),
            instance_type=i["InstanceType"],
            attached_to=None,
            source_id=i.get("ImageId"),
            lifecycle=lifecycle,
            details=_present(details),
            tags=tags,
            **self._spec(i["InstanceType"]),
        )

    def _volume(self, v: dict[str, Any]) -> dict[str, Any]:
        tags = _tags(v.get("Tags"))
        attached = [
            a for a in v.get("Attachments", []) if a.get("State") in ("attached", "attaching")
        ]
        details = {
            "volume_type": v.get("VolumeType"),
            "iops": v.get("Iops"),
            "throughput": v.get("Throughput"),
            "availability_zone": v.get("AvailabilityZone"),
            "encrypted": v.get("Encrypted"),
            "snapshot_id": v.get("SnapshotId") or None,
            "device": attached[0].get("Device") if attached else None,
            "attached_instances": [a["InstanceId"] for a in attached][1:] or None,
        }
        return self._row(
            "volume",
            v["VolumeId"],
            name=tags.get("Name"),
            state=v.get("State"),
            created_at=_naive(v.get("CreateTime")),
            attached_to=attached[0]["InstanceId"] if attached else None,
            size_gb=float(v["Size"]) if v.get("Size") is not None else None,
            details=_present(details),
            tags=tags,
        )

    def _snapshot(self, s: dict[str, Any], image_ids: list[str]) -> dict[str, Any]:
        tags = _tags(s.get("Tags"))
        details = {
            "description": s.get("Description") or None,
            "image_ids": sorted(image_ids) or None,
            "storage_tier": s.get("StorageTier"),
            "encrypted": s.get("Encrypted"),
        }
        return self._row(
            "snapshot",
            s["SnapshotId"],
            name=tags.get("Name"),
            state=s.get("State"),
            created_at=_naive(s.get("StartTime")),
            source_id=s.get("VolumeId") or None,
            size_gb=float(s["VolumeSize"]) if s.get("VolumeSize") is not None else None,
            details=_present(details),
            tags=tags,
        )

    def _image(self, i: dict[str, Any]) -> dict[str, Any]:
        tags = _tags(i.get("Tags"))
        snaps = _image_snapshots(i)
        sizes = [
            m["Ebs"]["VolumeSize"]
            for m in i.get("BlockDeviceMappings", [])
            if m.get("Ebs", {}).get("VolumeSize") is not None
        ]
        last = _parse_time(i.get("LastLaunchedTime"))
        details = {
            "snapshot_ids": snaps,
            "architecture": i.get("Architecture"),
            "description": i.get("Description") or None,
            "deprecation_time": i.get("DeprecationTime"),
            "last_launched_at": i.get("LastLaunchedTime"),
        }
        return self._row(
            "image",
            i["ImageId"],
            name=i.get("Name") or tags.get("Name"),
            state=i.get("State"),
            created_at=_parse_time(i.get("CreationDate")),
            source_id=snaps[0] if snaps else None,
            size_gb=float(sum(sizes)) if sizes else None,
            last_used_at=last,
            details=_present(details),
            tags=tags,
        )

    def _address(self, a: dict[str, Any]) -> dict[str, Any]:
        tags = _tags(a.get("Tags"))
        associated = bool(a.get("AssociationId") or a.get("InstanceId"))
        details = {
            "public_ip": a.get("PublicIp"),
            "association_id": a.get("AssociationId"),
            "network_interface_id": a.get("NetworkInterfaceId"),
            "private_ip": a.get("PrivateIpAddress"),
            "domain": a.get("Domain"),
        }
        return self._row(
            "ip_address",
            a.get("AllocationId") or a["PublicIp"],
            name=tags.get("Name"),
            state="in-use" if associated else "available",
            attached_to=a.get("InstanceId") or a.get("NetworkInterfaceId") or None,
            details=_present(details),
            tags=tags,
        )

    # -- networking and file systems ----------------------------------------------------

    def _nat_gateway(self, n: dict[str, Any]) -> dict[str, Any]:
        tags = _tags(n.get("Tags"))
        public = [a.get("PublicIp") for a in n.get("NatGatewayAddresses", []) if a.get("PublicIp")]
        details = {
            "vpc_id": n.get("VpcId"),
            "subnet_id": n.get("SubnetId"),
            "connectivity_type": n.get("ConnectivityType"),
            "public_ips": public or None,
            "allocation_ids": [
                a["AllocationId"] for a in n.get("NatGatewayAddresses", []) if a.get("AllocationId")
            ]
            or None,
        }
        return self._row(
            "nat_gateway",
            n["NatGatewayId"],
            name=tags.get("Name"),
            state=n.get("State"),
            created_at=_naive(n.get("CreateTime")),
            details=_present(details),
            tags=tags,
        )

    def _lb_tags(self, arns: list[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for start in range(0, len(arns), 20):  # DescribeTags takes at most 20 ARNs
            answer = self.account.call(
                "elbv2", self.region, "describe_tags", ResourceArns=arns[start : start + 20]
            )
            for d in answer.get("TagDescriptions", []):
                found[d["ResourceArn"]] = _tags(d.get("Tags"))
        return found

    def _load_balancer(self, lb: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
        arn = lb["LoadBalancerArn"]
        details = {
            "lb_type": lb.get("Type"),
            "scheme": lb.get("Scheme"),
            "dns_name": lb.get("DNSName"),
            "vpc_id": lb.get("VpcId"),
            # CloudWatch's LoadBalancer dimension: the ARN after "loadbalancer/"
            "metric_dimension": arn.split(":loadbalancer/", 1)[-1],
        }
        return self._row(
            "load_balancer",
            arn,
            name=lb.get("LoadBalancerName"),
            state=str((lb.get("State") or {}).get("Code") or "unknown").lower(),
            created_at=_naive(lb.get("CreatedTime")),
            details=_present(details),
            tags=tags,
        )

    def _file_system(self, kind: str, f: dict[str, Any]) -> dict[str, Any]:
        tags = _tags(f.get("Tags"))
        if kind == "efs":
            size = (f.get("SizeInBytes") or {}).get("Value")
            details: dict[str, Any] = {
                "file_system_type": "efs",
                "performance_mode": f.get("PerformanceMode"),
                "throughput_mode": f.get("ThroughputMode"),
                "mount_targets": f.get("NumberOfMountTargets"),
            }
            return self._row(
                "file_system",
                f["FileSystemId"],
                name=f.get("Name") or tags.get("Name"),
                state=f.get("LifeCycleState"),
                created_at=_naive(f.get("CreationTime")),
                size_gb=round(float(size) / 1e9, 3) if size is not None else None,
                details=_present(details),
                tags=tags,
            )
        fs_type = str(f.get("FileSystemType", "")).lower()
        config = f.get(_FSX_CONFIG.get(fs_type, "")) or {}
        details = {
            "file_system_type": fs_type,
            "deployment_type": config.get("DeploymentType"),
            "per_unit_storage_throughput": config.get("PerUnitStorageThroughput"),
            "storage_type": f.get("StorageType"),
        }
        return self._row(
            "file_system",
            f["FileSystemId"],
            name=tags.get("Name"),
            state=str(f.get("Lifecycle") or "available").lower(),
            created_at=_naive(f.get("CreationTime")),
            size_gb=float(f["StorageCapacity"]) if f.get("StorageCapacity") is not None else None,
            details=_present(details),
            tags=tags,
        )

    # -- SageMaker ----------------------------------------------------------------------

    def _sm_tags(self, arn: str) -> dict[str, str]:
        return _tags(
            self.account.pages("sagemaker", self.region, "list_tags", "Tags", ResourceArn=arn)
        )

    def _endpoint_types(self, endpoints: list[dict[str, Any]]) -> list[str]:
        """Describe each endpoint and its config once; remembers the variants."""
        types = []
        for e in endpoints:
            desc = self.account.call(
                "sagemaker", self.region, "describe_endpoint", EndpointName=e["EndpointName"]
            )
            config = self.account.call(
                "sagemaker",
                self.region,
                "describe_endpoint_config",
                EndpointConfigName=desc["EndpointConfigName"],
            )
            configured = {v["VariantName"]: v for v in config.get("ProductionVariants", [])}
            variants = []
            for v in desc.get("ProductionVariants", []) or list(configured.values()):
                conf = configured.get(v["VariantName"], {})
                count = v.get("CurrentInstanceCount", conf.get("InitialInstanceCount"))
                variants.append(
                    {
                        "name": v["VariantName"],
                        "instance_type": conf.get("InstanceType"),
                        "instance_count": count,
                    }
                )
                types.append(conf.get("InstanceType") or "")
            self._variants[e["EndpointArn"]] = variants
        return types

    def _endpoint(self, e: dict[str, Any]) -> dict[str, Any]:
        arn = e["EndpointArn"]
        variants = self._variants.get(arn, [])
        status = e.get("EndpointStatus")
        instance_type = variants[0]["instance_type"] if variants else None
        return self._row(
            "endpoint",
            arn,
            name=e["EndpointName"],
            state=_sm_state(status),
            created_at=_naive(e.get("CreationTime")),
            instance_type=instance_type,
            details={
                "status": status,
                "variants": variants,
                "instance_count": sum(int(v["instance_count"] or 0) for v in variants),
            },
            tags=self._sm_tags(arn),
            **(self._spec(instance_type) if instance_type else {}),
        )

    def _notebook(self, n: dict[str, Any]) -> dict[str, Any]:
        arn = n["NotebookInstanceArn"]
        status = n.get("NotebookInstanceStatus")
        return self._row(
            "notebook",
            arn,
            name=n["NotebookInstanceName"],
            state=_sm_state(status),
            created_at=_naive(n.get("CreationTime")),
            instance_type=n.get("InstanceType"),
            details={
                "status": status,
                "last_modified_at": _iso(n.get("LastModifiedTime")),
            },
            tags=self._sm_tags(arn),
            **self._spec(n.get("InstanceType", "")),
        )

    def _studio_apps(self) -> list[dict[str, Any]]:
        """SageMaker Studio apps running on an instance of their own (JupyterLab, Code
        Editor, kernel gateways …), described; a region without a Studio domain has none."""
        sm = ("sagemaker", self.region)
        if not list(self.account.pages(*sm, "list_domains", "Domains")):
            return []
        found = []
        for app in self.account.pages(*sm, "list_apps", "Apps"):
            spec = app.get("ResourceSpec") or {}
            if (
                app.get("Status") != "InService"
                or app.get("AppType") not in STUDIO_APP_TYPES
                or spec.get("InstanceType") in (None, "system")
            ):
                continue
            owner = (
                {"SpaceName": app["SpaceName"]}
                if app.get("SpaceName")
                else {"UserProfileName": app.get("UserProfileName", "")}
            )
            found.append(
                self.account.call(
                    *sm,
                    "describe_app",
                    DomainId=app["DomainId"],
                    AppType=app["AppType"],
                    AppName=app["AppName"],
                    **owner,
                )
            )
        return found

    def _studio_app(self, a: dict[str, Any]) -> dict[str, Any]:
        arn = a["AppArn"]
        activity = _naive(a.get("LastUserActivityTimestamp"))
        health = _naive(a.get("LastHealthCheckTimestamp"))
        instance_type = (a.get("ResourceSpec") or {}).get("InstanceType")
        details = {
            "platform": "sagemaker-studio",
            "status": a.get("Status"),
            "app_type": a.get("AppType"),
            "domain_id": a.get("DomainId"),
            "space_name": a.get("SpaceName"),
            "user_profile_name": a.get("UserProfileName"),
            "last_user_activity_at": _iso(activity),
            "last_health_check_at": _iso(health),
            # SageMaker moves the activity time to each health check while nobody works:
            # only an earlier activity time says when someone last did
            "last_activity_at": _iso(activity)
            if activity and health and activity < health
            else None,
        }
        return self._row(
            "notebook",
            arn,
            name=f"{a.get('SpaceName') or a.get('UserProfileName')}/{a['AppName']}",
            state=_sm_state(a.get("Status")),
            created_at=_naive(a.get("CreationTime")),
            instance_type=instance_type,
            details=_present(details),
            tags=self._sm_tags(arn),
            **self._spec(instance_type or ""),
        )

    def training_jobs(self) -> Iterator[dict[str, Any]]:
        """``runs`` rows for the training jobs created within the look-back."""
        if not self.has_sagemaker:
            return
        since = self.now - timedelta(days=self.lookback_days)
        jobs = []
        for job in self.account.pages(
            "sagemaker",
            self.region,
            "list_training_jobs",
            "TrainingJobSummaries",
            CreationTimeAfter=since,
        ):
            d = self.account.call(
                "sagemaker",
                self.region,
                "describe_training_job",
                TrainingJobName=job["TrainingJobName"],
            )
            jobs.append(d)
        self._load_types(
            _ec2_type(j.get("ResourceConfig", {}).get("InstanceType", "")) for j in jobs
        )
        for d in jobs:
            yield self._run(d)

    def _run(self, d: dict[str, Any]) -> dict[str, Any]:
        arn = d["TrainingJobArn"]
        resources = d.get("ResourceConfig", {})
        instance_type = resources.get("InstanceType")
        count = int(resources.get("InstanceCount") or 0)
        spot = bool(d.get("EnableManagedSpotTraining"))
        params: dict[str, Any] = dict(d.get("HyperParameters") or {})
        params.update(
            {
                "instance_type": instance_type,
                "instance_count": count,
                "managed_spot": spot,
                "billable_seconds": d.get("BillableTimeInSeconds"),
                "training_seconds": d.get("TrainingTimeInSeconds"),
                "volume_size_gb": resources.get("VolumeSizeInGB"),
            }
        )
        experiment_config = d.get("ExperimentConfig") or {}
        tuning = d.get("TuningJobArn")
        experiment = (
            experiment_config.get("ExperimentName")
            or (tuning.rsplit("/", 1)[-1] if tuning else None)
            or d["TrainingJobName"]
        )
        tags = self._sm_tags(arn)
        tags["sagemaker:managed_spot"] = "true" if spot else "false"
        tags["aws:account_id"] = self.account.account_id
        tags["aws:region"] = self.region
        if tuning:
            tags["sagemaker:tuning_job"] = tuning
        if experiment_config.get("TrialName"):
            tags["sagemaker:trial"] = experiment_config["TrialName"]
        gpus = self._spec(instance_type or "").get("gpu_count")
        return {
            "run_id": d["TrainingJobName"],
            "experiment": experiment,
            "parent_run_id": None,
            "name": d["TrainingJobName"],
            "status": _RUN_STATUS.get(d.get("TrainingJobStatus", ""), d.get("TrainingJobStatus")),
            "user": None,
            "started_at": _naive(d.get("TrainingStartTime") or d.get("CreationTime")),
            "ended_at": _naive(d.get("TrainingEndTime")),
            "params": _json({k: v for k, v in params.items() if v is not None}),
            "metrics": _json(
                {m["MetricName"]: m["Value"] for m in d.get("FinalMetricDataList", []) or []}
            ),
            "tags": _json(tags),
            "resource_ids": _json([arn]),
            "gpu_count": gpus * count if gpus is not None and instance_type else None,
            "source": RUNS_SOURCE,
        }

    def metrics(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Daily and hourly CloudWatch samples of the region's resources."""
        cloudwatch = CloudWatch(self.account, self.region, self.now, self.lookback_days)
        return cloudwatch.metrics(rows, self._variants)


# -- helpers ------------------------------------------------------------------------------


def _table(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = arrow_schema(table)
    return pa.Table.from_pylist(rows, schema=schema)


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """Details without the empty answers (moto and some APIs send "" for none)."""
    return {k: v for k, v in values.items() if v is not None and v != ""}


def _tags(tags: Iterable[dict[str, Any]] | None) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags or []}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _naive(value: Any) -> datetime | None:
    """boto3's aware datetimes as naive UTC (the store's convention)."""
    if value is None:
        return None
    if isinstance(value, str):
        return _parse_time(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return _naive(parsed) if parsed.tzinfo else parsed


def _iso(value: datetime | None) -> str | None:
    naive = _naive(value)
    return naive.strftime("%Y-%m-%dT%H:%M:%SZ") if naive else None


def _transition_time(reason: str) -> str | None:
    """``User initiated (2026-06-11 17:42:00 GMT)`` → ``2026-06-11T17:42:00Z``."""
    match = re.search(r"\((\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)", reason)
    return f"{match.group(1)}T{match.group(2)}Z" if match else None


def _gib(mib: Any) -> float | None:
    return round(float(mib) / 1024, 3) if mib is not None else None


def _ec2_type(instance_type: str) -> str:
    """SageMaker's ``ml.g5.xlarge`` runs on EC2's ``g5.xlarge``."""
    return instance_type.removeprefix("ml.")


def _image_snapshots(image: dict[str, Any]) -> list[str]:
    return [
        m["Ebs"]["SnapshotId"]
        for m in image.get("BlockDeviceMappings", [])
        if m.get("Ebs", {}).get("SnapshotId")
    ]


def _sm_state(status: str | None) -> str | None:
    """SageMaker statuses in the inventory's words (the raw one stays in details)."""
    if status == "InService":
        return "running"
    if status is None:
        return None
    return status.lower()
