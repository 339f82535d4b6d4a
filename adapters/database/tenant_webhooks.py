"""Tenant webhooks on SQLAlchemy Core: endpoints with sealed secrets, the outbox, leased deliveries.

Signing secrets are sealed with the SecretBox, bound to the tenant and the endpoint (a sealed value
copied to another row does not open). Deliveries are claimed like dispatch jobs: ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, and a lease that runs out makes a delivery claimable again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.database.repository import SqlAlchemyRepository, Transaction
from adapters.database.sealed_secrets import resealed_columns
from adapters.database.tables import webhook_deliveries, webhook_delivery_attempts, webhook_endpoints
from adapters.security.secret_box import SecretDecryptionError
from application.errors import CredentialsUnreadable, NotFound
from application.ports.tenant_webhooks import DeliveryQuery
from domain.tenant_webhooks.model import (
    DeliveryAttempt,
    DeliveryState,
    SigningSecrets,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
    new_delivery_id,
)

# A literal, not a bound parameter: PostgreSQL then matches the partial index ix_webhook_deliveries_due.
_PENDING: sa.ColumnElement[str] = sa.literal_column(f"'{DeliveryState.PENDING.value}'")
_FINISHED = [DeliveryState.DELIVERED.value, DeliveryState.DEAD.value]
# The first key of the advisory lock taken while adding a tenant's endpoint (the second: the tenant's).
_ENDPOINTS_OF_TENANT_LOCK = 0x5745_4248  # "WEBH"
_ENDPOINT_COLUMNS = [
    column for column in webhook_endpoints.c if column.name not in {"secret_sealed", "previous_secret_sealed"}
]


def _secret_owner(tenant_id: UUID, endpoint_id: UUID) -> bytes:
    """The associated data that binds a sealed signing secret to its endpoint's row."""
    return b"webhook:" + tenant_id.bytes + endpoint_id.bytes


class SqlAlchemyWebhookEndpointRepository(SqlAlchemyRepository):
    def __init__(self, transaction: Transaction) -> None:
        super().__init__(transaction)
        self._secret_box = transaction.secret_box

    async def add(self, endpoint: WebhookEndpoint, secret: str, *, at_most: int) -> bool:
        """One conditional INSERT … SELECT … WHERE (the tenant's count) < at_most.

        On SQLite the statement takes the database's write lock before it reads, so it is atomic. On
        PostgreSQL two such statements could count the same rows at once (each sees only what was
        committed when it began): a per-tenant advisory lock, held to the end of the transaction,
        makes the adds of one tenant take turns, and each counts after the one before it committed.
        """
        await self._scope.bind(endpoint.tenant_id)
        if self._connection.dialect.name == "postgresql":
            await self._execute(
                sa.select(
                    sa.func.pg_advisory_xact_lock(
                        _ENDPOINTS_OF_TENANT_LOCK, sa.func.hashtext(str(endpoint.tenant_id))
                    )
                )
            )
        values = {
            "id": endpoint.id,
            "tenant_id": endpoint.tenant_id,
            "url": endpoint.url,
            "description": endpoint.description,
            "events": sorted(event.value for event in endpoint.events),
            "enabled": endpoint.enabled,
            "disabled_reason": endpoint.disabled_reason,
            "secret_sealed": self._secret_box.seal(secret, _secret_owner(endpoint.tenant_id, endpoint.id)),
            "previous_secret_sealed": None,
            "previous_secret_expires_at": None,
            "created_at": endpoint.created_at,
            "updated_at": endpoint.updated_at,
        }
        endpoints_of_tenant = (
            sa.select(sa.func.count())
            .select_from(webhook_endpoints)
            .where(webhook_endpoints.c.tenant_id == endpoint.tenant_id)
            .scalar_subquery()
        )
        row = sa.select(
            *(
                sa.literal(value, type_=webhook_endpoints.c[name].type).label(name)
                for name, value in values.items()
            )
        ).where(endpoints_of_tenant < at_most)
        result = await self._execute(
            sa.insert(webhook_endpoints).from_select(list(values), row).returning(webhook_endpoints.c.id),
            conflict="the webhook endpoint exists already",
        )
        return result.first() is not None

    async def get(self, tenant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(*_ENDPOINT_COLUMNS).where(
                webhook_endpoints.c.tenant_id == tenant_id, webhook_endpoints.c.id == endpoint_id
            )
        )
        return _endpoint_from_row(row) if row else None

    async def list_for_tenant(self, tenant_id: UUID) -> list[WebhookEndpoint]:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(*_ENDPOINT_COLUMNS)
            .where(webhook_endpoints.c.tenant_id == tenant_id)
            .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
        )
        return [_endpoint_from_row(row) for row in result.mappings()]

    async def update(self, endpoint: WebhookEndpoint) -> None:
        await self._scope.bind(endpoint.tenant_id)
        result = await self._execute(
            sa.update(webhook_endpoints)
            .where(webhook_endpoints.c.tenant_id == endpoint.tenant_id, webhook_endpoints.c.id == endpoint.id)
            .values(
                url=endpoint.url,
                description=endpoint.description,
                events=sorted(event.value for event in endpoint.events),
                enabled=endpoint.enabled,
                disabled_reason=endpoint.disabled_reason,
                updated_at=endpoint.updated_at,
            )
        )
        if result.rowcount == 0:
            raise NotFound("no such webhook endpoint")

    async def delete(self, tenant_id: UUID, endpoint_id: UUID) -> bool:
        await self._scope.bind(tenant_id)
        # Its deliveries and their attempts go with it (ON DELETE CASCADE).
        result = await self._execute(
            sa.delete(webhook_endpoints).where(
                webhook_endpoints.c.tenant_id == tenant_id, webhook_endpoints.c.id == endpoint_id
            )
        )
        return result.rowcount == 1

    async def rotate_secret(
        self, tenant_id: UUID, endpoint_id: UUID, new_secret: str, previous_expires_at: datetime
    ) -> None:
        await self._scope.bind(tenant_id)
        # One UPDATE: the current sealed secret becomes the previous one as it is (same owner, so it
        # still opens), and the new one is sealed in its place.
        result = await self._execute(
            sa.update(webhook_endpoints)
            .where(webhook_endpoints.c.tenant_id == tenant_id, webhook_endpoints.c.id == endpoint_id)
            .values(
                previous_secret_sealed=webhook_endpoints.c.secret_sealed,
                secret_sealed=self._secret_box.seal(new_secret, _secret_owner(tenant_id, endpoint_id)),
                previous_secret_expires_at=previous_expires_at,
            )
        )
        if result.rowcount == 0:
            raise NotFound("no such webhook endpoint")

    async def signing_secrets(self, tenant_id: UUID, endpoint_id: UUID) -> SigningSecrets | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(
                webhook_endpoints.c.secret_sealed,
                webhook_endpoints.c.previous_secret_sealed,
                webhook_endpoints.c.previous_secret_expires_at,
            ).where(webhook_endpoints.c.tenant_id == tenant_id, webhook_endpoints.c.id == endpoint_id)
        )
        if row is None:
            return None
        owner = _secret_owner(tenant_id, endpoint_id)
        try:
            current = self._secret_box.open(row["secret_sealed"], owner)
            previous = (
                self._secret_box.open(row["previous_secret_sealed"], owner)
                if row["previous_secret_sealed"]
                else None
            )
        except SecretDecryptionError as error:
            raise CredentialsUnreadable() from error
        return SigningSecrets(
            current=current, previous=previous, previous_expires_at=row["previous_secret_expires_at"]
        )

    async def reseal_secrets(self) -> int:
        """Seal every signing secret again under the newest key; return how many endpoints changed."""
        await self._scope.cross_tenant()
        result = await self._execute(
            sa.select(
                webhook_endpoints.c.id,
                webhook_endpoints.c.tenant_id,
                webhook_endpoints.c.secret_sealed,
                webhook_endpoints.c.previous_secret_sealed,
            )
        )
        resealed = 0
        for row in result.mappings().all():
            changes = resealed_columns(
                self._secret_box,
                row,
                ("secret_sealed", "previous_secret_sealed"),
                _secret_owner(row["tenant_id"], row["id"]),
            )
            if changes:
                await self._execute(
                    sa.update(webhook_endpoints).where(webhook_endpoints.c.id == row["id"]).values(**changes)
                )
                resealed += 1
        return resealed


class SqlAlchemyWebhookOutbox(SqlAlchemyRepository):
    async def record(self, tenant_id: UUID, event_type: WebhookEventType, payload: str, now: datetime) -> int:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(webhook_endpoints.c.id, webhook_endpoints.c.events).where(
                webhook_endpoints.c.tenant_id == tenant_id, webhook_endpoints.c.enabled.is_(True)
            )
        )
        targets = [row["id"] for row in result.mappings() if event_type.value in row["events"]]
        if not targets:
            return 0
        await self._execute(
            sa.insert(webhook_deliveries).values(
                [
                    {
                        "id": new_delivery_id(now),
                        "tenant_id": tenant_id,
                        "endpoint_id": endpoint_id,
                        "event_type": event_type.value,
                        "payload": payload,
                        "state": DeliveryState.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for endpoint_id in targets
                ]
            )
        )
        return len(targets)


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

    async def settle(self, delivery: WebhookDelivery, attempt: DeliveryAttempt | None, *, owner: str) -> bool:
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


def _endpoint_from_row(row: RowMapping) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row["id"],
        tenant_id=row["tenant_id"],
        url=row["url"],
        description=row["description"],
        events=frozenset(WebhookEventType(event) for event in row["events"]),
        enabled=row["enabled"],
        disabled_reason=row["disabled_reason"],
        previous_secret_expires_at=row["previous_secret_expires_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _delivery_from_row(row: RowMapping) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        tenant_id=row["tenant_id"],
        endpoint_id=row["endpoint_id"],
        event_type=WebhookEventType(row["event_type"]),
        payload=row["payload"],
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
