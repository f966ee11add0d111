"""A local AWS Price List Query API: the real boto3 ``pricing`` client is pointed at it
with ``AWS_ENDPOINT_URL_PRICING`` (botocore's own per-service endpoint setting), and it
answers GetProducts from price-list documents in the API's shape (``PriceList`` items are
JSON text), applying the request's filters and paging as the API does.

moto has no Pricing API; its EC2, CloudWatch and SageMaker answer everything else.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: Price-list documents per region (tests/fixtures/aws_pricing/<region>.json).
FIXTURES = Path(__file__).parents[2] / "fixtures" / "aws_pricing"


def load_products(*regions: str) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = []
    for region in regions:
        products += json.loads((FIXTURES / f"{region}.json").read_text("utf-8"))
    return products


def _value(product: dict[str, Any], name: str) -> str | None:
    info = product["product"]
    if name in info["attributes"]:
        return str(info["attributes"][name])
    if name == "productFamily":
        return info.get("productFamily")
    return None


def matches(product: dict[str, Any], service: str, filters: list[dict[str, str]]) -> bool:
    if product["serviceCode"] != service:
        return False
    for f in filters:
        value = _value(product, f["Field"])
        if value is None:
            return False
        kind = f.get("Type", "TERM_MATCH")
        if kind in ("TERM_MATCH", "EQUALS") and value != f["Value"]:
            return False
        if kind == "CONTAINS" and f["Value"] not in value:
            return False
        if kind == "ANY_OF" and value not in f["Value"].split(","):
            return False
        if kind == "NONE_OF" and value in f["Value"].split(","):
            return False
    return True


@dataclass
class FakePricing:
    products: list[dict[str, Any]]
    page_size: int = 2
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: An error answer for every request instead (status, {"__type": …, "message": …}).
    error: tuple[int, dict[str, str]] | None = None

    def get_products(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.requests.append(body)
        if self.error is not None:
            return self.error
        found = [
            p for p in self.products if matches(p, body["ServiceCode"], body.get("Filters", []))
        ]
        start = int(body.get("NextToken") or 0)
        page = found[start : start + self.page_size]
        answer: dict[str, Any] = {
            "FormatVersion": "aws_v1",
            "PriceList": [json.dumps(p) for p in page],
        }
        if start + self.page_size < len(found):
            answer["NextToken"] = str(start + self.page_size)
        return 200, answer


@dataclass
class RecordedPages:
    """GetProducts answered with whole response bodies read from files, page after page
    by the request's NextToken (the files' own tokens)."""

    bodies: list[bytes]
    requests: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, *names: str) -> RecordedPages:
        return cls([(FIXTURES / name).read_bytes() for name in names])

    def get_products(self, body: dict[str, Any]) -> tuple[int, bytes]:
        self.requests.append(body)
        tokens = [json.loads(b).get("NextToken") for b in self.bodies]
        token = body.get("NextToken")
        return 200, self.bodies[tokens.index(token) + 1 if token else 0]


@contextmanager
def serve_pricing(fake: FakePricing | RecordedPages) -> Iterator[str]:
    """Serve ``fake`` on localhost; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            target = self.headers.get("X-Amz-Target", "")
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if target.endswith(".GetProducts"):
                status, answer = fake.get_products(body)
            else:
                status, answer = 400, {"__type": "UnknownOperationException", "message": target}
            # a recorded response body is served as it was recorded, byte for byte
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
