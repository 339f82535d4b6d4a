"""Messaging over HTTP: send, retry, the history of messages, one message, conversations.

Agents and tenant admins, with an access token or an API key; the tenant always comes from the
caller's credential, never from the request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from application.messaging.conversations import (
    ConversationsRequest,
    GetConversation,
    ListConversations,
    MarkConversationSeen,
)
from application.messaging.history import GetMessage, HistoryRequest, ListHistory
from application.messaging.read_receipts import MarkMessageRead
from application.messaging.scheduling import CancelScheduled, ListScheduled, RescheduleMessage
from application.messaging.send_message import RetryMessage, SendMessage
from application.pagination import DEFAULT_PAGE_SIZE
from application.ports.clock import Clock
from application.principal import Principal
from domain.messaging.content import MessageKind
from domain.messaging.failures import FailureCode
from domain.messaging.messages import Direction, MessageStatus
from entrypoints.http.access import BEARER, SEND_AND_READ
from entrypoints.http.dependencies import container_of, provide
from entrypoints.http.messaging.schemas import (
    ConversationResource,
    ConversationsPage,
    MarkReadRequest,
    MessageDetailsResource,
    MessagePage,
    MessageResource,
    RescheduleRequest,
    SendMessageRequest,
    SentMessageResource,
)
from entrypoints.http.problems import problem_responses
from entrypoints.http.wire_types import (
    Moment,
    PageCursor,
    PageLimit,
    idempotency_key_header,
    phone_number_from_query,
)

# The filters of the history, of all messages and of one conversation alike.
CreatedSince = Annotated[Moment | None, QueryParameter(description="Created at or after")]
CreatedUntil = Annotated[Moment | None, QueryParameter(description="Created before")]
FailureCodeFilter = Annotated[
    FailureCode | None,
    QueryParameter(description="Failed (or undelivered) messages with this failure code"),
]


def _history_request(
    principal: Principal,
    limit: int,
    cursor: str | None,
    direction: Direction | None,
    status: MessageStatus | None,
    since: datetime | None,
    until: datetime | None,
    kind: MessageKind | None,
    failure_code: FailureCode | None,
    *,
    contact: str | None,
) -> HistoryRequest:
    """The history query of ``GET /api/messages`` and ``GET /api/conversations/{contact}/messages``."""
    return HistoryRequest(
        tenant_id=principal.tenant_id,
        limit=limit,
        cursor=cursor,
        direction=direction,
        status=status,
        contact=contact,
        since=since,
        until=until,
        kind=kind,
        failure_code=failure_code,
    )


async def _list_history(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal | None] = None
) -> ListHistory:
    """The history use case, resolved after ``principal`` (which it does not use). Litestar resolves
    dependencies of one level together in an anyio task group, which costs more per request than both
    lookups; taking ``principal`` puts this one on the next level, so each is awaited on its own."""
    return container_of(request).list_history()


class MessagesController(Controller):
    path = "/api"
    tags = ["messages"]
    security = BEARER
    opt = SEND_AND_READ
    dependencies = {
        "send_message": provide(lambda c: c.send_message),
        "retry_message": provide(lambda c: c.retry_message),
        "mark_message_read": provide(lambda c: c.mark_message_read),
        "list_history": Provide(_list_history),
        "get_message": provide(lambda c: c.get_message),
        "list_scheduled": provide(lambda c: c.list_scheduled),
        "reschedule_message": provide(lambda c: c.reschedule_message),
        "cancel_scheduled": provide(lambda c: c.cancel_scheduled),
    }

    @post(
        "/send",
        operation_id="sendMessage",
        summary="Send a WhatsApp message from one of the tenant's senders",
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
            idempotency_key_header(
                "A unique key per message (e.g. a UUID): retries with it never send twice"
            ),
        ] = None,
        prefer: Annotated[
            str | None,
            HeaderParameter(name="Prefer", max_length=200, description="`respond-async`: answer 202 at once"),
        ] = None,
    ) -> Response[SentMessageResource]:
        """One message of one kind, in the shape its resource shows it:

        - text: `body` (`preview_url`: show a preview of its first link);
        - media: `media` (up to 10 of a declared `type`, by `url` or by uploaded `id`, a document with its
          `filename`) or `media_url`/`media_urls` (the provider works out the type), captioned by `body`;
        - a template, which may be sent at any time: `template` from the tenant's catalogue by `name`,
          `language` and `variables` (positional ones named "1", "2", …; `header_media` for a media
          header), checked against it (a missing or extra variable, a template not approved for the
          sender's account: 422 naming it); or a Twilio `content_sid` and `content_variables` as they are;
        - `interactive`: reply `buttons` (up to 3), a `list` of rows in `sections`, or a `cta_url` button;
        - `location`, `contacts` (cards), or a `reaction` (an emoji on an earlier message);
        - `reply_to` makes any of them the answer to an earlier message. It and `reaction.message_id` take
          the provider's id of that message, or this API's id (then its provider's id is used).

        Each provider sends the kinds it can: a kind it cannot is refused with a 422
        `unsupported-by-provider` problem that says what to send instead, before anything is stored
        (Twilio, say, sends interactive messages only as Content templates). Parts that break
        WhatsApp's rules (four buttons, a section without rows) are a 400 naming the field, or a 422
        `invalid-message` saying which.

        The message is stored durably with its dispatch job, then handed to the tenant's provider.
        If the provider answers within a few seconds the response is `201` with its status
        (`queued` with `provider_sid`, or `failed` with its `failure`); otherwise, or with
        `Prefer: respond-async`, it is `202` with status `accepted`: the message will still be
        sent, retried when the provider is unavailable, and never sent twice.

        `send_at` schedules the message instead (from a minute to 35 days ahead): it is stored as
        `scheduled` and the answer is `202` at once; a worker sends it at that time (see
        `GET /api/scheduled`). A free-form one meets the 24-hour window at its time, not now.

        `Idempotency-Key`: repeating a request with the same key (within 24 hours) replays the
        first answer instead of sending again; the same key with another body is a 422, and
        while the first request is still running a 409.

        Free-form messages (all but templates) may only be sent within 24 hours of the contact's
        last message; outside that window the request is refused with a 422 `session-window-closed`
        problem before anything is sent, and only a template can reach the contact. Name a
        `fallback_template` and it is sent instead (`fallback_sent` in the answer says so).
        """
        respond_async = prefer is not None and "respond-async" in (
            p.strip() for p in prefer.lower().split(",")
        )
        result = await send_message(
            data.command(principal.tenant_id, idempotency_key=idempotency_key, respond_async=respond_async)
        )
        headers = {"Location": f"/api/messages/{result.message.id}"}
        if respond_async:
            headers["Preference-Applied"] = "respond-async"
        if result.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(
            SentMessageResource.of_send(result.message, fallback_sent=result.sent_fallback),
            status_code=HTTP_201_CREATED if result.dispatched else HTTP_202_ACCEPTED,
            headers=headers,
        )

    @get(
        "/messages",
        operation_id="listMessages",
        summary="The tenant's message history, newest first",
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
        kind: FromQuery[MessageKind | None] = None,
        failure_code: FailureCodeFilter = None,
    ) -> MessagePage:
        """Each message shows its `kind` and its content as `POST /api/send` takes it, and a failed
        one its `failure`. Keyset pagination: pass `next_cursor` back as `cursor` to get the next
        page."""
        request = _history_request(
            principal,
            limit,
            cursor,
            direction,
            status,
            since,
            until,
            kind,
            failure_code,
            contact=phone_number_from_query(contact),
        )
        return MessagePage.of_stored(await list_history.stored(request))

    @post(
        "/messages/{message_id:uuid}/retry",
        operation_id="retryMessage",
        summary="Send a failed message again",
        status_code=HTTP_202_ACCEPTED,
        responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
    )
    async def retry(
        self,
        message_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        retry_message: NamedDependency[RetryMessage],
    ) -> MessageResource:
        """Only `failed` outbound messages can be retried. The message goes back to `accepted` and is
        dispatched like a new one (the 24-hour window rule applies again, and it counts against the
        tenant's send limits like a send); poll it for the outcome."""
        return MessageResource.of(await retry_message(principal.tenant_id, message_id))

    @get(
        "/scheduled",
        operation_id="listScheduledMessages",
        summary="The tenant's scheduled messages not sent yet, soonest first",
        responses=problem_responses(400, 401, 422, 503),
    )
    async def list_scheduled_messages(
        self,
        principal: NamedDependency[Principal],
        list_scheduled: NamedDependency[ListScheduled],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: PageCursor = None,
    ) -> MessagePage:
        """Messages sent with `send_at` that are still `scheduled`, by `send_at` then id. Keyset
        pagination: pass `next_cursor` back as `cursor` to get the next page."""
        page = await list_scheduled(principal.tenant_id, limit=limit, cursor=cursor)
        return MessagePage(
            items=[MessageResource.of_view(view) for view in page.items], next_cursor=page.next_cursor
        )

    @patch(
        "/messages/{message_id:uuid}/schedule",
        operation_id="rescheduleMessage",
        summary="Move a scheduled message to another time",
        responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 503),
    )
    async def reschedule(
        self,
        message_id: FromPath[UUID],
        data: JSONBody[RescheduleRequest],
        principal: NamedDependency[Principal],
        reschedule_message: NamedDependency[RescheduleMessage],
    ) -> MessageResource:
        """Only while the message is `scheduled`: once a worker has taken it to send it, `409`
        `not-scheduled`. `send_at` is bound as for a send (from a minute to 35 days ahead)."""
        return MessageResource.of(await reschedule_message(principal.tenant_id, message_id, data.send_at))

    @post(
        "/messages/{message_id:uuid}/cancel",
        operation_id="cancelScheduledMessage",
        summary="Call off a scheduled message",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 404, 409, 503),
    )
    async def cancel(
        self,
        message_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        cancel_scheduled: NamedDependency[CancelScheduled],
    ) -> MessageResource:
        """Only while the message is `scheduled`: it becomes `canceled` (final) and is never sent; the
        tenant's webhooks get a `message.status` event. Once a worker has taken it, `409`
        `not-scheduled`."""
        return MessageResource.of(await cancel_scheduled(principal.tenant_id, message_id))

    @post(
        "/messages/{message_id:uuid}/read",
        operation_id="markMessageRead",
        summary="Show the customer their message was read",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(400, 401, 403, 404, 413, 422, 502, 503),
    )
    async def mark_read(
        self,
        message_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        mark_message_read: NamedDependency[MarkMessageRead],
        data: JSONBody[MarkReadRequest | None] = None,
    ) -> None:
        """A customer's (inbound) message, marked read through the provider of the number it was sent
        to: on Meta's Cloud API the customer sees the blue ticks, and with `typing_indicator` a typing
        indicator until the reply is sent (at most 25 seconds). Twilio has no read receipts: 422
        `unsupported-by-provider`. 422 `provider-refused` when the provider refuses (say, the message
        is older than 30 days), 502 `provider-unavailable` when it does not answer."""
        await mark_message_read(
            principal.tenant_id, message_id, typing_indicator=data is not None and data.typing_indicator
        )

    @get(
        "/messages/{message_id:uuid}",
        operation_id="getMessage",
        summary="One of the tenant's messages, with its status timeline",
        responses=problem_responses(400, 401, 404, 503),
    )
    async def get_message_by_id(
        self,
        message_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_message: NamedDependency[GetMessage],
    ) -> MessageDetailsResource:
        """`timeline` lists every status report received about the message, oldest first;
        `applied` is false for a late report that did not move the message; a repeated report
        appears once."""
        return MessageDetailsResource.of_details(await get_message(principal.tenant_id, message_id))


class ConversationsController(Controller):
    path = "/api/conversations"
    tags = ["conversations"]
    security = BEARER
    opt = SEND_AND_READ
    dependencies = {
        "list_conversations": provide(lambda c: c.list_conversations),
        "list_history": Provide(_list_history),
        "get_conversation": provide(lambda c: c.get_conversation),
        "mark_conversation_seen": provide(lambda c: c.mark_conversation_seen),
        "clock": provide(lambda c: c.clock),
    }

    @get(
        "/",
        operation_id="listConversations",
        summary="The tenant's conversations, one per contact, most recent activity first",
        responses=problem_responses(400, 401, 422, 503),
    )
    async def list_conversations(
        self,
        principal: NamedDependency[Principal],
        list_conversations: NamedDependency[ListConversations],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: PageCursor = None,
    ) -> ConversationsPage:
        """Each conversation has its last message and the contact's 24-hour session window:
        `window_open` tells whether free-form messages may be sent now (templates always may).
        Keyset pagination: pass `next_cursor` back as `cursor` to get the next page."""
        page = await list_conversations(
            ConversationsRequest(tenant_id=principal.tenant_id, limit=limit, cursor=cursor)
        )
        return ConversationsPage.of(page)

    @get(
        "/{conversation_id:uuid}",
        operation_id="getConversation",
        summary="One of the tenant's conversations, by its id",
        responses=problem_responses(400, 401, 404, 503),
    )
    async def get_conversation(
        self,
        conversation_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_conversation: NamedDependency[GetConversation],
        clock: NamedDependency[Clock],
    ) -> ConversationResource:
        """As in the list: its last message, the 24-hour session window (judged now) and how many of
        the customer's messages no agent has seen yet. Another tenant's conversation is not found."""
        conversation = await get_conversation(principal.tenant_id, conversation_id)
        return ConversationResource.of(conversation, clock.now())

    @post(
        "/{conversation_id:uuid}/seen",
        operation_id="markConversationSeen",
        summary="An agent has seen the conversation: its unread count goes back to 0",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(400, 401, 404, 503),
    )
    async def mark_conversation_seen(
        self,
        conversation_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        mark_conversation_seen: NamedDependency[MarkConversationSeen],
    ) -> None:
        """Nothing is sent to the customer: read receipts are `POST /api/messages/{id}/read`.
        Another tenant's conversation is not found."""
        await mark_conversation_seen(principal.tenant_id, conversation_id)

    @get(
        "/{contact:str}/messages",
        operation_id="listConversationMessages",
        summary="The messages exchanged with one contact, newest first",
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
        kind: FromQuery[MessageKind | None] = None,
        failure_code: FailureCodeFilter = None,
    ) -> MessagePage:
        """`contact` is the customer's number, `+E.164` or `whatsapp:+E.164`. An unknown contact has
        an empty history. Keyset pagination as for `GET /api/messages`."""
        request = _history_request(
            principal, limit, cursor, direction, status, since, until, kind, failure_code, contact=contact
        )
        return MessagePage.of_stored(await list_history.stored(request))
