from __future__ import annotations

from application.ports import Clock, StatusChange, UnitOfWork
from domain.messages import Message


class RecordStatusChange:
    """Apply a provider's status report; stale and repeated reports change nothing."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, change: StatusChange) -> Message | None:
        async with self._uow:
            message = await self._uow.messages.advance_status(change, self._clock.now())
            await self._uow.commit()
        return message
