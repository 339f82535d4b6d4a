"""Background work of a process: the dispatcher, the webhook worker and housekeeping, started and
stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from application.errors import StorageUnavailable, TransactionConflict
from entrypoints.container import Container

logger = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL_SECONDS = 600.0


@contextlib.asynccontextmanager
async def background_work(container: Container) -> AsyncIterator[asyncio.Event]:
    """Run the dispatcher, the webhook worker and housekeeping until the block ends (or the yielded
    event is set)."""
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(container.dispatcher().run(stop), name="dispatcher"),
        asyncio.create_task(container.webhook_worker().run(stop), name="webhook worker"),
        asyncio.create_task(_housekeeping(container, stop), name="housekeeping"),
    ]
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def access_cache_listening(container: Container) -> AsyncIterator[None]:
    """Keep the API process's access cache told of changes until the block ends (PostgreSQL only)."""
    cache = container.access_cache()
    if cache is None:
        yield
        return
    task = asyncio.create_task(cache.run(), name="access cache")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _housekeeping(container: Container, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            purged = await container.purge_idempotency_keys()()
            if purged:
                logger.info("purged %d expired idempotency keys", purged)
            purged = await container.purge_webhook_deliveries()()
            if purged:
                logger.info("purged %d finished webhook deliveries", purged)
            purged = await container.purge_expired_sessions()()
            if purged:
                logger.info("purged %d expired login sessions", purged)
        except StorageUnavailable:
            logger.warning("housekeeping: database unavailable, trying again later")
        except TransactionConflict:
            logger.info("housekeeping conflicted with a concurrent transaction, trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HOUSEKEEPING_INTERVAL_SECONDS)
