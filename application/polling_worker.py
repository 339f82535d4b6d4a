"""The loop every background worker runs: claim due work from the database, run it, poll again.

The dispatcher (dispatch jobs) and the webhook worker (tenant webhook deliveries) are both one of these.
Each claims what is due with a lease in its owner's name, so any number of workers share a queue
through the database, and an item whose worker died comes back when its lease runs out. A worker runs a
bounded number of items at a time, polls again at once while the queue fills its batches and waits
between polls when it does not, backs off while the database fails it, and on stop gives what it runs a
chance to end.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Hashable
from typing import ClassVar, Generic, TypeVar

from application.errors import StorageUnavailable, TransactionConflict

Item = TypeVar("Item")
Key = TypeVar("Key", bound=Hashable)
Result = TypeVar("Result")

MAX_PAUSE_SECONDS = 5.0


def worker_identity() -> str:
    """A name for the leases a worker takes: unique to this worker, readable by an operator."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class PollingWorker(abc.ABC, Generic[Item, Key, Result]):
    """Claims due items and runs each in a task of its own, at most ``max_concurrent`` at a time.

    A subclass says how to claim (``_claim_due``), how an item is known (``_key``) and what running one
    does (``_work``); it may count what it holds (``_started``, ``_ended``) and add log context
    (``_log_context``). Its log lines go to the subclass's own logger and read as before: they name the
    worker (``name``) and what running an item is called (``activity``).
    """

    name: ClassVar[str]  # in the logs: "dispatcher", "webhook worker"
    activity: ClassVar[str]  # in the logs: "dispatching", "delivering webhook"
    drain_seconds: ClassVar[float]  # how long a stopping worker waits for what it runs
    _logger: ClassVar[logging.Logger]

    def __init__(
        self,
        *,
        owner: str | None,
        batch_size: int,
        poll_interval_seconds: float,
        max_concurrent: int,
    ) -> None:
        self.owner = owner or worker_identity()
        self._batch_size = batch_size
        self._poll_interval_seconds = poll_interval_seconds
        self._max_concurrent = max_concurrent
        self._in_flight: dict[Key, asyncio.Task[Result | None]] = {}
        self._wakeup = asyncio.Event()

    @abc.abstractmethod
    async def _claim_due(self, limit: int) -> list[Item]:
        """Lease up to ``limit`` due items in ``self.owner``'s name (committed before they run)."""

    @abc.abstractmethod
    def _key(self, item: Item) -> Key:
        """What tells one item from another (and names it in the logs)."""

    @abc.abstractmethod
    async def _work(self, item: Item) -> Result | None:
        """Run one leased item. What it raises is logged; its lease brings the item back."""

    def _started(self, item: Item) -> None:
        """Called as an item's task is created, before it first runs."""

    def _ended(self, item: Item) -> None:
        """Called once an item's task has ended, however it ended."""

    def _log_context(self, item: Item) -> contextlib.AbstractContextManager[None]:
        """Wraps all of one item's run, its failure logged included."""
        return contextlib.nullcontext()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def running(self, key: Key) -> asyncio.Task[Result | None] | None:
        """This worker's task for the item, if it is running it right now."""
        return self._in_flight.get(key)

    def notify(self) -> None:
        """New work may be due: claim without waiting for the next poll."""
        self._wakeup.set()

    def start(self, item: Item) -> asyncio.Task[Result | None]:
        """Run a leased item in the background; the task is kept until it ends."""
        key = self._key(item)
        task = asyncio.create_task(self._run(item), name=f"{self.activity} {key}")
        self._in_flight[key] = task
        self._started(item)
        task.add_done_callback(lambda _: self._release(item))
        return task

    def _release(self, item: Item) -> None:
        self._in_flight.pop(self._key(item), None)
        self._ended(item)

    async def _run(self, item: Item) -> Result | None:
        with self._log_context(item):
            try:
                return await self._work(item)
            except StorageUnavailable:
                # The lease runs out and the item comes back: nothing is lost.
                self._logger.warning(
                    "database unavailable while %s %s; it will be retried", self.activity, self._key(item)
                )
            except Exception:
                self._logger.exception(
                    "%s %s failed; it will be retried when its lease ends", self.activity, self._key(item)
                )
            return None

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run due items until ``stop`` is set, then wait for those in flight."""
        logger = self._logger
        logger.info("%s %s started", self.name, self.owner)
        failures = 0
        while not stop.is_set():
            free = self._max_concurrent - len(self._in_flight)
            claimed: list[Item] = []
            if free > 0:
                try:
                    claimed = await self._claim_due(min(free, self._batch_size))
                    failures = 0
                except StorageUnavailable:
                    failures += 1
                    logger.warning("%s cannot reach the database (attempt %d)", self.name, failures)
                except TransactionConflict:
                    # The database is there; the claim lost to a concurrent transaction: the next one.
                    logger.info("%s's claim conflicted with a concurrent transaction", self.name)
                except Exception:
                    # A loop that stopped here would leave its queue unserved, unnoticed: log, back off.
                    failures += 1
                    logger.exception("%s's claim failed (attempt %d); it will try again", self.name, failures)
            for item in claimed:
                if self._key(item) not in self._in_flight:  # still running though its lease ran out
                    self.start(item)
            if len(claimed) < self._batch_size or free <= 0:
                # A full batch means more may be due: claim again at once. Otherwise wait, longer while
                # the database keeps failing.
                backoff = self._poll_interval_seconds * (2 ** min(failures, 4))
                await self._pause(min(MAX_PAUSE_SECONDS, backoff), stop)
        await self.drain()
        logger.info("%s %s stopped", self.name, self.owner)

    async def start_due(self) -> list[asyncio.Task[Result | None]]:
        """Claim what is due now, up to the free slots, and start it; the tasks started."""
        limit = min(self._batch_size, self._max_concurrent - len(self._in_flight))
        claimed = await self._claim_due(limit) if limit > 0 else []
        return [self.start(item) for item in claimed if self._key(item) not in self._in_flight]

    async def run_due(self) -> list[Result]:
        """Claim what is due now (up to the free slots), run it all, and return the results of those
        that ended with one."""
        tasks = await self.start_due()
        ended = await asyncio.gather(*tasks) if tasks else []
        return [result for result in ended if result is not None]

    async def drain(self, grace_seconds: float | None = None) -> None:
        """Give the items in flight a chance to end; the leases of any still running cover them."""
        if self._in_flight:
            timeout = self.drain_seconds if grace_seconds is None else grace_seconds
            await asyncio.wait(list(self._in_flight.values()), timeout=timeout)

    async def _pause(self, seconds: float, stop: asyncio.Event) -> None:
        self._wakeup.clear()
        waiters = [asyncio.ensure_future(self._wakeup.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
