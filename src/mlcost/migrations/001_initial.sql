-- 001: the tables of DESIGN.md §2 (money is DECIMAL(38,12), timestamps are UTC).

CREATE TABLE "cost" (
    "AvailabilityZone" VARCHAR,
    "BilledCost" DECIMAL(38,12),
    "BillingAccountId" VARCHAR,
    "BillingAccountName" VARCHAR,
    "BillingAccountType" VARCHAR,
    "BillingCurrency" VARCHAR,
    "BillingPeriodEnd" TIMESTAMP,
    "BillingPeriodStart" TIMESTAMP,
    "CapacityReservationId" VARCHAR,
    "CapacityReservationStatus" VARCHAR,
    "ChargeCategory" VARCHAR,
    "ChargeClass" VARCHAR,
    "ChargeDescription" VARCHAR,
    "ChargeFrequency" VARCHAR,
    "ChargePeriodEnd" TIMESTAMP,
    "ChargePeriodStart" TIMESTAMP,
    "CommitmentDiscountCategory" VARCHAR,
    "CommitmentDiscountId" VARCHAR,
    "CommitmentDiscountName" VARCHAR,
    "CommitmentDiscountQuantity" DECIMAL(38,12),
    "CommitmentDiscountStatus" VARCHAR,
    "CommitmentDiscountType" VARCHAR,
    "CommitmentDiscountUnit" VARCHAR,
    "ConsumedQuantity" DECIMAL(38,12),
    "ConsumedUnit" VARCHAR,
    "ContractedCost" DECIMAL(38,12),
    "ContractedUnitPrice" DECIMAL(38,12),
    "EffectiveCost" DECIMAL(38,12),
    "InvoiceId" VARCHAR,
    "InvoiceIssuerName" VARCHAR,
    "ListCost" DECIMAL(38,12),
    "ListUnitPrice" DECIMAL(38,12),
    "PricingCategory" VARCHAR,
    "PricingCurrency" VARCHAR,
    "PricingCurrencyContractedUnitPrice" DECIMAL(38,12),
    "PricingCurrencyEffectiveCost" DECIMAL(38,12),
    "PricingCurrencyListUnitPrice" DECIMAL(38,12),
    "PricingQuantity" DECIMAL(38,12),
    "PricingUnit" VARCHAR,
    "ProviderName" VARCHAR,
    "PublisherName" VARCHAR,
    "RegionId" VARCHAR,
    "RegionName" VARCHAR,
    "ResourceId" VARCHAR,
    "ResourceName" VARCHAR,
    "ResourceType" VARCHAR,
    "ServiceCategory" VARCHAR,
    "ServiceName" VARCHAR,
    "ServiceSubcategory" VARCHAR,
    "SkuId" VARCHAR,
    "SkuMeter" VARCHAR,
    "SkuPriceDetails" JSON,
    "SkuPriceId" VARCHAR,
    "SubAccountId" VARCHAR,
    "SubAccountName" VARCHAR,
    "SubAccountType" VARCHAR,
    "Tags" JSON,
    "x_source" VARCHAR,
    "x_ingested_at" TIMESTAMP
);

CREATE TABLE "resources" (
    "provider" VARCHAR,
    "account_id" VARCHAR,
    "region" VARCHAR,
    "resource_id" VARCHAR,
    "resource_type" VARCHAR,
    "name" VARCHAR,
    "state" VARCHAR,
    "created_at" TIMESTAMP,
    "observed_at" TIMESTAMP,
    "instance_type" VARCHAR,
    "vcpus" INTEGER,
    "memory_gb" DOUBLE,
    "gpu_count" INTEGER,
    "gpu_model" VARCHAR,
    "attached_to" VARCHAR,
    "source_id" VARCHAR,
    "size_gb" DOUBLE,
    "lifecycle" VARCHAR,
    "last_used_at" TIMESTAMP,
    "details" JSON,
    "tags" JSON,
    "source" VARCHAR,
    "ingested_at" TIMESTAMP
);

CREATE TABLE "metrics" (
    "resource_id" VARCHAR,
    "metric" VARCHAR,
    "ts" TIMESTAMP,
    "value" DOUBLE,
    "stat" VARCHAR,
    "period_s" INTEGER,
    "source" VARCHAR,
    "ingested_at" TIMESTAMP
);

CREATE TABLE "runs" (
    "run_id" VARCHAR,
    "experiment" VARCHAR,
    "parent_run_id" VARCHAR,
    "name" VARCHAR,
    "status" VARCHAR,
    "user" VARCHAR,
    "started_at" TIMESTAMP,
    "ended_at" TIMESTAMP,
    "params" JSON,
    "metrics" JSON,
    "tags" JSON,
    "resource_ids" JSON,
    "gpu_count" INTEGER,
    "source" VARCHAR,
    "ingested_at" TIMESTAMP
);

CREATE TABLE "prices" (
    "provider" VARCHAR,
    "region" VARCHAR,
    "instance_type" VARCHAR,
    "sku" VARCHAR,
    "unit" VARCHAR,
    "price_per_hour" DECIMAL(38,12),
    "currency" VARCHAR,
    "source" VARCHAR,
    "ingested_at" TIMESTAMP
);

CREATE TABLE "recommendations" (
    "id" VARCHAR,
    "rule" VARCHAR,
    "provider" VARCHAR,
    "account_id" VARCHAR,
    "region" VARCHAR,
    "resource_id" VARCHAR,
    "resource_type" VARCHAR,
    "resource_name" VARCHAR,
    "title" VARCHAR,
    "action" VARCHAR,
    "evidence" JSON,
    "monthly_cost" DECIMAL(38,12),
    "estimated_monthly_savings" DECIMAL(38,12),
    "currency" VARCHAR,
    "confidence" VARCHAR,
    "first_detected" TIMESTAMP,
    "last_detected" TIMESTAMP,
    "status" VARCHAR,
    "tags" JSON,
    "analyzed_at" TIMESTAMP
);

CREATE TABLE "anomalies" (
    "date" DATE,
    "provider" VARCHAR,
    "scope" VARCHAR,
    "scope_value" VARCHAR,
    "actual" DECIMAL(38,12),
    "expected" DECIMAL(38,12),
    "low" DECIMAL(38,12),
    "high" DECIMAL(38,12),
    "direction" VARCHAR,
    "severity" VARCHAR,
    "drivers" JSON,
    "analyzed_at" TIMESTAMP
);

CREATE TABLE "run_costs" (
    "run_id" VARCHAR,
    "resource_id" VARCHAR,
    "day" DATE,
    "cost" DECIMAL(38,12),
    "method" VARCHAR,
    "idle_share" DECIMAL(38,12),
    "gpu_efficiency" DOUBLE,
    "analyzed_at" TIMESTAMP
);

CREATE TABLE recommendation_feedback (
    id VARCHAR PRIMARY KEY,
    status VARCHAR NOT NULL,
    reason VARCHAR,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE anomaly_feedback (
    anomaly_id VARCHAR PRIMARY KEY,
    status VARCHAR NOT NULL,
    reason VARCHAR,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE loads (
    loaded_at TIMESTAMP NOT NULL,
    "table" VARCHAR NOT NULL,
    source VARCHAR,
    partitions JSON,
    rows_in BIGINT NOT NULL,
    rows_replaced BIGINT NOT NULL,
    detail JSON
);
