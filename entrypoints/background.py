"""Background work of a process: the dispatcher, the webhook worker, the media worker, the campaign
runner, housekeeping and the template sync, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from application.errors import StorageUnavailable, TransactionConflict
from entrypoints.container import Container

logger = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL_SECONDS = 600.0


@contextlib.asynccontextmanager
async def background_work(container: Container) -> AsyncIterator[asyncio.Event]:
    """Run the dispatcher, the webhook worker, the media worker, housekeeping and (unless
    TEMPLATE_SYNC_SECONDS is 0) the template sync until the block ends (or the yielded event is set)."""
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(container.dispatcher().run(stop), name="dispatcher"),
        asyncio.create_task(container.webhook_worker().run(stop), name="webhook worker"),
        asyncio.create_task(container.media_downloader().run(stop), name="media worker"),
        asyncio.create_task(housekeeping(container, stop), name="housekeeping"),
        asyncio.create_task(container.campaign_runner().run(stop), name="campaign runner"),
    ]
    sync_seconds = container.settings().template_sync_seconds
    if sync_seconds > 0:
        tasks.append(
            asyncio.create_task(
                template_sync(container, stop, interval_seconds=sync_seconds), name="template sync"
            )
        )
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


# A purge use case: called, it removes what it is for and says how many rows went.
_PurgeUseCase = Callable[[], Awaitable[int]]


def _purges(container: Container) -> tuple[tuple[str, Callable[[], _PurgeUseCase]], ...]:
    """What each purge removes, and the provider of its use case (a fresh one each round, made inside
    the purge's own error handling)."""
    return (
        ("expired idempotency keys", container.purge_idempotency_keys),
        ("finished webhook deliveries", container.purge_webhook_deliveries),
        ("expired login sessions", container.purge_expired_sessions),
        ("audit entries older than the retention", container.purge_audit_log),
        ("messages past their tenant's retention", container.apply_retention),
    )


async def housekeeping(
    container: Container, stop: asyncio.Event, *, interval_seconds: float = HOUSEKEEPING_INTERVAL_SECONDS
) -> None:
    """Run every purge each interval until ``stop`` is set. A purge that fails is logged and tried
    again next round; it never keeps the others from running, nor ends the loop."""
    while not stop.is_set():
        for what, use_case in _purges(container):
            await _purge(what, use_case)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_seconds)


async def _purge(what: str, use_case: Callable[[], _PurgeUseCase]) -> None:
    try:
        purged = await use_case()()
    except StorageUnavailable:
        logger.warning("housekeeping: database unavailable, %s purged next round", what)
    except TransactionConflict:
        logger.info("housekeeping conflicted with a concurrent transaction, %s purged next round", what)
    except Exception:
        # A defect (a missing table, a bug): logged with its traceback; the other purges still run.
        logger.exception("housekeeping: purging %s failed, tried again next round", what)
    else:
        if purged:
            logger.info("purged %d %s", purged, what)


async def template_sync(container: Container, stop: asyncio.Event, *, interval_seconds: float) -> None:
    """Sync every tenant's templates with its provider accounts each interval until ``stop`` is set (the
    first round one interval after the start: a restart does not call every provider at once). A round
    that fails is logged and the next one runs; a provider that cannot be reached is reported by the
    round and its accounts are left as they are."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_seconds)
        if stop.is_set():
            return
        try:
            report = await container.sync_all_templates()()
        except StorageUnavailable:
            logger.warning("template sync: database unavailable, tried again next round")
        except TransactionConflict:
            logger.info("template sync conflicted with a concurrent transaction, tried again next round")
        except Exception:
            logger.exception("template sync failed, tried again next round")
        else:
            if report.unreachable_accounts or report.failed_tenants:
                logger.warning(
                    "template sync: %d tenant(s) synced, %d provider account(s) unreachable, %d tenant(s) "
                    "failed",
                    report.tenants,
                    report.unreachable_accounts,
                    report.failed_tenants,
                )
