-- Daily roll-ups of the billing (src/mlcost/rollups.py): what the Overview, the report
-- and the headline figures read instead of scanning cost. Derived from cost alone and
-- rebuilt, in the load's transaction, for exactly the billing partitions a load
-- replaces; the store fills them from the billing already there after this script
-- (store.py, ROLLUPS_MIGRATION). ChargePeriodStart is the group's earliest start,
-- ChargePeriodEnd its latest end: the filters written for cost read them unchanged.
CREATE TABLE daily_spend (
    "x_source" VARCHAR,
    "BillingPeriodStart" TIMESTAMP,
    "ProviderName" VARCHAR,
    "BillingAccountId" VARCHAR,
    "BillingAccountName" VARCHAR,
    "SubAccountId" VARCHAR,
    "SubAccountName" VARCHAR,
    "ServiceCategory" VARCHAR,
    "ServiceName" VARCHAR,
    "RegionId" VARCHAR,
    "ChargeCategory" VARCHAR,
    "BillingCurrency" VARCHAR,
    "charge_day" DATE,
    "BilledCost" DECIMAL(38,12),
    "EffectiveCost" DECIMAL(38,12),
    "ListCost" DECIMAL(38,12),
    "ContractedCost" DECIMAL(38,12),
    "charge_rows" BIGINT,
    "ChargePeriodStart" TIMESTAMP,
    "last_charge_start" TIMESTAMP,
    "ChargePeriodEnd" TIMESTAMP,
    "rolled_up_at" TIMESTAMP
);
CREATE TABLE daily_spend_by_tag (
    "x_source" VARCHAR,
    "BillingPeriodStart" TIMESTAMP,
    "ProviderName" VARCHAR,
    "BillingAccountId" VARCHAR,
    "BillingAccountName" VARCHAR,
    "SubAccountId" VARCHAR,
    "SubAccountName" VARCHAR,
    "ServiceCategory" VARCHAR,
    "ServiceName" VARCHAR,
    "RegionId" VARCHAR,
    "ChargeCategory" VARCHAR,
    "BillingCurrency" VARCHAR,
    "charge_day" DATE,
    "tag_key" VARCHAR,
    "tag_value" VARCHAR,
    "BilledCost" DECIMAL(38,12),
    "EffectiveCost" DECIMAL(38,12),
    "ListCost" DECIMAL(38,12),
    "ContractedCost" DECIMAL(38,12),
    "charge_rows" BIGINT,
    "ChargePeriodStart" TIMESTAMP,
    "last_charge_start" TIMESTAMP,
    "ChargePeriodEnd" TIMESTAMP,
    "rolled_up_at" TIMESTAMP
);
