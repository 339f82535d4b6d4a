"""A process kept in step by PostgreSQL's notifications (adapters/database/access_cache.py), for tests
that change rows from elsewhere and wait, with a deadline, for the change to be announced here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.access_cache import ListeningAccessCache, libpq_url
from adapters.database.engine import create_database_engine
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox
from tests.support.databases import migrated_empty_database

# How long an announced change may take to arrive: far longer than it does (milliseconds).
PATIENCE_SECONDS = 10.0


async def eventually(condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = asyncio.get_running_loop().time() + PATIENCE_SECONDS
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "the change was never announced here"
        await asyncio.sleep(0.02)


def changed_from(read: Callable[[], int | None], before: int | None) -> Callable[[], Awaitable[bool]]:
    """A condition for ``eventually``: ``read()`` is no longer ``before``."""

    async def moved() -> bool:
        return read() != before

    return moved


@contextlib.asynccontextmanager
async def listening_process(url: str) -> AsyncIterator[tuple[ListeningAccessCache, AsyncEngine, AsyncEngine]]:
    """An access cache listening on ``url`` (yielded once it listens), this process's engine, and
    another process's engine, whose commits reach this one only through notifications."""
    cache = ListeningAccessCache(url, ttl_seconds=60)
    engine = create_database_engine(url, pool_size=2, max_overflow=0)
    other_engine = create_database_engine(url, pool_size=2, max_overflow=0)
    listening = asyncio.create_task(cache.run())
    try:

        async def is_listening() -> bool:
            return cache.listening

        await eventually(is_listening)
        yield cache, engine, other_engine
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        await engine.dispose()
        await other_engine.dispose()


class ListeningProcess:
    """An API process kept in step by its listening access cache, with the units of work of another
    process (no hooks into this one's cache) and of a DBA. ``bind`` gives it its secret box."""

    def __init__(
        self, cache: ListeningAccessCache, engine: AsyncEngine, other_engine: AsyncEngine, admin_url: str
    ) -> None:
        self.cache = cache
        self._engine = engine
        self._other_engine = other_engine
        self._admin_url = libpq_url(admin_url)
        self.secret_box: SecretBox | None = None

    def bind(self, secret_box: SecretBox) -> None:
        self.secret_box = secret_box

    def own_unit_of_work(self) -> SqlAlchemyUnitOfWork:
        assert self.secret_box is not None
        return SqlAlchemyUnitOfWork(
            self._engine,
            self.secret_box,
            on_access_changed=self.cache.invalidate,
            on_signers_changed=self.cache.signers_changed,
            on_catalogue_changed=self.cache.catalogue_changed,
        )

    def other_process(self) -> SqlAlchemyUnitOfWork:
        assert self.secret_box is not None
        return SqlAlchemyUnitOfWork(self._other_engine, self.secret_box)

    async def as_dba(self, statement: str, *params: Any) -> None:
        """A change by hand, in psql, as a superuser (row-level security binds the owner too)."""
        async with await psycopg.AsyncConnection.connect(self._admin_url, autocommit=True) as connection:
            await connection.execute(statement, params)

    async def settled(self) -> None:
        """Every change committed so far has been announced here: one notification sent after them
        has arrived (they arrive in order)."""
        before = self.cache.version()
        await self.as_dba("SELECT pg_notify('wa_gateway_access', 'auth_sessions')")
        await eventually(changed_from(self.cache.version, before))


P = TypeVar("P", bound=ListeningProcess)


@contextlib.asynccontextmanager
async def running(
    kind: type[P], request: pytest.FixtureRequest, admin_url: str, secret_box: SecretBox
) -> AsyncIterator[P]:
    """A process of ``kind`` on this session's PostgreSQL database, migrated and emptied, once it
    listens, with ``secret_box`` bound (a test module's ``process`` fixture)."""
    url = migrated_empty_database(request, "postgres")
    async with listening_process(url) as (cache, engine, other_engine):
        process = kind(cache, engine, other_engine, admin_url)
        process.bind(secret_box)
        yield process
