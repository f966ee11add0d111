"""The sample organisation through the real loader, and the demo from any folder."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from subprocess import CompletedProcess

import pyarrow.parquet as pq

from mlcost.ingest import ingest_sample
from mlcost.store import Store

SAMPLE = Path(__file__).parent.parent / "sample_data"


def test_the_sample_loads_with_totals_that_match_its_file_to_the_cent(store: Store) -> None:
    result = ingest_sample(store)

    rows = pq.read_table(SAMPLE / "cost.parquet").to_pylist()
    expected: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in rows:  # summed in Python, independently of DuckDB
        expected[row["ProviderName"]][0] += row["BilledCost"]
        expected[row["ProviderName"]][1] += row["EffectiveCost"]
    with store.reader() as con:
        got = con.execute(
            "SELECT ProviderName, sum(BilledCost), sum(EffectiveCost) FROM cost GROUP BY 1"
        ).fetchall()
        counts = dict(
            con.execute(
                "SELECT 'resources', count(*) FROM resources UNION ALL "
                "SELECT 'metrics', count(*) FROM metrics UNION ALL "
                "SELECT 'runs', count(*) FROM runs UNION ALL SELECT 'prices', count(*) FROM prices"
            ).fetchall()
        )
    assert {p: [b, e] for p, b, e in got} == dict(expected)
    assert result.rows_in["cost"] == len(rows)
    for table in ("resources", "metrics", "runs", "prices"):
        assert counts[table] == pq.read_metadata(SAMPLE / f"{table}.parquet").num_rows

    again = ingest_sample(store)  # loading it twice changes nothing
    assert again.rows_replaced == again.rows_in
    with store.reader() as con:
        assert sorted(
            con.execute(
                "SELECT ProviderName, sum(BilledCost), sum(EffectiveCost) FROM cost GROUP BY 1"
            ).fetchall()
        ) == sorted(got)


def test_demo_runs_from_an_empty_folder_without_input(
    cli: Callable[..., CompletedProcess[str]], tmp_path: Path
) -> None:
    done = cli("demo", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mlcost.duckdb").exists()
    # The data's span ends with its last usage, not with a commitment term bought in it.
    assert "2026-08-03 to 2026-10-31" in done.stdout
    for text in ("Spend by provider", "AWS", "Microsoft", "Google Cloud", "Spend by month"):
        assert text in done.stdout
    assert "166,707.39" in done.stdout  # AWS, as the sample's own file sums it
    rerun = cli("demo", cwd=tmp_path, timeout=300)  # a second demo replaces, never adds
    assert rerun.returncode == 0 and "166,707.39" in rerun.stdout
