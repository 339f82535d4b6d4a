"""A status report on PostgreSQL, once its tenants are known: the message found and moved, and the
report's line in its timeline, in one statement sent with the transaction's BEGIN; the tenant's webhook
events sent with the COMMIT. Two round trips, counted in libpq's trace of the protocol, whether the
report moves the message or is a repeat; what must hold either way is stored."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox
from application.inbound.commands import StatusReport
from application.inbound.record_status_report import StatusReportOutcome, record_report
from application.ports.tenant_webhooks import DeliveryQuery
from domain.administration.tenancy import ProviderName
from domain.messaging.messages import MessageStatus
from domain.tenant_webhooks.model import WebhookEndpoint, WebhookEventType, new_signing_secret
from tests.support.databases import UowFactory
from tests.support.fakes import FakeMetrics
from tests.support.repositories import T0
from tests.support.repositories.messages import add_messages, add_tenant, outbound
from tests.support.round_trips import the_driver, traced

pytestmark = pytest.mark.postgres


@pytest.fixture
def writes(one_connection: AsyncEngine, secret_box: SecretBox) -> UowFactory:
    return lambda: SqlAlchemyUnitOfWork(one_connection, secret_box)


async def test_a_status_report_takes_two_round_trips_with_its_webhook_events(
    one_connection: AsyncEngine, writes: UowFactory, tmp_path: Path
) -> None:
    tenant = await add_tenant(writes)
    other_tenant = await add_tenant(writes)
    message = outbound(tenant).handed_to_provider("SM-two-trips", MessageStatus.QUEUED, T0)
    await add_messages(writes, message)
    endpoint = WebhookEndpoint.new(
        tenant_id=tenant.id,
        url="https://crm.example.com/hooks/statuses",
        events=[WebhookEventType.MESSAGE_STATUS],
        now=T0,
    )
    async with writes() as uow:
        assert await uow.webhook_endpoints.add(endpoint, new_signing_secret(), at_most=10)
        await uow.commit()
    driver = await the_driver(one_connection)
    delivered = StatusReport("SM-two-trips", MessageStatus.DELIVERED, "delivered")
    tenants = [other_tenant.id, tenant.id]

    async def report(seconds: int) -> StatusReportOutcome:
        async with writes() as uow:
            result = await record_report(
                uow,
                delivered,
                tenants,
                T0 + timedelta(seconds=seconds),
                metrics=FakeMetrics(),
                provider=ProviderName.TWILIO,
            )
        return result.outcome

    with traced(driver, tmp_path / "moved") as moved_trips:
        moved = await report(5)
    with traced(driver, tmp_path / "repeat") as repeat_trips:
        repeat = await report(6)

    assert (moved, moved_trips) == (StatusReportOutcome.APPLIED, [2])
    assert (repeat, repeat_trips) == (StatusReportOutcome.NOT_APPLIED, [2])
    async with writes() as uow:
        stored = await uow.messages.get(tenant.id, message.id)
        timeline = await uow.messages.list_status_events(tenant.id, message.id)
        deliveries = await uow.webhook_deliveries.list_page(
            DeliveryQuery(tenant_id=tenant.id, endpoint_id=endpoint.id, limit=10)
        )
    assert stored is not None
    assert (stored.status, stored.updated_at) == (MessageStatus.DELIVERED, T0 + timedelta(seconds=5))
    assert [(event.status, event.applied) for event in timeline] == [(MessageStatus.DELIVERED, True)]
    assert [delivery.event_type for delivery in deliveries] == [WebhookEventType.MESSAGE_STATUS]
    assert '"status":"delivered"' in deliveries[0].payload.replace(" ", "")
