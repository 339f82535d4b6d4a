"""A tenant's provider accounts, kept by its admins, and the account each of its senders sends through:
secrets set by a person only, never in the audit trail, and one tenant never reaching another's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID, uuid4

import pytest

from application.administration.onboarding import (
    META_IS_PER_SENDER,
    AddSender,
    CreateTenant,
    CreateTenantCommand,
)
from application.administration.provider_accounts import (
    MAX_ACCOUNT_LABEL,
    AddProviderAccount,
    GetProviderAccount,
    ListProviderAccounts,
    RemoveProviderAccount,
    UpdateProviderAccount,
    UpdateProviderAccountCommand,
)
from application.administration.tenant_admin import SetTwilioCredentials, UpdateSender, UpdateSenderCommand
from application.authorization import OPERATOR
from application.errors import (
    AccessDenied,
    AccountInUse,
    AlreadyExists,
    InvalidInput,
    NotFound,
    PersonRequired,
)
from application.principal import Principal
from domain.administration.audit import ActorKind, AuditAction, AuditEntry, AuditTarget, TargetKind
from domain.administration.tenancy import (
    MetaCredentials,
    ProviderAccount,
    ProviderName,
    Role,
    Sender,
    TwilioCredentials,
)
from domain.errors import InvalidCredentials
from domain.identity.credentials import PLATFORM_TENANT_ID
from tests.support.fakes import FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.use_cases import admin_of

AUTH_TOKEN = "twilio-auth-token-0123456789"
API_KEY_SECRET = "twilio-api-key-secret-0123456789"
TWILIO = TwilioCredentials(
    account_sid="AC" + "a" * 32,
    auth_token=AUTH_TOKEN,
    api_key_sid="SK" + "b" * 32,
    api_key_secret=API_KEY_SECRET,
)
ROTATED_AUTH_TOKEN = "rotated-twilio-auth-token-0123"
ACCESS_TOKEN = "EAAG-the-tenants-system-user-access-token"
APP_SECRET = "the-apps-secret-0123456789abcdef"
VERIFY_TOKEN = "the-webhook-verify-token-0123"
META = MetaCredentials(
    business_account_id="102290129340398",
    access_token=ACCESS_TOKEN,
    app_secret=APP_SECRET,
    verify_token=VERIFY_TOKEN,
)
ROTATED_ACCESS_TOKEN = "EAAG-a-rotated-access-token-0123"
SECRETS = (AUTH_TOKEN, API_KEY_SECRET, ROTATED_AUTH_TOKEN, ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN)
PHONE_NUMBER_ID = "106540352242922"
NEW_NUMBER = "+14155238800"


def key_of(account: TenantAccount, role: Role = Role.TENANT_ADMIN) -> Principal:
    """An API key of ``account``'s tenant."""
    return Principal(user_id=None, tenant_id=account.tenant.id, role=role, api_key_id=uuid4())


async def add_account(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    account: TenantAccount,
    credentials: TwilioCredentials | MetaCredentials,
    label: str = "",
) -> ProviderAccount:
    clock.advance()  # one account after another: listed in the order they were added
    return await AddProviderAccount(uow, clock)(admin_of(account), credentials, label=label)


async def accounts_of(uow: FakeUnitOfWork, account: TenantAccount) -> list[ProviderAccount]:
    return await uow.provider_accounts.list_for_tenant(account.tenant.id)


async def stored_sender(uow: FakeUnitOfWork, sender: Sender) -> Sender | None:
    return await uow.senders.get(sender.tenant_id, sender.id)


# --------------------------------------------------------------------------------------------- accounts


async def test_an_admin_adds_accounts_then_lists_and_reads_them(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    twilio = await add_account(uow, clock, acme, TWILIO, label="  Twilio main  ")
    meta = await add_account(uow, clock, acme, META, label="Cloud API")

    assert (twilio.tenant_id, twilio.provider, twilio.label) == (
        acme.tenant.id,
        ProviderName.TWILIO,
        "Twilio main",
    )
    assert (meta.provider, meta.credentials, meta.created_at) == (ProviderName.META, META, clock.now())
    assert await ListProviderAccounts(uow)(admin_of(acme)) == [twilio, meta]
    assert await GetProviderAccount(uow)(admin_of(acme), meta.id) == meta
    assert await accounts_of(uow, acme) == [twilio, meta]


async def test_an_account_label_has_a_limit(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    with pytest.raises(InvalidInput):
        await add_account(uow, clock, acme, TWILIO, label="x" * (MAX_ACCOUNT_LABEL + 1))
    account = await add_account(uow, clock, acme, TWILIO)
    with pytest.raises(InvalidInput):
        await UpdateProviderAccount(uow, clock)(
            admin_of(acme), account.id, UpdateProviderAccountCommand(label="x" * (MAX_ACCOUNT_LABEL + 1))
        )

    assert await accounts_of(uow, acme) == [account]


async def test_an_account_is_renamed_and_its_credentials_replaced(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    account = await add_account(uow, clock, acme, META, label="old")
    rotated = MetaCredentials(
        business_account_id=META.business_account_id,
        access_token=ROTATED_ACCESS_TOKEN,
        app_secret=APP_SECRET,
        verify_token=VERIFY_TOKEN,
    )

    renamed = await UpdateProviderAccount(uow, clock)(
        admin_of(acme), account.id, UpdateProviderAccountCommand(label="new")
    )
    updated = await UpdateProviderAccount(uow, clock)(
        admin_of(acme), account.id, UpdateProviderAccountCommand(credentials=rotated)
    )

    assert renamed.label == updated.label == "new"
    assert updated.credentials == rotated
    assert (updated.id, updated.created_at) == (account.id, account.created_at)
    assert await accounts_of(uow, acme) == [updated]


async def test_an_accounts_provider_cannot_change(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    twilio = await add_account(uow, clock, acme, TWILIO)
    meta = await add_account(uow, clock, acme, META)
    audit_before = uow.audit.all()

    for account, other in ((twilio, META), (meta, TWILIO)):
        with pytest.raises(InvalidCredentials):
            await UpdateProviderAccount(uow, clock)(
                admin_of(acme), account.id, UpdateProviderAccountCommand(label="moved", credentials=other)
            )

    assert await accounts_of(uow, acme) == [twilio, meta]
    assert uow.audit.all() == audit_before


async def test_an_account_is_removed_once_no_sender_sends_through_it(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    account = await add_account(uow, clock, acme, META)
    sender = await AddSender(uow, clock)(
        admin_of(acme), acme.tenant.id, NEW_NUMBER, account_id=account.id, provider_number_id=PHONE_NUMBER_ID
    )
    audit_before = uow.audit.all()

    with pytest.raises(AccountInUse):
        await RemoveProviderAccount(uow, clock)(admin_of(acme), account.id)
    assert await accounts_of(uow, acme) == [account]
    assert uow.audit.all() == audit_before

    await UpdateSender(uow)(admin_of(acme), sender.id, UpdateSenderCommand(to_tenant_provider=True))
    await RemoveProviderAccount(uow, clock)(admin_of(acme), account.id)

    assert await accounts_of(uow, acme) == []
    (removed,) = uow.audit.all()[len(audit_before) :]
    assert removed.action is AuditAction.PROVIDER_ACCOUNT_REMOVED
    with pytest.raises(NotFound):
        await RemoveProviderAccount(uow, clock)(admin_of(acme), account.id)


async def test_another_tenants_account_is_not_found(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    theirs = await add_account(uow, clock, globex, TWILIO)
    audit_before = uow.audit.all()
    acme_admin = admin_of(acme)

    assert await ListProviderAccounts(uow)(acme_admin) == []
    with pytest.raises(NotFound):
        await GetProviderAccount(uow)(acme_admin, theirs.id)
    with pytest.raises(NotFound):
        await UpdateProviderAccount(uow, clock)(
            acme_admin, theirs.id, UpdateProviderAccountCommand(label="mine", credentials=TWILIO)
        )
    with pytest.raises(NotFound):
        await RemoveProviderAccount(uow, clock)(acme_admin, theirs.id)
    with pytest.raises(NotFound):
        await GetProviderAccount(uow)(acme_admin, uuid4())

    assert await accounts_of(uow, globex) == [theirs]
    assert uow.audit.all() == audit_before


# ------------------------------------------------------------------------------------ who may do what


@dataclass(frozen=True)
class Given:
    uow: FakeUnitOfWork
    clock: FixedClock
    account_id: UUID


# Every use case on a tenant's provider accounts, as ``(what is given, the caller) -> the call``.
ACCOUNT_USE_CASES: dict[str, Callable[[Given, Principal], Awaitable[object]]] = {
    "list accounts": lambda g, actor: ListProviderAccounts(g.uow)(actor),
    "read an account": lambda g, actor: GetProviderAccount(g.uow)(actor, g.account_id),
    "add an account": lambda g, actor: AddProviderAccount(g.uow, g.clock)(actor, META),
    "rename an account": lambda g, actor: UpdateProviderAccount(g.uow, g.clock)(
        actor, g.account_id, UpdateProviderAccountCommand(label="renamed")
    ),
    "replace an account's credentials": lambda g, actor: UpdateProviderAccount(g.uow, g.clock)(
        actor, g.account_id, UpdateProviderAccountCommand(credentials=TWILIO)
    ),
    "remove an account": lambda g, actor: RemoveProviderAccount(g.uow, g.clock)(actor, g.account_id),
}

# People who are not the tenant's admins: each is refused for its role.
NOT_ADMINS: dict[str, Callable[[TenantAccount], Principal]] = {
    "a logged-in agent": lambda account: Principal(
        user_id=uuid4(), tenant_id=account.tenant.id, role=Role.AGENT, session_id=uuid4()
    ),
    "a platform admin": lambda _: Principal(
        user_id=uuid4(), tenant_id=PLATFORM_TENANT_ID, role=Role.PLATFORM_ADMIN, session_id=uuid4()
    ),
}


@pytest.fixture
async def given(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> Given:
    account = await add_account(uow, clock, acme, TWILIO)
    return Given(uow, clock, account.id)


@pytest.mark.parametrize("caller", NOT_ADMINS)
@pytest.mark.parametrize("what", ACCOUNT_USE_CASES)
async def test_only_tenant_admins_manage_provider_accounts(
    what: str, caller: str, given: Given, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    before = (await accounts_of(uow, acme), uow.audit.all())

    with pytest.raises(AccessDenied) as refused:
        await ACCOUNT_USE_CASES[what](given, NOT_ADMINS[caller](acme))

    assert type(refused.value) is AccessDenied  # the role, not a person, is what is missing
    assert (await accounts_of(uow, acme), uow.audit.all()) == before


@pytest.mark.parametrize("what", ["add an account", "replace an account's credentials"])
async def test_an_api_key_cannot_set_credentials_even_a_tenant_admins(
    what: str, given: Given, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    before = (await accounts_of(uow, acme), uow.audit.all())

    with pytest.raises(PersonRequired):
        await ACCOUNT_USE_CASES[what](given, key_of(acme))

    assert (await accounts_of(uow, acme), uow.audit.all()) == before


async def test_a_tenant_admins_api_key_renames_and_reads_accounts(
    given: Given, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    renamed = await ACCOUNT_USE_CASES["rename an account"](given, key_of(acme))

    assert isinstance(renamed, ProviderAccount)
    assert (renamed.label, renamed.credentials) == ("renamed", TWILIO)
    assert await ListProviderAccounts(uow)(key_of(acme)) == [renamed]
    assert await GetProviderAccount(uow)(key_of(acme), renamed.id) == renamed


async def test_an_agents_api_key_is_no_tenant_admin(
    given: Given, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    before = await accounts_of(uow, acme)

    for what in ("list accounts", "read an account", "rename an account", "remove an account"):
        with pytest.raises(AccessDenied):
            await ACCOUNT_USE_CASES[what](given, key_of(acme, Role.AGENT))

    assert await accounts_of(uow, acme) == before


# ------------------------------------------------------------------------------------------ the audit


def audit_text(entry: AuditEntry) -> str:
    return repr(entry) + "".join(f"{name}={value}" for name, value in entry.details.items())


async def test_the_audit_trail_names_accounts_by_their_public_ids_and_never_holds_a_secret(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    admin = admin_of(acme)
    twilio = await add_account(uow, clock, acme, TWILIO)
    meta = await add_account(uow, clock, acme, META)
    rotated_twilio = TwilioCredentials(TWILIO.account_sid, ROTATED_AUTH_TOKEN)
    await UpdateProviderAccount(uow, clock)(
        admin, twilio.id, UpdateProviderAccountCommand(credentials=rotated_twilio)
    )
    await SetTwilioCredentials(uow, clock)(admin, TWILIO)  # the tenant's first Twilio account: the same one
    await RemoveProviderAccount(uow, clock)(admin, meta.id)

    entries = uow.audit.all()

    assert [(entry.action, entry.target) for entry in entries] == [
        (AuditAction.PROVIDER_ACCOUNT_ADDED, AuditTarget(TargetKind.PROVIDER_ACCOUNT, str(twilio.id))),
        (AuditAction.PROVIDER_ACCOUNT_ADDED, AuditTarget(TargetKind.PROVIDER_ACCOUNT, str(meta.id))),
        (AuditAction.CREDENTIALS_SET, AuditTarget(TargetKind.PROVIDER_ACCOUNT, str(twilio.id))),
        (AuditAction.CREDENTIALS_SET, AuditTarget(TargetKind.PROVIDER_ACCOUNT, str(twilio.id))),
        (AuditAction.PROVIDER_ACCOUNT_REMOVED, AuditTarget(TargetKind.PROVIDER_ACCOUNT, str(meta.id))),
    ]
    twilio_ids = {"provider": "twilio", "account_sid": TWILIO.account_sid}
    meta_ids = {"provider": "meta", "business_account_id": META.business_account_id}
    assert [dict(entry.details) for entry in entries] == [
        twilio_ids | {"api_key_sid": "SK" + "b" * 32},
        meta_ids,
        twilio_ids,  # rotated without an API key
        twilio_ids | {"api_key_sid": "SK" + "b" * 32},
        meta_ids,
    ]
    for entry in entries:
        assert (entry.tenant_id, entry.actor.kind, entry.actor.id) == (
            acme.tenant.id,
            ActorKind.USER,
            acme.user.id,
        )
        for secret in SECRETS:
            assert secret not in audit_text(entry)
            assert secret[-8:] not in audit_text(entry)


# --------------------------------------------------------------------------- the account of a sender


async def test_a_sender_on_a_meta_account_is_added_with_its_phone_number_id(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    meta = await add_account(uow, clock, acme, META)

    sender = await AddSender(uow, clock)(
        admin_of(acme), acme.tenant.id, NEW_NUMBER, account_id=meta.id, provider_number_id=PHONE_NUMBER_ID
    )

    assert (sender.account_id, sender.provider_number_id) == (meta.id, PHONE_NUMBER_ID)
    assert await stored_sender(uow, sender) == sender
    assert await uow.provider_accounts.of_sender(sender) == meta


async def test_a_sender_on_a_twilio_account_or_on_none_takes_no_phone_number_id(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    twilio = await add_account(uow, clock, acme, TWILIO)
    meta = await add_account(uow, clock, acme, META)
    add_sender = AddSender(uow, clock)
    senders_before = uow.senders.all()

    with pytest.raises(InvalidInput, match="phone number id"):
        await add_sender(admin_of(acme), acme.tenant.id, NEW_NUMBER, account_id=meta.id)
    with pytest.raises(InvalidInput, match="phone number id"):
        await add_sender(
            admin_of(acme),
            acme.tenant.id,
            NEW_NUMBER,
            account_id=twilio.id,
            provider_number_id=PHONE_NUMBER_ID,
        )
    with pytest.raises(InvalidInput, match="phone number id"):
        await add_sender(admin_of(acme), acme.tenant.id, NEW_NUMBER, provider_number_id=PHONE_NUMBER_ID)
    assert uow.senders.all() == senders_before

    on_twilio = await add_sender(admin_of(acme), acme.tenant.id, NEW_NUMBER, account_id=twilio.id)
    assert (on_twilio.account_id, on_twilio.provider_number_id) == (twilio.id, None)


async def test_a_sender_cannot_use_another_tenants_account(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    theirs = await add_account(uow, clock, globex, META)
    senders_before = uow.senders.all()

    # The account is named in the request's body, not its path: the body is what is wrong.
    with pytest.raises(InvalidInput, match="no such provider account"):
        await AddSender(uow, clock)(
            admin_of(acme),
            acme.tenant.id,
            NEW_NUMBER,
            account_id=theirs.id,
            provider_number_id=PHONE_NUMBER_ID,
        )
    with pytest.raises(InvalidInput, match="no such provider account"):
        await UpdateSender(uow)(
            admin_of(acme),
            acme.sender.id,
            UpdateSenderCommand(account_id=theirs.id, provider_number_id=PHONE_NUMBER_ID),
        )

    assert uow.senders.all() == senders_before


async def test_a_phone_number_id_is_one_senders_across_tenants(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    acme_meta = await add_account(uow, clock, acme, META)
    globex_meta = await add_account(uow, clock, globex, META)
    await AddSender(uow, clock)(
        admin_of(acme),
        acme.tenant.id,
        NEW_NUMBER,
        account_id=acme_meta.id,
        provider_number_id=PHONE_NUMBER_ID,
    )

    with pytest.raises(AlreadyExists):
        await AddSender(uow, clock)(
            admin_of(globex),
            globex.tenant.id,
            NEW_NUMBER,
            account_id=globex_meta.id,
            provider_number_id=PHONE_NUMBER_ID,
        )
    with pytest.raises(AlreadyExists):
        await UpdateSender(uow)(
            admin_of(globex),
            globex.sender.id,
            UpdateSenderCommand(account_id=globex_meta.id, provider_number_id=PHONE_NUMBER_ID),
        )

    assert await uow.senders.list_for_tenant(globex.tenant.id) == [globex.sender]


async def test_a_sender_moves_between_accounts_and_back_to_its_tenants_provider(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    twilio = await add_account(uow, clock, acme, TWILIO)
    meta = await add_account(uow, clock, acme, META)
    update = UpdateSender(uow)
    sender = acme.sender

    on_meta = await update(
        admin_of(acme), sender.id, UpdateSenderCommand(account_id=meta.id, provider_number_id=PHONE_NUMBER_ID)
    )
    on_twilio = await update(admin_of(acme), sender.id, UpdateSenderCommand(account_id=twilio.id))
    back = await update(admin_of(acme), sender.id, UpdateSenderCommand(to_tenant_provider=True))

    assert (on_meta.account_id, on_meta.provider_number_id) == (meta.id, PHONE_NUMBER_ID)
    assert (on_twilio.account_id, on_twilio.provider_number_id) == (twilio.id, None)
    assert (back.account_id, back.provider_number_id) == (None, None)
    # only where it sends through changes: its number, and so its conversations, stay
    assert back == sender
    assert await stored_sender(uow, sender) == sender


async def test_a_sender_is_not_moved_against_the_rules_of_its_new_account(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    twilio = await add_account(uow, clock, acme, TWILIO)
    meta = await add_account(uow, clock, acme, META)
    update = UpdateSender(uow)

    for command in (
        UpdateSenderCommand(account_id=meta.id),  # a Meta account needs the number's id there
        UpdateSenderCommand(account_id=twilio.id, provider_number_id=PHONE_NUMBER_ID),
        UpdateSenderCommand(provider_number_id=PHONE_NUMBER_ID),  # an id without its account
        UpdateSenderCommand(to_tenant_provider=True, provider_number_id=PHONE_NUMBER_ID),
        UpdateSenderCommand(label="renamed", account_id=uuid4()),  # no such account
    ):
        with pytest.raises(InvalidInput):
            await update(admin_of(acme), acme.sender.id, command)

    assert await stored_sender(uow, acme.sender) == acme.sender


# ------------------------------------------------------------------------------------------- tenants


async def test_a_tenant_cannot_be_created_on_meta_its_senders_are(
    uow: FakeUnitOfWork, clock: FixedClock
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await CreateTenant(uow, clock)(OPERATOR, CreateTenantCommand(name="Acme", provider=ProviderName.META))

    assert refused.value.detail == META_IS_PER_SENDER
    assert uow.tenants.all() == []
    assert uow.audit.all() == []
