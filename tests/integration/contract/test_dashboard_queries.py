"""The dashboards' aggregate statements: each figure counts the tenant's own rows, in its period."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from application.ports.dashboard import ActivityPeriods
from domain.messaging.messages import MessageStatus
from domain.phone import PhoneNumber
from domain.tenant_webhooks.model import WebhookEndpoint, WebhookEventType, new_signing_secret
from tests.support.databases import UowFactory
from tests.support.repositories import T0
from tests.support.repositories.messages import add_tenant, inbound, outbound

NOW = T0 + timedelta(hours=6)
PERIODS = ActivityPeriods(
    now=NOW,
    day_start=NOW.replace(hour=0, minute=0, second=0, microsecond=0),
    last_24_hours=NOW - timedelta(hours=24),
    last_7_days=NOW - timedelta(days=7),
)
BOB = PhoneNumber.parse("+4915187654321")


async def test_a_tenants_activity_counts_its_messages_windows_and_deliveries(uow_factory: UowFactory) -> None:
    acme = await add_tenant(uow_factory)
    globex = await add_tenant(uow_factory)
    messages = [
        inbound(acme, at=NOW - timedelta(hours=1)),  # today, window open
        inbound(acme, at=NOW - timedelta(hours=30), contact=BOB),  # window closed
        replace(outbound(acme, at=NOW - timedelta(hours=2)), status=MessageStatus.READ),
        replace(outbound(acme, at=NOW - timedelta(hours=3)), status=MessageStatus.DELIVERED),
        replace(outbound(acme, at=NOW - timedelta(hours=4)), status=MessageStatus.UNDELIVERED),
        replace(outbound(acme, at=NOW - timedelta(days=3)), status=MessageStatus.FAILED),
        replace(outbound(acme, at=NOW - timedelta(days=9)), status=MessageStatus.DELIVERED),
        inbound(globex, at=NOW),
    ]
    async with uow_factory() as uow:
        for message in messages:
            await uow.messages.add(message)
            await uow.conversations.record_message(message)
        await uow.commit()

    async with uow_factory() as uow:
        activity = await uow.dashboard.tenant_activity(acme.id, PERIODS)

    assert activity.total_messages == 7
    assert activity.messages_today == 4  # since 00:00 UTC: 1 h, 2 h, 3 h and 4 h ago
    assert activity.active_conversations == 1
    day = activity.last_24_hours
    assert (day.total, day.delivered, day.read, day.failed) == (3, 2, 1, 1)
    week = activity.last_7_days
    assert (week.total, week.delivered, week.read, week.failed) == (4, 2, 1, 2)
    assert activity.queue_waiting == 0
    assert activity.queue_oldest_at is None
    assert activity.templates_pending == 0
    assert activity.failing_endpoints == []


async def test_an_endpoint_the_gateway_disabled_is_failing_and_one_disabled_by_hand_is_not(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    gone = WebhookEndpoint.new(
        tenant_id=tenant.id,
        url="https://example.com/gone",
        events=[WebhookEventType.MESSAGE_RECEIVED],
        now=T0,
    ).disabled_because("the endpoint answered 410 Gone", T0)
    paused = replace(
        WebhookEndpoint.new(
            tenant_id=tenant.id,
            url="https://example.com/paused",
            events=[WebhookEventType.MESSAGE_STATUS],
            now=T0,
        ),
        enabled=False,
    )
    async with uow_factory() as uow:
        for endpoint in (gone, paused):
            await uow.webhook_endpoints.add(endpoint, new_signing_secret(), at_most=10)
        await uow.commit()

    async with uow_factory() as uow:
        activity = await uow.dashboard.tenant_activity(tenant.id, PERIODS)

    [failing] = activity.failing_endpoints
    assert failing.id == gone.id
    assert failing.enabled is False
    assert failing.disabled_reason == "the endpoint answered 410 Gone"


async def test_the_platform_usage_counts_every_tenants_rows(uow_factory: UowFactory) -> None:
    acme = await add_tenant(uow_factory)
    globex = await add_tenant(uow_factory)
    async with uow_factory() as uow:
        for message in (inbound(acme, at=NOW), outbound(acme, at=NOW - timedelta(days=2))):
            await uow.messages.add(message)
        await uow.commit()

    async with uow_factory() as uow:
        usage = {u.tenant.id: u for u in await uow.dashboard.platform_usage(PERIODS.day_start)}

    assert (usage[acme.id].total_messages, usage[acme.id].messages_today) == (2, 1)
    assert (usage[globex.id].total_messages, usage[globex.id].users, usage[globex.id].senders) == (0, 0, 0)
    assert usage[acme.id].tenant == acme
