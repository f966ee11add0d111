"""On the sample organisation every planted finding is found, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcost.ingest import ingest_sample
from mlcost.recommendations import analyze_recommendations, list_recommendations
from mlcost.rules import RULE_IDS
from mlcost.store import Store

ANSWER_KEY = Path(__file__).parent.parent.parent / "sample_data" / "answer_key.json"


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("sample") / "mlcost.duckdb")
    store.init()
    ingest_sample(store)
    analyze_recommendations(store)
    return store


def test_every_planted_finding_is_found_and_nothing_else(sample_store: Store) -> None:
    key = json.loads(ANSWER_KEY.read_text())
    planted = {
        (r["rule"], r["provider"], r["resource_id"])
        for r in key["recommendations"]
        if r["rule"] in RULE_IDS
    }
    allowed = planted | {
        (rule, r["provider"], r["resource_id"])
        for r in key["recommendations"]
        for rule in r.get("may_also", [])
    }
    with sample_store.reader() as con:
        found = {
            (f["rule"], f["provider"], f["resource_id"])
            for f in list_recommendations(con).to_pylist()
        }
    true_positives = found & allowed
    precision = len(true_positives) / len(found)
    recall = len(planted & found) / len(planted)
    print(
        f"\nsample organisation: {len(found)} findings, {len(planted)} planted; "
        f"precision {precision:.3f}, recall {recall:.3f}"
    )
    assert sorted(planted - found) == [], "missed"
    assert sorted(found - allowed) == [], "false alarms"
    assert precision == 1.0 and recall == 1.0
    must_not = {
        (rule, n["provider"], n["resource_id"])
        for n in key["negatives"]
        for rule in n["must_not_fire"]
    }
    assert found & must_not == set()


def test_sample_savings_are_the_resources_own_billed_costs(sample_store: Store) -> None:
    with sample_store.reader() as con:
        (found,) = list_recommendations(con, rules=["idle_gpu"], providers=["aws"]).to_pylist()
        (billed,) = con.execute(
            "SELECT sum(EffectiveCost) FROM cost WHERE ResourceId = ? "
            "AND ChargePeriodStart >= TIMESTAMP '2026-10-02'",
            [found["resource_id"]],
        ).fetchone()
    # cv-dev-gpu-03: g5.12xlarge at 5.672 $/h, on demand, 24 h × 30 days
    assert billed == found["monthly_cost"] == found["estimated_monthly_savings"]
    assert str(found["estimated_monthly_savings"]).startswith("4083.84")
