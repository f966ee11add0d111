"""Cloud Monitoring: the time series mlcost reads for each kind of GCP resource, and the
one query loop that turns them into ``metrics`` rows (gRPC, Monitoring's only transport)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mlcost.connectors._rows import Window, utc_naive
from mlcost.connectors.gcp.api import SOURCE, call, rfc3339


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
#: Load balancers, one series set per forwarding rule (labels ``region``: ``global`` for a
#: global rule, and ``forwarding_rule_name``), by the monitored resource of its kind:
#: Application Load Balancers count requests, proxy Network Load Balancers new
#: connections, passthrough Network Load Balancers the packets they receive (every
#: connection or datagram is at least one, so a rule idle by packets is idle by requests).
LB_RESOURCE_TYPES: dict[str, str] = {
    "https_lb_rule": "loadbalancing.googleapis.com/https/request_count",
    "internal_http_lb_rule": "loadbalancing.googleapis.com/https/internal/request_count",
    "http_external_regional_lb_rule": (
        "loadbalancing.googleapis.com/https/external/regional/request_count"
    ),
    "tcp_ssl_proxy_rule": "loadbalancing.googleapis.com/tcp_ssl_proxy/new_connections",
    "loadbalancing.googleapis.com/ExternalNetworkLoadBalancerRule": (
        "loadbalancing.googleapis.com/l3/external/ingress_packets_count"
    ),
    "internal_tcp_lb_rule": "loadbalancing.googleapis.com/l3/internal/ingress_packets_count",
    "internal_udp_lb_rule": "loadbalancing.googleapis.com/l3/internal/ingress_packets_count",
}
LB_QUERIES = tuple(
    MetricQuery(
        metric,
        "requests",
        "ALIGN_SUM",
        "Sum",
        DAY,
        resource_type=resource_type,
        id_labels=("region", "forwarding_rule_name"),
    )
    for resource_type, metric in LB_RESOURCE_TYPES.items()
)
ALL_QUERIES = (*METRIC_QUERIES, VERTEX_QUERY, *NAT_QUERIES, *FILESTORE_QUERIES, *LB_QUERIES)


def metric_rows(
    project: str,
    window: Window,
    ids_by_type: Mapping[str, Mapping[str, str]],
    *,
    options: Mapping[str, Any],
    credentials: Any,
    retry: Any,
) -> list[dict[str, Any]]:
    """Daily and hourly samples of a project's resources from Cloud Monitoring:
    ``ids_by_type`` maps a monitored resource type to {its labels, joined by "/" → our
    resource id}; ``options`` go to the MetricServiceClient (a test's transport)."""
    from google.cloud import monitoring_v3

    options = dict(options)
    if "transport" not in options:  # a given transport carries its own credentials
        options["credentials"] = credentials
    client = monitoring_v3.MetricServiceClient(**options)
    rows: list[dict[str, Any]] = []
    # (resource, metric, stat, period, ts) → values to combine
    combined: dict[tuple[str, str, str, int, datetime], list[float]] = defaultdict(list)
    how: dict[tuple[str, str, str, int, datetime], str] = {}
    w = window
    queries = [q for q in ALL_QUERIES if ids_by_type.get(q.resource_type)]
    for q in queries:
        ids = ids_by_type[q.resource_type]
        start, end = (
            (w.daily_start, w.daily_end) if q.period_s == DAY else (w.hourly_start, w.hourly_end)
        )
        request = {
            "name": f"projects/{project}",
            "filter": f'metric.type = "{q.metric_type}" AND resource.type = "{q.resource_type}"',
            "interval": {"start_time": rfc3339(start), "end_time": rfc3339(end)},
            "aggregation": {
                "alignment_period": {"seconds": q.period_s},
                "per_series_aligner": q.aligner,
            },
            "view": "FULL",
        }

        def fetch(request: dict[str, Any] = request) -> list[Any]:
            return list(client.list_time_series(request=request, retry=retry))

        for series in call("timeSeries.list", f"project {project}", fetch):
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
                number = value.double_value if "double_value" in value else float(value.int64_value)
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
    return rows
