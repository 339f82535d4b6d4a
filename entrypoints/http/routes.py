"""HTTP handlers: decode, call the use case, encode. Nothing else."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from application.identity.authenticate import Authenticate
from application.identity.authorization import PersonOnly
from application.identity.sessions import Logout, RefreshSession
from application.messaging.conversations import ConversationsRequest, ListConversations
from application.messaging.history import DEFAULT_PAGE_SIZE, GetMessage, HistoryRequest, ListHistory
from application.messaging.send_message import RetryMessage, SendMessage, SendMessageCommand
from application.operations.readiness import CheckReadiness
from application.ports.identity import SessionTokens
from application.ports.principal import Principal
from domain.messaging.messages import Direction, MessageStatus
from entrypoints.http.access import SEND_AND_READ, any_user, public
from entrypoints.http.access_schemas import RefreshRequest
from entrypoints.http.client_address import client_address
from entrypoints.http.dependencies import container_of
from entrypoints.http.problems import problem_responses
from entrypoints.http.rate_limits import probe
from entrypoints.http.schemas import (
    ConversationsPage,
    HealthStatus,
    LoginRequest,
    MessageDetailsResource,
    MessagePage,
    MessageResource,
    SendMessageRequest,
    TokenResponse,
)
from entrypoints.http.wire_types import Moment, phone_number_from_query

BEARER: list[dict[str, list[str]]] = [{"BearerToken": []}]

# Query parameters shared by the history of all messages and of one conversation.
PageLimit = Annotated[int, QueryParameter(ge=1, description="1 to 100; larger values are capped at 100")]
PageCursor = Annotated[str | None, QueryParameter(max_length=200)]
CreatedSince = Annotated[Moment | None, QueryParameter(description="Created at or after")]
CreatedUntil = Annotated[Moment | None, QueryParameter(description="Created before")]


async def provide_refresh_session(request: Request[Any, Any, Any]) -> RefreshSession:
    return container_of(request).refresh_session()


async def provide_logout(request: Request[Any, Any, Any]) -> Logout:
    return container_of(request).logout()


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]
    dependencies = {"refresh_session": Provide(provide_refresh_session), "logout": Provide(provide_logout)}

    @post(
        "/login",
        operation_id="login",
        summary="Exchange a username and password for an access token and a refresh token",
        description=(
            "The access token lives 15 minutes at most (`expires_in`); exchange the refresh token at "
            "`POST /auth/refresh` for the next pair before it runs out. A session lasts "
            "`refresh_expires_in` seconds from login."
        ),
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 413),
        opt=public("the username and password in the body"),
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginRequest],
        authenticate: NamedDependency[Authenticate],
    ) -> Response[TokenResponse]:
        return _tokens(await authenticate(data.username, data.password, client_address(request)))

    @post(
        "/refresh",
        operation_id="refreshSession",
        summary="Exchange a refresh token for a new access token and the next refresh token",
        description=(
            "Each refresh token works once: the answer carries its successor. A refresh token presented "
            "a second time means someone else has it too: the whole session is ended (its newest refresh "
            "token and its access tokens stop working) and the answer is 401."
        ),
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 413, 503),
        opt=public("the refresh token in the body"),
    )
    async def refresh(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RefreshRequest],
        refresh_session: NamedDependency[RefreshSession],
    ) -> Response[TokenResponse]:
        return _tokens(await refresh_session(data.refresh_token, client_address(request)))

    @post(
        "/logout",
        operation_id="logout",
        summary="End this session",
        description=(
            "The session's refresh tokens and every access token issued in it, this one included, stop "
            "working at once. Other sessions of the user are not affected."
        ),
        status_code=HTTP_204_NO_CONTENT,
        security=BEARER,
        responses=problem_responses(401, 403, 503),
        opt=any_user(PersonOnly.END_SESSION),
    )
    async def logout(self, principal: NamedDependency[Principal], logout: NamedDependency[Logout]) -> None:
        await logout(principal)


def _tokens(tokens: SessionTokens) -> Response[TokenResponse]:
    body = TokenResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        refresh_expires_in=tokens.refresh_expires_in,
    )
    # RFC 6749 5.1: token responses are never cached.
    return Response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


class MessagesController(Controller):
    path = "/api"
    tags = ["messages"]
    security = BEARER
    opt = SEND_AND_READ

    @post(
        "/send",
        operation_id="sendMessage",
        summary="Send a WhatsApp message from one of the tenant's senders",
        description=(
            "Text (`body`), media (`media_url`, up to 10, with an optional `body` as caption) or an "
            "approved template (`content_sid` and `content_variables`).\n\n"
            "The message is stored durably with its dispatch job, then handed to the tenant's provider. "
            "If the provider answers within a few seconds the response is `201` with its status "
            "(`queued` with `provider_sid`, or `failed` with `error_code`); otherwise, or with "
            "`Prefer: respond-async`, it is `202` with status `accepted`: the message will still be "
            "sent, retried when the provider is unavailable, and never sent twice.\n\n"
            "`Idempotency-Key`: repeating a request with the same key (within 24 hours) replays the "
            "first answer instead of sending again; the same key with another body is a 422, and "
            "while the first request is still running a 409.\n\n"
            "Free-form messages (text, media) may only be sent within 24 hours of the contact's last "
            "message; outside that window the request is refused with a 422 `session-window-closed` "
            "problem before anything is sent, and only a template can reach the contact."
        ),
        status_code=HTTP_201_CREATED,
        responses={
            HTTP_202_ACCEPTED: ResponseSpec(
                data_container=MessageResource,
                description="Accepted: stored and queued; the provider's answer is not in yet",
                generate_examples=False,
            ),
            **problem_responses(400, 401, 403, 409, 413, 422, 503),
        },
    )
    async def send(
        self,
        data: JSONBody[SendMessageRequest],
        principal: NamedDependency[Principal],
        send_message: NamedDependency[SendMessage],
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name="Idempotency-Key",
                min_length=1,
                max_length=255,
                pattern=r"^[\x21-\x7e]+$",
                description="A unique key per message (e.g. a UUID): retries with it never send twice",
            ),
        ] = None,
        prefer: Annotated[
            str | None,
            HeaderParameter(name="Prefer", max_length=200, description="`respond-async`: answer 202 at once"),
        ] = None,
    ) -> Response[MessageResource]:
        respond_async = prefer is not None and "respond-async" in (
            p.strip() for p in prefer.lower().split(",")
        )
        result = await send_message(
            SendMessageCommand(
                tenant_id=principal.tenant_id,
                to_number=data.to_number,
                body=data.body,
                media_urls=data.media_urls,
                from_number=data.from_number,
                content_sid=data.content_sid,
                content_variables=data.content_variables,
                idempotency_key=idempotency_key,
                respond_async=respond_async,
            )
        )
        headers = {"Location": f"/api/messages/{result.message.id}"}
        if respond_async:
            headers["Preference-Applied"] = "respond-async"
        if result.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(
            MessageResource.of(result.message),
            status_code=HTTP_201_CREATED if result.dispatched else HTTP_202_ACCEPTED,
            headers=headers,
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
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: PageCursor = None,
        direction: FromQuery[Direction | None] = None,
        status: FromQuery[MessageStatus | None] = None,
        contact: Annotated[
            str | None, QueryParameter(max_length=64, description="The customer's number, +E.164")
        ] = None,
        since: CreatedSince = None,
        until: CreatedUntil = None,
    ) -> MessagePage:
        page = await list_history(
            HistoryRequest(
                tenant_id=principal.tenant_id,
                limit=limit,
                cursor=cursor,
                direction=direction,
                status=status,
                contact=phone_number_from_query(contact),
                since=since,
                until=until,
            )
        )
        return MessagePage.of(page)

    @post(
        "/messages/{message_id:uuid}/retry",
        operation_id="retryMessage",
        summary="Send a failed message again",
        description=(
            "Only `failed` outbound messages can be retried. The message goes back to `accepted` and is "
            "dispatched like a new one (the 24-hour window rule applies again, and it counts against the "
            "tenant's send limits like a send); poll it for the outcome."
        ),
        status_code=HTTP_202_ACCEPTED,
        responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
    )
    async def retry(
        self,
        message_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        retry_message: NamedDependency[RetryMessage],
    ) -> MessageResource:
        return MessageResource.of(await retry_message(principal.tenant_id, message_id))

    @get(
        "/messages/{message_id:uuid}",
        operation_id="getMessage",
        summary="One of the tenant's messages, with its status timeline",
        description=(
            "`timeline` lists every status report received about the message, oldest first; "
            "`applied` is false for a late report that did not move the message; a repeated report "
            "appears once."
        ),
        responses=problem_responses(400, 401, 404, 503),
    )
    async def get_message_by_id(
        self,
        message_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_message: NamedDependency[GetMessage],
    ) -> MessageDetailsResource:
        return MessageDetailsResource.of_details(await get_message(principal.tenant_id, message_id))


class ConversationsController(Controller):
    path = "/api/conversations"
    tags = ["conversations"]
    security = BEARER
    opt = SEND_AND_READ

    @get(
        "/",
        operation_id="listConversations",
        summary="The tenant's conversations, one per contact, most recent activity first",
        description=(
            "Each conversation has its last message and the contact's 24-hour session window: "
            "`window_open` tells whether free-form messages may be sent now (templates always may). "
            "Keyset pagination: pass `next_cursor` back as `cursor` to get the next page."
        ),
        responses=problem_responses(400, 401, 422, 503),
    )
    async def list_conversations(
        self,
        principal: NamedDependency[Principal],
        list_conversations: NamedDependency[ListConversations],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: PageCursor = None,
    ) -> ConversationsPage:
        page = await list_conversations(
            ConversationsRequest(tenant_id=principal.tenant_id, limit=limit, cursor=cursor)
        )
        return ConversationsPage.of(page)

    @get(
        "/{contact:str}/messages",
        operation_id="listConversationMessages",
        summary="The messages exchanged with one contact, newest first",
        description=(
            "`contact` is the customer's number, `+E.164` or `whatsapp:+E.164`. An unknown contact has "
            "an empty history. Keyset pagination as for `GET /api/messages`."
        ),
        responses=problem_responses(400, 401, 422, 503),
    )
    async def list_conversation_messages(
        self,
        contact: Annotated[str, PathParameter(max_length=64, description="The customer's number, +E.164")],
        principal: NamedDependency[Principal],
        list_history: NamedDependency[ListHistory],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: PageCursor = None,
        direction: FromQuery[Direction | None] = None,
        status: FromQuery[MessageStatus | None] = None,
        since: CreatedSince = None,
        until: CreatedUntil = None,
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


class HealthController(Controller):
    path = "/"
    tags = ["operations"]
    opt = {
        **public("probes: they tell nothing but up or ready"),
        **probe("an orchestrator refused a probe restarts a healthy process"),
    }

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
