"""The dashboard's figures (mlcost.views), against hand-computed answers."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from mlcost import views
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
        assert views.list_anomalies(con).num_rows == 0
        assert views.experiment_costs(con).num_rows == 0
        assert views.coverage_over_time(con).num_rows == 0
        assert views.freshness(con).num_rows == 0


def test_anomalies_filtered_and_series(store: Store) -> None:
    def anomaly(day: int, actual: str, provider: str = "aws") -> dict[str, object]:
        return {
            "date": date(2026, 10, day),
            "provider": provider,
            "scope": "service",
            "scope_value": "EC2",
            "actual": D(actual),
            "expected": D("10"),
            "low": D("8"),
            "high": D("12"),
            "direction": "up",
            "severity": "high",
            "drivers": '[{"resource_id": "i-1"}]',
        }

    rows = [anomaly(1, "30"), anomaly(2, "20"), anomaly(3, "50", "gcp")]
    store.load([Batch("anomalies", pa.Table.from_pylist(rows, schema=arrow_schema("anomalies")))])
    with store.reader() as con:
        aws = views.list_anomalies(con, views.Filters(providers=("aws",)))
        late = views.list_anomalies(con, views.Filters(since=date(2026, 10, 2)))
        series = views.anomaly_series(con, "service", "EC2", "aws")
    assert aws.column("date").to_pylist() == [date(2026, 10, 2), date(2026, 10, 1)]
    assert late.column("actual").to_pylist() == [D("50"), D("20")]
    assert series.column("actual").to_pylist() == [D("30"), D("20")]


def test_experiment_costs_join_runs_and_run_costs(store: Store) -> None:
    runs = [
        {"run_id": r, "experiment": "exp", "name": r, "metrics": m, "source": "t"}
        for r, m in (("a", '{"acc": 0.9}'), ("b", '{"acc": 0.8}'), ("c", '{"acc": 0.95}'))
    ]
    costs = [
        {"run_id": "a", "resource_id": "i-1", "day": date(2026, 10, 1), "cost": D("10"),
         "method": "m", "gpu_efficiency": 0.5},
        {"run_id": "a", "resource_id": "i-1", "day": date(2026, 10, 2), "cost": D("5"),
         "method": "m", "gpu_efficiency": 0.7},
        {"run_id": "b", "resource_id": "i-2", "day": date(2026, 10, 1), "cost": D("20"),
         "method": "m", "gpu_efficiency": 0.3},
    ]  # fmt: skip
    store.load(
        [
            Batch("runs", pa.Table.from_pylist(runs, schema=arrow_schema("runs"))),
            Batch("run_costs", pa.Table.from_pylist(costs, schema=arrow_schema("run_costs"))),
        ]
    )
    with store.reader() as con:
        (per,) = views.experiment_costs(con).to_pylist()
        per_run = views.run_costs_of(con, "exp")
    assert (per["runs"], per["runs_costed"], per["cost"]) == (3, 2, D("35"))
    # the mean of the runs' means: a (0.5 + 0.7) / 2 = 0.6, b 0.3 -> 0.45
    assert abs(per["gpu_efficiency"] - 0.45) < 1e-9
    assert per_run.column("run_id").to_pylist() == ["b", "a", "c"]
    assert per_run.column("cost").to_pylist() == [D("20"), D("15"), None]
    assert views.metric_names(per_run) == ["acc"]


def test_pareto_front() -> None:
    points = [("a", D(10), 0.9), ("b", D(20), 0.8), ("c", D(30), 0.95), ("d", D(10), 0.85)]
    # b is dominated by a (cheaper, better); d by a (as cheap, worse); c is best but dearest
    assert views.pareto_front(points) == {"a", "c"}
    # lower is better: d (cheapest at 0.85) and b (dearer, but lower still) are the front
    assert views.pareto_front(points, maximize=False) == {"b", "d"}


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


def test_experiment_costs_date_filter_keeps_runs_started_in_range(store: Store) -> None:
    runs = [
        {"run_id": "a", "experiment": "e1", "started_at": datetime(2026, 10, 1, 12)},
        {"run_id": "b", "experiment": "e2", "started_at": datetime(2026, 10, 3)},
    ]
    store.load([Batch("runs", pa.Table.from_pylist(runs, schema=arrow_schema("runs")))])
    with store.reader() as con:
        one = views.experiment_costs(con, views.Filters(until=date(2026, 10, 1)))
        both = views.experiment_costs(con)
    assert one.column("experiment").to_pylist() == ["e1"]
    assert sorted(both.column("experiment").to_pylist()) == ["e1", "e2"]


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
