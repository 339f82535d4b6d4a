"""A process kept in step by PostgreSQL's notifications (adapters/database/access_cache.py), for tests
that change rows from elsewhere and wait, with a deadline, for the change to be announced here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.access_cache import ListeningAccessCache
from adapters.database.engine import create_database_engine

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
