"""The agent inbox: the tenant's conversations, one conversation with its messages and a composer, the
status history of a message, the files customers sent, and the live updates of all of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, ServerSentEvent, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.types import ExceptionHandlersMap

from application.errors import IdempotencyKeyInUse, InvalidInput
from application.identity.sessions import ResolvePrincipal
from application.media.library import OpenMedia
from application.messaging.conversations import (
    ConversationsRequest,
    GetConversation,
    ListConversations,
    MarkConversationSeen,
)
from application.messaging.history import GetMessage, HistoryRequest, ListHistory
from application.messaging.inbox_feed import InboxFeed
from application.messaging.send_message import SendMessage, SendMessageCommand
from application.messaging.template_sends import HeaderMedia, ListSendableTemplates
from application.ports.clock import Clock
from application.ports.messages import MessageView
from application.principal import Principal
from domain.administration.tenancy import Role
from domain.errors import DomainError
from domain.messaging.conversations import Conversation
from domain.messaging.messages import Template as MessageTemplate
from domain.templates.catalogue import CatalogueTemplate
from domain.templates.errors import InvalidTemplateValues
from entrypoints.console.errors import SIGN_IN_PATH, console_error_handler
from entrypoints.console.i18n import translatable, translator
from entrypoints.console.inbox_display import (
    INBOX_PATH,
    conversation_path,
    media_of,
    text_of,
    tick_of,
    window_left,
)
from entrypoints.console.inbox_stream import inbox_events
from entrypoints.console.pages.scheduled import utc_moment
from entrypoints.console.rendering import language_of, render
from entrypoints.http.access import admitted_principal, browser_ticket, in_console
from entrypoints.http.admission import long_lived
from entrypoints.http.dependencies import container_of, provide
from entrypoints.http.media.controller import IfNoneMatch, media_answer
from entrypoints.http.media.schemas import held_versions

TENANT_USERS = in_console(Role.AGENT, Role.TENANT_ADMIN)
CONVERSATIONS_PAGE = 25
MESSAGES_PAGE = 30
_MAX_CURSOR = 200
_NOTICES = {
    "sent": "Message accepted for sending.",
    "scheduled": translatable("The message is scheduled: it waits under Scheduled sends until its time."),
}
_PAGE_STATE = "inbox_page"  # what a refused send shows again (request.state)
_VARIABLE_PREFIX = "v_"


@dataclass(frozen=True, slots=True)
class ComposerForm:
    idempotency_key: str = ""
    body: str = ""
    media_url: str = ""
    send_at: str = ""  # empty: now; else a datetime-local value, read as UTC


@dataclass(frozen=True, slots=True)
class MessageRow:
    message: MessageView
    text: str
    tick: Any
    media: list[Any]


@dataclass
class ConversationPage:
    """Everything the conversation page shows, read before a send so that a refused one can show it
    again with the reason (an exception handler cannot read)."""

    conversation: Conversation
    rows: list[MessageRow]
    earlier: str | None
    now: datetime
    window_open: bool
    free_form_allowed: bool
    templates: list[CatalogueTemplate]
    chosen: CatalogueTemplate | None

    def context(self) -> dict[str, Any]:
        left = window_left(self.conversation, self.now)
        return {
            "conversation": self.conversation,
            "rows": self.rows,
            "earlier": self.earlier,
            "window_open": self.window_open,
            "free_form_allowed": self.free_form_allowed,
            "window_left": left,
            "templates": self.templates,
            "chosen": self.chosen,
            "idempotency_key": str(uuid4()),  # a fresh one each time the composer is shown
            "conversation_path": conversation_path(self.conversation.id),
            "inbox_path": INBOX_PATH,
        }


def _cursor(value: str | None) -> str | None:
    return value if value and len(value) <= _MAX_CURSOR else None


def _refused_send(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """The conversation again, with the reason beside the composer (422) and what was typed."""
    page = getattr(request.state, _PAGE_STATE, None)
    if not isinstance(page, ConversationPage):
        return console_error_handler(request, error)
    problems: list[str] = []
    if isinstance(error, InvalidTemplateValues):
        problems = [f"{p.field.removeprefix('template.variables.')}: {p.message}" for p in error.problems]
    detail = error.detail if isinstance(error, InvalidInput | IdempotencyKeyInUse) else str(error)
    return render(
        request,
        "inbox/conversation.html",
        principal=admitted_principal(request),
        status_code=409 if isinstance(error, IdempotencyKeyInUse) else 422,
        error=detail,
        problems=problems,
        typed=getattr(request.state, "inbox_typed", {}),
        **page.context(),
    )


_REFUSALS: ExceptionHandlersMap = {
    InvalidInput: _refused_send,
    DomainError: _refused_send,
    IdempotencyKeyInUse: _refused_send,
}


class InboxController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "list_conversations": provide(lambda c: c.list_conversations),
        "get_conversation": provide(lambda c: c.get_conversation),
        "mark_conversation_seen": provide(lambda c: c.mark_conversation_seen),
        "list_history": provide(lambda c: c.list_history),
        "get_message": provide(lambda c: c.get_message),
        "send_message": provide(lambda c: c.send_message),
        "list_sendable_templates": provide(lambda c: c.list_sendable_templates),
        "open_media": provide(lambda c: c.open_media),
        "clock": provide(lambda c: c.clock),
    }

    @get("/inbox", opt=TENANT_USERS)
    async def inbox(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_conversations: NamedDependency[ListConversations],
        older: FromQuery[str | None] = None,
    ) -> Template:
        page = await list_conversations(
            ConversationsRequest(
                tenant_id=principal.tenant_id, limit=CONVERSATIONS_PAGE, cursor=_cursor(older)
            )
        )
        return render(
            request,
            "inbox/list.html",
            principal=principal,
            page=page,
            window_left=window_left,
            conversation_path=conversation_path,
            inbox_path=INBOX_PATH,
        )

    @get("/inbox/events", opt={**TENANT_USERS, **long_lived("a live stream stays open while the page is")})
    async def events(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        """The live updates of the tenant's inbox (text/event-stream), for the pages' script."""
        container = container_of(request)
        feed: InboxFeed = container.inbox_feed()
        assert principal.user_id is not None  # the console admits users only
        subscription = feed.join(principal.tenant_id, principal.user_id)  # TooManyStreams: 429
        ticket = browser_ticket(request)
        resolve: ResolvePrincipal = container.resolve_principal()
        clock: Clock = container.clock()

        async def check_session() -> object:
            return await resolve.browser(ticket)

        return ServerSentEvent(
            inbox_events(
                feed,
                subscription,
                check_session,
                translator(language_of(request)),
                clock.now,
                sign_in_path=SIGN_IN_PATH,
            ),
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @get("/inbox/{conversation_id:uuid}", opt=TENANT_USERS)
    async def conversation(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_conversation: NamedDependency[GetConversation],
        mark_conversation_seen: NamedDependency[MarkConversationSeen],
        list_history: NamedDependency[ListHistory],
        list_sendable_templates: NamedDependency[ListSendableTemplates],
        clock: NamedDependency[Clock],
        earlier: FromQuery[str | None] = None,
        template: FromQuery[str | None] = None,
    ) -> Template:
        page = await _conversation_page(
            principal,
            conversation_id,
            get_conversation,
            list_history,
            list_sendable_templates,
            clock,
            earlier=_cursor(earlier),
            template=template,
        )
        if page.conversation.unread_count:
            await mark_conversation_seen(principal.tenant_id, conversation_id)
        return render(
            request,
            "inbox/conversation.html",
            principal=principal,
            notices=_NOTICES,
            error=None,
            problems=[],
            typed={},
            **page.context(),
        )

    @post("/inbox/{conversation_id:uuid}/messages", opt=TENANT_USERS, exception_handlers=_REFUSALS)
    async def send(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[UUID],
        data: Annotated[ComposerForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        get_conversation: NamedDependency[GetConversation],
        list_history: NamedDependency[ListHistory],
        list_sendable_templates: NamedDependency[ListSendableTemplates],
        send_message: NamedDependency[SendMessage],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        """A free-form message (text, or a file by URL with its caption), inside the session window."""
        page = await _conversation_page(
            principal, conversation_id, get_conversation, list_history, list_sendable_templates, clock
        )
        _keep_for_refusal(
            request, page, {"body": data.body, "media_url": data.media_url, "send_at": data.send_at}
        )
        send_at = _send_at(data.send_at)
        media_url = data.media_url.strip()
        await send_message(
            SendMessageCommand(
                tenant_id=principal.tenant_id,
                to_number=page.conversation.contact.e164,
                from_number=page.conversation.sender.e164,
                body=data.body,
                media_urls=(media_url,) if media_url else (),
                idempotency_key=_idempotency_key(data.idempotency_key),
                respond_async=True,
                send_at=send_at,
            )
        )
        return _sent(conversation_id, scheduled=send_at is not None)

    @post("/inbox/{conversation_id:uuid}/template", opt=TENANT_USERS, exception_handlers=_REFUSALS)
    async def send_template(
        self,
        request: Request[Any, Any, Any],
        conversation_id: FromPath[UUID],
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        get_conversation: NamedDependency[GetConversation],
        list_history: NamedDependency[ListHistory],
        list_sendable_templates: NamedDependency[ListSendableTemplates],
        send_message: NamedDependency[SendMessage],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        """One of the sender's approved templates, with a value for each of its variables: what reaches
        a contact whose session window is closed."""
        page = await _conversation_page(
            principal,
            conversation_id,
            get_conversation,
            list_history,
            list_sendable_templates,
            clock,
            template=data.get("template", ""),
        )
        _keep_for_refusal(request, page, data)
        chosen = page.chosen
        if chosen is None:
            raise InvalidInput("choose one of the approved templates")
        values = {
            name.removeprefix(_VARIABLE_PREFIX): value
            for name, value in data.items()
            if name.startswith(_VARIABLE_PREFIX)
        }
        header_url = data.get("header_media_url", "").strip()
        send_at = _send_at(data.get("send_at", ""))
        definition = chosen.definition
        await send_message(
            SendMessageCommand(
                tenant_id=principal.tenant_id,
                to_number=page.conversation.contact.e164,
                from_number=page.conversation.sender.e164,
                template=MessageTemplate.named(definition.name, definition.language, values),
                template_header_media=HeaderMedia(url=header_url) if header_url else None,
                idempotency_key=_idempotency_key(data.get("idempotency_key", "")),
                respond_async=True,
                send_at=send_at,
            )
        )
        return _sent(conversation_id, scheduled=send_at is not None)

    @get("/inbox/messages/{message_id:uuid}", opt=TENANT_USERS)
    async def message(
        self,
        request: Request[Any, Any, Any],
        message_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_message: NamedDependency[GetMessage],
        conversation: FromQuery[UUID | None] = None,
    ) -> Template:
        """A message and its status history: every report the provider sent about it, in order."""
        details = await get_message(principal.tenant_id, message_id)
        view = MessageView.of(details.message)
        return render(
            request,
            "inbox/message.html",
            principal=principal,
            message=view,
            text=text_of(view),
            tick=tick_of(view),
            media=media_of(view),
            timeline=details.timeline,
            back=conversation_path(conversation) if conversation else INBOX_PATH,
        )

    @get("/media/{media_id:uuid}", opt=TENANT_USERS)
    async def media(
        self,
        media_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        open_media: NamedDependency[OpenMedia],
        if_none_match: IfNoneMatch = None,
    ) -> Response[Any]:
        """A file a customer sent, as the API's GET /api/media/{id} serves it (another tenant's: 404)."""
        opened = await open_media(principal.tenant_id, media_id, held=held_versions(if_none_match))
        return media_answer(opened)


async def _conversation_page(
    principal: Principal,
    conversation_id: UUID,
    get_conversation: GetConversation,
    list_history: ListHistory,
    list_sendable_templates: ListSendableTemplates,
    clock: Clock,
    *,
    earlier: str | None = None,
    template: str | None = None,
) -> ConversationPage:
    now = clock.now()
    for_reply = await get_conversation.for_reply(principal.tenant_id, conversation_id, now)
    conversation = for_reply.conversation
    history = await list_history(
        HistoryRequest(
            tenant_id=principal.tenant_id,
            contact=conversation.contact.e164,
            limit=MESSAGES_PAGE,
            cursor=earlier,
        )
    )
    window_open = conversation.window_open(now)
    templates: list[CatalogueTemplate] = []
    chosen = None
    if not for_reply.free_form_allowed:
        templates = await list_sendable_templates(principal.tenant_id, conversation.sender)
        chosen = next((item for item in templates if str(item.id) == template), None)
    rows = [
        MessageRow(message=view, text=text_of(view), tick=tick_of(view), media=media_of(view))
        for view in reversed(history.items)  # oldest first, as a conversation reads
    ]
    return ConversationPage(
        conversation=conversation,
        rows=rows,
        earlier=history.next_cursor,
        now=now,
        window_open=window_open,
        free_form_allowed=for_reply.free_form_allowed,
        templates=templates,
        chosen=chosen,
    )


def _keep_for_refusal(request: Request[Any, Any, Any], page: ConversationPage, typed: dict[str, str]) -> None:
    setattr(request.state, _PAGE_STATE, page)
    request.state.inbox_typed = typed


def _idempotency_key(value: str) -> str | None:
    """The composer's key, as the API's Idempotency-Key header takes one (else none: a plain send)."""
    key = value.strip()
    if not key or len(key) > 255 or not all("\x21" <= character <= "\x7e" for character in key):
        return None
    return f"console:{key}"


def _sent(conversation_id: UUID, *, scheduled: bool) -> Response[Any]:
    done = "scheduled" if scheduled else "sent"
    return Redirect(f"{conversation_path(conversation_id)}?done={done}", status_code=HTTP_303_SEE_OTHER)


def _send_at(typed: str) -> datetime | None:
    """When the composer's message is to go: None (now) when the field is empty."""
    return utc_moment(typed) if typed.strip() else None
