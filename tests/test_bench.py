"""The benchmarks run (how fast is for `bench/`, not for tests): a small smoke version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "bench"


def test_analyze_benchmark_runs_and_prints_a_time_per_rule(tmp_path: Path) -> None:
    from mlcost.rules import RULE_IDS

    done = subprocess.run(
        [sys.executable, str(BENCH / "analyze.py"), "--rows", "20000", "--resources", "500",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("organisation: 20,000 billing rows, 500 resources")
    printed = {line.split()[0] for line in lines[2:]}
    assert set(RULE_IDS) <= printed
    # the generated organisation has idle VMs and unattached disks to find
    counts = {line.split()[0]: line.split()[1] for line in lines[2 : 2 + len(RULE_IDS)]}
    assert int(counts["idle_vm"].replace(",", "")) > 0
    assert int(counts["unattached_volume"].replace(",", "")) > 0


def test_make_bench_suite_runs_and_prints_its_table(tmp_path: Path) -> None:
    """`make bench` at tiny sizes: every format, analysis and page gets a figure."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "suite.py"), "--smoke", "--workdir", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("mlcost benchmark on ")
    ingest = [line for line in lines if line.startswith(("FOCUS", "CUR"))]
    assert len(ingest) == 6  # three formats at two sizes
    for line in ingest:
        fields = line[16:].split()  # after the format's name
        # rows, mlcost seconds, rows/s, peak MB, duckdb seconds, ratio, pandas figures
        numbers = [f for f in fields if f.replace(",", "").replace(".", "").isdigit()]
        assert len(numbers) == 9, line
        assert float(numbers[5]) > 0  # ×duckdb
    assert {line[16:].split()[0] for line in ingest} == {"2,000", "5,000"}
    analyze = lines.index(next(line for line in lines if line.startswith("analyze (s)")))
    assert lines[analyze].split()[3:] == ["rules", "anomalies", "run", "costs", "total"]
    assert len(lines[analyze + 1].split()) == 5
    # the Spark lines are skipped at smoke sizes (a session's start outweighs 5,000 rows)
    assert any(
        line.startswith("spark analyze") and "skipped in the smoke run" in line for line in lines
    )
    dashboard = lines.index(next(line for line in lines if line.startswith("dashboard (s)")))
    assert len(lines[dashboard + 2].split()) == 6  # rows + five pages
    # the Overview page rendered, uncached, against its target, at each size
    rendered = [line for line in lines if line.startswith("Overview render")]
    assert [line.split()[2] for line in rendered] == ["2,000", "5,000"]
    for line in rendered:
        assert " s uncached, " in line and "the 1 s target" in line, line
        assert float(line.split("rows: ")[1].split()[0]) > 0, line
    # ingest by physical layout: each layout beside DuckDB's plain load of the same files
    layouts = lines.index("ingest by physical layout, 3,000 rows")
    rows = lines[layouts + 2 : layouts + 5]
    assert [r.split(":")[0].split()[0] for r in rows] == ["baseline", "money", "AWS"]
    for row in rows:
        figures = row[44:].split()  # rows, mlcost s, after s, peak, duckdb s, peak, ×file…
        assert figures[0] == "3,000", row
        assert float(figures[6]) > 0, row
    assert len(rows[2][44:].split()) == 8  # the CUR line has ×focus too
    cli = next(line for line in lines if line.startswith("CLI start"))
    assert "mlcost --help" in cli and " s (median of 5)" in cli
    store = lines.index(next(line for line in lines if line.startswith("store load")))
    sizes = [line for line in lines[store + 1 :] if line.startswith(" ")]
    for line in sizes:
        # store rows, load rows, load s, reads, failed, mixed, longest s, idle s, disk MB x3
        _rows, loaded, _, reads, failed, mixed, *_ = line.split()
        assert loaded == "1,000" and int(reads) >= 1, line
        assert (failed, mixed) == ("0", "0"), line  # no read failed or saw half a load
    assert [line.split()[0] for line in sizes] == ["2,000", "5,000"]
    assert any(line.startswith("store load time, largest store / smallest:") for line in lines)
    sql = 'mlcost sql "SELECT * FROM cost" --format csv on 5,000 rows: '
    assert any(line.startswith(sql) and "peak" in line for line in lines)
    assert list(tmp_path.iterdir()) == []  # generated files are removed


def test_the_suite_can_run_one_format_and_skip_the_analyses(tmp_path: Path) -> None:
    """How the README's 50M-row CSV.gz line is measured on its own."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "suite.py"), "--smoke", "--workdir", str(tmp_path),
         "--formats", "focus-csv.gz", "--ingest-only", "--csv-max-rows", "2000",
         "--layout-rows", "0", "--skip-store"],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ingest = [line for line in done.stdout.splitlines() if line.startswith(("FOCUS", "CUR"))]
    assert [line.split()[2] for line in ingest] == ["2,000", "5,000"]
    assert "not run (over --csv-max-rows)" in ingest[1]
    assert "analyze (s)" not in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_the_layout_table_keeps_each_sides_fastest_load() -> None:
    """`bench/layouts.py --repeat N`: the fastest of each side's loads, an error only
    where every one failed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_layouts", BENCH / "layouts.py")
    assert spec is not None and spec.loader is not None
    layouts = importlib.util.module_from_spec(spec)
    sys.modules["bench_layouts"] = layouts  # its dataclasses look their module up
    sys.path.insert(0, str(BENCH))
    try:
        spec.loader.exec_module(layouts)
    finally:
        sys.path.remove(str(BENCH))
        del sys.modules["bench_layouts"]
    assert layouts.best([{"s": 3.0}, {"error": "failed"}, {"s": 2.5}]) == {"s": 2.5}
    assert layouts.best([{"error": "a"}, {"error": "b"}]) == {"error": "a"}
