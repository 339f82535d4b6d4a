"""The per-address request limit: which routes it counts, the check, and the OpenAPI declaration of
their 429.

Every route is counted, except those a route declares ``never_rate_limited``: probes (an orchestrator
polling ``/healthz`` must never be told to go away, or it restarts a healthy process) and metrics
scrapes. The schema declares the 429 of every other operation, derived from the same rule, so that
it cannot drift from what the server does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import OpenAPIHeader, OpenAPIResponse, OpenAPIType, Operation, Schema

from application.errors import RateLimited
from entrypoints.http.client_address import client_address
from entrypoints.http.dependencies import container_of
from entrypoints.http.problems import problem_responses

NEVER_RATE_LIMITED_OPT = "never_rate_limited"
PROBE_OPT = "probe"
_ADDRESS_COUNTED = "wa_gateway.address_counted"

_RATE_LIMIT_HEADERS = {
    "Retry-After": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.INTEGER, minimum=1),
        required=True,
        description="Seconds to wait before trying again",
    ),
    "RateLimit-Policy": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING),
        required=True,
        description='The limit reached (IETF httpapi RateLimit fields): "default";q=<amount>;w=<seconds>',
    ),
    "RateLimit": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING),
        required=True,
        description='What is left of it: "default";r=0;t=<seconds until it resets>',
    ),
}


def never_rate_limited(reason: str) -> dict[str, str]:
    """The ``opt`` of a route the per-address limit never counts; ``reason`` says why."""
    return {NEVER_RATE_LIMITED_OPT: reason}


def probe(reason: str) -> dict[str, str | bool]:
    """The ``opt`` of a probe or a metrics scrape: never counted by the per-address limit (``reason``
    says why), and its requests logged at DEBUG only (they come every few seconds, all day)."""
    return {**never_rate_limited(reason), PROBE_OPT: True}


def is_rate_limited(handler: BaseRouteHandler) -> bool:
    return not handler.opt.get(NEVER_RATE_LIMITED_OPT)


def is_probe(handler: BaseRouteHandler) -> bool:
    return bool(handler.opt.get(PROBE_OPT))


async def limit_requests_per_address(request: ASGIConnection[Any, Any, Any, Any]) -> None:
    """A coarse per-address request limit, checked before every handler (once: the access guard counts
    the request first on routes that need a credential), except probes and metrics scrapes."""
    scope = cast(dict[str, Any], request.scope)
    if scope.get(_ADDRESS_COUNTED) or not is_rate_limited(request.route_handler):
        return
    scope[_ADDRESS_COUNTED] = True
    container = container_of(request)
    limit = container.request_limit_per_address()
    state = await container.rate_limiter().hit(f"requests:address:{client_address(request)}", limit)
    if not state.allowed:
        raise RateLimited(
            "too many requests from this address",
            retry_after_seconds=state.reset_after_seconds,
            limit=limit.amount,
            window_seconds=limit.per_seconds,
            scope="address",
        )


def _declare_rate_limit_headers(operation: Operation) -> None:
    too_many = (operation.responses or {}).get("429")
    if isinstance(too_many, OpenAPIResponse):
        too_many.headers = {**(too_many.headers or {}), **_RATE_LIMIT_HEADERS}


_DECLARING_RATE_LIMITS: dict[type[Operation], type[Operation]] = {}


def _with_rate_limit_headers(base: type[Operation]) -> type[Operation]:
    """``base`` (Operation, or a route's own subclass of it) whose 429 answer declares its headers:
    Litestar's ResponseSpec has no headers."""
    if (known := _DECLARING_RATE_LIMITS.get(base)) is not None:
        return known

    def post_init(self: Operation) -> None:
        inherited = getattr(super(subclass, self), "__post_init__", None)
        if inherited is not None:
            inherited()
        _declare_rate_limit_headers(self)

    subclass: type[Operation] = dataclass(
        type(f"{base.__name__}DeclaringRateLimits", (base,), {"__post_init__": post_init})
    )
    _DECLARING_RATE_LIMITS[base] = subclass
    return subclass


def document_rate_limits(app: Litestar) -> None:
    """Declare a 429 problem, with its headers, on every operation the per-address limit counts; and
    the headers of the 429 that a route the per-address limit never counts declares for a limit of
    its own (Twilio's webhooks: failed signature checks)."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if not isinstance(handler, HTTPRouteHandler):
                continue
            if is_rate_limited(handler):
                responses: dict[int, Any] = dict(handler.responses or {})
                handler.responses = {**responses, **problem_responses(429)}
            if 429 in (handler.responses or {}):
                handler.operation_class = _with_rate_limit_headers(handler.operation_class)
