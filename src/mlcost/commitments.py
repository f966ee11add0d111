"""Commitments from FOCUS rows alone: utilisation, coverage and expiry.

Everything here reads the ``cost`` table, so AWS Reserved Instances and Savings Plans,
Azure reservations and savings plans and GCP committed use discounts are treated alike
and no Cost Explorer call is needed.

* **Utilisation** of a commitment over a period: its *Used* rows ÷ its *Used* and
  *Unused* rows (``CommitmentDiscountStatus``), by quantity (``CommitmentDiscountQuantity``:
  hours, normalised hours or currency) and by amortised cost (``EffectiveCost``). The
  on-demand equivalent is the ``ListCost`` of the usage it covered; net savings are that
  minus the amortised cost of the commitment (used and unused).
* **Coverage** (as AWS Cost Explorer defines RI and Savings Plan coverage): covered ÷
  (covered + eligible on-demand), in hours (``ConsumedQuantity`` of committed and
  on-demand usage rows) and in cost (their on-demand equivalent, ``ListCost``). Eligible
  usage is usage of the service categories commitments apply to (``Compute`` by default)
  at on-demand prices, less the storage and addresses billed under those services (usage
  metered in a data size, and inventoried volumes, snapshots, images, IP addresses and
  buckets): spot and other dynamic prices are not eligible.
* **Expiry**: the end of a commitment's term where the data says it: the charge period
  of a one-time (upfront) purchase row spans the term, and provider exports that keep the
  term end (``x_CommitmentDiscountEnd``, ``x_ReservationEndTime``, ``x_SavingsPlanEndTime``)
  are read too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from mlcost.engine import EngineLike, as_engine
from mlcost.errors import InputError
from mlcost.schema import INSTANCE_FAMILY_SQL, PROVIDER_KEY_SQL
from mlcost.store import quote_ident
from mlcost.summary import data_end

GRAINS = {"day": "day", "month": "month", "all": None}
#: What coverage can be grouped by: name → SQL over the usage rows ``u`` (see _COVERAGE).
COVERAGE_BY: dict[str, str] = {
    "provider": "u.provider",
    "account": "u.account",
    "service": "u.service",
    "family": "u.family",
    "region": "u.region",
}
#: Columns some exports keep with the end of a commitment's term.
END_COLUMNS = ("x_CommitmentDiscountEnd", "x_ReservationEndTime", "x_SavingsPlanEndTime")

_UTILISATION = """
WITH rows AS (
    SELECT *, {period} AS period
    FROM cost
    WHERE CommitmentDiscountId IS NOT NULL AND ChargeCategory = 'Usage'
      AND CommitmentDiscountStatus IN ('Used', 'Unused')
      AND ($since IS NULL OR ChargePeriodStart >= $since)
      AND ($until IS NULL OR ChargePeriodStart < $until)
)
SELECT {provider} AS provider,
       CommitmentDiscountId AS commitment_id,
       min(CommitmentDiscountName) AS name,
       min(CommitmentDiscountType) AS type,
       period,
       coalesce(sum(CommitmentDiscountQuantity)
                FILTER (WHERE CommitmentDiscountStatus = 'Used'), 0) AS used_quantity,
       coalesce(sum(CommitmentDiscountQuantity)
                FILTER (WHERE CommitmentDiscountStatus = 'Unused'), 0) AS unused_quantity,
       min(CommitmentDiscountUnit) AS unit,
       round(100 * coalesce(sum(CommitmentDiscountQuantity)
                            FILTER (WHERE CommitmentDiscountStatus = 'Used'), 0)
             / nullif(sum(CommitmentDiscountQuantity), 0), 2) AS utilisation_quantity_pct,
       coalesce(sum(EffectiveCost) FILTER (WHERE CommitmentDiscountStatus = 'Used'), 0)
           AS used_cost,
       coalesce(sum(EffectiveCost) FILTER (WHERE CommitmentDiscountStatus = 'Unused'), 0)
           AS unused_cost,
       sum(EffectiveCost) AS amortised_cost,
       round(100 * coalesce(sum(EffectiveCost)
                            FILTER (WHERE CommitmentDiscountStatus = 'Used'), 0)
             / nullif(sum(EffectiveCost), 0), 2) AS utilisation_cost_pct,
       sum(ListCost) FILTER (WHERE CommitmentDiscountStatus = 'Used') AS on_demand_equivalent,
       sum(ListCost) FILTER (WHERE CommitmentDiscountStatus = 'Used') - sum(EffectiveCost)
           AS net_savings,
       min(BillingCurrency) AS currency
FROM rows
GROUP BY CommitmentDiscountId, period
ORDER BY provider, commitment_id, period
"""

_COVERAGE = """
WITH u AS (
    SELECT {provider} AS provider,
           coalesce(c.SubAccountId, c.BillingAccountId) AS account,
           c.ServiceName AS service,
           c.RegionId AS region,
           coalesce({family},
               '(unknown)') AS family,
           c.CommitmentDiscountId IS NOT NULL AS covered,
           c.ConsumedQuantity AS hours,
           c.ListCost AS on_demand_equivalent,
           c.BillingCurrency AS currency
    FROM cost c
    LEFT JOIN (SELECT lower(resource_id) AS rid, any_value(provider) AS provider,
                      any_value(instance_type) AS instance_type,
                      any_value(resource_type) AS resource_type
               FROM resources GROUP BY 1) r ON r.rid = lower(c.ResourceId)
    WHERE c.ChargeCategory = 'Usage'
      AND ($categories IS NULL
           OR (list_contains($categories, c.ServiceCategory)
               -- Commitments cover machines. A service's storage and addresses share its
               -- category (AWS bills EBS under EC2, GCP disks and addresses under Compute
               -- Engine): usage metered in a data size, and inventoried disks, snapshots,
               -- images, addresses and buckets, are not eligible.
               AND NOT regexp_matches(coalesce(c.ConsumedUnit, ''),
                                      '(^|[^A-Za-z])[KMGTPE]i?B([^A-Za-z]|$)|[Bb]yte')
               AND coalesce(r.resource_type, '') NOT IN ('volume', 'snapshot', 'image',
                                                         'ip_address', 'bucket')))
      AND (c.PricingCategory = 'Standard'
           OR (c.CommitmentDiscountId IS NOT NULL AND c.CommitmentDiscountStatus = 'Used'))
      AND c.ConsumedQuantity IS NOT NULL
      AND ($since IS NULL OR c.ChargePeriodStart >= $since)
      AND ($until IS NULL OR c.ChargePeriodStart < $until)
      AND ($accounts IS NULL OR list_contains($accounts, coalesce(c.SubAccountId,
                                                                  c.BillingAccountId)))
      {tag_filter}
)
SELECT {key} AS {name}, currency,
       coalesce(sum(hours) FILTER (WHERE covered), 0) AS covered_hours,
       coalesce(sum(hours) FILTER (WHERE NOT covered), 0) AS on_demand_hours,
       round(100 * coalesce(sum(hours) FILTER (WHERE covered), 0) / nullif(sum(hours), 0), 2)
           AS coverage_hours_pct,
       coalesce(sum(on_demand_equivalent) FILTER (WHERE covered), 0) AS covered_cost,
       coalesce(sum(on_demand_equivalent) FILTER (WHERE NOT covered), 0) AS on_demand_cost,
       round(100 * coalesce(sum(on_demand_equivalent) FILTER (WHERE covered), 0)
             / nullif(sum(on_demand_equivalent), 0), 2) AS coverage_cost_pct
FROM u
GROUP BY 1, 2
ORDER BY on_demand_cost DESC, 1
"""


def utilisation(
    con: EngineLike,
    *,
    grain: str = "month",
    since: datetime | None = None,
    until: datetime | None = None,
) -> pa.Table:
    """Per commitment and period (``day``, ``month`` or ``all``): used and unused quantity
    and cost, utilisation both ways, on-demand equivalent and net savings."""
    if grain not in GRAINS:
        raise InputError(f"Unknown grain {grain!r}; choose one of {', '.join(GRAINS)}.")
    unit = GRAINS[grain]
    period = (
        f"strftime(date_trunc('{unit}', ChargePeriodStart), "
        + ("'%Y-%m-%d')" if unit == "day" else "'%Y-%m')")
        if unit
        else "'all'"
    )
    sql = _UTILISATION.format(
        period=period, provider=PROVIDER_KEY_SQL.format(n="min(ProviderName)")
    )
    return as_engine(con).arrow(sql, {"since": since, "until": until})


def coverage(
    con: EngineLike,
    *,
    by: str = "provider",
    since: datetime | None = None,
    until: datetime | None = None,
    service_categories: tuple[str, ...] | None = ("Compute",),
    accounts: Sequence[str] = (),
    tags: Mapping[str, Sequence[str]] | None = None,
) -> pa.Table:
    """Commitment coverage of eligible usage, in hours and in on-demand-equivalent cost
    (``service_categories=None``: usage of every service is eligible); ``accounts`` and
    ``tags`` (key → values) narrow the usage to those accounts' and tag values' lines."""
    engine = as_engine(con)
    if by not in COVERAGE_BY:
        raise InputError(
            f"Cannot group coverage by {by!r}; choose one of {', '.join(COVERAGE_BY)}."
        )
    sql = _COVERAGE.format(
        key=COVERAGE_BY[by],
        name=quote_ident(by),
        provider=PROVIDER_KEY_SQL.format(n="c.ProviderName"),
        family=INSTANCE_FAMILY_SQL.format(p="r.provider", t="r.instance_type"),
        tag_filter="".join(
            f"AND list_contains($tag_values_{i}, json_extract_string(c.Tags, $tag_path_{i})) "
            for i, (_, values) in enumerate(sorted((tags or {}).items()))
            if values
        ),
    )
    params: dict[str, Any] = {
        "since": since,
        "until": until,
        "categories": list(service_categories) if service_categories is not None else None,
        "accounts": list(accounts) or None,
    }
    for i, (key, values) in enumerate(sorted((tags or {}).items())):
        if values:
            params[f"tag_values_{i}"] = list(values)
            params[f"tag_path_{i}"] = engine.json_path(key)
    return engine.arrow(sql, params)


def expiring(con: EngineLike, *, within_days: int = 60, as_of: datetime | None = None) -> pa.Table:
    """Commitments whose term ends within ``within_days`` of ``as_of`` (default: the end
    of the billing data), and those that ended in the data's last ``within_days``."""
    engine = as_engine(con)
    columns = set(engine.columns("cost"))
    ends = ["max(ChargePeriodEnd) FILTER (WHERE ChargeCategory = 'Purchase' "
            "AND ChargeFrequency = 'One-Time')"]  # fmt: skip
    ends += [f"max(TRY_CAST({quote_ident(c)} AS TIMESTAMP))" for c in END_COLUMNS if c in columns]
    if as_of is None:
        as_of = data_end(engine) or datetime.now()
    sql = f"""
        WITH c AS (
            SELECT CommitmentDiscountId AS commitment_id,
                   min(CommitmentDiscountName) AS name,
                   min(CommitmentDiscountType) AS type,
                   min(ProviderName) AS provider_name,
                   coalesce({", ".join(ends)}) AS stated_end,
                   max(ChargePeriodEnd) AS last_seen
            FROM cost WHERE CommitmentDiscountId IS NOT NULL
            GROUP BY CommitmentDiscountId
        ),
        e AS (
            -- without a stated term, a commitment whose rows stop before the data does
            -- has ended (or stopped being used): it is shown with the day it was last seen
            SELECT *,
                   coalesce(stated_end, CASE WHEN last_seen < CAST($as_of AS TIMESTAMP)
                                             THEN last_seen END) AS term_end,
                   CASE WHEN stated_end IS NOT NULL THEN 'billing: term'
                        ELSE 'billing: last seen' END AS term_end_from
            FROM c
        )
        SELECT commitment_id, name, type, {PROVIDER_KEY_SQL.format(n="provider_name")} AS provider,
               term_end, term_end_from,
               date_diff('day', CAST($as_of AS TIMESTAMP), term_end) AS days_left
        FROM e
        WHERE term_end IS NOT NULL
          AND term_end <= CAST($as_of AS TIMESTAMP) + to_days(CAST($within AS INTEGER))
          AND term_end > CAST($as_of AS TIMESTAMP) - to_days(CAST($within AS INTEGER))
        ORDER BY term_end, commitment_id
    """  # noqa: S608 - the column names are our own constants, quoted
    return engine.arrow(sql, {"as_of": as_of, "within": within_days})
