"""A store's input tables as a Parquet lake: the layout the Spark engine reads in place.

``DIR/cost/<billing period>.parquet`` (the FOCUS ``cost`` table, one file per billing
period, as the clouds' FOCUS exports are partitioned) and ``DIR/<table>/<table>.parquet``
for inventory, metrics, prices and runs. DuckDB writes each file itself (``COPY``),
streaming from the store.
"""

from __future__ import annotations

from pathlib import Path

from mlcost.store import Store, quote_ident

#: The store's tables an analysis reads, as a lake holds them (``mlcost export lake``).
LAKE_TABLES = ("cost", "resources", "metrics", "prices", "runs")

_PERIOD_ROWS = "SELECT * FROM cost WHERE strftime(BillingPeriodStart, '%Y-%m') = $p"


def export_lake(store: Store, folder: Path) -> list[Path]:
    """Write the store's input tables under ``folder``; returns the files written."""
    written: list[Path] = []
    with store.reader() as con:
        # tables and views alike: `cost` is a view over the store's billing files
        present = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        for table in LAKE_TABLES:
            if table not in present:
                continue
            (folder / table).mkdir(parents=True, exist_ok=True)
            if table == "cost":
                periods = [
                    r[0]
                    for r in con.execute(
                        "SELECT DISTINCT strftime(BillingPeriodStart, '%Y-%m') FROM cost "
                        "WHERE BillingPeriodStart IS NOT NULL ORDER BY 1"
                    ).fetchall()
                ]
                for period in periods:
                    target = folder / "cost" / f"{period}.parquet"
                    con.execute(
                        f"COPY ({_PERIOD_ROWS}) TO '{_quoted(target)}' (FORMAT parquet)",
                        {"p": period},
                    )
                    written.append(target)
                continue
            target = folder / table / f"{table}.parquet"
            con.execute(
                f"COPY (SELECT * FROM {quote_ident(table)}) TO '{_quoted(target)}' "  # noqa: S608
                "(FORMAT parquet)"
            )
            written.append(target)
    return written


def _quoted(path: Path) -> str:
    """A path as SQL text (COPY takes its target as a literal; the path is the user's)."""
    return str(path).replace("'", "''")
