"""The audit trail, from the use cases' side: each security-relevant action leaves one entry, in the
transaction of the action, with who did it, where, from which address and request — and never a
secret. Tenant admins read their tenant's trail, platform admins every tenant's."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from uuid import uuid4

import pytest

from application.administration.audit_trail import (
    AuditTrailRequest,
    ListAuditTrail,
    ListPlatformAuditTrail,
    PurgeAuditLog,
)
from application.administration.onboarding import CreateTenant, CreateTenantCommand, CreateUser
from application.administration.platform import (
    ReactivateTenant,
    SuspendTenant,
    UpdateTenant,
    UpdateTenantCommand,
)
from application.administration.tenant_admin import SetTwilioCredentials, UpdateUser, UpdateUserCommand
from application.authorization import OPERATOR
from application.errors import AccessDenied, AlreadyExists, AuthenticationFailed, InvalidCursor, InvalidToken
from application.identity.api_keys import CreateApiKey, RevokeApiKey
from application.identity.authenticate import Authenticate
from application.identity.sessions import ChangeOwnPassword, Logout, RefreshSession
from application.log_context import log_context
from application.pagination import encode_delivery_cursor
from application.ports.rate_limits import RateLimit
from application.principal import Principal
from application.tenant_webhooks.endpoints import (
    RegisterWebhookCommand,
    RegisterWebhookEndpoint,
    RotateWebhookSecret,
)
from domain.administration.audit import (
    MIN_RETENTION,
    ActorKind,
    AuditAction,
    AuditEntry,
    AuditTarget,
    TargetKind,
)
from domain.administration.tenancy import Role, TwilioCredentials
from domain.identity.credentials import PLATFORM_TENANT_ID
from tests.support.fakes import (
    FakePasswordHasher,
    FakeRateLimiter,
    FakeTokenService,
    FakeUnitOfWork,
    FakeWebhookUrlGuard,
    FixedClock,
    TenantAccount,
)

ADDRESS = "198.51.100.23"
LIMIT = RateLimit(amount=10, per_seconds=60)
AUTH_TOKEN = "twilio-auth-token-do-not-log"
API_KEY_SECRET = "twilio-api-key-secret-do-not-log"


def admin(account: TenantAccount) -> Principal:
    """The account's admin, logged in, calling from ADDRESS."""
    return Principal(
        user_id=account.user.id,
        tenant_id=account.tenant.id,
        role=Role.TENANT_ADMIN,
        session_id=uuid4(),
        client_address=ADDRESS,
    )


ROOT = Principal(
    user_id=uuid4(),
    tenant_id=PLATFORM_TENANT_ID,
    role=Role.PLATFORM_ADMIN,
    session_id=uuid4(),
    client_address=ADDRESS,
)


def only(uow: FakeUnitOfWork, action: AuditAction) -> AuditEntry:
    (found,) = [entry for entry in uow.audit.all() if entry.action is action]
    return found


# ------------------------------------------------------------------------------------- what is recorded


async def test_a_login_is_recorded_with_the_user_the_address_and_the_request(
    authenticate: Authenticate, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    with log_context(request_id="req-login-1"):
        await authenticate("alice", acme.password, ADDRESS)

    entry = only(uow, AuditAction.LOGIN_SUCCEEDED)
    assert (entry.actor.kind, entry.actor.id, entry.actor.role) == (
        ActorKind.USER,
        acme.user.id,
        Role.TENANT_ADMIN,
    )
    assert (entry.tenant_id, entry.client_address, entry.request_id) == (
        acme.tenant.id,
        ADDRESS,
        "req-login-1",
    )
    assert entry.occurred_at == clock.now()
    assert entry.details == {"username": "alice"}


async def test_a_refused_login_is_recorded_on_its_own_and_keeps_no_typed_username(
    authenticate: Authenticate, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    with pytest.raises(AuthenticationFailed):
        await authenticate("alice", "not the password", ADDRESS)
    with pytest.raises(AuthenticationFailed):
        await authenticate("my secret password", "oops", ADDRESS)  # typed into the wrong field

    wrong, unknown = uow.audit.all()
    assert (wrong.action, wrong.tenant_id, wrong.details) == (
        AuditAction.LOGIN_REFUSED,
        acme.tenant.id,
        {"reason": "wrong_password", "username": "alice"},
    )
    assert wrong.target == AuditTarget(kind=TargetKind.USER, id=str(acme.user.id))
    assert (unknown.tenant_id, unknown.target, unknown.details) == (None, None, {"reason": "unknown_user"})
    assert unknown.actor.kind is ActorKind.ANONYMOUS
    assert "secret" not in repr(uow.audit.all())
    assert "oops" not in repr(uow.audit.all())
    assert uow.sessions.all() == []


async def test_a_logout_and_a_reused_refresh_token_end_sessions_on_the_record(
    authenticate: Authenticate,
    uow: FakeUnitOfWork,
    tokens: FakeTokenService,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    first = await authenticate("alice", acme.password, ADDRESS)
    await RefreshSession(uow, tokens, clock)(first.refresh_token)
    with pytest.raises(InvalidToken):
        await RefreshSession(uow, tokens, clock)(first.refresh_token, "192.0.2.66")
    second_session = uuid4()

    await Logout(uow, clock)(
        Principal(
            user_id=acme.user.id, tenant_id=acme.tenant.id, role=Role.TENANT_ADMIN, session_id=second_session
        )
    )

    reused, logged_out = [e for e in uow.audit.all() if e.action is AuditAction.SESSION_ENDED]
    assert reused.details == {"reason": "refresh_token_reused", "username": "alice"}
    assert (reused.client_address, reused.tenant_id) == ("192.0.2.66", acme.tenant.id)
    assert logged_out.details == {"reason": "logout"}
    assert logged_out.target == AuditTarget(kind=TargetKind.SESSION, id=str(second_session))


async def test_user_changes_are_recorded_one_entry_each_without_the_password(
    uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock, acme: TenantAccount
) -> None:
    ana = await CreateUser(uow, hasher, clock)(admin(acme), acme.tenant.id, "ana", "the first password")

    await UpdateUser(uow, hasher, clock)(
        admin(acme), ana.id, UpdateUserCommand(role=Role.TENANT_ADMIN, password="the second password")
    )
    await UpdateUser(uow, hasher, clock)(admin(acme), ana.id, UpdateUserCommand(is_active=False))

    actions = [entry.action for entry in uow.audit.all()]
    assert actions == [
        AuditAction.USER_CREATED,
        AuditAction.USER_PASSWORD_SET,
        AuditAction.USER_ROLE_CHANGED,
        AuditAction.USER_DEACTIVATED,
    ]
    assert only(uow, AuditAction.USER_ROLE_CHANGED).details == {
        "username": "ana",
        "role": "tenant_admin",
        "previous_role": "agent",
        "sessions_ended": "0",
    }
    assert all(
        entry.actor.id == acme.user.id and entry.client_address == ADDRESS for entry in uow.audit.all()
    )
    assert all(entry.target is not None and entry.target.id == str(ana.id) for entry in uow.audit.all())
    assert "the first password" not in repr(uow.audit.all())
    assert "the second password" not in repr(uow.audit.all())


async def test_an_own_password_change_is_recorded(
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    clock: FixedClock,
    limiter: FakeRateLimiter,
    acme: TenantAccount,
) -> None:
    await ChangeOwnPassword(uow, hasher, clock, limiter, LIMIT)(
        admin(acme), acme.password, "a better password"
    )

    entry = only(uow, AuditAction.USER_PASSWORD_CHANGED)
    assert (entry.actor.id, entry.details["username"]) == (acme.user.id, "alice")
    assert "a better password" not in repr(entry)


async def test_api_keys_created_and_revoked_are_recorded_without_the_key(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    created = await CreateApiKey(uow, clock)(admin(acme), "orders", Role.AGENT)
    await RevokeApiKey(uow, clock)(admin(acme), created.api_key.id)
    await RevokeApiKey(uow, clock)(admin(acme), created.api_key.id)  # changes nothing: not recorded again

    made, revoked = uow.audit.all()
    assert (made.action, revoked.action) == (AuditAction.API_KEY_CREATED, AuditAction.API_KEY_REVOKED)
    assert made.details == {"name": "orders", "role": "agent", "prefix": created.api_key.prefix}
    assert made.target == AuditTarget(kind=TargetKind.API_KEY, id=str(created.api_key.id))
    assert created.key not in repr(uow.audit.all())


async def test_credentials_and_webhook_secrets_are_recorded_without_the_secrets(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    credentials = TwilioCredentials(
        account_sid="AC" + "6" * 32,
        auth_token=AUTH_TOKEN,
        api_key_sid="SK" + "7" * 32,
        api_key_secret=API_KEY_SECRET,
    )
    await SetTwilioCredentials(uow, clock)(admin(acme), credentials)
    created = await RegisterWebhookEndpoint(uow, FakeWebhookUrlGuard(), clock)(
        RegisterWebhookCommand(
            principal=admin(acme),
            url="https://crm.example.com/hooks?token=url-secret",
            events=["message.status"],
        )
    )
    rotated = await RotateWebhookSecret(uow, clock)(admin(acme), created.endpoint.id, timedelta(hours=1))

    assert only(uow, AuditAction.CREDENTIALS_SET).details == {
        "provider": "twilio",
        "account_sid": "AC" + "6" * 32,
        "api_key_sid": "SK" + "7" * 32,
    }
    assert only(uow, AuditAction.WEBHOOK_ENDPOINT_CREATED).details == {"events": "message.status"}
    assert only(uow, AuditAction.WEBHOOK_SECRET_ROTATED).details == {"overlap_seconds": "3600"}
    trail = repr(uow.audit.all())
    for secret in (AUTH_TOKEN, API_KEY_SECRET, created.secret, rotated.secret, "url-secret"):
        assert secret not in trail


async def test_what_a_platform_admin_does_to_a_tenant_is_in_that_tenants_trail(
    uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock
) -> None:
    tenant = await CreateTenant(uow, clock)(ROOT, CreateTenantCommand(name="Initech"))
    await CreateUser(uow, hasher, clock)(ROOT, tenant.id, "peter", "tps reports!", Role.TENANT_ADMIN)
    await UpdateTenant(uow, clock)(ROOT, tenant.id, UpdateTenantCommand(name="Initech Ltd", sends_per_day=50))
    await SuspendTenant(uow, clock)(ROOT, tenant.id)
    await SuspendTenant(uow, clock)(ROOT, tenant.id)  # suspended already: nothing new to record
    await ReactivateTenant(uow, clock)(ROOT, tenant.id)

    trail = [entry for entry in uow.audit.all() if entry.tenant_id == tenant.id]
    assert [entry.action for entry in trail] == [
        AuditAction.TENANT_CREATED,
        AuditAction.USER_CREATED,
        AuditAction.TENANT_UPDATED,
        AuditAction.TENANT_SUSPENDED,
        AuditAction.TENANT_REACTIVATED,
    ]
    assert all(entry.actor.role is Role.PLATFORM_ADMIN and entry.actor.id == ROOT.user_id for entry in trail)
    assert trail[2].details == {"changed": "name,sends_per_day", "name": "Initech Ltd"}


async def test_the_command_line_is_recorded_as_the_operator(
    uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock
) -> None:
    tenant = await CreateTenant(uow, clock)(OPERATOR, CreateTenantCommand(name="Initech"))
    await CreateUser(uow, hasher, clock)(OPERATOR, tenant.id, "peter", "tps reports!")

    assert {entry.actor.kind for entry in uow.audit.all()} == {ActorKind.OPERATOR}
    assert {entry.client_address for entry in uow.audit.all()} == {None}


async def test_an_action_that_fails_leaves_no_entry(
    uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock, acme: TenantAccount
) -> None:
    with pytest.raises(AlreadyExists):
        await CreateUser(uow, hasher, clock)(admin(acme), acme.tenant.id, "alice", "a long password")

    assert uow.audit.all() == []


# ----------------------------------------------------------------------------------------- reading it


async def _trail_of_two_tenants(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    for n in range(5):
        await CreateApiKey(uow, clock)(admin(acme), f"acme key {n}", Role.AGENT)
        clock.advance(timedelta(minutes=1))
    await CreateApiKey(uow, clock)(admin(globex), "globex key", Role.AGENT)


async def test_a_tenant_admin_reads_their_tenants_trail_a_page_at_a_time(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    await _trail_of_two_tenants(uow, clock, acme, globex)
    read = ListAuditTrail(uow)

    first = await read(AuditTrailRequest(principal=admin(acme), limit=3))
    rest = await read(AuditTrailRequest(principal=admin(acme), limit=3, cursor=first.next_cursor))

    names = [entry.details["name"] for entry in first.items + rest.items]
    assert names == [f"acme key {n}" for n in reversed(range(5))]
    assert rest.next_cursor is None


async def test_a_tenant_admin_key_reads_the_trail_and_an_agent_does_not(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    await _trail_of_two_tenants(uow, clock, acme, globex)
    key = Principal(user_id=None, tenant_id=acme.tenant.id, role=Role.TENANT_ADMIN, api_key_id=uuid4())
    agent = Principal(user_id=uuid4(), tenant_id=acme.tenant.id, role=Role.AGENT, session_id=uuid4())

    assert len((await ListAuditTrail(uow)(AuditTrailRequest(principal=key))).items) == 5
    with pytest.raises(AccessDenied):
        await ListAuditTrail(uow)(AuditTrailRequest(principal=agent))
    with pytest.raises(AccessDenied):
        await ListPlatformAuditTrail(uow)(AuditTrailRequest(principal=admin(acme)))


async def test_the_trail_is_filtered_by_action_actor_and_time(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    start = clock.now()
    await _trail_of_two_tenants(uow, clock, acme, globex)
    created = await CreateApiKey(uow, clock)(admin(acme), "last", Role.AGENT)
    await RevokeApiKey(uow, clock)(admin(acme), created.api_key.id)
    read = ListAuditTrail(uow)

    revoked = await read(AuditTrailRequest(principal=admin(acme), action=AuditAction.API_KEY_REVOKED))
    by_alice = await read(AuditTrailRequest(principal=admin(acme), actor_id=acme.user.id))
    by_bob = await read(AuditTrailRequest(principal=admin(acme), actor_id=globex.user.id))
    window = await read(
        AuditTrailRequest(
            principal=admin(acme), since=start + timedelta(minutes=1), until=start + timedelta(minutes=3)
        )
    )

    assert [entry.details["name"] for entry in revoked.items] == ["last"]
    assert len(by_alice.items) == 7
    assert by_bob.items == []  # another tenant's admin: nothing of theirs is in this tenant's trail
    assert [entry.details["name"] for entry in window.items] == ["acme key 2", "acme key 1"]


async def test_a_platform_admin_reads_every_tenants_trail_or_one(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    await _trail_of_two_tenants(uow, clock, acme, globex)
    read = ListPlatformAuditTrail(uow)

    everything = await read(AuditTrailRequest(principal=ROOT))
    globex_only = await read(AuditTrailRequest(principal=ROOT, tenant_id=globex.tenant.id))

    assert {entry.tenant_id for entry in everything.items} == {acme.tenant.id, globex.tenant.id}
    assert [entry.details["name"] for entry in globex_only.items] == ["globex key"]


async def test_another_kind_of_cursor_is_refused(uow: FakeUnitOfWork, acme: TenantAccount) -> None:
    with pytest.raises(InvalidCursor):
        await ListAuditTrail(uow)(
            AuditTrailRequest(principal=admin(acme), cursor=encode_delivery_cursor("msg_x"))
        )


# ------------------------------------------------------------------------------------------ retention


async def test_entries_older_than_the_retention_are_purged(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await CreateApiKey(uow, clock)(admin(acme), "old", Role.AGENT)
    clock.advance(timedelta(days=100))
    await CreateApiKey(uow, clock)(admin(acme), "recent", Role.AGENT)
    clock.advance(timedelta(days=1))

    purged = await PurgeAuditLog(uow, clock, retention=timedelta(days=90))()

    assert purged == 1
    assert [entry.details["name"] for entry in uow.audit.all()] == ["recent"]


def test_the_retention_is_never_shorter_than_the_minimum(uow: FakeUnitOfWork, clock: FixedClock) -> None:
    with pytest.raises(ValueError, match="30 days"):
        PurgeAuditLog(uow, clock, retention=MIN_RETENTION - timedelta(days=1))


async def test_a_forged_cursor_out_of_range_is_refused(uow: FakeUnitOfWork, acme: TenantAccount) -> None:
    raw = json.dumps(["a", "0001-01-01T00:00:00+14:00", str(uuid4())]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")

    with pytest.raises(InvalidCursor):
        await ListAuditTrail(uow)(AuditTrailRequest(principal=admin(acme), cursor=cursor))
