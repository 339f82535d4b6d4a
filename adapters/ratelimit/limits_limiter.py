"""Rate limits on the `limits` library."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from application.ports import RateLimit, RateLimitState


class LimitsRateLimiter:
    """Moving-window limits, kept in this process's memory."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @staticmethod
    def _item(limit: RateLimit) -> RateLimitItem:
        return RateLimitItemPerSecond(limit.amount, limit.per_seconds)

    async def hit(self, key: str, limit: RateLimit) -> RateLimitState:
        item = self._item(limit)
        allowed = await self._limiter.hit(item, key)
        return await self._state(item, key, limit, allowed)

    async def peek(self, key: str, limit: RateLimit) -> RateLimitState:
        item = self._item(limit)
        allowed = await self._limiter.test(item, key)
        return await self._state(item, key, limit, allowed)

    async def _state(self, item: RateLimitItem, key: str, limit: RateLimit, allowed: bool) -> RateLimitState:
        stats = await self._limiter.get_window_stats(item, key)
        reset_after = max(1, math.ceil(stats.reset_time - time.time()))
        return RateLimitState(
            allowed=allowed, limit=limit, remaining=max(0, stats.remaining), reset_after_seconds=reset_after
        )
