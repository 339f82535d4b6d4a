"""Tenant webhook deliveries on SQLAlchemy Core: the leased queue the delivery worker claims, and
each delivery's attempts.

Deliveries are claimed like dispatch jobs: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and a lease that
runs out makes a delivery claimable again. A settling that ends its transaction is, on PostgreSQL, one
statement sent with the COMMIT, and so are the settlings of many deliveries, whatever their tenants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.rows import message_from_row
from adapters.database.tables import UtcDateTime, messages, webhook_deliveries, webhook_delivery_attempts
from application.errors import AlreadyExists
from application.ports.tenant_webhooks import DeliveryQuery
from application.tenant_webhooks.events import status_event_body
from domain.messaging.messages import Message
from domain.tenant_webhooks.model import (
    DeliveryAttempt,
    DeliveryState,
    WebhookDelivery,
    WebhookEventType,
)

# A literal, not a bound parameter: PostgreSQL then matches the partial index ix_webhook_deliveries_due.
_PENDING: sa.ColumnElement[str] = sa.literal_column(f"'{DeliveryState.PENDING.value}'")
_FINISHED = [DeliveryState.DELIVERED.value, DeliveryState.DEAD.value]


class SqlAlchemyWebhookDeliveryQueue(SqlAlchemyRepository):
    async def claim_due(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[WebhookDelivery]:
        await self._scope.cross_tenant()
        claimable = sa.and_(
            webhook_deliveries.c.state == _PENDING,
            webhook_deliveries.c.next_attempt_at <= now,
            sa.or_(
                webhook_deliveries.c.lease_expires_at.is_(None),
                webhook_deliveries.c.lease_expires_at <= now,
            ),
        )
        # Most polls find nothing: a read answers them without the UPDATE (SQLite's write lock).
        anything = await self._one_or_none(sa.select(webhook_deliveries.c.id).where(claimable).limit(1))
        if anything is None:
            return []
        due = (
            sa.select(webhook_deliveries.c.id)
            .where(claimable)
            .order_by(webhook_deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self._execute(
            sa.update(webhook_deliveries)
            .where(webhook_deliveries.c.id.in_(due.scalar_subquery()))
            .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
            .returning(*webhook_deliveries.c)
        )
        claimed = [_delivery_from_row(row) for row in result.mappings()]
        return sorted(claimed, key=lambda delivery: (delivery.next_attempt_at, delivery.id))

    async def settle(
        self, delivery: WebhookDelivery, attempt: DeliveryAttempt | None, *, owner: str, commit: bool = False
    ) -> bool:
        if commit:  # PostgreSQL: the update, the attempt's line and the COMMIT in one round trip
            rows = await self._scope.write_and_commit(
                delivery.tenant_id,
                _SETTLE if attempt is None else _SETTLE_WITH_ATTEMPT,
                _settle_parameters(delivery, attempt, owner),
                conflict="the attempt exists already",
                missing_reference="the delivery is gone",
                aborted=AlreadyExists("the delivery was not settled"),
            )
            if rows is not None:
                return len(rows) == 1
        await self._scope.by_key()
        result = await self._execute(
            sa.update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery.id, webhook_deliveries.c.lease_owner == owner)
            .values(
                state=delivery.state.value,
                attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at,
                last_attempt_at=delivery.last_attempt_at,
                last_status_code=delivery.last_status_code,
                last_error=delivery.last_error,
                last_response_excerpt=delivery.last_response_excerpt,
                finished_at=delivery.finished_at,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        if result.rowcount != 1:
            return False
        if attempt is not None:
            await self._execute(
                sa.insert(webhook_delivery_attempts).values(
                    delivery_id=attempt.delivery_id,
                    attempted_at=attempt.attempted_at,
                    status_code=attempt.status_code,
                    error=attempt.error,
                    response_excerpt=attempt.response_excerpt,
                    duration_ms=attempt.duration_ms,
                )
            )
        return True

    async def settle_all(
        self,
        settlements: Sequence[tuple[WebhookDelivery, DeliveryAttempt | None]],
        *,
        owner: str,
        commit: bool = False,
    ) -> list[bool]:
        if not settlements:
            return []
        if len(settlements) == 1 or self._connection.dialect.name != "postgresql":
            return [
                await self.settle(delivery, attempt, owner=owner, commit=commit)
                for delivery, attempt in settlements
            ]
        parameters = _settle_all_parameters(settlements, owner)
        tenants = {delivery.tenant_id for delivery, _ in settlements}
        # One tenant is bound as usual; several need the cross-tenant scope (the statement names each
        # delivery's tenant).
        the_tenant = next(iter(tenants)) if len(tenants) == 1 else None
        rows: Sequence[Any] | None = None
        if commit:  # the statement, its BEGIN and scope, and the COMMIT in one round trip
            rows = await self._scope.write_and_commit(
                the_tenant,
                _SETTLE_ALL,
                parameters,
                conflict="an attempt exists already",
                missing_reference="a delivery is gone",
                aborted=AlreadyExists("the deliveries were not settled"),
                cross_tenant=the_tenant is None,
            )
        if rows is None:
            if the_tenant is None:
                await self._scope.cross_tenant()
            else:
                await self._scope.bind(the_tenant)
            rows = list(await self._execute(_SETTLE_ALL, parameters))
        settled = {delivery_id for delivery_id, was_settled in rows if was_settled}
        return [delivery.id in settled for delivery, _ in settlements]

    async def get(self, tenant_id: UUID, delivery_id: str) -> WebhookDelivery | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(webhook_deliveries).where(
                webhook_deliveries.c.tenant_id == tenant_id, webhook_deliveries.c.id == delivery_id
            )
        )
        return _delivery_from_row(row) if row else None

    async def list_page(self, query: DeliveryQuery) -> list[WebhookDelivery]:
        await self._scope.bind(query.tenant_id)
        statement = sa.select(webhook_deliveries).where(
            webhook_deliveries.c.tenant_id == query.tenant_id,
            webhook_deliveries.c.endpoint_id == query.endpoint_id,
        )
        if query.after is not None:
            statement = statement.where(webhook_deliveries.c.id < query.after)
        if query.state is not None:
            statement = statement.where(webhook_deliveries.c.state == query.state.value)
        result = await self._execute(statement.order_by(webhook_deliveries.c.id.desc()).limit(query.limit))
        return [_delivery_from_row(row) for row in result.mappings()]

    async def list_attempts(
        self, tenant_id: UUID, delivery_ids: Sequence[str]
    ) -> dict[str, list[DeliveryAttempt]]:
        await self._scope.bind(tenant_id)
        if not delivery_ids:
            return {}
        result = await self._execute(
            sa.select(webhook_delivery_attempts)
            .join(webhook_deliveries, webhook_deliveries.c.id == webhook_delivery_attempts.c.delivery_id)
            .where(
                webhook_deliveries.c.tenant_id == tenant_id,
                webhook_delivery_attempts.c.delivery_id.in_(list(delivery_ids)),
            )
            .order_by(webhook_delivery_attempts.c.id)
        )
        attempts: dict[str, list[DeliveryAttempt]] = {}
        for row in result.mappings():
            attempts.setdefault(row["delivery_id"], []).append(
                DeliveryAttempt(
                    delivery_id=row["delivery_id"],
                    attempted_at=row["attempted_at"],
                    duration_ms=row["duration_ms"],
                    status_code=row["status_code"],
                    error=row["error"],
                    response_excerpt=row["response_excerpt"],
                )
            )
        return attempts

    async def replay(self, tenant_id: UUID, delivery_id: str, now: datetime) -> WebhookDelivery | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.update(webhook_deliveries)
            .where(webhook_deliveries.c.tenant_id == tenant_id, webhook_deliveries.c.id == delivery_id)
            .values(state=DeliveryState.PENDING.value, attempts=0, next_attempt_at=now, finished_at=None)
            .returning(*webhook_deliveries.c)
        )
        return _delivery_from_row(row) if row else None

    async def purge_finished(self, before: datetime) -> int:
        await self._scope.cross_tenant()
        result = await self._execute(
            sa.delete(webhook_deliveries).where(
                webhook_deliveries.c.state.in_(_FINISHED), webhook_deliveries.c.finished_at < before
            )
        )
        return int(result.rowcount)


# What a delivery's settling stores, as ``_settle_statement``'s parameters ("s_" the delivery's, "a_" the
# attempt's: a bind parameter may not take the name of a column the statement sets).
_SETTLED_COLUMNS = (
    "state",
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "last_status_code",
    "last_error",
    "last_response_excerpt",
    "finished_at",
)
_ATTEMPT_COLUMNS = ("attempted_at", "status_code", "error", "response_excerpt", "duration_ms")


def _settle_statement(with_attempt: bool) -> sa.Select[Any]:
    """``settle`` in one PostgreSQL statement (built once per shape; its values are bind parameters):
    the delivery updated while ``owner`` holds its lease, and (with an attempt) the attempt's line
    inserted from the updated row, so that a lost lease writes neither. One row: the lease was held."""
    settled = (
        sa.update(webhook_deliveries)
        .where(
            webhook_deliveries.c.id == sa.bindparam("delivery_id", type_=webhook_deliveries.c.id.type),
            webhook_deliveries.c.lease_owner
            == sa.bindparam("owner", type_=webhook_deliveries.c.lease_owner.type),
        )
        .values(
            {
                **{
                    name: sa.bindparam(f"s_{name}", type_=webhook_deliveries.c[name].type)
                    for name in _SETTLED_COLUMNS
                },
                "lease_owner": sa.null(),
                "lease_expires_at": sa.null(),
            }
        )
        .returning(webhook_deliveries.c.id)
        .cte("settled")
    )
    statement = sa.select(settled.c.id)
    if not with_attempt:
        return statement
    logged = (
        sa.insert(webhook_delivery_attempts)
        .from_select(
            ["delivery_id", *_ATTEMPT_COLUMNS],
            sa.select(
                settled.c.id,
                *(
                    sa.bindparam(f"a_{name}", type_=webhook_delivery_attempts.c[name].type)
                    for name in _ATTEMPT_COLUMNS
                ),
            ),
        )
        .cte("logged")
    )
    return statement.add_cte(logged)


_SETTLE = _settle_statement(with_attempt=False)
_SETTLE_WITH_ATTEMPT = _settle_statement(with_attempt=True)


def _settle_parameters(
    delivery: WebhookDelivery, attempt: DeliveryAttempt | None, owner: str
) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "delivery_id": delivery.id,
        "owner": owner,
        "s_state": delivery.state.value,
        "s_attempts": delivery.attempts,
        "s_next_attempt_at": delivery.next_attempt_at,
        "s_last_attempt_at": delivery.last_attempt_at,
        "s_last_status_code": delivery.last_status_code,
        "s_last_error": delivery.last_error,
        "s_last_response_excerpt": delivery.last_response_excerpt,
        "s_finished_at": delivery.finished_at,
    }
    if attempt is not None:
        parameters.update(
            a_attempted_at=attempt.attempted_at,
            a_status_code=attempt.status_code,
            a_error=attempt.error,
            a_response_excerpt=attempt.response_excerpt,
            a_duration_ms=attempt.duration_ms,
        )
    return parameters


# PostgreSQL: many deliveries' ``settle`` in one statement, their new states and attempts as parallel
# arrays (``_settle_all_parameters``): each delivery updated while ``owner`` holds its lease, and its
# attempt's line (where it has one) inserted only for a delivery so updated. One row per delivery:
# whether it was settled.
_SETTLE_ALL = sa.text(
    """
WITH settlement AS (
    SELECT * FROM unnest(
        CAST(:delivery_ids AS text[]), CAST(:tenant_ids AS uuid[]), CAST(:states AS text[]),
        CAST(:attempts AS integer[]), CAST(:next_attempt_ats AS timestamptz[]),
        CAST(:last_attempt_ats AS timestamptz[]), CAST(:last_status_codes AS integer[]),
        CAST(:last_errors AS text[]), CAST(:last_response_excerpts AS text[]),
        CAST(:finished_ats AS timestamptz[]), CAST(:attempted AS boolean[]),
        CAST(:attempted_ats AS timestamptz[]), CAST(:status_codes AS integer[]), CAST(:errors AS text[]),
        CAST(:response_excerpts AS text[]), CAST(:durations_ms AS integer[])
    ) WITH ORDINALITY AS s(delivery_id, tenant_id, state, attempts, next_attempt_at, last_attempt_at,
                           last_status_code, last_error, last_response_excerpt, finished_at, attempted,
                           attempted_at, status_code, error, response_excerpt, duration_ms, position)
),
settled AS (
    UPDATE webhook_deliveries AS d
    SET state = s.state, attempts = s.attempts, next_attempt_at = s.next_attempt_at,
        last_attempt_at = s.last_attempt_at, last_status_code = s.last_status_code,
        last_error = s.last_error, last_response_excerpt = s.last_response_excerpt,
        finished_at = s.finished_at, lease_owner = NULL, lease_expires_at = NULL
    FROM settlement AS s
    WHERE d.id = s.delivery_id AND d.tenant_id = s.tenant_id AND d.lease_owner = :owner
    RETURNING d.id
),
logged AS (
    INSERT INTO webhook_delivery_attempts
        (delivery_id, attempted_at, status_code, error, response_excerpt, duration_ms)
    SELECT s.delivery_id, s.attempted_at, s.status_code, s.error, s.response_excerpt, s.duration_ms
    FROM settlement AS s JOIN settled AS t ON t.id = s.delivery_id
    WHERE s.attempted
    ORDER BY s.position
)
SELECT s.delivery_id, t.id IS NOT NULL AS settled
FROM settlement AS s LEFT JOIN settled AS t ON t.id = s.delivery_id
"""
)


def _settle_all_parameters(
    settlements: Sequence[tuple[WebhookDelivery, DeliveryAttempt | None]], owner: str
) -> dict[str, Any]:
    deliveries = [delivery for delivery, _ in settlements]
    attempts = [attempt for _, attempt in settlements]
    return {
        "owner": owner,
        "delivery_ids": [d.id for d in deliveries],
        "tenant_ids": [d.tenant_id for d in deliveries],
        "states": [d.state.value for d in deliveries],
        "attempts": [d.attempts for d in deliveries],
        "next_attempt_ats": [d.next_attempt_at for d in deliveries],
        "last_attempt_ats": [d.last_attempt_at for d in deliveries],
        "last_status_codes": [d.last_status_code for d in deliveries],
        "last_errors": [d.last_error for d in deliveries],
        "last_response_excerpts": [d.last_response_excerpt for d in deliveries],
        "finished_ats": [d.finished_at for d in deliveries],
        "attempted": [a is not None for a in attempts],
        "attempted_ats": [a.attempted_at if a else None for a in attempts],
        "status_codes": [a.status_code if a else None for a in attempts],
        "errors": [a.error if a else None for a in attempts],
        "response_excerpts": [a.response_excerpt if a else None for a in attempts],
        "durations_ms": [a.duration_ms if a else None for a in attempts],
    }


def _delivery_from_row(row: RowMapping) -> WebhookDelivery:
    event_type = WebhookEventType(row["event_type"])
    payload = row["payload"]
    if payload is None:  # a status event recorded by its change's own statement (messages.py)
        payload = status_event_body(event_type, _message_from_snapshot(row["message_snapshot"]))
    return WebhookDelivery(
        id=row["id"],
        tenant_id=row["tenant_id"],
        endpoint_id=row["endpoint_id"],
        event_type=event_type,
        payload=payload,
        state=DeliveryState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_attempt_at=row["last_attempt_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        last_response_excerpt=row["last_response_excerpt"],
        finished_at=row["finished_at"],
        created_at=row["created_at"],
    )


def _message_from_snapshot(snapshot: Mapping[str, Any]) -> Message:
    """The message a snapshot keeps (its row as ``to_jsonb`` gave it: ids and times as text, in UTC or
    with their offset). A column the snapshot lacks (one added after it was taken) is NULL."""
    row: dict[str, Any] = {}
    for column in messages.c:
        value = snapshot.get(column.name)
        if value is not None and isinstance(column.type, sa.Uuid):
            value = UUID(value)
        elif value is not None and isinstance(column.type, UtcDateTime):
            value = datetime.fromisoformat(value).astimezone(UTC)
        row[column.name] = value
    return message_from_row(cast(RowMapping, row))
