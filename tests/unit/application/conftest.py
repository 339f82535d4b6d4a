"""Use cases that tests of several modules call through a fixture."""

from __future__ import annotations

import pytest

from application.identity.authenticate import Authenticate
from tests.support.fakes import (
    FakePasswordHasher,
    FakeRateLimiter,
    FakeTokenService,
    FakeUnitOfWork,
    FixedClock,
)
from tests.support.use_cases import FAILURE_LIMIT, SESSIONS


@pytest.fixture
def authenticate(
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    tokens: FakeTokenService,
    limiter: FakeRateLimiter,
    clock: FixedClock,
) -> Authenticate:
    return Authenticate(uow, hasher, tokens, limiter, FAILURE_LIMIT, clock, SESSIONS)
