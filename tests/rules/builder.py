"""A tiny organisation for rule tests: resources, daily metrics, billing lines, prices, runs.

Billing lines are one Usage row per day ending at ``AS_OF``, so a resource billed
``per_day`` for 30 days has a monthly cost of exactly ``30 × per_day``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from mlcost.schema import arrow_schema
from mlcost.store import Batch, Store

AS_OF = datetime(2026, 10, 1)
PROVIDER_NAMES = {"aws": "AWS", "azure": "Microsoft", "gcp": "Google Cloud"}
COST_COLUMNS = {
    "BilledCost": pa.decimal128(38, 12),
    "EffectiveCost": pa.decimal128(38, 12),
    "ListCost": pa.decimal128(38, 12),
    "BillingCurrency": pa.string(),
    "BillingPeriodStart": pa.timestamp("us"),
    "BillingPeriodEnd": pa.timestamp("us"),
    "ChargePeriodStart": pa.timestamp("us"),
    "ChargePeriodEnd": pa.timestamp("us"),
    "ChargeCategory": pa.string(),
    "ChargeDescription": pa.string(),
    "ProviderName": pa.string(),
    "ServiceCategory": pa.string(),
    "ServiceName": pa.string(),
    "Tags": pa.string(),
    "ResourceId": pa.string(),
    "ResourceType": pa.string(),
    "SubAccountId": pa.string(),
    "RegionId": pa.string(),
    "ConsumedQuantity": pa.decimal128(38, 12),
    "ConsumedUnit": pa.string(),
    "PricingCategory": pa.string(),
    "CommitmentDiscountId": pa.string(),
    "CommitmentDiscountName": pa.string(),
    "CommitmentDiscountType": pa.string(),
    "CommitmentDiscountStatus": pa.string(),
    "CommitmentDiscountQuantity": pa.decimal128(38, 12),
    "CommitmentDiscountUnit": pa.string(),
    "x_source": pa.string(),
}


def days_before(n: int) -> datetime:
    return AS_OF - timedelta(days=n)


@dataclass
class Org:
    resources: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    cost: list[dict[str, Any]] = field(default_factory=list)
    prices: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)

    def resource(
        self,
        resource_id: str,
        resource_type: str,
        *,
        provider: str = "aws",
        state: str = "running",
        details: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        **values: Any,
    ) -> None:
        self.resources.append(
            {
                "provider": provider,
                "account_id": values.pop("account_id", "111122223333"),
                "region": values.pop("region", "us-east-1"),
                "resource_id": resource_id,
                "resource_type": resource_type,
                "name": values.pop("name", resource_id.rsplit("/", 1)[-1]),
                "state": state,
                "created_at": values.pop("created_at", datetime(2025, 1, 1)),
                "observed_at": AS_OF - timedelta(hours=1),
                "details": json.dumps(details or {}),
                "tags": json.dumps(tags or {}),
                "source": provider,
                **values,
            }
        )

    def daily(
        self,
        resource_id: str,
        metric: str,
        values: list[float] | float,
        *,
        stat: str = "Average",
        days: int = 14,
    ) -> None:
        """One daily sample per day for the last ``days`` days (oldest first)."""
        series = values if isinstance(values, list) else [values] * days
        for i, value in enumerate(series):
            self.metrics.append(
                {
                    "resource_id": resource_id,
                    "metric": metric,
                    "ts": days_before(len(series) - i),
                    "value": float(value),
                    "stat": stat,
                    "period_s": 86400,
                    "source": "test",
                }
            )

    def hourly(
        self,
        resource_id: str,
        metric: str,
        value: Callable[[datetime], float],
        *,
        days: int = 14,
    ) -> None:
        """One hourly Average sample per hour of the last ``days`` days, ``value(hour)``."""
        start = AS_OF - timedelta(days=days)
        for h in range(days * 24):
            ts = start + timedelta(hours=h)
            self.metrics.append(
                {
                    "resource_id": resource_id,
                    "metric": metric,
                    "ts": ts,
                    "value": float(value(ts)),
                    "stat": "Average",
                    "period_s": 3600,
                    "source": "test",
                }
            )

    def usage(
        self,
        resource_id: str,
        *,
        cpu: float | list[float],
        net_mb: float | list[float] = 2.0,
        gpu: float | None = None,
        cpu_max: float | None = None,
        days: int = 14,
    ) -> None:
        """Daily CPU average (and maximum: ``cpu_max``, else average + 2), network split
        evenly in and out, and GPU utilisation if given."""
        cpus = cpu if isinstance(cpu, list) else [cpu] * days
        nets = net_mb if isinstance(net_mb, list) else [net_mb] * len(cpus)
        self.daily(resource_id, "cpu_util_pct", cpus)
        maxima = [cpu_max if cpu_max is not None else c + 2 for c in cpus]
        self.daily(resource_id, "cpu_util_pct", maxima, stat="Maximum")
        self.daily(resource_id, "net_in_bytes", [n * 1e6 / 2 for n in nets], stat="Sum")
        self.daily(resource_id, "net_out_bytes", [n * 1e6 / 2 for n in nets], stat="Sum")
        if gpu is not None:
            self.daily(resource_id, "gpu_util_pct", gpu, days=days)

    def bill(
        self,
        resource_id: str,
        per_day: str,
        *,
        provider: str = "aws",
        days: int = 30,
        ending: datetime = AS_OF,
        **values: Any,
    ) -> None:
        """One Usage line a day for ``days`` days before ``ending`` (24 hours each unless
        ``hours`` says otherwise); other FOCUS columns as keywords."""
        hours = values.pop("hours", 24)
        for i in range(days):
            start = ending - timedelta(days=days - i)
            month = datetime(start.year, start.month, 1)
            self.cost.append(
                {
                    "BilledCost": Decimal(per_day),
                    "EffectiveCost": Decimal(per_day),
                    "BillingCurrency": "USD",
                    "BillingPeriodStart": month,
                    "BillingPeriodEnd": datetime(
                        month.year + month.month // 12, month.month % 12 + 1, 1
                    ),
                    "ChargePeriodStart": start,
                    "ChargePeriodEnd": start + timedelta(days=1),
                    "ChargeCategory": "Usage",
                    "ProviderName": PROVIDER_NAMES[provider],
                    "ResourceId": resource_id,
                    "SubAccountId": "111122223333",
                    "RegionId": "us-east-1",
                    "ConsumedQuantity": Decimal(hours),
                    "x_source": "test",
                    **values,
                }
            )

    def price(
        self,
        instance_type: str,
        per_hour: str,
        vcpus: int,
        memory_gb: float,
        *,
        gpus: int = 0,
        gpu_model: str | None = None,
        current: bool = True,
        provider: str = "aws",
        region: str = "us-east-1",
    ) -> None:
        self.prices.append(
            {
                "provider": provider,
                "region": region,
                "instance_type": instance_type,
                "unit": "Hours",
                "price_per_hour": Decimal(per_hour),
                "currency": "USD",
                "source": "test",
                "vcpus": vcpus,
                "memory_gb": memory_gb,
                "gpu_count": gpus,
                "gpu_model": gpu_model,
                "current_generation": current,
            }
        )

    def unit_price(
        self,
        product: str,
        unit: str,
        price: str,
        *,
        provider: str = "aws",
        region: str = "us-east-1",
    ) -> None:
        """A list price per ``unit`` of something that is not an instance type."""
        self.prices.append(
            {
                "provider": provider,
                "region": region,
                "product": product,
                "unit": unit,
                "price_per_hour": Decimal(price),
                "currency": "USD",
                "source": "test",
            }
        )

    def run(
        self,
        run_id: str,
        resource_id: str,
        started: datetime,
        minutes: float,
        *,
        tags: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.runs.append(
            {
                "run_id": run_id,
                "experiment": "exp",
                "name": run_id,
                "status": "FINISHED",
                "started_at": started,
                "ended_at": started + timedelta(minutes=minutes),
                "params": json.dumps(params or {}),
                "tags": json.dumps(tags or {}),
                "resource_ids": json.dumps([resource_id]),
                "source": "mlflow",
            }
        )

    def load(self, store: Store) -> None:
        """Load everything in one transaction; a zero-cost line marks the end of the data."""
        self.bill("clock", "0", days=1)
        batches = [Batch("cost", pa.Table.from_pylist(self.cost, schema=_cost_schema(self.cost)))]
        for table in ("resources", "metrics", "prices", "runs"):
            rows = getattr(self, table)
            if rows:
                schema = arrow_schema(table)
                names = [n for n in schema.names if any(n in r for r in rows)]
                sub = pa.schema([schema.field(n) for n in names])
                batches.append(Batch(table, pa.Table.from_pylist(rows, schema=sub)))
        store.load(batches)


def _cost_schema(rows: list[dict[str, Any]]) -> pa.Schema:
    names = [n for n in COST_COLUMNS if any(n in r for r in rows)]
    return pa.schema([pa.field(n, COST_COLUMNS[n]) for n in names])
