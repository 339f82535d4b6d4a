"""What the dashboards show, read as a few aggregate statements: a tenant's activity, and the
platform's usage per tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.administration.tenancy import Tenant


@dataclass(frozen=True, slots=True)
class ActivityPeriods:
    """The moments a tenant's activity is counted from."""

    now: datetime
    day_start: datetime  # 00:00 UTC today: messages today
    last_24_hours: datetime  # now - 24 h: open session windows, and the short delivery period
    last_7_days: datetime  # now - 7 days: the long delivery period


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """Outbound messages created in a period, by how far they got: ``delivered`` counts the read ones
    too, ``failed`` the failed and the undelivered ones; the others are still on their way."""

    total: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class FailingEndpoint:
    """A webhook endpoint that does not take its deliveries: disabled by the gateway (it answered
    410), or enabled with its newest attempted delivery's last attempt failed."""

    id: UUID
    url: str
    enabled: bool
    disabled_reason: str | None
    last_attempt_at: datetime | None
    last_status_code: int | None  # None: no answer (a timeout, a refused connection …)
    last_error: str | None


@dataclass(frozen=True, slots=True)
class TenantActivity:
    active_conversations: int  # conversations whose 24-hour window is open now
    messages_today: int  # both directions, since 00:00 UTC
    total_messages: int
    last_24_hours: DeliveryCounts
    last_7_days: DeliveryCounts
    queue_waiting: int  # the tenant's messages waiting in the dispatch queue
    queue_oldest_at: datetime | None  # when the oldest of them was queued
    templates_pending: int  # templates with a listing awaiting the provider's approval
    failing_endpoints: list[FailingEndpoint]


@dataclass(frozen=True, slots=True)
class TenantUsage:
    tenant: Tenant
    messages_today: int
    total_messages: int
    users: int
    senders: int


class DashboardQueries(Protocol):
    async def tenant_activity(self, tenant_id: UUID, periods: ActivityPeriods) -> TenantActivity:
        """The tenant's figures (its webhook endpoints oldest first), in two statements."""
        ...

    async def platform_usage(self, day_start: datetime) -> list[TenantUsage]:
        """Every tenant (the platform tenant included), by name, with its usage: one statement."""
        ...
