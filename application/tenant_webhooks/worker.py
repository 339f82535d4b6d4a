"""The webhook worker: claims due deliveries and sends them, a bounded number at a time.

It runs beside the dispatcher in every process that dispatches (``serve`` with the embedded
dispatcher, ``wa-gateway worker``). Workers share the deliveries through the database with leases,
like dispatch jobs: a delivery is attempted by one worker at a time, and one whose worker died comes
back when its lease runs out. The polling loop is ``application/polling_worker.py``'s.

The claim reads the claimed deliveries' endpoints and signing secrets in its own transaction, so that an
attempt reads nothing itself: it POSTs, then settles.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from application.polling_worker import PollingWorker
from application.ports.clock import Clock
from application.ports.tenant_webhooks import EndpointForDelivery
from application.ports.unit_of_work import UnitOfWork
from application.tenant_webhooks.delivery import NOT_READ, DeliverWebhook
from domain.tenant_webhooks.model import WebhookDelivery

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WebhookWorkerSettings:
    batch_size: int = 50
    poll_interval_seconds: float = 0.5
    max_concurrent: int = 50
    # Longer than one attempt can take (the sender's timeout), or a slow attempt would be doubled.
    lease_seconds: float = 60.0


class WebhookWorker(PollingWorker[WebhookDelivery, str, WebhookDelivery]):
    name = "webhook worker"
    activity = "delivering webhook"
    drain_seconds = 20.0
    _logger = logger

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        deliver: DeliverWebhook,
        clock: Clock,
        settings: WebhookWorkerSettings,
        *,
        owner: str | None = None,
    ) -> None:
        super().__init__(
            owner=owner,
            batch_size=settings.batch_size,
            poll_interval_seconds=settings.poll_interval_seconds,
            max_concurrent=settings.max_concurrent,
        )
        self._uow_factory = uow_factory
        self._deliver = deliver
        self._clock = clock
        self._settings = settings
        # The endpoint each claimed delivery is to be sent to (None: it was deleted), from its claim
        # until its attempt starts.
        self._endpoints: dict[str, EndpointForDelivery | None] = {}

    async def deliver_due(self) -> list[WebhookDelivery]:
        """Claim what is due now (up to the free slots), send it all, and return the settled deliveries."""
        return await self.run_due()

    def _key(self, delivery: WebhookDelivery) -> str:
        return delivery.id

    async def _work(self, delivery: WebhookDelivery) -> WebhookDelivery | None:
        endpoint = self._endpoints.pop(delivery.id, NOT_READ)
        return await self._deliver(delivery, self.owner, endpoint=endpoint)

    def _ended(self, delivery: WebhookDelivery) -> None:
        # A delivery claimed again while its attempt still ran was not started again: its endpoint goes
        # with that attempt.
        self._endpoints.pop(delivery.id, None)

    async def _claim_due(self, limit: int) -> list[WebhookDelivery]:
        uow = self._uow_factory()
        async with uow:
            claimed = await uow.webhook_deliveries.claim_due(
                owner=self.owner,
                now=self._clock.now(),
                lease_seconds=self._settings.lease_seconds,
                limit=limit,
            )
            keys = [(delivery.tenant_id, delivery.endpoint_id) for delivery in claimed]
            endpoints = await uow.webhook_endpoints.for_deliveries(keys) if claimed else {}
            await uow.commit()
        for delivery, key in zip(claimed, keys, strict=True):
            self._endpoints[delivery.id] = endpoints.get(key)
        return claimed
