"""Readiness and the queue gauges: one question to the database a second, however many ask."""

from __future__ import annotations

import asyncio

import pytest

from application.errors import StorageUnavailable
from application.operations.measurements import MeasureDispatchQueue
from application.operations.readiness import CheckReadiness
from tests.support.fakes import FakeMetrics, FakeUnitOfWork, FixedClock


class Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class PingedUnitOfWork(FakeUnitOfWork):
    """Counts the times the database is asked (a transaction begun: a connection from the pool)."""

    pings = 0

    async def __aenter__(self) -> PingedUnitOfWork:
        PingedUnitOfWork.pings += 1
        await asyncio.sleep(0)  # another probe may arrive meanwhile
        return await super().__aenter__()


@pytest.fixture
def database() -> PingedUnitOfWork:
    PingedUnitOfWork.pings = 0
    return PingedUnitOfWork()


async def test_the_database_is_asked_again_once_the_answer_is_a_second_old(
    database: PingedUnitOfWork,
) -> None:
    monotonic = Monotonic()
    check = CheckReadiness(lambda: database, monotonic=monotonic)

    await check()
    monotonic.now += 0.9
    await check()
    assert PingedUnitOfWork.pings == 1

    monotonic.now += 0.2
    await check()
    assert PingedUnitOfWork.pings == 2


async def test_an_outage_is_one_answer_for_every_probe_of_that_second(database: PingedUnitOfWork) -> None:
    monotonic = Monotonic()
    check = CheckReadiness(lambda: database, monotonic=monotonic)
    database.available = False

    outcomes = await asyncio.gather(*(check() for _ in range(10)), return_exceptions=True)
    database.available = True
    after = await asyncio.gather(check(), return_exceptions=True)

    assert all(isinstance(outcome, StorageUnavailable) for outcome in [*outcomes, *after])
    assert PingedUnitOfWork.pings == 1
    monotonic.now += 1
    await check()  # the database is back: so is readiness, a second later at most


async def test_a_probe_that_gives_up_does_not_cancel_the_others_answer(database: PingedUnitOfWork) -> None:
    check = CheckReadiness(lambda: database, monotonic=Monotonic())
    impatient = asyncio.ensure_future(check())
    patient = asyncio.ensure_future(check())
    await asyncio.sleep(0)

    impatient.cancel()
    await patient

    assert PingedUnitOfWork.pings == 1


async def test_scrapes_of_one_second_share_one_measurement_of_the_queue(clock: FixedClock) -> None:
    monotonic, metrics, uow = Monotonic(), FakeMetrics(), FakeUnitOfWork()
    measure = MeasureDispatchQueue(lambda: uow, clock, metrics, monotonic=monotonic)

    await asyncio.gather(*(measure() for _ in range(10)))
    monotonic.now += 1
    await measure()

    assert metrics.named("dispatch_queue") == [(0, None), (0, None)]
