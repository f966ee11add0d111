"""The three store designs weighed in docs/store-design.md, as small prototypes.

    .venv/bin/python bench/store_prototypes.py 5000000 500000   # store rows, load rows

Each loads L generated billing rows (replacing one source's rows) into a store of N:
(a) one DuckDB file, the load then a whole-file copy for readers; (b) the load staged
in a side file, then merged into the store with the file held; (c) the load written as
a Parquet file, then swapped into a small list. Printed: seconds per step, disk, and an
aggregate over the store read from the table and from the Parquet files.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

ROWS = """
SELECT CAST(1.25 + (n % 7) AS DECIMAL(38,12)) AS BilledCost,
       CAST(1.1 + (n % 5) AS DECIMAL(38,12)) AS EffectiveCost, 'USD' AS BillingCurrency,
       TIMESTAMP '2026-01-01' + to_days(CAST(n % 3650 AS INTEGER) // 120 * 30)
           AS BillingPeriodStart,
       TIMESTAMP '2026-01-01' + to_hours(CAST(n % 5000 AS INTEGER)) AS ChargePeriodStart,
       'Usage' AS ChargeCategory, 'AWS' AS ProviderName, 'svc' || (n % 40) AS ServiceName,
       'r-' || (n % 100000) AS ResourceId, 'acct' || (n % 20) AS SubAccountId,
       '{"team":"t' || (n % 13) || '"}' AS Tags, 'src' || (n // $per) AS x_source,
       TIMESTAMP '2026-12-01' AS x_ingested_at
FROM range($rows) t(n)
"""
QUERY = "SELECT ServiceName, sum(BilledCost) FROM {} GROUP BY 1"


def timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def main() -> None:
    n, load = int(sys.argv[1]), int(sys.argv[2])
    params = {"rows": n, "per": load}
    new = {"rows": load, "per": load}  # source src0: replaces the store's first source
    with tempfile.TemporaryDirectory(prefix="mlcost-proto-") as tmp:
        work = Path(tmp)
        db, stage, parts = work / "a.duckdb", work / "stage.duckdb", work / "parts"
        with duckdb.connect(str(db)) as con:
            con.execute(f"CREATE TABLE cost AS {ROWS}", params)

        def a_load() -> None:
            with duckdb.connect(str(db)) as con:
                con.execute("SET memory_limit = '512MB'; BEGIN")
                con.execute("DELETE FROM cost WHERE x_source = 'src0'")
                con.execute(f"INSERT INTO cost {ROWS}", new)
                con.execute("COMMIT; CHECKPOINT")

        a = timed(a_load)
        a_copy = timed(lambda: shutil.copyfile(db, str(db) + ".snapshot"))
        a_mb = db.stat().st_size / 2**20

        def b_stage() -> None:
            with duckdb.connect(str(stage)) as con:
                con.execute(f"CREATE TABLE cost AS {ROWS}", new)

        def b_merge() -> None:
            with duckdb.connect(str(db)) as con:
                con.execute("SET memory_limit = '512MB'")
                con.execute(f"ATTACH '{stage}' AS stage (READ_ONLY); BEGIN")
                con.execute("DELETE FROM cost WHERE x_source = 'src0'")
                con.execute("INSERT INTO cost SELECT * FROM stage.cost")
                con.execute("COMMIT; CHECKPOINT")

        b, b_lock = timed(b_stage), timed(b_merge)
        with duckdb.connect() as con:
            con.execute(
                f"COPY ({ROWS}) TO '{parts}' "
                "(FORMAT parquet, PARTITION_BY (x_source), COMPRESSION zstd)",
                params,
            )
        listing = work / "c.duckdb"
        with duckdb.connect(str(listing)) as con:
            con.execute("CREATE TABLE parts (x_source VARCHAR, path VARCHAR)")

        def c_write() -> None:
            with duckdb.connect() as con:
                con.execute(
                    f"COPY ({ROWS}) TO '{parts}/new.parquet' (FORMAT parquet, COMPRESSION zstd)",
                    new,
                )

        def c_swap() -> None:
            with duckdb.connect(str(listing)) as con:
                con.execute("BEGIN; DELETE FROM parts WHERE x_source = 'src0'")
                con.execute("INSERT INTO parts VALUES ('src0', 'new.parquet'); COMMIT")

        c, c_lock = timed(c_write), timed(c_swap)
        c_mb = sum(p.stat().st_size for p in parts.rglob("*") if p.is_file()) / 2**20
        with duckdb.connect(str(db), read_only=True) as con:
            from_table = timed(lambda: con.execute(QUERY.format("cost")).fetchall())
        with duckdb.connect() as con:
            files = f"read_parquet('{parts}/**/*.parquet')"
            from_parquet = timed(lambda: con.execute(QUERY.format(files)).fetchall())
    print(
        f"store {n:,} rows, load {load:,}: (a) load {a:.2f} s + copy {a_copy:.2f} s, "
        f"{a_mb:.0f} MB | (b) stage {b:.2f} s + merge, file held, {b_lock:.2f} s | "
        f"(c) write {c:.2f} s + swap {c_lock:.3f} s, {c_mb:.0f} MB | aggregate: table "
        f"{from_table:.2f} s, Parquet {from_parquet:.2f} s; {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
