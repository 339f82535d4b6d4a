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


class Versioned(Generic[T]):
    """A value as read, and the version of what it was read from when the read began."""

    __slots__ = ("value", "version")

    def __init__(self, value: T, version: int | None) -> None:
        self.value = value
        self.version = version


class VersionedOutcome(Generic[T]):
    """A ``SharedOutcome`` of a read that knows whether it is still current.

    ``version`` moves whenever what ``read`` reads changes, and is None when nobody can tell. A read
    whose version moved is read again by the next caller; one whose version holds is ``current``: it is
    the source's answer too. Without a version it is only as fresh as ``max_age_seconds``.
    """

    def __init__(
        self,
        read: Callable[[], Awaitable[T]],
        *,
        version: Callable[[], int | None] | None = None,
        max_age_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_value = read
        self._version = version if version is not None else _unknown_version
        self._reads = SharedOutcome(self._read, max_age_seconds=max_age_seconds, monotonic=monotonic)

    async def get(self) -> Versioned[T]:
        """The value read (again, if its version moved since); raises what ``read`` raises."""
        read = await self._reads.get()
        version = self._version()
        if version is not None and version != read.version:
            self._reads.forget()
            read = await self._reads.get()
        return read

    def current(self, read: Versioned[T]) -> bool:
        """Whether nothing changed since ``read`` began."""
        version = self._version()
        return version is not None and version == read.version

    def forget(self) -> None:
        """What was read is out of date: the next caller reads again."""
        self._reads.forget()

    async def _read(self) -> Versioned[T]:
        # Taken before the read: a change committed meanwhile moves the version past it.
        version = self._version()
        return Versioned(await self._read_value(), version)


def _unknown_version() -> int | None:
    return None
