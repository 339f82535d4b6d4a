"""The dashboards: a tenant's activity as its agents see it, and the platform's usage per tenant."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from application.authorization import OPERATOR
from application.dashboard.platform_usage import ReadPlatformUsage
from application.dashboard.read_dashboard import ReadDashboard
from application.errors import AccessDenied
from application.principal import Principal
from domain.administration.tenancy import Role, TenantStatus
from domain.messaging.messages import Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.fakes import FakeUnitOfWork, FixedClock, TenantAccount, open_window


def agent_of(account: TenantAccount) -> Principal:
    return Principal(user_id=account.user.id, tenant_id=account.tenant.id, role=Role.AGENT)


async def sent(
    uow: FakeUnitOfWork, account: TenantAccount, at_ago: timedelta, status: MessageStatus, clock: FixedClock
) -> Message:
    message = Message.new_outbound(
        tenant_id=account.tenant.id,
        sender=account.sender.phone_number,
        contact=PhoneNumber.parse("+14155550100"),
        content=MessageContent(body="hello"),
        now=clock.now() - at_ago,
    )
    message = replace(message, status=status)
    await uow.messages.add(message)
    await uow.conversations.record_message(message)
    return message


async def test_an_empty_tenant_has_zeros_and_no_rates(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    dashboard = await ReadDashboard(uow, clock)(agent_of(acme))

    assert dashboard.total_messages == 0
    assert dashboard.active_conversations == 0
    assert dashboard.latest_conversations == []
    assert dashboard.last_24_hours.counts.total == 0
    assert dashboard.last_24_hours.delivered_rate is None
    assert dashboard.dispatch_queue.waiting == 0
    assert dashboard.dispatch_queue.oldest_age_seconds is None


async def test_the_dashboard_counts_the_callers_tenant_only(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    await open_window(uow, acme, "+14155550101", clock.now() - timedelta(hours=1))
    await open_window(uow, acme, "+14155550102", clock.now() - timedelta(hours=25))
    await open_window(uow, globex, "+14155550103", clock.now())
    await sent(uow, acme, timedelta(hours=2), MessageStatus.READ, clock)
    await sent(uow, acme, timedelta(hours=3), MessageStatus.DELIVERED, clock)
    await sent(uow, acme, timedelta(hours=4), MessageStatus.FAILED, clock)
    await sent(uow, acme, timedelta(days=3), MessageStatus.UNDELIVERED, clock)
    await sent(uow, acme, timedelta(days=8), MessageStatus.DELIVERED, clock)

    dashboard = await ReadDashboard(uow, clock)(agent_of(acme))

    assert dashboard.total_messages == 7
    assert dashboard.active_conversations == 1
    day, week = dashboard.last_24_hours, dashboard.last_7_days
    assert (day.counts.total, day.counts.delivered, day.counts.read, day.counts.failed) == (3, 2, 1, 1)
    assert day.delivered_rate == pytest.approx(2 / 3)
    assert (week.counts.total, week.counts.failed) == (4, 2)
    assert week.failed_rate == pytest.approx(0.5)
    assert len(dashboard.latest_conversations) == 3
    assert all(c.tenant_id == acme.tenant.id for c in dashboard.latest_conversations)


async def test_platform_admins_read_no_tenants_dashboard(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    admin = Principal(user_id=acme.user.id, tenant_id=acme.tenant.id, role=Role.PLATFORM_ADMIN)

    with pytest.raises(AccessDenied):
        await ReadDashboard(uow, clock)(admin)


async def test_the_platform_usage_counts_each_tenant_and_its_status(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    await open_window(uow, acme, "+14155550101", clock.now())
    await uow.tenants.update(replace(globex.tenant, status=TenantStatus.SUSPENDED))

    usage = await ReadPlatformUsage(uow, clock)(OPERATOR)

    assert (usage.active_tenants, usage.suspended_tenants) == (1, 1)
    by_name = {u.tenant.name: u for u in usage.tenants}
    assert by_name[acme.tenant.name].total_messages == 1
    assert by_name[acme.tenant.name].messages_today == 1
    assert by_name[acme.tenant.name].senders == 1
    assert by_name[acme.tenant.name].users >= 1
    assert by_name[globex.tenant.name].total_messages == 0


async def test_only_platform_admins_read_the_platform_usage(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    tenant_admin = Principal(user_id=acme.user.id, tenant_id=acme.tenant.id, role=Role.TENANT_ADMIN)

    with pytest.raises(AccessDenied):
        await ReadPlatformUsage(uow, clock)(tenant_admin)
