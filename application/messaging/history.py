from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.errors import InvalidInput, NotFound
from application.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, decode_cursor, encode_cursor
from application.ports.messages import HistoryPosition, HistoryQuery, MessageView
from application.ports.unit_of_work import UnitOfWork
from domain.messaging.content import MessageKind
from domain.messaging.failures import FailureCode
from domain.messaging.messages import Direction, Message, MessageStatus, StatusEvent
from domain.phone import PhoneNumber


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    tenant_id: UUID
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    direction: Direction | None = None
    status: MessageStatus | None = None
    contact: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    kind: MessageKind | None = None
    failure_code: FailureCode | None = None
    failures_only: bool = False  # failed and undelivered messages only


@dataclass(frozen=True, slots=True)
class HistoryPage:
    items: list[MessageView]
    next_cursor: str | None


class ListHistory:
    """A tenant's messages, newest first, one keyset page at a time."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, request: HistoryRequest) -> HistoryPage:
        if request.limit < 1:
            raise InvalidInput("limit must be at least 1")
        limit = min(request.limit, MAX_PAGE_SIZE)
        for name, moment in (("since", request.since), ("until", request.until)):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput(f"{name} needs a timezone, e.g. 2026-01-31T12:00:00Z")
        query = HistoryQuery(
            tenant_id=request.tenant_id,
            limit=limit + 1,  # one extra row tells whether another page exists
            after=decode_cursor(request.cursor) if request.cursor else None,
            direction=request.direction,
            status=request.status,
            contact=PhoneNumber.parse(request.contact) if request.contact else None,
            since=request.since,
            until=request.until,
            kind=request.kind,
            failure_code=request.failure_code,
            failures_only=request.failures_only,
        )
        async with self._uow:
            rows = await self._uow.messages.list_views(query)
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(HistoryPosition(created_at=last.created_at, message_id=last.id))
        return HistoryPage(items=items, next_cursor=next_cursor)


@dataclass(frozen=True, slots=True)
class MessageDetails:
    """A message and its status timeline: every report received about it, in order, applied or not."""

    message: Message
    timeline: list[StatusEvent]


class GetMessage:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, tenant_id: UUID, message_id: UUID) -> MessageDetails:
        async with self._uow:
            message = await self._uow.messages.get(tenant_id, message_id)
            if message is None:
                raise NotFound("no such message")
            timeline = await self._uow.messages.list_status_events(tenant_id, message_id)
        return MessageDetails(message=message, timeline=timeline)
