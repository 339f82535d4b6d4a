"""Rate limits counted in sliding windows: in this process's memory, or shared through Redis.

A limit of ``amount`` per ``per_seconds`` keeps two counts per key: the current window's and the
previous one's (windows are aligned on the epoch, numbered ``floor(now / per_seconds)``). The count
that is judged is the previous window's, weighted by how much of it still overlaps the last
``per_seconds``, plus the current one's. Memory does not grow with the limit (a moving window keeps a
timestamp per event: with a large per-address limit, hundreds of thousands per address).

Every event counted is counted in one window of one storage, and its ``Reservation`` names them: a
give-back takes the event out of exactly that window, if the window is still kept and its count above
zero, and never out of another. (A give-back into "whichever window is current" would lower a count
that never held the event once the window turned mid-check, down to below zero.)

Processes sharing Redis number windows from their own clocks; clocks kept in step (NTP) agree on them,
and a skew only moves a window's edges by the skew.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from application.ports.rate_limits import RateLimit, RateLimitState, Reservation

logger = logging.getLogger(__name__)

# A rate limit check is one small script in Redis: a second without an answer is an outage, and no
# request should wait longer than that for it (nor for retries of it).
REDIS_TIMEOUT_SECONDS = 1.0

# Count one event in the current window (KEYS[1]) unless the weighted count is at the limit.
# ARGV: the limit, the previous window's (KEYS[2]) weight, the current counter's lifetime in ms.
# Answers {allowed (0/1), the current count, the previous count}.
_HIT = """
local limit = tonumber(ARGV[1])
local weight = tonumber(ARGV[2])
local current = tonumber(redis.call('get', KEYS[1]) or '0')
local previous = tonumber(redis.call('get', KEYS[2]) or '0')
if math.floor(previous * weight + current) + 1 > limit then
  return {0, current, previous}
end
current = redis.call('incr', KEYS[1])
if current == 1 then
  redis.call('pexpire', KEYS[1], ARGV[3])
end
return {1, current, previous}
"""

# Uncount one event of the window KEYS[1], if it is still kept and above zero.
_GIVE_BACK = """
local count = tonumber(redis.call('get', KEYS[1]) or '0')
if count > 0 then
  return redis.call('decr', KEYS[1])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class _Window:
    """Where ``now`` falls for a limit: the current window's number and the previous one's weight."""

    index: int
    previous_weight: float  # the part of the previous window still inside the last per_seconds
    seconds_left: float  # until the current window ends

    @classmethod
    def at(cls, now: float, per_seconds: int) -> _Window:
        index = math.floor(now / per_seconds)
        left = (index + 1) * per_seconds - now
        return cls(index=index, previous_weight=left / per_seconds, seconds_left=left)


def _state(
    limit: RateLimit, window: _Window, current: int, previous: int, reservation: Reservation | None
) -> RateLimitState:
    weighted = previous * window.previous_weight + current
    # Until the weighted count next drops by one: the previous window's share fades one event every
    # per_seconds / previous seconds; the current window's count all becomes the previous at its end.
    frees_in = math.inf
    if previous:
        frees_in = window.seconds_left % (limit.per_seconds / previous)
    if current:
        frees_in = min(frees_in, window.seconds_left)
    return RateLimitState(
        allowed=reservation is not None,
        limit=limit,
        remaining=max(0, limit.amount - math.floor(weighted)),
        reset_after_seconds=max(1, math.ceil(frees_in)) if frees_in != math.inf else 1,
        reservation=reservation,
    )


class _MemoryWindows:
    """This process's counts: per key and limit, the current window's number and two counts. Every
    operation runs without an await, so it is atomic on the event loop."""

    _PURGE_EVERY_SECONDS = 60.0

    def __init__(self) -> None:
        # (key, amount, per_seconds) -> [window index, current count, previous count]
        self._counts: dict[tuple[str, int, int], list[int]] = {}
        self._purged_at = 0.0

    def hit(self, key: str, limit: RateLimit, now: float) -> tuple[bool, int, int]:
        self._purge(now)
        window = _Window.at(now, limit.per_seconds)
        counts = self._rolled((key, limit.amount, limit.per_seconds), window.index)
        _, current, previous = counts
        if math.floor(previous * window.previous_weight + current) + 1 > limit.amount:
            return False, current, previous
        counts[1] += 1
        return True, counts[1], previous

    def give_back(self, key: str, limit: RateLimit, window_index: int) -> None:
        counts = self._counts.get((key, limit.amount, limit.per_seconds))
        if counts is None:
            return
        if counts[0] == window_index and counts[1] > 0:
            counts[1] -= 1
        elif counts[0] == window_index + 1 and counts[2] > 0:
            counts[2] -= 1

    def _rolled(self, slot: tuple[str, int, int], index: int) -> list[int]:
        counts = self._counts.get(slot)
        if counts is None or counts[0] < index - 1:
            counts = self._counts[slot] = [index, 0, 0]
        elif counts[0] == index - 1:
            counts[:] = [index, 0, counts[1]]
        return counts

    def _purge(self, now: float) -> None:
        """Forget keys whose windows have both gone (both counts would read zero)."""
        if now - self._purged_at < self._PURGE_EVERY_SECONDS:
            return
        self._purged_at = now
        for slot, counts in list(self._counts.items()):
            if counts[0] < math.floor(now / slot[2]) - 1:
                del self._counts[slot]


class _RedisWindows:
    """The counts in Redis, one key per window: ``<prefix>:{<key>/<amount>/<per_seconds>}:<window>`` (the
    braces keep a key's windows on one node of a cluster). A window's key lives until its successor
    ends. A limit changed (another amount) counts afresh, as in memory."""

    def __init__(self, url: str, key_prefix: str) -> None:
        # Imported here: a process without Redis never loads the client (28 MiB of memory).
        import coredis
        import coredis.exceptions
        import coredis.retry

        # What the client raises when Redis cannot be reached or answers nonsense; a connection Redis
        # reset (a restart) can come through as the socket's own error.
        self.failures = (coredis.exceptions.RedisError, OSError, asyncio.TimeoutError)
        self._client = coredis.Redis.from_url(
            url.removeprefix("async+"),
            connect_timeout=REDIS_TIMEOUT_SECONDS,
            stream_timeout=REDIS_TIMEOUT_SECONDS,
            retry_policy=coredis.retry.NoRetryPolicy(),
        )
        self._prefix = key_prefix
        self._hit = self._client.register_script(_HIT)
        self._give_back = self._client.register_script(_GIVE_BACK)

    def _key(self, key: str, limit: RateLimit, window_index: int) -> str:
        return f"{self._prefix}:{{{key}/{limit.amount}/{limit.per_seconds}}}:{window_index}"

    async def hit(self, key: str, limit: RateLimit, now: float) -> tuple[bool, int, int]:
        window = _Window.at(now, limit.per_seconds)
        lifetime_ms = math.ceil((window.seconds_left + limit.per_seconds) * 1000)
        answer = await self._hit(
            keys=[
                self._key(key, limit, window.index),
                self._key(key, limit, window.index - 1),
            ],
            args=[limit.amount, repr(window.previous_weight), lifetime_ms],
        )
        allowed, current, previous = cast(list[int], answer)
        return bool(allowed), current, previous

    async def give_back(self, key: str, limit: RateLimit, window_index: int) -> None:
        await self._give_back(keys=[self._key(key, limit, window_index)], args=[])


class SlidingWindowRateLimiter:
    """Sliding-window limits (see the module). With ``redis_url`` every process sharing that Redis (and
    ``key_prefix``) counts against the same windows; without it, each process keeps its own in memory.

    When Redis cannot be reached, each process counts in its own memory until Redis answers again:
    the limits loosen (each process allows the limit) but still hold, where failing open would let
    anyone guess passwords unchecked, and failing closed would turn a Redis outage into an outage of
    the whole API (the per-address limit runs on nearly every request). Redis is asked again at most
    every ``retry_redis_seconds`` meanwhile (so that an unreachable host does not cost every request a
    timeout), and the outage is logged when it starts, then at most every ``outage_log_seconds``.
    An event counted in one storage is given back to that storage only: one counted in Redis before an
    outage stays counted there if Redis cannot be reached to give it back.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        key_prefix: str = "wa-gateway",
        *,
        retry_redis_seconds: float = 5.0,
        outage_log_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._local = _MemoryWindows()
        self._shared = _RedisWindows(redis_url, key_prefix) if redis_url else None
        self._retry_redis_seconds = retry_redis_seconds
        self._outage_log_seconds = outage_log_seconds
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._redis_down = False
        self._retry_redis_at = 0.0
        self._outage_logged_at: float | None = None

    @property
    def shared(self) -> bool:
        return self._shared is not None

    async def hit(self, key: str, limit: RateLimit) -> RateLimitState:
        now = self._wall_clock()
        window = _Window.at(now, limit.per_seconds)
        if (redis := self._redis_to_ask()) is not None:
            try:
                allowed, current, previous = await redis.hit(key, limit, now)
            except redis.failures as error:
                self._redis_failed(error)
            else:
                self._redis_answered()
                return _state(
                    limit,
                    window,
                    current,
                    previous,
                    self._reservation(key, limit, window, allowed, shared=True),
                )
        allowed, current, previous = self._local.hit(key, limit, now)
        return _state(
            limit, window, current, previous, self._reservation(key, limit, window, allowed, shared=False)
        )

    async def give_back(self, reservation: Reservation) -> None:
        limit = reservation.limit
        if not reservation.shared:
            self._local.give_back(reservation.key, limit, reservation.window)
            return
        redis = self._redis_to_ask()
        if redis is None:  # down: it stays counted there (counting it here would lower nothing)
            return
        try:
            await redis.give_back(reservation.key, limit, reservation.window)
        except redis.failures as error:
            self._redis_failed(error)
        else:
            self._redis_answered()

    @staticmethod
    def _reservation(
        key: str, limit: RateLimit, window: _Window, allowed: bool, *, shared: bool
    ) -> Reservation | None:
        return Reservation(key=key, limit=limit, window=window.index, shared=shared) if allowed else None

    def _redis_to_ask(self) -> _RedisWindows | None:
        """Redis, unless there is none or it is down and not yet due to be asked again."""
        if self._shared is None or (self._redis_down and self._monotonic() < self._retry_redis_at):
            return None
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
                "rate limit storage %s (%r): limits are counted in this process's memory until it answers",
                "unreachable" if started else "still unreachable",
                error,
            )

    def _redis_answered(self) -> None:
        if self._redis_down:
            self._redis_down = False
            self._outage_logged_at = None
            logger.warning("rate limit storage reachable again: limits are shared again")
