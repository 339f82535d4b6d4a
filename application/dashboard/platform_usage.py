"""The platform's dashboard for platform admins: how many tenants there are, and each one's usage in
counts (no tenant's messages are read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from application.administration.onboarding import is_customer_tenant
from application.authorization import Actor, require_platform_admin
from application.dashboard.read_dashboard import start_of_day
from application.ports.clock import Clock
from application.ports.dashboard import TenantUsage
from application.ports.unit_of_work import UnitOfWork
from domain.administration.tenancy import TenantStatus


@dataclass(frozen=True, slots=True)
class PlatformUsage:
    """``as_of`` is the moment it was read (today begins at its 00:00 UTC); tenants by name."""

    as_of: datetime
    active_tenants: int
    suspended_tenants: int
    tenants: list[TenantUsage]


class ReadPlatformUsage:
    """Every customer tenant's usage: one statement, however many tenants."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, actor: Actor) -> PlatformUsage:
        require_platform_admin(actor)
        now = self._clock.now()
        async with self._uow:
            rows = await self._uow.dashboard.platform_usage(start_of_day(now))
        customers = [usage for usage in rows if is_customer_tenant(usage.tenant)]
        suspended = sum(1 for usage in customers if usage.tenant.status is TenantStatus.SUSPENDED)
        return PlatformUsage(
            as_of=now,
            active_tenants=len(customers) - suspended,
            suspended_tenants=suspended,
            tenants=customers,
        )
