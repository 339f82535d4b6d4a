"""Users on SQLAlchemy Core."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.rows import user_from_row
from adapters.database.tables import users
from application.errors import NotFound
from domain.administration.tenancy import User


class SqlAlchemyUserRepository(SqlAlchemyRepository):
    async def add(self, user: User) -> None:
        await self._scope.bind(user.tenant_id)
        await self._execute(
            sa.insert(users).values(
                id=user.id,
                tenant_id=user.tenant_id,
                username=user.username,
                password_hash=user.password_hash,
                role=user.role.value,
                is_active=user.is_active,
                created_at=user.created_at,
            ),
            conflict=f"the username {user.username!r} is taken",
        )

    async def get_by_username(self, username: str) -> User | None:
        await self._scope.cross_tenant()
        # usernames are unique across tenants: they are how a user logs in before any tenant is known
        row = await self._one_or_none(sa.select(users).where(users.c.username == username))
        return user_from_row(row) if row else None

    async def update_password_hash(self, user_id: UUID, password_hash: str) -> None:
        await self._scope.by_key()
        await self._execute(sa.update(users).where(users.c.id == user_id).values(password_hash=password_hash))

    async def get_in_tenant(self, tenant_id: UUID, user_id: UUID) -> User | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(users).where(users.c.tenant_id == tenant_id, users.c.id == user_id)
        )
        return user_from_row(row) if row else None

    async def list_for_tenant(self, tenant_id: UUID) -> list[User]:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(users).where(users.c.tenant_id == tenant_id).order_by(users.c.username)
        )
        return [user_from_row(row) for row in result.mappings()]

    async def update(self, user: User) -> None:
        await self._scope.bind(user.tenant_id)
        result = await self._execute(
            sa.update(users)
            .where(users.c.tenant_id == user.tenant_id, users.c.id == user.id)
            .values(role=user.role.value, is_active=user.is_active, password_hash=user.password_hash)
        )
        if result.rowcount == 0:
            raise NotFound("no such user")
