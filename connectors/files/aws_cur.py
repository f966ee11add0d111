"""AWS Cost and Usage Reports (legacy CUR and CUR 2.0) converted to FOCUS 1.2 rows.

Legacy CSV headers (``lineItem/UnblendedCost``), legacy Parquet names
(``line_item_unblended_cost``) and CUR 2.0's fixed snake_case schema are all brought to
the snake_case names, so one set of rules serves them. The rules by
``line_item_line_item_type`` follow AWS's documented amortisation:

* BilledCost is the cash on the invoice: ``line_item_unblended_cost``, except that
  Savings-Plan-covered usage and its SavingsPlanNegation line are 0 (the two cancel in
  the CUR; the cash is the Savings Plan's recurring and upfront fees).
* EffectiveCost is the amortised cost: RI-covered usage costs
  ``reservation_effective_cost``, Savings-Plan-covered usage
  ``savings_plan_savings_plan_effective_cost``; an RI's monthly fee keeps only its unused
  part (unused amortised upfront + unused recurring fee), a Savings Plan's recurring fee
  only its unused commitment (commitment to date − used commitment); upfront fees (an
  RI's ``Fee``, ``SavingsPlanUpfrontFee``) and negations are 0; everything else (on-demand
  usage, tax, credits, refunds, discounts) is its unblended cost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

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
    per_distinct,
)
from mlcost.connectors.files.values import clean_text, json_text

LINE_ITEM_TYPES = (
    "Usage",
    "DiscountedUsage",
    "SavingsPlanCoveredUsage",
    "SavingsPlanNegation",
    "SavingsPlanRecurringFee",
    "SavingsPlanUpfrontFee",
    "RIFee",
    "Fee",
    "Tax",
    "Credit",
    "Refund",
    "Discount",
    "EdpDiscount",
    "PrivateRateDiscount",
    "BundledDiscount",
    "SppDiscount",
    "DistributorDiscount",
    "RiVolumeDiscount",
)

_F = Field
FIELDS = (
    _F("unblended", ("line_item_unblended_cost",), "money", required=True),
    _F("item_type", ("line_item_line_item_type",), required=True, allowed=LINE_ITEM_TYPES),
    _F("usage_start", ("line_item_usage_start_date",), "timestamp", required=True),
    _F("usage_end", ("line_item_usage_end_date",), "timestamp", required=True),
    _F("period_start", ("bill_billing_period_start_date",), "timestamp", required=True),
    _F("period_end", ("bill_billing_period_end_date",), "timestamp", required=True),
    _F("currency", ("line_item_currency_code",), required=True),
    _F("payer", ("bill_payer_account_id",)),
    _F("payer_name", ("bill_payer_account_name",)),
    _F("usage_account", ("line_item_usage_account_id",)),
    _F("usage_account_name", ("line_item_usage_account_name",)),
    _F("invoice", ("bill_invoice_id",)),
    _F("billing_entity", ("bill_billing_entity",)),
    _F("legal_entity", ("line_item_legal_entity",)),
    _F("product_code", ("line_item_product_code",)),
    _F("product_name", ("product_product_name",)),
    _F("service_code", ("product_servicecode",)),
    _F("usage_type", ("line_item_usage_type",)),
    _F("operation", ("line_item_operation",)),
    _F("product_family", ("product_product_family",)),
    _F("instance_type", ("product_instance_type",)),
    _F("region_code", ("product_region_code",)),
    _F("region_legacy", ("product_region",)),
    _F("location", ("product_location",)),
    _F("invoicing_entity", ("bill_invoicing_entity",)),
    _F("zone", ("line_item_availability_zone",)),
    _F("resource", ("line_item_resource_id",)),
    _F("sku", ("product_sku",)),
    _F("description", ("line_item_line_item_description",)),
    _F("usage_amount", ("line_item_usage_amount",), "money"),
    _F("unit", ("pricing_unit",)),
    _F("unblended_rate", ("line_item_unblended_rate",), "money"),
    _F("od_cost", ("pricing_public_on_demand_cost",), "money"),
    _F("od_rate", ("pricing_public_on_demand_rate",), "money"),
    _F("ri_effective", ("reservation_effective_cost",), "money"),
    _F(
        "ri_unused_upfront",
        ("reservation_unused_amortized_upfront_fee_for_billing_period",),
        "money",
    ),
    _F("ri_unused_recurring", ("reservation_unused_recurring_fee",), "money"),
    _F("ri_unused_quantity", ("reservation_unused_quantity",), "money"),
    _F("ri_arn", ("reservation_reservation_a_r_n",)),
    _F("sp_effective", ("savings_plan_savings_plan_effective_cost",), "money"),
    _F("sp_commitment", ("savings_plan_total_commitment_to_date",), "money"),
    _F("sp_used", ("savings_plan_used_commitment",), "money"),
    _F("sp_arn", ("savings_plan_savings_plan_a_r_n",)),
)

_USAGE = "('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage', 'SavingsPlanNegation')"
_RI = "('DiscountedUsage', 'RIFee')"
_SP = (
    "('SavingsPlanCoveredUsage', 'SavingsPlanNegation', 'SavingsPlanRecurringFee', "
    "'SavingsPlanUpfrontFee')"
)
_COMMITMENT_ID = (
    f"CASE WHEN item_type IN {_RI} OR (item_type = 'Fee' AND ri_arn IS NOT NULL) THEN ri_arn "
    f"WHEN item_type IN {_SP} THEN sp_arn END"
)

_TAX = "item_type = 'Tax'"
#: A commitment's recurring fee gives a second row, the part of it that went unused.
_FEES = "item_type IN ('RIFee', 'SavingsPlanRecurringFee')"
_SP_UNUSED = "greatest(coalesce(sp_commitment, 0) - coalesce(sp_used, 0), 0)"
_UNUSED_COST = (
    "CASE item_type WHEN 'RIFee' THEN coalesce(ri_unused_upfront, 0) "
    "+ coalesce(ri_unused_recurring, 0) ELSE coalesce(sp_commitment, 0) - coalesce(sp_used, 0) END"
)
#: Rows whose quantity is a priced quantity: usage and purchases (Tax: MUST be null;
#: credits and discounts: a quantity of nothing, so null too).
_PRICED = "item_type NOT IN ('Tax', 'Credit', 'Refund') AND item_type NOT LIKE '%Discount'"
_REGION_ID = "coalesce(reg_id, region_code, region_legacy)"
_CATEGORY, _SUBCATEGORY = category_sql("svcn", "svc")

FOCUS_SQL: dict[str, str] = {
    "BilledCost": (
        "CASE WHEN unused_part OR item_type IN ('SavingsPlanCoveredUsage', "
        "'SavingsPlanNegation') THEN 0 ELSE unblended END"
    ),
    "EffectiveCost": (
        f"CASE WHEN unused_part THEN {_UNUSED_COST} "
        "ELSE CASE item_type "
        "WHEN 'DiscountedUsage' THEN coalesce(ri_effective, 0) "
        "WHEN 'SavingsPlanCoveredUsage' THEN coalesce(sp_effective, 0) "
        "WHEN 'SavingsPlanNegation' THEN 0 "
        "WHEN 'SavingsPlanUpfrontFee' THEN 0 "
        "WHEN 'SavingsPlanRecurringFee' THEN 0 "
        "WHEN 'RIFee' THEN 0 "
        "WHEN 'Fee' THEN CASE WHEN ri_arn IS NOT NULL THEN 0 ELSE unblended END "
        "ELSE unblended END END"
    ),
    # List: the public on-demand cost of usage (covered usage included); a negation
    # line lists nothing; purchases, tax, credits and discounts are at what they bill.
    "ListCost": (
        "CASE WHEN unused_part OR item_type = 'SavingsPlanNegation' THEN 0 "
        "WHEN item_type IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') "
        "THEN coalesce(od_cost, unblended) ELSE unblended END"
    ),
    "ListUnitPrice": (
        f"CASE WHEN NOT ({_PRICED}) THEN NULL "
        "WHEN unused_part OR item_type = 'SavingsPlanNegation' THEN 0 "
        "WHEN item_type IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') "
        "AND od_cost IS NOT NULL THEN od_rate ELSE unblended_rate END"
    ),
    # Contracted: the negotiated rate before commitment discounts. CUR prices usage at
    # that rate in lineItem/UnblendedCost (negotiated discounts are lines of their
    # own), except RI-covered usage, billed at 0 and worth its public on-demand cost.
    "ContractedCost": (
        "CASE WHEN unused_part THEN 0 "
        "WHEN item_type = 'DiscountedUsage' THEN coalesce(od_cost, unblended) "
        "WHEN item_type = 'SavingsPlanNegation' THEN 0 ELSE unblended END"
    ),
    "ContractedUnitPrice": (
        f"CASE WHEN NOT ({_PRICED}) THEN NULL "
        "WHEN unused_part OR item_type = 'SavingsPlanNegation' THEN 0 "
        "WHEN item_type = 'DiscountedUsage' AND od_cost IS NOT NULL THEN od_rate "
        "ELSE unblended_rate END"
    ),
    "BillingAccountId": "payer",
    # Legacy CURs carry no account names (CUR 2.0 does): the id stands in, as AWS's own
    # consoles show an account whose name they do not know (FOCUS: MUST NOT be null).
    "BillingAccountName": "coalesce(payer_name, payer)",
    "BillingAccountType": "CASE WHEN payer IS NOT NULL THEN 'Payer Account' END",
    "BillingCurrency": "currency",
    "BillingPeriodStart": "period_start",
    "BillingPeriodEnd": "period_end",
    "ChargePeriodStart": "usage_start",
    "ChargePeriodEnd": "usage_end",
    "ChargeCategory": (
        f"CASE WHEN unused_part OR item_type IN {_USAGE} THEN 'Usage' "
        "WHEN item_type IN ('Fee', 'RIFee', 'SavingsPlanRecurringFee', 'SavingsPlanUpfrontFee') "
        "THEN 'Purchase' WHEN item_type = 'Tax' THEN 'Tax' ELSE 'Credit' END"
    ),
    "ChargeFrequency": (
        f"CASE WHEN unused_part OR item_type IN {_USAGE} THEN 'Usage-Based' "
        "WHEN item_type IN ('RIFee', 'SavingsPlanRecurringFee') THEN 'Recurring' "
        "WHEN item_type LIKE '%Discount' THEN 'Usage-Based' ELSE 'One-Time' END"
    ),
    "ChargeDescription": (
        "CASE WHEN unused_part THEN 'Unused part of: ' || coalesce(description, item_type) "
        "ELSE description END"
    ),
    "PricingCategory": (
        "CASE WHEN unused_part OR item_type IN ('DiscountedUsage', 'SavingsPlanCoveredUsage', "
        "'SavingsPlanNegation') THEN 'Committed' "
        "WHEN item_type = 'Usage' AND usage_type LIKE '%SpotUsage%' THEN 'Dynamic' "
        "WHEN item_type = 'Usage' THEN 'Standard' "
        "WHEN item_type IN ('Fee', 'RIFee', 'SavingsPlanRecurringFee', 'SavingsPlanUpfrontFee') "
        "THEN 'Standard' END"
    ),
    "CommitmentDiscountId": _COMMITMENT_ID,
    "CommitmentDiscountType": (
        f"CASE WHEN ({_COMMITMENT_ID}) IS NULL THEN NULL WHEN item_type IN {_SP} "
        "THEN 'Savings Plan' ELSE 'Reserved Instance' END"
    ),
    "CommitmentDiscountCategory": (
        f"CASE WHEN ({_COMMITMENT_ID}) IS NULL THEN NULL WHEN item_type IN {_SP} "
        "THEN 'Spend' ELSE 'Usage' END"
    ),
    # A negation line cancels covered usage's on-demand cost: part of the used commitment.
    "CommitmentDiscountStatus": (
        "CASE WHEN unused_part THEN 'Unused' WHEN item_type IN ('DiscountedUsage', "
        "'SavingsPlanCoveredUsage', 'SavingsPlanNegation') THEN 'Used' END"
    ),
    "ConsumedQuantity": f"CASE WHEN item_type IN {_USAGE} THEN usage_amount END",
    "ConsumedUnit": f"CASE WHEN item_type IN {_USAGE} THEN unit END",
    # The unused part: the reservation's unused hours, or the plan's unused commitment in
    # its currency (at a price of 0: what went unused costs its EffectiveCost, no list).
    "PricingQuantity": (
        "CASE WHEN unused_part THEN CASE item_type WHEN 'RIFee' THEN "
        f"coalesce(ri_unused_quantity, 0) ELSE {_SP_UNUSED} END "
        f"WHEN {_PRICED} THEN usage_amount END"
    ),
    "PricingUnit": (
        "CASE WHEN unused_part AND item_type = 'SavingsPlanRecurringFee' THEN currency "
        f"WHEN {_PRICED} THEN unit END"
    ),
    "PricingCurrency": "currency",
    "InvoiceId": "invoice",
    "InvoiceIssuerName": "coalesce(invoicing_entity, billing_entity, 'AWS')",
    "ProviderName": "'AWS'",
    "PublisherName": "coalesce(legal_entity, 'AWS')",
    "RegionId": _REGION_ID,
    "RegionName": (
        f"CASE WHEN ({_REGION_ID}) IS NOT NULL THEN coalesce(location, reg_name, {_REGION_ID}) END"
    ),
    "AvailabilityZone": "zone",
    "ResourceId": f"CASE WHEN unused_part THEN {_COMMITMENT_ID} ELSE resource END",
    "ResourceType": (
        "CASE WHEN unused_part THEN CASE item_type WHEN 'RIFee' THEN 'Reserved Instance' "
        "ELSE 'Savings Plan' END WHEN resource IS NULL THEN NULL "
        "WHEN resource LIKE 'arn:%' THEN coalesce(nullif(replace(regexp_extract(resource, "
        "'^arn:[^:]*:[^:]*:[^:]*:[^:]*:([^:/]+)[:/]', 1), '-', ' '), ''), product_family, "
        "product_code) "
        "ELSE CASE regexp_extract(resource, '^([a-z]+)-[0-9a-f]+$', 1) "
        "WHEN 'i' THEN 'Instance' WHEN 'vol' THEN 'Volume' WHEN 'snap' THEN 'Snapshot' "
        "WHEN 'ami' THEN 'Image' WHEN 'eipalloc' THEN 'Elastic IP' "
        "WHEN 'nat' THEN 'NAT Gateway' WHEN 'vpce' THEN 'VPC Endpoint' "
        "WHEN 'fs' THEN 'File System' WHEN 'tgw' THEN 'Transit Gateway' "
        "ELSE CASE WHEN product_code = 'AmazonS3' THEN 'Bucket' "
        "ELSE coalesce(product_family, product_code, 'Resource') END END END"
    ),
    "ServiceName": "coalesce(product_name, product_name_map, svc_name, product_code, service_code)",
    "ServiceCategory": _CATEGORY,
    "ServiceSubcategory": _SUBCATEGORY,
    "SkuId": f"CASE WHEN NOT {_TAX} THEN sku END",
    "SkuMeter": (
        f"CASE WHEN NOT {_TAX} AND sku IS NOT NULL THEN coalesce(product_family, usage_type) END"
    ),
    "SubAccountId": "usage_account",
    "SubAccountName": "coalesce(usage_account_name, usage_account)",
    "SubAccountType": "CASE WHEN usage_account IS NOT NULL THEN 'Linked Account' END",
}

#: What the pricing-currency columns are: AWS prices and bills a line in one currency.
FOCUS_SQL["PricingCurrencyEffectiveCost"] = FOCUS_SQL["EffectiveCost"]
FOCUS_SQL["PricingCurrencyListUnitPrice"] = FOCUS_SQL["ListUnitPrice"]
FOCUS_SQL["PricingCurrencyContractedUnitPrice"] = FOCUS_SQL["ContractedUnitPrice"]

EXTRAS = {
    "x_LineItemType": "item_type",
    "x_UsageType": "usage_type",
    "x_Operation": "operation",
    "x_ProductFamily": "product_family",
    "x_ProductCode": "product_code",
    "x_ServiceCode": "service_code",
    "x_InstanceType": "instance_type",
    "x_UnblendedCost": "unblended",
}

HINT = (
    "mlcost reads AWS CUR (legacy CSV or Parquet, and CUR 2.0) with at least the line "
    "item, bill and usage-date columns; nothing was loaded."
)


def cur_name(header: str) -> str:
    """A CUR column's snake_case name, as Athena and CUR 2.0 spell it:
    ``lineItem/UnblendedCost`` → ``line_item_unblended_cost``,
    ``reservation/ReservationARN`` → ``reservation_reservation_a_r_n``."""
    if "/" not in header:
        return header.strip().lower()
    category, _, name = header.partition("/")
    return f"{_snake(category)}_{_snake(name)}"


def _snake(part: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", part.strip()).lower()


def tag_key(header: str) -> str | None:
    """The tag key a legacy CUR tag column holds (``resourceTags/user:team`` → ``team``,
    ``resource_tags_user_team`` → ``team``), or None for other columns."""
    if header.startswith("resourceTags/"):
        key = header[len("resourceTags/") :]
        return key[len("user:") :] if key.startswith("user:") else key
    if header.startswith("resource_tags_") and header != "resource_tags":
        key = header[len("resource_tags_") :]
        return key[len("user_") :] if key.startswith("user_") else key
    return None


def detect(names: list[str]) -> str | None:
    """Which CUR a header is, or None."""
    lowered = {n.lower() for n in names}
    if "lineitem/unblendedcost" in lowered:
        return "AWS CUR (legacy CSV)"
    if "line_item_unblended_cost" in lowered:
        if "resource_tags" in lowered or "product" in lowered:
            return "AWS CUR 2.0"
        return "AWS CUR (legacy Parquet)"
    return None


def conversion(
    path: Path, scan: str, columns: Mapping[str, SourceColumn], source: str | None
) -> Conversion:
    """The CUR → FOCUS conversion of one file."""
    lookup: dict[str, str] = {}
    for name in columns:
        lookup.setdefault(cur_name(name), name)
    # User tags: one column per key (legacy), or CUR 2.0's resource_tags map.
    params: list[object] = []
    entries: list[str] = []
    for name, column in columns.items():
        key = tag_key(name)
        if key is None:
            continue
        params.append(key)
        value = clean_text(column.ref, column.type)
        entries.append(f"struct_pack(k := ${len(params) + 1}::VARCHAR, v := {value})")
    focus = dict(FOCUS_SQL)
    tags, refs = None, []
    if entries:
        tags = (
            "TRY(to_json(map_from_entries(list_filter("
            f"[{', '.join(entries)}], lambda e: e.v IS NOT NULL))))"
        )
        refs = [c.ref for n, c in columns.items() if tag_key(n) is not None]
    elif "resource_tags" in lookup:
        # CUR 2.0: {"user_team": "nlp"} → {"team": "nlp"}.
        column = columns[lookup["resource_tags"]]
        text = json_text(column.ref, column.type)
        tags = (
            f"CASE WHEN {text} IS NULL THEN NULL ELSE TRY(to_json(map_from_entries("
            f"list_transform(map_entries(TRY_CAST(TRY_CAST({text} AS JSON) AS "
            "MAP(VARCHAR, VARCHAR))), lambda e: struct_pack(k := CASE WHEN "
            "starts_with(e.key, 'user_') THEN e.key[6:] ELSE e.key END, v := e.value))))) END"
        )
        refs = [text]
    raw: dict[str, str] = {"product_name_map": "CAST(NULL AS VARCHAR)"}
    if "product" in lookup:
        # CUR 2.0 keeps the product name in its product map, not a column of its own.
        column = columns[lookup["product"]]
        if column.type.startswith("MAP"):
            raw["product_name_map"] = (
                f"nullif(trim(map_extract_value({column.ref}, 'product_name')), '')"
            )
        else:
            text = json_text(column.ref, column.type)
            raw["product_name_map"] = (
                f"json_extract_string(TRY_CAST({text} AS JSON), '$.product_name')"
            )
    reader = scan
    if tags is not None:
        reader, joined = per_distinct(scan, refs, {"_mlcost_tags": tags})
        raw["tags_json"] = joined["_mlcost_tags"]
        focus["Tags"] = "tags_json"
    plan = ProviderPlan(
        FIELDS,
        focus,
        EXTRAS,
        source_sql="concat('aws-cur:', payer)",
        format_hint=HINT,
        raw=raw,
        lookups=LOOKUPS,
        split_sql=_FEES,
    )
    return provider_conversion(path, scan, columns, lookup, plan, source, params, reader=reader)


#: Service: by product name where the table knows it (so a ServiceName always has one
#: category), else by product code; region: by code, or by the location's name.
LOOKUPS = (
    service_lookup("aws", "coalesce(product_name, product_name_map)", by_name=True, prefix="svcn"),
    service_lookup("aws", "product_code"),
    region_lookup("aws", "coalesce(region_code, region_legacy, location)"),
)
