"""Webhooks to tenants' own systems: endpoints, the outbox, the delivery queue, the HTTP sender."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.tenant_webhooks.model import (
    DeliveryAttempt,
    DeliveryState,
    SigningSecrets,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    """A page of one endpoint's deliveries, newest first; ``after`` is the last id of the page before."""

    tenant_id: UUID
    endpoint_id: UUID
    limit: int
    after: str | None = None
    state: DeliveryState | None = None


@dataclass(frozen=True, slots=True)
class EndpointForDelivery:
    """What an attempt needs of its endpoint: the endpoint, and its secrets to sign with (None when
    they do not open: the keys they were sealed with are gone)."""

    endpoint: WebhookEndpoint
    secrets: SigningSecrets | None


class WebhookEndpointRepository(Protocol):
    """A tenant's webhook endpoints; their signing secrets are stored sealed and read only to sign."""

    async def add(self, endpoint: WebhookEndpoint, secret: str, *, at_most: int) -> bool:
        """Store the endpoint unless its tenant has ``at_most`` already; whether it was stored.

        Concurrent adds for one tenant never take it past ``at_most``."""
        ...

    async def get(self, tenant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None: ...
    async def list_for_tenant(self, tenant_id: UUID) -> list[WebhookEndpoint]:
        """Oldest first."""
        ...

    async def update(self, endpoint: WebhookEndpoint) -> None:
        """Store url, events, description, enabled and disabled_reason; NotFound if there is no such one."""
        ...

    async def delete(self, tenant_id: UUID, endpoint_id: UUID) -> bool:
        """Remove the endpoint with its deliveries; False if the tenant has no such endpoint."""
        ...

    async def rotate_secret(
        self, tenant_id: UUID, endpoint_id: UUID, new_secret: str, previous_expires_at: datetime
    ) -> None:
        """Make ``new_secret`` current; the current one stays valid until ``previous_expires_at``."""
        ...

    async def signing_secrets(self, tenant_id: UUID, endpoint_id: UUID) -> SigningSecrets | None:
        """None if the tenant has no such endpoint; CredentialsUnreadable if they do not open."""
        ...

    async def for_delivery(self, tenant_id: UUID, endpoint_id: UUID) -> EndpointForDelivery | None:
        """The endpoint with its signing secrets, read together; None if the tenant has no such endpoint.

        For a delivery attempt, whose unit of work reads nothing else: the database may answer it as a
        transaction of its own (PostgreSQL does, in one round trip)."""
        ...

    async def for_deliveries(
        self, keys: Sequence[tuple[UUID, UUID]]
    ) -> dict[tuple[UUID, UUID], EndpointForDelivery]:
        """``for_delivery`` of each (tenant_id, endpoint_id), of any tenants, in one statement; a pair
        with no such endpoint of that tenant is left out.

        For the webhook worker's claim, whose transaction is cross-tenant already: its attempts then
        read nothing of their own."""
        ...

    async def reseal_secrets(self) -> int:
        """Re-encrypt every endpoint's signing secrets under the newest key; return how many changed."""
        ...


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One event for a tenant's webhooks, its body serialised."""

    tenant_id: UUID
    event_type: WebhookEventType
    payload: str


class WebhookOutbox(Protocol):
    """Events for tenants' webhooks, written in the transaction of the change that caused them."""

    async def record(self, tenant_id: UUID, event_type: WebhookEventType, payload: str, now: datetime) -> int:
        """Queue one delivery of ``payload`` to each of the tenant's enabled endpoints subscribed to
        ``event_type``, due at once; return how many."""
        ...

    async def record_all(self, events: Sequence[OutboxEvent], now: datetime, *, commit: bool = False) -> int:
        """``record`` each event, the endpoints of their tenants read once for all; return how many
        deliveries were queued.

        ``commit=True``: this is the transaction's last write, and the caller calls ``commit()`` next
        and nothing else; the database may commit it with the write (PostgreSQL does, in the write's
        own round trip)."""
        ...


class WebhookDeliveryQueue(Protocol):
    """Deliveries are leased like dispatch jobs: a worker that dies loses its lease, not the delivery."""

    async def claim_due(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[WebhookDelivery]:
        """Lease up to ``limit`` pending deliveries that are due, oldest due first, skipping leased ones."""
        ...

    async def settle(
        self, delivery: WebhookDelivery, attempt: DeliveryAttempt | None, *, owner: str, commit: bool = False
    ) -> bool:
        """Store ``delivery``'s new state (and ``attempt`` in its log) and release the lease; False if
        ``owner`` no longer holds it (then nothing is stored).

        ``commit=True``: this is the transaction's last write, and the caller ends the transaction next
        (``commit()``, or leaving the block when the lease was lost); the database may commit it with
        the write (PostgreSQL does, in the write's own round trip)."""
        ...

    async def settle_all(
        self,
        settlements: Sequence[tuple[WebhookDelivery, DeliveryAttempt | None]],
        *,
        owner: str,
        commit: bool = False,
    ) -> list[bool]:
        """``settle`` each (delivery, attempt), in one step where the queue can; whether each was
        settled, in the same order. The deliveries may be different tenants'. ``commit`` as ``settle``'s."""
        ...

    async def get(self, tenant_id: UUID, delivery_id: str) -> WebhookDelivery | None: ...
    async def list_page(self, query: DeliveryQuery) -> list[WebhookDelivery]: ...
    async def list_attempts(
        self, tenant_id: UUID, delivery_ids: Sequence[str]
    ) -> dict[str, list[DeliveryAttempt]]:
        """Each delivery's attempts, oldest first (deliveries without attempts are left out)."""
        ...

    async def replay(self, tenant_id: UUID, delivery_id: str, now: datetime) -> WebhookDelivery | None:
        """Make the delivery pending again, due ``now``, with a fresh count of attempts (same id)."""
        ...

    async def purge_finished(self, before: datetime) -> int:
        """Delete delivered and dead deliveries that finished before ``before``; return how many."""
        ...


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    url: str
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    """What came of one POST: a status (and the start of the body), or the reason there was none."""

    duration_ms: int
    status_code: int | None = None
    body_excerpt: str | None = None
    retry_after_seconds: float | None = None
    error: str | None = None


class WebhookSender(Protocol):
    async def send(self, request: WebhookRequest) -> WebhookResponse:
        """POST once, following no redirect; never raises for what the far end does."""
        ...


class WebhookUrlGuard(Protocol):
    async def check(self, url: str) -> None:
        """Raise WebhookUrlRefused if the URL's host is, or resolves to, an address webhooks may not
        reach (loopback, link-local, private, reserved ...), unless private networks are allowed."""
        ...
