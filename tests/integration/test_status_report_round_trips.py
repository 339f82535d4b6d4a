"""A status report on PostgreSQL, once its tenants are known: the message found and moved, the report's
line in its timeline and the tenant's webhook events, in one statement sent with the transaction's BEGIN
and COMMIT. One round trip, counted in libpq's trace of the protocol, whether the report moves the
message or is a repeat; what must hold either way is stored, and each event's body is the one the
application would have serialised itself."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox
from application.inbound.commands import StatusReport
from application.inbound.record_status_report import StatusReportOutcome, StatusReportResult, record_report
from application.ports.tenant_webhooks import DeliveryQuery
from application.tenant_webhooks.events import status_events
from domain.administration.tenancy import ProviderName
from domain.messaging.failures import FailureCode
from domain.messaging.messages import MessageContent, MessageStatus
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


async def apply(
    writes: UowFactory, report: StatusReport, tenants: list[UUID], seconds: int
) -> StatusReportResult:
    """``report`` applied for ``tenants`` in a unit of work of its own, ``seconds`` after T0."""
    async with writes() as uow:
        return await record_report(
            uow,
            report,
            tenants,
            T0 + timedelta(seconds=seconds),
            metrics=FakeMetrics(),
            provider=ProviderName.TWILIO,
        )


async def add_endpoint(
    writes: UowFactory, owner: UUID, events: list[WebhookEventType], *, enabled: bool = True
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.new(
        tenant_id=owner, url="https://crm.example.com/hooks", events=events, now=T0, enabled=enabled
    )
    async with writes() as uow:
        assert await uow.webhook_endpoints.add(endpoint, new_signing_secret(), at_most=10)
        await uow.commit()
    return endpoint


async def test_a_status_report_takes_one_round_trip_with_its_webhook_events(
    one_connection: AsyncEngine, writes: UowFactory, tmp_path: Path
) -> None:
    tenant = await add_tenant(writes)
    other_tenant = await add_tenant(writes)
    message = outbound(tenant).handed_to_provider("SM-one-trip", MessageStatus.QUEUED, T0)
    await add_messages(writes, message)
    endpoint = await add_endpoint(writes, tenant.id, [WebhookEventType.MESSAGE_STATUS])
    driver = await the_driver(one_connection)
    delivered = StatusReport("SM-one-trip", MessageStatus.DELIVERED, "delivered")
    tenants = [other_tenant.id, tenant.id]

    with traced(driver, tmp_path / "moved") as moved_trips:
        moved = (await apply(writes, delivered, tenants, 5)).outcome
    with traced(driver, tmp_path / "repeat") as repeat_trips:
        repeat = (await apply(writes, delivered, tenants, 6)).outcome

    assert (moved, moved_trips) == (StatusReportOutcome.APPLIED, [1])
    assert (repeat, repeat_trips) == (StatusReportOutcome.NOT_APPLIED, [1])
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
    assert [delivery.payload for delivery in deliveries] == [
        event.payload for event in status_events(stored, stored.updated_at)
    ]
    assert json.loads(deliveries[0].payload)["data"]["status"] == "delivered"


async def test_a_failure_tells_each_subscribed_endpoint_in_its_own_round_trip(
    one_connection: AsyncEngine, writes: UowFactory, tmp_path: Path
) -> None:
    tenant = await add_tenant(writes)
    other_tenant = await add_tenant(writes)
    message = replace(
        outbound(tenant),
        content=MessageContent(
            body='¡Hola, José! 👋 "quoted"', media_urls=("https://cdn.example.com/a.jpg",)
        ),
    ).handed_to_provider("SM-fails", MessageStatus.SENT, T0)
    await add_messages(writes, message)

    both = [WebhookEventType.MESSAGE_STATUS, WebhookEventType.MESSAGE_FAILED]
    everything = await add_endpoint(writes, tenant.id, both)
    failures_only = await add_endpoint(writes, tenant.id, [WebhookEventType.MESSAGE_FAILED])
    inbound_only = await add_endpoint(writes, tenant.id, [WebhookEventType.MESSAGE_RECEIVED])
    disabled = await add_endpoint(writes, tenant.id, both, enabled=False)
    the_other_tenants = await add_endpoint(writes, other_tenant.id, both)
    endpoints = (everything, failures_only, inbound_only, disabled, the_other_tenants)
    failed = StatusReport(
        "SM-fails",
        MessageStatus.FAILED,
        "failed",
        error_code=63016,
        error_message="Outside the 24-hour window",
        failure_code=FailureCode.SESSION_WINDOW_CLOSED,
        provider_error_message="Failed to send freeform message",
    )
    driver = await the_driver(one_connection)

    with traced(driver, tmp_path / "failed") as trips:
        result = await apply(writes, failed, [tenant.id], 9)

    assert (result.outcome, trips) == (StatusReportOutcome.APPLIED, [1])
    async with writes() as uow:
        stored = await uow.messages.get(tenant.id, message.id)
        received = {
            each.id: await uow.webhook_deliveries.list_page(
                DeliveryQuery(tenant_id=each.tenant_id, endpoint_id=each.id, limit=10)
            )
            for each in endpoints
        }
    assert stored is not None
    assert stored.failure_code is FailureCode.SESSION_WINDOW_CLOSED
    bodies = {event.event_type: event.payload for event in status_events(stored, stored.updated_at)}
    assert sorted((d.event_type, d.payload) for d in received[everything.id]) == sorted(bodies.items())
    assert [(d.event_type, d.payload) for d in received[failures_only.id]] == [
        (WebhookEventType.MESSAGE_FAILED, bodies[WebhookEventType.MESSAGE_FAILED])
    ]
    assert received[inbound_only.id] == received[disabled.id] == received[the_other_tenants.id] == []
    data = json.loads(bodies[WebhookEventType.MESSAGE_FAILED])["data"]
    assert (data["body"], data["failure"]["code"]) == ('¡Hola, José! 👋 "quoted"', "session-window-closed")
    ids = [d.id for d in received[everything.id] + received[failures_only.id]]
    assert len(set(ids)) == 3
    assert all(each.startswith("msg_") and len(each) == 30 for each in ids)

    # The worker that claims them sends the same bytes.
    async with writes() as uow:
        claimed = await uow.webhook_deliveries.claim_due(
            owner="worker-1", now=T0 + timedelta(seconds=10), lease_seconds=30, limit=10
        )
        await uow.commit()
    assert sorted((d.event_type, d.payload) for d in claimed) == sorted(
        [*bodies.items(), (WebhookEventType.MESSAGE_FAILED, bodies[WebhookEventType.MESSAGE_FAILED])]
    )


async def test_a_report_that_overtakes_the_sends_record_is_applied_after_the_first_round_trip(
    writes: UowFactory,
) -> None:
    tenant = await add_tenant(writes)
    message = outbound(tenant)  # the send has not stored the provider's id yet
    await add_messages(writes, message)
    endpoint = await add_endpoint(writes, tenant.id, [WebhookEventType.MESSAGE_STATUS])
    sent = StatusReport("SM-early", MessageStatus.SENT, "sent", message_id=message.id)

    result = await apply(writes, sent, [tenant.id], 2)

    assert result.outcome is StatusReportOutcome.APPLIED
    async with writes() as uow:
        stored = await uow.messages.get(tenant.id, message.id)
        deliveries = await uow.webhook_deliveries.list_page(
            DeliveryQuery(tenant_id=tenant.id, endpoint_id=endpoint.id, limit=10)
        )
    assert stored is not None
    assert (stored.provider_sid, stored.status) == ("SM-early", MessageStatus.SENT)
    assert [d.payload for d in deliveries] == [
        event.payload for event in status_events(stored, stored.updated_at)
    ]
