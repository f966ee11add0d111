"""``mlcost ingest aws``: inventory, utilisation and SageMaker runs of AWS accounts.

For each account (this identity's, or the ones named, or every active account of the
AWS Organization, through a read-only role) and each region (the ones named, or every
region enabled for the account), the source yields:

* ``resources``: EC2 instances, EBS volumes, snapshots and AMIs owned by the account,
  Elastic IPs, SageMaker endpoints and notebook instances, as one explicit partition
  per account and region (a resource deleted since the last scan disappears);
* ``metrics``: CloudWatch daily (and hourly CPU) statistics over the look-back window,
  fetched with GetMetricData in batches of up to 500 queries;
* ``runs``: SageMaker training jobs of the window.

Nothing is read until the store iterates the batches, and a failing call fails the
whole load: the store is left as it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pyarrow as pa
from mlcost.connectors.aws.api import client, naive_utc, pages, translate

from mlcost.schema import arrow_schema
from mlcost.store import Batch

SOURCE = "aws"
#: CloudWatch: (namespace, metric name, statistic, period) → our metric name.
INSTANCE_METRICS = (
    ("AWS/EC2", "CPUUtilization", "Average", 86400, "cpu_util_pct"),
    ("AWS/EC2", "CPUUtilization", "Maximum", 86400, "cpu_util_pct"),
    ("AWS/EC2", "CPUUtilization", "Average", 3600, "cpu_util_pct"),
    ("AWS/EC2", "NetworkIn", "Sum", 86400, "net_in_bytes"),
    ("AWS/EC2", "NetworkOut", "Sum", 86400, "net_out_bytes"),
)
#: The CloudWatch agent's NVIDIA metrics (published only where the agent runs).
GPU_METRICS = (
    ("nvidia_smi_utilization_gpu", "gpu_util_pct"),
    ("nvidia_smi_utilization_memory", "gpu_mem_util_pct"),
)
_STOPPED_AT = re.compile(r"\((\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) GMT\)")
_QUERIES_PER_CALL = 500


@dataclass
class _Found:
    resources: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class AwsSource:
    """What ``mlcost ingest aws`` reads; nothing happens until :meth:`batches` is iterated."""

    regions: Sequence[str] = ()
    accounts: Sequence[str] = ()
    role_name: str | None = None
    lookback_days: int = 30
    session: boto3.Session | None = None
    #: The end of the look-back window (default: the start of today, UTC).
    now: datetime | None = None
    scanned: list[tuple[str, str]] = field(default_factory=list)

    def batches(self) -> Iterator[Batch]:
        base = self.session or boto3.Session()
        end = self.now or datetime.now(UTC).replace(tzinfo=None)
        end = datetime(end.year, end.month, end.day)
        start = end - timedelta(days=self.lookback_days)
        runs: list[dict[str, Any]] = []
        metrics: list[dict[str, Any]] = []
        for account, session in self._sessions(base):
            for region in self._regions(session, account):
                found = _scan(session, account, region, start, end)
                self.scanned.append((account, region))
                runs += found.runs
                metrics += found.metrics
                yield Batch(
                    "resources",
                    _table("resources", found.resources),
                    partition={
                        "source": SOURCE,
                        "provider": "aws",
                        "account_id": account,
                        "region": region,
                    },
                    label=f"aws {account} {region}",
                )
        if metrics:
            yield Batch("metrics", _table("metrics", metrics), label="aws metrics")
        if runs:
            yield Batch("runs", _table("runs", runs), label="sagemaker runs")

    def _sessions(self, base: boto3.Session) -> Iterator[tuple[str, boto3.Session]]:
        try:
            me = client(base, "sts").get_caller_identity()["Account"]
        except Exception as exc:
            raise translate(exc, "sts:GetCallerIdentity", "(this identity)", None) from None
        if not self.role_name:
            if self.accounts and set(self.accounts) != {me}:
                raise translate_missing_role(me, self.accounts)
            yield me, base
            return
        accounts = list(self.accounts) or _organization_accounts(base, me)
        for account in accounts:
            if account == me:
                yield me, base
                continue
            arn = f"arn:aws:iam::{account}:role/{self.role_name}"
            try:
                creds = client(base, "sts").assume_role(
                    RoleArn=arn, RoleSessionName="mlcost-ingest"
                )["Credentials"]
            except Exception as exc:
                raise translate(exc, f"sts:AssumeRole on {arn}", account, None) from None
            yield (
                account,
                boto3.Session(
                    aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"],
                ),
            )

    def _regions(self, session: boto3.Session, account: str) -> list[str]:
        if self.regions:
            return list(self.regions)
        region = session.region_name or "us-east-1"
        try:
            found = client(session, "ec2", region).describe_regions(AllRegions=False)["Regions"]
        except Exception as exc:
            raise translate(exc, "ec2:DescribeRegions", account, region) from None
        return sorted(r["RegionName"] for r in found)


def translate_missing_role(me: str, accounts: Sequence[str]) -> Exception:
    from mlcost.errors import ConfigError

    others = ", ".join(a for a in accounts if a != me)
    return ConfigError(
        f"Reading accounts {others} needs a role to assume in them.",
        "Add --role-name with a read-only role that exists in each account.",
    )


def _organization_accounts(session: boto3.Session, me: str) -> list[str]:
    try:
        return sorted(
            a["Id"]
            for a in pages(client(session, "organizations").list_accounts, "Accounts")
            if a.get("Status", "ACTIVE") == "ACTIVE"
        )
    except Exception as exc:
        raise translate(exc, "organizations:ListAccounts", me, None) from None


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = arrow_schema(name)
    return pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)


# -- one account and region ----------------------------------------------------------------


def _scan(
    session: boto3.Session, account: str, region: str, start: datetime, end: datetime
) -> _Found:
    found = _Found()
    call = _Caller(session, account, region)
    types = _InstanceTypes(call)
    observed = datetime.now(UTC).replace(tzinfo=None, microsecond=0)

    def add(**row: Any) -> None:
        found.resources.append(
            {
                "provider": "aws",
                "account_id": account,
                "region": region,
                "observed_at": observed,
                "source": SOURCE,
                **row,
                "details": json.dumps(row.get("details") or {}, sort_keys=True, default=str),
                "tags": json.dumps(row.get("tags") or {}, sort_keys=True),
            }
        )

    instances = [
        i
        for r in call.pages("ec2", "describe_instances", "Reservations")
        for i in r.get("Instances", [])
    ]
    for i in instances:
        facts = types.get(i.get("InstanceType"))
        state = i.get("State", {}).get("Name")
        stopped = _STOPPED_AT.search(i.get("StateTransitionReason") or "")
        add(
            resource_id=i["InstanceId"],
            resource_type="vm",
            name=_tag(i, "Name"),
            state=state,
            created_at=naive_utc(i.get("LaunchTime")),
            instance_type=i.get("InstanceType"),
            source_id=i.get("ImageId"),
            lifecycle="spot" if i.get("InstanceLifecycle") == "spot" else "on-demand",
            details={
                "platform": i.get("PlatformDetails"),
                "vpc_id": i.get("VpcId"),
                **({"stopped_at": stopped.group(1).replace(" ", "T") + "Z"} if stopped else {}),
            },
            tags=_tags(i),
            **facts,
        )
    for v in call.pages("ec2", "describe_volumes", "Volumes"):
        attachment = (v.get("Attachments") or [{}])[0]
        add(
            resource_id=v["VolumeId"],
            resource_type="volume",
            name=_tag(v, "Name"),
            state=v.get("State"),
            created_at=naive_utc(v.get("CreateTime")),
            attached_to=attachment.get("InstanceId") or None,
            size_gb=float(v.get("Size") or 0),
            details={
                "volume_type": v.get("VolumeType"),
                "iops": v.get("Iops"),
                "device": attachment.get("Device"),
            },
            tags=_tags(v),
        )
    images = list(call.pages("ec2", "describe_images", "Images", Owners=["self"]))
    for image in images:
        snapshots = [
            m["Ebs"]["SnapshotId"]
            for m in image.get("BlockDeviceMappings", [])
            if m.get("Ebs", {}).get("SnapshotId")
        ]
        last = naive_utc(image.get("LastLaunchedTime"))
        add(
            resource_id=image["ImageId"],
            resource_type="image",
            name=image.get("Name"),
            state=image.get("State"),
            created_at=naive_utc(image.get("CreationDate")),
            last_used_at=last,
            size_gb=float(
                sum(
                    m.get("Ebs", {}).get("VolumeSize") or 0
                    for m in image.get("BlockDeviceMappings", [])
                )
            ),
            details={"snapshot_ids": snapshots, "architecture": image.get("Architecture")},
            tags=_tags(image),
        )
    for s in call.pages("ec2", "describe_snapshots", "Snapshots", OwnerIds=["self"]):
        add(
            resource_id=s["SnapshotId"],
            resource_type="snapshot",
            name=_tag(s, "Name"),
            state="available" if s.get("State") == "completed" else s.get("State"),
            created_at=naive_utc(s.get("StartTime")),
            source_id=s.get("VolumeId"),
            size_gb=float(s.get("VolumeSize") or 0),
            details={"description": s.get("Description")},
            tags=_tags(s),
        )
    for a in call.call("ec2", "describe_addresses").get("Addresses", []):
        add(
            resource_id=a.get("AllocationId") or a.get("PublicIp"),
            resource_type="ip_address",
            name=_tag(a, "Name") or a.get("PublicIp"),
            state="in-use" if a.get("AssociationId") or a.get("InstanceId") else "available",
            attached_to=a.get("InstanceId") or a.get("NetworkInterfaceId") or None,
            details={"public_ip": a.get("PublicIp"), "association_id": a.get("AssociationId")},
            tags=_tags(a),
        )
    endpoints = _sagemaker_endpoints(call, types)
    for e in endpoints:
        add(**e)
    for n in call.pages("sagemaker", "list_notebook_instances", "NotebookInstances"):
        itype = n.get("InstanceType")
        add(
            resource_id=n["NotebookInstanceArn"],
            resource_type="notebook",
            name=n.get("NotebookInstanceName"),
            state="running"
            if n.get("NotebookInstanceStatus") == "InService"
            else ((n.get("NotebookInstanceStatus") or "").lower()),
            created_at=naive_utc(n.get("CreationTime")),
            instance_type=itype,
            details={"status": n.get("NotebookInstanceStatus")},
            **types.get(itype.removeprefix("ml.") if itype else None),
        )
    found.runs = _training_jobs(call, types, start)
    found.metrics = _metrics(call, instances, endpoints, start, end)
    return found


class _Caller:
    """Calls for one account and region, each failure translated with its name."""

    def __init__(self, session: boto3.Session, account: str, region: str) -> None:
        self.session, self.account, self.region = session, account, region
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(self.session, service, self.region)
        return self._clients[service]

    def call(self, service: str, operation: str, **params: Any) -> Any:
        try:
            return getattr(self._client(service), operation)(**params)
        except Exception as exc:
            raise translate(exc, _action(service, operation), self.account, self.region) from None

    def pages(self, service: str, operation: str, key: str, **params: Any) -> list[Any]:
        try:
            return list(pages(getattr(self._client(service), operation), key, **params))
        except Exception as exc:
            raise translate(exc, _action(service, operation), self.account, self.region) from None


def _action(service: str, operation: str) -> str:
    """``ec2:DescribeVolumes`` from ``("ec2", "describe_volumes")``: the IAM action."""
    return f"{service}:{''.join(p.capitalize() for p in operation.split('_'))}"


class _InstanceTypes:
    """vCPUs, memory and GPUs of instance types (DescribeInstanceTypes, cached)."""

    def __init__(self, call: _Caller) -> None:
        self.call = call
        self.cache: dict[str, dict[str, Any]] = {}

    def get(self, name: str | None) -> dict[str, Any]:
        if not name:
            return {}
        if name not in self.cache:
            try:
                info = self.call.call("ec2", "describe_instance_types", InstanceTypes=[name])
                found = info.get("InstanceTypes", [])
            except Exception:
                found = []  # an instance type the region does not describe: facts unknown
            if found:
                t = found[0]
                gpus = t.get("GpuInfo", {}).get("Gpus", [])
                self.cache[name] = {
                    "vcpus": t.get("VCpuInfo", {}).get("DefaultVCpus"),
                    "memory_gb": t.get("MemoryInfo", {}).get("SizeInMiB", 0) / 1024,
                    "gpu_count": sum(g.get("Count", 0) for g in gpus),
                    "gpu_model": gpus[0].get("Name") if gpus else None,
                }
            else:
                self.cache[name] = {}
        return self.cache[name]


def _sagemaker_endpoints(call: _Caller, types: _InstanceTypes) -> list[dict[str, Any]]:
    rows = []
    for summary in call.pages("sagemaker", "list_endpoints", "Endpoints"):
        e = call.call("sagemaker", "describe_endpoint", EndpointName=summary["EndpointName"])
        config = call.call(
            "sagemaker", "describe_endpoint_config", EndpointConfigName=e["EndpointConfigName"]
        )
        types_by_variant = {
            v["VariantName"]: v.get("InstanceType") for v in config.get("ProductionVariants", [])
        }
        variants = [
            {
                "name": v["VariantName"],
                "instance_type": types_by_variant.get(v["VariantName"]),
                "instance_count": v.get("CurrentInstanceCount", v.get("DesiredInstanceCount")),
            }
            for v in e.get("ProductionVariants", [])
        ]
        itype = variants[0]["instance_type"] if variants else None
        rows.append(
            {
                "resource_id": e["EndpointArn"],
                "resource_type": "endpoint",
                "name": e["EndpointName"],
                "state": "running"
                if e.get("EndpointStatus") == "InService"
                else ((e.get("EndpointStatus") or "").lower()),
                "created_at": naive_utc(e.get("CreationTime")),
                "instance_type": itype,
                "details": {
                    "status": e.get("EndpointStatus"),
                    "variants": variants,
                    "instance_count": sum(v["instance_count"] or 0 for v in variants),
                },
                **types.get(itype.removeprefix("ml.") if itype else None),
            }
        )
    return rows


def _training_jobs(call: _Caller, types: _InstanceTypes, start: datetime) -> list[dict[str, Any]]:
    runs = []
    summaries = call.pages(
        "sagemaker", "list_training_jobs", "TrainingJobSummaries", CreationTimeAfter=start
    )
    for summary in summaries:
        job = call.call(
            "sagemaker", "describe_training_job", TrainingJobName=summary["TrainingJobName"]
        )
        config = job.get("ResourceConfig", {})
        itype = config.get("InstanceType")
        count = config.get("InstanceCount") or 1
        facts = types.get(itype.removeprefix("ml.") if itype else None)
        experiment = (job.get("ExperimentConfig") or {}).get("ExperimentName") or (
            (job.get("TuningJobArn") or "").rsplit("/", 1)[-1] or "sagemaker-training"
        )
        tags = {
            t["Key"]: t["Value"]
            for t in call.pages("sagemaker", "list_tags", "Tags", ResourceArn=job["TrainingJobArn"])
        }
        runs.append(
            {
                "run_id": job["TrainingJobArn"],
                "experiment": experiment,
                "parent_run_id": job.get("TuningJobArn"),
                "name": job["TrainingJobName"],
                "status": (job.get("TrainingJobStatus") or "").upper(),
                "started_at": naive_utc(job.get("TrainingStartTime")),
                "ended_at": naive_utc(job.get("TrainingEndTime")),
                "params": json.dumps(
                    {
                        "instance_type": itype,
                        "instance_count": count,
                        "billable_seconds": job.get("BillableTimeInSeconds"),
                        "managed_spot": bool(job.get("EnableManagedSpotTraining")),
                        **(job.get("HyperParameters") or {}),
                    },
                    sort_keys=True,
                ),
                "metrics": json.dumps(
                    {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
                ),
                "tags": json.dumps(tags, sort_keys=True),
                "resource_ids": json.dumps([job["TrainingJobArn"]]),
                "gpu_count": (facts.get("gpu_count") or 0) * count if facts else None,
                "source": "sagemaker",
            }
        )
    return runs


def _metrics(
    call: _Caller,
    instances: list[dict[str, Any]],
    endpoints: list[dict[str, Any]],
    start: datetime,
    end: datetime,
) -> list[dict[str, Any]]:
    queries: list[tuple[dict[str, Any], str, str, int, str]] = []
    for i in instances:
        dims = [{"Name": "InstanceId", "Value": i["InstanceId"]}]
        for namespace, name, stat, period, ours in INSTANCE_METRICS:
            queries.append(
                (_query(namespace, name, dims, stat, period), i["InstanceId"], ours, period, stat)
            )
    if instances:
        ids = {i["InstanceId"] for i in instances}
        for agent_name, ours in GPU_METRICS:
            listed = call.pages(
                "cloudwatch", "list_metrics", "Metrics", Namespace="CWAgent", MetricName=agent_name
            )
            for m in listed:
                dims = m.get("Dimensions", [])
                instance = next((d["Value"] for d in dims if d["Name"] == "InstanceId"), None)
                if instance is not None and instance in ids:
                    q = _query("CWAgent", agent_name, dims, "Average", 86400)
                    queries.append((q, instance, ours, 86400, "Average"))
    for e in endpoints:
        for variant in e["details"]["variants"]:
            dims = [
                {"Name": "EndpointName", "Value": e["name"]},
                {"Name": "VariantName", "Value": variant["name"]},
            ]
            q = _query("AWS/SageMaker", "Invocations", dims, "Sum", 86400)
            queries.append((q, e["resource_id"], "invocations", 86400, "Sum"))
    rows: list[dict[str, Any]] = []
    for first in range(0, len(queries), _QUERIES_PER_CALL):
        chunk = queries[first : first + _QUERIES_PER_CALL]
        by_id = {f"q{n}": q for n, q in enumerate(chunk)}
        params: dict[str, Any] = {
            "MetricDataQueries": [dict(q[0], Id=qid) for qid, q in by_id.items()],
            "StartTime": start,
            "EndTime": end,
        }
        while True:
            answer = call.call("cloudwatch", "get_metric_data", **params)
            for result in answer.get("MetricDataResults", []):
                _, resource, ours, period, stat = by_id[result["Id"]]
                for ts, value in zip(
                    result.get("Timestamps", []), result.get("Values", []), strict=False
                ):
                    rows.append(
                        {
                            "resource_id": resource,
                            "metric": ours,
                            "ts": naive_utc(ts),
                            "value": float(value),
                            "stat": stat,
                            "period_s": period,
                            "source": SOURCE,
                        }
                    )
            if not answer.get("NextToken"):
                break
            params["NextToken"] = answer["NextToken"]
    # one sample per (resource, metric, stat, period, ts): several endpoint variants add up
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (row["resource_id"], row["metric"], row["stat"], row["period_s"], row["ts"])
        if key in merged and row["stat"] == "Sum":
            merged[key]["value"] += row["value"]
        else:
            merged[key] = row
    return list(merged.values())


def _query(
    namespace: str, name: str, dims: list[dict[str, str]], stat: str, period: int
) -> dict[str, Any]:
    return {
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dims},
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _tags(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", []) or []}


def _tag(item: dict[str, Any], key: str) -> str | None:
    return _tags(item).get(key)
