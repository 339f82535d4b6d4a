"""Delivering one leased webhook delivery: sign it, POST it, and settle it from the answer.

- 2xx: delivered.
- 410 Gone: the receiver says the endpoint is gone for good: the endpoint is disabled and the
  delivery dead (the tenant can enable the endpoint again and replay).
- anything else (another status, a redirect, a timeout, a refused connection or address): retried
  with exponential backoff and full jitter, never sooner than a ``Retry-After`` asks, until the
  policy's attempts run out: then dead.

The ``webhook-id`` is the delivery's id, the same on every attempt and replay; the timestamp and the
signature are made afresh for each attempt, with every secret in force (two during a rotation).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from application.ports.clock import Clock
from application.ports.metrics import Metrics
from application.ports.tenant_webhooks import (
    EndpointForDelivery,
    WebhookRequest,
    WebhookResponse,
    WebhookSender,
)
from application.ports.unit_of_work import UnitOfWork
from application.tenant_webhooks.settlements import WebhookSettlements
from domain.retry_policy import RetryPolicy
from domain.tenant_webhooks.model import (
    DEFAULT_DELIVERY_POLICY,
    DeliveryAttempt,
    DeliveryState,
    SigningSecrets,
    WebhookDelivery,
    WebhookEndpoint,
    signature_header,
)

logger = logging.getLogger(__name__)

USER_AGENT = "wa-gateway-webhooks/1.0"
GONE = 410
# What an attempt is counted as (Metrics.webhook_delivery), by the state it left its delivery in.
OUTCOMES = {
    DeliveryState.DELIVERED: "delivered",
    DeliveryState.PENDING: "retrying",
    DeliveryState.DEAD: "dead",
}


@dataclass(frozen=True, slots=True)
class WebhookDeliverySettings:
    retry: RetryPolicy = field(default_factory=lambda: DEFAULT_DELIVERY_POLICY)
    # A receiver's Retry-After is honoured up to this long; beyond it the policy's own delay is used.
    max_retry_after: timedelta = timedelta(hours=24)
    # How long an attempt's settling waits for those of other attempts, to be written with them in one
    # transaction (``WebhookSettlements``).
    settlement_linger_seconds: float = 0.005


class NotRead(enum.Enum):
    """An attempt's endpoint that its caller did not read: the attempt reads it."""

    NOT_READ = enum.auto()


NOT_READ = NotRead.NOT_READ


def signed_headers(delivery: WebhookDelivery, secrets: SigningSecrets, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of an attempt made at ``now``."""
    timestamp = int(now.timestamp())
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secrets.in_force(now), delivery.id, timestamp, delivery.payload
        ),
    }


class DeliverWebhook:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        sender: WebhookSender,
        clock: Clock,
        settings: WebhookDeliverySettings,
        *,
        metrics: Metrics,
        reads: Callable[[], UnitOfWork] | None = None,
    ) -> None:
        """``reads``: units of work for the attempt's read of its endpoint (read-only ones, where the
        storage has them); by default ``uow_factory``'s."""
        self._uow_factory = uow_factory
        self._reads = reads if reads is not None else uow_factory
        self._sender = sender
        self._clock = clock
        self._settings = settings
        self._metrics = metrics
        self._settlements = WebhookSettlements(uow_factory, linger_seconds=settings.settlement_linger_seconds)

    async def __call__(
        self,
        delivery: WebhookDelivery,
        owner: str,
        *,
        endpoint: EndpointForDelivery | NotRead | None = NOT_READ,
    ) -> WebhookDelivery:
        """``endpoint``: the delivery's endpoint as the caller read it with the claim (None: it was not
        found); by default the attempt reads it itself."""
        found = await self._endpoint_of(delivery) if isinstance(endpoint, NotRead) else endpoint
        return await self._attempt(delivery, owner, found)

    async def _endpoint_of(self, delivery: WebhookDelivery) -> EndpointForDelivery | None:
        uow = self._reads()
        async with uow:
            return await uow.webhook_endpoints.for_delivery(delivery.tenant_id, delivery.endpoint_id)

    async def _attempt(
        self, delivery: WebhookDelivery, owner: str, found: EndpointForDelivery | None
    ) -> WebhookDelivery:
        if found is None:
            return delivery  # the endpoint was deleted, and its deliveries with it
        endpoint, secrets = found.endpoint, found.secrets
        if secrets is None:
            logger.error("webhook endpoint %s: its signing secret does not open", delivery.endpoint_id)
        if not endpoint.enabled:
            now = self._clock.now()
            dead = replace(
                delivery,
                state=DeliveryState.DEAD,
                last_error="not sent: the endpoint is disabled",
                finished_at=now,
            )
            await self._settle(dead, None, owner)
            return dead

        now = self._clock.now()
        if secrets is None:
            # Not sent unsigned: an attempt that fails (and is retried) until an operator fixes the keys.
            response = WebhookResponse(
                duration_ms=0, error="not sent: the signing secret cannot be read; ask an operator"
            )
        else:
            response = await self._send(delivery, endpoint, secrets, now)
        attempt = DeliveryAttempt(
            delivery_id=delivery.id,
            attempted_at=now,
            duration_ms=response.duration_ms,
            status_code=response.status_code,
            error=response.error,
            response_excerpt=response.body_excerpt,
        )
        settled = self._outcome(delivery, attempt, response)
        await self._settle(
            settled, attempt, owner, gone_from=endpoint if response.status_code == GONE else None
        )
        return settled

    async def _send(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint, secrets: SigningSecrets, now: datetime
    ) -> WebhookResponse:
        request = WebhookRequest(
            url=endpoint.url,
            body=delivery.payload.encode(),
            headers=signed_headers(delivery, secrets, now),
        )
        try:
            return await self._sender.send(request)
        except Exception:
            # The adapter promises not to raise; if it does, the attempt failed like any other.
            logger.exception("sending webhook delivery %s raised", delivery.id)
            return WebhookResponse(duration_ms=0, error="the request failed unexpectedly")

    def _outcome(
        self, delivery: WebhookDelivery, attempt: DeliveryAttempt, response: WebhookResponse
    ) -> WebhookDelivery:
        now = attempt.attempted_at
        if attempt.succeeded:
            return delivery.after(attempt, state=DeliveryState.DELIVERED, next_attempt_at=now)
        if attempt.status_code == GONE:
            return delivery.after(
                attempt,
                state=DeliveryState.DEAD,
                next_attempt_at=now,
                error="the endpoint answered 410 Gone: it was disabled",
            )
        failure = attempt.error or f"the endpoint answered {attempt.status_code}"
        attempts = delivery.attempts + 1
        policy = self._settings.retry
        if policy.exhausted(attempts):
            return delivery.after(
                attempt,
                state=DeliveryState.DEAD,
                next_attempt_at=now,
                error=f"attempts exhausted ({attempts}): {failure}",
            )
        retry_after = None
        if response.retry_after_seconds is not None and response.retry_after_seconds > 0:
            retry_after = min(timedelta(seconds=response.retry_after_seconds), self._settings.max_retry_after)
        delay = policy.delay_after(attempts, retry_after=retry_after)
        return delivery.after(
            attempt, state=DeliveryState.PENDING, next_attempt_at=now + delay, error=failure
        )

    async def _settle(
        self,
        delivery: WebhookDelivery,
        attempt: DeliveryAttempt | None,
        owner: str,
        *,
        gone_from: WebhookEndpoint | None = None,
    ) -> None:
        """The delivery's new state and its attempt, with the settlings of the attempts that ended about
        the same time (``WebhookSettlements``: one transaction for all); after a 410, with the disabled
        endpoint in a transaction of their own."""
        if gone_from is None:
            settled = await self._settlements.settle(delivery, attempt, owner)
        else:
            settled = await self._settle_and_disable(delivery, attempt, owner, gone_from)
        if not settled:
            logger.warning("lost the lease on webhook delivery %s; leaving it to its new owner", delivery.id)
            return
        # Counted once recorded: an attempt whose lease was lost is its new owner's to count, so the
        # counter agrees with the attempts stored. A dead delivery that was never sent is no attempt.
        if attempt is not None:
            self._metrics.webhook_delivery(OUTCOMES[delivery.state], delivery.tenant_id)

    async def _settle_and_disable(
        self, delivery: WebhookDelivery, attempt: DeliveryAttempt | None, owner: str, gone: WebhookEndpoint
    ) -> bool:
        uow = self._uow_factory()
        async with uow:
            if not await uow.webhook_deliveries.settle(delivery, attempt, owner=owner):
                return False
            current = await uow.webhook_endpoints.get(gone.tenant_id, gone.id)
            # Only if it still points where the 410 came from: a new URL deserves its own chance.
            if current is not None and current.enabled and current.url == gone.url:
                disabled = current.disabled_because(
                    "the endpoint answered 410 Gone; enable it again to receive events", self._clock.now()
                )
                await uow.webhook_endpoints.update(disabled)
                logger.info("webhook endpoint %s answered 410 and was disabled", current.id)
            await uow.commit()
        return True


class PurgeWebhookDeliveries:
    """Housekeeping: forget deliveries that were delivered or given up on more than ``retention`` ago."""

    def __init__(self, uow: UnitOfWork, clock: Clock, *, retention: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self._retention = retention

    async def __call__(self) -> int:
        async with self._uow:
            purged = await self._uow.webhook_deliveries.purge_finished(self._clock.now() - self._retention)
            await self._uow.commit()
        return purged
