"""Commitment utilisation, coverage and expiry from FOCUS rows: the FOCUS specification's
worked examples, a hand-built AWS month, and the sample organisation's answer key."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from mlcost import commitments
from mlcost.ingest import ingest_billing, ingest_sample
from mlcost.store import Store
from tests.conftest import Cli, spec_example
from tests.rules.builder import Org

SAMPLE_KEY = Path(__file__).parent.parent / "sample_data" / "answer_key.json"
D = Decimal


def load_example(store: Store, tmp_path: Path, name: str) -> None:
    ingest_billing(store, [str(spec_example(tmp_path, name))])


def one(table: object) -> dict[str, object]:
    rows = table.to_pylist()  # type: ignore[attr-defined]
    assert len(rows) == 1, rows
    return dict(rows[0])


@pytest.mark.parametrize(
    ("name", "utilisation", "unused_cost", "net_savings"),
    [
        # usage scenario 1: one hour fully used
        ("commitment_discount_usage_scenario_1.csv", 100, "0", None),
        # usage scenario 2: nothing ran; the hour is all unused
        ("commitment_discount_usage_scenario_2.csv", 0, "1.00", None),
        # usage scenario 3: 0.75 of the hour used, 0.25 unused
        ("commitment_discount_usage_scenario_3.csv", 75, "0.25", None),
        # usage scenario 4: fully used; a second hour runs on demand beside it
        ("commitment_discount_usage_scenario_4.csv", 100, "0", None),
        # 0 %: the large VM did not run; 1.50 amortised for nothing, no usage covered
        ("zero_percent_utilization_without_commitment_discount_flexibility.csv", 0, "1.50", None),
        # 100 %: a 3.00 on-demand hour for 1.50 amortised
        (
            "one_hundred_percent_utilization_without_commitment_discount_flexibility.csv",
            100, "0", "1.50",
        ),
        # size flexibility: two medium hours (2 + 2 normalised) fill a 4-unit commitment;
        # 2 × 2.00 on demand for 2.00 amortised
        (
            "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv",
            100, "0", "2.00",
        ),
    ],
)  # fmt: skip
def test_focus_spec_examples_utilisation(
    store: Store,
    tmp_path: Path,
    name: str,
    utilisation: int,
    unused_cost: str,
    net_savings: str | None,
) -> None:
    load_example(store, tmp_path, name)
    with store.reader() as con:
        got = one(commitments.utilisation(con, grain="all"))
    assert got["utilisation_cost_pct"] == utilisation
    assert got["utilisation_quantity_pct"] == utilisation
    assert got["unused_cost"] == D(unused_cost)
    if net_savings is not None:
        assert got["net_savings"] == D(net_savings)


def test_focus_spec_example_coverage_counts_on_demand_hours_beside_committed_ones(
    store: Store, tmp_path: Path
) -> None:
    load_example(store, tmp_path, "commitment_discount_usage_scenario_4.csv")
    with store.reader() as con:
        got = one(commitments.coverage(con, service_categories=None))
    assert (got["covered_hours"], got["on_demand_hours"]) == (D(1), D(1))
    assert got["coverage_hours_pct"] == 50


def test_focus_spec_zero_utilisation_covers_nothing(store: Store, tmp_path: Path) -> None:
    name = "zero_percent_utilization_without_commitment_discount_flexibility.csv"
    load_example(store, tmp_path, name)
    with store.reader() as con:
        got = one(commitments.coverage(con, service_categories=None))
    # the unused commitment hour covers no usage; the medium VM ran on demand
    assert (got["covered_hours"], got["on_demand_hours"]) == (D(0), D(1))
    assert (got["coverage_cost_pct"], got["on_demand_cost"]) == (0, D("2.00"))


def test_focus_spec_one_time_purchase_gives_the_term_end(store: Store, tmp_path: Path) -> None:
    load_example(store, tmp_path, "commitment_discount_purchase_scenario_1.csv")
    with store.reader() as con:
        soon = commitments.expiring(con, within_days=60, as_of=datetime(2023, 12, 1))
        later = commitments.expiring(con, within_days=20, as_of=datetime(2023, 12, 1))
    got = one(soon)
    assert (got["term_end"], got["days_left"]) == (datetime(2024, 1, 1), 31)
    assert got["term_end_from"] == "billing: term"
    assert later.num_rows == 0


# -- a hand-built AWS month: an RI and a Savings Plan ----------------------------------------

RI = "arn:aws:ec2:us-east-1:111122223333:reserved-instances/ri-1"
SP = "arn:aws:savingsplans::111122223333:savingsplan/sp-1"


def aws_month(org: Org) -> None:
    """30 days. RI for 2 × m5.xlarge (on demand 0.192/h, 0.12/h amortised): i-1 uses it
    24 h a day, i-2 12 h, 12 h a day unused; i-3 runs 24 h on demand. A 1.00/h Savings Plan
    covers i-4 (c5, 1.20/h on demand) at 0.75/h, 0.25/h unused."""

    def row(rid: str, effective: str, listed: str, **values: object) -> None:
        org.bill(rid, effective, ListCost=D(listed), ServiceCategory="Compute", **values)

    ri = {"CommitmentDiscountId": RI, "CommitmentDiscountType": "Reserved Instance",
          "CommitmentDiscountName": "m5.xlarge x2", "CommitmentDiscountUnit": "Hours",
          "PricingCategory": "Committed", "BilledCost": D(0)}  # fmt: skip
    sp = {"CommitmentDiscountId": SP, "CommitmentDiscountType": "Savings Plan",
          "CommitmentDiscountName": "Compute SP 1.00/h", "CommitmentDiscountUnit": "USD",
          "PricingCategory": "Committed", "BilledCost": D(0)}  # fmt: skip
    row("i-1", "2.88", "4.608", CommitmentDiscountStatus="Used",
        CommitmentDiscountQuantity=D(24), **ri)  # fmt: skip
    row("i-2", "1.44", "2.304", hours=12, CommitmentDiscountStatus="Used",
        CommitmentDiscountQuantity=D(12), **ri)  # fmt: skip
    row(RI, "1.44", "0", hours=12, CommitmentDiscountStatus="Unused",
        CommitmentDiscountQuantity=D(12), **ri)  # fmt: skip
    row("i-3", "4.608", "4.608", PricingCategory="Standard")
    row("i-4", "18", "28.8", CommitmentDiscountStatus="Used",
        CommitmentDiscountQuantity=D(18), **sp)  # fmt: skip
    row(SP, "6", "0", CommitmentDiscountStatus="Unused", CommitmentDiscountQuantity=D(6), **sp)
    for rid, itype in (("i-1", "m5.xlarge"), ("i-2", "m5.xlarge"), ("i-3", "m5.xlarge"),
                       ("i-4", "c5.2xlarge")):  # fmt: skip
        org.resource(rid, "vm", instance_type=itype)


def test_hand_built_aws_month(store: Store) -> None:
    org = Org()
    aws_month(org)
    org.load(store)
    with store.reader() as con:
        util = {
            r["commitment_id"]: r for r in commitments.utilisation(con, grain="all").to_pylist()
        }
        by_family = {r["family"]: r for r in commitments.coverage(con, by="family").to_pylist()}
        total = one(commitments.coverage(con, by="provider"))
    ri, sp = util[RI], util[SP]
    # RI: 36 of 48 hours a day used = 75 %; 4.32 of 5.76 a day amortised = 75 %
    assert (ri["used_quantity"], ri["unused_quantity"]) == (D(1080), D(360))
    assert ri["utilisation_quantity_pct"] == ri["utilisation_cost_pct"] == 75
    assert (ri["used_cost"], ri["unused_cost"], ri["amortised_cost"]) == (D("129.6"), D("43.2"),
                                                                           D("172.8"))  # fmt: skip
    # covered hours at list price: (4.608 + 2.304) × 30 = 207.36; less 172.8 amortised
    assert (ri["on_demand_equivalent"], ri["net_savings"]) == (D("207.36"), D("34.56"))
    # SP: 18 of 24 dollars a day used; 28.8 × 30 = 864 on demand for 720
    assert sp["utilisation_cost_pct"] == 75 and sp["unused_cost"] == D(180)
    assert (sp["on_demand_equivalent"], sp["net_savings"]) == (D(864), D(144))
    # coverage, as Cost Explorer counts it: covered hours ÷ (covered + on-demand hours)
    assert (total["covered_hours"], total["on_demand_hours"]) == (D(1800), D(720))
    assert total["coverage_hours_pct"] == 71.43  # 60 of 84 hours a day
    assert total["coverage_cost_pct"] == 88.57  # 35.712 of 40.32 a day at list price
    m5 = by_family["m5"]
    assert (m5["covered_hours"], m5["on_demand_hours"], m5["coverage_hours_pct"]) == (
        D(1080), D(720), 60
    )  # fmt: skip
    assert by_family["c5"]["coverage_hours_pct"] == 100


def test_coverage_leaves_out_the_storage_and_addresses_billed_under_compute(
    store: Store,
) -> None:
    """AWS bills EBS volumes and snapshots under EC2, GCP disks and static addresses under
    Compute Engine: Compute rows that no commitment could cover. The hand-built month
    plus a volume (GB-Months), a snapshot (AWS CUR's GB-Mo, not inventoried) and an
    inventoried address (Hours), all on demand in Compute: coverage does not move."""
    org = Org()
    aws_month(org)
    extra = {"ServiceCategory": "Compute", "PricingCategory": "Standard"}
    org.bill("vol-1", "0.25", hours="3.3", ConsumedUnit="GB-Months", ListCost=D("0.25"), **extra)
    org.bill("snap-1", "0.10", hours="2", ConsumedUnit="GB-Mo", ListCost=D("0.10"), **extra)
    org.bill("eipalloc-1", "0.12", ConsumedUnit="Hours", ListCost=D("0.12"), **extra)
    org.resource("vol-1", "volume")
    org.resource("eipalloc-1", "ip_address")
    org.load(store)
    with store.reader() as con:
        total = one(commitments.coverage(con, by="provider"))
        everything = one(commitments.coverage(con, service_categories=None))
    # as in the hand-built month: 60 of 84 machine hours a day covered
    assert (total["covered_hours"], total["on_demand_hours"]) == (D(1800), D(720))
    assert (total["coverage_hours_pct"], total["coverage_cost_pct"]) == (71.43, 88.57)
    # every service eligible: their quantities count too, (3.3 + 2 + 24) x 30 = 879
    assert everything["on_demand_hours"] == D(720) + D(879)
    assert everything["on_demand_cost"] == total["on_demand_cost"] + D("0.47") * 30


def test_sample_coverage_counts_virtual_machine_hours_only(store: Store) -> None:
    """On the sample, the hours coverage counts are exactly the hours of its VM lines
    (FOCUS ResourceType) in Compute, not its disks, snapshots, images or addresses."""
    ingest_sample(store)
    with store.reader() as con:
        got = {r["provider"]: r for r in commitments.coverage(con).to_pylist()}
        vm_hours = dict(
            con.execute(
                "SELECT lower(ProviderName), sum(ConsumedQuantity) FROM cost "
                "WHERE ChargeCategory = 'Usage' AND ServiceCategory = 'Compute' "
                "AND ResourceType = 'Virtual Machine' AND PricingUnit = 'Hours' "
                "AND (PricingCategory = 'Standard' OR CommitmentDiscountStatus = 'Used') "
                "GROUP BY 1"
            ).fetchall()
        )
    names = {"aws": "aws", "azure": "microsoft", "gcp": "google cloud"}
    for provider, row in got.items():
        assert row["covered_hours"] + row["on_demand_hours"] == vm_hours[names[provider]]
    # AWS: the p4d RI (4 x 24 h) and the m6i Savings Plan (4 x 24 h) cover 90 days
    assert got["aws"]["covered_hours"] == 2 * 4 * 24 * 90


def test_daily_grain_and_window(store: Store) -> None:
    org = Org()
    aws_month(org)
    org.load(store)
    with store.reader() as con:
        days = commitments.utilisation(con, grain="day").to_pylist()
        last_week = commitments.utilisation(
            con, grain="all", since=datetime(2026, 9, 24), until=datetime(2026, 10, 1)
        ).to_pylist()
    assert len(days) == 60 and {d["utilisation_cost_pct"] for d in days} == {75}
    assert {r["commitment_id"]: r["unused_cost"] for r in last_week} == {
        RI: D("10.08"), SP: D(42)  # 7 days × 1.44, 7 × 6
    }  # fmt: skip


def test_sample_commitments_match_the_answer_key(store: Store) -> None:
    ingest_sample(store)
    key = {c["commitment_id"]: c for c in json.loads(SAMPLE_KEY.read_text())["commitments"]}
    with store.reader() as con:
        got = {r["commitment_id"]: r for r in commitments.utilisation(con, grain="all").to_pylist()}
        ended = commitments.expiring(con, within_days=60).to_pylist()
    assert set(got) == set(key)
    for cid, expected in key.items():
        assert got[cid]["unused_cost"] == D(expected["unused"]), cid
        assert got[cid]["amortised_cost"] == D(expected["amortised_in_window"]), cid
        assert got[cid]["utilisation_cost_pct"] == pytest.approx(expected["utilisation_pct"])
    # the first Azure reservation's term ended on 2026-10-01, when its renewal began
    assert [(e["name"], e["term_end"]) for e in ended] == [
        ("NC24ads_A100_v4 eastus 1yr x3", datetime(2026, 10, 1))
    ]


def test_cli_commitments_views(cli: Cli, db: str) -> None:
    org = Org()
    aws_month(org)
    org.load(Store(Path(db)))
    done = cli("--db", db, "commitments", "--view", "coverage", "--by", "family", "-f", "csv")
    assert done.returncode == 0, done.stderr
    rows = {r["family"]: r for r in csv.DictReader(io.StringIO(done.stdout))}
    assert rows["m5"]["coverage_hours_pct"] == "60.0"
    table = cli("--db", db, "commitments", "--format", "table")
    assert "Utilisation" in table.stdout and "Coverage by provider" in table.stdout
    bad = cli("--db", db, "commitments", "--by", "colour")
    assert bad.returncode == 1 and "Cannot group coverage by 'colour'" in bad.stderr
