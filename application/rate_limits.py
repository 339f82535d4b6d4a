"""Counting against rate limits: several limits at once or none, and attempts that count only if they fail.

An attempt limited by how many of them fail (a login, a current-password check, a Twilio signature
check) is counted *before* it is judged, and given back unless it failed: counting only after a
failure would let any number of concurrent attempts pass one look at the count before the first of
them is recorded (30 wrong passwords sent at once were all checked under a limit of 10). "Unless it
failed" means exactly that: an attempt that could not be judged (the database did not answer, a
transaction conflicted) is given back like one that succeeded, so that an outage never counts as
failures and locks anyone out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from application.errors import RateLimited
from application.ports.rate_limits import RateLimit, RateLimiter, Reservation


@dataclass(frozen=True, slots=True)
class CountedLimit:
    """One limit to count against: its key and limit, and what a refusal says (``refusal``, ``scope``)."""

    key: str
    limit: RateLimit
    refusal: str
    scope: str


async def count_against(limiter: RateLimiter, limits: Sequence[CountedLimit]) -> list[Reservation]:
    """Count one under every limit, or none: at the first that is reached, the counts already taken are
    given back and RateLimited says which limit it was."""
    reservations: list[Reservation] = []
    for counted in limits:
        state = await limiter.hit(counted.key, counted.limit)
        if state.reservation is None:
            await give_back(limiter, reservations)
            raise RateLimited(
                counted.refusal,
                retry_after_seconds=state.reset_after_seconds,
                limit=counted.limit.amount,
                window_seconds=counted.limit.per_seconds,
                scope=counted.scope,
            )
        reservations.append(state.reservation)
    return reservations


async def give_back(limiter: RateLimiter, reservations: Sequence[Reservation]) -> None:
    """Uncount what ``count_against`` counted."""
    for reservation in reservations:
        await limiter.give_back(reservation)


@asynccontextmanager
async def attempt(
    limiter: RateLimiter | None,
    limits: Sequence[CountedLimit],
    *,
    failure: type[Exception],
) -> AsyncIterator[None]:
    """Count the attempt the block makes against ``limits`` (RateLimited, and the block does not run,
    when one is reached); it stays counted if the block raises ``failure``, and is given back whatever
    else happens: it succeeded, or it could not be judged."""
    reservations = await count_against(limiter, limits) if limiter is not None else []
    try:
        yield
    except failure:
        raise
    except BaseException:
        if limiter is not None:
            await give_back(limiter, reservations)
        raise
    if limiter is not None:
        await give_back(limiter, reservations)
