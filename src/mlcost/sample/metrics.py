"""The sample organisation's metrics: what each resource's metric profile looks like,
drawn from the generator passed in (in the organisation's resource order)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mlcost.sample.catalog import DAYS, INSTANCE_TYPES, WINDOW_START
from mlcost.sample.model import SOURCE, TREND, WEEKEND, Org
from mlcost.schema import arrow_schema

#: Days of hourly GPU metrics at the end of the window.
HOURLY_DAYS = 14


def _profile(
    profile: str, gpu: bool, wk: np.ndarray, trend: np.ndarray, rng: np.random.Generator
) -> dict[tuple[str, str], np.ndarray]:
    """Daily metric values for one resource on its metric days."""
    n = len(wk)

    def u(a: float, b: float) -> np.ndarray:
        return rng.uniform(a, b, n)

    def nm(m: float, s: float) -> np.ndarray:
        return rng.normal(m, s, n)

    def pct(x: np.ndarray) -> np.ndarray:
        return np.clip(x, 0.0, 100.0)

    if profile in ("busy_gpu", "moderate_gpu"):
        busy = profile == "busy_gpu"
        cpu = pct(np.where(wk, nm(30, 5), nm(46, 5)) if busy else nm(33, 4))
        cpu_max = pct(cpu + u(25, 45))
        g = pct(np.where(wk, nm(62, 7), nm(84, 5)) if busy else np.where(wk, nm(40, 6), nm(58, 6)))
        gm = pct(g * u(0.8, 0.95))
        net_in, net_out, disk = u(6e10, 1.2e11), u(1e10, 3e10), u(2e6, 6e6)
    elif profile == "idle_gpu":
        cpu = u(1.5, 4.0)
        cpu_max = cpu + u(2.0, 5.0)
        g, gm = u(0.5, 3.0), u(1.5, 4.5)
        net_in, net_out, disk = u(2e7, 8e7), u(1e7, 4e7), u(5e3, 2e4)
    elif profile == "idle_cpu":
        cpu = u(0.4, 1.8)
        cpu_max = cpu + u(1.5, 3.0)
        g = gm = np.zeros(n)
        net_in, net_out, disk = u(5e5, 2.5e6), u(2e5, 1.5e6), u(1e3, 8e3)
    elif profile == "steady":
        cpu = pct(nm(50, 4))
        cpu_max = np.minimum(cpu + u(22, 35), 92.0)
        g = gm = np.zeros(n)
        net_in, net_out, disk = u(3e10, 5e10), u(3e10, 6e10), u(1e6, 3e6)
    elif profile == "rightsize":
        cpu = u(5, 10)
        cpu_max = cpu + u(4, 8.5)
        g = gm = np.zeros(n)
        net_in, net_out, disk = u(1.5e10, 3e10), u(1.5e10, 3e10), u(5e5, 1.5e6)
    elif profile == "moderate":
        cpu = pct(np.where(wk, nm(30, 5), nm(38, 5)))
        cpu_max = np.minimum(cpu + u(25, 40), 90.0)
        g = gm = np.zeros(n)
        net_in, net_out, disk = u(5e9, 1.5e10), u(3e9, 8e9), u(5e5, 2e6)
    elif profile == "endpoint_busy":
        cpu = pct(nm(35, 4))
        cpu_max = pct(cpu + u(20, 35))
        g, gm = pct(nm(45, 6)), pct(nm(50, 4))
        inv = np.round(np.where(wk, u(7e4, 1e5), u(1.3e5, 1.7e5)) * trend)
        net_in, net_out, disk = u(2e9, 4e9), u(1e9, 2e9), u(1e5, 4e5)
    elif profile == "endpoint_idle":
        cpu = u(0.5, 1.5)
        cpu_max = cpu + u(0.5, 2.0)
        g, gm = u(0.0, 0.3), u(3.0, 6.0)
        inv = np.zeros(n)
        net_in, net_out, disk = u(1e6, 3e6), u(1e6, 3e6), u(100, 1000)
    elif profile == "notebook_busy":
        cpu = u(8, 20)
        cpu_max = np.minimum(cpu + u(40, 70), 98.0)
        g, gm = u(20, 60), u(30, 70)
        net_in, net_out, disk = u(1e8, 2e9), u(5e7, 5e8), u(5e4, 5e5)
    elif profile == "notebook_idle":
        cpu = u(0.2, 0.8)
        cpu_max = cpu + u(0.5, 1.8)
        g, gm = u(0.0, 0.5), u(0.0, 2.0)
        net_in, net_out, disk = u(1e6, 5e6), u(5e5, 2e6), u(100, 1000)
    else:
        raise ValueError(profile)
    out = {
        ("cpu_util_pct", "Average"): cpu,
        ("cpu_util_pct", "Maximum"): np.maximum(cpu_max, cpu),
        ("net_in_bytes", "Sum"): np.round(net_in),
        ("net_out_bytes", "Sum"): np.round(net_out),
        ("disk_io_ops", "Sum"): np.round(disk),
    }
    if gpu:
        out[("gpu_util_pct", "Average")] = g
        out[("gpu_mem_util_pct", "Average")] = gm
    if profile.startswith("endpoint"):
        out[("invocations", "Sum")] = inv
    return out


def metrics_table(org: Org, rng: np.random.Generator) -> pa.Table:
    """The ``metrics`` table: each resource's samples as given, then daily values drawn
    from its profile on its metric days, and hourly GPU and CPU averages for a GPU VM's
    last two weeks."""
    ids: list[np.ndarray] = []
    metric: list[np.ndarray] = []
    ts: list[np.ndarray] = []
    value: list[np.ndarray] = []
    stat: list[np.ndarray] = []
    period: list[np.ndarray] = []
    day0 = np.datetime64(WINDOW_START, "us")
    one_day = np.timedelta64(1, "D").astype("timedelta64[us]")
    one_hour = np.timedelta64(1, "h").astype("timedelta64[us]")

    def emit(rid: str, m: str, s: str, p: int, t: np.ndarray, v: np.ndarray) -> None:
        ids.append(np.full(len(t), rid, dtype=object))
        metric.append(np.full(len(t), m, dtype=object))
        stat.append(np.full(len(t), s, dtype=object))
        period.append(np.full(len(t), p, dtype=np.int32))
        ts.append(t)
        value.append(np.round(v.astype(float), 3))

    for r in org.resources:
        if r.samples and r.inventory:
            for metric_name, stat_name, period_s, at, sample in r.samples:
                emit(
                    r.rid,
                    metric_name,
                    stat_name,
                    period_s,
                    np.array([np.datetime64(at, "us")]),
                    np.array([sample]),
                )
        if r.profile is None or not r.inventory:
            continue
        it = INSTANCE_TYPES.get(r.instance_type or "")
        gpu = bool(it and it.gpu_count)
        days = r.metric_days if r.metric_days is not None else np.flatnonzero(r.hours > 0)
        vals = _profile(r.profile, gpu, WEEKEND[days], TREND[days], rng)
        t = day0 + days.astype("timedelta64[D]").astype("timedelta64[us]")
        for (m, s), v in vals.items():
            emit(r.rid, m, s, 86400, t, v)
        if r.kind != "vm" or not gpu:
            continue
        # Hourly GPU/CPU averages for the last two weeks, on the hours the VM was up.
        hourly_t: list[np.datetime64] = []
        hourly_idx: list[int] = []
        for k, d in enumerate(days):
            if d < DAYS - HOURLY_DAYS:
                continue
            n_hours = int(np.ceil(r.hours[d])) if r.metric_days is None else 24
            for h in range(n_hours):
                hourly_t.append(day0 + int(d) * one_day + ((r.start_hour + h) % 24) * one_hour)
                hourly_idx.append(k)
        if not hourly_t:
            continue
        order = np.argsort(np.array(hourly_t))
        th = np.array(hourly_t)[order]
        idx = np.array(hourly_idx)[order]
        for m in ("gpu_util_pct", "gpu_mem_util_pct", "cpu_util_pct"):
            base = vals[(m, "Average")][idx]
            v = np.clip(base * rng.uniform(0.8, 1.2, len(idx)), 0, 100)
            emit(r.rid, m, "Average", 3600, th, v)
    n = sum(len(x) for x in ts)
    table = pa.table(
        {
            "resource_id": pa.array(np.concatenate(ids), pa.string()),
            "metric": pa.array(np.concatenate(metric), pa.string()),
            "ts": pa.array(np.concatenate(ts), pa.timestamp("us")),
            "value": pa.array(np.concatenate(value), pa.float64()),
            "stat": pa.array(np.concatenate(stat), pa.string()),
            "period_s": pa.array(np.concatenate(period), pa.int32()),
            "source": pa.array([SOURCE] * n, pa.string()),
        },
        schema=arrow_schema("metrics"),
    )
    return table.sort_by(
        [
            ("resource_id", "ascending"),
            ("metric", "ascending"),
            ("stat", "ascending"),
            ("period_s", "ascending"),
            ("ts", "ascending"),
        ]
    )
