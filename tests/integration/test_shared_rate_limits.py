"""Rate limits shared through Redis: two `wa-gateway serve` processes count against one window."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from adapters.ratelimit.sliding_window import SlidingWindowRateLimiter
from application.identity.authenticate import Authenticate
from application.identity.sessions import SessionPolicy
from application.ports.rate_limits import RateLimit
from tests.support.api import ApiOptions, running_api
from tests.support.fakes import (
    FakePasswordHasher,
    FakeTokenService,
    FakeUnitOfWork,
    FixedClock,
    provision_account,
)
from tests.support.gateways import free_port, served_gateway

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = 11  # a database of its own; the key prefix is unique to each run besides
FAILURE_LIMIT = RateLimit(amount=10, per_seconds=60)
SESSIONS = SessionPolicy(lifetime=timedelta(days=1))


def redis_reachable() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    if not redis_reachable():
        reason = f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"


@pytest.fixture
def two_gateways(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, str]]:
    settings = {
        "REDIS_URL": redis_url,
        "RATE_LIMIT_KEY_PREFIX": f"wa-gateway-test-{uuid.uuid4().hex}",
        "LOGIN_ATTEMPTS_PER_MINUTE": "3",
        "EMBEDDED_DISPATCHER": "false",
    }
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    with served_gateway(first, settings) as one, served_gateway(second, settings) as other:
        yield one, other


def test_failed_logins_on_one_process_are_refused_by_the_other(two_gateways: tuple[str, str]) -> None:
    one, other = two_gateways
    for _ in range(3):
        failed = httpx.post(f"{one}/auth/login", json={"username": "demo", "password": "wrong"}, timeout=10)
        assert failed.status_code == 401, failed.text

    refused = httpx.post(f"{other}/auth/login", json={"username": "demo", "password": "password"}, timeout=10)

    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-policy"] == '"default";q=3;w=60'
    assert refused.headers["ratelimit"].startswith('"default";r=0;t=')


async def test_two_limiters_on_one_redis_share_their_windows(redis_url: str) -> None:
    prefix = f"wa-gateway-test-{uuid.uuid4().hex}"
    one, other = SlidingWindowRateLimiter(redis_url, prefix), SlidingWindowRateLimiter(redis_url, prefix)
    limit = RateLimit(amount=2, per_seconds=60)

    assert (await one.hit("k", limit)).allowed
    assert (await other.hit("k", limit)).remaining == 0
    refused = await one.hit("k", limit)

    assert not refused.allowed
    assert 1 <= refused.reset_after_seconds <= 60
    assert not (await other.hit("k", limit)).allowed
    # Another prefix (another deployment, another test run) counts apart.
    assert (await SlidingWindowRateLimiter(redis_url, prefix + "-elsewhere").hit("k", limit)).allowed


# ------------------------------------------------------------------------------- limits under concurrency


def authenticate_with(
    limiter: SlidingWindowRateLimiter, uow: FakeUnitOfWork, hasher: FakePasswordHasher
) -> Authenticate:
    clock = FixedClock()
    return Authenticate(uow, hasher, FakeTokenService(), limiter, FAILURE_LIMIT, clock, SESSIONS)


async def wrong_logins_at_once(
    limiters: list[SlidingWindowRateLimiter], attempts: int
) -> tuple[int, Counter[str]]:
    """``attempts`` wrong passwords for alice from one address at once, spread over ``limiters`` (one
    per process); the passwords checked, and how the attempts ended."""
    uow, hasher = FakeUnitOfWork(), FakePasswordHasher()
    await provision_account(uow, hasher, FixedClock())
    processes = [authenticate_with(limiter, uow, hasher) for limiter in limiters]
    outcomes = await asyncio.gather(
        *(processes[n % len(processes)]("alice", "wrong-password", "203.0.113.7") for n in range(attempts)),
        return_exceptions=True,
    )
    return len(hasher.verified_hashes), Counter(type(outcome).__name__ for outcome in outcomes)


async def test_concurrent_wrong_logins_on_processes_sharing_redis_check_at_most_the_limit(
    redis_url: str,
) -> None:
    prefix = f"wa-gateway-test-{uuid.uuid4().hex}"
    one, other = SlidingWindowRateLimiter(redis_url, prefix), SlidingWindowRateLimiter(redis_url, prefix)

    checked, outcomes = await wrong_logins_at_once([one, other], 3 * FAILURE_LIMIT.amount)

    assert checked <= FAILURE_LIMIT.amount
    assert outcomes == {"AuthenticationFailed": checked, "RateLimited": 3 * FAILURE_LIMIT.amount - checked}


async def test_a_limit_reserved_at_once_on_redis_admits_exactly_its_amount(redis_url: str) -> None:
    limiters = [SlidingWindowRateLimiter(redis_url, f"wa-gateway-test-{uuid.uuid4().hex}")] * 2
    limit = RateLimit(amount=7, per_seconds=60)

    states = await asyncio.gather(*(limiters[n % 2].hit("k", limit) for n in range(40)))

    assert sum(state.allowed for state in states) == limit.amount


async def test_an_attempt_given_back_on_redis_frees_its_place(redis_url: str) -> None:
    limiter = SlidingWindowRateLimiter(redis_url, f"wa-gateway-test-{uuid.uuid4().hex}")
    limit = RateLimit(amount=2, per_seconds=60)
    assert (await limiter.hit("k", limit)).allowed
    reserved = await limiter.hit("k", limit)
    assert reserved.reservation is not None
    assert reserved.reservation.shared

    await limiter.give_back(reserved.reservation)

    assert (await limiter.hit("k", limit)).allowed
    assert not (await limiter.hit("k", limit)).allowed


class WallClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_an_attempt_given_back_on_redis_after_its_window_turned_leaves_the_new_window_whole(
    redis_url: str,
) -> None:
    clock = WallClock(60.0 * 29_000_000 + 59.5)
    limiter = SlidingWindowRateLimiter(redis_url, f"wa-gateway-test-{uuid.uuid4().hex}", wall_clock=clock)
    limit = RateLimit(amount=2, per_seconds=60)
    reserved = await limiter.hit("k", limit)
    assert reserved.reservation is not None

    clock.now += 1.0  # the window turns while the attempt is being judged
    await limiter.give_back(reserved.reservation)
    await limiter.give_back(reserved.reservation)  # once too often: nothing goes below zero

    assert [(await limiter.hit("k", limit)).allowed for _ in range(3)] == [True, True, False]


async def test_an_attempt_counted_on_redis_is_not_given_back_in_memory_during_an_outage(
    redis_url: str,
) -> None:
    clock = ManualMonotonic()
    limit = RateLimit(amount=2, per_seconds=60)
    async with RedisRelay() as relay:
        limiter = SlidingWindowRateLimiter(
            relay.url(REDIS_DB), f"wa-gateway-test-{uuid.uuid4().hex}", monotonic=clock
        )
        reserved = await limiter.hit("k", limit)
        assert reserved.reservation is not None
        assert reserved.reservation.shared

        await relay.stop()
        await limiter.hit("k", limit)  # Redis is unreachable: counted in memory from now on
        await limiter.give_back(reserved.reservation)

        assert [(await limiter.hit("k", limit)).allowed for _ in range(2)] == [True, False]


# --------------------------------------------------------------------------------- Redis unreachable


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name.startswith("adapters.ratelimit") and record.levelno >= logging.WARNING
    ]


async def test_with_redis_unreachable_the_limits_hold_in_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = SlidingWindowRateLimiter(f"redis://127.0.0.1:{free_port()}/0", "unreachable")
    attempts = FAILURE_LIMIT.amount + 2

    checked, outcomes = await wrong_logins_at_once([limiter], attempts)

    assert checked == FAILURE_LIMIT.amount
    assert outcomes == {"AuthenticationFailed": FAILURE_LIMIT.amount, "RateLimited": 2}
    assert len(outage_lines(caplog)) == 1


async def test_with_redis_unreachable_the_api_still_limits_and_logs_the_outage_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "LOGIN_ATTEMPTS_PER_MINUTE": "10",
        "EMBEDDED_DISPATCHER": "false",
    }
    async with running_api(tmp_path, ApiOptions(settings=settings)) as api:
        wrong = {"username": "alice", "password": "wrong"}
        statuses = [(await api.client.post("/auth/login", json=wrong)).status_code for _ in range(20)]

    assert statuses == [401] * 10 + [429] * 10
    assert len(api.hasher.verified_hashes) == 10
    assert len(outage_lines(caplog)) == 1


async def test_a_redis_outage_is_logged_when_it_starts_then_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualMonotonic()
    limiter = SlidingWindowRateLimiter(
        f"redis://127.0.0.1:{free_port()}/0",
        "unreachable",
        retry_redis_seconds=5,
        outage_log_seconds=60,
        monotonic=clock,
    )

    for second in range(180):  # a request a second for three minutes
        clock.now = float(second)
        await limiter.hit("k", RateLimit(amount=1000, per_seconds=60))

    lines = [record.getMessage() for record in outage_lines(caplog)]
    assert len(lines) == 3, lines
    assert "unreachable" in lines[0]
    assert "still unreachable" in lines[1]


async def test_when_redis_answers_again_the_limits_are_shared_again(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualMonotonic()
    prefix = f"wa-gateway-test-{uuid.uuid4().hex}"
    limit = RateLimit(amount=3, per_seconds=60)
    async with RedisRelay() as relay:
        through_relay = SlidingWindowRateLimiter(
            relay.url(REDIS_DB), prefix, retry_redis_seconds=5, monotonic=clock
        )
        direct = SlidingWindowRateLimiter(redis_url, prefix)
        assert (await through_relay.hit("k", limit)).allowed

        await relay.stop()
        during_outage = [(await through_relay.hit("k", limit)).allowed for _ in range(4)]
        await relay.start()
        clock.now += 5
        after = await through_relay.hit("k", limit)

    # In memory during the outage: 3 allowed, then refused; then Redis again, where 1 of 3 was spent
    # before the outage: the relayed process and another one count together again.
    assert during_outage == [True, True, True, False]
    assert after.allowed
    assert after.remaining == 1
    assert (await direct.hit("k", limit)).remaining == 0
    assert not (await direct.hit("k", limit)).allowed
    assert [record.levelname for record in outage_lines(caplog)] == ["ERROR", "WARNING"]


class ManualMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class RedisRelay:
    """A TCP relay to the test Redis on a port of its own, to take Redis away and bring it back."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def __aenter__(self) -> RedisRelay:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        redis_reader, redis_writer = await asyncio.open_connection(REDIS_HOST, REDIS_PORT)
        self._writers |= {client_writer, redis_writer}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(client_reader, redis_writer), pipe(redis_reader, client_writer))
