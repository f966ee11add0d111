"""bq://project.dataset.table: the real google-cloud-bigquery client against a fake
BigQuery REST endpoint (jobs.query), the rows converted like an exported file."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from mlcost.errors import InputError
from mlcost.ingest import ingest_billing
from mlcost.store import Store
from tests.connectors.files.test_gcp import INVOICE_TOTAL, RECORDS

# The export's schema, as much of it as the fake table has (Google's reference names).
_PAIR = [{"name": "id", "type": "STRING"}, {"name": "description", "type": "STRING"}]
SCHEMA: list[dict[str, Any]] = [
    {"name": "billing_account_id", "type": "STRING"},
    {"name": "service", "type": "RECORD", "fields": _PAIR},
    {"name": "sku", "type": "RECORD", "fields": _PAIR},
    {"name": "usage_start_time", "type": "TIMESTAMP"},
    {"name": "usage_end_time", "type": "TIMESTAMP"},
    {
        "name": "project",
        "type": "RECORD",
        "fields": [{"name": "id", "type": "STRING"}, {"name": "name", "type": "STRING"}],
    },
    {
        "name": "labels",
        "type": "RECORD",
        "mode": "REPEATED",
        "fields": [{"name": "key", "type": "STRING"}, {"name": "value", "type": "STRING"}],
    },
    {"name": "cost", "type": "FLOAT"},
    {"name": "currency", "type": "STRING"},
    {
        "name": "credits",
        "type": "RECORD",
        "mode": "REPEATED",
        "fields": [
            {"name": "name", "type": "STRING"},
            {"name": "amount", "type": "FLOAT"},
            {"name": "type", "type": "STRING"},
        ],
    },
    {"name": "invoice", "type": "RECORD", "fields": [{"name": "month", "type": "STRING"}]},
    {"name": "cost_type", "type": "STRING"},
]


def _cell(field: dict[str, Any], value: Any) -> Any:
    """A value in BigQuery's REST row encoding ({"f": [{"v": …}]})."""
    if field.get("mode") == "REPEATED":
        return [{"v": _cell({**field, "mode": "NULLABLE"}, item)} for item in value]
    if value is None:
        return None
    if field["type"] == "RECORD":
        return {"f": [{"v": _cell(sub, value.get(sub["name"]))} for sub in field["fields"]]}
    if field["type"] == "TIMESTAMP":
        when = datetime.strptime(value, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
        return str(int(when.timestamp() * 1_000_000))
    return str(value)


class FakeBigQuery(BaseHTTPRequestHandler):
    """Answers jobs.query for the billing table with all rows in one page."""

    table: ClassVar[list[dict[str, Any]]] = []
    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append({"path": self.path, "body": body})
        if not self.path.split("?")[0].endswith("/queries"):
            self._send(404, {"error": {"code": 404, "message": "Not found", "errors": []}})
            return
        if "missing" in body["query"]:
            message = "Not found: Table p:billing.missing was not found in location US"
            self._send(404, {"error": {"code": 404, "message": message, "errors": []}})
            return
        params = {p["name"]: p["parameterValue"]["value"] for p in body.get("queryParameters", [])}
        rows = [
            r
            for r in self.table
            if params.get("first", "000000")
            <= r["invoice"]["month"]
            <= params.get("last", "999999")
        ]
        self._send(
            200,
            {
                "kind": "bigquery#queryResponse",
                "jobReference": {"projectId": "p", "jobId": "job-1", "location": "US"},
                "jobComplete": True,
                "totalRows": str(len(rows)),
                "schema": {"fields": SCHEMA},
                "rows": [{"f": [{"v": _cell(f, r.get(f["name"]))} for f in SCHEMA]} for r in rows],
            },
        )

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def bigquery(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeBigQuery]]:
    december = [dict(r, invoice={"month": "202512"}) for r in RECORDS[:2]]
    FakeBigQuery.table = [*december, *RECORDS]
    FakeBigQuery.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBigQuery)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", f"http://127.0.0.1:{server.server_port}")
    try:
        yield FakeBigQuery
    finally:
        server.shutdown()
        server.server_close()


def totals(store: Store, where: str = "TRUE") -> tuple[Decimal, Decimal, int]:
    with store.reader() as con:
        got = con.execute(
            f"SELECT sum(BilledCost), sum(EffectiveCost), count(*) FROM cost WHERE {where}"  # noqa: S608
        ).fetchone()
    assert got is not None
    return got[0], got[1], got[2]


def test_a_bigquery_table_loads_one_partition_per_invoice_month(
    bigquery: type[FakeBigQuery], store: Store
) -> None:
    done = ingest_billing(store, ["bq://p.billing.gcp_billing_export_v1_01AB23"])

    # each invoice month is named by the table it came from, not the temporary copy
    assert [f.path for f in done.files] == [
        "bq://p.billing.gcp_billing_export_v1_01AB23 (202512)",
        "bq://p.billing.gcp_billing_export_v1_01AB23 (202601)",
    ]
    assert "FROM `p.billing.gcp_billing_export_v1_01AB23`" in bigquery.requests[0]["body"]["query"]
    january = "BillingPeriodStart = TIMESTAMP '2026-01-01 08:00:00'"
    assert totals(store, january) == (INVOICE_TOTAL, INVOICE_TOTAL, len(RECORDS))
    # December: 10.00 − 1.5 and 5.00 − 5.0.
    assert totals(store)[0] == INVOICE_TOTAL + Decimal("8.5")


def test_a_month_range_is_passed_as_query_parameters(
    bigquery: type[FakeBigQuery], store: Store
) -> None:
    ingest_billing(store, ["bq://p.billing.export?from=202601&to=202601"])
    body = bigquery.requests[0]["body"]
    assert "invoice.month >= @first AND invoice.month <= @last" in body["query"]
    assert totals(store) == (INVOICE_TOTAL, INVOICE_TOTAL, len(RECORDS))


def test_a_bad_table_or_uri_is_refused_and_the_store_unchanged(
    bigquery: type[FakeBigQuery], store: Store
) -> None:
    with pytest.raises(InputError, match=r"bq://p\.billing\.missing: cannot read .*not found"):
        ingest_billing(store, ["bq://p.billing.missing"])
    with pytest.raises(InputError, match=r"name a table as bq://project\.dataset\.table"):
        ingest_billing(store, ["bq://p.billing.x;DROP"])
    with pytest.raises(InputError, match="not an invoice month"):
        ingest_billing(store, ["bq://p.billing.export?from=2026-01"])
    assert totals(store)[2] == 0
