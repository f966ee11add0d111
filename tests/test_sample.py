"""The seeded sample organisation: determinism, schemas, planted cases, exact money."""

from __future__ import annotations

import gzip
import itertools
import json
import re
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlcost import mappings
from mlcost.sample import generate, iter_cost_batches, write_sample
from mlcost.sample.__main__ import main
from mlcost.schema import FOCUS_COLUMNS, arrow_schema, arrow_type

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "sample_data"
TABLES = ("cost", "resources", "metrics", "runs", "prices")
RULES = {
    "idle_vm",
    "idle_gpu",
    "stopped_vm_billed",
    "unattached_volume",
    "orphaned_snapshot",
    "unused_ip",
    "obsolete_image",
    "idle_endpoint",
    "idle_notebook",
    "rightsize_vm",
    "previous_generation",
    "commitment_underused",
    "commitment_purchase",
    "spot_candidate",
    "volume_type_upgrade",
    "idle_nat_gateway",
    "idle_load_balancer",
    "idle_file_system",
    "offhours_schedule",
}
EVERY_CLOUD = ("idle_vm", "idle_gpu", "unattached_volume", "orphaned_snapshot", "unused_ip")
START = datetime(2026, 8, 3)
END = datetime(2026, 11, 1)
OBSERVED = datetime(2026, 10, 31, 23, 0)
# Pinned so that any change to the generator's money shows up here.
EXPECTED_TOTALS = {  # (BilledCost, EffectiveCost)
    "AWS": (Decimal("166707.389065289"), Decimal("247707.389065289")),
    "Google Cloud": (Decimal("64799.3428919"), Decimal("64799.3428919")),
    "Microsoft": (Decimal("89691.9125503168"), Decimal("34044.8405503168")),
}
# Upfront payments, by hand. AWS p4d RI (Partial Upfront, x4, 1 yr from 2026-03-01): the
# upfront part of its $19.2256/h is $9.375/h, so 4 x 8,760 h x 9.375 = 328,500.00, billed
# before the window and amortised at 328,500 / 365 = 900.00 a day. Azure NC24ads renewal
# (All Upfront, x3, 1 yr from 2026-10-01): 3 x 8,760 h x 2.314 = 60,811.92, billed on
# 2026-10-01 and amortised at 60,811.92 / 365 = 166.608 a day for the window's 31 days
# from then on. EffectiveCost - BilledCost over the window, per provider:
AWS_UPFRONT_DAILY = Decimal(328_500) / 365
AZURE_UPFRONT = 3 * 8_760 * Decimal("2.314")
AZURE_UPFRONT_DAILY = AZURE_UPFRONT / 365
AMORTISED_UPFRONT = {
    "AWS": AWS_UPFRONT_DAILY * 90,
    "Microsoft": AZURE_UPFRONT_DAILY * 31 - AZURE_UPFRONT,
    "Google Cloud": Decimal(0),
}


@pytest.fixture(scope="module")
def sample() -> Any:
    return generate()


@pytest.fixture(scope="module")
def cost(sample: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = sample.tables["cost"].to_pylist()
    return rows


@pytest.fixture(scope="module")
def resources(sample: Any) -> dict[str, dict[str, Any]]:
    return {r["resource_id"]: r for r in sample.tables["resources"].to_pylist()}


def _recs(sample: Any, rule: str) -> list[dict[str, Any]]:
    return [r for r in sample.answer_key["recommendations"] if r["rule"] == rule]


def _daily(rows: list[dict[str, Any]], pred: Any) -> dict[date, Decimal]:
    out: dict[date, Decimal] = defaultdict(Decimal)
    for r in rows:
        if r["ChargeCategory"] == "Usage" and pred(r):
            out[r["ChargePeriodStart"].date()] += r["EffectiveCost"]
    return out


# -- determinism and shipped files ------------------------------------------------------


def test_generate_is_deterministic(sample: Any) -> None:
    again = generate()
    for name in TABLES:
        assert again.tables[name].equals(sample.tables[name]), name
    assert again.answer_key == sample.answer_key
    other = generate(seed=8)
    assert not other.tables["metrics"].equals(sample.tables["metrics"])


def test_shipped_sample_matches_generator(sample: Any) -> None:
    for name in TABLES:
        shipped = pq.read_table(SAMPLE_DIR / f"{name}.parquet")
        assert shipped.schema.equals(sample.tables[name].schema), name
        assert shipped.equals(sample.tables[name]), f"sample_data/{name}.parquet is stale"
    key = json.loads((SAMPLE_DIR / "answer_key.json").read_text())
    assert key == json.loads(json.dumps(sample.answer_key))
    total = sum(p.stat().st_size for p in SAMPLE_DIR.iterdir() if p.is_file())
    assert total < 8 * 2**20


def test_schemas_are_exact(sample: Any) -> None:
    focus = pa.schema([pa.field(c, arrow_type(t)) for c, t in FOCUS_COLUMNS.items()])
    assert sample.tables["cost"].schema.equals(focus)
    assert "x_source" not in sample.tables["cost"].column_names
    for name in ("resources", "metrics", "runs", "prices"):
        assert sample.tables[name].schema.equals(arrow_schema(name)), name
    for name, col in (
        ("resources", "details"),
        ("resources", "tags"),
        ("runs", "params"),
        ("runs", "metrics"),
        ("runs", "tags"),
        ("runs", "resource_ids"),
    ):
        for text in sample.tables[name].column(col).to_pylist():
            assert isinstance(json.loads(text), list if col == "resource_ids" else dict)


# -- the answer key ---------------------------------------------------------------------


def test_every_rule_planted_on_the_right_clouds(sample: Any) -> None:
    recs = sample.answer_key["recommendations"]
    assert {r["rule"] for r in recs} == RULES
    for rule in EVERY_CLOUD:
        assert {r["provider"] for r in _recs(sample, rule)} == {"aws", "azure", "gcp"}, rule
    assert {r["provider"] for r in _recs(sample, "stopped_vm_billed")} == {"azure"}
    assert len(recs) == 46


#: Issue 20's rules are planted on resources the sample's bill does not cover: priced
#: from list prices (sample_data/README.md), leaving the bill as it was.
UNBILLED_RULES = {
    "volume_type_upgrade",
    "idle_nat_gateway",
    "idle_load_balancer",
    "idle_file_system",
    "offhours_schedule",
}


def test_answer_key_resources_exist_and_are_billed(
    sample: Any, cost: list[dict[str, Any]], resources: dict[str, dict[str, Any]]
) -> None:
    billed = {r["ResourceId"] for r in cost if r["ResourceId"]}
    commitments = {r["CommitmentDiscountId"] for r in cost if r["CommitmentDiscountId"]}
    priced = {
        (r["provider"], r["region"], r["product"]) for r in sample.tables["prices"].to_pylist()
    }
    for rec in sample.answer_key["recommendations"]:
        rid = rec["resource_id"]
        if rec["rule"] == "commitment_underused":
            assert rid in commitments
        else:
            assert rid in resources, rid
            assert resources[rid]["provider"] == rec["provider"]
        if rec["rule"] in UNBILLED_RULES:
            assert rid not in billed, rid
            kind = resources[rid]["resource_type"]
            assert kind == "vm" or any(p[2] and p[2].startswith(kind) for p in priced), rid
        else:
            assert rid in billed, rid
    for neg in sample.answer_key["negatives"]:
        assert neg["resource_id"] in resources or neg["resource_id"] in commitments
        assert not set(neg["must_not_fire"]) - RULES


def test_anomalies_in_window_and_visible(sample: Any, cost: list[dict[str, Any]]) -> None:
    anomalies = sample.answer_key["anomalies"]
    assert len(anomalies) >= 4
    assert {a["direction"] for a in anomalies} == {"spike", "drop"}
    assert {a["scope"] for a in anomalies} >= {"total", "service", "account", "tag:team"}

    def pred(a: dict[str, Any]) -> Any:
        scope, value = a["scope"], a["scope_value"]
        if scope == "total":
            return lambda r: True
        if scope == "service":
            return lambda r: r["ServiceName"] == value
        if scope == "account":
            return lambda r: r["SubAccountId"] == value
        key = scope.split(":", 1)[1]
        return lambda r: json.loads(r["Tags"] or "{}").get(key) == value

    for a in anomalies:
        d = date.fromisoformat(a["date"])
        assert START.date() <= d < END.date()
        daily = _daily(cost, pred(a))
        same_weekday = [
            v for k, v in daily.items() if k.weekday() == d.weekday() and abs((k - d).days) > 3
        ]
        usual = statistics.median(same_weekday)
        if a["direction"] == "spike":
            assert daily[d] > Decimal(2) * usual, a
        else:
            assert daily[d] < usual / 10, a


# -- planted cases really show in the data ------------------------------------------------


def _daily_metric(sample: Any, rid: str, metric: str, stat: str = "Average") -> list[float]:
    t = sample.tables["metrics"].filter(
        (pa.compute.field("resource_id") == rid)
        & (pa.compute.field("metric") == metric)
        & (pa.compute.field("stat") == stat)
        & (pa.compute.field("period_s") == 86400)
    )
    return [float(v) for v in t.column("value").to_pylist()]


def _days(start: datetime, end: datetime) -> list[date]:
    return [(start + timedelta(days=i)).date() for i in range((end - start).days)]


def _billed_days(cost: list[dict[str, Any]], rid: str) -> set[date]:
    return {r["ChargePeriodStart"].date() for r in cost if r["ResourceId"] == rid}


def test_idle_and_busy_compute(
    sample: Any, cost: list[dict[str, Any]], resources: dict[str, dict[str, Any]]
) -> None:
    for rec in _recs(sample, "idle_gpu"):
        gpu = _daily_metric(sample, rec["resource_id"], "gpu_util_pct")
        cpu = _daily_metric(sample, rec["resource_id"], "cpu_util_pct", "Maximum")
        assert len(gpu) == 90 and max(gpu) < 3.5 and max(cpu) < 10
        assert len(_billed_days(cost, rec["resource_id"])) == 90
        assert resources[rec["resource_id"]]["gpu_count"] >= 1
    for rec in _recs(sample, "idle_vm"):
        cpu = _daily_metric(sample, rec["resource_id"], "cpu_util_pct", "Maximum")
        net = _daily_metric(sample, rec["resource_id"], "net_in_bytes", "Sum")
        assert len(cpu) == 90 and max(cpu) < 5 and max(net) < 5e7
        assert resources[rec["resource_id"]]["state"] == "running"
    for rec in _recs(sample, "rightsize_vm"):
        cpu = _daily_metric(sample, rec["resource_id"], "cpu_util_pct", "Maximum")
        net = _daily_metric(sample, rec["resource_id"], "net_in_bytes", "Sum")
        assert max(cpu) < 20 and min(net) > 1e10  # not idle: real traffic, small peaks
    for neg in sample.answer_key["negatives"]:
        if "idle_gpu" in neg["must_not_fire"]:
            gpu = _daily_metric(sample, neg["resource_id"], "gpu_util_pct")
            assert statistics.mean(gpu) > 50
    hourly = sample.tables["metrics"].filter(pa.compute.field("period_s") == 3600)
    ts = hourly.column("ts").to_pylist()
    assert min(ts) >= datetime(2026, 10, 18) and max(ts) < END
    assert 0 < sample.tables["metrics"].num_rows < 300_000


def test_storage_ip_endpoint_notebook_cases(
    sample: Any, cost: list[dict[str, Any]], resources: dict[str, dict[str, Any]]
) -> None:
    for rec in _recs(sample, "unattached_volume"):
        r = resources[rec["resource_id"]]
        assert r["attached_to"] is None and r["resource_type"] == "volume"
        assert r["created_at"] < OBSERVED - timedelta(days=30)
        assert len(_billed_days(cost, r["resource_id"])) == 90
    image_refs = " ".join(
        r["details"] + (r["source_id"] or "")
        for r in resources.values()
        if r["resource_type"] == "image"
    )
    for rec in _recs(sample, "orphaned_snapshot"):
        r = resources[rec["resource_id"]]
        assert r["source_id"] and r["source_id"] not in resources
        assert r["resource_id"] not in image_refs
    backing = [
        r
        for r in resources.values()
        if r["resource_type"] == "snapshot" and r["resource_id"] in image_refs
    ]
    assert {r["provider"] for r in backing} == {"aws", "gcp"}
    for rec in _recs(sample, "unused_ip"):
        r = resources[rec["resource_id"]]
        target = r["attached_to"]
        assert target is None or resources[target]["state"] == "stopped"
    for rec in _recs(sample, "idle_endpoint"):
        assert sum(_daily_metric(sample, rec["resource_id"], "invocations", "Sum")) == 0
        assert len(_billed_days(cost, rec["resource_id"])) == 90
    busy = [
        r["resource_id"]
        for r in resources.values()
        if r["resource_type"] == "endpoint"
        and r["resource_id"] not in {x["resource_id"] for x in _recs(sample, "idle_endpoint")}
    ]
    assert len(busy) == 3
    for rid in busy:
        assert min(_daily_metric(sample, rid, "invocations", "Sum")) > 50_000
    for rec in _recs(sample, "idle_notebook"):
        assert max(_daily_metric(sample, rec["resource_id"], "cpu_util_pct", "Maximum")) < 3
        assert resources[rec["resource_id"]]["last_used_at"] < datetime(2026, 8, 1)
    (stopped,) = _recs(sample, "stopped_vm_billed")
    r = resources[stopped["resource_id"]]
    assert r["state"] == "stopped"
    assert json.loads(r["details"])["power_state"] == "PowerState/stopped"
    assert len(_billed_days(cost, r["resource_id"])) == 90
    for rec in _recs(sample, "obsolete_image"):
        r = resources[rec["resource_id"]]
        assert r["last_used_at"] < datetime(2026, 1, 1)
        assert not [x for x in resources.values() if x["source_id"] == r["resource_id"]]


def test_spot_candidates_run_short_restartable_jobs(
    sample: Any, resources: dict[str, dict[str, Any]]
) -> None:
    runs = sample.tables["runs"].to_pylist()
    for rec in _recs(sample, "spot_candidate"):
        assert resources[rec["resource_id"]]["lifecycle"] == "on-demand"
        mine = [r for r in runs if rec["resource_id"] in json.loads(r["resource_ids"])]
        assert len(mine) > 200
        assert all(r["ended_at"] - r["started_at"] <= timedelta(minutes=50) for r in mine)
        assert all(json.loads(r["tags"])["restartable"] == "true" for r in mine)


def test_runs_are_consistent(
    sample: Any, cost: list[dict[str, Any]], resources: dict[str, dict[str, Any]]
) -> None:
    runs = sample.tables["runs"].to_pylist()
    ids = {r["run_id"] for r in runs}
    billed = {r["ResourceId"] for r in cost}
    assert len(ids) == len(runs)
    assert {r["source"] for r in runs} == {"mlflow", "sagemaker"}
    assert {r["status"] for r in runs} == {"FINISHED", "FAILED", "KILLED"}
    for r in runs:
        assert START <= r["started_at"] < r["ended_at"] <= END
        assert r["parent_run_id"] is None or r["parent_run_id"] in ids
        for rid in json.loads(r["resource_ids"]):
            assert rid in billed, rid
    # Concurrent runs on one shared p4d node.
    p4d = next(r for r in resources.values() if r["name"] == "p4d-train-03")
    on = sorted(
        (r["started_at"], r["ended_at"])
        for r in runs
        if p4d["resource_id"] in json.loads(r["resource_ids"])
    )
    assert any(b[0] < a[1] for a, b in itertools.pairwise(on))


# -- money ------------------------------------------------------------------------------


def test_money_is_exact_and_consistent(sample: Any, cost: list[dict[str, Any]]) -> None:
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    fee: dict[tuple[str, date], Decimal] = {}
    one_time: list[dict[str, Any]] = []
    amortised: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for r in cost:
        totals[r["ProviderName"]][0] += r["BilledCost"]
        totals[r["ProviderName"]][1] += r["EffectiveCost"]
        if r["ListUnitPrice"] is not None and r["PricingQuantity"] is not None:
            assert r["ListCost"] == r["ListUnitPrice"] * r["PricingQuantity"]
        if r["ContractedUnitPrice"] is not None and r["PricingQuantity"] is not None:
            assert r["ContractedCost"] == r["ContractedUnitPrice"] * r["PricingQuantity"]
        for col in ("BilledCost", "EffectiveCost", "ListCost"):
            assert r[col] == r[col].quantize(Decimal("1e-10"))  # at most 10 decimal places
        key = (r["CommitmentDiscountId"], r["ChargePeriodStart"].date())
        if r["ChargeCategory"] == "Purchase":
            assert r["EffectiveCost"] == 0 and r["BilledCost"] > 0
            if r["ChargeFrequency"] == "One-Time":
                one_time.append(r)
            else:
                assert r["ChargeFrequency"] == "Recurring"
                assert r["ChargePeriodEnd"] - r["ChargePeriodStart"] == timedelta(days=1)
                fee[key] = r["BilledCost"]
        elif r["CommitmentDiscountStatus"] == "Used":
            assert r["BilledCost"] == 0 and r["PricingCategory"] == "Committed"
            assert r["EffectiveCost"] > 0 and r["ListCost"] > r["EffectiveCost"]
            amortised[key] += r["EffectiveCost"]
        elif r["CommitmentDiscountStatus"] == "Unused":
            assert r["BilledCost"] == 0 and r["ChargeCategory"] == "Usage"
            amortised[key] += r["EffectiveCost"]
        elif r["ChargeCategory"] == "Usage":
            assert r["BilledCost"] == r["EffectiveCost"] == r["ContractedCost"] > 0
        if r["ChargeCategory"] == "Usage":
            assert r["ChargePeriodEnd"] - r["ChargePeriodStart"] == timedelta(days=1)
            assert START <= r["ChargePeriodStart"] < END
        bp = r["BillingPeriodStart"]
        assert bp.day == 1 and bp <= r["ChargePeriodStart"] < r["BillingPeriodEnd"]
    # The one upfront payment in the window: the Azure renewal, billed on 2026-10-01.
    (upfront,) = one_time
    assert upfront["ProviderName"] == "Microsoft"
    assert upfront["BilledCost"] == AZURE_UPFRONT == Decimal("60811.92")
    assert upfront["EffectiveCost"] == 0
    assert upfront["ChargePeriodStart"] == datetime(2026, 10, 1)
    assert upfront["ChargePeriodEnd"] == datetime(2027, 10, 1)
    assert upfront["BillingPeriodStart"] == datetime(2026, 10, 1)
    renewal = upfront["CommitmentDiscountId"]
    # Every day's used plus unused amortised cost is exactly the recurring fee plus the
    # upfront payment's daily share: the p4d RI's recurring fee is what is left of its
    # rate, the renewal has no recurring fee, and replaces the reservation before it.
    (ri,) = {k[0] for k in amortised if "reserved-instances" in k[0]}
    azure = {k[0] for k in amortised if "reservationOrders" in k[0]}
    (old_reservation,) = azure - {renewal}
    assert len(fee) == 4 * 90 - 31  # 3 commitments x 90 days, the old reservation 59
    assert not any(k[0] == renewal for k in fee)
    assert {k for k in fee if k[0] == old_reservation} == {
        (old_reservation, d) for d in _days(START, datetime(2026, 10, 1))
    }
    assert {k for k in amortised if k[0] == renewal} == {
        (renewal, d) for d in _days(datetime(2026, 10, 1), END)
    }
    expected = dict(fee)
    for d in _days(START, END):
        assert fee[(ri, d)] == 4 * 24 * (Decimal("19.2256") - Decimal("9.375"))
        expected[(ri, d)] += AWS_UPFRONT_DAILY
        if d >= date(2026, 10, 1):
            expected[(renewal, d)] = AZURE_UPFRONT_DAILY
    assert expected == dict(amortised)
    assert Decimal("900.00") == AWS_UPFRONT_DAILY and Decimal("166.608") == AZURE_UPFRONT_DAILY
    for provider, (billed, effective) in EXPECTED_TOTALS.items():
        assert totals[provider] == [billed, effective], provider
        # Billed (cash) and effective (amortised) differ by the upfront payments alone.
        assert effective - billed == AMORTISED_UPFRONT[provider], provider
    assert {
        "AWS": Decimal("81000.00"),
        "Microsoft": Decimal("-55647.072"),
        "Google Cloud": 0,
    } == AMORTISED_UPFRONT
    table = sample.tables["cost"]
    for col in ("BilledCost", "EffectiveCost"):
        assert pa.compute.sum(table.column(col)).as_py() == sum(
            t[col == "EffectiveCost"] for t in totals.values()
        )
    categories = {r["ChargeCategory"] for r in cost}
    assert categories == {"Usage", "Purchase", "Tax", "Credit"}
    usage = sum(r["BilledCost"] for r in cost if r["ChargeCategory"] == "Usage")
    assert usage != sum(t[0] for t in totals.values())
    assert {r["PricingCategory"] for r in cost} >= {"Standard", "Committed", "Dynamic"}


# -- FOCUS 1.2 conformance ----------------------------------------------------------------
# What focus-validator (rules model 1.2) cannot see: it reads "ChargeClass is not
# 'Correction'" as "ChargeClass IS NOT NULL AND ChargeClass <> 'Correction'", so its
# not-null rules for Usage and Purchase rows never fire on an ordinary export.

#: FOCUS Unit Format: a data size abbreviation, a time unit or a capitalised count noun,
#: alone or as <unit>-<plural time unit> (GB-Hours, GB-Months).
_SIZE = "(?:[KMGTPE]i?[bB]|[bB])"
_TIME = "(?:Years|Months|Days|Hours|Minutes|Seconds)"
UNIT_FORMAT = re.compile(rf"^(?:{_SIZE}|{_TIME}|[A-Z][A-Za-z]*)(?:-{_TIME})?$")
#: Null on Tax rows, never null on Usage and Purchase rows (no row is a Correction).
PRICED = (
    "PricingQuantity",
    "PricingUnit",
    "PricingCategory",
    "SkuId",
    "SkuPriceId",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingCurrencyListUnitPrice",
    "PricingCurrencyContractedUnitPrice",
)
NEVER_NULL = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "PricingCurrencyEffectiveCost",
    "BillingCurrency",
    "PricingCurrency",
    "BillingAccountId",
    "BillingAccountType",
    "SubAccountType",
    "InvoiceIssuerName",
    "ServiceName",
    "ServiceCategory",
    "ServiceSubcategory",
    "ChargeCategory",
    "ChargeFrequency",
    "ChargeDescription",
)


def _service_names(cost: list[dict[str, Any]]) -> set[str]:
    """Each ServiceName's one category and subcategory, as the mapping files it."""
    seen: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for r in cost:
        seen[(r["ProviderName"], r["ServiceName"])].add(
            (r["ServiceCategory"], r["ServiceSubcategory"])
        )
    allowed = mappings.subcategories()
    for (provider, name), pairs in seen.items():
        assert len(pairs) == 1, (provider, name, pairs)
        ((category, subcategory),) = pairs
        assert subcategory in allowed[category], (name, category, subcategory)
        # One truth: the converters file the same ServiceName under the same category.
        assert (category, subcategory) == mappings.service_category(provider, name), name
        if name != "Tax":  # the only row that is no provider service
            assert mappings.service(provider, name) is not None, name
    return {name for _, name in seen}


def _units(cost: list[dict[str, Any]]) -> set[str]:
    units = {
        r[col]
        for r in cost
        for col in ("PricingUnit", "ConsumedUnit", "CommitmentDiscountUnit")
        if r[col] is not None
    }
    assert all(UNIT_FORMAT.match(u) for u in units), units
    return units


def test_each_service_name_has_one_category_and_subcategory_the_mapping_gives(
    cost: list[dict[str, Any]],
) -> None:
    # Services named as the providers' own exports name them.
    assert _service_names(cost) == {
        "Amazon Elastic Compute Cloud",  # EC2 instances, EBS volumes and snapshots
        "Amazon Virtual Private Cloud",  # public IPv4 addresses (Elastic IPs)
        "Amazon SageMaker",
        "Amazon Simple Storage Service",
        "Tax",
        "Virtual Machines",
        "Storage",  # Azure meter category of managed disks, snapshots and images
        "Storage Accounts",
        "Virtual Network",
        "Azure Machine Learning",
        "Compute Engine",  # VMs, persistent disks, snapshots, images, static addresses
        "Vertex AI",
        "Cloud Storage",
        "BigQuery",
    }


def test_units_follow_the_focus_unit_format(cost: list[dict[str, Any]]) -> None:
    assert _units(cost) == {"Hours", "GB-Months", "TiB", "USD"}
    assert not UNIT_FORMAT.match("GB-Mo") and not UNIT_FORMAT.match("Tebibytes ")


def test_cost_is_conformant_focus_1_2(cost: list[dict[str, Any]]) -> None:
    _check_conformance(cost)


def test_benchmark_cost_is_conformant_focus_1_2() -> None:
    rows = pa.Table.from_batches(list(iter_cost_batches(20_000))).to_pylist()
    assert _service_names(rows) <= {
        "Amazon Elastic Compute Cloud",
        "Amazon Virtual Private Cloud",
        "Amazon SageMaker",
        "Amazon Simple Storage Service",
        "Virtual Machines",
        "Storage",
        "Storage Accounts",
        "Virtual Network",
        "Azure Machine Learning",
        "Compute Engine",
        "Vertex AI",
        "Cloud Storage",
    }
    assert _units(rows) <= {"Hours", "GB-Months", "USD"}
    _check_conformance(rows)


def _check_conformance(cost: list[dict[str, Any]]) -> None:
    for r in cost:
        category = r["ChargeCategory"]
        for col in NEVER_NULL:
            assert r[col] is not None, (col, r)
        for col in PRICED:
            if category == "Tax":
                assert r[col] is None, (col, r)
            elif category in ("Usage", "Purchase"):
                assert r[col] is not None, (col, r)
        assert r["ChargeClass"] is None  # no corrections
        assert r["CapacityReservationId"] is None and r["CapacityReservationStatus"] is None
        assert (r["SkuMeter"] is None) == (r["SkuId"] is None), r
        assert (r["PricingUnit"] is None) == (r["PricingQuantity"] is None), r
        assert (r["ConsumedUnit"] is None) == (r["ConsumedQuantity"] is None), r
        assert (r["RegionName"] is None) == (r["RegionId"] is None), r
        assert (r["ResourceType"] is None) == (r["ResourceId"] is None), r
        assert (r["SubAccountName"] is None) == (r["SubAccountId"] is None), r
        assert (r["ConsumedQuantity"] is not None) == (
            category == "Usage" and r["CommitmentDiscountStatus"] != "Unused"
        ), r
        committed = r["CommitmentDiscountId"] is not None
        assert (r["CommitmentDiscountStatus"] is not None) == (committed and category == "Usage")
        assert (r["CommitmentDiscountQuantity"] is not None) == (
            committed and category in ("Usage", "Purchase")
        ), r
        assert (r["CommitmentDiscountUnit"] is not None) == committed, r
        assert (r["PricingCategory"] == "Committed") == (committed and category == "Usage"), r
        if category == "Purchase":  # bought at its published rate
            assert r["PricingCategory"] == "Standard" and r["EffectiveCost"] == 0
        if r["CommitmentDiscountStatus"] == "Unused":
            # committed capacity has no list price: nothing is netted as a saving
            assert r["ListUnitPrice"] == r["ListCost"] == 0 < r["EffectiveCost"], r
        if category in ("Tax", "Credit"):  # charges priced on no unit of their own
            assert r["ListCost"] == r["ContractedCost"] == r["BilledCost"], r
        if r["ResourceId"] is None or r["ResourceType"] in ("Bucket", "Snapshot", "Image"):
            assert r["AvailabilityZone"] is None, r


def test_commitment_utilisation(sample: Any) -> None:
    (under,) = _recs(sample, "commitment_underused")
    util = {c["commitment_id"]: c["utilisation_pct"] for c in sample.answer_key["commitments"]}
    assert 40 < util.pop(under["resource_id"]) < 60
    assert len(util) == 4 and min(util.values()) > 95


def test_training_fleet_weekday_above_weekend(cost: list[dict[str, Any]]) -> None:
    anomalous = {date(2026, 9, 9), date(2026, 10, 20)}
    daily = _daily(cost, lambda r: json.loads(r["Tags"]).get("workload") == "training")
    weekday = [v for d, v in daily.items() if d.weekday() < 5 and d not in anomalous]
    weekend = [v for d, v in daily.items() if d.weekday() >= 5]
    assert statistics.mean(weekday) > Decimal("1.1") * statistics.mean(weekend)


# -- size mode --------------------------------------------------------------------------


def test_iter_cost_batches_exact_rows() -> None:
    schema = pa.schema([pa.field(c, arrow_type(t)) for c, t in FOCUS_COLUMNS.items()])
    total = 0
    batches = 0
    for batch in iter_cost_batches(1_234_567, batch_rows=100_000):
        assert batch.schema.equals(schema)
        total += batch.num_rows
        batches += 1
    assert total == 1_234_567 and batches == 13
    # Independent of the batch size, and exact money.
    a = pa.Table.from_batches(list(iter_cost_batches(5_000, batch_rows=1_000)))
    b = pa.Table.from_batches(list(iter_cost_batches(5_000, batch_rows=3_000)))
    assert a.equals(b)
    for r in a.slice(0, 2_000).to_pylist():
        assert r["ListCost"] == r["ListUnitPrice"] * r["PricingQuantity"]
        assert r["ContractedCost"] == r["ContractedUnitPrice"] * r["PricingQuantity"]
        assert r["ChargePeriodEnd"] - r["ChargePeriodStart"] == timedelta(hours=1)


def test_write_csv_gz_streams_rows(tmp_path: Path) -> None:
    written = write_sample(tmp_path, rows=50_000, fmt="csv.gz")
    assert list(written) == ["cost"]
    with gzip.open(written["cost"], "rt", encoding="utf-8") as fh:
        header = fh.readline().strip()
        first = fh.readline()
        lines = 1 + sum(1 for _ in fh)
    assert header == ",".join(f'"{c}"' for c in FOCUS_COLUMNS)
    assert lines == 50_000
    assert re.search(r'"2026-08-03T00:00:00Z"', first)


def test_cli_writes_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path), "--rows", "10000", "--seed", "3"]) == 0
    assert pq.read_metadata(tmp_path / "cost.parquet").num_rows == 10_000
    assert "cost.parquet" in capsys.readouterr().out
