"""The dashboard's figures (mlcost.views), against hand-computed answers."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from mlcost import views
from mlcost.anomalies import acknowledge, detect_anomalies
from mlcost.config import AnomalySettings
from mlcost.ingest import ingest_billing
from mlcost.recommendations import list_recommendations, savings_summary
from mlcost.schema import arrow_schema
from mlcost.store import Batch, Store
from tests.conftest import focus_row, write_csv

D = Decimal


def day_row(day: str, cost: str, **values: str) -> dict[str, str]:
    month = day[:7]
    y, m = int(month[:4]), int(month[5:])
    nxt = f"{y + (m == 12)}-{m % 12 + 1:02d}"
    d = int(day[8:])
    return focus_row(
        BillingPeriodStart=f"{month}-01T00:00:00Z",
        BillingPeriodEnd=f"{nxt}-01T00:00:00Z",
        ChargePeriodStart=f"{day}T00:00:00Z",
        ChargePeriodEnd=(f"{month}-{d + 1:02d}T00:00:00Z"),
        BilledCost=cost,
        EffectiveCost=cost,
        ListCost=cost,
        **values,
    )


def load(store: Store, tmp_path: Path, rows: list[dict[str, str]]) -> None:
    ingest_billing(store, [str(write_csv(tmp_path / "bill.csv", rows))])


def two_months(store: Store, tmp_path: Path) -> None:
    """September: 3 days x 10 (team vision) ; October 1-10: 10 days, 2.50 vision + 1.50
    azure/nlp each day. The data ends on 2026-10-11 (exclusive)."""
    rows = [day_row(f"2026-09-{d:02d}", "10.00") for d in (1, 2, 3)]
    for d in range(1, 11):
        rows.append(day_row(f"2026-10-{d:02d}", "2.50"))
        rows.append(
            day_row(
                f"2026-10-{d:02d}",
                "1.50",
                ProviderName="Microsoft",
                SubAccountId="sub-9",
                ResourceId="vm-9",
                Tags='{"team": "<img src=x onerror=alert(1)>"}',
            )
        )
    load(store, tmp_path, rows)


def test_month_spend_and_run_rate_forecast(store: Store, tmp_path: Path) -> None:
    two_months(store, tmp_path)
    with store.reader() as con:
        (row,) = views.month_spend(con).to_pylist()
        azure = views.month_spend(con, views.Filters(providers=("azure",))).to_pylist()[0]
    # October to date: 10 x (2.50 + 1.50) = 40; 10 of 31 days billed -> 40 / 10 x 31 = 124
    assert row["month"] == "2026-10"
    assert row["this_month"] == D("40") and row["last_month"] == D("30")
    assert (row["days_covered"], row["days_in_month"]) == (10, 31)
    assert row["forecast"] == D("124")
    assert (azure["this_month"], azure["last_month"], azure["forecast"]) == (D(15), D(0), D("46.5"))


def test_filters_by_date_provider_account_and_tag(store: Store, tmp_path: Path) -> None:
    two_months(store, tmp_path)
    with store.reader() as con:

        def total(f: views.Filters) -> Decimal:
            t = views.spend_totals(con, "provider", f)
            return sum(t.column("effective_cost").to_pylist(), D(0))

        assert total(views.Filters()) == D("70")
        assert total(views.Filters(since=date(2026, 10, 2), until=date(2026, 10, 3))) == D("8")
        assert total(views.Filters(providers=("aws",))) == D("55")
        assert total(views.Filters(accounts=("sub-9",))) == D("15")
        evil = "<img src=x onerror=alert(1)>"
        assert total(views.Filters(tags={"team": (evil,)})) == D("15")
        assert total(views.Filters(tags={"team": ("vision",)})) == D("55")
        options = views.filter_options(con)
    assert options == {
        "providers": ["aws", "azure"],
        "accounts": ["222222222222", "sub-9"],
        "tags": [evil, "vision"],
    }


def test_trend_by_tag_per_day_and_top_values(store: Store, tmp_path: Path) -> None:
    two_months(store, tmp_path)
    with store.reader() as con:
        trend = views.spend_trend(con, "tag:team", views.Filters(since=date(2026, 10, 1)))
        top1 = views.spend_totals(con, "provider", top=1)
    first = [r for r in trend.to_pylist() if r["period"] == date(2026, 10, 1)]
    assert {(r["value"], r["effective_cost"]) for r in first} == {
        ("vision", D("2.5")),
        ("<img src=x onerror=alert(1)>", D("1.5")),
    }
    assert [(r["value"], r["effective_cost"]) for r in top1.to_pylist()] == [
        ("AWS", D("55")),
        ("(other)", D("15")),
    ]


def test_freshness_reads_the_load_log(store: Store, tmp_path: Path) -> None:
    two_months(store, tmp_path)
    with store.reader() as con:
        rows = views.freshness(con).to_pylist()
    (cost,) = [r for r in rows if r["table"] == "cost"]
    assert cost["rows_last_load"] == 23 and cost["loads"] == 1
    assert isinstance(cost["last_loaded"], datetime)


def test_empty_store_gives_empty_tables(store: Store) -> None:
    with store.reader() as con:
        assert views.month_spend(con).num_rows == 0
        assert views.spend_trend(con, "service").num_rows == 0
        assert views.experiment_summary(con).num_rows == 0
        assert views.findings(con).num_rows == 0
        assert views.coverage_over_time(con).num_rows == 0
        assert views.freshness(con).num_rows == 0
    assert views.anomalies(store).num_rows == 0
    assert views.open_anomalies(store) == 0


def test_recommendations_filter_by_tag(store: Store) -> None:
    def finding(rid: str, team: str) -> dict[str, object]:
        return {"id": rid, "rule": "idle_vm", "provider": "aws", "resource_id": rid,
                "estimated_monthly_savings": D("1"), "currency": "USD", "status": "open",
                "tags": json.dumps({"team": team})}  # fmt: skip

    table = pa.Table.from_pylist(
        [finding("r1", "vision"), finding("r2", "nlp")], schema=arrow_schema("recommendations")
    )
    store.load([Batch("recommendations", table, partition={"rule": "idle_vm"})])
    with store.reader() as con:
        nlp = list_recommendations(con, tags={"team": ["nlp"]})
        both = list_recommendations(con, tags={"team": []})
    assert nlp.column("id").to_pylist() == ["r2"]
    assert both.num_rows == 2


def test_savings_summary_per_provider_and_account_counts_each_resource_once(store: Store) -> None:
    def finding(rid: str, rule: str, provider: str, account: str, saving: str) -> dict[str, object]:
        return {
            "id": f"{rule}-{rid}",
            "rule": rule,
            "provider": provider,
            "account_id": account,
            "resource_id": rid,
            "monthly_cost": D("100"),
            "estimated_monthly_savings": D(saving),
            "currency": "USD",
            "status": "open",
        }

    rows = [
        finding("vm-1", "idle_vm", "aws", "a1", "100"),
        finding("vm-1", "rightsize_vm", "aws", "a1", "40"),  # same resource: counted once
        finding("vm-2", "idle_vm", "aws", "a2", "30"),
        finding("vm-3", "idle_vm", "gcp", "p1", "7"),
    ]
    schema = arrow_schema("recommendations")
    store.load(
        [
            Batch(
                "recommendations",
                pa.Table.from_pylist([r for r in rows if r["rule"] == rule], schema=schema),
                partition={"rule": rule},
            )
            for rule in ("idle_vm", "rightsize_vm")
        ]
    )

    def total(**kw: list[str]) -> Decimal:
        with store.reader() as con:
            summary = savings_summary(con, **kw).to_pylist()
        (row,) = [r for r in summary if r["scope"] == "total"]
        return row["monthly_savings"]

    assert total() == D("137")
    assert total(providers=["aws"]) == D("130")
    assert total(accounts=["a1", "p1"]) == D("107")


def test_commitment_views_follow_the_provider_and_date_filters(store: Store) -> None:
    from mlcost.ingest import ingest_sample

    ingest_sample(store)
    with store.reader() as con:
        everything = views.commitment_utilisation(con)
        aws = views.commitment_utilisation(con, views.Filters(providers=("aws",)))
        october = views.commitment_utilisation(con, views.Filters(since=date(2026, 10, 1)))
        coverage = views.coverage_over_time(con, views.Filters(providers=("gcp",)))
    assert set(everything.column("provider").to_pylist()) == {"aws", "azure", "gcp"}
    assert set(aws.column("provider").to_pylist()) == {"aws"}
    assert aws.num_rows == 6  # the RI and the Savings Plan, August to October
    assert set(october.column("period").to_pylist()) == {"2026-10"}
    assert coverage.column("month").to_pylist() == ["2026-08", "2026-09", "2026-10"]
    assert set(coverage.column("provider").to_pylist()) == {"gcp"}


def load_findings(store: Store, rows: list[dict[str, object]]) -> None:
    schema = arrow_schema("recommendations")
    rules = sorted({str(r["rule"]) for r in rows})
    store.load(
        [
            Batch(
                "recommendations",
                pa.Table.from_pylist([r for r in rows if r["rule"] == rule], schema=schema),
                partition={"rule": rule},
            )
            for rule in rules
        ]
    )


def finding(
    rid: str, saving: str, first: datetime, last: datetime, team: str, rule: str = "idle_vm"
) -> dict[str, object]:
    return {
        "id": f"{rule}-{rid}", "rule": rule, "provider": "aws", "account_id": "a1",
        "resource_id": rid, "monthly_cost": D("100"), "estimated_monthly_savings": D(saving),
        "currency": "USD", "status": "open", "first_detected": first, "last_detected": last,
        "tags": json.dumps({"team": team}),
    }  # fmt: skip


def test_findings_and_savings_follow_the_detection_window_and_tags(store: Store) -> None:
    load_findings(
        store,
        [
            # detected 1-10 October, 14-20 October, 1-5 September
            finding("vm-1", "100", datetime(2026, 10, 1, 6), datetime(2026, 10, 10, 6), "vision"),
            finding("vm-2", "30", datetime(2026, 10, 14, 6), datetime(2026, 10, 20, 6), "nlp"),
            finding("vm-3", "7", datetime(2026, 9, 1, 6), datetime(2026, 9, 5, 6), "vision"),
            # vm-1 again under a second rule: its saving is counted once (the larger)
            finding(
                "vm-1",
                "40",
                datetime(2026, 10, 1, 6),
                datetime(2026, 10, 10, 6),
                "vision",
                rule="rightsize_vm",
            ),
        ],
    )

    def ids(f: views.Filters) -> list[str]:
        with store.reader() as con:
            return sorted(views.findings(con, f).column("id").to_pylist())

    def total(f: views.Filters) -> Decimal | None:
        with store.reader() as con:
            rows = [r for r in views.savings(con, f).to_pylist() if r["scope"] == "total"]
        return rows[0]["monthly_savings"] if rows else None

    everything = ["idle_vm-vm-1", "idle_vm-vm-2", "idle_vm-vm-3", "rightsize_vm-vm-1"]
    assert ids(views.Filters()) == everything
    assert total(views.Filters()) == D("137")  # 100 (vm-1, once) + 30 + 7
    # A finding's detection window is the data it was judged on: from 30 days before it
    # was first detected (its month of cost) to when it was last detected.
    # vm-1: 1 Sep 06:00 to 10 Oct 06:00; vm-2: 14 Sep to 20 Oct; vm-3: 2 Aug to 5 Sep.
    window = views.Filters(since=date(2026, 10, 5), until=date(2026, 10, 11))
    assert ids(window) == ["idle_vm-vm-1", "idle_vm-vm-2", "rightsize_vm-vm-1"]
    assert total(window) == D("130")
    # from 11 October: vm-2 only (vm-1 was last detected on the 10th)
    assert total(views.Filters(since=date(2026, 10, 11))) == D("30")
    # from 6 September: vm-1 and vm-2 (vm-3 was last detected on the 5th)
    assert total(views.Filters(since=date(2026, 9, 6))) == D("130")
    # until 31 August (inclusive): vm-3 only (vm-1's data starts on 1 September)
    assert total(views.Filters(until=date(2026, 8, 31))) == D("7")
    # a range before any finding's data keeps nothing
    assert total(views.Filters(until=date(2026, 8, 1))) is None
    # the team tag: vm-1 and vm-3 are vision's
    vision = views.Filters(tags={"team": ("vision",)})
    assert ids(vision) == ["idle_vm-vm-1", "idle_vm-vm-3", "rightsize_vm-vm-1"]
    assert total(vision) == D("107")
    assert total(views.Filters(tags={"team": ("nlp",)}, since=date(2026, 10, 12))) == D("30")


def anomaly_row(
    day: int, scope: str, value: str, provider: str | None, actual: str = "30"
) -> dict[str, object]:
    return {
        "date": date(2026, 10, day), "provider": provider, "scope": scope, "scope_value": value,
        "actual": D(actual), "expected": D("10"), "low": D("8"), "high": D("12"),
        "direction": "spike", "severity": "high",
        "drivers": json.dumps({"currency": "USD", "top": [
            {"dimension": "resource", "value": "i-1", "actual": "30", "expected": "10",
             "change": "20", "share_pct": 100.0},
            {"dimension": "service", "value": "<b>EC2</b>", "actual": "30", "expected": "10",
             "change": "20", "share_pct": 100.0},
        ]}),
    }  # fmt: skip


def test_anomalies_follow_every_filter_and_count_the_open_ones(store: Store) -> None:
    rows = [
        anomaly_row(1, "total", "total", None),
        anomaly_row(2, "account", "111", "AWS"),
        anomaly_row(3, "tag:team", "vision", None),
        anomaly_row(4, "account", "222", "Google Cloud"),
    ]
    store.load(
        [
            Batch("anomalies", pa.Table.from_pylist([r], schema=arrow_schema("anomalies")))
            for r in rows
        ]
    )

    def days(f: views.Filters) -> list[int]:
        return [d.day for d in views.anomalies(store, f).column("date").to_pylist()]

    assert days(views.Filters()) == [4, 3, 2, 1]
    assert days(views.Filters(since=date(2026, 10, 3))) == [4, 3]
    assert days(views.Filters(until=date(2026, 10, 2))) == [2, 1]
    assert days(views.Filters(providers=("aws",))) == [2]
    assert days(views.Filters(providers=("gcp", "aws"))) == [4, 2]
    assert days(views.Filters(accounts=("111",))) == [2]
    assert days(views.Filters(tags={"team": ("vision",)})) == [3]
    assert days(views.Filters(accounts=("111",), tags={"team": ("vision",)})) == []
    assert views.open_anomalies(store) == 4
    (second,) = views.anomalies(store, views.Filters(accounts=("111",))).to_pylist()
    acknowledge(store, second["id"], "planned", "a migration")
    assert views.open_anomalies(store) == 3
    assert views.open_anomalies(store, views.Filters(accounts=("111",))) == 0
    drivers = views.anomaly_drivers(second["drivers"]).to_pylist()
    assert [(d["dimension"], d["value"], d["change"]) for d in drivers] == [
        ("resource", "i-1", "20"),
        ("service", "<b>EC2</b>", "20"),
    ]


def test_anomaly_series_draws_the_band_the_detector_judged_by(store: Store, tmp_path: Path) -> None:
    # 10.00 a day 1-29 September, 100.00 on the 25th; the last day (29th) is not
    # complete yet (lag 1), so the series runs 1-28 September
    rows = [day_row(f"2026-09-{d:02d}", "100.00" if d == 25 else "10.00") for d in range(1, 30)]
    load(store, tmp_path, rows)
    settings = AnomalySettings(lookback_days=14, min_history_days=14, min_impact=50)
    with store.reader() as con:
        series = views.anomaly_series(con, settings, "total", "total", "USD").to_pylist()
    assert len(series) == 28 and series[0]["date"] == date(2026, 9, 1)
    # the first 14 days have no history to judge by
    assert all(r["expected"] is None and r["low"] is None for r in series[:14])
    # every later day: the median of the 14 before is 10 and nothing varies, so the band
    # is 10 to 10 (the 100 is one outlier among 14, which medians ignore)
    assert {(r["expected"], r["low"], r["high"]) for r in series[14:]} == {(10.0, 10.0, 10.0)}
    assert series[24]["actual"] == D("100") and series[24]["date"] == date(2026, 9, 25)
    # the detector flags that day with that band
    detect_anomalies(store, settings)
    (stored,) = [a for a in views.anomalies(store).to_pylist() if a["scope"] == "total"]
    assert (stored["date"], stored["expected"], stored["low"], stored["high"]) == (
        date(2026, 9, 25), D("10"), D("10"), D("10"),
    )  # fmt: skip


def test_anomaly_series_band_follows_the_sensitivity_setting(store: Store) -> None:
    from mlcost.ingest import ingest_sample

    ingest_sample(store)
    medium = AnomalySettings()
    high = AnomalySettings(sensitivity="high")
    detect_anomalies(store, medium)
    found = views.anomalies(store).to_pylist()
    kinds = ("total", "gpus", "account", "tag:team")
    firsts = [next(a for a in found if a["scope"] == kind) for kind in kinds]
    for a in firsts:
        key = (a["scope"], a["scope_value"], a["currency"])
        with store.reader() as con:
            m = views.anomaly_series(con, medium, *key).to_pylist()
            h = views.anomaly_series(con, high, *key).to_pylist()
        (md,) = [r for r in m if r["date"] == a["date"]]
        (hd,) = [r for r in h if r["date"] == a["date"]]
        # the series' band on the anomaly's day is the stored one (to the stored millionth)
        assert md["actual"] == a["actual"], key
        assert abs(D(str(md["expected"])) - a["expected"]) < D("0.000001"), key
        assert abs(D(str(md["high"])) - a["high"]) < D("0.000002"), key
        # medium is 3 robust sigmas wide, high 2: the same expected, 2/3 of the width
        assert hd["expected"] == md["expected"]
        assert abs((hd["high"] - hd["expected"]) - (md["high"] - md["expected"]) * 2 / 3) < 1e-6


def commitment_rows() -> list[dict[str, str]]:
    """One day: ri-1 (account 222, vision) used 10 h and left 2.00 unused; ri-2 (account
    333, nlp) used 5 h; on demand: 4 h in 222 (nlp) and 6 h in 333 (vision)."""

    def usage(account: str, team: str, hours: str, cost: str, **more: str) -> dict[str, str]:
        row = day_row("2026-10-01", cost, SubAccountId=account, ServiceCategory="Compute")
        row.update(
            Tags=json.dumps({"team": team}), ConsumedQuantity=hours, ConsumedUnit="Hours",
            ListCost=hours, ResourceId=f"i-{account}-{team}", **more,
        )  # fmt: skip
        return row

    committed = {"PricingCategory": "Committed", "CommitmentDiscountStatus": "Used"}
    return [
        usage("222", "vision", "10", "6", CommitmentDiscountId="ri-1",
              CommitmentDiscountQuantity="10", **committed),
        {**day_row("2026-10-01", "2", SubAccountId="222", Tags="{}", ServiceCategory="Compute",
                   CommitmentDiscountId="ri-1", CommitmentDiscountStatus="Unused",
                   CommitmentDiscountQuantity="2", PricingCategory="Committed"), "ListCost": "0"},
        usage("333", "nlp", "5", "3", CommitmentDiscountId="ri-2",
              CommitmentDiscountQuantity="5", **committed),
        usage("222", "nlp", "4", "4", PricingCategory="Standard"),
        usage("333", "vision", "6", "6", PricingCategory="Standard"),
    ]  # fmt: skip


def test_commitments_follow_the_account_and_tag_filters(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, commitment_rows())
    with store.reader() as con:

        def used(f: views.Filters) -> dict[str, object]:
            table = views.commitment_utilisation(con, f)
            return dict(
                zip(
                    table.column("commitment_id").to_pylist(),
                    table.column("utilisation_cost_pct").to_pylist(),
                    strict=True,
                )
            )

        def covered(f: views.Filters) -> tuple[Decimal, Decimal, object]:
            (row,) = views.coverage_over_time(con, f).to_pylist()
            return row["covered_cost"], row["on_demand_cost"], row["coverage_cost_pct"]

        # ri-1: 6.00 used of 8.00 amortised = 75 %; ri-2 all used
        assert used(views.Filters()) == {"ri-1": 75, "ri-2": 100}
        assert used(views.Filters(accounts=("333",))) == {"ri-2": 100}
        assert used(views.Filters(tags={"team": ("vision",)})) == {"ri-1": 75}
        # coverage at on-demand prices: (10 + 5) covered of 25 eligible = 60 %
        assert covered(views.Filters()) == (D(15), D(10), 60)
        # account 222: 10 covered, 4 on demand -> 71.43 %
        assert covered(views.Filters(accounts=("222",))) == (D(10), D(4), 71.43)
        # vision: 10 covered, 6 on demand -> 62.5 %; nlp: 5 and 4 -> 55.56 %
        assert covered(views.Filters(tags={"team": ("vision",)})) == (D(10), D(6), 62.5)
        assert covered(views.Filters(tags={"team": ("nlp",)})) == (D(5), D(4), 55.56)
        assert views.expiring(con, views.Filters(accounts=("333",))).num_rows == 0


def experiment_store(store: Store, tmp_path: Path) -> None:
    """A sweep p (trials t1, t2) and a run x in experiment exp; t1 ran on an AWS machine
    (account 222, vision), t2 on an Azure one (sub-9, nlp), x on both."""
    load(
        store,
        tmp_path,
        [
            day_row("2026-10-01", "50", ResourceId="i-aws"),
            day_row("2026-10-01", "50", ProviderName="Microsoft", SubAccountId="sub-9",
                    ResourceId="vm-azure", Tags='{"team": "nlp"}'),
        ],
    )  # fmt: skip

    def run(rid: str, parent: str | None, start: int, end: int, gpus: int, metrics: str) -> dict:
        return {
            "run_id": rid, "experiment": "exp", "parent_run_id": parent, "name": rid,
            "source": "t", "started_at": datetime(2026, 10, 1, start),
            "ended_at": datetime(2026, 10, 1, end), "gpu_count": gpus, "metrics": metrics,
        }  # fmt: skip

    runs = [
        run("p", None, 8, 13, 0, "{}"),
        run("t1", "p", 8, 10, 1, '{"acc": 0.8}'),
        run("t2", "p", 11, 12, 1, '{"acc": 0.9}'),
        run("x", None, 14, 15, 0, '{"acc": 0.85}'),
    ]

    def cost(rid: str, resource: str, amount: str, eff: float | None) -> dict:
        return {"run_id": rid, "resource_id": resource, "day": date(2026, 10, 1),
                "cost": D(amount), "method": "time_share", "gpu_efficiency": eff}  # fmt: skip

    costs = [
        cost("t1", "i-aws", "10", 0.5),
        cost("t2", "vm-azure", "20", 1.0),
        cost("x", "i-aws", "5", None),
        cost("x", "vm-azure", "1", None),
    ]
    store.load(
        [
            Batch("runs", pa.Table.from_pylist(runs, schema=arrow_schema("runs"))),
            Batch("run_costs", pa.Table.from_pylist(costs, schema=arrow_schema("run_costs"))),
        ]
    )


def test_experiments_and_sweeps_follow_the_filters(store: Store, tmp_path: Path) -> None:
    experiment_store(store, tmp_path)
    with store.reader() as con:

        def sweep(f: views.Filters, target: float) -> dict[str, object]:
            runs = views.experiment_runs(con, f, metric="acc", target=target)
            (row,) = views.sweeps(runs).to_pylist()
            return row

        def summary(f: views.Filters) -> dict[str, object]:
            (row,) = views.experiment_summary(con, f).to_pylist()
            return row

        everything = sweep(views.Filters(), 0.85)
        # the sweep: its trials' 10 + 20, its best trial's 0.9; 0.85 was first reached
        # by t2 (ended second), after 10 + 20 had been spent; 0.8 by t1 alone
        assert (everything["trials"], everything["cost"], everything["metric"]) == (2, D(30), 0.9)
        assert everything["cost_to_target"] == D(30)
        assert sweep(views.Filters(), 0.8)["cost_to_target"] == D(10)
        # AWS lines only: t1 (10) is the sweep's one trial, and it never reached 0.85
        aws = sweep(views.Filters(providers=("aws",)), 0.85)
        assert (aws["trials"], aws["cost"], aws["metric"], aws["cost_to_target"]) == (
            1, D(10), 0.8, None,
        )  # fmt: skip
        # the nlp tag (the Azure machine): t2's 20
        nlp = sweep(views.Filters(tags={"team": ("nlp",)}), 0.85)
        assert (nlp["cost"], nlp["cost_to_target"]) == (D(20), D(20))
        assert sweep(views.Filters(accounts=("sub-9",)), 0.85)["cost"] == D(20)
        # per experiment: the leaf runs t1, t2, x: 10 + 20 + 6 = 36; AWS: 10 + 5
        assert (summary(views.Filters())["runs"], summary(views.Filters())["cost"]) == (3, D(36))
        aws_summary = summary(views.Filters(providers=("aws",)))
        assert (aws_summary["runs"], aws_summary["cost"]) == (2, D(15))
        # GPU efficiency: used ÷ paid GPU-hours of t1 (2 h at 0.5) and t2 (1 h at 1.0)
        assert abs(summary(views.Filters())["gpu_efficiency"] - 2 / 3) < 1e-9
        # the date range keeps the runs started in it: all on 1 October, none after
        assert summary(views.Filters(until=date(2026, 10, 1)))["cost"] == D(36)
        late = views.experiment_summary(con, views.Filters(since=date(2026, 10, 2)))
        assert late.num_rows == 0
        assert views.metric_names(con, "exp") == ["acc"]
