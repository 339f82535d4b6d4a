"""Scheduled sends: the pending ones, soonest first; moving one to another time; calling one off.

A message sent with ``send_at`` waits as ``scheduled`` with a dispatch job due at that time (see
``SendMessage``); the worker that claims the job moves it to ``accepted`` and sends it. Until then it may
be rescheduled or canceled; once a worker holds its job it is on its way, and both are refused
(``NotScheduled``). Each is one conditional change of the message and its job together
(``DispatchQueue.reschedule_scheduled``/``cancel_scheduled``), so a worker claiming the job at the same
moment either wins or loses cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.errors import InvalidInput, NotFound, NotScheduled
from application.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_scheduled_cursor,
    encode_scheduled_cursor,
)
from application.ports.clock import Clock
from application.ports.messages import MessageView, ScheduledPosition
from application.ports.unit_of_work import UnitOfWork
from application.tenant_webhooks.events import record_status_changed
from domain.messaging.messages import Message, MessageStatus, check_send_at


@dataclass(frozen=True, slots=True)
class ScheduledPage:
    items: list[MessageView]
    next_cursor: str | None


class ListScheduled:
    """A tenant's messages still waiting for their time, soonest first, one keyset page at a time."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(
        self, tenant_id: UUID, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> ScheduledPage:
        if limit < 1:
            raise InvalidInput("limit must be at least 1")
        limit = min(limit, MAX_PAGE_SIZE)
        after = decode_scheduled_cursor(cursor) if cursor else None
        async with self._uow:
            rows = await self._uow.messages.list_scheduled(tenant_id, limit + 1, after)
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            assert last.send_at is not None  # a scheduled message has its time
            next_cursor = encode_scheduled_cursor(ScheduledPosition(last.send_at, last.id))
        return ScheduledPage(items=items, next_cursor=next_cursor)


class RescheduleMessage:
    """Move a scheduled message to another time (within the same bounds as a new one)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, tenant_id: UUID, message_id: UUID, send_at: datetime) -> Message:
        now = self._clock.now()
        send_at = check_send_at(send_at, now)
        async with self._uow:
            message = await _scheduled(self._uow, tenant_id, message_id)
            if not await self._uow.jobs.reschedule_scheduled(tenant_id, message_id, send_at=send_at, now=now):
                raise _not_scheduled(message, "rescheduled")
            await self._uow.commit()
        return message.rescheduled(send_at, now)


class CancelScheduled:
    """Call off a scheduled message: it becomes ``canceled`` (final), its job goes, and the tenant's
    webhooks hear of it (``message.status``)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, tenant_id: UUID, message_id: UUID) -> Message:
        now = self._clock.now()
        async with self._uow:
            message = await _scheduled(self._uow, tenant_id, message_id)
            if not await self._uow.jobs.cancel_scheduled(tenant_id, message_id, now=now):
                raise _not_scheduled(message, "canceled")
            canceled = message.canceled(now)
            await record_status_changed(self._uow, canceled, now)
            await self._uow.commit()
        return canceled


async def _scheduled(uow: UnitOfWork, tenant_id: UUID, message_id: UUID) -> Message:
    """The message, if the tenant has it and it is still scheduled as read (the conditional change
    decides in the end)."""
    message = await uow.messages.get(tenant_id, message_id)
    if message is None:
        raise NotFound("no such message")
    if message.status is not MessageStatus.SCHEDULED:
        raise NotScheduled(f"only a scheduled message can be changed; this one is {message.status}")
    return message


def _not_scheduled(message: Message, change: str) -> NotScheduled:
    return NotScheduled(
        f"message {message.id} can no longer be {change}: a worker has taken it to send it now, "
        "or it was changed by another request"
    )
