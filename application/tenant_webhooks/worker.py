"""The webhook worker: claims due deliveries and sends them, a bounded number at a time.

It runs beside the dispatcher in every process that dispatches (``serve`` with the embedded
dispatcher, ``wa-gateway worker``). Workers share the deliveries through the database with leases,
like dispatch jobs: a delivery is attempted by one worker at a time, and one whose worker died comes
back when its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from application.errors import StorageUnavailable, TransactionConflict
from application.messaging.dispatcher import worker_identity
from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork
from application.tenant_webhooks.delivery import DeliverWebhook
from domain.tenant_webhooks.model import WebhookDelivery

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WebhookWorkerSettings:
    batch_size: int = 50
    poll_interval_seconds: float = 0.5
    max_concurrent: int = 50
    # Longer than one attempt can take (the sender's timeout), or a slow attempt would be doubled.
    lease_seconds: float = 60.0


class WebhookWorker:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        deliver: DeliverWebhook,
        clock: Clock,
        settings: WebhookWorkerSettings,
        *,
        owner: str | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._deliver = deliver
        self._clock = clock
        self._settings = settings
        self.owner = owner or worker_identity()
        self._in_flight: dict[str, asyncio.Task[WebhookDelivery | None]] = {}

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def deliver_due(self) -> list[WebhookDelivery]:
        """Claim what is due now (up to the free slots), send it all, and return the settled deliveries."""
        tasks = [self._start(delivery) for delivery in await self._claim_due(self._free_slots())]
        settled = await asyncio.gather(*tasks) if tasks else []
        return [delivery for delivery in settled if delivery is not None]

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and send due deliveries until ``stop`` is set, then wait for those in flight."""
        logger.info("webhook worker %s started", self.owner)
        failures = 0
        while not stop.is_set():
            free = self._free_slots()
            claimed: list[WebhookDelivery] = []
            if free > 0:
                try:
                    claimed = await self._claim_due(free)
                    failures = 0
                except StorageUnavailable:
                    failures += 1
                    logger.warning("webhook worker cannot reach the database (attempt %d)", failures)
                except TransactionConflict:
                    # The database is there; the claim lost to a concurrent transaction: the next one.
                    logger.info("webhook worker's claim conflicted with a concurrent transaction")
                except Exception:
                    # A loop that stopped here would leave its queue unserved, unnoticed: log, back off.
                    failures += 1
                    logger.exception(
                        "webhook worker's claim failed (attempt %d); it will try again", failures
                    )
            for delivery in claimed:
                self._start(delivery)
            if len(claimed) < self._settings.batch_size or free <= 0:
                pause = min(5.0, self._settings.poll_interval_seconds * (2 ** min(failures, 4)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
        await self.drain()
        logger.info("webhook worker %s stopped", self.owner)

    async def drain(self, grace_seconds: float = 20.0) -> None:
        """Give the deliveries in flight a chance to end; their leases cover any still running."""
        if self._in_flight:
            await asyncio.wait(list(self._in_flight.values()), timeout=grace_seconds)

    def _free_slots(self) -> int:
        return min(self._settings.batch_size, self._settings.max_concurrent - len(self._in_flight))

    async def _claim_due(self, limit: int) -> list[WebhookDelivery]:
        if limit <= 0:
            return []
        uow = self._uow_factory()
        async with uow:
            claimed = await uow.webhook_deliveries.claim_due(
                owner=self.owner,
                now=self._clock.now(),
                lease_seconds=self._settings.lease_seconds,
                limit=limit,
            )
            await uow.commit()
        return [delivery for delivery in claimed if delivery.id not in self._in_flight]

    def _start(self, delivery: WebhookDelivery) -> asyncio.Task[WebhookDelivery | None]:
        task = asyncio.create_task(self._run(delivery), name=f"webhook {delivery.id}")
        self._in_flight[delivery.id] = task
        task.add_done_callback(lambda _: self._in_flight.pop(delivery.id, None))
        return task

    async def _run(self, delivery: WebhookDelivery) -> WebhookDelivery | None:
        try:
            return await self._deliver(delivery, self.owner)
        except StorageUnavailable:
            logger.warning(
                "database unavailable while delivering webhook %s; it will be retried", delivery.id
            )
        except Exception:
            logger.exception(
                "delivering webhook %s failed; it will be retried when its lease ends", delivery.id
            )
        return None
