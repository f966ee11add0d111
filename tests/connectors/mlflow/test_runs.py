"""The MLflow connector against a real MLflow SQLite store (the scene of test_attribution)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from mlcost.connectors.mlflow.runs import resource_ids

from mlcost.errors import InputError
from mlcost.ingest import ingest_mlflow
from mlcost.store import Store
from tests.conftest import Cli
from tests.test_attribution import ARN, build_mlflow


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    return build_mlflow(tmp_path_factory.mktemp("mlflow"))


def test_tag_convention_names_the_machines() -> None:
    assert resource_ids({"mlcost.resource_id": "i-1, i-2"}) == ["i-1", "i-2"]
    assert resource_ids({"sagemaker.training_job_arn": ARN}) == [ARN]
    assert resource_ids({"mlcost.host": "gpu-box", "host": "other"}) == ["host:gpu-box"]
    assert resource_ids({"team": "vision"}) == []


def test_runs_sweeps_and_system_metrics_are_loaded(
    store: Store, mlflow_store: tuple[str, dict[str, str]]
) -> None:
    uri, ids = mlflow_store
    result = ingest_mlflow(store, uri)
    assert result.rows_in["runs"] == 8
    with store.reader() as con:
        runs = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT name, experiment, parent_run_id, status, started_at, ended_at, "
                "resource_ids, gpu_count, metrics, source FROM runs"
            ).fetchall()
        }
        samples = con.execute(
            "SELECT metric, stat, ts, value FROM metrics WHERE resource_id = ? ORDER BY 1, 3",
            ["mlflow-run:" + ids["A"]],
        ).fetchall()
    a = runs["A"]
    assert a[:5] == (
        "detector",
        ids["sweep-1"],
        "FINISHED",
        datetime(2026, 1, 5, 10),
        datetime(2026, 1, 5, 12),
    )
    assert json.loads(a[5]) == ["i-gpu"]
    assert a[6] == 2
    assert json.loads(a[7]) == {"val_map": 0.6}
    assert a[8] == "mlflow"
    assert json.loads(runs["D"][5]) == [ARN]
    assert json.loads(runs["E"][5]) == ["host:cpu-box"]
    assert runs["E"][0] == "cpu-jobs"
    assert samples == [
        ("cpu_util_pct", "Average", datetime(2026, 1, 5, 10, 10), 30.0),
        ("cpu_util_pct", "Average", datetime(2026, 1, 5, 11, 10), 30.0),
        ("gpu_util_pct", "Average", datetime(2026, 1, 5, 10, 10), 50.0),
        ("gpu_util_pct", "Average", datetime(2026, 1, 5, 11, 10), 70.0),
        ("val_map", "Value", datetime(2026, 1, 5, 12), 0.6),
    ]
    # Loading again replaces each experiment: nothing doubles.
    again = ingest_mlflow(store, uri, ["detector"])
    assert again.rows_in["runs"] == 6
    assert again.rows_replaced["runs"] == 6
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM runs").fetchall() == [(8,)]


def test_unknown_experiment_is_refused(
    store: Store, mlflow_store: tuple[str, dict[str, str]]
) -> None:
    uri, _ = mlflow_store
    with pytest.raises(InputError, match="no experiment named 'nope'"):
        ingest_mlflow(store, uri, ["nope"])


def test_cli_ingest_mlflow(db: str, mlflow_store: tuple[str, dict[str, str]], cli: Cli) -> None:
    uri, _ = mlflow_store
    done = cli("--db", db, "ingest", "mlflow", "--tracking-uri", uri, "--experiment", "cpu-jobs")
    assert done.returncode == 0, done.stderr
    assert "runs: 2 rows loaded in 1 partition(s)" in done.stdout
    done = cli("--db", db, "ingest", "mlflow", "--tracking-uri", uri, "--experiment", "nope")
    assert done.returncode == 1
    assert "mlcost: MLflow at" in done.stderr


def test_unreadable_tracking_uri_is_one_clear_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="could not be read"):
        ingest_mlflow(store, f"sqlite:///{tmp_path / 'missing' / 'nowhere' / 'm.db'}")
