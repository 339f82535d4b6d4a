"""The dashboards on the wire."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from application.dashboard.platform_usage import PlatformUsage
from application.dashboard.read_dashboard import Dashboard, DeliveryRates
from application.ports.dashboard import FailingEndpoint, TenantUsage
from domain.administration.tenancy import TenantStatus
from entrypoints.http.messaging.schemas import ConversationResource


class DeliveryRatesResource(msgspec.Struct):
    """Outbound messages created in the period: `delivered` counts the read ones too, `failed` the
    failed and undelivered ones; each rate is a share of `total` (0 to 1), null when `total` is 0."""

    period_hours: int
    total: int
    delivered: int
    read: int
    failed: int
    delivered_rate: float | None
    read_rate: float | None
    failed_rate: float | None

    @classmethod
    def of(cls, rates: DeliveryRates) -> DeliveryRatesResource:
        counts = rates.counts
        return cls(
            period_hours=int(rates.period.total_seconds() // 3600),
            total=counts.total,
            delivered=counts.delivered,
            read=counts.read,
            failed=counts.failed,
            delivered_rate=rates.delivered_rate,
            read_rate=rates.read_rate,
            failed_rate=rates.failed_rate,
        )


class DispatchQueueResource(msgspec.Struct):
    waiting: int  # the tenant's messages waiting to be handed to their provider
    oldest_age_seconds: float | None  # how long the oldest has waited; null: none waits


class FailingEndpointResource(msgspec.Struct):
    id: UUID
    url: str
    enabled: bool
    disabled_reason: str | None  # set when the gateway disabled it (it answered 410)
    last_attempt_at: datetime | None
    last_status_code: int | None  # null: no answer (a timeout, a refused connection …)
    last_error: str | None

    @classmethod
    def of(cls, endpoint: FailingEndpoint) -> FailingEndpointResource:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            last_attempt_at=endpoint.last_attempt_at,
            last_status_code=endpoint.last_status_code,
            last_error=endpoint.last_error,
        )


class DashboardResource(msgspec.Struct):
    as_of: datetime
    active_conversations: int  # conversations whose 24-hour window is open now
    messages_today: int  # both directions, since 00:00 UTC
    total_messages: int
    latest_conversations: list[ConversationResource]
    last_24_hours: DeliveryRatesResource
    last_7_days: DeliveryRatesResource
    dispatch_queue: DispatchQueueResource
    failing_webhook_endpoints: list[FailingEndpointResource]
    templates_pending: int  # templates with a listing awaiting the provider's approval

    @classmethod
    def of(cls, dashboard: Dashboard) -> DashboardResource:
        return cls(
            as_of=dashboard.as_of,
            active_conversations=dashboard.active_conversations,
            messages_today=dashboard.messages_today,
            total_messages=dashboard.total_messages,
            latest_conversations=[
                ConversationResource.of(c, dashboard.as_of) for c in dashboard.latest_conversations
            ],
            last_24_hours=DeliveryRatesResource.of(dashboard.last_24_hours),
            last_7_days=DeliveryRatesResource.of(dashboard.last_7_days),
            dispatch_queue=DispatchQueueResource(
                waiting=dashboard.dispatch_queue.waiting,
                oldest_age_seconds=dashboard.dispatch_queue.oldest_age_seconds,
            ),
            failing_webhook_endpoints=[
                FailingEndpointResource.of(e) for e in dashboard.failing_webhook_endpoints
            ],
            templates_pending=dashboard.templates_pending,
        )


class TenantUsageResource(msgspec.Struct):
    tenant_id: UUID
    name: str
    status: TenantStatus
    messages_today: int  # both directions, since 00:00 UTC
    total_messages: int
    users: int
    senders: int

    @classmethod
    def of(cls, usage: TenantUsage) -> TenantUsageResource:
        return cls(
            tenant_id=usage.tenant.id,
            name=usage.tenant.name,
            status=usage.tenant.status,
            messages_today=usage.messages_today,
            total_messages=usage.total_messages,
            users=usage.users,
            senders=usage.senders,
        )


class PlatformUsageResource(msgspec.Struct):
    as_of: datetime
    active_tenants: int
    suspended_tenants: int
    tenants: list[TenantUsageResource]  # by name

    @classmethod
    def of(cls, usage: PlatformUsage) -> PlatformUsageResource:
        return cls(
            as_of=usage.as_of,
            active_tenants=usage.active_tenants,
            suspended_tenants=usage.suspended_tenants,
            tenants=[TenantUsageResource.of(t) for t in usage.tenants],
        )
