"""Attempts limited by how many of them fail (logins, current-password checks).

An attempt is counted *before* it is judged, and given back if it succeeds: counting only after a
failure would let any number of concurrent attempts pass one look at the count before the first of
them is recorded (30 wrong passwords sent at once were all checked under a limit of 10).
"""

from __future__ import annotations

from collections.abc import Sequence

from application.errors import RateLimited
from application.ports import RateLimit, RateLimiter


async def reserve_attempt(
    limiter: RateLimiter, keys: Sequence[str], limit: RateLimit, *, refusal: str, scope: str
) -> None:
    """Count one attempt under every key, or none and raise RateLimited if any key is at its limit."""
    reserved: list[str] = []
    for key in keys:
        state = await limiter.hit(key, limit)
        if not state.allowed:
            await give_back_attempt(limiter, reserved, limit)
            raise RateLimited(
                refusal,
                retry_after_seconds=state.reset_after_seconds,
                limit=limit.amount,
                window_seconds=limit.per_seconds,
                scope=scope,
            )
        reserved.append(key)


async def give_back_attempt(limiter: RateLimiter, keys: Sequence[str], limit: RateLimit) -> None:
    """Uncount an attempt reserved under ``keys`` that turned out not to count (it succeeded)."""
    for key in keys:
        await limiter.give_back(key, limit)
