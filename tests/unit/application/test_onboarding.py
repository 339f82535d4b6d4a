"""Provisioning: what an operator does to set up tenants, senders and users."""

from __future__ import annotations

from uuid import uuid4

import pytest

from application.administration.onboarding import (
    DEMO_PASSWORD,
    DEMO_SENDER,
    DEMO_USERNAME,
    AddSender,
    CreateTenant,
    CreateTenantCommand,
    CreateUser,
    ProvisionDemo,
)
from application.authorization import OPERATOR
from application.errors import AlreadyExists, InvalidInput, NotFound, StorageUnavailable
from application.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from domain.administration.tenancy import (
    ProviderAccount,
    ProviderName,
    Role,
    Tenant,
    TenantStatus,
    TwilioCredentials,
)
from domain.errors import InvalidPhoneNumber
from domain.phone import PhoneNumber
from tests.support.fakes import (
    FakeDatabase,
    FakePasswordHasher,
    FakeProviderAccountRepository,
    FakeUnitOfWork,
    FixedClock,
)
from tests.support.provider_accounts import twilio_credentials

CREDENTIALS = TwilioCredentials(account_sid="AC" + "1" * 32, auth_token="an-auth-token-0001")


@pytest.fixture
def create_tenant(uow: FakeUnitOfWork, clock: FixedClock) -> CreateTenant:
    return CreateTenant(uow, clock)


@pytest.fixture
def add_sender(uow: FakeUnitOfWork, clock: FixedClock) -> AddSender:
    return AddSender(uow, clock)


@pytest.fixture
def create_user(uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock) -> CreateUser:
    return CreateUser(uow, hasher, clock)


@pytest.fixture
async def tenant(create_tenant: CreateTenant) -> Tenant:
    return await create_tenant(OPERATOR, CreateTenantCommand(name="Acme"))


# ------------------------------------------------------------------------------------------- tenants


async def test_a_new_tenant_is_active_and_stored(
    create_tenant: CreateTenant, uow: FakeUnitOfWork, clock: FixedClock
) -> None:
    tenant = await create_tenant(OPERATOR, CreateTenantCommand(name="  Acme Corp "))

    assert tenant.name == "Acme Corp"
    assert tenant.status is TenantStatus.ACTIVE
    assert tenant.provider is ProviderName.SANDBOX
    assert tenant.created_at == clock.now()
    assert await uow.tenants.get(tenant.id) == tenant
    assert uow.committed


async def test_two_tenants_cannot_share_a_name(
    create_tenant: CreateTenant, uow: FakeUnitOfWork, tenant: Tenant
) -> None:
    with pytest.raises(AlreadyExists, match="Acme"):
        await create_tenant(OPERATOR, CreateTenantCommand(name=" Acme "))

    assert uow.tenants.all() == [tenant]


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
async def test_a_tenant_name_is_one_to_two_hundred_characters(
    create_tenant: CreateTenant, uow: FakeUnitOfWork, name: str
) -> None:
    with pytest.raises(InvalidInput):
        await create_tenant(OPERATOR, CreateTenantCommand(name=name))

    assert uow.tenants.all() == []


async def test_a_tenant_on_twilio_needs_credentials(create_tenant: CreateTenant, uow: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidInput, match="Twilio"):
        await create_tenant(OPERATOR, CreateTenantCommand(name="Acme", provider=ProviderName.TWILIO))

    assert uow.tenants.all() == []


async def test_a_tenant_on_twilio_keeps_its_credentials(
    create_tenant: CreateTenant, uow: FakeUnitOfWork
) -> None:
    tenant = await create_tenant(
        OPERATOR,
        CreateTenantCommand(name="Acme", provider=ProviderName.TWILIO, twilio_credentials=CREDENTIALS),
    )

    assert tenant.provider is ProviderName.TWILIO
    assert await twilio_credentials(uow, tenant.id) == CREDENTIALS


async def test_a_tenant_is_never_half_created(clock: FixedClock) -> None:
    class AccountsThatLoseCredentials(FakeProviderAccountRepository):
        async def add(self, account: ProviderAccount) -> None:
            raise StorageUnavailable("the database went away")

    database = FakeDatabase()
    database.provider_accounts = AccountsThatLoseCredentials(database.tenants, database.senders)
    uow = FakeUnitOfWork(database)

    with pytest.raises(StorageUnavailable):
        await CreateTenant(uow, clock)(
            OPERATOR,
            CreateTenantCommand(name="Acme", provider=ProviderName.TWILIO, twilio_credentials=CREDENTIALS),
        )

    assert uow.tenants.all() == []
    assert not uow.committed


# ------------------------------------------------------------------------------------------- senders


async def test_a_tenants_first_sender_becomes_its_default(
    add_sender: AddSender, uow: FakeUnitOfWork, tenant: Tenant
) -> None:
    sender = await add_sender(OPERATOR, tenant.id, "+14155238886", label="support")

    assert sender.is_default
    assert sender.label == "support"
    assert await uow.senders.get_default(tenant.id) == sender


async def test_later_senders_do_not_replace_the_default(
    add_sender: AddSender, uow: FakeUnitOfWork, tenant: Tenant
) -> None:
    first = await add_sender(OPERATOR, tenant.id, "+14155238886")
    second = await add_sender(OPERATOR, tenant.id, "+12025550123")

    assert not second.is_default
    assert await uow.senders.get_default(tenant.id) == first
    assert await uow.senders.list_for_tenant(tenant.id) == [first, second]


async def test_each_tenant_gets_its_own_default(
    add_sender: AddSender, create_tenant: CreateTenant, tenant: Tenant
) -> None:
    other = await create_tenant(OPERATOR, CreateTenantCommand(name="Globex"))

    await add_sender(OPERATOR, tenant.id, "+14155238886")
    others_first = await add_sender(OPERATOR, other.id, "+12025550123")

    assert others_first.is_default


async def test_a_sender_number_is_stored_in_e164(add_sender: AddSender, tenant: Tenant) -> None:
    sender = await add_sender(OPERATOR, tenant.id, " whatsapp:+14155238886 ")

    assert sender.phone_number == PhoneNumber("+14155238886")


async def test_a_tenant_cannot_add_the_same_number_twice(
    add_sender: AddSender, uow: FakeUnitOfWork, tenant: Tenant
) -> None:
    first = await add_sender(OPERATOR, tenant.id, "+14155238886")

    with pytest.raises(AlreadyExists):
        await add_sender(OPERATOR, tenant.id, "whatsapp:+14155238886")

    assert uow.senders.all() == [first]


@pytest.mark.parametrize(
    ("first", "second"),
    [("+525512345678", "+5215512345678"), ("+5215512345678", "whatsapp:+525512345678")],
    ids=["plan form, then WhatsApp's", "WhatsApp's form, then the plan's"],
)
async def test_a_tenant_cannot_add_one_number_twice_in_two_of_its_forms(
    add_sender: AddSender, uow: FakeUnitOfWork, tenant: Tenant, first: str, second: str
) -> None:
    existing = await add_sender(OPERATOR, tenant.id, first)

    with pytest.raises(AlreadyExists, match=rf"already a sender of this tenant, as \{existing.phone_number}"):
        await add_sender(OPERATOR, tenant.id, second)

    assert uow.senders.all() == [existing]


async def test_another_tenant_may_add_another_form_of_a_number(
    add_sender: AddSender, create_tenant: CreateTenant, tenant: Tenant
) -> None:
    other = await create_tenant(OPERATOR, CreateTenantCommand(name="Globex"))
    await add_sender(OPERATOR, tenant.id, "+525512345678")

    sender = await add_sender(OPERATOR, other.id, "+5215512345678")

    assert sender.tenant_id == other.id


async def test_an_invalid_sender_number_is_refused(
    add_sender: AddSender, uow: FakeUnitOfWork, tenant: Tenant
) -> None:
    with pytest.raises(InvalidPhoneNumber):
        await add_sender(OPERATOR, tenant.id, "4155238886")

    assert uow.senders.all() == []


async def test_a_sender_needs_an_existing_tenant(add_sender: AddSender, uow: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound):
        await add_sender(OPERATOR, uuid4(), "+14155238886")

    assert uow.senders.all() == []


# --------------------------------------------------------------------------------------------- users


async def test_a_user_is_stored_with_a_normalised_username_and_a_hashed_password(
    create_user: CreateUser, uow: FakeUnitOfWork, hasher: FakePasswordHasher, tenant: Tenant
) -> None:
    user = await create_user(OPERATOR, tenant.id, "  Alice.Smith@Example.com ", "correct horse battery")

    assert user.username == "alice.smith@example.com"
    assert user.password_hash != "correct horse battery"
    assert await hasher.verify(user.password_hash, "correct horse battery")
    assert user.role is Role.AGENT
    assert user.is_active
    assert await uow.users.get_by_username("alice.smith@example.com") == user


async def test_a_user_can_be_given_a_role(create_user: CreateUser, tenant: Tenant) -> None:
    user = await create_user(OPERATOR, tenant.id, "boss", "correct horse battery", Role.TENANT_ADMIN)

    assert user.role is Role.TENANT_ADMIN


@pytest.mark.parametrize(
    "username",
    [
        "",
        "ab",  # too short
        "a" * 65,  # too long
        "-alice",  # must start with a letter or digit
        ".alice",
        "al ice",
        "alice!",
        "alice/..",
        "alicé",
        "alice\nbob",
    ],
)
async def test_usernames_are_three_to_sixty_four_plain_characters(
    create_user: CreateUser, uow: FakeUnitOfWork, tenant: Tenant, username: str
) -> None:
    with pytest.raises(InvalidInput, match="username"):
        await create_user(OPERATOR, tenant.id, username, "correct horse battery")

    assert uow.users.all() == []


@pytest.mark.parametrize("username", ["bob", "a" * 64, "j.doe_1-x@example.org", "007"])
async def test_usernames_at_the_edges_are_accepted(
    create_user: CreateUser, tenant: Tenant, username: str
) -> None:
    assert (await create_user(OPERATOR, tenant.id, username, "correct horse battery")).username == username


@pytest.mark.parametrize("length", [MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH])
async def test_passwords_of_eight_to_256_characters_are_accepted(
    create_user: CreateUser, tenant: Tenant, length: int
) -> None:
    await create_user(OPERATOR, tenant.id, "alice", "p" * length)


@pytest.mark.parametrize("length", [0, MIN_PASSWORD_LENGTH - 1, MAX_PASSWORD_LENGTH + 1])
async def test_passwords_outside_eight_to_256_characters_are_refused(
    create_user: CreateUser, uow: FakeUnitOfWork, tenant: Tenant, length: int
) -> None:
    with pytest.raises(InvalidInput, match="password"):
        await create_user(OPERATOR, tenant.id, "alice", "p" * length)

    assert uow.users.all() == []


async def test_usernames_are_unique_across_tenants_whatever_their_case(
    create_user: CreateUser, create_tenant: CreateTenant, uow: FakeUnitOfWork, tenant: Tenant
) -> None:
    other = await create_tenant(OPERATOR, CreateTenantCommand(name="Globex"))
    alice = await create_user(OPERATOR, tenant.id, "alice", "correct horse battery")

    with pytest.raises(AlreadyExists, match="alice"):
        await create_user(OPERATOR, other.id, "ALICE", "another password")

    assert uow.users.all() == [alice]


async def test_a_user_needs_an_existing_tenant(create_user: CreateUser, uow: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound):
        await create_user(OPERATOR, uuid4(), "alice", "correct horse battery")

    assert uow.users.all() == []


# ---------------------------------------------------------------------------------------------- demo


@pytest.fixture
def provision_demo(uow: FakeUnitOfWork, hasher: FakePasswordHasher, clock: FixedClock) -> ProvisionDemo:
    return ProvisionDemo(uow, hasher, clock)


async def test_an_empty_database_gets_a_demo_account_ready_to_send(
    provision_demo: ProvisionDemo, uow: FakeUnitOfWork, hasher: FakePasswordHasher
) -> None:
    demo = await provision_demo()

    assert demo is not None
    assert demo.username == DEMO_USERNAME
    assert demo.password == DEMO_PASSWORD
    assert demo.tenant.is_active
    assert demo.sender.phone_number == PhoneNumber(DEMO_SENDER)
    assert await uow.senders.get_default(demo.tenant.id) == demo.sender
    user = await uow.users.get_by_username(DEMO_USERNAME)
    assert user is not None
    assert user.tenant_id == demo.tenant.id
    assert user.role is Role.TENANT_ADMIN
    assert await hasher.verify(user.password_hash, DEMO_PASSWORD)


async def test_the_demo_is_provisioned_only_once(provision_demo: ProvisionDemo, uow: FakeUnitOfWork) -> None:
    await provision_demo()

    assert await provision_demo() is None

    assert len(uow.tenants.all()) == 1
    assert len(uow.senders.all()) == 1
    assert len(uow.users.all()) == 1


async def test_no_demo_is_added_to_a_database_that_has_tenants(
    provision_demo: ProvisionDemo, uow: FakeUnitOfWork, tenant: Tenant
) -> None:
    assert await provision_demo() is None

    assert uow.tenants.all() == [tenant]
    assert uow.users.all() == []
