"""The store's public schema: table names, columns and types (DESIGN.md §2).

This module is the one place that names the columns. The store's migrations create
exactly these tables (a test compares them), connectors build Arrow tables with
:func:`arrow_schema`, and the FOCUS loader maps every export onto :data:`FOCUS_COLUMNS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from mlcost.errors import StoreError

#: Money, quantities and unit prices: exact decimal, 12 places (AWS writes at most 10;
#: Azure and GCP write binary floats, which round here at 1e-12 per line).
MONEY = "DECIMAL(38,12)"
MONEY_ARROW = pa.decimal128(38, 12)

_ARROW_TYPES: dict[str, pa.DataType] = {
    MONEY: MONEY_ARROW,
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "TIMESTAMP": pa.timestamp("us"),
    "DATE": pa.date32(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "BOOLEAN": pa.bool_(),
}

#: FOCUS 1.2 columns with their exact names and our storage types, in spec order.
FOCUS_COLUMNS: dict[str, str] = {
    "AvailabilityZone": "VARCHAR",
    "BilledCost": MONEY,
    "BillingAccountId": "VARCHAR",
    "BillingAccountName": "VARCHAR",
    "BillingAccountType": "VARCHAR",
    "BillingCurrency": "VARCHAR",
    "BillingPeriodEnd": "TIMESTAMP",
    "BillingPeriodStart": "TIMESTAMP",
    "CapacityReservationId": "VARCHAR",
    "CapacityReservationStatus": "VARCHAR",
    "ChargeCategory": "VARCHAR",
    "ChargeClass": "VARCHAR",
    "ChargeDescription": "VARCHAR",
    "ChargeFrequency": "VARCHAR",
    "ChargePeriodEnd": "TIMESTAMP",
    "ChargePeriodStart": "TIMESTAMP",
    "CommitmentDiscountCategory": "VARCHAR",
    "CommitmentDiscountId": "VARCHAR",
    "CommitmentDiscountName": "VARCHAR",
    "CommitmentDiscountQuantity": MONEY,
    "CommitmentDiscountStatus": "VARCHAR",
    "CommitmentDiscountType": "VARCHAR",
    "CommitmentDiscountUnit": "VARCHAR",
    "ConsumedQuantity": MONEY,
    "ConsumedUnit": "VARCHAR",
    "ContractedCost": MONEY,
    "ContractedUnitPrice": MONEY,
    "EffectiveCost": MONEY,
    "InvoiceId": "VARCHAR",
    "InvoiceIssuerName": "VARCHAR",
    "ListCost": MONEY,
    "ListUnitPrice": MONEY,
    "PricingCategory": "VARCHAR",
    "PricingCurrency": "VARCHAR",
    "PricingCurrencyContractedUnitPrice": MONEY,
    "PricingCurrencyEffectiveCost": MONEY,
    "PricingCurrencyListUnitPrice": MONEY,
    "PricingQuantity": MONEY,
    "PricingUnit": "VARCHAR",
    "ProviderName": "VARCHAR",
    "PublisherName": "VARCHAR",
    "RegionId": "VARCHAR",
    "RegionName": "VARCHAR",
    "ResourceId": "VARCHAR",
    "ResourceName": "VARCHAR",
    "ResourceType": "VARCHAR",
    "ServiceCategory": "VARCHAR",
    "ServiceName": "VARCHAR",
    "ServiceSubcategory": "VARCHAR",
    "SkuId": "VARCHAR",
    "SkuMeter": "VARCHAR",
    "SkuPriceDetails": "JSON",
    "SkuPriceId": "VARCHAR",
    "SubAccountId": "VARCHAR",
    "SubAccountName": "VARCHAR",
    "SubAccountType": "VARCHAR",
    "Tags": "JSON",
}


@dataclass(frozen=True)
class TableSpec:
    """A store table: its columns, the column that marks which load wrote a row, and
    the columns whose values name a partition (what one load replaces as a whole)."""

    name: str
    columns: dict[str, str]
    loaded_at: str
    partition_by: tuple[str, ...]


#: The columns the daily roll-ups (``mlcost.rollups``) group by besides the charge day,
#: as ``cost`` names and types them.
ROLLUP_GROUPS: dict[str, str] = {
    "x_source": "VARCHAR",
    "BillingPeriodStart": "TIMESTAMP",
    "ProviderName": "VARCHAR",
    "BillingAccountId": "VARCHAR",
    "BillingAccountName": "VARCHAR",
    "SubAccountId": "VARCHAR",
    "SubAccountName": "VARCHAR",
    "ServiceCategory": "VARCHAR",
    "ServiceName": "VARCHAR",
    "RegionId": "VARCHAR",
    "ChargeCategory": "VARCHAR",
    "BillingCurrency": "VARCHAR",
}
#: The FOCUS cost measures the roll-ups sum.
ROLLUP_MEASURES: tuple[str, ...] = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
#: What each roll-up row keeps of its group: the measures, the lines counted, its span.
_ROLLUP_SUMS: dict[str, str] = {
    **dict.fromkeys(ROLLUP_MEASURES, MONEY),
    "charge_rows": "BIGINT",
    "ChargePeriodStart": "TIMESTAMP",
    "last_charge_start": "TIMESTAMP",
    "ChargePeriodEnd": "TIMESTAMP",
    "rolled_up_at": "TIMESTAMP",
}

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "cost",
            {**FOCUS_COLUMNS, "x_source": "VARCHAR", "x_ingested_at": "TIMESTAMP"},
            loaded_at="x_ingested_at",
            partition_by=("x_source", "BillingPeriodStart"),
        ),
        TableSpec(
            "resources",
            {
                "provider": "VARCHAR",
                "account_id": "VARCHAR",
                "region": "VARCHAR",
                "resource_id": "VARCHAR",
                "resource_type": "VARCHAR",
                "name": "VARCHAR",
                "state": "VARCHAR",
                "created_at": "TIMESTAMP",
                "observed_at": "TIMESTAMP",
                "instance_type": "VARCHAR",
                "vcpus": "INTEGER",
                "memory_gb": "DOUBLE",
                "gpu_count": "INTEGER",
                "gpu_model": "VARCHAR",
                "attached_to": "VARCHAR",
                "source_id": "VARCHAR",
                "size_gb": "DOUBLE",
                "lifecycle": "VARCHAR",
                "last_used_at": "TIMESTAMP",
                "details": "JSON",
                "tags": "JSON",
                "source": "VARCHAR",
                "ingested_at": "TIMESTAMP",
            },
            loaded_at="ingested_at",
            partition_by=("source", "provider", "account_id", "region"),
        ),
        TableSpec(
            "metrics",
            {
                "resource_id": "VARCHAR",
                "metric": "VARCHAR",
                "ts": "TIMESTAMP",
                "value": "DOUBLE",
                "stat": "VARCHAR",
                "period_s": "INTEGER",
                "source": "VARCHAR",
                "ingested_at": "TIMESTAMP",
            },
            loaded_at="ingested_at",
            # Down to the sample: a re-ingest replaces the samples it fetched again and
            # keeps the history older than its look-back window.
            partition_by=("source", "resource_id", "metric", "stat", "period_s", "ts"),
        ),
        TableSpec(
            "runs",
            {
                "run_id": "VARCHAR",
                "experiment": "VARCHAR",
                "parent_run_id": "VARCHAR",
                "name": "VARCHAR",
                "status": "VARCHAR",
                "user": "VARCHAR",
                "started_at": "TIMESTAMP",
                "ended_at": "TIMESTAMP",
                "params": "JSON",
                "metrics": "JSON",
                "tags": "JSON",
                "resource_ids": "JSON",
                "gpu_count": "INTEGER",
                "source": "VARCHAR",
                "ingested_at": "TIMESTAMP",
            },
            loaded_at="ingested_at",
            partition_by=("source", "experiment"),
        ),
        TableSpec(
            "prices",
            {
                "provider": "VARCHAR",
                "region": "VARCHAR",
                "instance_type": "VARCHAR",
                "sku": "VARCHAR",
                "unit": "VARCHAR",
                "price_per_hour": MONEY,
                "currency": "VARCHAR",
                "source": "VARCHAR",
                "ingested_at": "TIMESTAMP",
                # 002_price_catalog: what the type offers, for rightsizing.
                "vcpus": "INTEGER",
                "memory_gb": "DOUBLE",
                "gpu_count": "INTEGER",
                "gpu_model": "VARCHAR",
                "current_generation": "BOOLEAN",
                # 003_price_kinds: what a row without an instance type prices
                # (``volume:gp3``, ``snapshot`` …; ``price_per_hour`` is then per ``unit``),
                # ``on-demand`` (or null) or ``spot``, and the date the cloud gives it.
                "product": "VARCHAR",
                "price_type": "VARCHAR",
                "effective_at": "TIMESTAMP",
            },
            loaded_at="ingested_at",
            partition_by=("source", "provider"),
        ),
        TableSpec(
            "recommendations",
            {
                "id": "VARCHAR",
                "rule": "VARCHAR",
                "provider": "VARCHAR",
                "account_id": "VARCHAR",
                "region": "VARCHAR",
                "resource_id": "VARCHAR",
                "resource_type": "VARCHAR",
                "resource_name": "VARCHAR",
                "title": "VARCHAR",
                "action": "VARCHAR",
                "evidence": "JSON",
                "monthly_cost": MONEY,
                "estimated_monthly_savings": MONEY,
                "currency": "VARCHAR",
                "confidence": "VARCHAR",
                "first_detected": "TIMESTAMP",
                "last_detected": "TIMESTAMP",
                "status": "VARCHAR",
                "tags": "JSON",
                "analyzed_at": "TIMESTAMP",
            },
            loaded_at="analyzed_at",
            partition_by=("rule",),
        ),
        TableSpec(
            "anomalies",
            {
                "date": "DATE",
                "provider": "VARCHAR",
                "scope": "VARCHAR",
                "scope_value": "VARCHAR",
                "actual": MONEY,
                "expected": MONEY,
                "low": MONEY,
                "high": MONEY,
                "direction": "VARCHAR",
                "severity": "VARCHAR",
                "drivers": "JSON",
                "analyzed_at": "TIMESTAMP",
            },
            loaded_at="analyzed_at",
            partition_by=("scope",),
        ),
        TableSpec(
            "run_costs",
            {
                "run_id": "VARCHAR",
                "resource_id": "VARCHAR",
                "day": "DATE",
                "cost": MONEY,
                "method": "VARCHAR",
                "idle_share": MONEY,
                "gpu_efficiency": "DOUBLE",
                "analyzed_at": "TIMESTAMP",
            },
            loaded_at="analyzed_at",
            partition_by=("method",),
        ),
        TableSpec(
            "daily_spend",
            {**ROLLUP_GROUPS, "charge_day": "DATE", **_ROLLUP_SUMS},
            loaded_at="rolled_up_at",
            partition_by=("x_source", "BillingPeriodStart"),
        ),
        TableSpec(
            "daily_spend_by_tag",
            {
                **ROLLUP_GROUPS,
                "charge_day": "DATE",
                "tag_key": "VARCHAR",
                "tag_value": "VARCHAR",
                **_ROLLUP_SUMS,
            },
            loaded_at="rolled_up_at",
            partition_by=("x_source", "BillingPeriodStart"),
        ),
    )
}


#: SQL: a FOCUS ProviderName ({n}) -> the short key of resources, prices and findings.
PROVIDER_KEY_SQL = (
    "CASE WHEN {n} = 'AWS' THEN 'aws' WHEN {n} = 'Microsoft' THEN 'azure' "
    "WHEN {n} = 'Google Cloud' THEN 'gcp' ELSE lower({n}) END"
)
#: SQL: an instance type ({t}) of a provider ({p}) -> its family: ``c6i`` of
#: ``c6i.8xlarge`` (``ml.g5`` for SageMaker), ``Standard_Es_v5`` of ``Standard_E32s_v5``,
#: ``n2-highmem`` of ``n2-highmem-32``.
INSTANCE_FAMILY_SQL = (
    "CASE WHEN {p} = 'aws' THEN split_part({t}, '.', 1) || CASE WHEN {t} LIKE 'ml.%' "
    "THEN '.' || split_part({t}, '.', 2) ELSE '' END "
    "WHEN {p} = 'azure' THEN regexp_replace({t}, '^(Standard_[A-Za-z]+)[0-9]+', '\\1') "
    "ELSE regexp_replace({t}, '-[0-9]+g?$', '') END"
)


def arrow_type(sql_type: str) -> pa.DataType:
    """The Arrow type a connector uses for a column of this store type."""
    return _ARROW_TYPES[sql_type]


def arrow_schema(table: str, *, include_loaded_at: bool = False) -> pa.Schema:
    """The Arrow schema of a store table, as connectors yield it (the load marker is
    the store's to fill, so it is left out unless asked for)."""
    spec = TABLES[table]
    return pa.schema(
        [
            pa.field(name, arrow_type(sql_type))
            for name, sql_type in spec.columns.items()
            if include_loaded_at or name != spec.loaded_at
        ]
    )


#: Extra columns a loader may add to a table: provider columns such as ``x_ServiceCode``.
EXTRA_COLUMN = re.compile(r"^x_[A-Za-z0-9_]{1,80}$")


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB (names from files are data, never SQL)."""
    if "\x00" in name:
        raise StoreError(f"Column name {name!r} contains a NUL character.")
    return '"' + name.replace('"', '""') + '"'
