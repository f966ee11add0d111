"""`pip install mlcost` without the spark extra works: nothing imports pyspark or sqlglot
unless the Spark engine is asked for."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import focus_row, write_csv

# Run in a fresh interpreter where importing pyspark or sqlglot fails, as where the extra
# is not installed: the CLI and an analysis must not notice.
_SCRIPT = textwrap.dedent(
    """
    import sys

    class NoSpark:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("pyspark", "sqlglot", "py4j"):
                raise ImportError(f"{name} is blocked (the spark extra is not installed)")
            return None

    sys.meta_path.insert(0, NoSpark())
    import mlcost.cli  # noqa: F401  (every command's imports)
    from mlcost.analysis import run_analyses
    from mlcost.config import Settings
    from mlcost.ingest import ingest_billing
    from mlcost.lake import export_lake
    from mlcost.store import Store

    store = Store(sys.argv[1])
    store.init()
    ingest_billing(store, [sys.argv[2]])
    result = run_analyses(store, Settings())
    export_lake(store, __import__("pathlib").Path(sys.argv[3]))
    with store.reader() as con:
        print(con.execute("SELECT sum(BilledCost) FROM cost").fetchone()[0])
    print(result.recommendations.as_of)
    print(sorted(m for m in sys.modules if m.split(".")[0] in ("pyspark", "sqlglot")))
    """
)


def test_mlcost_runs_an_analysis_with_pyspark_and_sqlglot_unavailable(tmp_path: Path) -> None:
    billing = write_csv(
        tmp_path / "billing.csv",
        [focus_row(BilledCost="3.50"), focus_row(ResourceId="i-0def", BilledCost="1.25")],
    )
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            _SCRIPT,
            str(tmp_path / "mlcost.duckdb"),
            str(billing),
            str(tmp_path / "lake"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["4.750000000000", "2026-01-06 00:00:00", "[]"]
    assert (tmp_path / "lake" / "cost" / "2026-01.parquet").is_file()
