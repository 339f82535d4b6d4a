"""Bridges from Litestar's dependency injection to the container: one line each."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import Provide

from application.errors import InvalidToken, RateLimited
from application.ports import Principal
from application.use_cases.authenticate import Authenticate
from application.use_cases.conversations import ListConversations
from application.use_cases.history import GetMessage, ListHistory
from application.use_cases.readiness import CheckReadiness
from application.use_cases.send_message import RetryMessage, SendMessage
from entrypoints.container import Container


def container_of(request: Request[Any, Any, Any]) -> Container:
    container: Container = request.app.state.container
    return container


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


async def limit_requests_per_address(request: Request[Any, Any, Any]) -> None:
    """A coarse per-address request limit, checked before every handler."""
    container = container_of(request)
    limit = container.request_limit_per_address()
    state = await container.rate_limiter().hit(f"requests:address:{client_address(request)}", limit)
    if not state.allowed:
        raise RateLimited(
            "too many requests from this address",
            retry_after_seconds=state.reset_after_seconds,
            limit=limit.amount,
            window_seconds=limit.per_seconds,
        )


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("send an access token: Authorization: Bearer <token>")
    return container_of(request).token_service().verify(token.strip())


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
