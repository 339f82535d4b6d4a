from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from application.errors import InvalidInput, NotFound
from application.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, decode_cursor, encode_cursor
from application.ports.messages import (
    STORED_ROW_CREATED_AT,
    HistoryPosition,
    HistoryQuery,
    MessageView,
    StoredMessageRow,
)
from application.ports.unit_of_work import UnitOfWork
from domain.messaging.content import MessageKind
from domain.messaging.failures import FailureCode
from domain.messaging.messages import Direction, Message, MessageStatus, StatusEvent
from domain.phone import PhoneNumber

Row = TypeVar("Row")


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


@dataclass(frozen=True, slots=True)
class StoredHistoryPage:
    """A history page as stored rows (see ``StoredMessageRow``), for a client that encodes them
    directly."""

    items: list[StoredMessageRow]
    next_cursor: str | None


class ListHistory:
    """A tenant's messages, newest first, one keyset page at a time."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, request: HistoryRequest) -> HistoryPage:
        query = _query(request)
        async with self._uow:
            rows = await self._uow.messages.list_views(query)
        items, next_cursor = _page(rows, query, lambda view: (view.created_at, view.id))
        return HistoryPage(items=items, next_cursor=next_cursor)

    async def stored(self, request: HistoryRequest) -> StoredHistoryPage:
        """The same page as stored rows: the API's history, which encodes them without a view per row."""
        query = _query(request)
        async with self._uow:
            rows = await self._uow.messages.list_stored(query)
        items, next_cursor = _page(rows, query, lambda row: (row[STORED_ROW_CREATED_AT], row[0]))
        return StoredHistoryPage(items=items, next_cursor=next_cursor)


def _query(request: HistoryRequest) -> HistoryQuery:
    if request.limit < 1:
        raise InvalidInput("limit must be at least 1")
    for name, moment in (("since", request.since), ("until", request.until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(f"{name} needs a timezone, e.g. 2026-01-31T12:00:00Z")
    return HistoryQuery(
        tenant_id=request.tenant_id,
        limit=min(request.limit, MAX_PAGE_SIZE) + 1,  # one extra row tells whether another page exists
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


def _page(
    rows: list[Row], query: HistoryQuery, position: Callable[[Row], tuple[datetime, UUID]]
) -> tuple[list[Row], str | None]:
    """The page's rows, and the cursor of the next page if there is one (the query read one row more)."""
    limit = query.limit - 1
    items = rows[:limit]
    if len(rows) <= limit:
        return items, None
    created_at, message_id = position(items[-1])
    return items, encode_cursor(HistoryPosition(created_at=created_at, message_id=message_id))


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
