"""The loop the dispatcher and the webhook worker share, run over an in-memory queue of numbers."""

from __future__ import annotations

import asyncio
import logging

import pytest

from application.errors import StorageUnavailable
from application.polling_worker import PollingWorker

logger = logging.getLogger(__name__)


class Numbers(PollingWorker[int, int, int]):
    """Claims numbers from a list; running one waits for its gate (if any) and returns its square."""

    name = "number worker"
    activity = "squaring"
    drain_seconds = 5.0
    _logger = logger

    def __init__(
        self, queue: list[int], *, max_concurrent: int = 2, poll_interval_seconds: float = 0.01
    ) -> None:
        super().__init__(
            owner="w1",
            batch_size=10,
            poll_interval_seconds=poll_interval_seconds,
            max_concurrent=max_concurrent,
        )
        self.queue = queue
        self.gates: dict[int, asyncio.Event] = {}
        self.results: list[int] = []
        self.peak = 0
        self.claim_failures: list[Exception] = []
        self.working = asyncio.Event()  # set once an item starts running

    async def _claim_due(self, limit: int) -> list[int]:
        if self.claim_failures:
            raise self.claim_failures.pop(0)
        claimed, self.queue[:] = self.queue[:limit], self.queue[limit:]
        return claimed

    def _key(self, item: int) -> int:
        return item

    async def _work(self, item: int) -> int:
        self.peak = max(self.peak, self.in_flight)
        self.working.set()
        if item in self.gates:
            await self.gates[item].wait()
        if item < 0:
            raise StorageUnavailable("the database went away")
        if item == 13:
            raise RuntimeError("a bug")
        self.results.append(item * item)
        return item * item


async def run_until(worker: Numbers, done: asyncio.Event | None = None) -> None:
    """Run ``worker`` until its queue is empty and nothing is in flight (or ``done`` is set), then stop."""
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop))
    for _ in range(500):
        if (done is not None and done.is_set()) or (not worker.queue and worker.in_flight == 0):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(loop, timeout=10)


async def test_it_runs_everything_due_but_never_more_than_max_concurrent_at_once() -> None:
    worker = Numbers(list(range(1, 8)), max_concurrent=2)

    await run_until(worker)

    assert sorted(worker.results) == [n * n for n in range(1, 8)]
    assert worker.peak <= 2


async def test_an_item_that_fails_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = Numbers([-1, 13, 2])

    await run_until(worker)

    assert worker.results == [4]
    messages = [record.getMessage() for record in caplog.records]
    assert "database unavailable while squaring -1; it will be retried" in messages
    assert "squaring 13 failed; it will be retried when its lease ends" in messages


async def test_a_failing_claim_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    worker = Numbers([3])
    worker.claim_failures = [StorageUnavailable("down"), RuntimeError("a bug in the claim")]

    await run_until(worker)

    assert worker.results == [9]
    messages = [record.getMessage() for record in caplog.records]
    assert "number worker cannot reach the database (attempt 1)" in messages
    assert "number worker's claim failed (attempt 2); it will try again" in messages


async def test_stopping_waits_for_what_is_in_flight() -> None:
    worker = Numbers([5])
    worker.gates[5] = asyncio.Event()
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(worker.working.wait(), timeout=5)

    stop.set()
    await asyncio.sleep(0.05)
    assert not loop.done(), "the loop waits for the item it runs"
    worker.gates[5].set()
    await asyncio.wait_for(loop, timeout=5)

    assert worker.results == [25]


async def test_notify_ends_the_pause_without_waiting_for_the_next_poll() -> None:
    worker = Numbers([], poll_interval_seconds=60.0)  # only a notification can end the pause in time
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.05)

    worker.queue.append(4)
    worker.notify()
    for _ in range(100):
        if worker.results:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(loop, timeout=5)

    assert worker.results == [16]
