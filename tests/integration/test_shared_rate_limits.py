"""Rate limits shared through Redis: two `wa-gateway serve` processes count against one window."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.ratelimit.limits_limiter import LimitsRateLimiter
from application.ports import RateLimit
from tests.integration.served_gateway import (
    REDIS_HOST,
    REDIS_PORT,
    free_port,
    redis_reachable,
    served_gateway,
)

REDIS_DB = 11  # a database of its own; the key prefix is unique to each run besides


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
    one, other = LimitsRateLimiter(redis_url, prefix), LimitsRateLimiter(redis_url, prefix)
    limit = RateLimit(amount=2, per_seconds=60)

    assert (await one.hit("k", limit)).allowed
    assert (await other.hit("k", limit)).remaining == 0
    refused = await one.hit("k", limit)

    assert not refused.allowed
    assert 1 <= refused.reset_after_seconds <= 60
    assert not (await other.peek("k", limit)).allowed
    # Another prefix (another deployment, another test run) counts apart.
    assert (await LimitsRateLimiter(redis_url, prefix + "-elsewhere").hit("k", limit)).allowed


async def test_an_unreachable_redis_fails_open() -> None:
    limiter = LimitsRateLimiter(f"redis://127.0.0.1:{free_port()}/0", "unreachable")

    state = await limiter.hit("k", RateLimit(amount=1, per_seconds=60))

    assert state.allowed
