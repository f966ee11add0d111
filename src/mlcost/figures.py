"""The headline figures, defined once: what the Overview, `mlcost analyze`, the report
and a notebook show for the same filters, to the cent.

Each figure says what it sums. Spend is read from ``cost`` over the charge days of the
filters (``ChargePeriodStart``; no date range: all the data):

* **billed spend**: ``BilledCost`` of every charge (usage, purchases, tax, credits):
  what the invoices say;
* **amortised spend**: ``EffectiveCost`` of every charge: commitment purchases spread
  over the usage they cover, tax and credits included;
* **usage spend**: ``EffectiveCost`` of ``Usage`` charges only (no purchases, tax,
  credits or fees): what the trend charts and the anomaly detector read.

Savings are the open findings' monthly savings, each resource counted once, of the
findings whose detection window overlaps the date range; open anomalies are those of the
range's days that nobody has acknowledged. Money is per currency, never added across.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from mlcost import views
from mlcost.engine import EngineLike, as_engine
from mlcost.filters import Filters, resolve
from mlcost.rollups import spend_source
from mlcost.store import Store

#: Each figure: its label, and what it sums (shown beside it everywhere).
FIGURES: dict[str, tuple[str, str]] = {
    "billed_spend": (
        "Billed spend",
        "BilledCost of all charges, incl. purchases, tax and credits: the invoices",
    ),
    "amortised_spend": (
        "Amortised spend",
        "EffectiveCost of all charges: purchases amortised; tax and credits included",
    ),
    "usage_spend": (
        "Usage spend",
        "EffectiveCost of Usage charges only: no purchases, tax, credits or fees",
    ),
    "monthly_savings": (
        "Savings a month",
        "open findings' monthly savings, each resource counted once",
    ),
    "open_anomalies": ("Open anomalies", "anomalies of these days nobody has acknowledged"),
}
SPEND_FIGURES = ("billed_spend", "amortised_spend", "usage_spend")


@dataclass(frozen=True)
class Figure:
    """One headline figure: ``value`` is exact money in ``currency``, or a count."""

    key: str
    currency: str | None
    value: Decimal | int

    @property
    def label(self) -> str:
        return FIGURES[self.key][0]

    @property
    def meaning(self) -> str:
        return FIGURES[self.key][1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "figure": self.key,
            "label": self.label,
            "currency": self.currency,
            "value": self.value,
            "meaning": self.meaning,
        }


@dataclass(frozen=True)
class Headline:
    """The figures for some filters, and the charge days they cover."""

    filters: Filters
    first_day: date | None
    last_day: date | None
    figures: list[Figure]

    def get(self, key: str, currency: str | None = None) -> Decimal | int:
        """One figure's value (0 where there is nothing to sum)."""
        for f in self.figures:
            if f.key == key and (currency is None or f.currency in (currency, None)):
                return f.value
        return 0 if key == "open_anomalies" else Decimal(0)

    @property
    def period(self) -> str:
        if self.first_day is None or self.last_day is None:
            return "no billing data"
        return f"{self.first_day:%Y-%m-%d} to {self.last_day:%Y-%m-%d}"

    def as_dict(self) -> dict[str, Any]:
        f = self.filters
        return {
            "period": {"first_day": self.first_day, "last_day": self.last_day},
            "filters": {
                "since": f.since,
                "until": f.until,
                "providers": list(f.providers),
                "accounts": list(f.accounts),
                "tags": {k: list(v) for k, v in f.tags.items()},
            },
            "figures": [x.as_dict() for x in self.figures],
        }


def spend(con: EngineLike, filters: Filters = Filters()) -> list[Figure]:
    """Billed, amortised and usage spend per currency (zero for a currency of the store
    with nothing in the filters, so an empty range reads 0.00, not nothing); from the
    daily roll-ups where the filters allow (``mlcost.rollups``)."""
    engine = as_engine(con)
    source = spend_source(engine, filters)
    every = spend_source(engine)
    rows = engine.rows(
        f"""
        WITH currencies AS (SELECT DISTINCT BillingCurrency AS currency FROM {every.table}),
        sums AS (
            SELECT BillingCurrency AS currency, sum(BilledCost) AS billed,
                   sum(EffectiveCost) AS amortised,
                   sum(EffectiveCost) FILTER (WHERE ChargeCategory = 'Usage') AS usage
            FROM {source.table} WHERE {source.where} GROUP BY 1
        )
        SELECT c.currency, coalesce(s.billed, 0), coalesce(s.amortised, 0),
               coalesce(s.usage, 0)
        FROM currencies AS c LEFT JOIN sums AS s USING (currency) ORDER BY 1
        """,  # noqa: S608 - the WHERE is built from constants; values are parameters
        source.params,
    )
    return [
        Figure(key, currency, value)
        for currency, *values in rows
        for key, value in zip(SPEND_FIGURES, values, strict=True)
    ]


def charge_days(con: EngineLike, filters: Filters = Filters()) -> tuple[date | None, date | None]:
    """The charge days the figures cover: the date range, clipped to the data's first
    and last charge days (usage's end, as `mlcost analyze` reports it)."""
    source = spend_source(con)
    last_start = "max(last_charge_start)" if source.rolled_up else "max(ChargePeriodStart)"
    row = as_engine(con).rows(
        "SELECT min(ChargePeriodStart), "  # noqa: S608 - our table and column names
        "coalesce(max(ChargePeriodEnd) FILTER (WHERE ChargeCategory = 'Usage') "
        f"- INTERVAL 1 MICROSECOND, {last_start}) FROM {source.table}"
    )[0]
    if row[0] is None:
        return None, None
    first, last = row[0].date(), row[1].date()
    if filters.since:
        first = max(first, filters.since) if filters.since <= last else filters.since
    if filters.until:
        last = min(last, filters.until) if filters.until >= first else filters.until
    return first, last


def headline(store: Store, filters: Filters = Filters()) -> Headline:
    """Every headline figure for ``filters`` (values matched by ``mlcost.vocabulary``)."""
    with store.reader() as con:
        filters = resolve(con, filters)
        figures = spend(con, filters)
        first, last = charge_days(con, filters)
        totals = [r for r in views.savings(con, filters).to_pylist() if r["scope"] == "total"]
        currencies = [c for c in dict.fromkeys(f.currency for f in figures)]
    by_currency = {r["currency"]: r["monthly_savings"] for r in totals}
    for currency in dict.fromkeys([*currencies, *by_currency]):
        figures.append(Figure("monthly_savings", currency, by_currency.get(currency, Decimal(0))))
    figures.append(Figure("open_anomalies", None, views.open_anomalies(store, filters)))
    return Headline(filters, first, last, figures)


def previous_period(filters: Filters, first: date, last: date) -> Filters:
    """The same filters over the as many days just before ``first``..``last``."""
    days = (last - first).days + 1
    return Filters(
        since=first - timedelta(days=days),
        until=first - timedelta(days=1),
        providers=filters.providers,
        accounts=filters.accounts,
        tags=filters.tags,
    )
