"""API keys on SQLAlchemy Core (stored by hash only)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.tables import api_keys
from domain.administration.tenancy import Role
from domain.identity.credentials import ApiKey


class SqlAlchemyApiKeyRepository(SqlAlchemyRepository):
    async def add(self, key: ApiKey) -> None:
        await self._scope.bind(key.tenant_id)
        await self._execute(
            sa.insert(api_keys).values(
                id=key.id,
                tenant_id=key.tenant_id,
                name=key.name,
                prefix=key.prefix,
                secret_hash=key.secret_hash,
                role=key.role.value,
                created_by=key.created_by,
                created_at=key.created_at,
                last_used_at=key.last_used_at,
                revoked_at=key.revoked_at,
            ),
            conflict="an API key with this prefix exists already",
        )

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        await self._scope.cross_tenant()
        row = await self._one_or_none(sa.select(api_keys).where(api_keys.c.prefix == prefix))
        return _api_key_from_row(row) if row else None

    async def get(self, tenant_id: UUID, key_id: UUID) -> ApiKey | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(api_keys).where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)
        )
        return _api_key_from_row(row) if row else None

    async def list_for_tenant(self, tenant_id: UUID) -> list[ApiKey]:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(api_keys)
            .where(api_keys.c.tenant_id == tenant_id)
            .order_by(api_keys.c.created_at, api_keys.c.id)
        )
        return [_api_key_from_row(row) for row in result.mappings()]

    async def revoke(self, tenant_id: UUID, key_id: UUID, now: datetime) -> bool:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.update(api_keys)
            .where(
                api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)
            )
            .values(revoked_at=now)
        )
        return result.rowcount == 1

    async def record_use(self, key_id: UUID, now: datetime) -> None:
        await self._scope.by_key()
        await self._execute(sa.update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))


def _api_key_from_row(row: RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        tenant_id=row["tenant_id"],
        name=row["name"],
        prefix=row["prefix"],
        secret_hash=row["secret_hash"],
        role=Role(row["role"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )
