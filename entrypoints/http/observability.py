"""Per-request ids, access logs and request metrics (served at ``/metrics``: see operations/).

Request metrics are counted by a small middleware of ours rather than Litestar's Prometheus plugin:
the plugin keeps its metrics in prometheus_client's global registry (shared by every app of a process,
so tests cannot start from zero, and not the registry our application metrics live in), labels by raw
path unless told otherwise, and adds an ``app_name`` label we do not need. Ours labels by the route's
template (``/api/messages/{message_id}``), which keeps the number of series bounded.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any, Protocol, cast

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from application.log_context import log_context
from domain.administration.audit import MAX_REQUEST_ID_LENGTH
from entrypoints.http.client_address import client_address_of_scope
from entrypoints.http.rate_limits import is_probe

REQUEST_ID_HEADER = "X-Request-ID"
# Letters, digits and a few punctuation marks: safe in a header, a log line and a URL.
_SAFE_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:@+=/-]{{1,{MAX_REQUEST_ID_LENGTH}}}")

access_log = structlog.stdlib.get_logger("entrypoints.http.access")


class HttpMetrics(Protocol):
    def http_request(self, method: str, route: str, status: int, seconds: float) -> None: ...


def request_id_from(value: str | None) -> str:
    """The client's ``X-Request-ID`` if it is safe to echo and log; a new id otherwise."""
    if value is not None and _SAFE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def _request_id_of(scope: Scope) -> str:
    raw = dict(scope.get("headers", ())).get(REQUEST_ID_HEADER.lower().encode())
    return request_id_from(raw.decode("latin-1") if raw is not None else None)


class RequestObservability(ASGIMiddleware):
    """Give each request an id (echoed in ``X-Request-ID`` and on every log line written while it
    runs, the dispatch it starts included), then log it and count it by route and status."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, metrics: HttpMetrics) -> None:
        self._metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request_id = _request_id_of(scope)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with log_context(request_id=request_id):
            try:
                await next_app(scope, receive, send_with_id)
            finally:
                seconds = time.perf_counter() - started
                method = str(scope.get("method", "GET"))
                route = scope.get("path_template") or "unmatched"
                self._metrics.http_request(method, route, status, seconds)
                handler = scope.get("route_handler")
                access_log.log(
                    # Probes and scrapes: counted, but logged at DEBUG only.
                    logging.DEBUG if handler is not None and is_probe(handler) else logging.INFO,
                    "request",
                    method=method,
                    route=route,
                    path=scope["path"],
                    status=status,
                    duration_ms=round(seconds * 1000, 1),
                    client_address=client_address_of_scope(cast(dict[str, Any], scope)),
                )


async def request_id_on_every_response(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook for the responses no route answers (an unknown path): they get an
    ``X-Request-ID`` too. Routed requests already have theirs from ``RequestObservability``."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    if headers.get(REQUEST_ID_HEADER) is None:
        headers[REQUEST_ID_HEADER] = _request_id_of(scope)
