"""Analyze benchmark: `mlcost analyze`'s rules on a generated organisation, time per rule.

    .venv/bin/python bench/analyze.py                         # 10M billing rows, 100k resources
    .venv/bin/python bench/analyze.py --rows 1000000 --resources 10000

The organisation is generated straight into a store with DuckDB: a mix of VMs (a tenth
with GPUs), volumes, snapshots, addresses, images, endpoints and notebooks, 21 days of
daily utilisation for every VM (a fifth of them idle), and billing lines spread over the
resources and 90 days (eight services, three regions, the resources' accounts and team
tags). Then the rules run as `mlcost analyze` runs them, and the time of
each (its query plus recording its findings' history) is printed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path

from mlcost.recommendations import analyze_recommendations
from mlcost.store import Batch, Scan, Store

AS_OF = datetime(2026, 11, 1)

RESOURCES = """
INSERT INTO resources BY NAME
SELECT 'aws' AS provider, '1111' || (i % 7) AS account_id, 'us-east-1' AS region,
       'r-' || i AS resource_id,
       CASE WHEN i % 100 < 60 THEN 'vm' WHEN i % 100 < 85 THEN 'volume'
            WHEN i % 100 < 93 THEN 'snapshot' WHEN i % 100 < 96 THEN 'ip_address'
            WHEN i % 100 < 98 THEN 'image' WHEN i % 100 < 99 THEN 'endpoint'
            ELSE 'notebook' END AS resource_type,
       'name-' || i AS name,
       CASE WHEN i % 100 BETWEEN 60 AND 84 AND i % 3 = 0 THEN 'available'
            WHEN i % 100 BETWEEN 60 AND 84 THEN 'in-use' ELSE 'running' END AS state,
       TIMESTAMP '2025-01-01' AS created_at, $as_of - INTERVAL 1 HOUR AS observed_at,
       CASE WHEN i % 10 = 0 THEN 'g5.xlarge' WHEN i % 2 = 0 THEN 'c6i.8xlarge'
            ELSE 'm4.4xlarge' END AS instance_type,
       CASE WHEN i % 10 = 0 THEN 1 ELSE 0 END AS gpu_count,
       CASE WHEN i % 100 BETWEEN 60 AND 84 AND i % 3 <> 0 THEN 'r-' || (i - 60) END
           AS attached_to,
       CASE WHEN i % 100 BETWEEN 85 AND 92 THEN 'gone-' || i END AS source_id,
       100.0 AS size_gb, 'on-demand' AS lifecycle,
       '{}' AS details, '{"team": "t' || (i % 13) || '"}' AS tags, 'bench' AS source
FROM range($resources) t(i)
"""

METRICS = """
INSERT INTO metrics BY NAME
SELECT 'r-' || i AS resource_id, m.metric, $as_of - to_days(CAST(d AS INTEGER)) AS ts,
       CASE WHEN i % 5 = 0 THEN 1.0 + (i % 3) ELSE 30.0 + (i + d) % 50 END
           * CASE WHEN m.metric LIKE 'net%' THEN 1e5 ELSE 1 END AS value,
       m.stat, 86400 AS period_s, 'bench' AS source
FROM range($resources) r(i), range(1, 22) days(d),
     (VALUES ('cpu_util_pct', 'Average'), ('cpu_util_pct', 'Maximum'),
             ('net_in_bytes', 'Sum'), ('net_out_bytes', 'Sum'), ('gpu_util_pct', 'Average'))
         m(metric, stat)
WHERE i % 100 < 60 AND (m.metric <> 'gpu_util_pct' OR i % 10 = 0)
"""

# Billing goes in as every load does (the store keeps it as Parquet files): $1 the date,
# $2 the resources, $3 the rows.
COST = """
SELECT CAST(1.25 + (n % 7) AS DECIMAL(38, 12)) AS BilledCost,
       CAST(1.25 + (n % 7) AS DECIMAL(38, 12)) AS EffectiveCost,
       'USD' AS BillingCurrency,
       date_trunc('month', $1 - to_days(CAST(n % 90 AS INTEGER)) - INTERVAL 1 DAY)
           AS BillingPeriodStart,
       $1 - to_days(CAST(n % 90 AS INTEGER)) - INTERVAL 1 DAY AS ChargePeriodStart,
       $1 - to_days(CAST(n % 90 AS INTEGER)) AS ChargePeriodEnd,
       'Usage' AS ChargeCategory, 'AWS' AS ProviderName, 'Compute' AS ServiceCategory,
       ['Amazon EC2', 'Amazon S3', 'Amazon SageMaker', 'Amazon EBS', 'AWS Lambda',
        'Amazon RDS', 'Amazon CloudWatch', 'Amazon VPC'][n % 8 + 1] AS ServiceName,
       '1111' || (n % $2 % 7) AS SubAccountId, 'account-' || (n % $2 % 7) AS SubAccountName,
       ['us-east-1', 'us-west-2', 'eu-west-1'][n % $2 % 3 + 1] AS RegionId,
       '{"team": "t' || (n % $2 % 13) || '"}' AS Tags,
       'r-' || (n % $2) AS ResourceId, CAST(24 AS DECIMAL(38, 12)) AS ConsumedQuantity,
       'bench' AS x_source
FROM range($3) t(n)
"""

PRICES = """
INSERT INTO prices BY NAME
SELECT * FROM (VALUES
    ('aws', 'us-east-1', 'g5.xlarge', 'Hours', 1.006, 'USD', 'bench', 4, 16.0, 1, 'A10G', true),
    ('aws', 'us-east-1', 'c6i.2xlarge', 'Hours', 0.34, 'USD', 'bench', 8, 16.0, 0, NULL, true),
    ('aws', 'us-east-1', 'c6i.8xlarge', 'Hours', 1.36, 'USD', 'bench', 32, 64.0, 0, NULL, true),
    ('aws', 'us-east-1', 'm4.4xlarge', 'Hours', 0.80, 'USD', 'bench', 16, 64.0, 0, NULL, false),
    ('aws', 'us-east-1', 'm6i.4xlarge', 'Hours', 0.768, 'USD', 'bench', 16, 64.0, 0, NULL, true)
) p(provider, region, instance_type, unit, price_per_hour, currency, source, vcpus,
    memory_gb, gpu_count, gpu_model, current_generation)
"""


def build(store: Store, rows: int, resources: int) -> float:
    started = time.perf_counter()
    store.init()
    params = {"as_of": AS_OF, "resources": resources}
    with store.writer() as con:
        con.execute(RESOURCES, params)
        con.execute(METRICS, params)
        con.execute(PRICES)
    store.load([Batch("cost", Scan(COST, [AS_OF, resources, rows]), label="billing")])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="billing lines")
    parser.add_argument("--resources", type=int, default=100_000, help="resources")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlcost-bench-", dir=args.workdir) as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        built = build(store, args.rows, args.resources)
        with store.reader() as con:
            (metrics,) = con.execute("SELECT count(*) FROM metrics").fetchone() or (0,)
        print(
            f"organisation: {args.rows:,} billing rows, {args.resources:,} resources, "
            f"{metrics:,} metric samples (generated in {built:.1f} s)"
        )
        started = time.perf_counter()
        result = analyze_recommendations(store)
        total = time.perf_counter() - started
        print(f"{'rule':<22}{'findings':>10}{'seconds':>10}")
        for rule in result.rules:
            print(f"{rule.rule:<22}{rule.findings:>10,}{rule.seconds:>10.2f}")
        rules_time = sum(r.seconds for r in result.rules)
        print(f"{'shared views + load':<22}{'':>10}{total - rules_time:>10.2f}")
        print(f"{'analyze (rules)':<22}{result.findings:>10,}{total:>10.2f}")


if __name__ == "__main__":
    main()
