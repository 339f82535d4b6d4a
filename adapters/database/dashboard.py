"""The dashboards' figures on SQLAlchemy Core: aggregate statements over the tenant's rows, each
count reading an index (see the comments), never the rows one by one."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.rows import tenant_from_row
from adapters.database.tables import (
    UtcDateTime,
    conversations,
    dispatch_jobs,
    messages,
    senders,
    template_listings,
    tenants,
    users,
    webhook_deliveries,
    webhook_endpoints,
)
from application.ports.dashboard import (
    ActivityPeriods,
    DeliveryCounts,
    FailingEndpoint,
    TenantActivity,
    TenantUsage,
)
from domain.messaging.messages import FAILURE_STATUSES, Direction, MessageStatus
from domain.templates.catalogue import TemplateStatus

_DELIVERED = [MessageStatus.DELIVERED.value, MessageStatus.READ.value]
_FAILED = sorted(status.value for status in FAILURE_STATUSES)


def _count(*conditions: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """How many rows of the aggregate meet ``conditions`` (0 when there are none), on both dialects."""
    return sa.func.coalesce(sa.func.sum(sa.case((sa.and_(*conditions), 1), else_=0)), 0)


def _scalar(statement: sa.Select[Any]) -> sa.ScalarSelect[Any]:
    return statement.scalar_subquery()


def _messages_of(tenant_id: UUID, since: datetime | None = None) -> sa.ScalarSelect[Any]:
    # ix_messages_history (tenant_id, created_at): an index range, no row read.
    statement = sa.select(sa.func.count()).select_from(messages).where(messages.c.tenant_id == tenant_id)
    if since is not None:
        statement = statement.where(messages.c.created_at >= since)
    return _scalar(statement)


def _activity_statement(tenant_id: UUID, periods: ActivityPeriods) -> sa.Select[Any]:
    # Outbound messages of the last 7 days (ix_messages_history's range), by period and status.
    recent = messages.c.created_at >= periods.last_24_hours
    delivered = messages.c.status.in_(_DELIVERED)
    read = messages.c.status == MessageStatus.READ.value
    failed = messages.c.status.in_(_FAILED)
    deliveries = (
        sa.select(
            sa.func.count().label("week_total"),
            _count(delivered).label("week_delivered"),
            _count(read).label("week_read"),
            _count(failed).label("week_failed"),
            _count(recent).label("day_total"),
            _count(recent, delivered).label("day_delivered"),
            _count(recent, read).label("day_read"),
            _count(recent, failed).label("day_failed"),
        )
        .where(
            messages.c.tenant_id == tenant_id,
            messages.c.created_at >= periods.last_7_days,
            messages.c.direction == Direction.OUTBOUND.value,
        )
        .subquery("deliveries")
    )
    active = _scalar(
        # A window is open while its last inbound message is under 24 hours old; the last message is
        # never older than the last inbound one, so ix_conversations_recent's range narrows the rows.
        sa.select(sa.func.count())
        .select_from(conversations)
        .where(
            conversations.c.tenant_id == tenant_id,
            conversations.c.last_message_at > periods.last_24_hours,
            conversations.c.last_inbound_at > periods.last_24_hours,
        )
    )
    # ix_dispatch_jobs_sender_due begins with tenant_id. A scheduled send's job waits from its time on.
    queued = sa.and_(
        dispatch_jobs.c.tenant_id == tenant_id,
        dispatch_jobs.c.created_at <= sa.literal(periods.now, UtcDateTime()),
    )
    pending = _scalar(
        # ix_template_listings_account begins with tenant_id.
        sa.select(sa.func.count(sa.distinct(template_listings.c.template_id))).where(
            template_listings.c.tenant_id == tenant_id,
            template_listings.c.status == TemplateStatus.PENDING.value,
        )
    )
    return sa.select(
        _messages_of(tenant_id).label("total_messages"),
        _messages_of(tenant_id, periods.day_start).label("messages_today"),
        active.label("active_conversations"),
        _scalar(sa.select(sa.func.count()).select_from(dispatch_jobs).where(queued)).label("queue_waiting"),
        sa.type_coerce(
            _scalar(sa.select(sa.func.min(dispatch_jobs.c.created_at)).where(queued)), UtcDateTime()
        ).label("queue_oldest_at"),
        pending.label("templates_pending"),
        *deliveries.c,
    ).select_from(deliveries)


def _failing_endpoints_statement(tenant_id: UUID) -> sa.Select[Any]:
    # Each endpoint's newest delivery that was attempted: ix_webhook_deliveries_endpoint (endpoint_id,
    # id) walked backwards (ids are ULIDs, in creation order), stopping at the first attempted one.
    newest_attempted = (
        sa.select(webhook_deliveries.c.id)
        .where(
            webhook_deliveries.c.endpoint_id == webhook_endpoints.c.id,
            webhook_deliveries.c.last_attempt_at.is_not(None),
        )
        .order_by(webhook_deliveries.c.id.desc())
        .limit(1)
        .correlate(webhook_endpoints)
        .scalar_subquery()
    )
    code = webhook_deliveries.c.last_status_code
    last_failed = sa.and_(
        webhook_deliveries.c.id.is_not(None),
        sa.or_(code.is_(None), code < 200, code >= 300),
    )
    return (
        sa.select(
            webhook_endpoints.c.id,
            webhook_endpoints.c.url,
            webhook_endpoints.c.enabled,
            webhook_endpoints.c.disabled_reason,
            webhook_deliveries.c.last_attempt_at,
            webhook_deliveries.c.last_status_code,
            webhook_deliveries.c.last_error,
        )
        .select_from(
            webhook_endpoints.outerjoin(webhook_deliveries, webhook_deliveries.c.id == newest_attempted)
        )
        .where(
            webhook_endpoints.c.tenant_id == tenant_id,
            sa.or_(
                # Disabled by the gateway (a 410); one disabled by hand is no failure.
                sa.and_(~webhook_endpoints.c.enabled, webhook_endpoints.c.disabled_reason.is_not(None)),
                sa.and_(webhook_endpoints.c.enabled, last_failed),
            ),
        )
        .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
    )


def _usage_statement(day_start: datetime) -> sa.Select[Any]:
    def of_tenant(table: sa.Table) -> sa.ScalarSelect[Any]:
        # ix_users_tenant_id, uq_senders_tenant_id_phone_number, ix_messages_history: index ranges.
        return _scalar(sa.select(sa.func.count()).select_from(table).where(table.c.tenant_id == tenants.c.id))

    today = _scalar(
        sa.select(sa.func.count())
        .select_from(messages)
        .where(messages.c.tenant_id == tenants.c.id, messages.c.created_at >= day_start)
    )
    return sa.select(
        tenants,
        today.label("usage_messages_today"),
        of_tenant(messages).label("usage_total_messages"),
        of_tenant(users).label("usage_users"),
        of_tenant(senders).label("usage_senders"),
    ).order_by(tenants.c.name)


class SqlAlchemyDashboardQueries(SqlAlchemyRepository):
    async def tenant_activity(self, tenant_id: UUID, periods: ActivityPeriods) -> TenantActivity:
        await self._scope.bind(tenant_id)
        figures = (await self._execute(_activity_statement(tenant_id, periods))).mappings().one()
        failing = await self._execute(_failing_endpoints_statement(tenant_id))
        return TenantActivity(
            active_conversations=int(figures["active_conversations"]),
            messages_today=int(figures["messages_today"]),
            total_messages=int(figures["total_messages"]),
            last_24_hours=_delivery_counts(figures, "day_"),
            last_7_days=_delivery_counts(figures, "week_"),
            queue_waiting=int(figures["queue_waiting"]),
            queue_oldest_at=figures["queue_oldest_at"],
            templates_pending=int(figures["templates_pending"]),
            failing_endpoints=[
                FailingEndpoint(
                    id=row["id"],
                    url=row["url"],
                    enabled=row["enabled"],
                    disabled_reason=row["disabled_reason"],
                    last_attempt_at=row["last_attempt_at"],
                    last_status_code=row["last_status_code"],
                    last_error=row["last_error"],
                )
                for row in failing.mappings()
            ],
        )

    async def platform_usage(self, day_start: datetime) -> list[TenantUsage]:
        await self._scope.cross_tenant()
        result = await self._execute(_usage_statement(day_start))
        return [_tenant_usage(row) for row in result.mappings()]

    async def tenant_usage(self, tenant_id: UUID, day_start: datetime) -> TenantUsage | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(_usage_statement(day_start).where(tenants.c.id == tenant_id))
        return _tenant_usage(row) if row is not None else None


def _tenant_usage(row: RowMapping) -> TenantUsage:
    return TenantUsage(
        tenant=tenant_from_row(row),
        messages_today=int(row["usage_messages_today"]),
        total_messages=int(row["usage_total_messages"]),
        users=int(row["usage_users"]),
        senders=int(row["usage_senders"]),
    )


def _delivery_counts(figures: Any, prefix: str) -> DeliveryCounts:
    return DeliveryCounts(
        total=int(figures[prefix + "total"]),
        delivered=int(figures[prefix + "delivered"]),
        read=int(figures[prefix + "read"]),
        failed=int(figures[prefix + "failed"]),
    )
