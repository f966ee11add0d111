"""CUR exports read from S3 (moto): only the latest assembly of each period counts."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlcost.errors import InputError
from mlcost.ingest import ingest_billing
from mlcost.store import Store
from tests.conftest import write_csv
from tests.connectors.files.test_aws_cur import (
    AMORTISED_TOTAL,
    FEES_WITH_UNUSED,
    INVOICE_TOTAL,
    LINES,
    header,
    legacy_rows,
)

BUCKET = "billing-exports"
REPORT = "cur/hourly"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _csv_gz(tmp_path: Path, rows: list[dict[str, str]]) -> bytes:
    path = write_csv(tmp_path / "part.csv", rows, header())
    return gzip.compress(path.read_bytes())


def put_assembly(
    client: Any, tmp_path: Path, period: str, assembly: str, rows: list[dict[str, str]]
) -> list[str]:
    """One CUR delivery as AWS lays it out: data under the assembly id, its manifest."""
    start, end = period.split("-")
    folder = f"{REPORT}/{period}"
    key = f"{folder}/{assembly}/hourly-00001.csv.gz"
    client.put_object(Bucket=BUCKET, Key=key, Body=_csv_gz(tmp_path, rows))
    manifest = {
        "assemblyId": assembly,
        "reportName": "hourly",
        "compression": "GZIP",
        "contentType": "text/csv",
        "billingPeriod": {"start": f"{start}T000000.000Z", "end": f"{end}T000000.000Z"},
        "bucket": BUCKET,
        "reportKeys": [key],
    }
    body = json.dumps(manifest).encode()
    client.put_object(Bucket=BUCKET, Key=f"{folder}/{assembly}/hourly-Manifest.json", Body=body)
    # The period's own manifest always names the latest assembly.
    client.put_object(Bucket=BUCKET, Key=f"{folder}/hourly-Manifest.json", Body=body)
    return [key]


def _scaled(rows: list[dict[str, str]], factor: int) -> list[dict[str, str]]:
    out = []
    for row in rows:
        row = dict(row)
        row["lineItem/UnblendedCost"] = str(Decimal(row["lineItem/UnblendedCost"]) * factor)
        out.append(row)
    return out


def _february(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    out = []
    for row in rows:
        row = dict(row)
        row["bill/BillingPeriodStartDate"] = "2026-02-01T00:00:00Z"
        row["bill/BillingPeriodEndDate"] = "2026-03-01T00:00:00Z"
        row["lineItem/UsageStartDate"] = "2026-02-03T10:00:00Z"
        row["lineItem/UsageEndDate"] = "2026-02-03T11:00:00Z"
        out.append(row)
    return out


def totals(store: Store) -> tuple[Decimal, Decimal, int]:
    with store.reader() as con:
        got = con.execute("SELECT sum(BilledCost), sum(EffectiveCost), count(*) FROM cost")
        row = got.fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def test_only_the_latest_assembly_of_each_period_is_loaded(
    s3: Any, store: Store, tmp_path: Path
) -> None:
    # January delivered three times: the first two are superseded (their amounts differ).
    put_assembly(s3, tmp_path, "20260101-20260201", "aaaa-1", _scaled(legacy_rows()[:3], 2))
    put_assembly(s3, tmp_path, "20260101-20260201", "bbbb-2", _scaled(legacy_rows(), 3))
    put_assembly(s3, tmp_path, "20260101-20260201", "0000-3", legacy_rows())
    put_assembly(s3, tmp_path, "20260201-20260301", "cccc-1", _february(legacy_rows()[:2]))

    done = ingest_billing(store, [f"s3://{BUCKET}/cur"])

    assert [f.path for f in done.files] == [
        f"s3://{BUCKET}/{REPORT}/20260101-20260201/0000-3/hourly-00001.csv.gz",
        f"s3://{BUCKET}/{REPORT}/20260201-20260301/cccc-1/hourly-00001.csv.gz",
    ]
    with store.reader() as con:
        jan = con.execute(
            "SELECT sum(BilledCost), sum(EffectiveCost), count(*) FROM cost "
            "WHERE BillingPeriodStart = TIMESTAMP '2026-01-01'"
        ).fetchone()
    assert jan == (INVOICE_TOTAL, AMORTISED_TOTAL, len(LINES) + FEES_WITH_UNUSED)
    # February: 1.92 + 0.023456789.
    assert totals(store)[0] == INVOICE_TOTAL + Decimal("1.943456789")


def test_a_prefix_without_manifests_loads_every_billing_file(
    s3: Any, store: Store, tmp_path: Path
) -> None:
    s3.put_object(Bucket=BUCKET, Key="manual/jan.csv.gz", Body=_csv_gz(tmp_path, legacy_rows()))
    s3.put_object(Bucket=BUCKET, Key="manual/notes.txt", Body=b"not billing")
    ingest_billing(store, [f"s3://{BUCKET}/manual/"])
    assert totals(store) == (INVOICE_TOTAL, AMORTISED_TOTAL, len(LINES) + FEES_WITH_UNUSED)


def test_a_malformed_file_in_s3_is_named_by_its_key_and_the_store_unchanged(
    s3: Any, store: Store, tmp_path: Path
) -> None:
    rows = legacy_rows()
    rows[2] = {**rows[2], "lineItem/UnblendedCost": "1,5"}
    s3.put_object(Bucket=BUCKET, Key="manual/jan.csv.gz", Body=_csv_gz(tmp_path, rows))
    with pytest.raises(InputError) as caught:
        ingest_billing(store, [f"s3://{BUCKET}/manual/"])
    message = str(caught.value)
    assert message.startswith(f"s3://{BUCKET}/manual/jan.csv.gz: row 3")
    assert "lineItem/UnblendedCost" in message and "mlcost-cloud-" not in message
    assert totals(store)[2] == 0


def test_an_unreadable_bucket_is_refused_and_the_store_unchanged(s3: Any, store: Store) -> None:
    with pytest.raises(InputError) as caught:
        ingest_billing(store, ["s3://no-such-bucket/cur"])
    assert "s3://no-such-bucket/cur: cannot read the export from S3 (NoSuchBucket" in str(
        caught.value
    )
    assert totals(store)[2] == 0


def test_a_data_exports_cur2_delivery_is_read_from_its_manifest(
    s3: Any, store: Store, tmp_path: Path
) -> None:
    from tests.connectors.files.test_aws_cur import write_cur2_parquet

    export = "cur2/acme/data/BILLING_PERIOD=2026-01"
    body = write_cur2_parquet(tmp_path / "part.parquet").read_bytes()
    s3.put_object(Bucket=BUCKET, Key=f"{export}/acme-00001.snappy.parquet", Body=body)
    # A file the manifest does not list (an interrupted earlier write) is not read.
    s3.put_object(Bucket=BUCKET, Key=f"{export}/acme-stale.snappy.parquet", Body=body)
    manifest = {
        "executionId": "e-1",
        "billingPeriod": {"start": "2026-01-01T00:00:00.000Z", "end": "2026-02-01T00:00:00.000Z"},
        "dataFiles": [f"s3://{BUCKET}/{export}/acme-00001.snappy.parquet"],
    }
    s3.put_object(
        Bucket=BUCKET,
        Key="cur2/acme/metadata/BILLING_PERIOD=2026-01/acme-Manifest.json",
        Body=json.dumps(manifest).encode(),
    )

    done = ingest_billing(store, [f"s3://{BUCKET}/cur2/acme/"])

    assert [Path(f.path).name for f in done.files] == ["acme-00001.snappy.parquet"]
    assert done.files[0].description == "AWS CUR 2.0"
    assert totals(store) == (INVOICE_TOTAL, AMORTISED_TOTAL, len(LINES) + FEES_WITH_UNUSED)
