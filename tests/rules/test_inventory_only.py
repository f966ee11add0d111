"""The rules on inventory and metrics without (or beyond) billing: findings whose cost is
unknown are kept, savings come from list prices where there are some, and what the
metrics say (last I/O, no invocation data, busy GPUs) is read."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from mlcost.recommendations import analyze_recommendations, list_recommendations
from mlcost.store import Store
from tests.rules.builder import AS_OF, Org, days_before
from tests.rules.cases import EP, NB


def found(store: Store, org: Org, rule: str) -> list[dict[str, Any]]:
    org.load(store)
    analyze_recommendations(store)
    with store.reader() as con:
        return list_recommendations(con, rules=[rule]).to_pylist()


def evidence(finding: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(str(finding["evidence"])))


# -- previous_generation: the family alone is enough ----------------------------------------


def test_previous_generation_fires_from_the_family_alone_without_prices(store: Store) -> None:
    org = Org()
    org.resource("i-m4", "vm", instance_type="m4.4xlarge", vcpus=16, memory_gb=64.0)
    org.usage("i-m4", cpu=50.0, net_mb=5000.0)
    (f,) = found(store, org, "previous_generation")
    assert f["resource_id"] == "i-m4"
    assert f["estimated_monthly_savings"] is None and f["monthly_cost"] is None
    assert f["confidence"] == "low"
    assert evidence(f)["successor_family"] == "m6i" and evidence(f)["priced"] is False
    assert "the m6i family is its current successor" in str(f["title"])


def test_previous_generation_with_its_bill_but_no_successor_price_keeps_its_cost(
    store: Store,
) -> None:
    org = Org()
    org.price("m4.4xlarge", "0.80", 16, 64, current=False)
    org.resource("i-m4", "vm", instance_type="m4.4xlarge")
    org.usage("i-m4", cpu=50.0, net_mb=5000.0)
    org.bill("i-m4", "19.2")  # 30 days = 576
    (f,) = found(store, org, "previous_generation")
    assert f["monthly_cost"] == Decimal("576") and f["estimated_monthly_savings"] is None
    assert f["confidence"] == "low"


def test_previous_generation_priced_successor_that_is_dearer_is_not_advice(store: Store) -> None:
    org = Org()
    org.price("c4.4xlarge", "0.60", 16, 30, current=False)
    org.price("c6i.4xlarge", "0.68", 16, 32)  # fits, but costs more than the old type
    org.resource("i-c4", "vm", instance_type="c4.4xlarge")
    org.usage("i-c4", cpu=50.0, net_mb=5000.0)
    org.bill("i-c4", "14.4")
    assert found(store, org, "previous_generation") == []


# -- obsolete_image: kept without billing, priced from the list -----------------------------


def _old_ami(org: Org) -> None:
    org.resource(
        "ami-old",
        "image",
        state="available",
        created_at=AS_OF - timedelta(days=600),
        size_gb=60.0,
        details={"last_launched_at": "2025-05-01T00:00:00Z", "snapshot_ids": ["snap-ami"]},
    )
    org.resource("snap-ami", "snapshot", state="completed", source_id="vol-builder", size_gb=60.0)
    org.resource("vol-builder", "volume", state="in-use", attached_to="i-builder")


def test_obsolete_image_without_billing_is_kept_and_priced_from_its_snapshots(
    store: Store,
) -> None:
    org = Org()
    _old_ami(org)
    org.unit_price("snapshot", "GB-Months", "0.05")
    (f,) = found(store, org, "obsolete_image")
    assert f["monthly_cost"] is None
    assert f["estimated_monthly_savings"] == Decimal("3.00")  # 60 GB × 0.05
    assert f["confidence"] == "medium"
    assert evidence(f)["cost_from"] == "list price" and evidence(f)["snapshots"] == 1


def test_obsolete_image_with_no_cost_and_no_price_is_still_reported(store: Store) -> None:
    org = Org()
    _old_ami(org)
    (f,) = found(store, org, "obsolete_image")
    assert (f["monthly_cost"], f["estimated_monthly_savings"]) == (None, None)
    assert f["confidence"] == "low" and evidence(f)["cost_from"] is None


# -- unattached_volume: the grace period starts at the last I/O ------------------------------


def _detached(org: Org, rid: str, io_days: int) -> None:
    """A gp3 volume created long ago, available now, doing I/O until ``io_days`` ago."""
    org.resource(rid, "volume", state="available", size_gb=200.0, details={"volume_type": "gp3"})
    org.daily(rid, "disk_io_ops", [5000.0] * (30 - io_days) + [0.0] * io_days, stat="Sum", days=30)


def test_a_volume_busy_until_two_days_ago_is_in_its_grace_period(store: Store) -> None:
    org = Org()
    _detached(org, "vol-just-detached", io_days=2)
    org.bill("vol-just-detached", "0.5")
    assert found(store, org, "unattached_volume") == []


def test_a_volume_idle_for_ten_days_without_billing_is_priced_from_the_list(store: Store) -> None:
    org = Org()
    _detached(org, "vol-left", io_days=10)
    org.unit_price("volume:gp3", "GB-Months", "0.08")
    (f,) = found(store, org, "unattached_volume")
    assert f["monthly_cost"] is None
    assert f["estimated_monthly_savings"] == Decimal("16.00")  # 200 GB × 0.08
    assert f["confidence"] == "medium"
    assert evidence(f)["last_io_at"] == str(days_before(10))  # the end of the last busy day
    assert evidence(f)["days_detached"] == 10


# -- orphaned_snapshot and unused_ip: list prices -------------------------------------------


def test_orphaned_snapshot_without_billing_uses_its_stored_size(store: Store) -> None:
    org = Org()
    org.resource(
        "snap-a",
        "snapshot",
        state="completed",
        source_id="vol-gone",
        size_gb=500.0,
        details={"full_snapshot_size_bytes": 120_000_000_000},
    )
    org.unit_price("snapshot", "GB-Months", "0.05")
    (f,) = found(store, org, "orphaned_snapshot")
    assert f["estimated_monthly_savings"] == Decimal("6.00")  # 120 GB stored × 0.05
    assert f["monthly_cost"] is None and f["confidence"] == "medium"


def test_unused_ip_without_billing_is_730_hours_of_its_list_price(store: Store) -> None:
    org = Org()
    org.resource("eipalloc-free", "ip_address", state="available")
    org.unit_price("ip_address", "Hours", "0.005")
    (f,) = found(store, org, "unused_ip")
    assert f["estimated_monthly_savings"] == Decimal("3.65")  # 730 × 0.005
    assert f["monthly_cost"] is None


# -- idle_endpoint: no invocation data is no invocations -------------------------------------


def _endpoint(org: Org, name: str, created_days_ago: int) -> str:
    rid = EP.format(name)
    org.resource(
        rid,
        "endpoint",
        instance_type="ml.g4dn.xlarge",
        created_at=days_before(created_days_ago),
        details={"instance_count": 1},
    )
    org.bill(rid, "17.6736")  # 30 days = 530.208
    return rid


def _collected(org: Org) -> None:
    """Utilisation was fetched for the account: some machine has metrics."""
    org.resource("i-web", "vm", instance_type="m5.large")
    org.usage("i-web", cpu=40.0, net_mb=5000.0)


def test_an_endpoint_with_no_invocation_data_at_all_is_idle(store: Store) -> None:
    org = Org()
    rid = _endpoint(org, "forgotten", created_days_ago=60)
    _collected(org)
    (f,) = found(store, org, "idle_endpoint")
    assert f["resource_id"] == rid
    assert f["estimated_monthly_savings"] == Decimal("530.208")
    assert evidence(f)["days_with_data"] == 0 and evidence(f)["invocations"] == 0
    assert f["confidence"] == "medium"
    assert str(f["title"]).endswith("(no invocation data at all)")


def test_a_new_endpoint_or_one_whose_metrics_were_not_fetched_is_not_guessed_at(
    store: Store,
) -> None:
    org = Org()
    _endpoint(org, "brand-new", created_days_ago=5)  # younger than the window
    _endpoint(org, "unmeasured", created_days_ago=60)  # no metrics for the account at all
    assert found(store, org, "idle_endpoint") == []
    org2 = Org()
    _endpoint(org2, "brand-new", created_days_ago=5)
    _collected(org2)
    assert found(store, org2, "idle_endpoint") == []


# -- idle_notebook: CPU and GPU, and activity -----------------------------------------------


def _notebook(org: Org, name: str, **details: Any) -> str:
    rid = NB.format(name)
    org.resource(
        rid, "notebook", instance_type="ml.g5.xlarge", gpu_count=1, details=details or None
    )
    org.bill(rid, "33.792")  # 1.408 × 24; 30 days = 1013.76
    return rid


def test_a_notebook_without_activity_data_idle_on_cpu_and_gpu_is_flagged(store: Store) -> None:
    org = Org()
    rid = _notebook(org, "nb-quiet")
    org.usage(rid, cpu=0.5, cpu_max=3.0, gpu=0.0, days=7)
    (f,) = found(store, org, "idle_notebook")
    assert f["resource_id"] == rid
    assert f["estimated_monthly_savings"] == Decimal("1013.76")
    assert evidence(f)["cpu_peak_pct"] == 3.0 and f["confidence"] == "medium"


def test_a_notebook_whose_gpu_works_is_not_idle_however_quiet_its_cpu(store: Store) -> None:
    org = Org()
    rid = _notebook(org, "nb-training")
    org.usage(rid, cpu=0.5, cpu_max=3.0, gpu=65.0, days=7)
    assert found(store, org, "idle_notebook") == []


def test_old_activity_with_a_training_loop_running_is_work(store: Store) -> None:
    org = Org()
    rid = _notebook(org, "nb-loop", last_activity_at="2026-09-01T10:00:00Z")
    org.usage(rid, cpu=4.0, cpu_max=9.0, gpu=80.0, days=7)
    assert found(store, org, "idle_notebook") == []
    org2 = Org()
    rid2 = _notebook(org2, "nb-left", last_activity_at="2026-09-01T10:00:00Z")
    org2.usage(rid2, cpu=4.0, cpu_max=9.0, gpu=0.0, days=7)
    (f,) = found(store, org2, "idle_notebook")
    assert f["resource_id"] == rid2 and f["confidence"] == "high"
