-- Billing rows move out of the store file into Parquet files under <db>.parts/cost/
-- (one file per billing period and source per load; see docs/store-design.md). The
-- store keeps which files make up the cost table now (cost_files: a load swaps its
-- partitions' rows here, in its one transaction) and which a load replaced, kept a while
-- for readers still reading them (cost_files_retired). The rows of the old cost table
-- are written out and the table dropped by the store after this script (store.py,
-- _move_billing_to_parts): a view named cost takes its place in every connection.
CREATE TABLE cost_files (
    x_source VARCHAR,
    "BillingPeriodStart" TIMESTAMP,
    path VARCHAR NOT NULL,
    "rows" BIGINT NOT NULL,
    extra_columns VARCHAR[] NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);
CREATE TABLE cost_files_retired (
    path VARCHAR NOT NULL,
    retired_at TIMESTAMP NOT NULL
);
