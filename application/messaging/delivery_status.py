from __future__ import annotations

from application.ports.clock import Clock
from application.ports.messages import StatusChange
from application.ports.metrics import Metrics
from application.ports.unit_of_work import UnitOfWork
from application.tenant_webhooks.events import record_status_changed
from domain.messaging.messages import Message


class RecordStatusChange:
    """Apply a provider's status report; stale and repeated reports change nothing (a stale one is
    logged in the timeline as not applied, a repeat of a logged one is not logged again).

    ``provider`` names the provider whose reports this applies (for metrics).
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, *, metrics: Metrics, provider: str = "sandbox") -> None:
        self._uow = uow
        self._clock = clock
        self._metrics = metrics
        self._provider = provider

    async def __call__(self, change: StatusChange) -> Message | None:
        async with self._uow:
            message = await self._uow.messages.advance_status(change, self._clock.now())
            if message is not None:
                await record_status_changed(self._uow, message, message.updated_at)
            await self._uow.commit()
        if message is not None:
            self._metrics.message_status(self._provider, message.status, message.tenant_id)
        return message
