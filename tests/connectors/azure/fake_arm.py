"""A fake Azure Resource Manager: an azure-core transport that answers from recorded JSON.

The real SDK clients run their whole pipeline (auth header, retry policy, paging,
deserialisation) and only the socket is replaced.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._requests_basic import RestRequestsTransportResponse

ARM = "https://management.azure.com"

Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]]
Handler = Callable[[str, dict[str, list[str]]], Answer]


class FakeCredential:
    """A TokenCredential that hands out a fixed token (never a real one)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("fake-token", 4_102_444_800)


@dataclass
class FakeArm(HttpTransport):  # type: ignore[misc]
    """Routes by URL path: a dict value is the JSON body (200); a tuple is one
    ``(status, body[, headers])`` answer; a list of them is served in order (the last
    one repeats); a callable gets (path, query) and returns an answer."""

    routes: dict[str, Any] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def __enter__(self) -> FakeArm:
        return self

    def __exit__(self, *args: Any) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, request: Any, **kwargs: Any) -> RestRequestsTransportResponse:
        url = urlsplit(request.url)
        path = url.path
        query = parse_qs(url.query)
        self.calls.append(f"{request.method} {path}")
        route = self.routes.get(path)
        if route is None:
            answer: Answer = (404, {"error": {"code": "NotFound", "message": f"no {path}"}})
        elif callable(route):
            answer = route(path, query)
        elif isinstance(route, tuple):
            answer = route
        elif isinstance(route, list):
            answer = route.pop(0) if len(route) > 1 else route[0]
        else:
            answer = (200, route)
        status, body = answer[0], answer[1]
        headers = answer[2] if len(answer) > 2 else {}  # type: ignore[misc]
        response = requests.Response()
        response.status_code = status
        response.raw = io.BytesIO(json.dumps(body).encode())
        response.headers.update({"Content-Type": "application/json", **headers})
        response.url = request.url
        response.reason = "OK" if status < 400 else "Error"
        return RestRequestsTransportResponse(request=request, internal_response=response)


def arm_error(status: int, code: str, message: str) -> Answer:
    return (status, {"error": {"code": code, "message": message}})
