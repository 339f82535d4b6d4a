"""Conversations: one per contact of a tenant, with its last message, its 24-hour session window and
how many of the customer's messages no agent has seen yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.errors import InvalidInput, NotFound
from application.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_conversation_cursor,
    encode_conversation_cursor,
)
from application.ports.clock import Clock
from application.ports.messages import ConversationPosition, ConversationQuery
from application.ports.unit_of_work import UnitOfWork
from domain.messaging.conversations import Conversation


@dataclass(frozen=True, slots=True)
class ConversationsRequest:
    tenant_id: UUID
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """``as_of`` is the moment the page was read: whether each window is open is judged at it."""

    items: list[Conversation]
    next_cursor: str | None
    as_of: datetime


class ListConversations:
    """A tenant's conversations, most recent activity first, one keyset page at a time."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, request: ConversationsRequest) -> ConversationPage:
        if request.limit < 1:
            raise InvalidInput("limit must be at least 1")
        limit = min(request.limit, MAX_PAGE_SIZE)
        query = ConversationQuery(
            tenant_id=request.tenant_id,
            limit=limit + 1,  # one extra row tells whether another page exists
            after=decode_conversation_cursor(request.cursor) if request.cursor else None,
        )
        async with self._uow:
            rows = await self._uow.conversations.list_page(query)
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_conversation_cursor(
                ConversationPosition(last_message_at=last.last_message_at, conversation_id=last.id)
            )
        return ConversationPage(items=items, next_cursor=next_cursor, as_of=self._clock.now())


class GetConversation:
    """One of the tenant's conversations, by its id; NotFound for another tenant's or an unknown id."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, tenant_id: UUID, conversation_id: UUID) -> Conversation:
        async with self._uow:
            conversation = await self._uow.conversations.get_by_id(tenant_id, conversation_id)
        if conversation is None:
            raise NotFound("no such conversation")
        return conversation

    async def for_reply(self, tenant_id: UUID, conversation_id: UUID, now: datetime) -> ConversationForReply:
        """The conversation, and whether a reply may be free-form as the send path judges it at ``now``."""
        async with self._uow:
            conversation = await self._uow.conversations.get_by_id(tenant_id, conversation_id)
            tenant = await self._uow.tenants.get(tenant_id)
        if conversation is None or tenant is None:
            raise NotFound("no such conversation")
        return ConversationForReply(
            conversation=conversation,
            free_form_allowed=not tenant.enforces_session_window or conversation.window_open(now),
            as_of=now,
        )


@dataclass(frozen=True, slots=True)
class ConversationForReply:
    """A conversation, and whether a free-form message (text, media) may go to it now: its 24-hour
    window is open, or its tenant does not have the window checked (the send path's rule)."""

    conversation: Conversation
    free_form_allowed: bool
    as_of: datetime


class MarkConversationSeen:
    """An agent has seen the conversation: none of the customer's messages is unread any more."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, tenant_id: UUID, conversation_id: UUID) -> None:
        async with self._uow:
            if not await self._uow.conversations.mark_seen(tenant_id, conversation_id):
                raise NotFound("no such conversation")
            await self._uow.commit()
