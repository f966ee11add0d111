"""The GCP Cloud Billing export to BigQuery (standard and detailed) as FOCUS rows.

Read from files with the export's schema: JSON lines (as ``bq extract`` writes them),
Parquet (nested records), or CSV with nested fields as ``service.description`` columns
and repeated ones (``credits``, ``labels``) as JSON text. Rules:

* BilledCost = EffectiveCost = ``cost`` + the sum of ``credits.amount`` (CUD, SUD,
  promotions, free tier…: credits are negative and on the invoice). The standard export
  carries no amortisation of commitment fees, so the two are equal; ListCost is
  ``cost_at_list`` (or ``cost``) and ContractedCost ``cost``.
* The billing period is ``invoice.month``, whose month boundaries are Pacific time: a
  January invoice runs from 2026-01-01 08:00 UTC to 2026-02-01 08:00 UTC.
* ``cost_type`` tax → Tax, adjustment and rounding_error → Adjustment; a commitment fee
  (SKU "Commitment…") → Purchase; other lines → Usage. Usage with a committed-use
  discount credit is Committed, with CommitmentDiscountStatus Used.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from mlcost.connectors.files.convert import (
    Field,
    ProviderPlan,
    category_sql,
    provider_conversion,
    region_lookup,
    service_lookup,
)
from mlcost.connectors.files.focus import (
    Conversion,
    SourceColumn,
    _open_scan,
)
from mlcost.connectors.files.values import json_text

from mlcost.errors import InputError
from mlcost.schema import MONEY

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")

_F = Field
FIELDS = (
    _F("billing_account", ("billing_account_id",), required=True),
    _F("cost", ("cost",), "money", required=True),
    _F("currency", ("currency",), required=True),
    _F("usage_start", ("usage_start_time",), "timestamp", required=True),
    _F("usage_end", ("usage_end_time",), "timestamp", required=True),
    _F("invoice_month", ("invoice.month",), "month", required=True),
    _F("credits", ("credits",), "credits"),
    _F(
        "cost_type",
        ("cost_type",),
        allowed=("regular", "tax", "adjustment", "rounding_error"),
    ),
    _F("service_id", ("service.id",)),
    _F("service", ("service.description",)),
    _F("sku_id", ("sku.id",)),
    _F("sku", ("sku.description",)),
    _F("project_id", ("project.id",)),
    _F("project_name", ("project.name",)),
    _F("labels", ("labels",), "json"),
    _F("region", ("location.region",)),
    _F("zone", ("location.zone",)),
    _F("location", ("location.location",)),
    _F("resource_name", ("resource.name",)),
    _F("resource_global", ("resource.global_name",)),
    _F("usage_amount", ("usage.amount",), "money"),
    _F("usage_unit", ("usage.unit",)),
    _F("pricing_amount", ("usage.amount_in_pricing_units",), "money"),
    _F("pricing_unit", ("usage.pricing_unit",)),
    _F("cost_at_list", ("cost_at_list",), "money"),
    _F("effective_price", ("price.effective_price",), "money"),
    _F("price_unit_quantity", ("price.pricing_unit_quantity",), "money"),
    _F("seller", ("seller_name",)),
    _F("credits_text", ("credits",), "json"),
)

#: Every path the conversion reads (JSON and Parquet fields are reached by these only).
KNOWN_PATHS = tuple(dict.fromkeys(name for f in FIELDS for name in f.names))
_LIST_PATHS = ("credits", "labels")

_CUD = (
    "(list_contains(credit_types, 'COMMITTED_USAGE_DISCOUNT') "
    "OR list_contains(credit_types, 'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE'))"
)
_CATEGORY = (
    "CASE cost_type WHEN 'tax' THEN 'Tax' WHEN 'adjustment' THEN 'Adjustment' "
    "WHEN 'rounding_error' THEN 'Adjustment' ELSE CASE WHEN sku ILIKE 'Commitment%' "
    "THEN 'Purchase' ELSE 'Usage' END END"
)

_TAX = "cost_type = 'tax'"
#: price.effective_price is per price.pricing_unit_quantity pricing units.
_UNIT_PRICE = (
    f"CASE WHEN {_TAX} THEN NULL WHEN coalesce(price_unit_quantity, 1) = 1 THEN effective_price "
    f"ELSE CAST(effective_price / nullif(price_unit_quantity, 0) AS {MONEY}) END"
)
_CATEGORY_SVC, _SUBCATEGORY_SVC = category_sql("svc")

FOCUS_SQL: dict[str, str] = {
    "BilledCost": "cost + coalesce(credits, 0)",
    "EffectiveCost": "cost + coalesce(credits, 0)",
    "ListCost": "coalesce(cost_at_list, cost)",
    # The export has no list unit price: it is the list cost per pricing unit.
    "ListUnitPrice": (
        f"CASE WHEN {_TAX} OR coalesce(pricing_amount, 0) = 0 THEN NULL "
        f"ELSE CAST(coalesce(cost_at_list, cost) / pricing_amount AS {MONEY}) END"
    ),
    "ContractedCost": "cost",
    "ContractedUnitPrice": _UNIT_PRICE,
    "PricingCurrencyContractedUnitPrice": _UNIT_PRICE,
    "PricingCurrencyListUnitPrice": (
        f"CASE WHEN {_TAX} OR coalesce(pricing_amount, 0) = 0 THEN NULL "
        f"ELSE CAST(coalesce(cost_at_list, cost) / pricing_amount AS {MONEY}) END"
    ),
    "PricingCurrency": "currency",
    "PricingCurrencyEffectiveCost": "cost + coalesce(credits, 0)",
    "BillingAccountId": "billing_account",
    "BillingAccountType": "CASE WHEN billing_account IS NOT NULL THEN 'Billing Account' END",
    "BillingCurrency": "currency",
    "BillingPeriodStart": "(invoice_month AT TIME ZONE 'America/Los_Angeles')::TIMESTAMP",
    "BillingPeriodEnd": (
        "((invoice_month + INTERVAL 1 MONTH) AT TIME ZONE 'America/Los_Angeles')::TIMESTAMP"
    ),
    "ChargePeriodStart": "usage_start",
    "ChargePeriodEnd": "usage_end",
    "ChargeCategory": _CATEGORY,
    "ChargeFrequency": (
        f"CASE ({_CATEGORY}) WHEN 'Usage' THEN 'Usage-Based' WHEN 'Purchase' THEN 'Recurring' "
        "ELSE 'One-Time' END"
    ),
    "ChargeDescription": "sku",
    "PricingCategory": (
        f"CASE ({_CATEGORY}) WHEN 'Purchase' THEN 'Standard' WHEN 'Usage' THEN "
        f"CASE WHEN coalesce({_CUD}, false) THEN 'Committed' ELSE 'Standard' END END"
    ),
    # A line a CUD covered names the commitment by its credit's id; without one the
    # commitment columns stay null together (FOCUS: they describe CommitmentDiscountId).
    "CommitmentDiscountId": "cud_id",
    "CommitmentDiscountStatus": "CASE WHEN cud_id IS NOT NULL THEN 'Used' END",
    "CommitmentDiscountCategory": (
        "CASE WHEN cud_id IS NULL THEN NULL "
        "WHEN list_contains(credit_types, 'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE') "
        "THEN 'Spend' WHEN list_contains(credit_types, 'COMMITTED_USAGE_DISCOUNT') "
        "THEN 'Usage' END"
    ),
    "CommitmentDiscountType": "CASE WHEN cud_id IS NOT NULL THEN 'Committed Use Discount' END",
    "ConsumedQuantity": f"CASE WHEN ({_CATEGORY}) = 'Usage' THEN usage_amount END",
    "ConsumedUnit": f"CASE WHEN ({_CATEGORY}) = 'Usage' THEN usage_unit END",
    # Tax has no quantity (FOCUS: MUST be null); nor has an adjustment without a unit.
    "PricingQuantity": (
        f"CASE WHEN {_TAX} OR (pricing_unit IS NULL AND ({_CATEGORY}) = 'Adjustment') "
        "THEN NULL ELSE pricing_amount END"
    ),
    "PricingUnit": f"CASE WHEN NOT {_TAX} THEN pricing_unit END",
    "InvoiceIssuerName": "'Google Cloud'",
    "ProviderName": "'Google Cloud'",
    "PublisherName": "coalesce(seller, 'Google Cloud')",
    "RegionId": "region",
    "RegionName": "CASE WHEN region IS NOT NULL THEN coalesce(reg_name, region) END",
    "AvailabilityZone": "zone",
    "ResourceId": "resource_global",
    "ResourceName": "resource_name",
    # //compute.googleapis.com/projects/p/zones/z/instances/vm → compute.googleapis.com/instances
    "ResourceType": (
        "CASE WHEN resource_global IS NOT NULL THEN coalesce(nullif(regexp_replace("
        "resource_global, '^//([^/]+)/(.*/)?([^/]+)/[^/]+$', '\\1/\\3'), resource_global), "
        "service, 'Resource') END"
    ),
    "ServiceName": "service",
    "ServiceCategory": _CATEGORY_SVC,
    "ServiceSubcategory": _SUBCATEGORY_SVC,
    "SkuId": f"CASE WHEN NOT {_TAX} THEN sku_id END",
    "SkuMeter": f"CASE WHEN NOT {_TAX} AND sku_id IS NOT NULL THEN sku END",
    "SubAccountId": "project_id",
    "SubAccountName": "coalesce(project_name, project_id)",
    # The export names no billing account: its id stands in (FOCUS: MUST NOT be null).
    "BillingAccountName": "billing_account",
    "SubAccountType": "CASE WHEN project_id IS NOT NULL THEN 'Project' END",
    "Tags": (
        "TRY(to_json(map_from_entries(TRY_CAST(TRY_CAST(labels AS JSON) AS "
        'STRUCT("key" VARCHAR, "value" VARCHAR)[]))))'
    ),
}

EXTRAS = {
    "x_ServiceId": "service_id",
    "x_SkuDescription": "sku",
    "x_CostType": "cost_type",
    "x_InvoiceMonth": "strftime(invoice_month, '%Y%m')",
    "x_CostBeforeCredits": "cost",
    "x_Credits": "credits_text",
}

HINT = (
    "mlcost reads the GCP BigQuery billing export (standard or detailed) as JSON lines, "
    "Parquet or CSV; nothing was loaded."
)


def is_json(path: Path) -> bool:
    return path.name.lower().endswith(JSON_SUFFIXES)


def detect(names: list[str]) -> str | None:
    """Whether a header is GCP's billing export (and which), or None."""
    lowered = {n.lower() for n in names}
    if {"billing_account_id", "cost", "usage_start_time"} <= lowered:
        detailed = any(n == "resource" or n.startswith("resource.") for n in lowered)
        return f"GCP BigQuery billing export ({'detailed' if detailed else 'standard'})"
    return None


def json_names(path: Path) -> list[str]:
    """The fields of a JSON-lines file's first record, nested ones as ``a.b``."""
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as handle:
            for line in handle:
                if line.strip():
                    record = json.loads(line)
                    break
            else:
                raise InputError(f"{path}: the file is empty; a billing export has records.")
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            f"{path}: cannot read the first record ({exc}).",
            "Fix or re-export the file; nothing was loaded.",
        ) from exc
    if not isinstance(record, dict):
        raise InputError(f"{path}: line 1 is not a JSON object.")
    return _flatten(record)


def _flatten(record: dict[str, Any], prefix: str = "") -> list[str]:
    names: list[str] = []
    for key, value in record.items():
        names.append(prefix + key)
        if isinstance(value, dict):
            names += _flatten(value, prefix + key + ".")
    return names


def parquet_names(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """A Parquet file's columns, struct fields as ``a.b``."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(
            f"{path}: not a readable Parquet file ({exc}).",
            "The file looks truncated or corrupt: download it again; nothing was loaded.",
        ) from exc
    names: list[str] = []

    def walk(fields: Any, prefix: str) -> None:
        for fld in fields:
            names.append(prefix + fld.name)
            if pa.types.is_struct(fld.type):
                walk(fld.type, prefix + fld.name + ".")

    walk(schema, "")
    return names


def open_scan(
    con: duckdb.DuckDBPyConnection, path: Path, *, decompressed: bool = False
) -> tuple[str, dict[str, SourceColumn]]:
    """The scan of a GCP export file and its columns by dotted path.

    JSON lines and Parquet rows are read as one JSON document each, and fields are
    reached by our own constant paths (never by names found in the file); CSV columns
    by their header."""
    if is_json(path):
        names = set(json_names(path))
        scan = "read_json_objects($1, format='newline_delimited', compression='auto')"
    elif path.name.lower().endswith(".parquet"):
        names = set(parquet_names(con, path))
        scan = (
            "(SELECT CAST(to_json(t) AS VARCHAR) AS json "
            "FROM read_parquet($1, hive_partitioning = false) AS t)"
        )
    else:
        return _open_scan(con, path, decompressed=decompressed)
    columns: dict[str, SourceColumn] = {}
    for known in KNOWN_PATHS:
        if known not in names:
            continue
        if known in _LIST_PATHS:
            ref = f"CAST(json_extract(json, '$.{known}') AS VARCHAR)"
        else:
            ref = f"json_extract_string(json, '$.{known}')"
        columns[known] = SourceColumn(ref, "VARCHAR")
    return scan, columns


def conversion(
    path: Path, scan: str, columns: Mapping[str, SourceColumn], source: str | None
) -> Conversion:
    """The BigQuery export → FOCUS conversion of one file."""
    lookup = {name.lower(): name for name in columns}
    raw = {"credit_types": "CAST(NULL AS VARCHAR[])", "cud_id": "CAST(NULL AS VARCHAR)"}
    if "credits" in lookup:
        column = columns[lookup["credits"]]
        text = json_text(column.ref, column.type)
        raw["credit_types"] = f"json_extract_string(TRY_CAST({text} AS JSON), '$[*].type')"
        # The committed-use discount a line used: its credit's id (the commitment).
        raw["cud_id"] = (
            f"list_filter(json_extract(TRY_CAST({text} AS JSON), '$[*]'), lambda c: "
            "json_extract_string(c, '$.type') LIKE 'COMMITTED_USAGE_DISCOUNT%' "
            "AND json_extract_string(c, '$.id') IS NOT NULL)[1]->>'$.id'"
        )
    plan = ProviderPlan(
        FIELDS,
        FOCUS_SQL,
        EXTRAS,
        source_sql="concat('gcp:', billing_account)",
        format_hint=HINT,
        raw=raw,
        lookups=LOOKUPS,
    )
    return provider_conversion(path, scan, columns, lookup, plan, source)


LOOKUPS = (service_lookup("gcp", "service"), region_lookup("gcp", "region"))
