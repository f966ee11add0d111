"""Azure cost details exports (EA and MCA; ActualCost and AmortizedCost) as FOCUS rows.

Azure writes two datasets of the same month. In ActualCost, usage covered by a
reservation or savings plan costs 0 and the commitment's purchase carries the cash; in
AmortizedCost, that usage carries its share of the commitment, the unused share appears
as UnusedReservation / UnusedSavingsPlan rows, and purchases of commitments are not
costs. Loaded together, they combine as Microsoft documents for FOCUS:

* the amortized file gives every row but commitment purchases and refunds:
  EffectiveCost is its cost; BilledCost is its cost, except commitment-covered usage
  and unused-commitment rows, whose BilledCost is 0 (the cash is the purchase);
* the actual file gives only the commitment purchases and refunds: BilledCost is their
  cost and EffectiveCost 0 (it is spread over the usage above).

Loaded alone, either dataset gives BilledCost = EffectiveCost = its cost. Which dataset a
file is comes from its name (``actual`` / ``amortized``) or, failing that, its content
(unused-commitment rows or commitment usage with a cost mean amortized).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
from mlcost.connectors.files.convert import (
    Field,
    ProviderPlan,
    category_sql,
    money_product,
    provider_conversion,
    region_lookup,
    service_lookup,
)
from mlcost.connectors.files.focus import (
    Conversion,
    SourceColumn,
    _file_error,
    _open_scan,
)
from mlcost.connectors.files.values import clean_text

from mlcost.schema import MONEY
from mlcost.store import memory_connection

CHARGE_TYPES = (
    "Usage",
    "Purchase",
    "Refund",
    "UnusedReservation",
    "UnusedSavingsPlan",
    "RoundingAdjustment",
    "Tax",
)

PRICING_MODELS = ("OnDemand", "Reservation", "SavingsPlan", "Spot")
FREQUENCIES = ("UsageBased", "OneTime", "Recurring")

_COSTS = ("costinbillingcurrency", "cost", "pretaxcost")
_CURRENCIES = ("billingcurrency", "billingcurrencycode", "currency")

_F = Field
FIELDS = (
    _F("usage_date", ("date", "usagedate"), "date", required=True, title="Date"),
    _F("period_start", ("billingperiodstartdate",), "date", True, title="BillingPeriodStartDate"),
    _F("period_end", ("billingperiodenddate",), "date", True, title="BillingPeriodEndDate"),
    _F("cost", _COSTS, "money", required=True, title="CostInBillingCurrency"),
    _F("currency", _CURRENCIES, required=True, title="BillingCurrency"),
    _F("charge_type", ("chargetype",), "text", True, CHARGE_TYPES, title="ChargeType"),
    _F("pricing_model", ("pricingmodel",), allowed=PRICING_MODELS),
    _F("frequency", ("frequency", "chargefrequency"), allowed=FREQUENCIES),
    _F("billing_account", ("billingaccountid",)),
    _F("billing_account_name", ("billingaccountname",)),
    _F("subscription", ("subscriptionid", "subscriptionguid")),
    _F("subscription_name", ("subscriptionname",)),
    _F("resource_group", ("resourcegroup", "resourcegroupname")),
    _F("resource", ("resourceid", "instanceid")),
    _F("resource_name", ("resourcename",)),
    _F("location", ("resourcelocation",)),
    _F("meter_category", ("metercategory",)),
    _F("meter_subcategory", ("metersubcategory",)),
    _F("meter_name", ("metername",)),
    _F("meter_id", ("meterid",)),
    _F("product", ("productname", "product")),
    _F("quantity", ("quantity",), "money"),
    _F("unit", ("unitofmeasure",)),
    _F("payg_price", ("paygprice",), "money"),
    _F("unit_price", ("unitprice",), "money"),
    _F("payg_cost", ("paygcostinbillingcurrency",), "money"),
    _F("reservation_id", ("reservationid",)),
    _F("reservation_name", ("reservationname",)),
    _F("benefit_id", ("benefitid",)),
    _F("benefit_name", ("benefitname",)),
    _F("tags", ("tags",)),
    _F("invoice", ("invoiceid",)),
    _F("publisher", ("publishername",)),
    _F("service_family", ("servicefamily",)),
    _F("consumed_service", ("consumedservice",)),
    _F("pricing_currency", ("pricingcurrency", "pricingcurrencycode")),
    _F("exchange_rate", ("exchangeratepricingtobilling",), "money"),
    _F("cost_in_pricing", ("costinpricingcurrency",), "money"),
    _F("partner_name", ("partnername",)),
)

_COMMITMENT = "pricing_model IN ('Reservation', 'SavingsPlan')"
_UNUSED = "charge_type IN ('UnusedReservation', 'UnusedSavingsPlan')"
_PURCHASE = f"(charge_type IN ('Purchase', 'Refund') AND {_COMMITMENT})"
_SAVINGS_PLAN = "(charge_type = 'UnusedSavingsPlan' OR pricing_model = 'SavingsPlan')"
_HAS_COMMITMENT = f"({_COMMITMENT} OR {_UNUSED})"

_TAX = "charge_type = 'Tax'"
_USAGE_LIKE = f"(charge_type = 'Usage' OR {_UNUSED})"
#: Azure prices per block of units ("10 Hours", "100 GB", "10K Transactions") while
#: Quantity counts single units, so the priced quantity is Quantity / block.
_DIGITS = "regexp_extract(unit, '^\\s*([0-9]+)', 1)"
_BLOCK = (
    f"(CASE WHEN coalesce({_DIGITS}, '') = '' THEN 1 ELSE TRY_CAST({_DIGITS} AS BIGINT) * "
    "CASE WHEN regexp_matches(unit, '^\\s*[0-9]+\\s*K(\\s|$)') THEN 1000 "
    "WHEN regexp_matches(unit, '^\\s*[0-9]+\\s*M(\\s|$)') THEN 1000000 ELSE 1 END END)"
)
_PRICING_QUANTITY = (
    f"CASE WHEN {_TAX} OR unit IS NULL THEN NULL ELSE CASE {_BLOCK} WHEN 1 THEN quantity "
    "WHEN 10 THEN quantity * 0.1 WHEN 100 THEN quantity * 0.01 WHEN 1000 THEN quantity * 0.001 "
    "WHEN 10000 THEN quantity * 0.0001 WHEN 100000 THEN quantity * 0.00001 "
    "WHEN 1000000 THEN quantity * 0.000001 "
    f"ELSE CAST(quantity / nullif({_BLOCK}, 0) AS {MONEY}) END END"
)
#: Prices are in the pricing currency (MCA: USD); FOCUS unit prices are in the billing one.
_SAME_CURRENCY = "(pricing_currency IS NULL OR upper(pricing_currency) = upper(currency))"
_RATE = f"CASE WHEN {_SAME_CURRENCY} THEN 1 ELSE exchange_rate END"
_LIST_PRICE = money_product("payg_price", _RATE)
_CONTRACTED_PRICE = money_product("unit_price", _RATE)
_REGION_KEY = "lower(replace(location, ' ', ''))"
_SERVICE = "coalesce(meter_category, consumed_service, product)"
_CATEGORY, _SUBCATEGORY = category_sql("svc")

FOCUS_SQL: dict[str, str] = {
    "BillingAccountId": "billing_account",
    "BillingAccountName": "coalesce(billing_account_name, billing_account)",
    "BillingCurrency": "currency",
    "BillingPeriodStart": "period_start",
    "BillingPeriodEnd": "period_end + INTERVAL 1 DAY",
    "ChargePeriodStart": "usage_date",
    "ChargePeriodEnd": "usage_date + INTERVAL 1 DAY",
    "ChargeCategory": (
        f"CASE WHEN charge_type = 'Usage' OR {_UNUSED} THEN 'Usage' "
        "WHEN charge_type IN ('Purchase', 'Refund') THEN 'Purchase' "
        "WHEN charge_type = 'Tax' THEN 'Tax' ELSE 'Adjustment' END"
    ),
    "ChargeClass": "CASE WHEN charge_type = 'Refund' THEN 'Correction' END",
    "ChargeFrequency": (
        "CASE frequency WHEN 'UsageBased' THEN 'Usage-Based' WHEN 'OneTime' THEN 'One-Time' "
        "WHEN 'Recurring' THEN 'Recurring' END"
    ),
    "ChargeDescription": "coalesce(product, meter_name)",
    "PricingCategory": (
        f"CASE WHEN {_TAX} THEN NULL WHEN charge_type IN ('Purchase', 'Refund') THEN 'Standard' "
        "ELSE CASE pricing_model WHEN 'OnDemand' THEN 'Standard' WHEN 'Spot' THEN 'Dynamic' "
        "WHEN 'Reservation' THEN 'Committed' WHEN 'SavingsPlan' THEN 'Committed' END END"
    ),
    "CommitmentDiscountId": (
        f"CASE WHEN {_HAS_COMMITMENT} THEN coalesce(benefit_id, reservation_id) END"
    ),
    "CommitmentDiscountName": (
        f"CASE WHEN {_HAS_COMMITMENT} THEN coalesce(benefit_name, reservation_name) END"
    ),
    "CommitmentDiscountType": (
        f"CASE WHEN NOT {_HAS_COMMITMENT} THEN NULL WHEN {_SAVINGS_PLAN} THEN 'Savings Plan' "
        "ELSE 'Reservation' END"
    ),
    "CommitmentDiscountCategory": (
        f"CASE WHEN NOT {_HAS_COMMITMENT} THEN NULL WHEN {_SAVINGS_PLAN} THEN 'Spend' "
        "ELSE 'Usage' END"
    ),
    "CommitmentDiscountStatus": (
        f"CASE WHEN {_UNUSED} THEN 'Unused' "
        f"WHEN charge_type = 'Usage' AND {_COMMITMENT} THEN 'Used' END"
    ),
    "ConsumedQuantity": "CASE WHEN charge_type = 'Usage' THEN quantity END",
    # Consumed in single units: the unit of measure without its block ("10 Hours" → Hours,
    # "1/Month" → Month, "1K" → Units).
    "ConsumedUnit": (
        "CASE WHEN charge_type = 'Usage' AND unit IS NOT NULL THEN coalesce(nullif("
        "regexp_replace(unit, '^\\s*[0-9]+\\s*[KM]?(\\s+|/|$)', ''), ''), 'Units') END"
    ),
    "PricingQuantity": _PRICING_QUANTITY,
    "PricingUnit": f"CASE WHEN NOT {_TAX} THEN unit END",
    "PricingCurrency": "coalesce(pricing_currency, currency)",
    # List: the pay-as-you-go price (MCA writes the cost, EA only the price); purchases,
    # tax and adjustments list at what they cost.
    "ListUnitPrice": (
        f"CASE WHEN {_TAX} THEN NULL WHEN {_USAGE_LIKE} THEN {_LIST_PRICE} "
        f"ELSE {_CONTRACTED_PRICE} END"
    ),
    "ListCost": (
        f"CASE WHEN {_USAGE_LIKE} THEN coalesce(payg_cost, "
        f"{money_product(_LIST_PRICE, _PRICING_QUANTITY)}, cost) ELSE cost END"
    ),
    "PricingCurrencyListUnitPrice": (
        f"CASE WHEN {_TAX} THEN NULL WHEN {_USAGE_LIKE} THEN payg_price ELSE unit_price END"
    ),
    # Contracted: UnitPrice, the agreement's price before commitment discounts.
    "ContractedUnitPrice": f"CASE WHEN NOT {_TAX} THEN {_CONTRACTED_PRICE} END",
    "ContractedCost": (
        f"CASE WHEN {_USAGE_LIKE} THEN coalesce("
        f"{money_product(_CONTRACTED_PRICE, _PRICING_QUANTITY)}, cost) ELSE cost END"
    ),
    "PricingCurrencyContractedUnitPrice": f"CASE WHEN NOT {_TAX} THEN unit_price END",
    "BillingAccountType": "CASE WHEN billing_account IS NOT NULL THEN 'Billing Account' END",
    "InvoiceId": "invoice",
    "InvoiceIssuerName": "coalesce(partner_name, 'Microsoft')",
    "ProviderName": "'Microsoft'",
    "PublisherName": "coalesce(publisher, 'Microsoft')",
    "RegionId": f"CASE WHEN reg_key IS NOT NULL THEN reg_id ELSE {_REGION_KEY} END",
    "RegionName": "CASE WHEN reg_key IS NOT NULL THEN reg_name ELSE location END",
    "ResourceId": "resource",
    "ResourceName": (
        "coalesce(resource_name, CASE WHEN resource LIKE '/%' "
        "THEN nullif(regexp_extract(resource, '([^/]+)/*$', 1), '') END)"
    ),
    # The ARM type, e.g. Microsoft.Compute/virtualMachines (nested: each type segment).
    "ResourceType": (
        "CASE WHEN resource IS NULL THEN NULL ELSE coalesce(nullif(array_to_string(list_filter("
        "string_split(regexp_extract(resource, '(?i)/providers/(.+)$', 1), '/'), "
        "lambda s, i: i = 1 OR i % 2 = 0), '/'), ''), consumed_service, meter_category) END"
    ),
    "ServiceName": _SERVICE,
    "ServiceCategory": _CATEGORY,
    "ServiceSubcategory": _SUBCATEGORY,
    "SkuId": f"CASE WHEN NOT {_TAX} THEN meter_id END",
    "SkuMeter": f"CASE WHEN NOT {_TAX} AND meter_id IS NOT NULL THEN meter_name END",
    "SubAccountId": "subscription",
    "SubAccountName": "coalesce(subscription_name, subscription)",
    "SubAccountType": "CASE WHEN subscription IS NOT NULL THEN 'Subscription' END",
    "Tags": "tags",
}

EXTRAS = {
    "x_MeterCategory": "meter_category",
    "x_MeterSubCategory": "meter_subcategory",
    "x_MeterName": "meter_name",
    "x_ResourceGroup": "resource_group",
    "x_ChargeType": "charge_type",
    "x_PricingModel": "pricing_model",
    "x_ServiceFamily": "service_family",
}

HINT = (
    "mlcost reads Azure cost details exports (EA or MCA, ActualCost or AmortizedCost, "
    "CSV or Parquet); nothing was loaded."
)

ACTUAL, AMORTIZED = "actual", "amortized"


def detect(names: list[str]) -> str | None:
    """Which Azure cost details a header is, or None."""
    lowered = {n.lower() for n in names}
    costs = {"costinbillingcurrency", "cost", "pretaxcost"}
    if "chargetype" in lowered and "metercategory" in lowered and lowered & costs:
        agreement = "MCA" if "costInBillingCurrency" in names else "EA"
        return f"Azure cost details ({agreement})"
    return None


def convert(
    path: Path,
    scan: str,
    columns: Mapping[str, SourceColumn],
    source: str | None,
    *,
    mode: str | None = None,
) -> Conversion:
    """The conversion of one file; ``mode`` says which part of a combined actual +
    amortized load it gives (None: the file is the only dataset of the load)."""
    lookup = {name.lower(): name for name in columns}
    focus = dict(FOCUS_SQL)
    keep: str | None = None
    dataset = "NULL"
    # EffectiveCost in the pricing currency: the cost itself where both currencies are
    # one, else Azure's CostInPricingCurrency (or the cost over the exchange rate).
    in_pricing = (
        f"CASE WHEN {_SAME_CURRENCY} THEN cost ELSE coalesce(cost_in_pricing, "
        f"CAST(cost / nullif(exchange_rate, 0) AS {MONEY})) END"
    )
    if mode == AMORTIZED:
        focus["BilledCost"] = (
            f"CASE WHEN {_UNUSED} OR (charge_type = 'Usage' AND {_COMMITMENT}) THEN 0 ELSE cost END"
        )
        focus["EffectiveCost"] = "cost"
        focus["PricingCurrencyEffectiveCost"] = in_pricing
        keep = f"NOT coalesce({_PURCHASE}, false)"
        dataset = "'AmortizedCost'"
    elif mode == ACTUAL:
        focus["BilledCost"] = "cost"
        focus["EffectiveCost"] = "0"
        focus["PricingCurrencyEffectiveCost"] = "0"
        keep = f"coalesce({_PURCHASE}, false)"
        dataset = "'ActualCost'"
    else:
        focus["BilledCost"] = "cost"
        focus["EffectiveCost"] = "cost"
        focus["PricingCurrencyEffectiveCost"] = in_pricing
    plan = ProviderPlan(
        FIELDS,
        focus,
        {**EXTRAS, "x_CostDataset": dataset},
        source_sql="concat('azure:', billing_account)",
        keep_sql=keep,
        format_hint=HINT,
        tags_built=False,
        lookups=LOOKUPS,
    )
    return provider_conversion(path, scan, columns, lookup, plan, source)


LOOKUPS = (service_lookup("azure", _SERVICE), region_lookup("azure", _REGION_KEY))


def dataset_modes(paths: Sequence[Path]) -> dict[Path, str]:
    """For a load holding both Azure datasets, which each file is; else nothing (each
    file then stands alone)."""
    kinds = {path: _dataset(path) for path in paths}
    if {ACTUAL, AMORTIZED} <= set(kinds.values()):
        return kinds
    return {}


def _dataset(path: Path) -> str:
    name = path.name.lower()
    if "amortized" in name or "amortised" in name:
        return AMORTIZED
    if "actual" in name:
        return ACTUAL
    with memory_connection() as con:
        scan, columns = _open_scan(con, path)
        lookup = {n.lower(): n for n in columns}
        charge = lookup.get("chargetype")
        model = lookup.get("pricingmodel")
        cost = next(
            (lookup[n] for n in ("costinbillingcurrency", "cost", "pretaxcost") if n in lookup),
            None,
        )
        if charge is None or cost is None:
            return ACTUAL

        def text(column: str) -> str:
            ref, rtype = columns[column].ref, columns[column].type
            return f"lower({clean_text(ref, rtype)})"

        commitment_usage = (
            f"{text(model)} IN ('reservation', 'savingsplan') AND {text(charge)} = 'usage' "
            f"AND TRY_CAST({text(cost)} AS DOUBLE) <> 0"
            if model
            else "false"
        )
        try:
            row = con.execute(
                f"SELECT bool_or({text(charge)} LIKE 'unused%' OR ({commitment_usage})) "  # noqa: S608
                f"FROM {scan}",
                [str(path)],
            ).fetchone()
        except duckdb.Error as exc:
            # A file DuckDB cannot read is refused by name, as the load would refuse it.
            raise _file_error(path, exc) from exc
    return AMORTIZED if row and row[0] else ACTUAL
