"""HTTP handlers: decode, call the use case, encode. Nothing else."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from application.ports import Principal
from application.use_cases.authenticate import Authenticate
from application.use_cases.history import DEFAULT_PAGE_SIZE, GetMessage, HistoryRequest, ListHistory
from application.use_cases.readiness import CheckReadiness
from application.use_cases.send_message import SendMessage, SendMessageCommand
from domain.messages import Direction, MessageStatus
from entrypoints.http.dependencies import client_address
from entrypoints.http.problems import problem_responses
from entrypoints.http.schemas import (
    HealthStatus,
    LoginRequest,
    MessagePage,
    MessageResource,
    SendMessageRequest,
    TokenResponse,
)

BEARER: list[dict[str, list[str]]] = [{"BearerToken": []}]


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post(
        "/login",
        operation_id="login",
        summary="Exchange a username and password for an access token",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 413, 429),
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginRequest],
        authenticate: NamedDependency[Authenticate],
    ) -> TokenResponse:
        token = await authenticate(data.username, data.password, client_address(request))
        return TokenResponse(access_token=token.access_token, expires_in=token.expires_in)


class MessagesController(Controller):
    path = "/api"
    tags = ["messages"]
    security = BEARER

    @post(
        "/send",
        operation_id="sendMessage",
        summary="Send a WhatsApp message from one of the tenant's senders",
        description=(
            "The message is stored, then handed to the tenant's provider. The response carries its "
            "status: `queued` when the provider took it, `failed` with `error_code` when it refused it."
        ),
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 413, 422, 429, 503),
    )
    async def send(
        self,
        data: JSONBody[SendMessageRequest],
        principal: NamedDependency[Principal],
        send_message: NamedDependency[SendMessage],
    ) -> Response[MessageResource]:
        message = await send_message(
            SendMessageCommand(
                tenant_id=principal.tenant_id,
                to_number=data.to_number,
                body=data.body,
                media_urls=data.media_urls,
                from_number=data.from_number,
            )
        )
        return Response(
            MessageResource.of(message),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/messages/{message.id}"},
        )

    @get(
        "/messages",
        operation_id="listMessages",
        summary="The tenant's message history, newest first",
        description="Keyset pagination: pass `next_cursor` back as `cursor` to get the next page.",
        responses=problem_responses(400, 401, 422, 503),
    )
    async def list_messages(
        self,
        principal: NamedDependency[Principal],
        list_history: NamedDependency[ListHistory],
        limit: Annotated[
            int, QueryParameter(ge=1, description="1 to 100; larger values are capped at 100")
        ] = DEFAULT_PAGE_SIZE,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        direction: FromQuery[Direction | None] = None,
        status: FromQuery[MessageStatus | None] = None,
        contact: Annotated[
            str | None, QueryParameter(max_length=64, description="The customer's number, +E.164")
        ] = None,
        since: Annotated[
            datetime | None, QueryParameter(description="Created at or after (ISO 8601)")
        ] = None,
        until: Annotated[datetime | None, QueryParameter(description="Created before (ISO 8601)")] = None,
    ) -> MessagePage:
        page = await list_history(
            HistoryRequest(
                tenant_id=principal.tenant_id,
                limit=limit,
                cursor=cursor,
                direction=direction,
                status=status,
                contact=contact,
                since=since,
                until=until,
            )
        )
        return MessagePage.of(page)

    @get(
        "/messages/{message_id:uuid}",
        operation_id="getMessage",
        summary="One of the tenant's messages",
        responses=problem_responses(400, 401, 404, 503),
    )
    async def get_message_by_id(
        self,
        message_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_message: NamedDependency[GetMessage],
    ) -> MessageResource:
        return MessageResource.of(await get_message(principal.tenant_id, message_id))


class HealthController(Controller):
    path = "/"
    tags = ["operations"]

    @get("/healthz", operation_id="health", summary="The process is up", cache=False)
    async def health(self) -> HealthStatus:
        return HealthStatus()

    @get(
        "/readyz",
        operation_id="readiness",
        summary="The database answers",
        cache=False,
        responses=problem_responses(503),
    )
    async def ready(self, check_readiness: NamedDependency[CheckReadiness]) -> HealthStatus:
        await check_readiness()
        return HealthStatus()
