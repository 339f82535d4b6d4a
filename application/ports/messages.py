"""Messages and conversations as stored: repositories, the history read model, idempotency keys."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from application.ports.consent import SendConsent
from application.ports.dispatch_queue import DispatchJob
from domain.administration.tenancy import ProviderName, Sender, Tenant
from domain.messaging.content import Media, MessageKind
from domain.messaging.conversations import Conversation
from domain.messaging.failures import Failure, FailureCode
from domain.messaging.messages import (
    Direction,
    Message,
    MessageContent,
    MessageStatus,
    StatusEvent,
    failure_of,
)
from domain.phone import PhoneNumber


@dataclass(frozen=True, slots=True)
class HistoryPosition:
    """Where a page of history ends: the last message's sort key."""

    created_at: datetime
    message_id: UUID


@dataclass(frozen=True, slots=True)
class ScheduledPosition:
    """Where a page of scheduled messages ends: the last one's (send_at, id)."""

    send_at: datetime
    message_id: UUID


@dataclass(frozen=True, slots=True)
class ChangePosition:
    """Where a read of changed messages ends: the last message's (updated_at, id)."""

    updated_at: datetime
    message_id: UUID


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    tenant_id: UUID
    limit: int
    after: HistoryPosition | None = None
    direction: Direction | None = None
    status: MessageStatus | None = None
    contact: PhoneNumber | None = None
    since: datetime | None = None
    until: datetime | None = None
    kind: MessageKind | None = None
    failure_code: FailureCode | None = None
    failures_only: bool = False  # only messages that did not reach their recipient (failed, undelivered)


class MessageView(NamedTuple):
    """A message as a history page shows it: the read model of the list, straight from storage.

    Not a domain ``Message``: a page has up to 100 of them, and building entities (validated content,
    phone numbers) only to flatten them again cost more CPU than the query. A NamedTuple: immutable
    and cheap to build from a row.

    Most messages are text, media by URL or a Content SID template, which ``body``, ``media_urls``,
    ``content_sid`` and ``content_variables`` say in full; ``content`` is None for them. The others
    (typed media, interactive, a location, …) carry their whole ``content``, built only for them.
    """

    id: UUID
    direction: Direction
    status: MessageStatus
    from_number: str
    to_number: str
    kind: MessageKind
    body: str
    media_urls: list[str]
    content_sid: str | None
    content_variables: dict[str, str] | None
    content: MessageContent | None
    profile_name: str | None
    provider_sid: str | None
    error_code: int | None
    error_message: str | None
    failure_code: FailureCode | None
    provider: ProviderName | None
    provider_error_message: str | None
    created_at: datetime
    updated_at: datetime
    send_at: datetime | None = None  # when a scheduled message is (or was) to be sent
    redacted_at: datetime | None = None  # the retention removed the body and media

    @property
    def failure(self) -> Failure | None:
        return failure_of(
            self.status,
            self.failure_code,
            self.provider,
            self.error_code,
            self.provider_error_message,
            self.error_message,
        )

    @classmethod
    def of(cls, message: Message) -> MessageView:
        template = message.content.template
        return cls(
            id=message.id,
            direction=message.direction,
            status=message.status,
            from_number=message.from_number.e164,
            to_number=message.to_number.e164,
            kind=message.content.kind,
            body=message.content.body,
            media_urls=list(message.content.media_urls),
            content_sid=template.content_sid if template else None,
            content_variables=template.variables_dict if template else None,
            content=None if said_by_columns(message.content) else message.content,
            profile_name=message.profile_name,
            provider_sid=message.provider_sid,
            error_code=message.error_code,
            error_message=message.error_message,
            failure_code=message.failure_code,
            provider=message.provider,
            provider_error_message=message.provider_error_message,
            created_at=message.created_at,
            updated_at=message.updated_at,
            send_at=message.send_at,
            redacted_at=message.redacted_at,
        )


def said_by_columns(content: MessageContent) -> bool:
    """Whether a body, media URLs and a Content SID template are all there is to ``content`` (as for most
    messages), so a history page needs nothing more of it."""
    template = content.template
    if template is not None and (template.content_sid is None or template.name is not None):
        return False  # a template by name: its name, layout and rendered text are in the document
    return all(
        getattr(content, part.name) == part.default
        for part in dataclasses.fields(MessageContent)
        if part.name not in _COLUMNS_OF_CONTENT
    )


_COLUMNS_OF_CONTENT = frozenset({"body", "media_urls", "template"})

# A history row as stored, for a page that goes to the client without a MessageView per row: the
# fields of MessageView in its order, each enum as its stored word (the enum's value), ``content``
# built only for the messages with a content document (None for the others, as in the view). A plain
# tuple: on PostgreSQL the driver's own rows, passed on as they come.
StoredMessageRow = tuple[Any, ...]
STORED_ROW_CREATED_AT = MessageView._fields.index("created_at")


def view_of_row(row: StoredMessageRow) -> MessageView:
    """The view of a stored row, its stored words as the domain's enums."""
    failure_code, provider = row[15], row[16]
    return MessageView._make(
        (
            row[0],
            Direction(row[1]),
            MessageStatus(row[2]),
            *row[3:5],
            MessageKind(row[5]),
            *row[6:15],
            None if failure_code is None else FailureCode(failure_code),
            None if provider is None else ProviderName(provider),
            *row[17:],
        )
    )


@dataclass(frozen=True, slots=True)
class ConversationPosition:
    """Where a page of conversations ends: the last one's sort key."""

    last_message_at: datetime
    conversation_id: UUID


@dataclass(frozen=True, slots=True)
class ConversationQuery:
    tenant_id: UUID
    limit: int
    after: ConversationPosition | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A delivery status reported by the provider for one of our messages."""

    provider_sid: str
    status: MessageStatus
    error_code: int | None = None
    error_message: str | None = None
    # Our code for a failure; a failed or undelivered report without one is stored as ``unknown``.
    failure_code: FailureCode | None = None
    provider_error_message: str | None = None
    provider: ProviderName | None = None  # the provider reporting, when known
    pricing_category: str | None = None  # the provider's pricing category of the message (Meta's)

    @property
    def failure_code_to_store(self) -> FailureCode | None:
        """The code the message keeps: the report's, or ``unknown`` for a failure the provider gave no
        code we know for (None: keep what the message has)."""
        if self.failure_code is None and self.status.is_failure:
            return FailureCode.UNKNOWN
        return self.failure_code


@dataclass(frozen=True, slots=True)
class StatusAdvance:
    """What a status report did to the message it names."""

    found: bool  # one of the tenants has a message with the report's provider id
    moved: Message | None = None  # the message, when the report moved it forward
    # The transaction is committed, with the tenant's webhook events of the move (``commit``).
    committed: bool = False


class MessageRepository(Protocol):
    async def add(self, message: Message) -> None: ...
    async def update(self, message: Message) -> None: ...
    async def get(self, tenant_id: UUID, message_id: UUID) -> Message | None: ...
    async def get_by_provider_sid(self, provider_sid: str) -> Message | None:
        """Provider ids are unique across tenants: the message a provider callback is about."""
        ...

    async def attach_provider_sid(self, tenant_id: UUID, message_id: UUID, provider_sid: str) -> bool:
        """Record the provider's id on a message that has none yet; False if it had one already."""
        ...

    async def list_views(self, query: HistoryQuery) -> list[MessageView]:
        """A page of history, newest first, keyset on (created_at, id) descending, ``after`` exclusive
        (a contact's messages in any of its forms), as the read model a history response needs."""
        ...

    async def list_stored(self, query: HistoryQuery) -> list[StoredMessageRow]:
        """The page of ``list_views`` as stored rows: for a page encoded for the client directly, which
        needs no view per row."""
        ...

    async def list_scheduled(
        self, tenant_id: UUID, limit: int, after: ScheduledPosition | None = None
    ) -> list[MessageView]:
        """The tenant's messages still scheduled, soonest first, keyset on (send_at, id), ``after``
        exclusive."""
        ...

    async def list_status_events(self, tenant_id: UUID, message_id: UUID) -> list[StatusEvent]:
        """The message's status reports in the order they were received."""
        ...

    async def list_changed(
        self, tenant_id: UUID, since: datetime, limit: int, after: ChangePosition | None = None
    ) -> list[MessageView]:
        """The tenant's messages created or changed (a status, a media item settled) after ``since``,
        oldest change first, keyset on (updated_at, id), after ``after`` if given (both exclusive):
        what a live view of the inbox polls for, page after page."""
        ...

    async def advance_status(self, change: StatusChange, now: datetime) -> Message | None:
        """Apply ``change`` only if it moves the message forward; return the message if it did."""
        ...

    async def advance_status_of(
        self, tenant_ids: Sequence[UUID], change: StatusChange, now: datetime, *, commit: bool = False
    ) -> StatusAdvance:
        """``advance_status`` for the message with the change's provider id, only if one of
        ``tenant_ids`` has it: whether one has it, and the message if it moved (on PostgreSQL one
        statement, with the transaction's BEGIN when it is the first).

        ``commit``: the report is the transaction's last write. An adapter that can records the move's
        webhook events itself (``record_status_changed``'s: ``message.status``, and ``message.failed``
        for a failure, to each subscribed endpoint) and commits with the statement, in its round trip
        (PostgreSQL), and answers ``committed``; else the caller records them and commits."""
        ...

    async def replace_media(
        self, tenant_id: UUID, message_id: UUID, item: int, media: Media, now: datetime
    ) -> Message | None:
        """Put ``media`` in place of the message's ``item``-th media item (what its download came to),
        as one change however many items are settled at once; the message as it is now, or None if the
        tenant has no such message, or it has no such item."""
        ...


class ConversationRepository(Protocol):
    async def record_message(self, message: Message) -> None:
        """Make ``message`` the conversation's latest (creating the conversation on its first message);
        an inbound message also opens the session window and counts as one more unread. An older
        message never overrides a newer one."""
        ...

    async def get(self, tenant_id: UUID, contact: PhoneNumber) -> Conversation | None: ...
    async def get_many(self, tenant_id: UUID, identities: Collection[str]) -> dict[str, Conversation]:
        """The tenant's conversations with these people (their numbers' ``identity``), by identity, in
        one read; a person with no conversation is left out."""
        ...

    async def get_by_id(self, tenant_id: UUID, conversation_id: UUID) -> Conversation | None: ...
    async def list_page(self, query: ConversationQuery) -> list[Conversation]:
        """Newest activity first, keyset on (last_message_at, id) descending, ``after`` exclusive."""
        ...

    async def mark_seen(self, tenant_id: UUID, conversation_id: UUID) -> bool:
        """Set the conversation's unread count to 0; False if the tenant has no such conversation."""
        ...


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    tenant_id: UUID
    key: str
    request_fingerprint: str
    created_at: datetime
    expires_at: datetime
    message_id: UUID | None = None
    response_status: int | None = None  # None while the first request is still running


class IdempotencyRepository(Protocol):
    """The keys accepted messages hold (``MessageAcceptance.add`` holds them)."""

    async def get(self, tenant_id: UUID, key: str, now: datetime) -> IdempotencyRecord | None: ...
    async def complete(self, tenant_id: UUID, key: str, response_status: int) -> None: ...
    async def purge_expired(self, now: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class SendingProfile:
    """Who would send a message: the tenant, the sender it would go from (None: no such sender), and
    the provider that sender sends through (its own account's, else the tenant's provider); and, when
    the recipient asked about opted out, what still reaches them (``ConsentRepository.refusal_for``)."""

    tenant: Tenant
    sender: Sender | None
    provider: ProviderName
    refusal: SendConsent | None = None


class WriteRefused(Exception):
    """``MessageAcceptance.add`` with a check of its own (``unless_opted_out``, ``only_in_window_at``)
    wrote nothing: the recipient opted out, their 24-hour window is closed, or the tenant holds the
    idempotency key already. Which one, the caller finds out by reading them, as an accept does when it
    has no sending profile in memory."""


class MessageAcceptance(Protocol):
    """What accepting an outbound message reads and writes, in as few round trips as the database allows."""

    async def sending_profile(
        self, tenant_id: UUID, sender_number: PhoneNumber | None, recipient: str | None = None
    ) -> SendingProfile | None:
        """The tenant and the sender it would send from: ``sender_number`` if it is one of the tenant's,
        its default sender otherwise; None if there is no tenant. With ``recipient`` (a number's
        identity), whether they opted out, read in the same statement."""
        ...

    async def add(
        self,
        message: Message,
        job: DispatchJob,
        idempotency: IdempotencyRecord | None,
        *,
        commit: bool = False,
        unless_opted_out: str | None = None,
        only_in_window_at: datetime | None = None,
    ) -> None:
        """Store a new outbound message, make it its conversation's latest, create its contact if the
        tenant has none of that number, queue its dispatch job and hold its idempotency key, all in the
        caller's transaction (in one statement where the database allows). Raise AlreadyExists if the tenant
        holds the key already (unexpired): the caller then rolls back, and nothing was stored.

        ``unless_opted_out`` (the recipient's identity): store nothing if they opted out, checked in the
        same statement. ``only_in_window_at``: store nothing unless the recipient's conversation has its
        24-hour session window open at that time (they wrote within the 24 hours before it). When either
        refuses, and for a held key too, raise WriteRefused instead.

        ``commit=True``: this is the transaction's last write, and the caller calls ``commit()`` next
        and nothing else; the database may commit it with the write (PostgreSQL does, in the write's own
        round trip). When it raises, nothing was stored or committed."""
        ...
