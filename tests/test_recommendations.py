"""Findings over time and out of the tool: history, dismissal, savings counted once,
filters, and the export contract (DESIGN.md §4) in every format."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mlcost.errors import InputError
from mlcost.output import table_to_text
from mlcost.recommendations import (
    FIELDS,
    analyze_recommendations,
    list_recommendations,
    savings_summary,
    set_status,
)
from mlcost.rules.engine import recommendation_id
from mlcost.store import Store
from tests.conftest import Cli
from tests.rules.builder import Org
from tests.rules.cases import CASES

DAY1, DAY2, DAY3 = datetime(2026, 10, 1, 6), datetime(2026, 10, 2, 6), datetime(2026, 10, 3, 6)


def idle_gpu_box(org: Org, *, tags: dict[str, str] | None = None) -> None:
    """A g5.xlarge idle on both counts: idle_vm and idle_gpu both fire on it."""
    org.price("g5.xlarge", "1.006", 4, 16, gpus=1, gpu_model="A10G")
    org.resource("i-box", "vm", instance_type="g5.xlarge", gpu_count=1, tags=tags)
    org.usage("i-box", cpu=1.0, net_mb=1.0, gpu=2.0)
    org.bill("i-box", "24.144")  # 30 days = 724.32


def rows(store: Store, **filters: object) -> list[dict[str, object]]:
    with store.reader() as con:
        return list_recommendations(con, **filters).to_pylist()  # type: ignore[arg-type]


def test_savings_are_counted_once_per_resource(store: Store) -> None:
    org = Org()
    idle_gpu_box(org)
    CASES["unattached_volume"][0].build(org)
    org.load(store)
    analyze_recommendations(store)
    found = rows(store)
    assert sorted((f["rule"], f["estimated_monthly_savings"]) for f in found) == [
        ("idle_gpu", Decimal("724.32")),
        ("idle_vm", Decimal("724.32")),
        ("unattached_volume", Decimal("45.00")),
    ]
    with store.reader() as con:
        summary = savings_summary(con).to_pylist()
    (total,) = [s for s in summary if s["scope"] == "total"]
    # the GPU box once (724.32, not 1448.64), plus the volume
    assert total["monthly_savings"] == Decimal("769.32")
    assert (total["findings"], total["resources"]) == (3, 2)
    # ties in saving are in rule, then provider order: every engine prints the same table
    assert [s["rule"] for s in summary if s["scope"] == "rule"] == [
        "idle_gpu",
        "idle_vm",
        "unattached_volume",
    ]


def test_a_finding_with_an_unknown_saving_adds_nothing_to_the_total(store: Store) -> None:
    org = Org()
    CASES["unattached_volume"][0].build(org)
    # previous generation from the family alone: billed, but no prices, so no saving
    org.resource("i-m4", "vm", instance_type="m4.4xlarge")
    org.usage("i-m4", cpu=50.0, net_mb=5000.0)
    org.bill("i-m4", "19.2")
    org.load(store)
    analyze_recommendations(store)
    (unpriced,) = rows(store, rules=["previous_generation"])
    assert unpriced["estimated_monthly_savings"] is None
    assert unpriced["monthly_cost"] == Decimal("576")
    with store.reader() as con:
        (total,) = [s for s in savings_summary(con).to_pylist() if s["scope"] == "total"]
    assert total["monthly_savings"] == Decimal("45.00")  # the volume only, not the m4's 576
    assert (total["findings"], total["resources"]) == (2, 2)


def test_ids_are_stable_and_history_is_kept(store: Store) -> None:
    org = Org()
    idle_gpu_box(org)
    org.load(store)
    analyze_recommendations(store, now=DAY1)
    analyze_recommendations(store, now=DAY2)
    (gpu,) = rows(store, rules=["idle_gpu"])
    assert gpu["id"] == recommendation_id("idle_gpu", "aws", "i-box")
    assert (gpu["first_detected"], gpu["last_detected"]) == (DAY1, DAY2)

    # the box gets busy: the finding closes but stays in history
    busy = Org()
    idle_gpu_box(busy)
    busy.metrics = []
    busy.usage("i-box", cpu=50.0, net_mb=5000.0, gpu=90.0)
    busy.load(store)
    analyze_recommendations(store, now=DAY3)
    assert rows(store, rules=["idle_gpu"]) == []
    (closed,) = rows(store, rules=["idle_gpu"], status="closed")
    assert closed["id"] == gpu["id"] and closed["last_detected"] == DAY2


def test_a_dismissal_survives_reanalysis_until_reopened(store: Store) -> None:
    org = Org()
    idle_gpu_box(org)
    org.load(store)
    analyze_recommendations(store, now=DAY1)
    rec_id = recommendation_id("idle_gpu", "aws", "i-box")
    with pytest.raises(InputError, match="needs a reason"):
        set_status(store, rec_id, dismissed=True, reason=" ")
    set_status(store, rec_id, dismissed=True, reason="planned: benchmark box until Q1")
    analyze_recommendations(store, now=DAY2)
    assert [f["rule"] for f in rows(store)] == ["idle_vm"]
    (dismissed,) = rows(store, status="dismissed")
    assert dismissed["id"] == rec_id and dismissed["last_detected"] == DAY2
    with store.reader() as con:
        summary = savings_summary(con).to_pylist()
    # a dismissed finding no longer counts in the savings
    assert [s["rule"] for s in summary if s["scope"] == "rule"] == ["idle_vm"]
    set_status(store, rec_id, dismissed=False)
    analyze_recommendations(store, now=DAY3)
    assert sorted(f["rule"] for f in rows(store)) == ["idle_gpu", "idle_vm"]
    with pytest.raises(InputError, match="No recommendation has the id"):
        set_status(store, "nope", dismissed=True, reason="x")


def test_a_disabled_rule_closes_its_findings(store: Store) -> None:
    org = Org()
    idle_gpu_box(org)
    org.load(store)
    analyze_recommendations(store)
    analyze_recommendations(store, {"idle_vm": {"enabled": False}})
    assert [f["rule"] for f in rows(store)] == ["idle_gpu"]
    assert [f["rule"] for f in rows(store, status="closed")] == ["idle_vm"]


def test_filters_by_rule_provider_account_and_minimum_saving(store: Store) -> None:
    org = Org()
    idle_gpu_box(org)
    CASES["unattached_volume"][0].build(org)
    CASES["stopped_vm_billed"][0].build(org)
    org.load(store)
    analyze_recommendations(store)
    assert {f["rule"] for f in rows(store, providers=["azure"])} == {"stopped_vm_billed"}
    assert {f["rule"] for f in rows(store, min_savings=500)} == {
        "idle_gpu", "idle_vm", "stopped_vm_billed"
    }  # fmt: skip
    assert [f["rule"] for f in rows(store, rules=["unattached_volume"])] == ["unattached_volume"]
    with pytest.raises(InputError, match="Unknown account '999'; the known values are: "):
        rows(store, accounts=["999"])
    with pytest.raises(InputError, match="Unknown rule 'idle_vms'"):
        rows(store, rules=["idle_vms"])


def test_export_keeps_the_contract_and_neutralises_cloud_strings(
    store: Store, tmp_path: Path
) -> None:
    org = Org()
    idle_gpu_box(org, tags={"team": '=HYPERLINK("http://evil")', "owner": "+alice"})
    org.resources[-1]["name"] = "@SUM(A1)"
    org.load(store)
    analyze_recommendations(store)
    with store.reader() as con:
        table = list_recommendations(con)
    assert tuple(table.schema.names) == FIELDS

    text = table_to_text(table, "csv")
    got = list(csv.DictReader(io.StringIO(text)))
    assert got[0]["resource_name"] == "'@SUM(A1)"
    assert not any(v.startswith(("=", "+", "-", "@")) for row in got for v in row.values())
    assert got[0]["estimated_monthly_savings"] == "724.320000000000"

    as_json = json.loads(table_to_text(table, "json"))
    assert isinstance(as_json, list) and list(as_json[0]) == list(FIELDS)
    assert as_json[0]["tags"]["team"] == '=HYPERLINK("http://evil")'  # nested, as data

    out = tmp_path / "recs.parquet"
    pq.write_table(table, out)
    back = pq.read_table(out)
    assert str(back.schema.field("estimated_monthly_savings").type) == "decimal128(38, 12)"
    assert str(back.schema.field("first_detected").type) == "timestamp[us]"


# -- the command line -------------------------------------------------------------------


def test_cli_lists_rules_and_shows_their_documentation(cli: Cli, db: str) -> None:
    listed = cli("--db", db, "rules", "--format", "csv")
    assert listed.returncode == 0
    ids = [r["rule"] for r in csv.DictReader(io.StringIO(listed.stdout))]
    assert ids[:3] == ["idle_vm", "idle_gpu", "stopped_vm_billed"] and len(ids) == 19
    listed_json = json.loads(cli("--db", db, "rules", "--format", "json").stdout)
    as_json = {r["rule"]: r for r in listed_json}
    assert as_json["volume_type_upgrade"]["needs"] == "inventory prices"
    assert as_json["stopped_vm_billed"]["saving_from"] == "billing"
    assert as_json["idle_nat_gateway"]["saving_from"] == "billing prices"
    # a terminal of 100 columns shows every rule id whole, with its clouds and data
    terminal = cli("--db", db, "rules", "--format", "table", env={"COLUMNS": "100"})
    assert max(len(line) for line in terminal.stdout.splitlines()) <= 100
    assert re.search(
        r"│ commitment_underused +│ true +│ aws azure gcp +│ billing +│ billing +│",
        terminal.stdout,
    )
    shown = cli("--db", db, "rules", "show", "idle_vm")
    assert shown.returncode == 0
    assert "Needs: inventory, metrics. Saving from: billing, else prices." in shown.stdout
    assert "Trusted Advisor" in shown.stdout and "Safe action" in shown.stdout
    assert "network_max_mb" in shown.stdout
    missing = cli("--db", db, "rules", "show", "idle_vms")
    assert missing.returncode == 1 and "Unknown rule 'idle_vms'" in missing.stderr


def test_cli_refuses_a_bad_rule_setting_naming_the_valid_ones(
    cli: Cli, db: str, tmp_path: Path
) -> None:
    config = tmp_path / "mlcost.toml"
    config.write_text("[rules.idle_vm]\ncpu_threshold = 5\n")
    done = cli("--db", db, "--config", str(config), "analyze")
    assert done.returncode == 1
    assert "unknown setting rules.idle_vm.cpu_threshold" in done.stderr
    assert "cpu_max_pct" in done.stderr


def test_cli_analyze_exports_and_dismisses(cli: Cli, db: str, tmp_path: Path) -> None:
    org = Org()
    idle_gpu_box(org)
    org.load(Store(Path(db)))
    done = cli("--db", db, "analyze", "--format", "table")
    assert done.returncode == 0, done.stderr
    assert "2 findings on 1 resources: USD 724.32/month" in done.stdout

    out = tmp_path / "recs.json"
    assert cli("--db", db, "recommendations", "-o", str(out)).returncode == 0
    exported = json.loads(out.read_text())
    assert {r["rule"] for r in exported} == {"idle_gpu", "idle_vm"}

    rec_id = recommendation_id("idle_vm", "aws", "i-box")
    no_reason = cli("--db", db, "recommendations", "dismiss", rec_id)
    assert no_reason.returncode == 2  # --reason is required
    dismissed = cli("--db", db, "recommendations", "dismiss", rec_id, "--reason", "GPU box")
    assert dismissed.returncode == 0
    cli("--db", db, "analyze")
    listed = cli("--db", db, "recommendations", "--status", "dismissed", "--format", "csv")
    assert [r["id"] for r in csv.DictReader(io.StringIO(listed.stdout))] == [rec_id]
    shown = cli("--db", db, "recommendations", "show", rec_id)
    assert "dismissed_reason: GPU box" in shown.stdout and '"gpu_avg_pct": 2.0' in shown.stdout
