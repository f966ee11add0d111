"""The sample organisation's model: what :mod:`mlcost.sample.org` builds from the data
files and :mod:`mlcost.sample.generator` turns into tables (resources with their billed
hours, commitments, runs, and the answer key's planted cases and anomalies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from mlcost.sample.catalog import DAYS, day

#: The ``source`` of every row the sample generator writes.
SOURCE = "sample"
#: True on Saturdays and Sundays of the window.
WEEKEND = np.array([day(i).weekday() >= 5 for i in range(DAYS)])
#: Gentle upward trend: +15 % over the window.
TREND = 1.0 + 0.15 * np.arange(DAYS) / (DAYS - 1)
#: The metric profiles :mod:`mlcost.sample.generator` draws a resource's metrics from.
PROFILES = (
    "busy_gpu",
    "moderate_gpu",
    "idle_gpu",
    "idle_cpu",
    "steady",
    "rightsize",
    "moderate",
    "endpoint_busy",
    "endpoint_idle",
    "notebook_busy",
    "notebook_idle",
)


@dataclass
class Res:
    """One resource: inventory facts, how it is billed, and how its metrics look."""

    key: str
    provider: str
    account: str
    region: str
    zone: str | None
    kind: str  # vm, volume, snapshot, image, ip_address, endpoint, notebook, bucket, job
    rid: str
    name: str
    state: str
    created_at: datetime
    instance_type: str | None = None
    count: int = 1
    attached_to: str | None = None
    source_id: str | None = None
    size_gb: float | None = None
    lifecycle: str | None = None
    last_used_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: Billed hours per day (0..24, may be fractional for jobs); storage: 24 while it exists.
    hours: np.ndarray = field(default_factory=lambda: np.zeros(DAYS))
    #: Storage size per day (buckets grow); None: size_gb every day.
    sizes: np.ndarray | None = None
    #: Metric profile name, or None for no metrics.
    profile: str | None = None
    #: Days (indices) on which metrics exist; None: the days with hours > 0.
    metric_days: np.ndarray | None = None
    inventory: bool = True
    commitment: str | None = None
    #: Storage/network price key in catalog.STORAGE_PRICES.
    price_key: str | None = None
    #: Hour of day at which elastic usage starts (for hourly metrics).
    start_hour: int = 0
    #: Metric samples given as they are, beside (or instead of) the profile's:
    #: (metric, stat, period_s, ts, value).
    samples: list[tuple[str, str, int, datetime, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Commitment:
    key: str
    provider: str
    account: str
    region: str
    cid: str
    name: str
    category: str  # Usage | Spend
    ctype: str
    unit: str  # Hours | USD
    #: Usage: instances reserved. Spend: USD per hour committed.
    quantity: Decimal
    #: Usage: effective rate per instance-hour. Spend: unused.
    rate: Decimal
    #: Spend: the Savings Plan rate per instance type.
    plan_rates: dict[str, Decimal]
    #: Its ServiceName (ServiceCategory and Subcategory come from :mod:`mlcost.mappings`).
    service: str
    #: Start of the term; the commitment covers usage from here to :attr:`end`.
    start: datetime
    term_years: int
    #: "No Upfront" (all of ``rate`` billed as a recurring fee), "Partial Upfront" or
    #: "All Upfront" (Azure: billing plan "Upfront"). Usage commitments only.
    payment: str = "No Upfront"
    #: The part of ``rate`` paid upfront, per unit-hour: the upfront payment is
    #: ``upfront_rate * quantity * hours in the term``, amortised evenly over the term.
    upfront_rate: Decimal = Decimal(0)
    #: Key of the resources it covers (``Res.commitment``), when not its own ``key``: a
    #: renewal covers the same VMs as the commitment it replaces.
    covers: str | None = None

    @property
    def end(self) -> datetime:
        return self.start.replace(year=self.start.year + self.term_years)

    @property
    def term_days(self) -> int:
        return (self.end - self.start).days

    @property
    def recurring_rate(self) -> Decimal:
        """What is billed each hour of the term (the recurring fee), per unit."""
        return self.rate - self.upfront_rate

    @property
    def upfront(self) -> Decimal:
        """The one-time upfront payment for the whole term (billed on ``start``)."""
        return self.upfront_rate * self.quantity * 24 * self.term_days

    def active(self, d: datetime) -> bool:
        return self.start <= d < self.end


@dataclass
class Run:
    run_id: str
    experiment: str
    parent_run_id: str | None
    name: str
    status: str
    user: str
    started_at: datetime
    ended_at: datetime
    params: dict[str, Any]
    metrics: dict[str, Any]
    tags: dict[str, str]
    resource_ids: list[str]
    gpu_count: int
    source: str


@dataclass
class Org:
    resources: list[Res]
    commitments: list[Commitment]
    runs: list[Run]
    recommendations: list[dict[str, Any]]
    negatives: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]
