"""Idempotency keys on SQLAlchemy Core: read, completed and purged here; held by accepting a message
(acceptance.py), in the message's transaction (on PostgreSQL, in its very statement)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.tables import idempotency_keys
from application.ports.messages import IdempotencyRecord


class SqlAlchemyIdempotencyRepository(SqlAlchemyRepository):
    async def get(self, tenant_id: UUID, key: str, now: datetime) -> IdempotencyRecord | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(idempotency_keys).where(
                idempotency_keys.c.tenant_id == tenant_id,
                idempotency_keys.c.key == key,
                idempotency_keys.c.expires_at > now,
            )
        )
        return _record_from_row(row) if row else None

    async def complete(self, tenant_id: UUID, key: str, response_status: int) -> None:
        await self._scope.bind(tenant_id)
        await self._execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.tenant_id == tenant_id, idempotency_keys.c.key == key)
            .values(response_status=response_status)
        )

    async def purge_expired(self, now: datetime) -> int:
        await self._scope.cross_tenant()
        result = await self._execute(sa.delete(idempotency_keys).where(idempotency_keys.c.expires_at <= now))
        return int(result.rowcount)


def _record_from_row(row: RowMapping) -> IdempotencyRecord:
    values: dict[str, Any] = dict(row)
    return IdempotencyRecord(**values)
