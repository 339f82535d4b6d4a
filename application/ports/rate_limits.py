"""Rate limits: reserving a request against one or several sliding windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``amount`` events per ``per_seconds``."""

    amount: int
    per_seconds: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """One event a limiter counted, as it needs it to uncount exactly that one: the key, its limit,
    the window that counted it and whether it was counted in shared storage. Opaque outside the
    limiter: only ``give_back`` reads it."""

    key: str
    limit: RateLimit
    window: int
    shared: bool


@dataclass(frozen=True, slots=True)
class RateLimitState:
    allowed: bool
    limit: RateLimit
    remaining: int
    reset_after_seconds: int
    reservation: Reservation | None = None  # what was counted, when allowed


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: RateLimit) -> RateLimitState:
        """Count one event under ``key``; ``allowed`` is False once the limit is exceeded (and then
        nothing was counted). Atomic: of any number of concurrent hits, at most the limit are allowed."""
        ...

    async def give_back(self, reservation: Reservation) -> None:
        """Uncount one event that ``hit`` allowed: an attempt reserved before it was known whether it
        counts, that turned out not to (a login that succeeded). Only from the window and the storage
        that counted it, and never below zero: given back after its window has gone, it changes nothing."""
        ...
