"""Tenant webhook endpoints on SQLAlchemy Core, with their signing secrets sealed.

Signing secrets are sealed with the SecretBox, bound to the tenant and the endpoint (a sealed value
copied to another row does not open).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import RowMapping

from adapters.database.repository import SqlAlchemyRepository, Transaction
from adapters.database.sealed_secrets import resealed_columns
from adapters.database.tables import webhook_endpoints
from adapters.security.secret_box import SecretDecryptionError
from application.errors import CredentialsUnreadable, NotFound
from application.ports.tenant_webhooks import EndpointForDelivery
from domain.tenant_webhooks.model import SigningSecrets, WebhookEndpoint, WebhookEventType

# The first key of the advisory lock taken while adding a tenant's endpoint (the second: the tenant's).
_ENDPOINTS_OF_TENANT_LOCK = 0x5745_4248  # "WEBH"
_ENDPOINT_COLUMNS = [
    column for column in webhook_endpoints.c if column.name not in {"secret_sealed", "previous_secret_sealed"}
]
# ``for_delivery``'s one statement (built once; the ids are bind parameters): the endpoint and its
# sealed secrets.
_FOR_DELIVERY = sa.select(
    *_ENDPOINT_COLUMNS, webhook_endpoints.c.secret_sealed, webhook_endpoints.c.previous_secret_sealed
).where(
    webhook_endpoints.c.tenant_id == sa.bindparam("tenant_id", type_=sa.Uuid()),
    webhook_endpoints.c.id == sa.bindparam("endpoint_id", type_=sa.Uuid()),
)
_FOR_DELIVERY_NAMES = tuple(_FOR_DELIVERY.selected_columns.keys())
# ``for_deliveries`` on PostgreSQL: the pairs as two arrays, so that the statement is the same whatever
# their number (prepared once per connection).
_WANTED = (
    sa.func.unnest(
        sa.bindparam("tenant_ids", type_=postgresql.ARRAY(sa.Uuid())),
        sa.bindparam("endpoint_ids", type_=postgresql.ARRAY(sa.Uuid())),
    )
    .table_valued(sa.column("tenant_id", sa.Uuid()), sa.column("endpoint_id", sa.Uuid()))
    .render_derived(name="wanted")
)
_FOR_DELIVERIES_POSTGRESQL = sa.select(
    *_ENDPOINT_COLUMNS, webhook_endpoints.c.secret_sealed, webhook_endpoints.c.previous_secret_sealed
).join(
    _WANTED,
    sa.and_(
        webhook_endpoints.c.tenant_id == _WANTED.c.tenant_id, webhook_endpoints.c.id == _WANTED.c.endpoint_id
    ),
)
# Elsewhere (SQLite): the pairs as a list of row values.
_FOR_DELIVERIES = sa.select(
    *_ENDPOINT_COLUMNS, webhook_endpoints.c.secret_sealed, webhook_endpoints.c.previous_secret_sealed
).where(
    sa.tuple_(webhook_endpoints.c.tenant_id, webhook_endpoints.c.id).in_(sa.bindparam("keys", expanding=True))
)
# A row as SQLAlchemy gives it, or the driver's tuple mapped by its column names (``read_alone``).
_Row = RowMapping | Mapping[str, Any]


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
        return self._opened_secrets(tenant_id, endpoint_id, row) if row is not None else None

    async def for_delivery(self, tenant_id: UUID, endpoint_id: UUID) -> EndpointForDelivery | None:
        parameters = {"tenant_id": tenant_id, "endpoint_id": endpoint_id}
        # On PostgreSQL a transaction of its own, in one round trip; else as any statement.
        rows = await self._scope.read_alone(tenant_id, _FOR_DELIVERY, parameters)
        row: _Row | None
        if rows is not None:
            row = dict(zip(_FOR_DELIVERY_NAMES, rows[0], strict=True)) if rows else None
        else:
            await self._scope.bind(tenant_id)
            row = await self._one_or_none(_FOR_DELIVERY, parameters)
        return self._for_delivery_from_row(row) if row is not None else None

    async def for_deliveries(
        self, keys: Sequence[tuple[UUID, UUID]]
    ) -> dict[tuple[UUID, UUID], EndpointForDelivery]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        # The pairs may be several tenants'; the statement filters on each pair's tenant itself.
        await self._scope.cross_tenant()
        if self._connection.dialect.name == "postgresql":
            result = await self._execute(
                _FOR_DELIVERIES_POSTGRESQL,
                {
                    "tenant_ids": [tenant_id for tenant_id, _ in wanted],
                    "endpoint_ids": [endpoint_id for _, endpoint_id in wanted],
                },
            )
        else:
            result = await self._execute(_FOR_DELIVERIES, {"keys": wanted})
        found = (self._for_delivery_from_row(row) for row in result.mappings())
        return {(each.endpoint.tenant_id, each.endpoint.id): each for each in found}

    def _for_delivery_from_row(self, row: _Row) -> EndpointForDelivery:
        endpoint = _endpoint_from_row(row)
        try:
            secrets: SigningSecrets | None = self._opened_secrets(endpoint.tenant_id, endpoint.id, row)
        except CredentialsUnreadable:
            secrets = None
        return EndpointForDelivery(endpoint, secrets)

    def _opened_secrets(self, tenant_id: UUID, endpoint_id: UUID, row: _Row) -> SigningSecrets:
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


def _endpoint_from_row(row: _Row) -> WebhookEndpoint:
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
