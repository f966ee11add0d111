"""The Python API (``mlcost.open`` → ``Workspace``): cheap to import, money a pandas user
can sum and plot and still exact to the cent, the CLI's filters and their errors, and the
same tables the commands print (they fetch through it)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import mlcost
from mlcost.errors import InputError
from mlcost.filters import Filters
from mlcost.output import write_json
from tests.conftest import run_main

CENT = Decimal("0.01")
#: The sample organisation's spend, summed by hand from the generator's own table (see
#: test_the_sums_are_the_generators_own) plus the conftest's one extra line of 12.34 USD.
AMORTISED_USD = Decimal("346563.91")  # 346,551.57 of the sample + 12.34
BILLED_USD = Decimal("321210.98")  # 321,198.64 + 12.34
EC2_AMORTISED_USD = Decimal("218097.47")  # 218,085.13 + 12.34 (the extra line is EC2)


def cents(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def test_import_mlcost_is_cheap_and_names_the_api() -> None:
    code = (
        "import sys, mlcost\n"
        "heavy = [m for m in ('duckdb', 'pyarrow', 'pandas') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert callable(mlcost.open) and callable(mlcost.to_pandas)\n"
        "assert mlcost.Workspace.__name__ == 'Workspace'\n"
        "try:\n    mlcost.nothing\nexcept AttributeError:\n    print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"


def test_the_sums_are_the_generators_own() -> None:
    """The hand-computed constants: the sample generator's cost table summed in Python
    decimals, independently of the store and its SQL."""
    from mlcost.sample import generate

    cost = generate(seed=7).tables["cost"].to_pydict()
    effective = sum((Decimal(str(v)) for v in cost["EffectiveCost"]), Decimal(0))
    billed = sum((Decimal(str(v)) for v in cost["BilledCost"]), Decimal(0))
    ec2 = sum(
        (
            Decimal(str(v))
            for v, s in zip(cost["EffectiveCost"], cost["ServiceName"], strict=True)
            if s == "Amazon Elastic Compute Cloud"
        ),
        Decimal(0),
    )
    assert cents(effective + Decimal("12.34")) == AMORTISED_USD
    assert cents(billed + Decimal("12.34")) == BILLED_USD
    assert cents(ec2 + Decimal("12.34")) == EC2_AMORTISED_USD


def test_pandas_money_is_float64_that_sums_to_the_cent(sample_master: Path) -> None:
    ws = mlcost.open(sample_master)
    table = ws.spend(by="service")
    assert pa.types.is_decimal(table.schema.field("effective_cost").type)  # exact in Arrow
    frame = mlcost.to_pandas(table)
    for column in ("billed_cost", "effective_cost", "usage_cost"):
        assert frame[column].dtype == "float64"
    assert frame["rows"].dtype == "int64"
    assert cents(frame["effective_cost"].sum()) == AMORTISED_USD
    assert cents(frame["billed_cost"].sum()) == BILLED_USD
    ec2 = frame.loc[frame["service"] == "Amazon Elastic Compute Cloud", "effective_cost"]
    assert cents(ec2.iloc[0]) == EC2_AMORTISED_USD
    # each row is its exact figure, rounded
    exact = dict(
        zip(table["service"].to_pylist(), table["effective_cost"].to_pylist(), strict=True)
    )
    for service, value in zip(frame["service"], frame["effective_cost"], strict=True):
        assert cents(value) == exact[service].quantize(CENT)
    # a pandas user's own grouping of the daily spend gives the monthly figures
    days = mlcost.to_pandas(ws.spend(by="day"))
    by_month = days.groupby(days["day"].str[:7])["effective_cost"].sum()
    months = ws.spend(by="month").to_pylist()
    assert [cents(by_month[m["month"]]) for m in months] == [
        m["effective_cost"].quantize(CENT) for m in months
    ]
    # the headline, exact, agrees; and as a frame its values are floats
    head = ws.headline()
    assert head.get("amortised_spend", "USD").quantize(CENT) == AMORTISED_USD
    figures = mlcost.to_pandas(head).set_index("figure")
    assert figures["value"].dtype == "float64"
    assert cents(figures.loc["billed_spend", "value"]) == BILLED_USD
    assert figures.loc["open_anomalies", "value"] == head.get("open_anomalies")


def test_filters_are_keywords_checked_against_the_store(sample_master: Path) -> None:
    ws = mlcost.open(sample_master)
    as_object = ws.filters(filters=Filters(since=date(2026, 10, 1), providers=("aws",)))
    assert ws.filters(since="2026-10-01", providers="AWS") == as_object
    assert ws.filters(providers="aws,Google Cloud").providers == ("aws", "gcp")
    aws = ws.spend(by="provider", providers=["aws"], since="2026-10-01", until="2026-10-31")
    assert aws["provider"].to_pylist() == ["AWS"]  # as billed
    whole = mlcost.to_pandas(ws.spend(by="provider"))
    assert aws["effective_cost"][0].as_py() < Decimal(str(whole["effective_cost"].max()))

    with pytest.raises(InputError) as misspelt:
        ws.findings(providers="amazn")
    assert "Unknown provider 'amazn'" in str(misspelt.value)
    assert "aws (AWS), azure (Microsoft), gcp (Google Cloud)" in str(misspelt.value)
    with pytest.raises(TypeError, match="'provider'; the filters are filters, since, until"):
        ws.spend(provider="aws")  # type: ignore[call-arg]
    with pytest.raises(InputError, match=r"until='2026-13-01' is not a day"):
        ws.spend(until="2026-13-01")
    with pytest.raises(InputError, match="choose one of utilisation, coverage, expiring"):
        ws.commitments("usage")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="Unknown rule"):
        ws.findings(rules="idle_gppu")


def _as_json(table: pa.Table) -> object:
    handle = io.StringIO()
    write_json(table, handle)
    return json.loads(handle.getvalue(), parse_float=Decimal)


def test_the_commands_print_the_apis_tables(
    capsys: pytest.CaptureFixture[str], sample_master: Path
) -> None:
    ws = mlcost.open(sample_master)
    db = ["--db", str(sample_master)]
    asked = {
        ("recommendations", "--provider", "gcp", "--min-savings", "100"): ws.findings(
            providers="gcp", min_savings=100
        ),
        ("anomalies", "--scope", "service"): ws.anomalies(scopes="service"),
        ("commitments", "--view", "coverage", "--by", "account"): ws.commitments(
            "coverage", grain="all", by="account"
        ),
        ("commitments", "--view", "expiring", "--within-days", "400"): ws.commitments(
            "expiring", within_days=400
        ),
        ("experiments", "--experiment", "foundation-vision/pretrain-vit-l"): ws.run_costs(
            "foundation-vision/pretrain-vit-l"
        ),
    }
    for args, table in asked.items():
        done = run_main(capsys, *db, *args, "--format", "json")
        assert done.code == 0, done.stderr
        assert table.num_rows > 0, args
        assert json.loads(done.stdout, parse_float=Decimal) == _as_json(table), args

    done = run_main(capsys, *db, "analyze", "--format", "json", "--provider", "azure")
    assert done.code == 0, done.stderr
    analyzed = json.loads(done.stdout, parse_float=Decimal)
    head = ws.headline(providers="azure")
    assert [(f["figure"], f["currency"], Decimal(f["value"])) for f in analyzed["figures"]] == [
        (f.key, f.currency, Decimal(f.value)) for f in head.figures
    ]
    spend = ws.spend(by=("provider", "service", "month"), providers="azure")
    assert analyzed["spend"] == _as_json(spend)


def test_a_frame_of_findings_and_runs_sums_like_the_table(sample_master: Path) -> None:
    ws = mlcost.open(sample_master)
    findings = ws.findings()
    frame = mlcost.to_pandas(findings)
    assert isinstance(frame, pd.DataFrame) and len(frame) == findings.num_rows
    exact = sum(findings["estimated_monthly_savings"].to_pylist(), Decimal(0))
    assert cents(frame["estimated_monthly_savings"].sum()) == exact.quantize(CENT)
    runs = ws.experiments()
    assert cents(mlcost.to_pandas(runs)["cost"].sum()) == sum(
        runs["cost"].to_pylist(), Decimal(0)
    ).quantize(CENT)


def test_load_an_export_then_read_it_exactly(tmp_path: Path) -> None:
    """Three lines of 0.10, 0.20 and 0.30: the exact sum is 0.60; a float sum is
    0.6000000000000001, which the cent rounds back."""
    from tests.conftest import focus_row, write_csv

    rows = [
        focus_row(ResourceId=f"i-{n}", BilledCost=cost, EffectiveCost=cost, ListCost=cost)
        for n, cost in enumerate(("0.10", "0.20", "0.30"))
    ]
    ws = mlcost.open(tmp_path / "store" / "mlcost.duckdb")
    done = ws.load(write_csv(tmp_path / "bill.csv", rows))
    assert done.result.rows_in["cost"] == 3
    assert ws.headline().get("amortised_spend", "USD") == Decimal("0.60")
    frame = mlcost.to_pandas(ws.sql("SELECT EffectiveCost FROM cost"))
    assert frame["EffectiveCost"].dtype == "float64"
    assert cents(frame["EffectiveCost"].sum()) == Decimal("0.60")
    assert ws.spend(by="service")["effective_cost"][0].as_py() == Decimal("0.60")


def test_commitments_days_are_the_datas_last_whole_days(
    capsys: pytest.CaptureFixture[str], sample_master: Path
) -> None:
    """`mlcost commitments --days 30`: the sample's usage ends 2026-11-01 (exclusive), so
    its last 30 days are 2026-10-02 to 2026-10-31, as the API reads them."""
    ws = mlcost.open(sample_master)
    days = ws.commitments("utilisation", grain="all", since="2026-10-02", until="2026-10-31")
    done = run_main(
        capsys, "--db", str(sample_master), "commitments", "--days", "30", "--grain", "all",
        "--format", "json",
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert json.loads(done.stdout, parse_float=Decimal) == _as_json(days)
    whole = ws.commitments("utilisation", grain="all")
    assert days.num_rows and sum(days["used_cost"].to_pylist()) < sum(
        whole["used_cost"].to_pylist()
    )
