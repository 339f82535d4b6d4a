"""Platform administration: tenants listed, read, changed, suspended and reactivated; the platform
tenant platform admins belong to, which is nobody's customer tenant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from application.administration.onboarding import (
    CreateTenant,
    CreateTenantCommand,
    CreateUser,
    EnsurePlatformTenant,
    ProvisionDemo,
)
from application.administration.platform import (
    GetTenant,
    ListTenants,
    ReactivateTenant,
    SuspendTenant,
    UpdateTenant,
    UpdateTenantCommand,
)
from application.authorization import OPERATOR, Actor
from application.errors import AccessDenied, AlreadyExists, InvalidCursor, InvalidInput, NotFound
from application.principal import Principal
from domain.administration.tenancy import ProviderName, Role, TenantStatus, TwilioCredentials
from domain.identity.credentials import PLATFORM_TENANT_ID, AuthSession, RevocationReason
from tests.support.fakes import FakePasswordHasher, FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.provider_accounts import set_twilio_credentials

CREDENTIALS = TwilioCredentials(account_sid="AC" + "1" * 32, auth_token="auth-token-0123456789")
ROOT = Principal(user_id=uuid4(), tenant_id=PLATFORM_TENANT_ID, role=Role.PLATFORM_ADMIN)


async def make_tenants(uow: FakeUnitOfWork, clock: FixedClock, *names: str) -> None:
    for name in names:
        await CreateTenant(uow, clock)(OPERATOR, CreateTenantCommand(name=name))


async def test_tenants_are_listed_by_name_a_page_at_a_time_without_the_platform_tenant(
    uow: FakeUnitOfWork, clock: FixedClock
) -> None:
    await EnsurePlatformTenant(uow, clock)()
    await make_tenants(uow, clock, "Delta", "Alpha", "Charlie", "Bravo", "Echo")
    list_tenants = ListTenants(uow)

    seen: list[str] = []
    cursor = None
    while True:
        page = await list_tenants(ROOT, 2, cursor)
        assert len(page.items) <= 2
        seen += [tenant.name for tenant in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]


async def test_a_page_is_100_tenants_at_most(uow: FakeUnitOfWork, clock: FixedClock) -> None:
    await make_tenants(uow, clock, *(f"tenant {n:03d}" for n in range(102)))

    page = await ListTenants(uow)(ROOT, 1000)

    assert len(page.items) == 100
    assert page.next_cursor is not None


@pytest.mark.parametrize("cursor", ["garbage!", "WyJjIiwieCJd", "WyJ0IiwxXQ"])
async def test_a_foreign_cursor_is_refused(uow: FakeUnitOfWork, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        await ListTenants(uow)(ROOT, 10, cursor)


async def test_the_platform_tenant_is_not_a_tenant_to_administer(
    uow: FakeUnitOfWork, clock: FixedClock
) -> None:
    await EnsurePlatformTenant(uow, clock)()

    with pytest.raises(NotFound):
        await GetTenant(uow)(ROOT, PLATFORM_TENANT_ID)
    with pytest.raises(NotFound):
        await SuspendTenant(uow, clock)(ROOT, PLATFORM_TENANT_ID)
    with pytest.raises(NotFound):
        await UpdateTenant(uow, clock)(ROOT, PLATFORM_TENANT_ID, UpdateTenantCommand(name="mine"))


async def test_a_tenant_is_renamed_and_its_window_check_switched(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    updated = await UpdateTenant(uow, clock)(
        ROOT, acme.tenant.id, UpdateTenantCommand(name="  Acme Shoes ", session_window_check=False)
    )

    assert (updated.name, updated.session_window_check) == ("Acme Shoes", False)
    assert await uow.tenants.get(acme.tenant.id) == updated


async def test_renaming_to_a_taken_or_reserved_name_is_refused(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    with pytest.raises(AlreadyExists):
        await UpdateTenant(uow, clock)(ROOT, acme.tenant.id, UpdateTenantCommand(name=globex.tenant.name))
    with pytest.raises(InvalidInput, match="reserved"):
        await UpdateTenant(uow, clock)(ROOT, acme.tenant.id, UpdateTenantCommand(name="Platform"))


async def test_moving_to_twilio_needs_credentials_first(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    with pytest.raises(InvalidInput, match="credentials"):
        await UpdateTenant(uow, clock)(
            ROOT, acme.tenant.id, UpdateTenantCommand(provider=ProviderName.TWILIO)
        )

    await set_twilio_credentials(uow, acme.tenant.id, CREDENTIALS)
    updated = await UpdateTenant(uow, clock)(
        ROOT, acme.tenant.id, UpdateTenantCommand(provider=ProviderName.TWILIO)
    )

    assert updated.provider is ProviderName.TWILIO


async def test_a_twilio_tenant_keeps_the_window_check(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await set_twilio_credentials(uow, acme.tenant.id, CREDENTIALS)

    with pytest.raises(InvalidInput, match="sandbox"):
        await UpdateTenant(uow, clock)(
            ROOT,
            acme.tenant.id,
            UpdateTenantCommand(provider=ProviderName.TWILIO, session_window_check=False),
        )


async def test_suspending_a_tenant_ends_its_sessions_and_reactivating_restores_it(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    for account in (acme, globex):
        await uow.sessions.add(
            AuthSession(
                user_id=account.user.id,
                tenant_id=account.tenant.id,
                created_at=clock.now(),
                expires_at=clock.now() + timedelta(hours=1),
            )
        )

    suspended = await SuspendTenant(uow, clock)(ROOT, acme.tenant.id)

    assert suspended.status is TenantStatus.SUSPENDED
    stored = await uow.tenants.get(acme.tenant.id)
    assert stored is not None
    assert stored.status is TenantStatus.SUSPENDED
    reasons = {s.tenant_id: s.revoked_reason for s in uow.sessions.all()}
    assert reasons == {acme.tenant.id: RevocationReason.TENANT_SUSPENDED, globex.tenant.id: None}

    reactivated = await ReactivateTenant(uow, clock)(ROOT, acme.tenant.id)
    assert reactivated.is_active
    assert await uow.tenants.get(acme.tenant.id) == replace(acme.tenant, status=TenantStatus.ACTIVE)


# Every use case of the platform admins, as ``(a tenant, the caller) -> the call``.
PLATFORM_ADMINS_ONLY: dict[str, Callable[[FakeUnitOfWork, FixedClock, UUID, Actor], Awaitable[object]]] = {
    "list tenants": lambda uow, _, __, actor: ListTenants(uow)(actor, 10),
    "read a tenant": lambda uow, _, tenant_id, actor: GetTenant(uow)(actor, tenant_id),
    "create a tenant": lambda uow, clock, _, actor: CreateTenant(uow, clock)(
        actor, CreateTenantCommand(name="Mine")
    ),
    "change a tenant": lambda uow, clock, tenant_id, actor: UpdateTenant(uow, clock)(
        actor, tenant_id, UpdateTenantCommand(name="Mine")
    ),
    "suspend a tenant": lambda uow, clock, tenant_id, actor: SuspendTenant(uow, clock)(actor, tenant_id),
    "reactivate a tenant": lambda uow, clock, tenant_id, actor: ReactivateTenant(uow, clock)(
        actor, tenant_id
    ),
}

# A tenant's own callers: whatever their role, tenants are not theirs to administer.
TENANTS_CALLERS: dict[str, Callable[[TenantAccount], Principal]] = {
    "its logged-in admin": lambda account: Principal(
        user_id=account.user.id, tenant_id=account.tenant.id, role=Role.TENANT_ADMIN, session_id=uuid4()
    ),
    "its tenant-admin key": lambda account: Principal(
        user_id=None, tenant_id=account.tenant.id, role=Role.TENANT_ADMIN, api_key_id=uuid4()
    ),
    "its agent's key": lambda account: Principal(
        user_id=None, tenant_id=account.tenant.id, role=Role.AGENT, api_key_id=uuid4()
    ),
}


@pytest.mark.parametrize("caller", TENANTS_CALLERS)
@pytest.mark.parametrize("what", PLATFORM_ADMINS_ONLY)
async def test_the_use_case_refuses_anyone_but_a_platform_admin_and_nothing_changes(
    what: str, caller: str, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    before = (await uow.tenants.get(acme.tenant.id), uow.audit.all(), await uow.tenants.count())

    with pytest.raises(AccessDenied, match="only platform admins administer tenants"):
        await PLATFORM_ADMINS_ONLY[what](uow, clock, acme.tenant.id, TENANTS_CALLERS[caller](acme))

    assert (await uow.tenants.get(acme.tenant.id), uow.audit.all(), await uow.tenants.count()) == before


@pytest.mark.parametrize("actor", [ROOT, OPERATOR], ids=["a platform admin", "the operator"])
@pytest.mark.parametrize("what", PLATFORM_ADMINS_ONLY)
async def test_a_platform_admin_and_the_operator_may(
    what: str, actor: Actor, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await PLATFORM_ADMINS_ONLY[what](uow, clock, acme.tenant.id, actor)


async def test_an_unknown_tenant_is_not_found(uow: FakeUnitOfWork, clock: FixedClock) -> None:
    with pytest.raises(NotFound):
        await GetTenant(uow)(ROOT, uuid4())
    with pytest.raises(NotFound):
        await ReactivateTenant(uow, clock)(ROOT, uuid4())


# ------------------------------------------------------------------------------------ platform tenant


async def test_the_platform_tenant_is_created_once(uow: FakeUnitOfWork, clock: FixedClock) -> None:
    first = await EnsurePlatformTenant(uow, clock)()
    second = await EnsurePlatformTenant(uow, clock)()

    assert first == second
    assert first.id == PLATFORM_TENANT_ID
    assert len(uow.tenants.all()) == 1


async def test_platform_admins_belong_to_the_platform_tenant_only(
    uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock, acme: TenantAccount
) -> None:
    await EnsurePlatformTenant(uow, clock)()
    create_user = CreateUser(uow, hasher, clock)

    admin = await create_user(OPERATOR, PLATFORM_TENANT_ID, "root", "a long password", Role.PLATFORM_ADMIN)

    assert admin.role is Role.PLATFORM_ADMIN
    with pytest.raises(InvalidInput, match="platform"):
        await create_user(OPERATOR, acme.tenant.id, "sneaky", "a long password", Role.PLATFORM_ADMIN)
    with pytest.raises(InvalidInput, match="platform"):
        await create_user(OPERATOR, PLATFORM_TENANT_ID, "agent7", "a long password", Role.AGENT)


async def test_the_platform_name_is_reserved(uow: FakeUnitOfWork, clock: FixedClock) -> None:
    with pytest.raises(InvalidInput, match="reserved"):
        await CreateTenant(uow, clock)(OPERATOR, CreateTenantCommand(name="PLATFORM"))


async def test_a_platform_admin_alone_does_not_stop_the_demo(
    uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock
) -> None:
    await EnsurePlatformTenant(uow, clock)()

    demo = await ProvisionDemo(uow, hasher, clock)()

    assert demo is not None
    assert await ProvisionDemo(uow, hasher, clock)() is None
