"""Tenant webhook endpoints, events and deliveries, as the tenant-webhook repositories' tests write and
claim them (contract/test_tenant_webhook_repositories.py, and the tests that build on it)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid4

from domain.administration.tenancy import ProviderName, Tenant
from domain.tenant_webhooks.model import (
    DeliveryAttempt,
    DeliveryState,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
    new_signing_secret,
)
from tests.support.databases import UowFactory
from tests.support.repositories import T0

STATUS = WebhookEventType.MESSAGE_STATUS


async def add_tenant(uow_factory: UowFactory) -> Tenant:
    tenant = Tenant(name=f"tenant {uuid4().hex[:8]}", provider=ProviderName.SANDBOX, created_at=T0)
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    return tenant


async def add_endpoint(
    uow_factory: UowFactory,
    tenant: Tenant,
    *,
    events: tuple[str, ...] = ("message.received", "message.status", "message.failed"),
    enabled: bool = True,
    secret: str | None = None,
    at: datetime = T0,
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.new(
        tenant_id=tenant.id, url="https://crm.example.com/hook", events=events, now=at, enabled=enabled
    )
    async with uow_factory() as uow:
        assert await uow.webhook_endpoints.add(endpoint, secret or new_signing_secret(), at_most=100)
        await uow.commit()
    return endpoint


async def record(uow_factory: UowFactory, tenant: Tenant, *, at: datetime = T0, payload: str = "{}") -> int:
    async with uow_factory() as uow:
        count = await uow.webhook_events.record(tenant.id, STATUS, payload, at)
        await uow.commit()
    return count


async def claim(uow_factory: UowFactory, owner: str, now: datetime, limit: int = 10) -> list[WebhookDelivery]:
    async with uow_factory() as uow:
        claimed = await uow.webhook_deliveries.claim_due(owner=owner, now=now, lease_seconds=30, limit=limit)
        await uow.commit()
    return claimed


async def settle(
    uow_factory: UowFactory,
    delivery: WebhookDelivery,
    owner: str,
    *,
    status: int,
    state: DeliveryState,
    commit: bool = False,
) -> bool:
    attempted_at = delivery.next_attempt_at
    attempt = DeliveryAttempt(
        delivery_id=delivery.id,
        attempted_at=attempted_at,
        duration_ms=42,
        status_code=status,
        response_excerpt=f"answer {status}",
    )
    settled = delivery.after(attempt, state=state, next_attempt_at=attempted_at + timedelta(seconds=10))
    async with uow_factory() as uow:
        done = await uow.webhook_deliveries.settle(settled, attempt, owner=owner, commit=commit)
        await uow.commit()
    return done
