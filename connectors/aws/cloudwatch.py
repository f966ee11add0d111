"""CloudWatch: the metrics mlcost reads for each kind of AWS resource, and GetMetricData
in calls of up to 500 queries, turned into ``metrics`` rows (several series of one
resource, such as GPU indices or read and write operations, combined into one)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mlcost.connectors.aws.api import Account

SOURCE = "aws"
DAY = 86400
HOUR = 3600
#: GetMetricData takes at most 500 queries per call.
MAX_QUERIES = 500


@dataclass(frozen=True)
class MetricSpec:
    """One CloudWatch metric read for one of ours: stats and periods, and how several
    series (GPU indices, read and write ops, endpoint variants) combine into one."""

    namespace: str
    name: str
    metric: str
    stats: tuple[tuple[str, int], ...]
    combine: str  # sum | mean
    #: The metric is an idle % (the CloudWatch agent's cpu_usage_idle): stored as 100 − it,
    #: its Minimum as our Maximum.
    from_idle: bool = False


_CPU_STATS = (("Average", DAY), ("Maximum", DAY), ("Average", HOUR))
_GPU_STATS = (("Average", DAY), ("Average", HOUR))
EC2_METRICS = (
    MetricSpec("AWS/EC2", "CPUUtilization", "cpu_util_pct", _CPU_STATS, "mean"),
    MetricSpec("AWS/EC2", "NetworkIn", "net_in_bytes", (("Sum", DAY),), "sum"),
    MetricSpec("AWS/EC2", "NetworkOut", "net_out_bytes", (("Sum", DAY),), "sum"),
    # The instance's EBS operations (Nitro), so an idle machine shows no disk work either.
    MetricSpec("AWS/EC2", "EBSReadOps", "disk_io_ops", (("Sum", DAY),), "sum"),
    MetricSpec("AWS/EC2", "EBSWriteOps", "disk_io_ops", (("Sum", DAY),), "sum"),
)
#: Published by the CloudWatch agent's nvidia_gpu plugin, one series per GPU.
GPU_METRICS = (
    MetricSpec("CWAgent", "nvidia_smi_utilization_gpu", "gpu_util_pct", _GPU_STATS, "mean"),
    MetricSpec("CWAgent", "nvidia_smi_utilization_memory", "gpu_mem_util_pct", _GPU_STATS, "mean"),
)
EBS_METRICS = (
    MetricSpec("AWS/EBS", "VolumeReadOps", "disk_io_ops", (("Sum", DAY),), "sum"),
    MetricSpec("AWS/EBS", "VolumeWriteOps", "disk_io_ops", (("Sum", DAY),), "sum"),
)
ENDPOINT_METRIC = MetricSpec("AWS/SageMaker", "Invocations", "invocations", (("Sum", DAY),), "sum")
#: SageMaker publishes no utilisation for notebook instances; AWS's own lifecycle
#: configuration sample ``publish-instance-metrics`` runs the CloudWatch agent on them,
#: into this namespace with a ``notebook_instance_name`` dimension. The agent reports the
#: CPU as idle %: utilisation is 100 minus it (its Minimum is the busiest moment).
NOTEBOOK_NAMESPACE = "SageMakerNotebookInstances"
NOTEBOOK_METRICS = (
    MetricSpec(
        NOTEBOOK_NAMESPACE,
        "cpu_usage_idle",
        "cpu_util_pct",
        (("Average", DAY), ("Minimum", DAY), ("Average", HOUR)),
        "mean",
        from_idle=True,
    ),
    MetricSpec(
        NOTEBOOK_NAMESPACE, "nvidia_smi_utilization_gpu", "gpu_util_pct", _GPU_STATS, "mean"
    ),
)
#: NAT gateways: bytes to and from the internet side.
NAT_METRICS = (
    MetricSpec("AWS/NATGateway", "BytesOutToDestination", "net_out_bytes", (("Sum", DAY),), "sum"),
    MetricSpec("AWS/NATGateway", "BytesInFromDestination", "net_in_bytes", (("Sum", DAY),), "sum"),
)
#: Load balancers: requests (an ALB's requests, an NLB's new flows) and all bytes processed
#: (stored as net_in_bytes: the rules read in + out together).
LB_METRICS = {
    "application": (
        MetricSpec("AWS/ApplicationELB", "RequestCount", "requests", (("Sum", DAY),), "sum"),
        MetricSpec("AWS/ApplicationELB", "ProcessedBytes", "net_in_bytes", (("Sum", DAY),), "sum"),
    ),
    "network": (
        MetricSpec("AWS/NetworkELB", "NewFlowCount", "requests", (("Sum", DAY),), "sum"),
        MetricSpec("AWS/NetworkELB", "ProcessedBytes", "net_in_bytes", (("Sum", DAY),), "sum"),
    ),
}
#: File systems: client I/O operations. EFS reports bytes per operation, so the number of
#: operations is each metric's SampleCount; FSx counts operations.
EFS_METRICS = tuple(
    MetricSpec("AWS/EFS", name, "disk_io_ops", (("SampleCount", DAY),), "sum")
    for name in ("DataReadIOBytes", "DataWriteIOBytes", "MetadataIOBytes")
)
FSX_METRICS = tuple(
    MetricSpec("AWS/FSx", name, "disk_io_ops", (("Sum", DAY),), "sum")
    for name in ("DataReadOperations", "DataWriteOperations", "MetadataOperations")
)


@dataclass
class _Query:
    resource_id: str
    metric: str
    stat: str
    period: int
    combine: str
    dimensions: list[dict[str, str]]
    namespace: str
    name: str
    from_idle: bool = False


@dataclass
class CloudWatch:
    """One account × region's metric reads, over the look-back ending at ``now``."""

    account: Account
    region: str
    now: datetime
    lookback_days: int

    def metrics(
        self, rows: list[dict[str, Any]], variants: Mapping[str, list[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """Daily and hourly samples for the region's resources (``rows``, its inventory;
        ``variants``: each SageMaker endpoint's production variants), fetched with
        GetMetricData in calls of up to 500 queries."""
        queries: list[_Query] = []
        instances = [r["resource_id"] for r in rows if r["resource_type"] == "vm"]
        for iid in instances:
            for spec in EC2_METRICS:
                queries += _queries(iid, spec, [{"Name": "InstanceId", "Value": iid}])
        if instances:
            wanted = set(instances)
            for spec in GPU_METRICS:
                for m in self._list_metrics(spec):
                    dims = m.get("Dimensions", [])
                    iid = next((d["Value"] for d in dims if d["Name"] == "InstanceId"), None)
                    if iid is not None and iid in wanted:
                        queries += _queries(iid, spec, dims)
        notebook_dims = self._notebook_metrics(
            {r["name"] for r in rows if r["resource_type"] == "notebook" and r["name"]}
        )
        for r in rows:
            if r["resource_type"] == "volume":
                vid = r["resource_id"]
                for spec in EBS_METRICS:
                    queries += _queries(vid, spec, [{"Name": "VolumeId", "Value": vid}])
            elif r["resource_type"] == "nat_gateway":
                for spec in NAT_METRICS:
                    queries += _queries(
                        r["resource_id"],
                        spec,
                        [{"Name": "NatGatewayId", "Value": r["resource_id"]}],
                    )
            elif r["resource_type"] == "load_balancer":
                details = json.loads(r["details"])
                for spec in LB_METRICS.get(details.get("lb_type", ""), ()):
                    dims = [{"Name": "LoadBalancer", "Value": details["metric_dimension"]}]
                    queries += _queries(r["resource_id"], spec, dims)
            elif r["resource_type"] == "file_system":
                kind = json.loads(r["details"]).get("file_system_type")
                for spec in EFS_METRICS if kind == "efs" else FSX_METRICS:
                    queries += _queries(
                        r["resource_id"],
                        spec,
                        [{"Name": "FileSystemId", "Value": r["resource_id"]}],
                    )
            elif r["resource_type"] == "notebook" and r["name"] in notebook_dims:
                for spec, dims in notebook_dims[r["name"]]:
                    queries += _queries(r["resource_id"], spec, dims)
            elif r["resource_type"] == "endpoint":
                for variant in variants.get(r["resource_id"], []):
                    dims = [
                        {"Name": "EndpointName", "Value": r["name"]},
                        {"Name": "VariantName", "Value": variant["name"]},
                    ]
                    queries += _queries(r["resource_id"], ENDPOINT_METRIC, dims)
        return self._fetch(queries)

    def _notebook_metrics(
        self, names: set[str]
    ) -> dict[str, list[tuple[MetricSpec, list[dict[str, str]]]]]:
        """The agent's series of each notebook instance (its whole-CPU series only)."""
        found: dict[str, list[tuple[MetricSpec, list[dict[str, str]]]]] = defaultdict(list)
        if not names:
            return found
        for spec in NOTEBOOK_METRICS:
            for m in self._list_metrics(spec):
                dims = {d["Name"]: d["Value"] for d in m.get("Dimensions", [])}
                name = dims.get("notebook_instance_name")
                if name in names and dims.get("cpu", "cpu-total") == "cpu-total":
                    found[name].append((spec, m.get("Dimensions", [])))
        return found

    def _list_metrics(self, spec: MetricSpec) -> Iterator[dict[str, Any]]:
        return self.account.pages(
            "cloudwatch",
            self.region,
            "list_metrics",
            "Metrics",
            Namespace=spec.namespace,
            MetricName=spec.name,
        )

    def _fetch(self, queries: list[_Query]) -> list[dict[str, Any]]:
        end = self.now.replace(minute=0, second=0, microsecond=0)
        start = end.replace(hour=0) - timedelta(days=self.lookback_days)
        values: dict[tuple[str, str, str, int, datetime], list[float]] = defaultdict(list)
        combine: dict[tuple[str, str, str, int], str] = {}
        for first in range(0, len(queries), MAX_QUERIES):
            chunk = queries[first : first + MAX_QUERIES]
            request = [
                {
                    "Id": f"q{n}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": q.namespace,
                            "MetricName": q.name,
                            "Dimensions": q.dimensions,
                        },
                        "Period": q.period,
                        "Stat": q.stat,
                    },
                    "ReturnData": True,
                }
                for n, q in enumerate(chunk)
            ]
            for result in self.account.pages(
                "cloudwatch",
                self.region,
                "get_metric_data",
                "MetricDataResults",
                MetricDataQueries=request,
                StartTime=start,
                EndTime=end,
                ScanBy="TimestampAscending",
            ):
                q = chunk[int(result["Id"][1:])]
                stat = "Maximum" if q.from_idle and q.stat == "Minimum" else q.stat
                if q.stat == "SampleCount":  # a count of operations is stored as their Sum
                    stat = "Sum"
                combine[(q.resource_id, q.metric, stat, q.period)] = q.combine
                for ts, value in zip(
                    result.get("Timestamps", []), result.get("Values", []), strict=False
                ):
                    stamp = ts.astimezone(UTC).replace(tzinfo=None)
                    key = (q.resource_id, q.metric, stat, q.period, stamp)
                    values[key].append(100.0 - float(value) if q.from_idle else float(value))
        out = []
        for (rid, metric, stat, period, ts), vals in sorted(values.items()):
            how = combine[(rid, metric, stat, period)]
            if stat == "Maximum":
                value = max(vals)
            elif how == "sum":
                value = sum(vals)
            else:
                value = sum(vals) / len(vals)
            out.append(
                {
                    "resource_id": rid,
                    "metric": metric,
                    "ts": ts,
                    "value": value,
                    "stat": stat,
                    "period_s": period,
                    "source": SOURCE,
                }
            )
        return out


def _queries(resource_id: str, spec: MetricSpec, dims: list[dict[str, str]]) -> list[_Query]:
    return [
        _Query(
            resource_id,
            spec.metric,
            stat,
            period,
            spec.combine,
            dims,
            spec.namespace,
            spec.name,
            spec.from_idle,
        )
        for stat, period in spec.stats
    ]
