"""Rate limits on the `limits` library: in this process's memory, or shared through Redis."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from application.ports import RateLimit, RateLimitState

logger = logging.getLogger(__name__)


def _redis_storage_uri(url: str) -> str:
    # `limits` names its asyncio storages async+redis://...; accept the usual redis:// form too.
    return url if url.startswith("async+") else f"async+{url}"


class LimitsRateLimiter:
    """Sliding-window limits: a key keeps its current and previous window's counts, weighted, so its
    memory does not grow with the limit (a moving window keeps a timestamp per event: with a large
    per-address limit, hundreds of thousands per address). With ``redis_url`` every process sharing
    that Redis (and ``key_prefix``) counts against the same windows; without it, each process keeps
    its own in memory.

    When Redis cannot be reached the limits fail open (the event is allowed, and an error is logged):
    the per-address limit runs on every request, /healthz included, so failing closed would turn a Redis
    outage into an outage of the whole API.
    """

    def __init__(self, redis_url: str | None = None, key_prefix: str = "wa-gateway") -> None:
        storage: Storage
        if redis_url:
            storage = RedisStorage(_redis_storage_uri(redis_url), key_prefix=key_prefix, wrap_exceptions=True)
        else:
            storage = MemoryStorage()
        self._storage = storage
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    @property
    def shared(self) -> bool:
        return not isinstance(self._storage, MemoryStorage)

    @staticmethod
    def _item(limit: RateLimit) -> RateLimitItem:
        return RateLimitItemPerSecond(limit.amount, limit.per_seconds)

    async def hit(self, key: str, limit: RateLimit) -> RateLimitState:
        item = self._item(limit)
        try:
            allowed = await self._limiter.hit(item, key)
            return await self._state(item, key, limit, allowed)
        except StorageError as error:
            return self._unavailable(limit, error)

    async def peek(self, key: str, limit: RateLimit) -> RateLimitState:
        item = self._item(limit)
        try:
            allowed = await self._limiter.test(item, key)
            return await self._state(item, key, limit, allowed)
        except StorageError as error:
            return self._unavailable(limit, error)

    @staticmethod
    def _unavailable(limit: RateLimit, error: StorageError) -> RateLimitState:
        logger.error("rate limit storage unavailable, allowing the event: %s", error.storage_error)
        return RateLimitState(
            allowed=True, limit=limit, remaining=limit.amount, reset_after_seconds=limit.per_seconds
        )

    async def _state(self, item: RateLimitItem, key: str, limit: RateLimit, allowed: bool) -> RateLimitState:
        stats = await self._limiter.get_window_stats(item, key)
        reset_after = max(1, math.ceil(stats.reset_time - time.time()))
        return RateLimitState(
            allowed=allowed, limit=limit, remaining=max(0, stats.remaining), reset_after_seconds=reset_after
        )
