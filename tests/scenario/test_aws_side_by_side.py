"""The side-by-side scenario of issue 20, as a user runs it: a simulated AWS organisation
(moto's server, two regions, every AWS rule's firing case and near miss), read with
``mlcost ingest aws`` through ``AWS_ENDPOINT_URL`` (and the Price List API's local fake
through ``AWS_ENDPOINT_URL_PRICING``), the MLflow runs of its sweeps with ``mlcost ingest
mlflow``, then ``mlcost analyze``: every rule must find its planted cases and nothing else,
with inventory alone, and again with a generated FOCUS bill for the same resources (where
then every finding has a cost and a saving).
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from moto.cloudwatch.models import CloudWatchBackend
from moto.server import ThreadedMotoServer

from mlcost.rules import all_rules
from tests.conftest import Cli, focus_row, run_cli, write_csv
from tests.connectors.aws.fake_pricing import FakePricing, load_products, serve_pricing
from tests.scenario.aws_org import (
    ACCOUNT,
    PLANTED,
    PLANTED_WITH_BILLING,
    Scenario,
    build,
)
from tests.scenario.moto_metrics import per_query

SP = f"arn:aws:savingsplans::{ACCOUNT}:savingsplan/7d1a3f2e-5b6c-4d8e-9f0a-1b2c3d4e5f60"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _mlflow(root: Path, sc: Scenario) -> str:
    """The sweeps' runs, tagged with the instance they ran on (the tag convention)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("hpo", artifact_location=str(root / "artifacts"))
    start = sc.now - timedelta(days=10)
    for name, minutes in sc.runs.items():
        for i, length in enumerate(minutes):
            began = start + timedelta(hours=3 * i)
            run = client.create_run(
                exp,
                start_time=int(began.replace(tzinfo=UTC).timestamp() * 1000),
                tags={"mlcost.resource_id": sc.ids[name], "checkpointing": "enabled"},
                run_name=f"{name}-trial-{i}",
            )
            end = began + timedelta(minutes=length)
            client.set_terminated(
                run.info.run_id,
                "FINISHED",
                end_time=int(end.replace(tzinfo=UTC).timestamp() * 1000),
            )
    return uri


def _bill(path: Path, sc: Scenario) -> Path:
    """30 days of daily FOCUS lines for every resource, ending at today's midnight, and a
    Savings Plan half used by one machine."""
    rows: list[dict[str, str]] = []
    end = sc.now.replace(hour=0)

    def line(rid: str, region: str, day: datetime, cost: str, hours: int, **extra: str) -> None:
        month = day.replace(day=1)
        following = (month + timedelta(days=32)).replace(day=1)
        values = {
            "BillingAccountId": ACCOUNT,
            "SubAccountId": ACCOUNT,
            "BillingPeriodStart": f"{month:%Y-%m-%dT%H:%M:%SZ}",
            "BillingPeriodEnd": f"{following:%Y-%m-%dT%H:%M:%SZ}",
            "ChargePeriodStart": f"{day:%Y-%m-%dT%H:%M:%SZ}",
            "ChargePeriodEnd": f"{day + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}",
            "ResourceId": rid,
            "RegionId": region,
            "BilledCost": cost,
            "EffectiveCost": cost,
            "ListCost": cost,
            "ConsumedQuantity": str(hours),
            "PricingCategory": "Standard",
            "Tags": "{}",
        }
        rows.append(focus_row(**{**values, **extra}))

    for i in range(30):
        day = end - timedelta(days=30 - i)
        for name, (region, per_day, hours) in sorted(sc.billed.items()):
            if name == "covered":
                continue
            line(sc.ids[name], region, day, str(per_day), hours)
        plan = {
            "CommitmentDiscountId": SP,
            "CommitmentDiscountName": "Compute Savings Plan 0.20/h",
            "CommitmentDiscountType": "Compute Savings Plan",
            "CommitmentDiscountCategory": "Spend",
            "PricingCategory": "Committed",
            "BilledCost": "0",
        }
        # 4.80 a day committed: 2.40 used by the covered m6i.xlarge (list 4.608), 2.40 unused
        line(sc.ids["covered"], "us-east-1", day, "2.4", 24, CommitmentDiscountStatus="Used",
             **{**plan, "ListCost": "4.608"})  # fmt: skip
        line(SP, "us-east-1", day, "2.4", 0, CommitmentDiscountStatus="Unused",
             **{**plan, "ListCost": "0"})  # fmt: skip
    for row in rows:  # the plan rows bill nothing: what was paid is the amortised cost
        if row.get("CommitmentDiscountId"):
            row["BilledCost"] = "0"
    columns = sorted({key for row in rows for key in row})
    return write_csv(path, rows, columns)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("side-by-side")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server: one line a call
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "MLCOST_CONFIG"):
            mp.delenv(name, raising=False)
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
            "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        }.items():
            mp.setenv(name, value)
        # the same answers from moto's CloudWatch, without its minute of scanning
        mp.setattr(
            CloudWatchBackend, "get_metric_data", per_query(CloudWatchBackend.get_metric_data)
        )
        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        # moto's backends live in this process: what an earlier test in the same worker
        # left in them (an Elastic IP, a volume) would be found here too. An empty cloud.
        reset = f"http://127.0.0.1:{port}/moto-api/reset"
        urllib.request.urlopen(urllib.request.Request(reset, method="POST"), timeout=30).close()
        mp.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        try:
            with serve_pricing(FakePricing(load_products("us-east-1", "eu-west-1"))) as pricing:
                mp.setenv("AWS_ENDPOINT_URL_PRICING", pricing)
                sc = build()
                uri = _mlflow(root, sc)
                db = str(root / "mlcost.duckdb")
                world: dict[str, Any] = {"scenario": sc, "db": db}
                steps = [
                    ("ingest", "aws", "--regions", "us-east-1,eu-west-1"),
                    ("ingest", "mlflow", "--tracking-uri", uri),
                    ("analyze",),
                ]
                for step in steps:
                    done = run_cli("--db", db, *step, timeout=600)
                    assert done.returncode == 0, done.stderr
                    world.setdefault("output", []).append(done.stdout)
                world["inventory"] = _findings(db)
                bill = _bill(root / "bill.csv", sc)
                for step in (("ingest", "billing", str(bill)), ("analyze",)):
                    done = run_cli("--db", db, *step, timeout=600)
                    assert done.returncode == 0, done.stderr
                world["billing"] = _findings(db)
                yield world
        finally:
            server.stop()


def _findings(db: str) -> list[dict[str, Any]]:
    done = run_cli("--db", db, "recommendations", "--format", "json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def _score(
    sc: Scenario, findings: list[dict[str, Any]], planted: dict[str, set[str]]
) -> dict[str, tuple[set[str], set[str], float, float]]:
    """Per rule: (found, planted, precision, recall), names as the scenario gives them."""
    found: dict[str, set[str]] = {rule: set() for rule in planted}
    for f in findings:
        name = sc.name_of(f["resource_id"]) or ("savings-plan" if f["resource_id"] == SP else None)
        found.setdefault(f["rule"], set()).add(name or f["resource_id"])
    scores = {}
    for rule, want in planted.items():
        got = found.get(rule, set())
        hits = got & want
        precision = len(hits) / len(got) if got else 1.0
        recall = len(hits) / len(want) if want else 1.0
        scores[rule] = (got, want, precision, recall)
    extra = set(found) - set(planted)
    assert extra == set(), f"findings of rules with no AWS case: {extra}"
    return scores


def _report(title: str, scores: dict[str, tuple[set[str], set[str], float, float]]) -> None:
    print(f"\n{title}\n{'rule':<22} {'found':>5} {'planted':>7} {'precision':>9} {'recall':>6}")
    for rule, (got, want, precision, recall) in scores.items():
        print(f"{rule:<22} {len(got):>5} {len(want):>7} {precision:>9.3f} {recall:>6.3f}")


def test_the_scenario_covers_every_aws_rule() -> None:
    aws_rules = {r.id for r in all_rules().values() if "aws" in r.providers}
    assert set(PLANTED) == aws_rules
    assert all(PLANTED_WITH_BILLING[rule] for rule in aws_rules)


def test_every_aws_rule_finds_its_cases_and_nothing_else_from_inventory(world: dict) -> None:
    scores = _score(world["scenario"], world["inventory"], PLANTED)
    _report("inventory only (mlcost ingest aws + mlflow, analyze)", scores)
    wrong = {rule: (sorted(got), sorted(want)) for rule, (got, want, p, r) in scores.items()
             if p != 1.0 or r != 1.0}  # fmt: skip
    assert wrong == {}


def test_with_a_generated_bill_every_rule_still_finds_exactly_its_cases(world: dict) -> None:
    scores = _score(world["scenario"], world["billing"], PLANTED_WITH_BILLING)
    _report("with a generated FOCUS bill", scores)
    wrong = {rule: (sorted(got), sorted(want)) for rule, (got, want, p, r) in scores.items()
             if p != 1.0 or r != 1.0}  # fmt: skip
    assert wrong == {}
    unpriced = [
        (f["rule"], f["resource_id"])
        for f in world["billing"]
        if f["monthly_cost"] is None or f["estimated_monthly_savings"] is None
    ]
    assert unpriced == []


def test_previous_generation_and_rightsize_are_priced_from_the_pricing_api(world: dict) -> None:
    sc = world["scenario"]
    by_rule = {(f["rule"], sc.name_of(f["resource_id"])): f for f in world["inventory"]}
    legacy = by_rule[("previous_generation", "m4-legacy")]
    evidence = legacy["evidence"]
    evidence = json.loads(evidence) if isinstance(evidence, str) else evidence
    assert (evidence["current_price_per_hour"], evidence["suggested_type"]) == (0.2, "m6i.xlarge")
    # no bill: the m4's list price × 730 hours, × (1 - 0.192 / 0.20)
    assert Decimal(str(legacy["monthly_cost"])) == Decimal("146")
    assert Decimal(str(legacy["estimated_monthly_savings"])) == Decimal("5.84")
    oversized = by_rule[("rightsize_vm", "oversized")]
    evidence = oversized["evidence"]
    evidence = json.loads(evidence) if isinstance(evidence, str) else evidence
    assert evidence["suggested_type"] == "c5.xlarge"
    # 0.68 × 730 = 496.40 a month, × (1 - 0.17 / 0.68)
    assert Decimal(str(oversized["estimated_monthly_savings"])) == Decimal("372.3")


def test_the_cli_said_what_it_loaded(world: dict, cli: Cli) -> None:
    ingest = world["output"][0]
    assert "prices (on-demand and spot)." in ingest
    assert f"{ACCOUNT} eu-west-1 nat_gateway: 1" in ingest.splitlines()
