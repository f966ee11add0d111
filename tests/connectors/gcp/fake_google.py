"""Fake Google APIs on localhost: Compute Engine and Resource Manager over REST (an HTTP
server the real clients are pointed at), Cloud Monitoring over gRPC (a generic handler
serving the real request and response messages). No network, no credentials."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
from google.cloud import monitoring_v3
from google.cloud.monitoring_v3.services.metric_service.transports import (
    MetricServiceGrpcTransport,
)

Answer = tuple[int, Any]


@dataclass
class FakeGoogle:
    """Routes by URL path: a dict is a 200 JSON body, a tuple one (status, body) answer, a
    list of answers is served in order (the last repeats), a callable gets (path, query)."""

    routes: dict[str, Any] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    #: ListTimeSeries: request → list of TimeSeries dicts (REST-free, the proto's fields).
    time_series: Callable[[monitoring_v3.ListTimeSeriesRequest], list[dict[str, Any]]] = (
        lambda request: []
    )
    monitoring_requests: list[monitoring_v3.ListTimeSeriesRequest] = field(default_factory=list)

    def answer(self, path: str, query: dict[str, list[str]]) -> Answer:
        self.calls.append(path)
        route = self.routes.get(path)
        if route is None:
            return 404, {"error": {"code": 404, "message": f"no {path}", "status": "NOT_FOUND"}}
        if callable(route):
            return route(path, query)
        if isinstance(route, tuple):
            return route
        if isinstance(route, list):
            return route.pop(0) if len(route) > 1 else route[0]
        return 200, route

    def list_time_series(
        self, request: monitoring_v3.ListTimeSeriesRequest, context: Any
    ) -> monitoring_v3.ListTimeSeriesResponse:
        self.monitoring_requests.append(request)
        return monitoring_v3.ListTimeSeriesResponse(
            time_series=[monitoring_v3.TimeSeries(s) for s in self.time_series(request)]
        )


def google_error(status: int, reason: str, message: str) -> Answer:
    return status, {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
        }
    }


@contextmanager
def serve(fake: FakeGoogle) -> Iterator[tuple[str, MetricServiceGrpcTransport]]:
    """Start both servers; yield the REST endpoint and a Monitoring transport."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            status, body = fake.answer(url.path, parse_qs(url.query))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.method_handlers_generic_handler(
        "google.monitoring.v3.MetricService",
        {
            "ListTimeSeries": grpc.unary_unary_rpc_method_handler(
                fake.list_time_series,
                request_deserializer=monitoring_v3.ListTimeSeriesRequest.deserialize,
                response_serializer=monitoring_v3.ListTimeSeriesResponse.serialize,
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield f"http://127.0.0.1:{http.server_port}", MetricServiceGrpcTransport(channel=channel)
    finally:
        channel.close()
        server.stop(None)
        http.shutdown()
        http.server_close()
