"""A provider's report on a message we sent, applied: the one path every status change takes.

Twilio's status callbacks reach it through ``record_status_report.py`` (which authenticates them and
finds their message first), Meta's webhooks through ``receive_delivery.py`` (which routes each report
to its number's tenant, then finds its message the same way); the sandbox provider's simulated
reports through ``RecordStatusChange``.
"""

from __future__ import annotations

from datetime import datetime

from application.ports.clock import Clock
from application.ports.messages import StatusChange
from application.ports.metrics import Metrics
from application.ports.unit_of_work import UnitOfWork
from application.tenant_webhooks.events import record_status_changed
from domain.messaging.messages import Message


async def apply_status_change(
    uow: UnitOfWork, change: StatusChange, now: datetime, *, metrics: Metrics, provider: str
) -> Message | None:
    """Move the message forward in ``uow`` (open, and committed here), telling the tenant's webhooks and
    counting the new status under ``provider``; None when the report was stale or a repeat."""
    message = await uow.messages.advance_status(change, now)
    await commit_status_change(uow, message, metrics=metrics, provider=provider)
    return message


async def commit_status_change(
    uow: UnitOfWork, moved: Message | None, *, metrics: Metrics, provider: str, committed: bool = False
) -> None:
    """Commit a report applied in ``uow`` (the report's line in the timeline, and the message when it
    ``moved``), telling the tenant's webhooks of the move with the commit; ``committed``: the report's
    own statement did both (``advance_status_of``), and the unit of work's commit finds nothing left."""
    if moved is not None and not committed:
        await record_status_changed(uow, moved, moved.updated_at, commit=True)
    await uow.commit()
    if moved is not None:
        metrics.message_status(provider, moved.status, moved.tenant_id)


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
            return await apply_status_change(
                self._uow, change, self._clock.now(), metrics=self._metrics, provider=self._provider
            )
