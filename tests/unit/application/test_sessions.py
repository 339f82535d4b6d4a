"""Sessions: login opens one, refresh tokens rotate and a reused one ends the session, logout, password
changes, and the check every request's credential goes through (access tokens and API keys)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest

from application.errors import (
    AccessDenied,
    AuthenticationFailed,
    CurrentPasswordWrong,
    InvalidInput,
    InvalidToken,
    RateLimited,
    StorageUnavailable,
)
from application.identity.api_keys import CreateApiKey, RevokeApiKey
from application.identity.authenticate import Authenticate
from application.identity.sessions import (
    API_KEY_USE_RESOLUTION,
    ChangeOwnPassword,
    Logout,
    PurgeExpiredSessions,
    RefreshSession,
    ResolvePrincipal,
    SessionPolicy,
)
from application.ports.identity import SessionAccess, SessionTokens
from application.ports.rate_limits import RateLimit
from application.principal import Principal
from domain.administration.audit import AuditAction
from domain.administration.tenancy import Role, TenantStatus
from domain.identity.credentials import RevocationReason, hash_secret, new_refresh_token
from tests.support.fakes import (
    FakeAccessCache,
    FakePasswordHasher,
    FakeRateLimiter,
    FakeTokenService,
    FakeUnitOfWork,
    FixedClock,
    TenantAccount,
)

LIFETIME = timedelta(days=14)
FAILURE_LIMIT = RateLimit(amount=3, per_seconds=900)


@pytest.fixture
def login(
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    tokens: FakeTokenService,
    limiter: FakeRateLimiter,
    clock: FixedClock,
) -> Authenticate:
    return Authenticate(uow, hasher, tokens, limiter, FAILURE_LIMIT, clock, SessionPolicy(LIFETIME))


@pytest.fixture
def refresh(uow: FakeUnitOfWork, tokens: FakeTokenService, clock: FixedClock) -> RefreshSession:
    return RefreshSession(uow, tokens, clock)


@pytest.fixture
def resolve(uow: FakeUnitOfWork, tokens: FakeTokenService, clock: FixedClock) -> ResolvePrincipal:
    return ResolvePrincipal(uow, tokens, clock, cache=FakeAccessCache(listening=False))


@pytest.fixture
def change_password(
    uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock, limiter: FakeRateLimiter
) -> ChangeOwnPassword:
    return ChangeOwnPassword(uow, hasher, clock, limiter, FAILURE_LIMIT)


async def log_in(login: Authenticate, account: TenantAccount) -> SessionTokens:
    return await login(account.user.username, account.password)


# ------------------------------------------------------------------------------------------------ login


async def test_login_opens_a_session_and_stores_only_the_refresh_tokens_hash(
    login: Authenticate, uow: FakeUnitOfWork, tokens: FakeTokenService, clock: FixedClock, acme: TenantAccount
) -> None:
    issued = await log_in(login, acme)

    (session,) = uow.sessions.all()
    assert (session.user_id, session.tenant_id) == (acme.user.id, acme.tenant.id)
    assert session.expires_at == clock.now() + LIFETIME
    assert tokens.verify(issued.access_token).session_id == session.id
    assert issued.refresh_token.startswith("wagrt_")
    assert issued.refresh_expires_in == LIFETIME.total_seconds()
    (stored,) = uow.sessions.tokens()
    assert stored.token_hash == hash_secret(issued.refresh_token) != issued.refresh_token
    assert uow.committed


async def test_each_login_is_a_session_of_its_own(
    login: Authenticate, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    first = await log_in(login, acme)
    second = await log_in(login, acme)

    assert len(uow.sessions.all()) == 2
    assert first.refresh_token != second.refresh_token


# ---------------------------------------------------------------------------------------------- refresh


async def test_a_refresh_rotates_the_refresh_token(
    login: Authenticate, refresh: RefreshSession, tokens: FakeTokenService, acme: TenantAccount
) -> None:
    issued = await log_in(login, acme)

    renewed = await refresh(issued.refresh_token)

    assert renewed.refresh_token != issued.refresh_token
    assert renewed.access_token != issued.access_token
    claims = tokens.verify(renewed.access_token)
    assert claims.session_id == tokens.verify(issued.access_token).session_id
    assert claims.user_id == acme.user.id


async def test_refreshing_does_not_extend_the_session(
    login: Authenticate, refresh: RefreshSession, clock: FixedClock, acme: TenantAccount
) -> None:
    issued = await log_in(login, acme)
    clock.advance(timedelta(days=1))

    renewed = await refresh(issued.refresh_token)

    assert renewed.refresh_expires_in == (LIFETIME - timedelta(days=1)).total_seconds()


async def test_a_reused_refresh_token_ends_the_whole_session(
    login: Authenticate,
    refresh: RefreshSession,
    resolve: ResolvePrincipal,
    uow: FakeUnitOfWork,
    acme: TenantAccount,
) -> None:
    issued = await log_in(login, acme)
    newest = await refresh(issued.refresh_token)

    with pytest.raises(InvalidToken, match="used already"):
        await refresh(issued.refresh_token)  # a thief (or the client) replays the old one

    # the newest token of the family, and its access token, stop working too
    with pytest.raises(InvalidToken):
        await refresh(newest.refresh_token)
    with pytest.raises(InvalidToken):
        await resolve(newest.access_token)
    (session,) = uow.sessions.all()
    assert session.revoked_reason is RevocationReason.REFRESH_TOKEN_REUSED


async def test_a_reuse_ends_only_its_own_session(
    login: Authenticate, refresh: RefreshSession, acme: TenantAccount
) -> None:
    laptop = await log_in(login, acme)
    phone = await log_in(login, acme)
    await refresh(laptop.refresh_token)

    with pytest.raises(InvalidToken):
        await refresh(laptop.refresh_token)

    assert (await refresh(phone.refresh_token)).access_token


@pytest.mark.parametrize("token", ["", "garbage", "wagrt_short", new_refresh_token()])
async def test_an_unknown_refresh_token_is_refused(refresh: RefreshSession, token: str) -> None:
    with pytest.raises(InvalidToken):
        await refresh(token)


async def test_an_access_token_is_not_a_refresh_token(
    login: Authenticate, refresh: RefreshSession, acme: TenantAccount
) -> None:
    issued = await log_in(login, acme)

    with pytest.raises(InvalidToken):
        await refresh(issued.access_token)


async def test_no_refresh_after_the_session_expired(
    login: Authenticate, refresh: RefreshSession, clock: FixedClock, acme: TenantAccount
) -> None:
    issued = await log_in(login, acme)
    clock.advance(LIFETIME)

    with pytest.raises(InvalidToken, match="ended"):
        await refresh(issued.refresh_token)


async def test_no_refresh_for_a_suspended_tenant_or_a_deactivated_user(
    login: Authenticate,
    refresh: RefreshSession,
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    alice = await log_in(login, acme)
    bob = await log_in(login, globex)
    uow.tenants.save(replace(acme.tenant, status=TenantStatus.SUSPENDED))
    uow.users.save(replace(globex.user, is_active=False))

    for token in (alice.refresh_token, bob.refresh_token):
        with pytest.raises(InvalidToken):
            await refresh(token)


async def test_a_refused_refresh_does_not_burn_the_token(
    login: Authenticate, refresh: RefreshSession, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    issued = await log_in(login, acme)
    uow.tenants.save(replace(acme.tenant, status=TenantStatus.SUSPENDED))
    with pytest.raises(InvalidToken):
        await refresh(issued.refresh_token)

    uow.tenants.save(acme.tenant)  # reactivated (without the suspension's session revocation)

    assert (await refresh(issued.refresh_token)).access_token


# ----------------------------------------------------------------------------------- resolving a token


async def test_a_current_access_token_resolves_to_its_user_in_one_session_lookup(
    login: Authenticate, resolve: ResolvePrincipal, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    issued = await log_in(login, acme)
    checks_before = uow.sessions.access_checks

    principal = await resolve(issued.access_token)

    assert principal.user_id == acme.user.id
    assert principal.tenant_id == acme.tenant.id
    assert principal.role is Role.TENANT_ADMIN
    assert principal.is_user
    assert uow.sessions.access_checks == checks_before + 1


async def test_after_logout_the_access_and_refresh_tokens_stop_working(
    login: Authenticate,
    resolve: ResolvePrincipal,
    refresh: RefreshSession,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    issued = await log_in(login, acme)
    other_device = await log_in(login, acme)

    await Logout(uow, clock)(await resolve(issued.access_token))

    with pytest.raises(InvalidToken):
        await resolve(issued.access_token)
    with pytest.raises(InvalidToken):
        await refresh(issued.refresh_token)
    assert (await resolve(other_device.access_token)).user_id == acme.user.id


async def test_an_api_key_cannot_log_out(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> None:
    key_principal = Principal(
        user_id=None, tenant_id=acme.tenant.id, role=Role.AGENT, api_key_id=acme.user.id
    )

    with pytest.raises(AccessDenied):
        await Logout(uow, clock)(key_principal)


async def test_a_role_change_invalidates_tokens_issued_for_the_old_role(
    login: Authenticate, resolve: ResolvePrincipal, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    issued = await log_in(login, acme)
    # even if nothing revoked the session, a token's role must match the user's current role
    uow.users.save(replace(acme.user, role=Role.AGENT))

    with pytest.raises(InvalidToken):
        await resolve(issued.access_token)


async def test_a_suspended_tenants_tokens_stop_working_at_once(
    login: Authenticate, resolve: ResolvePrincipal, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    issued = await log_in(login, acme)
    uow.tenants.save(replace(acme.tenant, status=TenantStatus.SUSPENDED))

    with pytest.raises(InvalidToken):
        await resolve(issued.access_token)


async def test_a_deactivated_users_tokens_stop_working(
    login: Authenticate, resolve: ResolvePrincipal, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    issued = await log_in(login, acme)
    uow.users.save(replace(acme.user, is_active=False))

    with pytest.raises(InvalidToken):
        await resolve(issued.access_token)


async def test_a_token_of_an_expired_session_is_refused(
    login: Authenticate, resolve: ResolvePrincipal, clock: FixedClock, acme: TenantAccount
) -> None:
    issued = await log_in(login, acme)
    clock.advance(LIFETIME)

    with pytest.raises(InvalidToken):
        await resolve(issued.access_token)


# ------------------------------------------------------------------------- resolving, with the cache


@pytest.fixture
def cache() -> FakeAccessCache:
    return FakeAccessCache()


@pytest.fixture
def cached_resolve(
    uow: FakeUnitOfWork, tokens: FakeTokenService, clock: FixedClock, cache: FakeAccessCache
) -> ResolvePrincipal:
    return ResolvePrincipal(uow, tokens, clock, cache=cache)


async def test_a_sessions_check_is_served_from_the_cache_until_access_changes(
    login: Authenticate,
    cached_resolve: ResolvePrincipal,
    uow: FakeUnitOfWork,
    cache: FakeAccessCache,
    acme: TenantAccount,
) -> None:
    issued = await log_in(login, acme)
    checks_before = uow.sessions.access_checks

    first = await cached_resolve(issued.access_token)
    again = await cached_resolve(issued.access_token)

    assert first == again
    assert uow.sessions.access_checks == checks_before + 1
    uow.tenants.save(replace(acme.tenant, status=TenantStatus.SUSPENDED))
    cache.invalidate()  # what the database's notification does
    with pytest.raises(InvalidToken):
        await cached_resolve(issued.access_token)


async def test_a_cached_session_is_still_judged_against_the_clock(
    login: Authenticate, cached_resolve: ResolvePrincipal, clock: FixedClock, acme: TenantAccount
) -> None:
    issued = await log_in(login, acme)
    await cached_resolve(issued.access_token)

    clock.advance(LIFETIME)

    with pytest.raises(InvalidToken):
        await cached_resolve(issued.access_token)


async def test_a_cached_session_is_still_judged_against_the_token(
    login: Authenticate,
    cached_resolve: ResolvePrincipal,
    tokens: FakeTokenService,
    uow: FakeUnitOfWork,
    acme: TenantAccount,
) -> None:
    issued = await log_in(login, acme)
    await cached_resolve(issued.access_token)
    (session,) = uow.sessions.all()
    # A token for the same session naming another role (issued before a role change, say).
    forged = tokens.issue(replace(acme.user, role=Role.AGENT), session.id)

    with pytest.raises(InvalidToken):
        await cached_resolve(forged.access_token)


async def test_a_check_read_while_access_changed_is_not_kept(
    login: Authenticate,
    cached_resolve: ResolvePrincipal,
    uow: FakeUnitOfWork,
    cache: FakeAccessCache,
    acme: TenantAccount,
) -> None:
    issued = await log_in(login, acme)
    original_get_access = uow.sessions.get_access

    async def revoked_while_reading(session_id: UUID) -> SessionAccess | None:
        access = await original_get_access(session_id)
        cache.invalidate()  # a logout commits after the query read the session, before it is kept
        return access

    uow.sessions.get_access = revoked_while_reading  # type: ignore[method-assign]
    await cached_resolve(issued.access_token)

    assert cache.entries == {}


async def test_an_unknown_token_is_refused(resolve: ResolvePrincipal) -> None:
    with pytest.raises(InvalidToken):
        await resolve("token-999")


# ------------------------------------------------------------------------------------------- API keys


@pytest.fixture
def create_key(uow: FakeUnitOfWork, clock: FixedClock) -> CreateApiKey:
    return CreateApiKey(uow, clock)


def admin_of(account: TenantAccount) -> Principal:
    return Principal(user_id=account.user.id, tenant_id=account.tenant.id, role=account.user.role)


async def test_an_api_key_resolves_to_its_tenant_and_role(
    create_key: CreateApiKey, resolve: ResolvePrincipal, acme: TenantAccount
) -> None:
    created = await create_key(admin_of(acme), "orders", Role.AGENT)

    principal = await resolve(created.key)

    assert principal == Principal(
        user_id=None, tenant_id=acme.tenant.id, role=Role.AGENT, api_key_id=created.api_key.id
    )
    assert not principal.is_user


async def test_an_api_keys_use_is_recorded_at_most_once_a_minute(
    create_key: CreateApiKey,
    resolve: ResolvePrincipal,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    created = await create_key(admin_of(acme), "orders", Role.AGENT)

    first_use = clock.now()
    await resolve(created.key)
    clock.advance(API_KEY_USE_RESOLUTION / 2)
    await resolve(created.key)
    (key,) = uow.api_keys.all()
    assert key.last_used_at == first_use

    clock.advance(API_KEY_USE_RESOLUTION)
    await resolve(created.key)
    (key,) = uow.api_keys.all()
    assert key.last_used_at == clock.now()


async def test_a_revoked_api_key_is_refused(
    create_key: CreateApiKey,
    resolve: ResolvePrincipal,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    created = await create_key(admin_of(acme), "orders", Role.AGENT)

    await RevokeApiKey(uow, clock)(admin_of(acme), created.api_key.id)

    with pytest.raises(InvalidToken):
        await resolve(created.key)


async def test_an_api_key_with_a_wrong_secret_is_refused(
    create_key: CreateApiKey, resolve: ResolvePrincipal, acme: TenantAccount
) -> None:
    created = await create_key(admin_of(acme), "orders", Role.AGENT)
    prefix = created.api_key.prefix
    forged = f"wag_{prefix}_{'A' * 43}"

    with pytest.raises(InvalidToken):
        await resolve(forged)


@pytest.mark.parametrize(
    "credential", ["wag_", "wag_0123456789ab_short", "wag_xyz_" + "A" * 43, "wag_0123456789ab_" + "A" * 43]
)
async def test_malformed_or_unknown_api_keys_are_refused(resolve: ResolvePrincipal, credential: str) -> None:
    with pytest.raises(InvalidToken, match="API key"):
        await resolve(credential)


async def test_a_suspended_tenants_api_keys_are_refused_until_it_is_reactivated(
    create_key: CreateApiKey, resolve: ResolvePrincipal, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    created = await create_key(admin_of(acme), "orders", Role.TENANT_ADMIN)
    uow.tenants.save(replace(acme.tenant, status=TenantStatus.SUSPENDED))

    with pytest.raises(InvalidToken):
        await resolve(created.key)

    uow.tenants.save(acme.tenant)
    assert (await resolve(created.key)).role is Role.TENANT_ADMIN


# ------------------------------------------------------------------------------------ changing password


async def test_changing_the_password_ends_every_session_and_the_new_one_logs_in(
    login: Authenticate,
    resolve: ResolvePrincipal,
    change_password: ChangeOwnPassword,
    uow: FakeUnitOfWork,
    acme: TenantAccount,
) -> None:
    issued = await log_in(login, acme)
    other = await log_in(login, acme)

    await change_password(await resolve(issued.access_token), acme.password, "a brand new password")

    for token in (issued.access_token, other.access_token):
        with pytest.raises(InvalidToken):
            await resolve(token)
    assert {s.revoked_reason for s in uow.sessions.all()} == {RevocationReason.PASSWORD_CHANGED}
    assert (await login("alice", "a brand new password")).access_token


async def test_a_wrong_current_password_changes_nothing_and_is_counted(
    change_password: ChangeOwnPassword, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    for _ in range(FAILURE_LIMIT.amount):
        with pytest.raises(CurrentPasswordWrong):
            await change_password(admin_of(acme), "not it", "a brand new password")

    with pytest.raises(RateLimited):
        await change_password(admin_of(acme), acme.password, "a brand new password")
    assert uow.users.get(acme.user.id) == acme.user


async def test_a_password_change_the_database_could_not_judge_is_not_counted_as_a_wrong_password(
    change_password: ChangeOwnPassword, uow: FakeUnitOfWork, limiter: FakeRateLimiter, acme: TenantAccount
) -> None:
    uow.available = False
    for _ in range(FAILURE_LIMIT.amount + 1):
        with pytest.raises(StorageUnavailable):
            await change_password(admin_of(acme), acme.password, "a brand new password")

    uow.available = True
    assert limiter.hits == []
    await change_password(admin_of(acme), acme.password, "a brand new password")


@pytest.mark.parametrize("new_password", ["short", "x" * 257])
async def test_the_new_password_must_follow_the_rules(
    change_password: ChangeOwnPassword, acme: TenantAccount, new_password: str
) -> None:
    with pytest.raises(InvalidInput):
        await change_password(admin_of(acme), acme.password, new_password)


async def test_the_new_password_must_differ(change_password: ChangeOwnPassword, acme: TenantAccount) -> None:
    with pytest.raises(InvalidInput, match="current one"):
        await change_password(admin_of(acme), acme.password, acme.password)


async def test_an_api_key_has_no_password(change_password: ChangeOwnPassword, acme: TenantAccount) -> None:
    key = Principal(user_id=None, tenant_id=acme.tenant.id, role=Role.TENANT_ADMIN, api_key_id=acme.user.id)

    with pytest.raises(AccessDenied):
        await change_password(key, acme.password, "a brand new password")


# ------------------------------------------------------------------------------------------ housekeeping


async def test_expired_sessions_are_purged_with_their_refresh_tokens(
    login: Authenticate, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await log_in(login, acme)
    clock.advance(LIFETIME - timedelta(days=1))
    recent = await log_in(login, acme)
    clock.advance(timedelta(days=1, seconds=1))

    assert await PurgeExpiredSessions(uow, clock)() == 1

    (session,) = uow.sessions.all()
    assert [t.token_hash for t in uow.sessions.tokens()] == [hash_secret(recent.refresh_token)]
    assert session.expires_at > clock.now()


# ------------------------------------------------------------------------------------- browser sessions


async def test_a_console_sign_in_opens_a_session_without_refresh_tokens(
    login: Authenticate, uow: FakeUnitOfWork, tokens: FakeTokenService, clock: FixedClock, acme: TenantAccount
) -> None:
    browser = await login.sign_in_browser(acme.user.username, acme.password)

    (session,) = uow.sessions.all()
    assert browser.expires_at == session.expires_at == clock.now() + LIFETIME
    assert tokens.verify_browser_ticket(browser.ticket).session_id == session.id
    assert uow.sessions.tokens() == []
    assert [entry.action for entry in uow.audit.all()] == [AuditAction.LOGIN_SUCCEEDED]


async def test_a_console_sign_in_is_refused_and_limited_like_a_login(
    login: Authenticate, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    for _ in range(FAILURE_LIMIT.amount):
        with pytest.raises(AuthenticationFailed):
            await login.sign_in_browser(acme.user.username, "wrong", "203.0.113.9")

    with pytest.raises(RateLimited):
        await login.sign_in_browser(acme.user.username, acme.password, "203.0.113.9")
    assert uow.sessions.all() == []


async def test_a_browser_ticket_resolves_to_its_user_while_the_session_lives(
    login: Authenticate, resolve: ResolvePrincipal, acme: TenantAccount
) -> None:
    browser = await login.sign_in_browser(acme.user.username, acme.password)

    principal = await resolve.browser(browser.ticket)

    assert (principal.user_id, principal.tenant_id, principal.role) == (
        acme.user.id,
        acme.tenant.id,
        Role.TENANT_ADMIN,
    )
    assert principal.session_id is not None


async def test_a_browser_ticket_is_no_bearer_credential_and_an_access_token_no_ticket(
    login: Authenticate, resolve: ResolvePrincipal, acme: TenantAccount
) -> None:
    browser = await login.sign_in_browser(acme.user.username, acme.password)
    issued = await log_in(login, acme)

    with pytest.raises(InvalidToken):
        await resolve(browser.ticket)
    with pytest.raises(InvalidToken):
        await resolve.browser(issued.access_token)


async def test_signing_out_of_the_console_ends_the_ticket_everywhere_but_not_other_sessions(
    login: Authenticate,
    resolve: ResolvePrincipal,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    browser = await login.sign_in_browser(acme.user.username, acme.password)
    api_client = await log_in(login, acme)

    await Logout(uow, clock)(await resolve.browser(browser.ticket))

    with pytest.raises(InvalidToken):
        await resolve.browser(browser.ticket)
    assert (await resolve(api_client.access_token)).user_id == acme.user.id


@pytest.mark.parametrize("change", ["role", "deactivated", "suspended"])
async def test_a_browser_ticket_stops_working_when_its_user_or_tenant_changes(
    login: Authenticate, resolve: ResolvePrincipal, uow: FakeUnitOfWork, acme: TenantAccount, change: str
) -> None:
    browser = await login.sign_in_browser(acme.user.username, acme.password)
    if change == "role":
        uow.users.save(replace(acme.user, role=Role.AGENT))
    elif change == "deactivated":
        uow.users.save(replace(acme.user, is_active=False))
    else:
        uow.tenants.save(replace(acme.tenant, status=TenantStatus.SUSPENDED))

    with pytest.raises(InvalidToken):
        await resolve.browser(browser.ticket)
