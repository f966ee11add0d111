"""Azure Monitor: the platform metrics mlcost reads for each kind of Azure resource, read
with azure-mgmt-monitor's MetricsOperations and turned into ``metrics`` rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlcost.connectors._rows import Window, utc_naive
from mlcost.connectors.azure.api import SOURCE, call

Wanted = Mapping[str, tuple[str, tuple[tuple[str, str], ...]]]

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
#: Azure ML compute instances: their workspace publishes each one's CPU and GPU
#: utilisation (one-minute samples, averaged over its GPUs), split by the ``ComputeName``
#: dimension; a compute instance has no metrics of its own.
COMPUTE_INSTANCE_DAILY: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "CpuUtilizationPercentage": ("cpu_util_pct", (("average", "Average"), ("maximum", "Maximum"))),
    "GpuUtilizationPercentage": ("gpu_util_pct", (("average", "Average"),)),
}
COMPUTE_INSTANCE_HOURLY: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "CpuUtilizationPercentage": ("cpu_util_pct", (("average", "Average"),)),
    "GpuUtilizationPercentage": ("gpu_util_pct", (("average", "Average"),)),
}
#: The dimension that names a compute instance in its workspace's metrics.
COMPUTE_NAME = "ComputeName"
#: Series a split query returns at most (Azure Monitor's default is 10).
MAX_SERIES = 1000


@dataclass
class MonitorReader:
    """One subscription's metric reads over ``window`` through ``monitor`` (a
    MonitorManagementClient)."""

    monitor: Any
    sub: str
    window: Window

    def rows(
        self,
        vm_ids: Sequence[str],
        others: Mapping[str, Wanted],
        instances: Mapping[str, Mapping[str, str]],
    ) -> list[dict[str, Any]]:
        """Daily and hourly samples of the VMs, daily samples of ``others`` (resource id →
        the metrics it publishes), and daily and hourly samples of the Azure ML compute
        instances (``instances``: workspace id → {compute name, lower case → its id})."""
        w = self.window
        daily = ("P1D", 86400, w.daily_start, w.daily_end)
        hourly = ("PT1H", 3600, w.hourly_start, w.hourly_end)
        rows: list[dict[str, Any]] = []
        for vm_id in vm_ids:
            rows += self._read(vm_id, daily, DAILY_METRICS)
            rows += self._read(vm_id, hourly, HOURLY_METRICS)
        for resource_id, wanted in others.items():
            found = self._read(resource_id, daily, wanted)
            if wanted is ANF_METRICS:  # operations per second → the day's operations
                found = [{**row, "value": row["value"] * 86400} for row in found]
            rows += found
        for workspace, names in instances.items():
            rows += self._read(workspace, daily, COMPUTE_INSTANCE_DAILY, names)
            rows += self._read(workspace, hourly, COMPUTE_INSTANCE_HOURLY, names)
        return _combine(rows)

    def _read(
        self,
        resource_id: str,
        grain: tuple[str, int, datetime, datetime],
        wanted: Wanted,
        split: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """One metrics.list call; ``split``: the series are split by ``ComputeName`` and
        each becomes the samples of the resource its value names (others are dropped)."""
        interval, period_s, start, end = grain
        aggregations = sorted({a for _, stats in wanted.values() for a, _ in stats})
        extra: dict[str, Any] = {}
        if split is not None:
            extra = {"filter": f"{COMPUTE_NAME} eq '*'", "top": MAX_SERIES}
        response = call(
            "metrics.list",
            f"subscription {self.sub}",
            self.monitor.metrics.list,
            resource_id,
            timespan=f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}",
            interval=interval,
            metricnames=",".join(wanted),
            aggregation=",".join(a.capitalize() for a in aggregations),
            **extra,
        )
        return _metric_rows(resource_id, response, wanted, period_s, start, end, split)


def _metric_rows(
    resource_id: str,
    response: Any,
    wanted: Wanted,
    period_s: int,
    start: datetime,
    end: datetime,
    split: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    rows = []
    for metric in response.value or []:
        name = metric.name.value if metric.name is not None else None
        if name is None or name not in wanted:
            continue
        ours, stats = wanted[name]
        for series in metric.timeseries or []:
            owner: str | None = resource_id
            if split is not None:
                value = next(
                    (
                        m.value
                        for m in series.metadatavalues or []
                        if m.name is not None and str(m.name.value).lower() == COMPUTE_NAME.lower()
                    ),
                    None,
                )
                owner = split.get(str(value).lower()) if value is not None else None
            if owner is None:
                continue
            for point in series.data or []:
                ts = utc_naive(point.time_stamp)
                if ts is None or not start <= ts < end:
                    continue
                for attr, stat in stats:
                    got = getattr(point, attr, None)
                    if got is None:
                        continue
                    rows.append(
                        {
                            "resource_id": owner,
                            "metric": ours,
                            "ts": ts,
                            "value": float(got),
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
