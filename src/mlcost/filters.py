"""What the user narrowed a view to (dates, providers, accounts, tag values), and the
WHERE clause that narrows the ``cost`` table to it: one definition for the dashboard,
the CLI, the report and the headline figures (values are parameters, never SQL)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from mlcost import vocabulary
from mlcost.engine import duckdb_json_path
from mlcost.schema import PROVIDER_KEY_SQL

#: The provider key (aws, azure, gcp) of a cost row.
PROVIDER_KEY = PROVIDER_KEY_SQL.format(n="ProviderName")
#: The account id of a cost row, as findings name it.
ACCOUNT_ID = "coalesce(SubAccountId, BillingAccountId)"


@dataclass(frozen=True)
class Filters:
    """What the user narrowed the view to; empty means everything. ``until`` is inclusive."""

    since: date | None = None
    until: date | None = None
    providers: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def cost_where(
    filters: Filters,
    json_path: Callable[[str], str] = duckdb_json_path,
    *,
    tag_value: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """A WHERE clause over ``cost`` and its parameters (values never enter the SQL);
    ``json_path``: a tag key's JSON path in the syntax of the engine that runs it.
    ``tag_value``: the column holding the value of the one tag key filtered on, where
    the table has one (a roll-up by tag, ``mlcost.rollups``) instead of ``Tags``."""
    where = ["TRUE"]
    params: dict[str, Any] = {}
    if filters.since:
        where.append("ChargePeriodStart >= $since")
        params["since"] = datetime.combine(filters.since, datetime.min.time())
    if filters.until:
        where.append("ChargePeriodStart < $until")
        params["until"] = datetime.combine(filters.until + timedelta(days=1), datetime.min.time())
    if filters.providers:
        where.append(f"list_contains($providers, {PROVIDER_KEY})")
        params["providers"] = list(filters.providers)
    if filters.accounts:
        where.append(f"list_contains($accounts, {ACCOUNT_ID})")
        params["accounts"] = list(filters.accounts)
    for i, (key, values) in enumerate(sorted(filters.tags.items())):
        if values and tag_value is not None:
            where.append(f"list_contains($tag_values_{i}, {tag_value})")
            params[f"tag_values_{i}"] = list(values)
        elif values:
            where.append(
                f"list_contains($tag_values_{i}, json_extract_string(Tags, $tag_path_{i}))"
            )
            params[f"tag_values_{i}"] = list(values)
            params[f"tag_path_{i}"] = json_path(key)
    return " AND ".join(where), params


def resolve(con: duckdb.DuckDBPyConnection, filters: Filters) -> Filters:
    """``filters`` in the store's spelling (``mlcost.vocabulary``): providers by key,
    accounts by id, in any case or by name; an unknown value is an error listing the
    known ones."""
    if filters.since and filters.until and filters.since > filters.until:
        from mlcost.errors import InputError

        raise InputError(
            f"The date range starts ({filters.since}) after it ends ({filters.until}).",
            "Give --since on or before --until.",
        )
    return Filters(
        since=filters.since,
        until=filters.until,
        providers=vocabulary.resolve("provider", filters.providers, vocabulary.providers(con))
        if filters.providers
        else (),
        accounts=vocabulary.resolve("account", filters.accounts, vocabulary.accounts(con))
        if filters.accounts
        else (),
        tags=dict(filters.tags),
    )
