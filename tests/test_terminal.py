"""What a terminal shows: ids whole at any width (or typed short, as git takes hashes),
money to the cent with thousands separators, counts in plain digits, and JSON exports
that nest evidence, tags and drivers as objects."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from mlcost.anomalies import list_anomalies
from mlcost.output import table_to_text
from mlcost.recommendations import list_recommendations
from mlcost.store import Store
from tests.conftest import Cli, copy_store, run_main


@pytest.mark.parametrize("columns", ["80", "140"])
@pytest.mark.parametrize("command", ["recommendations", "anomalies"])
def test_ids_are_never_cut_in_a_terminal_table(
    cli: Cli, sample_master: Path, command: str, columns: str
) -> None:
    store = Store(sample_master)
    with store.reader() as con:
        ids = (
            list_recommendations(con).column("id").to_pylist()
            if command == "recommendations"
            else list_anomalies(store).column("id").to_pylist()
        )
    done = cli("--db", str(sample_master), command, "--format", "table", env={"COLUMNS": columns})
    assert done.returncode == 0, done.stderr
    shown = re.findall(r"^│ ([0-9a-f]{12}) ", done.stdout, re.MULTILINE)
    assert shown == ids[: len(shown)] and len(shown) == min(len(ids), 200)
    assert not re.search(r"^│ [0-9a-f]*…", done.stdout, re.MULTILINE)


def test_amounts_are_whole_to_the_cent_and_counts_are_plain_digits(
    cli: Cli, sample_master: Path
) -> None:
    done = cli("--db", str(sample_master), "experiments", "--format", "table",
               env={"COLUMNS": "100"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "e+0" not in done.stdout
    # foundation-vision/pretrain-vit-h: 33,649.9 GPU-hours, 80,867.11 of cost
    assert "33,649.9" in done.stdout and "80,867.11" in done.stdout
    # the metric the best values are of is named
    assert "val_top1" in done.stdout and "val_map" in done.stdout


def test_terminal_rendering_of_figures() -> None:
    table = pa.table(
        {
            "id": ["0123456789ab"],
            "amount": pa.array([Decimal("80867.113912888846")], pa.decimal128(38, 12)),
            "gpu_hours": [33649.91],
            "share": [0.000012],
            "count": [1234567],
        }
    )
    text = table_to_text(table, "table")
    assert "80,867.11" in text and "33,649.9" in text and "1,234,567" in text
    assert "1.20e-05" in text and "80867.113" not in text


def test_show_dismiss_reopen_and_ack_take_a_unique_prefix(
    capsys: pytest.CaptureFixture[str], sample_master: Path, tmp_path: Path
) -> None:
    db = str(copy_store(sample_master, tmp_path / "copy"))
    store = Store(db)
    with store.reader() as con:
        ids = list_recommendations(con).column("id").to_pylist()
    first = ids[0]
    short = next(first[:n] for n in range(4, 13) if sum(i.startswith(first[:n]) for i in ids) == 1)
    shown = run_main(capsys, "--db", db, "recommendations", "show", short.upper())
    assert shown.code == 0 and f"id: {first}" in shown.stdout
    done = run_main(capsys, "--db", db, "recommendations", "dismiss", short, "--reason", "kept")
    assert done.stdout.startswith(f"Dismissed {first}.")
    assert run_main(capsys, "--db", db, "recommendations", "reopen", short).code == 0
    anomaly = list_anomalies(store).column("id")[0].as_py()
    acked = run_main(capsys, "--db", db, "anomalies", "ack", anomaly[:6], "--reason", "planned")
    assert acked.code == 0, acked.stderr
    (row,) = [r for r in list_anomalies(store).to_pylist() if r["id"] == anomaly]
    assert row["status"] == "acknowledged"
    # too short, or the start of several ids: one sentence, exit 1
    assert run_main(capsys, "--db", db, "recommendations", "show", first[:3]).code == 1
    common = next((a[:4] for a in ids for b in ids if a != b and a[:4] == b[:4]), None)
    if common is not None:
        ambiguous = run_main(capsys, "--db", db, "recommendations", "show", common)
        assert ambiguous.code == 1 and "is ambiguous" in ambiguous.stderr


def test_json_exports_nest_evidence_tags_and_drivers_as_objects(
    capsys: pytest.CaptureFixture[str], sample_master: Path
) -> None:
    db = str(sample_master)
    findings = json.loads(run_main(capsys, "--db", db, "recommendations", "-f", "json").stdout)
    gpu = next(f for f in findings if f["rule"] == "idle_gpu")
    assert isinstance(gpu["evidence"], dict) and gpu["evidence"]["gpu_count"] >= 1
    assert isinstance(gpu["tags"], dict) and "team" in gpu["tags"]
    # money stays exact; CSV keeps the JSON as text in one cell
    assert isinstance(gpu["estimated_monthly_savings"], float | int)
    as_csv = run_main(capsys, "--db", db, "recommendations", "-f", "csv").stdout
    row = next(r for r in csv.DictReader(io.StringIO(as_csv)) if r["id"] == gpu["id"])
    assert json.loads(row["evidence"]) == gpu["evidence"]
    anomalies = json.loads(run_main(capsys, "--db", db, "anomalies", "-f", "json").stdout)
    assert isinstance(anomalies[0]["drivers"], list)
    assert {"dimension", "value", "change"} <= set(anomalies[0]["drivers"][0])
