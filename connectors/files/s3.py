"""Billing exports in S3 (``s3://bucket/prefix``), fetched with boto3.

AWS delivers a CUR month several times: each delivery (an *assembly*, or a Data Exports
*execution*) is a complete copy of the month, described by a manifest
(``…-Manifest.json``) that lists its files. Loading every file under the prefix would
count a month once per delivery, so when manifests are present only the latest of each
billing period is read: the period-level manifest of a legacy CUR (it always names the
latest assembly), else the most recently written one. Without manifests, every billing
file under the prefix is read, as for a local folder.

Credentials and endpoint come from boto3's standard chain (AWS_PROFILE,
AWS_ENDPOINT_URL…); SDK errors are retold once, here, as :class:`InputError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from mlcost.connectors.files.focus import _has_billing_suffix

from mlcost.errors import InputError


@dataclass(frozen=True)
class _Object:
    key: str
    modified: datetime


def download_export(uri: str, into: Path) -> list[Path]:
    """Fetch the billing files an ``s3://`` URI stands for into ``into``; returns them
    (named like their keys, under ``into/<bucket>/``) in key order."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise InputError(f"{uri}: name a bucket, as s3://bucket/prefix.")
    try:
        client = boto3.client("s3")
        objects = _list(client, bucket, prefix)
        keys = _latest_deliveries(client, bucket, objects) if _manifests(objects) else None
        if keys is None:
            keys = [o.key for o in objects if _has_billing_suffix(PurePosixPath(o.key))]
        if not keys:
            raise InputError(
                f"{uri}: no CSV, CSV.gz, Parquet or JSON billing file under this prefix."
            )
        files = []
        for key in sorted(keys):
            local = into / bucket / key
            local.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, key, str(local))
            files.append(local)
        return files
    except (ClientError, BotoCoreError) as exc:
        raise InputError(
            f"{uri}: cannot read the export from S3 ({_reason(exc)}).",
            "Check the bucket, the prefix and your AWS credentials (AWS_PROFILE, "
            "AWS_ENDPOINT_URL); nothing was loaded.",
        ) from exc


def _list(client: Any, bucket: str, prefix: str) -> list[_Object]:
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found.append(_Object(item["Key"], item["LastModified"]))
    return found


def _manifests(objects: list[_Object]) -> list[_Object]:
    return [o for o in objects if o.key.lower().endswith("manifest.json")]


def _latest_deliveries(client: Any, bucket: str, objects: list[_Object]) -> list[str]:
    """The data files of the latest delivery of each billing period the manifests name."""
    chosen: dict[str, tuple[tuple[int, float], list[str]]] = {}
    for manifest in _manifests(objects):
        body = client.get_object(Bucket=bucket, Key=manifest.key)["Body"].read()
        try:
            content = json.loads(body)
            period = json.dumps(content["billingPeriod"], sort_keys=True)
            files = content.get("reportKeys") or content.get("dataFiles") or []
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"s3://{bucket}/{manifest.key}: not a CUR or Data Exports manifest "
                f"(no billingPeriod and reportKeys/dataFiles: {exc}).",
                "Point at the export's prefix, or remove the stray file.",
            ) from exc
        keys = [_key(bucket, f) for f in files]
        # A period-level manifest (fewer folders deep) outranks an assembly's own;
        # among equals, the most recently written wins.
        rank = (-manifest.key.count("/"), manifest.modified.timestamp())
        if period not in chosen or rank > chosen[period][0]:
            chosen[period] = (rank, keys)
    return [key for _, keys in chosen.values() for key in keys]


def _key(bucket: str, name: str) -> str:
    """A manifest's file reference (a key, or an s3:// URI in Data Exports) as a key."""
    prefix = f"s3://{bucket}/"
    return name[len(prefix) :] if name.startswith(prefix) else name


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip(": ")
    return str(exc)
