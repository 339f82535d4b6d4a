"""Rate limits on the `limits` library: in this process's memory, or shared through Redis."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from application.ports import RateLimit, RateLimitState

logger = logging.getLogger(__name__)

# A rate limit check is one small script in Redis: a second without an answer is an outage, and no
# request should wait longer than that for it (coredis waits as long as the operating system lets it).
REDIS_TIMEOUT_SECONDS = 1.0


# What the client library raises is wrapped in StorageError; a connection Redis reset (a restart) comes
# through as the socket's own error.
_REDIS_FAILURES = (StorageError, OSError)


def _redis_storage_uri(url: str) -> str:
    # `limits` names its asyncio storages async+redis://...; accept the usual redis:// form too.
    return url if url.startswith("async+") else f"async+{url}"


class LimitsRateLimiter:
    """Sliding-window limits: a key keeps its current and previous window's counts, weighted, so its
    memory does not grow with the limit (a moving window keeps a timestamp per event: with a large
    per-address limit, hundreds of thousands per address). With ``redis_url`` every process sharing
    that Redis (and ``key_prefix``) counts against the same windows; without it, each process keeps
    its own in memory.

    When Redis cannot be reached, each process counts in its own memory until Redis answers again:
    the limits loosen (each process allows the limit) but still hold, where failing open would let
    anyone guess passwords unchecked, and failing closed would turn a Redis outage into an outage of
    the whole API (the per-address limit runs on nearly every request). Redis is asked again at most
    every ``retry_redis_seconds`` meanwhile (so that an unreachable host does not cost every request a
    timeout), and the outage is logged when it starts, then at most every ``outage_log_seconds``.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        key_prefix: str = "wa-gateway",
        *,
        retry_redis_seconds: float = 5.0,
        outage_log_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._local = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._shared = (
            SlidingWindowCounterRateLimiter(
                RedisStorage(
                    _redis_storage_uri(redis_url),
                    key_prefix=key_prefix,
                    wrap_exceptions=True,
                    connect_timeout=REDIS_TIMEOUT_SECONDS,
                    stream_timeout=REDIS_TIMEOUT_SECONDS,
                )
            )
            if redis_url
            else None
        )
        self._retry_redis_seconds = retry_redis_seconds
        self._outage_log_seconds = outage_log_seconds
        self._monotonic = monotonic
        self._redis_down = False
        self._retry_redis_at = 0.0
        self._outage_logged_at: float | None = None

    @property
    def shared(self) -> bool:
        return self._shared is not None

    @staticmethod
    def _item(limit: RateLimit) -> RateLimitItem:
        return RateLimitItemPerSecond(limit.amount, limit.per_seconds)

    async def hit(self, key: str, limit: RateLimit) -> RateLimitState:
        item = self._item(limit)
        limiter = self._limiter()
        if limiter is not self._local:
            try:
                allowed = await limiter.hit(item, key)
                state = await self._state(limiter, item, key, limit, allowed)
            except _REDIS_FAILURES as error:
                self._redis_failed(error)
            else:
                self._redis_answered()
                return state
        allowed = await self._local.hit(item, key)
        return await self._state(self._local, item, key, limit, allowed)

    async def give_back(self, key: str, limit: RateLimit) -> None:
        # A hit of negative cost: the same atomic script, decrementing the current window. (Given back
        # after the window moved on, the count comes out one lower than it was: one attempt more.)
        item = self._item(limit)
        limiter = self._limiter()
        if limiter is not self._local:
            try:
                await limiter.hit(item, key, cost=-1)
            except _REDIS_FAILURES as error:
                self._redis_failed(error)
            else:
                self._redis_answered()
                return
        await self._local.hit(item, key, cost=-1)

    def _limiter(self) -> SlidingWindowCounterRateLimiter:
        """Redis, unless it is down and not yet due to be asked again; this process's memory otherwise."""
        if self._shared is None or (self._redis_down and self._monotonic() < self._retry_redis_at):
            return self._local
        return self._shared

    def _redis_failed(self, error: Exception) -> None:
        now = self._monotonic()
        self._retry_redis_at = now + self._retry_redis_seconds
        started = not self._redis_down
        self._redis_down = True
        if (
            started
            or self._outage_logged_at is None
            or now - self._outage_logged_at >= self._outage_log_seconds
        ):
            self._outage_logged_at = now
            logger.error(
                "rate limit storage %s (%s): limits are counted in this process's memory until it answers",
                "unreachable" if started else "still unreachable",
                error.storage_error if isinstance(error, StorageError) else repr(error),
            )

    def _redis_answered(self) -> None:
        if self._redis_down:
            self._redis_down = False
            self._outage_logged_at = None
            logger.warning("rate limit storage reachable again: limits are shared again")

    @staticmethod
    async def _state(
        limiter: SlidingWindowCounterRateLimiter,
        item: RateLimitItem,
        key: str,
        limit: RateLimit,
        allowed: bool,
    ) -> RateLimitState:
        stats = await limiter.get_window_stats(item, key)
        reset_after = max(1, math.ceil(stats.reset_time - time.time()))
        return RateLimitState(
            allowed=allowed, limit=limit, remaining=max(0, stats.remaining), reset_after_seconds=reset_after
        )
