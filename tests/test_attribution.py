"""Run costs from a real MLflow store and billing rows, every figure computed by hand.

The scene (2026-01-05, UTC): GPU box ``i-gpu`` (g5.12xlarge, 4 GPUs) is billed by the
hour, 8.00 an hour from 10:00 to 13:00. A sweep ``sweep-1`` runs three trials on it:

* trial A: 2 GPUs, 10:00-12:00, val_map 0.6, GPUs 50 % and 70 % busy (efficiency 0.6);
* trial B: 2 GPUs, 10:30-11:30, val_map 0.5;
* trial C: 4 GPUs, 12:00-12:30, val_map 0.7.

10-11h: A holds 2/4 for 3600 s, B 2/4 for 1800 s: A 4.00, B 2.00, idle 2.00.
11-12h: the same: A 4.00, B 2.00, idle 2.00. 12-13h: C 4/4 for 1800 s: 4.00, idle 4.00.
So A 8.00, B 4.00, C 4.00, idle 8.00 = 24.00 billed; the sweep 16.00.

CPU box ``cpu-box`` (i-cpu, 16 vCPUs) has one daily row, 24.00 for 24 hours. Run E
(host tag ``cpu-box``, no vCPU tag: the whole machine) 06:00-12:00: 24 x 6/24 = 6.00;
run F (``mlcost.vcpus`` 4) 12:00-18:00: 24 x 6/24 x 4/16 = 1.50; idle 16.50.

SageMaker job run D: its ARN's line, 5.25, is its own (tagged). Run G holds i-gpu's
4 GPUs on 2026-01-06 02:00-04:00, after the last billed day: estimated 2 h x 5.672.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from mlcost.attribution import RunSpan, analyze_run_costs, split_by_day, split_charge
from mlcost.experiments import experiment_table, run_table
from mlcost.ingest import ingest_billing, ingest_mlflow
from mlcost.schema import arrow_schema
from mlcost.store import Batch, Store
from tests.conftest import Cli, focus_row, write_csv

ARN = "arn:aws:sagemaker:us-east-1:222222222222:training-job/det-1"
DAY = datetime(2026, 1, 5)


def at(hour: int, minute: int = 0, day: int = 5) -> int:
    """Epoch milliseconds (MLflow's clock) of a UTC time."""
    return int(datetime(2026, 1, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def build_mlflow(root: Path) -> tuple[str, dict[str, str]]:
    """An MLflow SQLite store holding the scene's experiments and runs; (uri, ids)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    det = client.create_experiment("detector", artifact_location=str(root / "artifacts"))
    ops = client.create_experiment("cpu-jobs", artifact_location=str(root / "artifacts"))
    ids: dict[str, str] = {}

    def run(
        exp: str,
        name: str,
        start: int,
        end: int,
        tags: dict[str, str],
        metrics: dict[str, float] | None = None,
    ) -> str:
        r = client.create_run(exp, start_time=start, tags=tags, run_name=name)
        run_id = r.info.run_id
        for key, value in (metrics or {}).items():
            client.log_metric(run_id, key, value, timestamp=end, step=1)
        client.set_terminated(run_id, "FINISHED", end_time=end)
        ids[name] = run_id
        return run_id

    parent = run(det, "sweep-1", at(10), at(12, 30), {"mlflow.runType": "sweep"})
    child = {"mlflow.parentRunId": parent, "mlcost.resource_id": "i-gpu"}
    a = run(det, "A", at(10), at(12), {**child, "mlcost.gpu_count": "2"}, {"val_map": 0.6})
    for minute, (g0, g1) in ((10, (40.0, 60.0)), (70, (60.0, 80.0))):
        stamp = at(10) + minute * 60_000
        client.log_metric(a, "system/gpu_0_utilization_percentage", g0, timestamp=stamp, step=0)
        client.log_metric(a, "system/gpu_1_utilization_percentage", g1, timestamp=stamp, step=0)
        client.log_metric(a, "system/cpu_utilization_percentage", 30.0, timestamp=stamp, step=0)
    run(det, "B", at(10, 30), at(11, 30), {**child, "mlcost.gpu_count": "2"}, {"val_map": 0.5})
    run(det, "C", at(12), at(12, 30), {**child, "mlcost.gpu_count": "4"}, {"val_map": 0.7})
    run(det, "D", at(14), at(15), {"sagemaker.training_job_arn": ARN}, {"val_map": 0.4})
    run(
        det,
        "G",
        at(2, day=6),
        at(4, day=6),
        {"mlcost.resource_id": "i-gpu", "mlcost.gpu_count": "4"},
    )
    run(ops, "E", at(6), at(12), {"mlcost.host": "cpu-box"})
    run(ops, "F", at(12), at(18), {"mlcost.host": "cpu-box", "mlcost.vcpus": "4"})
    return uri, ids


def billing(tmp_path: Path) -> Path:
    rows = []
    for hour in (10, 11, 12):
        start = DAY + timedelta(hours=hour)
        rows.append(
            focus_row(
                ResourceId="i-gpu",
                ChargePeriodStart=f"{start:%Y-%m-%dT%H:%M:%SZ}",
                ChargePeriodEnd=f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
                ConsumedQuantity="1",
                ConsumedUnit="Hours",
                BilledCost="8.00",
                EffectiveCost="8.00",
                ListCost="8.00",
            )
        )
    rows.append(
        focus_row(
            ResourceId="i-cpu",
            ConsumedQuantity="24",
            ConsumedUnit="Hours",
            BilledCost="24.00",
            EffectiveCost="24.00",
            ListCost="24.00",
        )
    )
    rows.append(
        focus_row(
            ResourceId=ARN,
            ServiceName="Amazon SageMaker",
            ConsumedQuantity="1",
            ConsumedUnit="Hours",
            BilledCost="5.25",
            EffectiveCost="5.25",
            ListCost="5.25",
        )
    )
    return write_csv(tmp_path / "bill.csv", rows)


def inventory() -> list[Batch]:
    machine = {
        "provider": "aws",
        "account_id": "222222222222",
        "region": "us-east-1",
        "resource_type": "instance",
        "state": "running",
        "source": "test",
    }
    resources = [
        {**machine, "resource_id": "i-gpu", "name": "gpu-box", "instance_type": "g5.12xlarge",
         "vcpus": 48, "gpu_count": 4},
        {**machine, "resource_id": "i-cpu", "name": "cpu-box", "instance_type": "c6i.4xlarge",
         "vcpus": 16, "gpu_count": 0},
    ]  # fmt: skip
    prices = [
        {"provider": "aws", "region": "us-east-1", "instance_type": "g5.12xlarge",
         "unit": "Hours", "price_per_hour": Decimal("5.672"), "currency": "USD",
         "source": "test"},
    ]  # fmt: skip
    return [
        Batch("resources", pa.Table.from_pylist(resources, schema=arrow_schema("resources"))),
        Batch("prices", pa.Table.from_pylist(prices, schema=arrow_schema("prices"))),
    ]


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    return build_mlflow(tmp_path_factory.mktemp("mlflow"))


@pytest.fixture
def scene(
    store: Store, tmp_path: Path, mlflow_store: tuple[str, dict[str, str]]
) -> tuple[Store, dict[str, str]]:
    uri, ids = mlflow_store
    ingest_billing(store, [str(billing(tmp_path))])
    store.load(inventory())
    ingest_mlflow(store, uri)
    analyze_run_costs(store)
    return store, ids


def costs(store: Store) -> list[dict[str, Any]]:
    with store.reader() as con:
        rows = con.execute(
            "SELECT run_id, resource_id, day, cost, method, idle_share, gpu_efficiency "
            "FROM run_costs ORDER BY method, resource_id, run_id NULLS LAST"
        ).fetchall()
    keys = ("run_id", "resource_id", "day", "cost", "method", "idle_share", "gpu_efficiency")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def test_every_run_cost_matches_the_hand_computed_answer(
    scene: tuple[Store, dict[str, str]],
) -> None:
    store, ids = scene
    name = {v: k for k, v in ids.items()}
    got = {
        (name.get(r["run_id"], "(idle)"), r["resource_id"], r["method"]): r for r in costs(store)
    }
    expected = {
        ("A", "i-gpu", "time_share"): "8.00",
        ("B", "i-gpu", "time_share"): "4.00",
        ("C", "i-gpu", "time_share"): "4.00",
        ("(idle)", "i-gpu", "time_share"): "8.00",
        ("E", "i-cpu", "time_share"): "6.00",
        ("F", "i-cpu", "time_share"): "1.50",
        ("(idle)", "i-cpu", "time_share"): "16.50",
        ("D", ARN, "tagged"): "5.25",
        ("G", "i-gpu", "estimate"): "11.344",
    }
    assert {k: v["cost"] for k, v in got.items()} == {k: Decimal(v) for k, v in expected.items()}
    # A's GPUs: (40+60)/2 then (60+80)/2, mean 60 %: 40 % of its 8.00 bought idle GPUs.
    a = got[("A", "i-gpu", "time_share")]
    assert a["gpu_efficiency"] == pytest.approx(0.6)
    assert a["idle_share"] == Decimal("3.2")
    assert got[("(idle)", "i-gpu", "time_share")]["idle_share"] == Decimal("8.00")
    assert got[("G", "i-gpu", "estimate")]["day"].isoformat() == "2026-01-06"


def test_conservation_runs_plus_idle_equal_the_bill(scene: tuple[Store, dict[str, str]]) -> None:
    store, _ = scene
    with store.reader() as con:
        mismatched = con.execute(
            """
            WITH billed AS (
                SELECT ResourceId AS rid, CAST(ChargePeriodStart AS DATE) AS day,
                       sum(EffectiveCost) AS cost
                FROM cost WHERE ResourceId IN ('i-gpu', 'i-cpu') GROUP BY ALL),
            shared AS (
                SELECT resource_id AS rid, day, sum(cost) AS cost
                FROM run_costs WHERE method = 'time_share' GROUP BY ALL)
            SELECT count(*) FROM billed FULL JOIN shared USING (rid, day)
            WHERE billed.cost IS DISTINCT FROM shared.cost
            """
        ).fetchall()
    assert mismatched == [(0,)]


def test_each_hour_splits_exactly() -> None:
    spans = [
        RunSpan("A", DAY.replace(hour=10), DAY.replace(hour=12), Decimal(2)),
        RunSpan("B", DAY.replace(hour=10, minute=30), DAY.replace(hour=11, minute=30), Decimal(2)),
        RunSpan("C", DAY.replace(hour=12), DAY.replace(hour=12, minute=30), Decimal(4)),
    ]
    expected = {10: ({"A": "4", "B": "2"}, "2"), 11: ({"A": "4", "B": "2"}, "2"),
                12: ({"C": "4"}, "4")}  # fmt: skip
    for hour, (shares, idle) in expected.items():
        start = DAY.replace(hour=hour)
        split = split_charge(Decimal("8.00"), start, start + timedelta(hours=1), spans, Decimal(4))
        assert split.shares == {k: Decimal(v) for k, v in shares.items()}
        assert split.idle == Decimal(idle)
        assert sum(split.shares.values()) + split.idle == Decimal("8.00")


def test_oversubscribed_hour_is_shared_pro_rata_and_the_remainder_is_idle() -> None:
    # Three runs each claim the whole machine for the whole hour: 10.00 / 3 each.
    start = DAY.replace(hour=9)
    end = start + timedelta(hours=1)
    spans = [RunSpan(r, start, end, Decimal(1)) for r in ("x", "y", "z")]
    split = split_charge(Decimal("10.00"), start, end, spans, Decimal(1))
    assert set(split.shares.values()) == {Decimal("3.333333333333")}
    assert split.idle == Decimal("0.000000000001")
    assert sum(split.shares.values()) + split.idle == Decimal("10.00")


def test_a_row_over_several_days_is_spread_by_time() -> None:
    pieces = split_by_day(Decimal("10"), DAY, DAY + timedelta(days=3), Decimal("72"))
    assert [p[2] for p in pieces] == [
        Decimal("3.333333333333"),
        Decimal("3.333333333333"),
        Decimal("3.333333333334"),
    ]
    assert [p[3] for p in pieces] == [Decimal("24"), Decimal("24"), Decimal("24")]


def test_sweep_leaderboard_pareto_and_cost_to_target(
    scene: tuple[Store, dict[str, str]],
) -> None:
    store, _ids = scene
    with store.reader() as con:
        runs = run_table(con, experiments=["detector"], metric="val_map", target=0.6)
    by_name = {r["name"]: r for r in runs.to_pylist()}
    sweep = by_name["sweep-1"]
    assert sweep["trials"] == 3
    assert sweep["cost"] == Decimal("16.00")
    # Trials in the order they ended: B (11:30, 4.00, 0.5), A (12:00, 8.00, 0.6): 12.00.
    assert sweep["cost_to_target"] == Decimal("12.00")
    assert sweep["metric"] == 0.7
    # C (4.00, 0.7) beats A (8.00, 0.6) and B (4.00, 0.5); D (5.25, 0.4) is beaten by C.
    assert {n: by_name[n]["pareto"] for n in "ABCD"} == {
        "A": False,
        "B": False,
        "C": True,
        "D": False,
    }
    assert by_name["A"]["cost_per_point"] == Decimal("13.333333333333")
    assert by_name["A"]["gpu_hours"] == pytest.approx(4.0)
    assert by_name["A"]["used_gpu_hours"] == pytest.approx(2.4)
    assert by_name["G"]["cost"] == Decimal("11.344")
    # Idle shared back pro rata to cost per machine-day: i-gpu's 8.00 over A 8, B 4, C 4;
    # cpu-box's 16.50 over E 6.00 and F 1.50.
    assert {n: by_name[n]["idle_shared"] for n in ("A", "B", "C", "sweep-1")} == {
        "A": Decimal("4.00"),
        "B": Decimal("2.00"),
        "C": Decimal("2.00"),
        "sweep-1": Decimal("8.00"),
    }
    with store.reader() as con:
        ops = run_table(con, experiments=["cpu-jobs"]).to_pylist()
    assert {r["name"]: r["idle_shared"] for r in ops} == {
        "E": Decimal("13.20"),
        "F": Decimal("3.30"),
    }
    with store.reader() as con:
        never = run_table(con, experiments=["detector"], metric="val_map", target=0.9)
    assert {r["name"]: r["cost_to_target"] for r in never.to_pylist()}["sweep-1"] is None
    summary = {r["experiment"]: r for r in experiment_table(runs).to_pylist()}
    # A + B + C + D + G; the sweep parent is not counted twice.
    assert summary["detector"]["cost"] == Decimal("32.594")
    assert summary["detector"]["runs"] == 5


def test_reanalyze_replaces_estimates_when_the_bill_arrives(
    scene: tuple[Store, dict[str, str]], tmp_path: Path
) -> None:
    store, ids = scene
    start = datetime(2026, 1, 6, 2)
    rows = [
        focus_row(
            ResourceId="i-gpu",
            ChargePeriodStart=f"{start + timedelta(hours=h):%Y-%m-%dT%H:%M:%SZ}",
            ChargePeriodEnd=f"{start + timedelta(hours=h + 1):%Y-%m-%dT%H:%M:%SZ}",
            ConsumedQuantity="1",
            ConsumedUnit="Hours",
            BilledCost="5.00",
            EffectiveCost="5.00",
            ListCost="5.00",
        )
        for h in (0, 1)
    ]
    ingest_billing(store, [str(write_csv(tmp_path / "day2.csv", rows))], source="day2")
    analyze_run_costs(store)
    g = [r for r in costs(store) if r["run_id"] == ids["G"]]
    assert [(r["method"], r["cost"]) for r in g] == [("time_share", Decimal("10.00"))]


def test_cli_experiments_and_write_back(
    scene: tuple[Store, dict[str, str]], mlflow_store: tuple[str, dict[str, str]], cli: Cli
) -> None:
    from mlflow import MlflowClient

    store, ids = scene
    uri, _ = mlflow_store
    db = str(store.path)
    done = cli("--db", db, "experiments", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert "detector,5,32.594" in done.stdout
    done = cli("--db", db, "analyze", "--format", "table")
    assert done.returncode == 0, done.stderr
    assert "Run costs: 28.75 to runs, 24.50 idle, 11.34 estimated" in (
        " ".join(done.stdout.split())
    )
    done = cli(
        "--db", db, "experiments", "--experiment", "detector", "--metric", "val_map",
        "--write-back", "--tracking-uri", uri, "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    tags = MlflowClient(tracking_uri=uri).get_run(ids["A"]).data.tags
    assert tags["mlcost.cost"] == "8.00"
    assert tags["mlcost.gpu_efficiency"] == "0.600"


def test_sample_experiment_costs_match_the_answer_key(store: Store) -> None:
    from mlcost.ingest import ingest_sample
    from mlcost.sample import generate

    ingest_sample(store)
    result = analyze_run_costs(store)
    with store.reader() as con:
        got = dict(
            con.execute(
                "SELECT r.experiment, round(sum(c.cost), 2) FROM run_costs AS c "
                "JOIN runs AS r USING (run_id) GROUP BY 1"
            ).fetchall()
        )
        shared, billed = con.execute(
            "SELECT (SELECT sum(cost) FROM run_costs WHERE method = 'time_share'), "
            "(SELECT sum(EffectiveCost) FROM cost WHERE ChargeCategory = 'Usage' AND ResourceId "
            "IN (SELECT resource_id FROM run_costs WHERE method = 'time_share'))"
        ).fetchall()[0]
    key = {e["experiment"]: Decimal(e["cost"]) for e in generate().answer_key["experiments"]}
    assert len(key) == 11
    assert got == key
    # Every cent of the shared machines is a run's or idle; the bill is not late.
    assert shared == billed
    assert result.estimated == 0


def test_a_line_tagged_with_a_run_is_that_runs_alone(
    scene: tuple[Store, dict[str, str]], tmp_path: Path
) -> None:
    # A 3.00 line on the shared GPU box, tagged for run B: B's, and not shared again.
    store, ids = scene
    row = focus_row(
        ResourceId="i-gpu",
        ChargePeriodStart="2026-01-05T13:00:00Z",
        ChargePeriodEnd="2026-01-05T14:00:00Z",
        BilledCost="3.00",
        EffectiveCost="3.00",
        ListCost="3.00",
        Tags=json.dumps({"mlcost.run_id": ids["B"]}),
    )
    ingest_billing(store, [str(write_csv(tmp_path / "tagged.csv", [row]))], source="tagged")
    analyze_run_costs(store)
    b = {(r["method"], r["cost"]) for r in costs(store) if r["run_id"] == ids["B"]}
    assert b == {("tagged", Decimal("3.00")), ("time_share", Decimal("4.00"))}
    idle = [r["cost"] for r in costs(store) if r["run_id"] is None and r["resource_id"] == "i-gpu"]
    assert idle == [Decimal("8.00")]


def test_a_file_store_is_read_too(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("nb")
    r = client.create_run(exp, start_time=at(9), tags={"mlcost.resource_id": "i-gpu"})
    client.set_terminated(r.info.run_id, "FINISHED", end_time=at(10))
    result = ingest_mlflow(store, uri)
    assert result.rows_in["runs"] == 1


def test_a_job_named_by_three_runs_is_split_exactly(store: Store, tmp_path: Path) -> None:
    row = focus_row(ResourceId=ARN, BilledCost="10.00", EffectiveCost="10.00", ListCost="10.00")
    ingest_billing(store, [str(write_csv(tmp_path / "job.csv", [row]))])
    runs = [
        {"run_id": r, "experiment": "x", "started_at": DAY, "ended_at": DAY + timedelta(hours=1),
         "resource_ids": json.dumps([ARN]), "gpu_count": 1, "source": "test"}
        for r in ("r1", "r2", "r3")
    ]  # fmt: skip
    store.load([Batch("runs", pa.Table.from_pylist(runs, schema=arrow_schema("runs")))])
    analyze_run_costs(store)
    got = {r["run_id"]: r["cost"] for r in costs(store) if r["method"] == "tagged"}
    assert got == {
        "r1": Decimal("3.333333333333"),
        "r2": Decimal("3.333333333333"),
        "r3": Decimal("3.333333333334"),
    }


def test_a_sagemaker_job_ahead_of_the_bill_is_estimated_from_billable_seconds(
    store: Store, tmp_path: Path
) -> None:
    # Billed through 2026-01-06; the job ran 2026-01-07 10:00-11:00 on 2 x ml.g5.2xlarge
    # (1.515/h) on managed spot, billed 1800 s per instance: 2 x 0.5 h x 1.515 = 1.515.
    ingest_billing(store, [str(write_csv(tmp_path / "bill.csv", [focus_row()]))])
    params = {"instance_type": "ml.g5.2xlarge", "instance_count": 2, "billable_seconds": 1800}
    start = datetime(2026, 1, 7, 10)
    run = {"run_id": ARN, "experiment": "x", "started_at": start,
           "ended_at": start + timedelta(hours=1), "params": json.dumps(params),
           "resource_ids": json.dumps([ARN]), "gpu_count": 2, "source": "sagemaker"}  # fmt: skip
    price = {"provider": "aws", "region": "us-east-1", "instance_type": "ml.g5.2xlarge",
             "price_per_hour": Decimal("1.515"), "source": "test"}  # fmt: skip
    store.load(
        [
            Batch("runs", pa.Table.from_pylist([run], schema=arrow_schema("runs"))),
            Batch("prices", pa.Table.from_pylist([price], schema=arrow_schema("prices"))),
        ]
    )
    analyze_run_costs(store)
    assert [(r["method"], r["cost"]) for r in costs(store)] == [("estimate", Decimal("1.515"))]
