"""Fixtures for unit tests: fresh fakes for every test, and provisioned tenants to act as."""

from __future__ import annotations

import pytest

from tests.support.fakes import (
    FakeMessagingProvider,
    FakePasswordHasher,
    FakeRateLimiter,
    FakeTokenService,
    FakeUnitOfWork,
    FixedClock,
    TenantAccount,
    provision_account,
)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def hasher() -> FakePasswordHasher:
    return FakePasswordHasher()


@pytest.fixture
def provider() -> FakeMessagingProvider:
    return FakeMessagingProvider()


@pytest.fixture
def tokens() -> FakeTokenService:
    return FakeTokenService()


@pytest.fixture
def limiter(clock: FixedClock) -> FakeRateLimiter:
    return FakeRateLimiter(clock)


@pytest.fixture
async def acme(uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock) -> TenantAccount:
    """An active tenant with a default sender (+14155238886) and a user ``alice``."""
    return await provision_account(uow, hasher, clock)


@pytest.fixture
async def globex(uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock) -> TenantAccount:
    """A second tenant in the same database, to show one tenant never sees another's data."""
    return await provision_account(
        uow,
        hasher,
        clock,
        name="Globex",
        sender_number="+447911123456",
        username="bob",
        password="hunter2hunter2",
    )
