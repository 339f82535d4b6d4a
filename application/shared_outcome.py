"""One answer for many callers: computed once for everyone who asks while it is being computed, and
kept for a moment after, so that a flood of callers costs one computation a moment, not one each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedOutcome(Generic[T]):
    """The outcome of ``compute`` (its value, or the error it raised), shared.

    A caller that finds an outcome younger than ``max_age_seconds`` gets it at once; otherwise it waits
    for the computation under way, starting one if there is none. A caller that gives up waiting (its
    request was cancelled) does not cancel the computation the others wait for.
    """

    def __init__(
        self,
        compute: Callable[[], Awaitable[T]],
        *,
        max_age_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compute = compute
        self._max_age_seconds = max_age_seconds
        self._monotonic = monotonic
        self._running: asyncio.Future[T] | None = None
        self._outcome: asyncio.Future[T] | None = None
        self._computed_at = 0.0

    async def get(self) -> T:
        outcome = self._outcome
        if outcome is not None and self._monotonic() - self._computed_at < self._max_age_seconds:
            return outcome.result()
        if self._running is None:
            self._running = asyncio.ensure_future(self._compute())
            self._running.add_done_callback(self._keep)
        return await asyncio.shield(self._running)

    def forget(self) -> None:
        """The outcome kept is out of date: the next caller computes it again."""
        self._outcome = None

    def _keep(self, computed: asyncio.Future[T]) -> None:
        self._running = None
        if not computed.cancelled():
            computed.exception()  # looked at: an error nobody waited for any more is no warning
            self._outcome, self._computed_at = computed, self._monotonic()
