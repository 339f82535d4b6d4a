"""What needs a person, decided in the application layer: the use cases refuse an API key whatever its
role and whichever entrypoint calls them, and let a logged-in admin (and the operator) do it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast
from uuid import uuid4

import pytest

from application.administration.onboarding import CreateTenant, CreateTenantCommand, CreateUser
from application.administration.tenant_admin import SetTwilioCredentials, UpdateUser, UpdateUserCommand
from application.authorization import OPERATOR, PersonOnly, require_person
from application.errors import AccessDenied, NotFound, PersonRequired
from application.identity.api_keys import CreateApiKey, ListApiKeys, RevokeApiKey
from application.identity.sessions import ChangeOwnPassword, Logout
from application.ports.rate_limits import RateLimit
from application.principal import Principal
from application.tenant_webhooks.endpoints import (
    RegisterWebhookCommand,
    RegisterWebhookEndpoint,
    RotateWebhookSecret,
)
from domain.administration.audit import ActorKind, AuditAction, AuditActor
from domain.administration.tenancy import Role, TwilioCredentials
from domain.identity.credentials import ApiKey
from tests.support.fakes import (
    FakePasswordHasher,
    FakeRateLimiter,
    FakeUnitOfWork,
    FakeWebhookUrlGuard,
    FixedClock,
    TenantAccount,
)
from tests.support.provider_accounts import twilio_credentials
from tests.support.use_cases import add_agent, admin_of

FAILURE_LIMIT = RateLimit(amount=5, per_seconds=900)
CREDENTIALS = TwilioCredentials(account_sid="AC" + "5" * 32, auth_token="an-auth-token-of-the-tenant")

Attempt = Callable[[Principal], Awaitable[object]]


def key_of(account: TenantAccount, role: Role = Role.TENANT_ADMIN) -> Principal:
    """An API key of the account's tenant: no user, no session."""
    return Principal(user_id=None, tenant_id=account.tenant.id, role=role, api_key_id=uuid4())


def attempts(
    uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock, limiter: FakeRateLimiter
) -> dict[str, Attempt]:
    """Every use case that needs a person, as ``actor -> the call``."""

    async def update_user(actor: Principal) -> object:
        (agent,) = [u for u in await uow.users.list_for_tenant(actor.tenant_id) if u.role is Role.AGENT]
        return await UpdateUser(uow, hasher, clock)(
            actor, agent.id, UpdateUserCommand(password="taken over!")
        )

    async def revoke_key(actor: Principal) -> object:
        (key, *_) = await uow.api_keys.list_for_tenant(actor.tenant_id)
        await RevokeApiKey(uow, clock)(actor, key.id)
        return key.id

    async def rotate_secret(actor: Principal) -> object:
        (endpoint,) = await uow.webhook_endpoints.list_for_tenant(actor.tenant_id)
        return await RotateWebhookSecret(uow, clock)(actor, endpoint.id)

    return {
        "create an admin": lambda actor: CreateUser(uow, hasher, clock)(
            actor, actor.tenant_id, "mallory", "a long password", Role.TENANT_ADMIN
        ),
        "set another user's password": update_user,
        "create an API key": lambda actor: CreateApiKey(uow, clock)(actor, "successor", Role.TENANT_ADMIN),
        "list API keys": ListApiKeys(uow),
        "revoke an API key": revoke_key,
        "set the Twilio credentials": lambda actor: SetTwilioCredentials(uow, clock)(actor, CREDENTIALS),
        "register a webhook endpoint": lambda actor: RegisterWebhookEndpoint(
            uow, FakeWebhookUrlGuard(), clock
        )(
            RegisterWebhookCommand(
                principal=actor, url="https://crm.example.com/h", events=["message.status"]
            )
        ),
        "rotate a webhook secret": rotate_secret,
        "log out": Logout(uow, clock),
        "change one's password": lambda actor: ChangeOwnPassword(uow, hasher, clock, limiter, FAILURE_LIMIT)(
            actor, "correct horse battery", "a new password"
        ),
    }


@pytest.fixture
async def prepared(
    uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock, acme: TenantAccount
) -> TenantAccount:
    """Acme with an agent, an API key and a webhook endpoint, for the attempts to act on."""
    admin = admin_of(acme)
    await add_agent(uow, hasher, clock, acme)
    await CreateApiKey(uow, clock)(admin, "orders", Role.AGENT)
    await RegisterWebhookEndpoint(uow, FakeWebhookUrlGuard(), clock)(
        RegisterWebhookCommand(
            principal=admin, url="https://crm.example.com/hooks", events=["message.status"]
        )
    )
    return acme


ATTEMPTS = list(attempts(FakeUnitOfWork(), FakePasswordHasher(), FixedClock(), FakeRateLimiter(FixedClock())))


@pytest.mark.parametrize("what", ATTEMPTS)
async def test_a_tenant_admin_key_is_refused_and_nothing_changes(
    what: str,
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    clock: FixedClock,
    limiter: FakeRateLimiter,
    prepared: TenantAccount,
) -> None:
    users, keys = uow.users.all(), uow.api_keys.all()
    entries = uow.audit.all()

    with pytest.raises(PersonRequired, match="an API key cannot"):
        await attempts(uow, hasher, clock, limiter)[what](key_of(prepared))

    assert (uow.users.all(), uow.api_keys.all(), uow.audit.all()) == (users, keys, entries)
    assert await twilio_credentials(uow, prepared.tenant.id) is None


@pytest.mark.parametrize("what", ATTEMPTS)
async def test_a_logged_in_tenant_admin_may(
    what: str,
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    clock: FixedClock,
    limiter: FakeRateLimiter,
    prepared: TenantAccount,
) -> None:
    admin = Principal(
        user_id=prepared.user.id, tenant_id=prepared.tenant.id, role=Role.TENANT_ADMIN, session_id=uuid4()
    )
    before = uow.audit.all()

    result = await attempts(uow, hasher, clock, limiter)[what](admin)

    new_entries = uow.audit.all()[len(before) :]
    if what == "list API keys":
        assert new_entries == []  # reading records nothing
        assert [key.name for key in cast(list[ApiKey], result)] == ["orders"]
        return
    (entry,) = new_entries
    assert entry.action is RECORDED[what]
    assert entry.actor == AuditActor(kind=ActorKind.USER, id=prepared.user.id, role=Role.TENANT_ADMIN)
    assert entry.tenant_id == prepared.tenant.id
    if what == "create an admin":
        assert await uow.users.get_by_username("mallory") == result
    if what == "create an API key":
        assert "successor" in [key.name for key in await uow.api_keys.list_for_tenant(prepared.tenant.id)]


# What each attempt records in the audit trail when a person makes it.
RECORDED = {
    "create an admin": AuditAction.USER_CREATED,
    "set another user's password": AuditAction.USER_PASSWORD_SET,
    "create an API key": AuditAction.API_KEY_CREATED,
    "revoke an API key": AuditAction.API_KEY_REVOKED,
    "set the Twilio credentials": AuditAction.CREDENTIALS_SET,
    "register a webhook endpoint": AuditAction.WEBHOOK_ENDPOINT_CREATED,
    "rotate a webhook secret": AuditAction.WEBHOOK_SECRET_ROTATED,
    "log out": AuditAction.SESSION_ENDED,
    "change one's password": AuditAction.USER_PASSWORD_CHANGED,
}


async def test_an_agent_key_is_refused_as_a_tenant_admin_key_is(
    uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock, acme: TenantAccount
) -> None:
    with pytest.raises(PersonRequired):
        await CreateUser(uow, hasher, clock)(
            key_of(acme, Role.AGENT), acme.tenant.id, "eve", "a long password"
        )


async def test_a_tenant_admin_creates_users_in_their_own_tenant_only(
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    with pytest.raises(NotFound):
        await CreateUser(uow, hasher, clock)(admin_of(acme), globex.tenant.id, "spy", "a long password")
    agent = Principal(user_id=uuid4(), tenant_id=acme.tenant.id, role=Role.AGENT, session_id=uuid4())
    with pytest.raises(AccessDenied):
        await CreateUser(uow, hasher, clock)(agent, acme.tenant.id, "eve", "a long password")


async def test_only_a_platform_admin_or_the_operator_creates_tenants(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    with pytest.raises(AccessDenied):
        await CreateTenant(uow, clock)(admin_of(acme), CreateTenantCommand(name="Mine"))

    assert (await CreateTenant(uow, clock)(OPERATOR, CreateTenantCommand(name="Initech"))).name == "Initech"


def test_the_operator_is_a_person_and_a_key_never_is() -> None:
    require_person(OPERATOR, PersonOnly.MANAGE_USERS)
    with pytest.raises(PersonRequired, match="an API key cannot set the provider credentials"):
        require_person(
            Principal(user_id=None, tenant_id=uuid4(), role=Role.TENANT_ADMIN),
            PersonOnly.SET_PROVIDER_CREDENTIALS,
        )
