"""Logging in: a username and password buy an access token, and failures all look alike."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from application.errors import AuthenticationFailed, RateLimited, StorageUnavailable, TransactionConflict
from application.identity.authenticate import Authenticate
from domain.administration.audit import AuditAction
from domain.administration.tenancy import TenantStatus
from tests.support.fakes import (
    FakePasswordHasher,
    FakeRateLimiter,
    FakeTokenService,
    FakeUnitOfWork,
    FixedClock,
    TenantAccount,
)
from tests.support.use_cases import FAILURE_LIMIT, SESSIONS


async def fail_logins(
    authenticate: Authenticate, times: int, username: str = "alice", address: str = ""
) -> None:
    for _ in range(times):
        with pytest.raises(AuthenticationFailed):
            await authenticate(username, "not the password", address or "203.0.113.7")


async def test_the_right_password_returns_a_token_for_the_user(
    authenticate: Authenticate, tokens: FakeTokenService, acme: TenantAccount
) -> None:
    issued = await authenticate("alice", acme.password)

    principal = tokens.verify(issued.access_token)
    assert principal.user_id == acme.user.id
    assert principal.tenant_id == acme.tenant.id
    assert principal.role is acme.user.role
    assert issued.expires_in == tokens.expires_in


@pytest.mark.parametrize("username", ["ALICE", "  alice ", "Alice"])
async def test_the_username_is_not_case_or_space_sensitive(
    authenticate: Authenticate, acme: TenantAccount, username: str
) -> None:
    issued = await authenticate(username, acme.password)

    assert issued.access_token


async def test_a_wrong_password_fails(
    authenticate: Authenticate, tokens: FakeTokenService, acme: TenantAccount
) -> None:
    with pytest.raises(AuthenticationFailed):
        await authenticate("alice", acme.password + "!")

    assert tokens.issued == {}


async def test_the_password_is_case_sensitive(authenticate: Authenticate, acme: TenantAccount) -> None:
    with pytest.raises(AuthenticationFailed):
        await authenticate("alice", acme.password.upper())


async def test_an_unknown_user_fails_exactly_like_a_wrong_password(
    authenticate: Authenticate, acme: TenantAccount
) -> None:
    with pytest.raises(AuthenticationFailed) as wrong_password:
        await authenticate("alice", "not the password")
    with pytest.raises(AuthenticationFailed) as unknown_user:
        await authenticate("mallory", "not the password")

    assert str(unknown_user.value) == str(wrong_password.value) == "the username or password is wrong"


async def test_an_unknown_user_still_costs_a_password_check(
    authenticate: Authenticate, hasher: FakePasswordHasher, acme: TenantAccount
) -> None:
    """Answering at once would tell an attacker which usernames exist."""
    with pytest.raises(AuthenticationFailed):
        await authenticate("mallory", "whatever")

    assert len(hasher.verified_hashes) == 1


async def test_a_suspended_tenants_users_cannot_log_in(
    authenticate: Authenticate, uow: FakeUnitOfWork, tokens: FakeTokenService, acme: TenantAccount
) -> None:
    uow.tenants.save(replace(acme.tenant, status=TenantStatus.SUSPENDED))

    with pytest.raises(AuthenticationFailed):
        await authenticate("alice", acme.password)

    assert tokens.issued == {}


async def test_an_inactive_user_cannot_log_in(
    authenticate: Authenticate, uow: FakeUnitOfWork, tokens: FakeTokenService, acme: TenantAccount
) -> None:
    uow.users.save(replace(acme.user, is_active=False))

    with pytest.raises(AuthenticationFailed):
        await authenticate("alice", acme.password)

    assert tokens.issued == {}


async def test_a_user_whose_tenant_is_gone_cannot_log_in(
    authenticate: Authenticate, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    uow.users.save(replace(acme.user, tenant_id=uuid4()))

    with pytest.raises(AuthenticationFailed):
        await authenticate("alice", acme.password)


async def test_one_user_cannot_log_in_with_another_users_password(
    authenticate: Authenticate, acme: TenantAccount, globex: TenantAccount
) -> None:
    with pytest.raises(AuthenticationFailed):
        await authenticate("alice", globex.password)


async def test_an_outdated_hash_is_replaced_at_the_next_login(
    authenticate: Authenticate, uow: FakeUnitOfWork, hasher: FakePasswordHasher, acme: TenantAccount
) -> None:
    hasher.version = 2  # stronger parameters since alice last logged in

    await authenticate("alice", acme.password)

    stored = uow.users.get(acme.user.id)
    assert stored is not None
    assert stored.password_hash == "fake-v2$" + acme.password
    assert uow.committed


async def test_a_current_hash_is_left_alone(
    authenticate: Authenticate, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    await authenticate("alice", acme.password)

    assert uow.users.get(acme.user.id) == acme.user


async def test_a_wrong_password_never_triggers_a_rehash(
    authenticate: Authenticate, uow: FakeUnitOfWork, hasher: FakePasswordHasher, acme: TenantAccount
) -> None:
    hasher.version = 2

    with pytest.raises(AuthenticationFailed):
        await authenticate("alice", "not the password")

    assert uow.users.get(acme.user.id) == acme.user
    assert [entry.action for entry in uow.audit.all()] == [AuditAction.LOGIN_REFUSED]  # and nothing else


async def test_the_old_password_still_works_after_a_rehash(
    authenticate: Authenticate, hasher: FakePasswordHasher, acme: TenantAccount
) -> None:
    hasher.version = 2
    await authenticate("alice", acme.password)

    issued = await authenticate("alice", acme.password)

    assert issued.access_token


# --------------------------------------------------------------------------------- failed-login limit


async def test_after_too_many_failures_even_the_right_password_must_wait(
    authenticate: Authenticate, tokens: FakeTokenService, acme: TenantAccount
) -> None:
    await fail_logins(authenticate, FAILURE_LIMIT.amount)

    with pytest.raises(RateLimited) as raised:
        await authenticate("alice", acme.password, "203.0.113.7")

    assert raised.value.retry_after_seconds == FAILURE_LIMIT.per_seconds
    assert raised.value.limit == 5
    assert tokens.issued == {}


async def test_failures_below_the_limit_do_not_lock_anyone_out(
    authenticate: Authenticate, acme: TenantAccount
) -> None:
    await fail_logins(authenticate, FAILURE_LIMIT.amount - 1)

    assert (await authenticate("alice", acme.password, "203.0.113.7")).access_token


async def test_the_lock_lifts_when_the_window_has_passed(
    authenticate: Authenticate, clock: FixedClock, acme: TenantAccount
) -> None:
    await fail_logins(authenticate, FAILURE_LIMIT.amount)

    clock.advance(timedelta(seconds=FAILURE_LIMIT.per_seconds))

    assert (await authenticate("alice", acme.password, "203.0.113.7")).access_token


async def test_failures_in_a_users_name_from_elsewhere_do_not_lock_the_user_out(
    authenticate: Authenticate, acme: TenantAccount
) -> None:
    # The per-account count is per address: an attacker failing logins as alice from many addresses
    # cannot keep alice out (each of those addresses is held back by its own per-address limit).
    for number in range(FAILURE_LIMIT.amount * 2):
        await fail_logins(authenticate, 1, address=f"198.51.100.{number}")

    assert (await authenticate("ALICE", acme.password, "192.0.2.1")).access_token


async def test_failures_for_one_user_from_one_address_hold_that_address_back(
    authenticate: Authenticate, acme: TenantAccount
) -> None:
    await fail_logins(authenticate, FAILURE_LIMIT.amount, address="198.51.100.9")

    with pytest.raises(RateLimited):
        await authenticate("alice", acme.password, "198.51.100.9")
    assert (await authenticate("alice", acme.password, "192.0.2.1")).access_token


async def test_failures_are_counted_per_address_across_usernames(
    authenticate: Authenticate, acme: TenantAccount
) -> None:
    for number in range(FAILURE_LIMIT.amount):
        await fail_logins(authenticate, 1, username=f"guess{number}")

    with pytest.raises(RateLimited):
        await authenticate("alice", acme.password, "203.0.113.7")


async def test_one_users_failures_do_not_lock_out_another_user_elsewhere(
    authenticate: Authenticate, acme: TenantAccount, globex: TenantAccount
) -> None:
    await fail_logins(authenticate, FAILURE_LIMIT.amount)

    assert (await authenticate("bob", globex.password, "192.0.2.1")).access_token


async def test_successful_logins_are_not_counted(
    authenticate: Authenticate, limiter: FakeRateLimiter, acme: TenantAccount
) -> None:
    for _ in range(FAILURE_LIMIT.amount + 1):
        await authenticate("alice", acme.password, "203.0.113.7")

    assert limiter.hits == []


async def test_a_refused_attempt_does_not_check_the_password(
    authenticate: Authenticate, hasher: FakePasswordHasher, acme: TenantAccount
) -> None:
    await fail_logins(authenticate, FAILURE_LIMIT.amount)
    checks_before = len(hasher.verified_hashes)

    with pytest.raises(RateLimited):
        await authenticate("alice", acme.password, "203.0.113.7")

    assert len(hasher.verified_hashes) == checks_before


class ConflictingSessions(FakeUnitOfWork):
    """A database whose every commit is given up for a concurrent transaction."""

    async def commit(self) -> None:
        raise TransactionConflict("the session's transaction conflicted with another")


async def test_logins_the_database_could_not_judge_are_not_counted_as_failures(
    authenticate: Authenticate, uow: FakeUnitOfWork, limiter: FakeRateLimiter, acme: TenantAccount
) -> None:
    uow.available = False
    for _ in range(FAILURE_LIMIT.amount + 1):
        with pytest.raises(StorageUnavailable):
            await authenticate("alice", acme.password, "203.0.113.7")

    uow.available = True
    assert limiter.hits == []
    assert (await authenticate("alice", acme.password, "203.0.113.7")).access_token


async def test_logins_whose_transaction_conflicted_are_not_counted_as_failures(
    hasher: FakePasswordHasher,
    tokens: FakeTokenService,
    limiter: FakeRateLimiter,
    clock: FixedClock,
    uow: FakeUnitOfWork,
    acme: TenantAccount,
) -> None:
    conflicting = Authenticate(
        ConflictingSessions(uow.database), hasher, tokens, limiter, FAILURE_LIMIT, clock, SESSIONS
    )
    for _ in range(FAILURE_LIMIT.amount + 1):
        with pytest.raises(TransactionConflict):
            await conflicting("alice", acme.password, "203.0.113.7")

    assert limiter.hits == []
