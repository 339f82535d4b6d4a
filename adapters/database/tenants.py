"""Tenants on SQLAlchemy Core."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa

from adapters.database.repository import TENANT_MISSING, SqlAlchemyRepository
from adapters.database.rows import tenant_from_row
from adapters.database.statements import TENANT_BY_ID
from adapters.database.tables import tenants
from application.errors import NotFound
from domain.administration.tenancy import Tenant


class SqlAlchemyTenantRepository(SqlAlchemyRepository):
    async def add(self, tenant: Tenant) -> None:
        await self._execute(
            sa.insert(tenants).values(
                id=tenant.id,
                name=tenant.name,
                provider=tenant.provider.value,
                status=tenant.status.value,
                session_window_check=tenant.session_window_check,
                sends_per_minute=tenant.sends_per_minute,
                sends_per_day=tenant.sends_per_day,
                time_zone=tenant.time_zone,
                created_at=tenant.created_at,
            ),
            conflict=f"a tenant named {tenant.name!r} exists already",
        )

    async def get(self, tenant_id: UUID) -> Tenant | None:
        row = await self._one_or_none(TENANT_BY_ID, {"tenant_id": tenant_id})
        return tenant_from_row(row) if row else None

    async def get_by_name(self, name: str) -> Tenant | None:
        row = await self._one_or_none(sa.select(tenants).where(tenants.c.name == name))
        return tenant_from_row(row) if row else None

    async def count(self) -> int:
        result = await self._execute(sa.select(sa.func.count()).select_from(tenants))
        return int(result.scalar_one())

    async def update(self, tenant: Tenant) -> None:
        result = await self._execute(
            sa.update(tenants)
            .where(tenants.c.id == tenant.id)
            .values(
                name=tenant.name,
                provider=tenant.provider.value,
                status=tenant.status.value,
                session_window_check=tenant.session_window_check,
                sends_per_minute=tenant.sends_per_minute,
                sends_per_day=tenant.sends_per_day,
                time_zone=tenant.time_zone,
            ),
            conflict=f"a tenant named {tenant.name!r} exists already",
        )
        if result.rowcount == 0:
            raise NotFound(TENANT_MISSING)

    async def list_page(self, limit: int, after_name: str | None = None) -> list[Tenant]:
        statement = sa.select(tenants)
        if after_name is not None:
            statement = statement.where(tenants.c.name > after_name)
        result = await self._execute(statement.order_by(tenants.c.name).limit(limit))
        return [tenant_from_row(row) for row in result.mappings()]
