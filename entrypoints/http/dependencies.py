"""Bridges from Litestar's dependency injection to the container: one line each."""

from __future__ import annotations

from typing import Any, cast

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import Provide

from application.errors import AccessDenied, RateLimited
from application.identity.authenticate import Authenticate
from application.messaging.conversations import ListConversations
from application.messaging.history import GetMessage, ListHistory
from application.messaging.send_message import RetryMessage, SendMessage
from application.operations.readiness import CheckReadiness
from application.ports.principal import Principal
from entrypoints.container import Container
from entrypoints.http.access import principal_of
from entrypoints.http.client_address import client_address
from entrypoints.http.contract import decode_json_body_strictly, require_json_content_type
from entrypoints.http.rate_limits import is_rate_limited

_ADDRESS_COUNTED = "wa_gateway.address_counted"


def container_of(request: ASGIConnection[Any, Any, Any, Any]) -> Container:
    container: Container = request.app.state.container
    return container


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


async def before_every_request(request: Request[Any, Any, Any]) -> None:
    await limit_requests_per_address(request)
    require_json_content_type(request)
    await decode_json_body_strictly(request)


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller, as the access guard admitted it (see entrypoints/http/access.py)."""
    principal = principal_of(request)
    if principal is None:  # a public route asking for a principal: it gets none
        raise AccessDenied("this route admits no principal")
    return principal


async def provide_authenticate(request: Request[Any, Any, Any]) -> Authenticate:
    return container_of(request).authenticate()


async def provide_send_message(request: Request[Any, Any, Any]) -> SendMessage:
    return container_of(request).send_message()


async def provide_retry_message(request: Request[Any, Any, Any]) -> RetryMessage:
    return container_of(request).retry_message()


async def provide_list_history(request: Request[Any, Any, Any]) -> ListHistory:
    return container_of(request).list_history()


async def provide_get_message(request: Request[Any, Any, Any]) -> GetMessage:
    return container_of(request).get_message()


async def provide_list_conversations(request: Request[Any, Any, Any]) -> ListConversations:
    return container_of(request).list_conversations()


async def provide_check_readiness(request: Request[Any, Any, Any]) -> CheckReadiness:
    return container_of(request).check_readiness()


DEPENDENCIES = {
    "principal": Provide(provide_principal),
    "authenticate": Provide(provide_authenticate),
    "send_message": Provide(provide_send_message),
    "retry_message": Provide(provide_retry_message),
    "list_history": Provide(provide_list_history),
    "get_message": Provide(provide_get_message),
    "list_conversations": Provide(provide_list_conversations),
    "check_readiness": Provide(provide_check_readiness),
}
