"""The sliding-window rate limiter in this process's memory: what it admits, and what a give-back undoes."""

from __future__ import annotations

from dataclasses import replace

from adapters.ratelimit.sliding_window import SlidingWindowRateLimiter
from application.ports.rate_limits import RateLimit

LIMIT = RateLimit(amount=2, per_seconds=60)
START_OF_A_WINDOW = 60.0 * 29_000_000


class WallClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_a_limit_admits_its_amount_then_refuses() -> None:
    limiter = SlidingWindowRateLimiter(wall_clock=WallClock(START_OF_A_WINDOW + 10))

    states = [await limiter.hit("k", LIMIT) for _ in range(3)]

    assert [state.allowed for state in states] == [True, True, False]
    assert [state.remaining for state in states] == [1, 0, 0]
    assert states[2].reservation is None
    assert 1 <= states[2].reset_after_seconds <= 60


async def test_the_previous_windows_count_fades_as_the_window_slides() -> None:
    clock = WallClock(START_OF_A_WINDOW + 30)
    limiter = SlidingWindowRateLimiter(wall_clock=clock)
    for _ in range(3):
        await limiter.hit("k", RateLimit(amount=3, per_seconds=60))

    # 59 of the last 60 seconds are the previous window's: its 3 weigh 2.95, counted as 2.
    clock.now = START_OF_A_WINDOW + 61
    assert [(await limiter.hit("k", RateLimit(3, 60))).allowed for _ in range(2)] == [True, False]
    # 20 of them: its 3 weigh 1, and the current window holds 1.
    clock.now = START_OF_A_WINDOW + 100
    assert [(await limiter.hit("k", RateLimit(3, 60))).allowed for _ in range(2)] == [True, False]


async def test_an_event_given_back_frees_its_place() -> None:
    limiter = SlidingWindowRateLimiter(wall_clock=WallClock(START_OF_A_WINDOW + 10))
    await limiter.hit("k", LIMIT)
    reserved = await limiter.hit("k", LIMIT)
    assert reserved.reservation is not None

    await limiter.give_back(reserved.reservation)

    assert (await limiter.hit("k", LIMIT)).allowed
    assert not (await limiter.hit("k", LIMIT)).allowed


async def test_an_event_given_back_after_its_window_turned_leaves_the_new_window_its_full_limit() -> None:
    clock = WallClock(START_OF_A_WINDOW + 59.5)
    limiter = SlidingWindowRateLimiter(wall_clock=clock)
    reserved = await limiter.hit("k", LIMIT)
    assert reserved.reservation is not None

    clock.now = START_OF_A_WINDOW + 60.5  # the window turns while the attempt is being judged
    await limiter.give_back(reserved.reservation)

    assert [(await limiter.hit("k", LIMIT)).allowed for _ in range(3)] == [True, True, False]


async def test_giving_back_more_than_was_counted_never_takes_a_count_below_zero() -> None:
    limiter = SlidingWindowRateLimiter(wall_clock=WallClock(START_OF_A_WINDOW + 10))
    reserved = await limiter.hit("k", LIMIT)
    assert reserved.reservation is not None

    for _ in range(3):
        await limiter.give_back(reserved.reservation)

    assert [(await limiter.hit("k", LIMIT)).allowed for _ in range(3)] == [True, True, False]


async def test_an_event_given_back_after_its_window_has_gone_changes_nothing() -> None:
    clock = WallClock(START_OF_A_WINDOW + 10)
    limiter = SlidingWindowRateLimiter(wall_clock=clock)
    reserved = await limiter.hit("k", LIMIT)
    assert reserved.reservation is not None
    clock.now = START_OF_A_WINDOW + 125
    await limiter.hit("k", LIMIT)
    await limiter.hit("k", LIMIT)

    await limiter.give_back(reserved.reservation)

    assert not (await limiter.hit("k", LIMIT)).allowed


async def test_an_event_counted_in_redis_is_never_given_back_in_memory() -> None:
    limiter = SlidingWindowRateLimiter(wall_clock=WallClock(START_OF_A_WINDOW + 10))
    for _ in range(2):
        await limiter.hit("k", LIMIT)
    counted_in_memory = await limiter.hit("other", LIMIT)
    assert counted_in_memory.reservation is not None

    # As if Redis had counted it before an outage: there is no Redis to give it back to.
    await limiter.give_back(replace(counted_in_memory.reservation, key="k", shared=True))

    assert not (await limiter.hit("k", LIMIT)).allowed


async def test_another_limit_on_one_key_counts_apart() -> None:
    limiter = SlidingWindowRateLimiter(wall_clock=WallClock(START_OF_A_WINDOW + 10))
    for _ in range(2):
        await limiter.hit("k", LIMIT)

    assert (await limiter.hit("k", RateLimit(amount=2, per_seconds=3600))).allowed
    assert (await limiter.hit("k", RateLimit(amount=3, per_seconds=60))).allowed
