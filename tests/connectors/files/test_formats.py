"""Choosing the format: recognised from the header, named in the report, or refused."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from mlcost.connectors.files.formats import FORMATS

from mlcost.errors import InputError
from mlcost.ingest import BILLING_FORMATS, ingest_billing
from mlcost.store import Store
from tests.conftest import focus_row, write_csv
from tests.connectors.files.test_aws_cur import write_legacy_csv
from tests.connectors.files.test_azure import AMORTIZED, write_azure
from tests.connectors.files.test_gcp import RECORDS, write_jsonl


def test_the_cli_offers_every_format() -> None:
    assert BILLING_FORMATS == ("auto", "focus", "aws-cur", "azure", "gcp")
    assert ("auto", *FORMATS) == BILLING_FORMATS  # the CLI's choices are the readers


def test_an_unknown_file_is_refused_listing_the_known_formats(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "mystery.csv", [{"date": "2026-01-01", "amount": "3"}])
    with pytest.raises(InputError) as caught:
        ingest_billing(store, [str(path)])
    message = str(caught.value)
    assert "mystery.csv: not a billing export mlcost recognises" in message
    for name in ("focus", "aws-cur", "azure", "gcp"):
        assert f"{name}: " in message


def test_a_format_forced_on_the_wrong_file_names_what_is_missing(
    store: Store, tmp_path: Path
) -> None:
    path = write_legacy_csv(tmp_path / "cur.csv")
    with pytest.raises(InputError, match=r"cur\.csv: missing the columns billing_account_id"):
        ingest_billing(store, [str(path)], fmt="gcp")


def test_one_load_mixes_formats_and_each_keeps_its_source(store: Store, tmp_path: Path) -> None:
    files = [
        write_legacy_csv(tmp_path / "aws" / "cur.csv"),
        write_azure(tmp_path / "azure" / "AmortizedCost.csv", AMORTIZED),
        write_jsonl(tmp_path / "gcp" / "billing.jsonl", RECORDS),
        write_csv(tmp_path / "focus" / "focus.csv", [focus_row()]),
    ]
    done = ingest_billing(store, [str(tmp_path)])
    assert sorted(f.format for f in done.files) == ["aws-cur", "azure", "focus", "gcp"]
    assert len(done.files) == len(files)
    with store.reader() as con:
        got = con.execute("SELECT DISTINCT x_source FROM cost ORDER BY 1").fetchall()
    sources = [r[0] for r in got]
    assert sources == [
        "aws-cur:111111111111",
        "azure:8608480",
        "focus:AWS:111111111111",
        "gcp:01AB23-CD45EF-678901",
    ]


def test_the_cli_says_which_format_it_chose(
    cli: Callable[..., CompletedProcess[str]], tmp_path: Path
) -> None:
    db = str(tmp_path / "m.duckdb")
    path = write_legacy_csv(tmp_path / "cur.csv")
    done = cli("--db", db, "ingest", "billing", str(path))
    assert done.returncode == 0, done.stderr
    assert "cur.csv: AWS CUR (legacy CSV), 15 rows" in done.stdout
    assert "(format auto-detected)" in done.stdout
    unknown = write_csv(tmp_path / "x.csv", [{"a": "1"}])
    refused = cli("--db", db, "ingest", "billing", str(unknown))
    assert refused.returncode == 1
    assert "Known formats: focus" in refused.stderr


def test_the_cli_takes_a_format_by_name(
    cli: Callable[..., CompletedProcess[str]], tmp_path: Path
) -> None:
    db = str(tmp_path / "m.duckdb")
    path = write_legacy_csv(tmp_path / "cur.csv")
    done = cli("--db", db, "ingest", "billing", "--format", "aws-cur", str(path))
    assert done.returncode == 0, done.stderr
    assert "cur.csv: AWS CUR (legacy CSV), 15 rows" in done.stdout
    assert "auto-detected" not in done.stdout
    wrong = cli("--db", db, "ingest", "billing", "--format", "azure", str(path))
    assert wrong.returncode == 1
    assert "missing the columns Date, BillingPeriodStartDate" in wrong.stderr


@pytest.mark.parametrize(
    ("provider", "extra"),
    [
        ("AWS", {"x_Operation": "RunInstances", "x_UsageType": "BoxUsage:p4d.24xlarge"}),
        ("Microsoft", {"x_ResourceGroupName": "ml", "x_SkuMeterCategory": "Virtual Machines"}),
    ],
    ids=["aws-data-exports-focus", "azure-focuscost"],
)
def test_providers_own_focus_exports_load_as_focus_keeping_their_x_columns(
    store: Store, tmp_path: Path, provider: str, extra: dict[str, str]
) -> None:
    row = focus_row(ProviderName=provider, BilledCost="7.5", EffectiveCost="6.25", **extra)
    done = ingest_billing(store, [str(write_csv(tmp_path / "focus.csv", [row]))])
    assert done.files[0].format == "focus"
    assert done.files[0].description == "FOCUS 1.0"
    columns = ", ".join(extra)
    with store.reader() as con:
        got = con.execute(f"SELECT BilledCost, EffectiveCost, {columns} FROM cost").fetchone()  # noqa: S608
    assert got == (Decimal("7.5"), Decimal("6.25"), *extra.values())
