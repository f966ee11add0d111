"""Spend summaries over the ``cost`` table: the figures every output starts from.

Sums are exact decimals computed by DuckDB; amounts in different billing currencies
are never added together (each row of a summary carries its currency).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from mlcost.engine import EngineLike, as_engine
from mlcost.errors import InputError
from mlcost.filters import Filters
from mlcost.rollups import spend_source
from mlcost.store import quote_ident

#: An account's name on the bill: the sub-account's, else the billing account's.
ACCOUNT_NAME = "CASE WHEN SubAccountId IS NOT NULL THEN SubAccountName ELSE BillingAccountName END"

#: What spend can be grouped by: dimension name → SQL expression over ``cost``.
DIMENSIONS: dict[str, str] = {
    "provider": "ProviderName",
    # by id (names are not unique: a GCP project id can be an Azure subscription's name)
    "account": "coalesce(SubAccountId, BillingAccountId)",
    "service": "ServiceName",
    "service_category": "ServiceCategory",
    "region": "RegionId",
    "charge_category": "ChargeCategory",
    "month": "strftime(BillingPeriodStart, '%Y-%m')",
    "day": "strftime(ChargePeriodStart, '%Y-%m-%d')",
    "source": "x_source",
}


@dataclass(frozen=True)
class StoreOverview:
    """How much billing the store holds, per currency."""

    rows: int
    first_charge: datetime | None
    last_charge: datetime | None
    sources: int
    billed_cost: dict[str, object]
    effective_cost: dict[str, object]


def spend_by(
    con: EngineLike,
    dimension: str,
    *,
    limit: int | None = None,
    filters: Filters | None = None,
) -> pa.Table:
    """Billed (invoice), effective (amortised) and usage cost (EffectiveCost of Usage
    charges) per value of ``dimension``, largest effective cost first; the three sums
    are the headline figures of ``mlcost.figures``, split. Accounts are named by id, with
    their name on the bill beside it (``account_name``). Read from the daily roll-ups
    where the filters allow (``mlcost.rollups``), else from ``cost``: the same figures."""
    engine = as_engine(con)
    by_tag = dimension[4:] if dimension.startswith("tag:") and dimension[4:] else None
    if by_tag is None and dimension not in DIMENSIONS:
        raise InputError(
            f"Cannot group spend by {dimension!r}; choose one of {', '.join(DIMENSIONS)} "
            "or tag:KEY."
        )
    source = spend_source(engine, filters or Filters(), by_tag=by_tag)
    expression = source.tag if by_tag is not None else DIMENSIONS[dimension]
    order = "1" if dimension in ("month", "day") else "effective_cost DESC, 1"
    column = quote_ident(dimension)
    named = dimension == "account"
    query = (
        f"SELECT coalesce(CAST({expression} AS VARCHAR), '(none)') AS {column}, "
        + ("max(" + ACCOUNT_NAME + ") AS account_name, " if named else "")
        + "BillingCurrency AS currency, "
        "sum(BilledCost) AS billed_cost, sum(EffectiveCost) AS effective_cost, "
        "coalesce(sum(EffectiveCost) FILTER (WHERE ChargeCategory = 'Usage'), 0) "
        f"AS usage_cost, {source.rows} AS rows "
        f"FROM {source.table} WHERE {source.where} GROUP BY {column}, currency "
        f"ORDER BY {order}, currency"
    )
    if limit is not None:
        query += f" LIMIT {int(limit)}"
    return engine.arrow(query, source.params)


def spend_summary(
    con: EngineLike, dimensions: list[str], filters: Filters | None = None
) -> pa.Table:
    """Several ``spend_by`` results in one long table: dimension, value, currency, sums."""
    parts = []
    for dimension in dimensions:
        part = spend_by(con, dimension, filters=filters)
        parts.append(
            pa.table(
                {
                    "dimension": pa.array([dimension] * part.num_rows, pa.string()),
                    "value": part.column(dimension),
                    "currency": part.column("currency"),
                    "billed_cost": part.column("billed_cost"),
                    "effective_cost": part.column("effective_cost"),
                    "usage_cost": part.column("usage_cost"),
                    "rows": part.column("rows"),
                }
            )
        )
    return pa.concat_tables(parts)


def data_end(con: EngineLike) -> datetime | None:
    """The end of the billing data: the last usage charge's end (exclusive). Purchases'
    charge periods run to the end of their term, months ahead, so they do not count."""
    source = spend_source(con)
    rows = as_engine(con).rows(
        f"SELECT max(ChargePeriodEnd) FROM {source.table} "  # noqa: S608 - our table names
        "WHERE ChargeCategory = 'Usage'"
    )
    return rows[0][0] if rows else None


def billing_lines(con: EngineLike) -> int:
    """How many billing lines the store holds (counted by the daily roll-ups)."""
    source = spend_source(con)
    rows = as_engine(con).rows(f"SELECT {source.rows} FROM {source.table}")  # noqa: S608
    return int(rows[0][0] or 0) if rows else 0


def overview(con: EngineLike) -> StoreOverview:
    """How much billing the store holds (from the daily roll-ups: the same figures)."""
    engine = as_engine(con)
    source = spend_source(engine)
    last_start = "max(last_charge_start)" if source.rolled_up else "max(ChargePeriodStart)"
    head = engine.rows(
        # The data reaches the end of its last usage (ChargePeriodEnd is exclusive); a
        # purchase's period runs to the end of its term, months ahead, so it does not count.
        f"SELECT {source.rows}, min(ChargePeriodStart), coalesce("  # noqa: S608 - our names
        "max(ChargePeriodEnd) FILTER (WHERE ChargeCategory = 'Usage') - INTERVAL 1 MICROSECOND, "
        f"{last_start}), "
        f"count(DISTINCT x_source) FROM {source.table}"
    )[0]
    totals = engine.rows(
        "SELECT BillingCurrency, sum(BilledCost), sum(EffectiveCost) "  # noqa: S608 - our names
        f"FROM {source.table} GROUP BY 1 ORDER BY 1"
    )
    return StoreOverview(
        rows=head[0] or 0,
        first_charge=head[1],
        last_charge=head[2],
        sources=head[3],
        billed_cost={c: b for c, b, _ in totals},
        effective_cost={c: e for c, _, e in totals},
    )
