"""A tenant's limits, as its admins read them: the tenant's own send limits or the gateway's defaults."""

from __future__ import annotations

from dataclasses import replace

import pytest

from application.errors import AccessDenied
from application.messaging.send_message import TenantSendLimits
from application.messaging.tenant_limits import GatewayLimits, GetTenantLimits, SendLimit
from application.principal import Principal
from domain.administration.tenancy import Role
from tests.support.fakes import FakeRateLimiter, FakeUnitOfWork, TenantAccount
from tests.support.use_cases import admin_of

GATEWAY = GatewayLimits(
    max_in_flight=50,
    sender_messages_per_second=80.0,
    max_webhook_endpoints=20,
    requests_per_minute_per_address=600,
    login_attempts_per_minute=10,
)


def get_limits(uow: FakeUnitOfWork, limiter: FakeRateLimiter) -> GetTenantLimits:
    return GetTenantLimits(uow, TenantSendLimits(limiter, sends_per_minute=600, sends_per_day=0), GATEWAY)


async def test_a_tenant_without_limits_of_its_own_has_the_gateways_defaults(
    uow: FakeUnitOfWork, limiter: FakeRateLimiter, acme: TenantAccount
) -> None:
    limits = await get_limits(uow, limiter)(admin_of(acme))

    assert limits.sends_per_minute == SendLimit(600, own=False)
    assert limits.sends_per_day == SendLimit(0, own=False)  # no limit
    assert (limits.max_in_flight, limits.max_webhook_endpoints) == (50, 20)
    assert limits.session_window_check is True


async def test_a_tenants_own_send_limits_are_the_ones_it_gets(
    uow: FakeUnitOfWork, limiter: FakeRateLimiter, acme: TenantAccount, globex: TenantAccount
) -> None:
    await uow.tenants.update(replace(acme.tenant, sends_per_minute=5, sends_per_day=1000))

    limits = await get_limits(uow, limiter)(admin_of(acme))

    assert (limits.sends_per_minute, limits.sends_per_day) == (
        SendLimit(5, own=True),
        SendLimit(1000, own=True),
    )
    assert (await get_limits(uow, limiter)(admin_of(globex))).sends_per_minute == SendLimit(600, own=False)


async def test_agents_do_not_read_the_limits(
    uow: FakeUnitOfWork, limiter: FakeRateLimiter, acme: TenantAccount
) -> None:
    agent = Principal(user_id=acme.user.id, tenant_id=acme.tenant.id, role=Role.AGENT)
    with pytest.raises(AccessDenied):
        await get_limits(uow, limiter)(agent)
