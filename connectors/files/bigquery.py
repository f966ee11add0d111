"""The GCP billing export read straight from BigQuery: ``bq://project.dataset.table``.

The table is queried with google-cloud-bigquery (credentials from Google's standard
chain, GOOGLE_APPLICATION_CREDENTIALS…; against an emulator named by
BIGQUERY_EMULATOR_HOST, anonymously), optionally for a range of invoice months
(``bq://p.d.t?from=202601&to=202603``, both ends included). Rows are written as JSON
lines, one file per invoice month, and converted by the GCP export converter like any
exported file: each month is one billing period, replaced as a whole.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mlcost.errors import InputError

_TABLE = re.compile(r"^[A-Za-z0-9_:.-]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_$-]+$")
_MONTH = re.compile(r"^\d{6}$")


def parse_uri(uri: str) -> tuple[str, str, str | None, str | None]:
    """(project, ``project.dataset.table``, first month, last month) of a bq:// URI."""
    parts = urlsplit(uri)
    table = parts.netloc + parts.path
    if not _TABLE.match(table):
        raise InputError(
            f"{uri}: name a table as bq://project.dataset.table "
            "(optionally ?from=YYYYMM&to=YYYYMM)."
        )
    query = parse_qs(parts.query)
    unknown = set(query) - {"from", "to"}
    if unknown:
        raise InputError(f"{uri}: unknown option {sorted(unknown)[0]!r}; use from and to.")
    months = {k: v[-1] for k, v in query.items()}
    for key, value in months.items():
        if not _MONTH.match(value):
            raise InputError(f"{uri}: {key}={value} is not an invoice month (YYYYMM).")
    project = table.rsplit(".", 2)[0]
    return project, table, months.get("from"), months.get("to")


def download_table(uri: str, into: Path) -> list[Path]:
    """Query the export table and write its rows as JSON lines, one file per month."""
    project, table, first, last = parse_uri(uri)
    try:
        from google.api_core import exceptions as api_exceptions
        from google.auth import exceptions as auth_exceptions
        from google.cloud import bigquery
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise InputError(
            f"{uri}: reading BigQuery needs google-cloud-bigquery.",
            "Install it with pip install 'mlcost[bigquery]'.",
        ) from exc

    conditions, params = [], []
    if first:
        conditions.append("invoice.month >= @first")
        params.append(bigquery.ScalarQueryParameter("first", "STRING", first))
    if last:
        conditions.append("invoice.month <= @last")
        params.append(bigquery.ScalarQueryParameter("last", "STRING", last))
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    # The table name cannot be a parameter; parse_uri allowed only name characters.
    sql = f"SELECT * FROM `{table}`{where}"  # noqa: S608
    try:
        if os.environ.get("BIGQUERY_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            client = bigquery.Client(project=project, credentials=AnonymousCredentials())
        else:
            client = bigquery.Client(project=project)
        rows = client.query_and_wait(
            sql, job_config=bigquery.QueryJobConfig(query_parameters=params)
        )
        files: dict[str, Any] = {}
        folder = into / "bq" / table
        folder.mkdir(parents=True, exist_ok=True)
        try:
            for row in rows:
                record = dict(row.items())
                month = str((record.get("invoice") or {}).get("month") or "unknown")
                if not _MONTH.match(month):
                    month = "unknown"
                if month not in files:
                    files[month] = open(folder / f"{month}.jsonl", "w", encoding="utf-8")  # noqa: SIM115
                files[month].write(json.dumps(record, default=_json_value) + "\n")
        finally:
            for handle in files.values():
                handle.close()
    except (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError) as exc:
        raise InputError(
            f"{uri}: cannot read the billing table from BigQuery ({_reason(exc)}).",
            "Check the table name and your Google credentials "
            "(GOOGLE_APPLICATION_CREDENTIALS); nothing was loaded.",
        ) from exc
    if not files:
        raise InputError(f"{uri}: the table holds no billing rows for these months.")
    return [folder / f"{month}.jsonl" for month in sorted(files)]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _reason(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__
