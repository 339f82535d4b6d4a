"""Bridges from Litestar's dependency injection to the container: one line each."""

from __future__ import annotations

from typing import Any, cast

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE

from application.errors import AccessDenied, RateLimited
from application.ports import Principal
from application.use_cases.authenticate import Authenticate
from application.use_cases.conversations import ListConversations
from application.use_cases.history import GetMessage, ListHistory
from application.use_cases.readiness import CheckReadiness
from application.use_cases.send_message import RetryMessage, SendMessage
from entrypoints.container import Container
from entrypoints.http.access import principal_of
from entrypoints.http.client_address import client_address
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


def _expects_json(request: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the route reads a JSON request body (its ``data`` parameter, JSON unless declared)."""
    parameter = request.route_handler.parsed_fn_signature.parameters.get("data")
    if parameter is None:
        return False
    media_type = getattr(parameter.kwarg_definition, "media_type", RequestEncodingType.JSON)
    return bool(media_type == RequestEncodingType.JSON)


def require_json_content_type(request: ASGIConnection[Any, Any, Any, Any]) -> None:
    """A JSON route refuses a body declared as something else with 415 (Litestar would parse it anyway)."""
    content_type = request.headers.get("content-type")
    if content_type is None or not _expects_json(request):
        return
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ClientException(
            f"send the body as application/json, not {media_type or 'an empty type'}",
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        )


async def before_every_request(request: ASGIConnection[Any, Any, Any, Any]) -> None:
    await limit_requests_per_address(request)
    require_json_content_type(request)


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
