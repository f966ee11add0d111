"""CUR conversion benchmark: rows per second of `mlcost ingest billing` on AWS CUR files,
beside DuckDB's plain load of the same file.

    .venv/bin/python bench/cur.py                         # 5M rows, each CUR flavour
    .venv/bin/python bench/cur.py --rows 1000000 --flavours legacy.csv.gz

The CUR is made from the sample generator's FOCUS rows (`python -m mlcost.sample OUT
--rows N`), rewritten by DuckDB under CUR column names: legacy CSV.gz
(`lineItem/UnblendedCost`, one `resourceTags/user:*` column per tag), legacy Parquet
(`line_item_unblended_cost`, `resource_tags_user_*`) and CUR 2.0 Parquet (a
`resource_tags` map). Each load runs in a fresh process (see bench/ingest.py).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import duckdb
from ingest import measure  # type: ignore[import-not-found]

from mlcost.sample import write_sample

# CUR column ← SQL over the generated FOCUS file. Line item types follow the categories.
_COMMON = {
    "identity/LineItemId": "md5(ResourceId || CAST(ChargePeriodStart AS VARCHAR))",
    "bill/PayerAccountId": "BillingAccountId",
    "bill/BillingPeriodStartDate": "strftime(BillingPeriodStart, '%Y-%m-%dT%H:%M:%SZ')",
    "bill/BillingPeriodEndDate": "strftime(BillingPeriodEnd, '%Y-%m-%dT%H:%M:%SZ')",
    "bill/InvoiceId": "InvoiceId",
    "lineItem/UsageAccountId": "SubAccountId",
    "lineItem/LineItemType": (
        "CASE ChargeCategory WHEN 'Usage' THEN 'Usage' WHEN 'Purchase' THEN 'Fee' "
        "WHEN 'Tax' THEN 'Tax' WHEN 'Credit' THEN 'Credit' ELSE 'Refund' END"
    ),
    "lineItem/UsageStartDate": "strftime(ChargePeriodStart, '%Y-%m-%dT%H:%M:%SZ')",
    "lineItem/UsageEndDate": "strftime(ChargePeriodEnd, '%Y-%m-%dT%H:%M:%SZ')",
    "lineItem/ProductCode": "ServiceName",
    "lineItem/UsageType": "SkuId",
    "lineItem/Operation": "'RunInstances'",
    "lineItem/ResourceId": "ResourceId",
    "lineItem/UsageAmount": "ConsumedQuantity",
    "lineItem/CurrencyCode": "BillingCurrency",
    "lineItem/UnblendedCost": "BilledCost",
    "lineItem/LineItemDescription": "ChargeDescription",
    "product/ProductName": "ServiceName",
    "product/productFamily": "ServiceCategory",
    "product/region": "RegionId",
    "pricing/publicOnDemandCost": "ListCost",
}
_TAGS = ("team", "project", "env")
FLAVOURS = ("legacy.csv.gz", "legacy.parquet", "cur2.parquet")


def _snake(header: str) -> str:
    from mlcost.connectors.files.aws_cur import cur_name

    return cur_name(header)


def write_cur(focus: Path, flavour: str, out: Path) -> Path:
    """The generated FOCUS file rewritten as one CUR flavour."""
    path = out / f"cur-{flavour}"
    legacy_csv = flavour == "legacy.csv.gz"
    columns = [
        f"{sql} AS {duckdb_ident(name if legacy_csv else _snake(name))}"
        for name, sql in _COMMON.items()
    ]
    if flavour == "cur2.parquet":
        columns.append(
            "map_from_entries(list_transform(map_entries(CAST(Tags::JSON AS "
            "MAP(VARCHAR, VARCHAR))), lambda e: struct_pack(k := 'user_' || e.key, "
            "v := e.value))) AS resource_tags"
        )
    else:
        for tag in _TAGS:
            name = f"resourceTags/user:{tag}" if legacy_csv else f"resource_tags_user_{tag}"
            columns.append(f"json_extract_string(Tags, '$.{tag}') AS {duckdb_ident(name)}")
    options = "(FORMAT csv, HEADER, COMPRESSION gzip)" if legacy_csv else "(FORMAT parquet)"
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT {', '.join(columns)} FROM read_parquet(?)) TO "  # noqa: S608
            "'" + str(path).replace("'", "''") + f"' {options}",
            [str(focus)],
        )
    return path


def duckdb_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5_000_000])
    parser.add_argument("--flavours", nargs="+", default=list(FLAVOURS), choices=FLAVOURS)
    args = parser.parse_args()
    print(
        f"{'CUR':<15} {'rows':>11} {'mlcost s':>9} {'rows/s':>10} {'peak MB':>8} "
        f"{'duckdb s':>9} {'rows/s':>10} {'ratio':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="mlcost-bench-cur-") as tmp:
        workdir = Path(tmp)
        for rows in args.rows:
            focus = write_sample(workdir / "focus", rows=rows, fmt="parquet")["cost"]
            for flavour in args.flavours:
                path = write_cur(focus, flavour, workdir)
                ours = measure("mlcost", path, workdir)
                floor = measure("duckdb", path, workdir)
                assert ours["rows"] == floor["rows"] == rows, (ours, floor)
                print(
                    f"{flavour:<15} {rows:>11,} {ours['seconds']:>9.1f} "
                    f"{rows / ours['seconds']:>10,.0f} {ours['peak_mb']:>8.0f} "
                    f"{floor['seconds']:>9.1f} {rows / floor['seconds']:>10,.0f} "
                    f"{ours['seconds'] / floor['seconds']:>6.1f}",
                    flush=True,
                )
                path.unlink()
            focus.unlink()


if __name__ == "__main__":
    main()
