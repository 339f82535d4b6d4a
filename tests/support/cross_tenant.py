"""Reading and writing tables directly in tests, past the repositories, on a row-level-secured database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.database.tenant_scope import CROSS_TENANT_SETTING


@asynccontextmanager
async def cross_tenant_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction (committed on leaving) that sees every tenant's rows, like the named cross-tenant
    repository methods; without it the application's role sees no tenant row at all."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(sa.select(sa.func.set_config(CROSS_TENANT_SETTING, "on", True)))
        yield connection
