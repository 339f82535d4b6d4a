"""Tenant administration: users, senders, Twilio credentials and API keys, each within one tenant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from uuid import uuid4

import pytest

from application.administration.onboarding import AddSender, CreateUser
from application.administration.tenant_admin import (
    GetCredentialsSummary,
    GetUser,
    ListSenders,
    ListUsers,
    RemoveSender,
    SetTwilioCredentials,
    UpdateSender,
    UpdateSenderCommand,
    UpdateUser,
    UpdateUserCommand,
)
from application.errors import AccessDenied, AlreadyExists, InvalidInput, NotFound, TransactionConflict
from application.identity.api_keys import CreateApiKey, ListApiKeys, RevokeApiKey
from application.principal import Principal
from application.transactions import ConflictRetry
from domain.administration.tenancy import Role, TwilioCredentials, User
from domain.identity.credentials import (
    PLATFORM_TENANT_ID,
    AuthSession,
    RevocationReason,
    api_key_prefix,
    hash_secret,
)
from tests.support.fakes import FakePasswordHasher, FakeSleep, FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.provider_accounts import twilio_credentials
from tests.support.use_cases import add_agent, admin_of


async def open_session(uow: FakeUnitOfWork, clock: FixedClock, user: User) -> AuthSession:
    session = AuthSession(
        user_id=user.id,
        tenant_id=user.tenant_id,
        created_at=clock.now(),
        expires_at=clock.now() + timedelta(days=1),
    )
    await uow.sessions.add(session)
    return session


@pytest.fixture
def update_user(uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock) -> UpdateUser:
    return UpdateUser(uow, hasher, clock)


# ------------------------------------------------------------------------------------------------ users


async def test_users_are_listed_and_read_within_their_tenant_only(
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    ana = await add_agent(uow, hasher, clock, acme)

    assert [u.username for u in await ListUsers(uow)(admin_of(acme))] == ["alice", "ana"]
    assert [u.username for u in await ListUsers(uow)(admin_of(globex))] == ["bob"]
    assert await GetUser(uow)(admin_of(acme), ana.id) == ana
    with pytest.raises(NotFound):
        await GetUser(uow)(admin_of(globex), ana.id)


async def test_a_role_change_ends_the_users_sessions(
    update_user: UpdateUser,
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    ana = await add_agent(uow, hasher, clock, acme)
    session = await open_session(uow, clock, ana)
    admins_session = await open_session(uow, clock, acme.user)

    updated = await update_user(admin_of(acme), ana.id, UpdateUserCommand(role=Role.TENANT_ADMIN))

    assert updated.role is Role.TENANT_ADMIN
    assert await uow.users.get_in_tenant(acme.tenant.id, ana.id) == updated
    revoked = uow.sessions.get(session.id)
    assert revoked is not None
    assert revoked.revoked_reason is RevocationReason.ROLE_CHANGED
    assert uow.sessions.get(admins_session.id) == admins_session


async def test_deactivating_and_resetting_a_password_end_the_users_sessions(
    update_user: UpdateUser,
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    ana = await add_agent(uow, hasher, clock, acme)
    first = await open_session(uow, clock, ana)
    await update_user(admin_of(acme), ana.id, UpdateUserCommand(password="a new password"))
    second = await open_session(uow, clock, ana)
    await update_user(admin_of(acme), ana.id, UpdateUserCommand(is_active=False))

    reasons = [session.revoked_reason for s in (first, second) if (session := uow.sessions.get(s.id))]
    assert reasons == [RevocationReason.PASSWORD_CHANGED, RevocationReason.USER_DEACTIVATED]
    user = await uow.users.get_in_tenant(acme.tenant.id, ana.id)
    assert user is not None
    assert (user.is_active, user.password_hash) == (False, "fake-v1$a new password")


async def test_reactivating_a_user_ends_nothing(
    update_user: UpdateUser,
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    ana = await add_agent(uow, hasher, clock, acme)
    session = await open_session(uow, clock, ana)

    await update_user(admin_of(acme), ana.id, UpdateUserCommand(is_active=True))

    assert uow.sessions.get(session.id) == session


async def test_an_admin_cannot_demote_or_deactivate_themselves(
    update_user: UpdateUser, acme: TenantAccount
) -> None:
    with pytest.raises(AccessDenied):
        await update_user(admin_of(acme), acme.user.id, UpdateUserCommand(role=Role.AGENT))
    with pytest.raises(AccessDenied):
        await update_user(admin_of(acme), acme.user.id, UpdateUserCommand(is_active=False))


async def test_another_tenants_user_is_not_found(
    update_user: UpdateUser, acme: TenantAccount, globex: TenantAccount
) -> None:
    with pytest.raises(NotFound):
        await update_user(admin_of(acme), globex.user.id, UpdateUserCommand(role=Role.AGENT))


async def test_no_one_becomes_a_platform_admin_through_a_tenant(
    update_user: UpdateUser,
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    ana = await add_agent(uow, hasher, clock, acme)

    with pytest.raises(InvalidInput):
        await update_user(admin_of(acme), ana.id, UpdateUserCommand(role=Role.PLATFORM_ADMIN))
    with pytest.raises(InvalidInput):
        await CreateUser(uow, hasher, clock)(
            admin_of(acme), acme.tenant.id, "root2", "a long password", Role.PLATFORM_ADMIN
        )


async def test_a_short_password_is_refused(
    update_user: UpdateUser,
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    ana = await add_agent(uow, hasher, clock, acme)

    with pytest.raises(InvalidInput):
        await update_user(admin_of(acme), ana.id, UpdateUserCommand(password="short"))


async def test_an_admin_sets_their_own_password_only_with_the_current_one(
    update_user: UpdateUser, acme: TenantAccount
) -> None:
    with pytest.raises(AccessDenied, match="/api/me/password"):
        await update_user(admin_of(acme), acme.user.id, UpdateUserCommand(password="a takeover password"))


# ---------------------------------------------------------------------------------------------- senders


async def test_a_sender_is_made_the_default_and_relabelled(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    second = await AddSender(uow, clock)(admin_of(acme), acme.tenant.id, "+14155238800")

    updated = await UpdateSender(uow)(
        admin_of(acme), second.id, UpdateSenderCommand(label="support", make_default=True)
    )

    assert (updated.is_default, updated.label) == (True, "support")
    senders = {s.id: s.is_default for s in await ListSenders(uow)(admin_of(acme))}
    assert senders == {acme.sender.id: False, second.id: True}


async def test_a_change_of_default_that_conflicts_with_a_concurrent_one_is_run_again(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    second = await AddSender(uow, clock)(admin_of(acme), acme.tenant.id, "+14155238800")
    uow.senders.conflicts_ahead = 2
    pauses = FakeSleep()

    updated = await UpdateSender(uow, ConflictRetry(sleep=pauses))(
        admin_of(acme), second.id, UpdateSenderCommand(label="support", make_default=True)
    )

    assert (updated.is_default, updated.label) == (True, "support")
    assert uow.senders.make_default_calls == 3
    assert len(pauses.pauses) == 2
    senders = {s.id: s.is_default for s in await ListSenders(uow)(admin_of(acme))}
    assert senders == {acme.sender.id: False, second.id: True}


async def test_a_conflict_that_outlasts_the_retries_is_raised_and_changes_nothing(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    second = await AddSender(uow, clock)(admin_of(acme), acme.tenant.id, "+14155238800", label="spare")
    uow.senders.conflicts_ahead = 100
    before = await ListSenders(uow)(admin_of(acme))

    with pytest.raises(TransactionConflict):
        await UpdateSender(uow, ConflictRetry(attempts=3, sleep=FakeSleep()))(
            admin_of(acme), second.id, UpdateSenderCommand(label="support", make_default=True)
        )

    assert uow.senders.make_default_calls == 3
    assert await ListSenders(uow)(admin_of(acme)) == before


async def test_the_default_sender_goes_last(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    second = await AddSender(uow, clock)(admin_of(acme), acme.tenant.id, "+14155238800")
    remove = RemoveSender(uow)

    with pytest.raises(InvalidInput, match="default"):
        await remove(admin_of(acme), acme.sender.id)
    await remove(admin_of(acme), second.id)
    await remove(admin_of(acme), acme.sender.id)

    assert await ListSenders(uow)(admin_of(acme)) == []


async def test_another_tenants_sender_is_not_found(
    uow: FakeUnitOfWork, acme: TenantAccount, globex: TenantAccount
) -> None:
    with pytest.raises(NotFound):
        await RemoveSender(uow)(admin_of(acme), globex.sender.id)
    with pytest.raises(NotFound):
        await UpdateSender(uow)(admin_of(acme), globex.sender.id, UpdateSenderCommand(label="mine"))
    assert len(await ListSenders(uow)(admin_of(globex))) == 1


async def test_a_sender_label_has_a_limit(uow: FakeUnitOfWork, acme: TenantAccount) -> None:
    with pytest.raises(InvalidInput):
        await UpdateSender(uow)(admin_of(acme), acme.sender.id, UpdateSenderCommand(label="x" * 201))


# ------------------------------------------------------------------------------------------ credentials


async def test_credentials_are_set_and_only_their_sids_are_shown(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    assert (await GetCredentialsSummary(uow)(admin_of(acme))).configured is False
    credentials = TwilioCredentials(
        account_sid="AC" + "a" * 32,
        auth_token="auth-token-0123456789",
        api_key_sid="SK" + "b" * 32,
        api_key_secret="api-key-secret-0123",
    )

    summary = await SetTwilioCredentials(uow, clock)(admin_of(acme), credentials)

    assert summary == await GetCredentialsSummary(uow)(admin_of(acme))
    assert (summary.configured, summary.account_sid, summary.api_key_sid) == (
        True,
        "AC" + "a" * 32,
        "SK" + "b" * 32,
    )
    assert "auth-token" not in repr(summary)
    assert await twilio_credentials(uow, acme.tenant.id) == credentials


# --------------------------------------------------------------------------------------------- API keys


async def test_an_api_key_is_shown_once_and_stored_as_a_hash(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    created = await CreateApiKey(uow, clock)(admin_of(acme), " orders ", Role.AGENT)

    assert created.key.startswith(f"wag_{created.api_key.prefix}_")
    assert api_key_prefix(created.key) == created.api_key.prefix
    (stored,) = uow.api_keys.all()
    assert stored.secret_hash == hash_secret(created.key)
    assert created.key not in repr(stored)
    assert (stored.name, stored.role, stored.created_by) == ("orders", Role.AGENT, acme.user.id)


async def test_api_keys_are_listed_and_revoked_within_their_tenant(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    create = CreateApiKey(uow, clock)
    mine = await create(admin_of(acme), "orders", Role.AGENT)
    theirs = await create(admin_of(globex), "billing", Role.TENANT_ADMIN)

    assert [k.name for k in await ListApiKeys(uow)(admin_of(acme))] == ["orders"]
    with pytest.raises(NotFound):
        await RevokeApiKey(uow, clock)(admin_of(acme), theirs.api_key.id)

    await RevokeApiKey(uow, clock)(admin_of(acme), mine.api_key.id)
    await RevokeApiKey(uow, clock)(admin_of(acme), mine.api_key.id)  # again: nothing changes

    (revoked,) = await ListApiKeys(uow)(admin_of(acme))
    assert revoked.revoked_at == clock.now()
    assert not revoked.is_active
    assert all(k.is_active for k in await ListApiKeys(uow)(admin_of(globex)))


@pytest.mark.parametrize(
    ("name", "role"), [("", Role.AGENT), ("x" * 101, Role.AGENT), ("ok", Role.PLATFORM_ADMIN)]
)
async def test_an_api_key_needs_a_name_and_a_tenant_role(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, name: str, role: Role
) -> None:
    with pytest.raises(InvalidInput):
        await CreateApiKey(uow, clock)(admin_of(acme), name, role)


async def test_an_unknown_api_key_is_not_found(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    with pytest.raises(NotFound):
        await RevokeApiKey(uow, clock)(admin_of(acme), uuid4())


async def test_prefixes_are_unique(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> None:
    created = await CreateApiKey(uow, clock)(admin_of(acme), "orders", Role.AGENT)
    with pytest.raises(AlreadyExists):
        await uow.api_keys.add(replace(created.api_key, id=uuid4()))


# -------------------------------------------------------------------------------------------- who may


@dataclass(frozen=True, slots=True)
class Given:
    uow: FakeUnitOfWork
    hasher: FakePasswordHasher
    clock: FixedClock
    account: TenantAccount


CREDENTIALS = TwilioCredentials(account_sid="AC" + "c" * 32, auth_token="auth-token-0123456789")

# Every use case of a tenant's admins, as ``(what is given, the caller) -> the call``.
ADMINS_ONLY: dict[str, Callable[[Given, Principal], Awaitable[object]]] = {
    "list users": lambda g, actor: ListUsers(g.uow)(actor),
    "read a user": lambda g, actor: GetUser(g.uow)(actor, g.account.user.id),
    "change a user": lambda g, actor: UpdateUser(g.uow, g.hasher, g.clock)(
        actor, g.account.user.id, UpdateUserCommand(is_active=False)
    ),
    "list senders": lambda g, actor: ListSenders(g.uow)(actor),
    "add a sender": lambda g, actor: AddSender(g.uow, g.clock)(actor, g.account.tenant.id, "+14155238800"),
    "change a sender": lambda g, actor: UpdateSender(g.uow)(
        actor, g.account.sender.id, UpdateSenderCommand(label="mine", make_default=True)
    ),
    "remove a sender": lambda g, actor: RemoveSender(g.uow)(actor, g.account.sender.id),
    "read the credentials": lambda g, actor: GetCredentialsSummary(g.uow)(actor),
    "set the credentials": lambda g, actor: SetTwilioCredentials(g.uow, g.clock)(actor, CREDENTIALS),
    "list API keys": lambda g, actor: ListApiKeys(g.uow)(actor),
    "create an API key": lambda g, actor: CreateApiKey(g.uow, g.clock)(actor, "mine", Role.AGENT),
    "revoke an API key": lambda g, actor: RevokeApiKey(g.uow, g.clock)(actor, uuid4()),
}

# Callers who are not the tenant's admins, yet may call other routes: each is refused by the use case.
NOT_ADMINS: dict[str, Callable[[TenantAccount], Principal]] = {
    "a logged-in agent": lambda account: Principal(
        user_id=uuid4(), tenant_id=account.tenant.id, role=Role.AGENT, session_id=uuid4()
    ),
    "a platform admin": lambda _: Principal(
        user_id=uuid4(), tenant_id=PLATFORM_TENANT_ID, role=Role.PLATFORM_ADMIN, session_id=uuid4()
    ),
}


@pytest.mark.parametrize("caller", NOT_ADMINS)
@pytest.mark.parametrize("what", ADMINS_ONLY)
async def test_the_use_case_refuses_a_caller_who_is_not_a_tenant_admin_and_nothing_changes(
    what: str,
    caller: str,
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    before = (uow.users.all(), uow.senders.all(), uow.api_keys.all(), uow.audit.all())

    with pytest.raises(AccessDenied) as refused:
        await ADMINS_ONLY[what](Given(uow, hasher, clock, acme), NOT_ADMINS[caller](acme))

    assert type(refused.value) is AccessDenied  # the role, not a person, is what is missing
    assert (uow.users.all(), uow.senders.all(), uow.api_keys.all(), uow.audit.all()) == before
    assert await twilio_credentials(uow, acme.tenant.id) is None


# What an API key may do is what its role may: an agent's key is no tenant admin either.
@pytest.mark.parametrize(
    "what",
    [
        "list users",
        "read a user",
        "list senders",
        "add a sender",
        "change a sender",
        "remove a sender",
        "read the credentials",
    ],
)
async def test_an_agent_key_is_refused_by_the_use_case(
    what: str, uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock, acme: TenantAccount
) -> None:
    agent_key = Principal(user_id=None, tenant_id=acme.tenant.id, role=Role.AGENT, api_key_id=uuid4())
    before = uow.senders.all()

    with pytest.raises(AccessDenied):
        await ADMINS_ONLY[what](Given(uow, hasher, clock, acme), agent_key)

    assert uow.senders.all() == before


async def test_a_tenant_admin_adds_senders_to_their_own_tenant_only(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    with pytest.raises(NotFound):
        await AddSender(uow, clock)(admin_of(acme), globex.tenant.id, "+14155238800")

    assert {sender.id for sender in uow.senders.all()} == {acme.sender.id, globex.sender.id}
