"""Helpers the cloud inventory connectors share: rows to Arrow, the metrics window."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from mlcost.schema import arrow_schema

#: How many days of hourly samples a connector fetches (the daily ones cover the look-back).
HOURLY_DAYS = 14


def utc_naive(value: datetime | str | None) -> datetime | None:
    """A timestamp from a cloud API (aware, or RFC 3339 text) as naive UTC; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def to_json(value: Mapping[str, Any] | None) -> str:
    """Details and tags as compact JSON with sorted keys (None values of details dropped)."""
    return json.dumps(dict(value or {}), sort_keys=True, default=str)


def table(name: str, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts keyed by store column) as an Arrow table with the store's schema."""
    schema = arrow_schema(name)
    rows = list(rows)
    columns = {f.name: [row.get(f.name) for row in rows] for f in schema}
    return pa.Table.from_pydict(columns, schema=schema)


@dataclass(frozen=True)
class Window:
    """The metrics window: whole days over the look-back, whole hours over the last days."""

    daily_start: datetime
    daily_end: datetime
    hourly_start: datetime
    hourly_end: datetime

    @classmethod
    def ending(cls, now: datetime, lookback_days: int) -> Window:
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        hour = now.replace(minute=0, second=0, microsecond=0)
        hourly_days = min(HOURLY_DAYS, lookback_days)
        return cls(
            daily_start=day - timedelta(days=lookback_days),
            daily_end=day,
            hourly_start=hour - timedelta(days=hourly_days),
            hourly_end=hour,
        )


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
