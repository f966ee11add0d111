"""Cost anomalies on small hand-made bills whose answers are worked out by hand."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from subprocess import CompletedProcess

import numpy as np
import pyarrow as pa
import pytest

from mlcost.anomalies import (
    acknowledge,
    anomaly_id,
    detect_anomalies,
    find_anomalies,
    list_anomalies,
    model_series,
    seven_day_mean_rule,
)
from mlcost.config import AnomalySettings, load_settings
from mlcost.errors import ConfigError, InputError
from mlcost.schema import arrow_schema
from mlcost.store import Batch, Store

MONDAY = date(2026, 1, 5)
COLUMNS = [
    "BillingCurrency",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ProviderName",
    "SubAccountId",
    "ServiceName",
    "ResourceId",
    "EffectiveCost",
    "BilledCost",
    "Tags",
    "SkuPriceDetails",
    "x_source",
]


def line(day: date, cost: float | Decimal, **values: str) -> dict[str, object]:
    """One day's usage of one resource (keyword arguments override the dimensions)."""
    start = datetime(day.year, day.month, day.day)
    amount = Decimal(str(cost))
    row: dict[str, object] = {
        "BillingCurrency": "USD",
        "BillingPeriodStart": datetime(day.year, day.month, 1),
        "ChargePeriodStart": start,
        "ChargePeriodEnd": start + timedelta(days=1),
        "ChargeCategory": "Usage",
        "ProviderName": "AWS",
        "SubAccountId": "111111111111",
        "ServiceName": "Amazon Elastic Compute Cloud",
        "ResourceId": "i-0train",
        "EffectiveCost": amount,
        "BilledCost": amount,
        "Tags": json.dumps({"team": values.pop("team", "vision")}),
        "SkuPriceDetails": None,
        "x_source": "test",
    }
    row.update(values)
    return row


def load(store: Store, rows: Sequence[dict[str, object]]) -> None:
    full = arrow_schema("cost")
    schema = pa.schema([full.field(c) for c in COLUMNS])
    store.load([Batch("cost", pa.Table.from_pylist(list(rows), schema=schema))])


def weekly(weekday: float, weekend: float, days: int) -> list[float]:
    """Weekdays at one cost, Saturdays and Sundays at another, from a Monday."""
    return [weekend if i % 7 in (5, 6) else weekday for i in range(days)]


def series_rows(values: Sequence[float], **dims: str) -> list[dict[str, object]]:
    return [line(MONDAY + timedelta(days=i), v, **dims) for i, v in enumerate(values)]


def test_a_weekly_rhythm_with_weekend_dips_does_not_fire(store: Store) -> None:
    # Eight weeks of a training pool that works weekdays only: $1,000 a weekday, $100 on
    # weekends. Every weekday is 35 % above the mean of the 7 days before it
    # ((5 x 1000 + 2 x 100) / 7 = 742.86), so the 7-day-mean rule fires on every weekday
    # after the first week; ours has learnt that weekdays cost $1,000 and weekends $100.
    values = weekly(1000, 100, 57)
    load(store, series_rows(values))
    result = detect_anomalies(store, AnomalySettings())
    assert result.anomalies == []
    assert result.judged_through == MONDAY + timedelta(days=55)  # the last day waits (lag 1)
    baseline = seven_day_mean_rule(np.array(values))
    assert int(baseline.sum()) == 36  # the 36 weekdays among days 7 to 56


def test_a_drop_fires_with_its_driver(store: Store) -> None:
    values = weekly(500, 500, 43)
    values[40] = 50  # the account's jobs stopped for a day
    rows = series_rows(values, SubAccountId="acme-data-lake", ResourceId="bq-jobs")
    rows += series_rows(weekly(300, 300, 43), SubAccountId="acme-web", ResourceId="i-web")
    load(store, rows)
    result = detect_anomalies(store, AnomalySettings(tag_keys=[]))
    found = {(a.scope, a.scope_value, a.date, a.direction) for a in result.anomalies}
    day = MONDAY + timedelta(days=40)
    assert ("account", "acme-data-lake", day, "drop") in found
    assert ("total", "total", day, "drop") in found  # 800 -> 350: -56 %
    assert not any(a.scope_value == "acme-web" for a in result.anomalies)
    drop = next(a for a in result.anomalies if a.scope_value == "acme-data-lake")
    assert (drop.actual, drop.expected, drop.impact) == (Decimal(50), Decimal(500), Decimal(-450))
    assert drop.impact_pct == -90.0
    resource = [d for d in drop.drivers if d["dimension"] == "resource"]
    assert resource[0]["value"] == "bq-jobs" and resource[0]["change"] == "-450.000000000000"


def test_an_incomplete_last_day_is_not_judged(store: Store) -> None:
    values = weekly(400, 400, 36)
    values[-1] = 90  # the newest day: billing still arriving
    load(store, series_rows(values))
    assert detect_anomalies(store, AnomalySettings()).anomalies == []
    judged_now = detect_anomalies(store, AnomalySettings(lag_days=0))  # told it is complete
    assert [(a.scope, a.date, a.direction) for a in judged_now.anomalies] == [
        ("account", MONDAY + timedelta(days=35), "drop"),
        ("provider", MONDAY + timedelta(days=35), "drop"),
        ("service", MONDAY + timedelta(days=35), "drop"),
        ("tag:team", MONDAY + timedelta(days=35), "drop"),
        ("total", MONDAY + timedelta(days=35), "drop"),
    ]


def test_thresholds_keep_small_scopes_quiet(store: Store) -> None:
    big = series_rows(weekly(2000, 2000, 36), ServiceName="Amazon SageMaker", team="vision")
    small = weekly(20, 20, 36)
    small[30] = 60  # tripled, but only $40 more
    rows = big + series_rows(small, ServiceName="AWS Lambda", ResourceId="fn", team="web")
    load(store, rows)
    assert detect_anomalies(store, AnomalySettings()).anomalies == []
    loose = detect_anomalies(store, AnomalySettings(min_impact=25, tag_keys=[]))
    assert [(a.scope, a.scope_value, a.severity) for a in loose.anomalies] == [
        ("service", "AWS Lambda", "low")  # $40 is under 3 x $25
    ]


def test_expected_band_and_impact_worked_by_hand(store: Store) -> None:
    # Weekdays $100, weekends $50, for three weeks (21 days of history), except that the
    # first and second Tuesdays cost $104 and $96. Day 21 (a Monday) costs $250; day 22
    # is the newest, not judged yet.
    values = weekly(100, 50, 23)
    values[1], values[8] = 104, 96
    values[21] = 250
    load(store, series_rows(values))
    settings = AnomalySettings(lookback_days=21, min_history_days=21, tag_keys=[])
    result, _ = find_anomalies(store, settings)
    total = next(a for a in result.anomalies if a.scope == "total")
    # Window: the 21 days before. Median of all 21 = 100; Monday's median = 100, so
    # Monday's factor is 1 and the weekend's 0.5. Adjusted values are all 100 but the
    # Tuesdays (104, 96): the level (median of the last 14) is 100, the halves' medians
    # are both 100 (no trend). Residuals: 0 x 19, +4, -4 -> MAD 0, so the band is the
    # expected value itself.
    assert (total.expected, total.low, total.high) == (Decimal(100), Decimal(100), Decimal(100))
    assert (total.actual, total.impact, total.impact_pct) == (Decimal(250), Decimal(150), 150.0)
    assert total.severity == "low"  # $150 is 1.5 x the $100 minimum; medium from 3 x


def test_band_is_median_absolute_deviation_computed_by_hand() -> None:
    # Three weeks of $100 a day, with deviations; day 21 is judged from days 0-20.
    values = np.full(22, 100.0)
    values[[2, 5, 9, 12, 16, 19]] = [110, 90, 106, 94, 103, 97]
    model = model_series(values, lookback_days=21, min_history_days=21)
    window = values[:21]
    base = statistics.median(window)  # 100
    monday = statistics.median(window[[0, 7, 14]]) / base  # 1.0: day 21 is a Monday
    factors = [statistics.median(window[[q, q + 7, q + 14]]) / base for q in range(7)]
    adjusted = [v / factors[i % 7] for i, v in enumerate(window)]
    level = statistics.median(adjusted[7:])  # the last 14 days
    first, second = statistics.median(adjusted[:10]), statistics.median(adjusted[10:])
    slope = (second - first) / 11
    centre = 7.5
    line_ = [level - slope * ((21 - i) - centre) for i in range(21)]
    residual = [a - f for a, f in zip(adjusted, line_, strict=True)]
    mad = statistics.median([abs(r - statistics.median(residual)) for r in residual])
    assert model.expected[21] == pytest.approx((level + slope * centre) * monday)
    assert model.spread[21] == pytest.approx(1.4826 * mad * monday)
    assert np.isnan(model.expected[20])  # not enough history before day 20


def test_a_jump_in_running_gpus_fires_and_names_the_new_instances(store: Store) -> None:
    # Two 8-GPU training nodes every day for five weeks (16 GPUs); on day 30 two more
    # nodes appear for a day (32). On day 25 both nodes are stopped: fewer GPUs is no news.
    # The burst's lines say only their instance type: the price list has its GPUs.
    eight = json.dumps({"GpuCount": 8, "InstanceType": "p4d.24xlarge"})
    rows = []
    for node in ("i-node1", "i-node2"):
        costs = [0.0 if i == 25 else 786.5 for i in range(36)]
        rows += [
            r
            for r in series_rows(costs, ResourceId=node, SkuPriceDetails=eight)
            if r["EffectiveCost"]
        ]
    burst = json.dumps({"InstanceType": "p5.48xlarge"})
    rows += [
        line(MONDAY + timedelta(days=30), 1321, ResourceId=f"i-burst{i}", SkuPriceDetails=burst)
        for i in (1, 2)
    ]
    load(store, rows)
    prices = pa.table(
        {"provider": ["aws"], "instance_type": ["p5.48xlarge"], "gpu_count": [8], "source": ["t"]},
        schema=pa.schema(
            [
                arrow_schema("prices").field(c)
                for c in ("provider", "instance_type", "gpu_count", "source")
            ]
        ),
    )
    store.load([Batch("prices", prices)])
    result = detect_anomalies(store, AnomalySettings(tag_keys=[]))
    jumps = [a for a in result.anomalies if a.scope == "gpus"]
    assert [(a.date, a.actual, a.expected, a.severity) for a in jumps] == [
        (MONDAY + timedelta(days=30), Decimal(32), Decimal(16), "low")  # 2 x the minimum jump
    ]
    assert {d["value"] for d in jumps[0].drivers if d["dimension"] == "resource"} == {
        "i-burst1",
        "i-burst2",
    }
    listed = list_anomalies(store, scopes=["gpus"]).to_pylist()
    assert listed[0]["currency"] is None and listed[0]["impact"] == Decimal(16)


def test_scopes_with_too_little_history_are_reported_not_judged(store: Store) -> None:
    rows = series_rows(weekly(500, 500, 40))
    rows += [line(MONDAY + timedelta(days=30 + i), 900, team="new-team") for i in range(10)]
    load(store, rows)
    result = detect_anomalies(store, AnomalySettings())
    assert ("tag:team", "new-team", 9) in result.short_history
    assert not any(a.scope_value == "new-team" for a in result.anomalies)
    assert "1 scope(s) with too little history not judged: tag:team=new-team (9 days)" in (
        result.summary()
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("min_impact = '100'", "anomalies.min_impact must be a float, not str"),
        ("sensitivity = 'extreme'", "anomalies.sensitivity must be one of low, medium, high"),
        ("tag_keys = 'team'", "anomalies.tag_keys must be a list, not str"),
        ("tag_keys = ['team', '']", "anomalies.tag_keys must be a list of non-empty tag keys"),
        ("lookback_days = 7", "must be at least 14"),
        ("lag_days = -1", "anomalies.lag_days must be zero or more"),
    ],
)
def test_bad_anomaly_settings_are_refused_by_name(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "mlcost.toml"
    path.write_text(f"[anomalies]\n{text}\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(path)
    assert (
        load_settings(_write(tmp_path, "[anomalies]\nmin_impact = 50\n")).anomalies.min_impact == 50
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ok.toml"
    path.write_text(text)
    return path


def test_acknowledgements_survive_reanalysis_and_show_in_the_list(store: Store) -> None:
    values = weekly(500, 500, 36)
    values[30] = 1500
    load(store, series_rows(values))
    settings = AnomalySettings(tag_keys=[])
    detect_anomalies(store, settings)
    day = MONDAY + timedelta(days=30)
    ident = anomaly_id("total", "total", day)
    assert acknowledge(store, ident, "planned", "load test") == "planned: load test"
    detect_anomalies(store, settings)  # re-analysis replaces the anomalies, not the feedback
    listed = list_anomalies(store, scopes=["total"]).to_pylist()
    assert [(r["id"], r["date"], r["status"], r["reason"]) for r in listed] == [
        (ident, day, "acknowledged", "planned: load test")
    ]
    assert listed[0]["impact"] == Decimal(1000) and listed[0]["currency"] == "USD"
    assert len(list_anomalies(store, scopes=["service=Amazon Elastic Compute Cloud"])) == 1
    assert len(list_anomalies(store, since=day + timedelta(days=1))) == 0
    with pytest.raises(InputError, match="No anomaly has the id 'abc'"):
        acknowledge(store, "abc", "planned")
    with pytest.raises(InputError, match="choose one of expected, planned"):
        acknowledge(store, ident, "because")


def test_a_scope_without_anomalies_any_more_is_emptied(store: Store) -> None:
    values = weekly(500, 500, 36)
    values[30] = 1500
    load(store, series_rows(values))
    detect_anomalies(store, AnomalySettings())
    assert len(list_anomalies(store, scopes=["tag:team"])) == 1
    detect_anomalies(store, replace(AnomalySettings(), tag_keys=["project"]))
    assert len(list_anomalies(store, scopes=["tag:team"])) == 0
    assert len(list_anomalies(store, scopes=["total"])) == 1


def test_cli_lists_acknowledges_and_analyze_reports(
    cli: Callable[..., CompletedProcess[str]], tmp_path: Path, store: Store
) -> None:
    values = weekly(500, 500, 36)
    values[30] = 1500
    load(store, series_rows(values))
    db = str(store.path)
    done = cli("--db", db, "analyze", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert "Anomalies: 5 (5 spikes, 0 drops) in 5 scopes" in done.stderr
    listed = cli("--db", db, "anomalies", "--scope", "total", "--format", "json")
    rows = json.loads(listed.stdout, parse_float=Decimal)
    assert [(r["date"], r["direction"], r["impact"]) for r in rows] == [
        ("2026-02-04", "spike", Decimal(1000))
    ]
    ack = cli("--db", db, "anomalies", "ack", rows[0]["id"], "--reason", "expected")
    assert ack.returncode == 0 and "acknowledged (expected)" in ack.stdout
    again = cli("--db", db, "anomalies", "--scope", "total", "--format", "csv")
    assert ",acknowledged,expected," in again.stdout
    bad = cli("--db", db, "anomalies", "ack", "nope", "--reason", "planned")
    assert bad.returncode == 1 and "No anomaly has the id 'nope'" in bad.stderr
    (tmp_path / "mlcost.toml").write_text("[anomalies]\nmin_impact_usd = 5\n")
    refused = cli("--db", db, "--config", str(tmp_path / "mlcost.toml"), "anomalies")
    assert refused.returncode == 1
    assert "unknown setting anomalies.min_impact_usd; valid settings: lag_days" in refused.stderr
