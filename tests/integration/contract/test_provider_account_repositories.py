"""The repository contract of a tenant's provider accounts (Twilio, Meta), and of the account each
sender sends through: on the fakes, SQLite and PostgreSQL alike (see conftest.py).

A sender's account is its own, or else its tenant's first Twilio account (``ProviderAccountRepository``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.sealed_secrets import SEALED_ACCOUNT_COLUMNS
from adapters.database.tables import provider_accounts
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox, generate_key, parse_keys
from application.errors import AccountInUse, AlreadyExists, CredentialsUnreadable, NotFound
from application.ports.tenancy import MetaNumber
from domain.administration.tenancy import (
    MetaCredentials,
    ProviderAccount,
    ProviderName,
    Sender,
    Tenant,
    TwilioCredentials,
)
from domain.phone import PhoneNumber
from tests.support.cross_tenant import cross_tenant_connection
from tests.support.databases import UowFactory
from tests.support.repositories import OUR_NUMBER, T0

OTHER_NUMBER = PhoneNumber.parse("+14155238800")
THIRD_NUMBER = PhoneNumber.parse("+447911123456")

AUTH_TOKEN = "auth-token-0123456789abcdef"
API_KEY_SECRET = "api-key-secret-fedcba9876543210"
TWILIO = TwilioCredentials(
    account_sid="AC" + "1" * 32,
    auth_token=AUTH_TOKEN,
    api_key_sid="SK" + "3" * 32,
    api_key_secret=API_KEY_SECRET,
)
OTHER_TWILIO = TwilioCredentials(account_sid="AC" + "2" * 32, auth_token="another-auth-token-2222")

ACCESS_TOKEN = "EAAG-the-tenants-system-user-access-token"
APP_SECRET = "the-apps-secret-0123456789abcdef"
VERIFY_TOKEN = "the-webhook-verify-token"
META = MetaCredentials(
    business_account_id="102290129340398",
    access_token=ACCESS_TOKEN,
    app_secret=APP_SECRET,
    verify_token=VERIFY_TOKEN,
    graph_api_version="v21.0",  # not the default: the stored version is the one given
)
OTHER_META = MetaCredentials(
    business_account_id="209876543210987",
    access_token="EAAG-another-access-token",
    app_secret="another-apps-secret-0123456789",
    verify_token="another-verify-token",
)
PHONE_NUMBER_ID = "106540352242922"
OTHER_PHONE_NUMBER_ID = "106540352249999"


async def add_tenant(uow_factory: UowFactory, provider: ProviderName = ProviderName.TWILIO) -> Tenant:
    tenant = Tenant(name=f"tenant {uuid4().hex[:8]}", provider=provider, created_at=T0)
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    return tenant


async def add_account(
    uow_factory: UowFactory,
    tenant: Tenant,
    credentials: TwilioCredentials | MetaCredentials,
    *,
    seconds: int = 0,
    label: str = "",
) -> ProviderAccount:
    """An account of ``tenant``'s created ``seconds`` after T0."""
    account = ProviderAccount(
        tenant_id=tenant.id,
        credentials=credentials,
        created_at=T0 + timedelta(seconds=seconds),
        label=label,
    )
    async with uow_factory() as uow:
        await uow.provider_accounts.add(account)
        await uow.commit()
    return account


async def add_sender(
    uow_factory: UowFactory,
    tenant: Tenant,
    number: PhoneNumber = OUR_NUMBER,
    *,
    account: ProviderAccount | None = None,
    provider_number_id: str | None = None,
    seconds: int = 0,
) -> Sender:
    """A sender of ``tenant``'s created ``seconds`` after T0."""
    sender = Sender(
        tenant_id=tenant.id,
        phone_number=number,
        created_at=T0 + timedelta(seconds=seconds),
        account_id=account.id if account else None,
        provider_number_id=provider_number_id,
    )
    async with uow_factory() as uow:
        await uow.senders.add(sender)
        await uow.commit()
    return sender


async def account_of(uow_factory: UowFactory, sender: Sender) -> ProviderAccount | None:
    async with uow_factory() as uow:
        return await uow.provider_accounts.of_sender(sender)


# --- accounts --------------------------------------------------------------------------------------


async def test_accounts_read_back_and_are_listed_oldest_first(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    newest = await add_account(uow_factory, tenant, TWILIO, seconds=2, label="main")
    oldest = await add_account(uow_factory, tenant, META, seconds=0, label="Cloud API")
    middle = await add_account(uow_factory, tenant, OTHER_TWILIO, seconds=1)

    async with uow_factory() as uow:
        assert await uow.provider_accounts.list_for_tenant(tenant.id) == [oldest, middle, newest]
        for account in (oldest, middle, newest):
            assert await uow.provider_accounts.get(tenant.id, account.id) == account
        assert await uow.provider_accounts.get(tenant.id, uuid4()) is None
        assert await uow.provider_accounts.list_for_tenant(uuid4()) == []


async def test_meta_credentials_round_trip_with_every_field(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    account = await add_account(uow_factory, tenant, META, label="Cloud API")

    async with uow_factory() as uow:
        stored = await uow.provider_accounts.get(tenant.id, account.id)

    assert stored is not None
    assert stored.provider is ProviderName.META
    assert isinstance(stored.credentials, MetaCredentials)
    assert (
        stored.credentials.business_account_id,
        stored.credentials.access_token,
        stored.credentials.app_secret,
        stored.credentials.verify_token,
        stored.credentials.graph_api_version,
    ) == (META.business_account_id, ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN, "v21.0")
    assert (stored.label, stored.created_at, stored.tenant_id) == ("Cloud API", T0, tenant.id)


async def test_the_first_account_of_a_provider_is_the_tenants_oldest_there(uow_factory: UowFactory) -> None:
    tenant, other = await add_tenant(uow_factory), await add_tenant(uow_factory)
    await add_account(uow_factory, tenant, TWILIO, seconds=5)
    first_twilio = await add_account(uow_factory, tenant, OTHER_TWILIO, seconds=3)
    first_meta = await add_account(uow_factory, tenant, META, seconds=4)
    await add_account(uow_factory, tenant, OTHER_META, seconds=9)
    await add_account(uow_factory, other, TWILIO, seconds=0)  # older, but another tenant's

    async with uow_factory() as uow:
        assert await uow.provider_accounts.first_of(tenant.id, ProviderName.TWILIO) == first_twilio
        assert await uow.provider_accounts.first_of(tenant.id, ProviderName.META) == first_meta
        assert await uow.provider_accounts.first_of(other.id, ProviderName.META) is None
        assert await uow.provider_accounts.first_of(uuid4(), ProviderName.TWILIO) is None


async def test_an_account_of_an_unknown_tenant_is_refused(uow_factory: UowFactory) -> None:
    stray = ProviderAccount(tenant_id=uuid4(), credentials=TWILIO, created_at=T0)
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.provider_accounts.add(stray)


async def test_an_account_is_renamed_and_its_credentials_replaced(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    twilio = await add_account(uow_factory, tenant, TWILIO, label="old name")
    meta = await add_account(uow_factory, tenant, META, seconds=1)
    renamed = replace(twilio, label="new name").with_credentials(OTHER_TWILIO)
    rotated = meta.with_credentials(replace(META, access_token="EAAG-a-rotated-access-token"))

    async with uow_factory() as uow:
        await uow.provider_accounts.update(renamed)
        await uow.provider_accounts.update(rotated)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.provider_accounts.get(tenant.id, twilio.id) == renamed
        assert await uow.provider_accounts.get(tenant.id, meta.id) == rotated
        assert await uow.provider_accounts.list_for_tenant(tenant.id) == [renamed, rotated]


async def test_an_account_that_is_gone_cannot_be_updated(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    never_added = ProviderAccount(tenant_id=tenant.id, credentials=TWILIO, created_at=T0)
    removed = await add_account(uow_factory, tenant, META)
    async with uow_factory() as uow:
        assert await uow.provider_accounts.remove(tenant.id, removed.id)
        await uow.commit()

    for gone in (never_added, replace(removed, label="renamed")):
        async with uow_factory() as uow:
            with pytest.raises(NotFound):
                await uow.provider_accounts.update(gone)
    async with uow_factory() as uow:
        assert await uow.provider_accounts.list_for_tenant(tenant.id) == []


async def test_an_account_is_removed_once(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    account = await add_account(uow_factory, tenant, META)
    kept = await add_account(uow_factory, tenant, TWILIO, seconds=1)

    async with uow_factory() as uow:
        assert await uow.provider_accounts.remove(tenant.id, account.id) is True
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.provider_accounts.remove(tenant.id, account.id) is False
        assert await uow.provider_accounts.remove(tenant.id, uuid4()) is False
        assert await uow.provider_accounts.get(tenant.id, account.id) is None
        assert await uow.provider_accounts.list_for_tenant(tenant.id) == [kept]


async def test_an_account_a_sender_sends_through_is_not_removed(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    account = await add_account(uow_factory, tenant, META)
    sender = await add_sender(uow_factory, tenant, account=account, provider_number_id=PHONE_NUMBER_ID)

    async with uow_factory() as uow:
        with pytest.raises(AccountInUse):
            await uow.provider_accounts.remove(tenant.id, account.id)
    async with uow_factory() as uow:
        assert await uow.provider_accounts.list_for_tenant(tenant.id) == [account]
        assert await uow.senders.get(tenant.id, sender.id) == sender

    async with uow_factory() as uow:  # once the sender is moved off it, it goes
        await uow.senders.move(tenant.id, sender.id, None, None)
        assert await uow.provider_accounts.remove(tenant.id, account.id) is True
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.provider_accounts.list_for_tenant(tenant.id) == []


async def test_another_tenants_account_is_neither_read_nor_changed_nor_removed(
    uow_factory: UowFactory,
) -> None:
    owner, other = await add_tenant(uow_factory), await add_tenant(uow_factory)
    account = await add_account(uow_factory, owner, META)
    # In use by its owner's sender: for another tenant it is no account at all, not one in use.
    await add_sender(uow_factory, owner, account=account, provider_number_id=PHONE_NUMBER_ID)
    await add_account(uow_factory, other, TWILIO)

    async with uow_factory() as uow:
        assert await uow.provider_accounts.get(other.id, account.id) is None
        assert account not in await uow.provider_accounts.list_for_tenant(other.id)
        assert await uow.provider_accounts.first_of(other.id, ProviderName.META) is None
        with pytest.raises(NotFound):
            await uow.provider_accounts.update(replace(account, tenant_id=other.id, label="mine now"))
        assert await uow.provider_accounts.remove(other.id, account.id) is False
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.provider_accounts.get(owner.id, account.id) == account


# --- the account of a sender -----------------------------------------------------------------------


async def test_a_sender_sends_through_its_own_account_else_its_tenants_first_twilio_account(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    meta = await add_account(uow_factory, tenant, META, seconds=0)  # the oldest, but not Twilio
    first_twilio = await add_account(uow_factory, tenant, TWILIO, seconds=1)
    second_twilio = await add_account(uow_factory, tenant, OTHER_TWILIO, seconds=2)
    accountless = await add_sender(uow_factory, tenant, OUR_NUMBER)
    on_second_twilio = await add_sender(uow_factory, tenant, OTHER_NUMBER, account=second_twilio)
    on_meta = await add_sender(
        uow_factory, tenant, THIRD_NUMBER, account=meta, provider_number_id=PHONE_NUMBER_ID
    )

    assert await account_of(uow_factory, accountless) == first_twilio
    assert await account_of(uow_factory, on_second_twilio) == second_twilio
    assert await account_of(uow_factory, on_meta) == meta


async def test_a_sender_without_an_account_of_a_tenant_without_a_twilio_account_has_none(
    uow_factory: UowFactory,
) -> None:
    with_meta_only = await add_tenant(uow_factory, ProviderName.SANDBOX)
    await add_account(uow_factory, with_meta_only, META)
    without_accounts = await add_tenant(uow_factory, ProviderName.SANDBOX)
    other = await add_tenant(uow_factory)
    await add_account(uow_factory, other, TWILIO)  # another tenant's Twilio account is not theirs

    for tenant in (with_meta_only, without_accounts):
        sender = await add_sender(uow_factory, tenant)
        assert await account_of(uow_factory, sender) is None


async def test_the_account_of_a_sender_is_the_one_it_was_moved_to(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    twilio = await add_account(uow_factory, tenant, TWILIO)
    meta = await add_account(uow_factory, tenant, META, seconds=1)
    sender = await add_sender(uow_factory, tenant, account=twilio)

    async with uow_factory() as uow:
        await uow.senders.move(tenant.id, sender.id, meta.id, PHONE_NUMBER_ID)
        await uow.commit()
    # The sender handed in is the one of before: the stored one counts.
    assert await account_of(uow_factory, sender) == meta


# --- who signs Twilio's callbacks, and which numbers are Meta's ------------------------------------


async def test_twilio_signers_are_every_sender_with_each_twilio_account_of_its_tenant(
    uow_factory: UowFactory,
) -> None:
    """A sender on one Twilio account, or moved to Meta, still gets the late callbacks of what another
    of its tenant's Twilio accounts sent for it; a tenant without a Twilio account signs nothing."""
    acme = await add_tenant(uow_factory)
    await add_account(uow_factory, acme, TWILIO, seconds=0)
    second = await add_account(uow_factory, acme, OTHER_TWILIO, seconds=1)
    acme_meta = await add_account(uow_factory, acme, META, seconds=2)
    await add_sender(uow_factory, acme, OUR_NUMBER)  # account-less: the first Twilio account
    await add_sender(uow_factory, acme, OTHER_NUMBER, account=second)
    await add_sender(uow_factory, acme, THIRD_NUMBER, account=acme_meta, provider_number_id=PHONE_NUMBER_ID)
    meta_only = await add_tenant(uow_factory, ProviderName.SANDBOX)
    its_meta = await add_account(uow_factory, meta_only, OTHER_META)
    await add_sender(uow_factory, meta_only, OUR_NUMBER)  # account-less, and no Twilio account
    await add_sender(
        uow_factory, meta_only, OTHER_NUMBER, account=its_meta, provider_number_id=OTHER_PHONE_NUMBER_ID
    )
    without_accounts = await add_tenant(uow_factory, ProviderName.SANDBOX)
    await add_sender(uow_factory, without_accounts, OUR_NUMBER)

    async with uow_factory() as uow:
        signers = await uow.provider_accounts.twilio_signers()

    assert {(s.tenant_id, s.phone_number, s.account_sid, s.auth_token) for s in signers} == {
        (acme.id, number, account.account_sid, account.auth_token)
        for number in (OUR_NUMBER, OTHER_NUMBER, THIRD_NUMBER)
        for account in (TWILIO, OTHER_TWILIO)
    }


async def test_twilio_signers_come_oldest_sender_first(uow_factory: UowFactory) -> None:
    # Added youngest first: the order is the senders' age, not the order they were stored in.
    tenants = [await add_tenant(uow_factory) for _ in range(3)]
    for age, tenant in enumerate(tenants):
        await add_account(uow_factory, tenant, TWILIO)
        await add_sender(uow_factory, tenant, OUR_NUMBER, seconds=10 - age)

    async with uow_factory() as uow:
        signers = await uow.provider_accounts.twilio_signers()

    assert [s.tenant_id for s in signers] == [tenant.id for tenant in reversed(tenants)]


async def test_meta_apps_are_every_meta_account_with_or_without_senders(uow_factory: UowFactory) -> None:
    # The handshake comes before any sender is added: every account's verify token counts.
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    acme_meta = await add_account(uow_factory, acme, META, seconds=1)
    await add_account(uow_factory, acme, TWILIO, seconds=0)
    globex_meta = await add_account(uow_factory, globex, OTHER_META)
    await add_sender(uow_factory, acme, OUR_NUMBER, account=acme_meta, provider_number_id=PHONE_NUMBER_ID)

    async with uow_factory() as uow:
        apps = await uow.provider_accounts.meta_apps()

    assert {(a.tenant_id, a.account_id, a.app_secret, a.verify_token) for a in apps} == {
        (acme.id, acme_meta.id, APP_SECRET, VERIFY_TOKEN),
        (globex.id, globex_meta.id, OTHER_META.app_secret, OTHER_META.verify_token),
    }


async def test_a_meta_number_is_the_sender_with_that_id_on_a_meta_account_of_its_own(
    uow_factory: UowFactory,
) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    acme_meta = await add_account(uow_factory, acme, META, seconds=1)
    globex_twilio = await add_account(uow_factory, globex, TWILIO)
    await add_sender(uow_factory, acme, OUR_NUMBER, account=acme_meta, provider_number_id=PHONE_NUMBER_ID)
    # An id on a sender of a Twilio account names no Meta number.
    await add_sender(
        uow_factory, globex, OUR_NUMBER, account=globex_twilio, provider_number_id=OTHER_PHONE_NUMBER_ID
    )

    async with uow_factory() as uow:
        found = await uow.provider_accounts.meta_number(PHONE_NUMBER_ID)
        on_twilio = await uow.provider_accounts.meta_number(OTHER_PHONE_NUMBER_ID)
        unknown = await uow.provider_accounts.meta_number("1")
        every = await uow.provider_accounts.meta_numbers()

    assert found == MetaNumber(
        acme.id, PHONE_NUMBER_ID, OUR_NUMBER, META.business_account_id, APP_SECRET, VERIFY_TOKEN
    )
    assert (on_twilio, unknown) == (None, None)
    # Every Meta number at once, as meta_number gives each: the one on a Twilio account is none.
    assert every == [found]


# --- secrets at rest -------------------------------------------------------------------------------


async def stored_account_row(engine: AsyncEngine, account_id: UUID) -> RowMapping:
    """The account's row as stored, past the repository."""
    async with cross_tenant_connection(engine) as connection:
        statement = sa.select(provider_accounts).where(provider_accounts.c.id == account_id)
        return (await connection.execute(statement)).mappings().one()


@pytest.mark.sql_only("secrets are sealed at rest by the SQL adapter; the fake keeps them plain")
async def test_a_meta_accounts_secrets_are_not_stored_in_clear(
    uow_factory: UowFactory, engine: AsyncEngine
) -> None:
    tenant = await add_tenant(uow_factory)
    account = await add_account(uow_factory, tenant, META)

    row = await stored_account_row(engine, account.id)

    stored = b"".join(value if isinstance(value, bytes) else str(value).encode() for value in row.values())
    for secret in (ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN):
        assert secret.encode() not in stored
        assert secret[-8:].encode() not in stored
    assert (row["provider"], row["external_id"], row["graph_api_version"]) == (
        "meta",
        META.business_account_id,
        "v21.0",
    )
    assert all(row[column] is not None for column in SEALED_ACCOUNT_COLUMNS)


@pytest.mark.sql_only("secrets are sealed at rest by the SQL adapter; the fake keeps them plain")
async def test_a_meta_accounts_secrets_copied_to_another_tenants_row_do_not_open(
    uow_factory: UowFactory, engine: AsyncEngine
) -> None:
    owner, thief = await add_tenant(uow_factory), await add_tenant(uow_factory)
    owners = await add_account(uow_factory, owner, META)
    thiefs = await add_account(uow_factory, thief, OTHER_META)
    await add_sender(uow_factory, owner, account=owners, provider_number_id=PHONE_NUMBER_ID)
    await add_sender(uow_factory, thief, account=thiefs, provider_number_id=OTHER_PHONE_NUMBER_ID)
    sealed = await stored_account_row(engine, owners.id)

    async with cross_tenant_connection(engine) as connection:
        await connection.execute(
            sa.update(provider_accounts)
            .where(provider_accounts.c.id == thiefs.id)
            .values({column: sealed[column] for column in SEALED_ACCOUNT_COLUMNS})
        )

    async with uow_factory() as uow:
        with pytest.raises(CredentialsUnreadable):
            await uow.provider_accounts.get(thief.id, thiefs.id)
        assert await uow.provider_accounts.get(owner.id, owners.id) == owners
    async with uow_factory() as uow:  # the webhooks of an account that does not open are not proven
        apps = await uow.provider_accounts.meta_apps()
        with pytest.raises(CredentialsUnreadable):
            await uow.provider_accounts.meta_number(OTHER_PHONE_NUMBER_ID)
        owners_number = await uow.provider_accounts.meta_number(PHONE_NUMBER_ID)
    assert [app.tenant_id for app in apps] == [owner.id]
    assert owners_number is not None
    assert owners_number.tenant_id == owner.id


@pytest.mark.sql_only("secrets are sealed at rest by the SQL adapter; the fake keeps them plain")
async def test_resealing_moves_a_meta_accounts_three_secrets_to_the_newest_key(
    uow_factory: UowFactory, engine: AsyncEngine, credentials_key: str
) -> None:
    tenant = await add_tenant(uow_factory)
    meta = await add_account(uow_factory, tenant, META)
    twilio = await add_account(uow_factory, tenant, TWILIO, seconds=1)
    new_key = generate_key()
    rotated = SecretBox(parse_keys(f"{new_key},{credentials_key}"))

    async with SqlAlchemyUnitOfWork(engine, rotated) as uow:
        assert await uow.provider_accounts.reseal() == 2
        assert await uow.provider_accounts.reseal() == 0  # nothing left under the old key
        await uow.commit()

    row = await stored_account_row(engine, meta.id)
    assert all(rotated.is_current(row[column]) for column in SEALED_ACCOUNT_COLUMNS)
    async with SqlAlchemyUnitOfWork(engine, SecretBox(parse_keys(new_key))) as uow:
        assert await uow.provider_accounts.list_for_tenant(tenant.id) == [meta, twilio]


# --- senders on accounts ---------------------------------------------------------------------------


async def test_moving_a_sender_changes_its_account_and_number_id_only(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    twilio = await add_account(uow_factory, tenant, TWILIO)
    meta = await add_account(uow_factory, tenant, META, seconds=1)
    sender = await add_sender(uow_factory, tenant, account=twilio)

    async with uow_factory() as uow:
        await uow.senders.move(tenant.id, sender.id, meta.id, PHONE_NUMBER_ID)
        await uow.commit()
    async with uow_factory() as uow:
        on_meta = await uow.senders.get(tenant.id, sender.id)
    assert on_meta == replace(sender, account_id=meta.id, provider_number_id=PHONE_NUMBER_ID)

    async with uow_factory() as uow:
        await uow.senders.move(tenant.id, sender.id, None, None)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.senders.get(tenant.id, sender.id) == replace(
            sender, account_id=None, provider_number_id=None
        )
        assert await uow.senders.list_for_tenant(tenant.id) == [
            replace(sender, account_id=None, provider_number_id=None)
        ]


async def test_a_phone_number_id_is_one_senders_across_every_tenant(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    acme_meta = await add_account(uow_factory, acme, META)
    globex_meta = await add_account(uow_factory, globex, OTHER_META)
    taken = await add_sender(uow_factory, acme, account=acme_meta, provider_number_id=PHONE_NUMBER_ID)
    globex_sender = await add_sender(
        uow_factory, globex, account=globex_meta, provider_number_id=OTHER_PHONE_NUMBER_ID
    )
    acme_second = await add_sender(uow_factory, acme, OTHER_NUMBER)

    for tenant, account in ((globex, globex_meta), (acme, acme_meta)):
        async with uow_factory() as uow:
            with pytest.raises(AlreadyExists):
                await uow.senders.add(
                    Sender(
                        tenant_id=tenant.id,
                        phone_number=THIRD_NUMBER,
                        created_at=T0,
                        account_id=account.id,
                        provider_number_id=PHONE_NUMBER_ID,
                    )
                )
    for tenant, sender, account in ((globex, globex_sender, globex_meta), (acme, acme_second, acme_meta)):
        async with uow_factory() as uow:
            with pytest.raises(AlreadyExists):
                await uow.senders.move(tenant.id, sender.id, account.id, PHONE_NUMBER_ID)

    async with uow_factory() as uow:
        assert set(await uow.senders.list_for_tenant(acme.id)) == {taken, acme_second}
        assert await uow.senders.list_for_tenant(globex.id) == [globex_sender]
        # Its own phone number id is no conflict for the sender that has it.
        await uow.senders.move(acme.id, taken.id, acme_meta.id, PHONE_NUMBER_ID)
        await uow.commit()


@pytest.mark.sql_only("the composite foreign key (tenant_id, account_id) is the database's")
async def test_the_database_refuses_a_sender_on_another_tenants_account(uow_factory: UowFactory) -> None:
    owner, other = await add_tenant(uow_factory), await add_tenant(uow_factory)
    owners = await add_account(uow_factory, owner, TWILIO)
    others_sender = await add_sender(uow_factory, other)

    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.senders.add(
                Sender(tenant_id=other.id, phone_number=OTHER_NUMBER, created_at=T0, account_id=owners.id)
            )
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.senders.move(other.id, others_sender.id, owners.id, None)

    async with uow_factory() as uow:
        assert await uow.senders.list_for_tenant(other.id) == [others_sender]


async def test_a_twilio_tenants_first_twilio_account_stays_while_senders_without_an_account_use_it(
    uow_factory: UowFactory,
) -> None:
    on_twilio, on_sandbox = await add_tenant(uow_factory), await add_tenant(uow_factory, ProviderName.SANDBOX)
    first = await add_account(uow_factory, on_twilio, TWILIO, seconds=0)
    second = await add_account(uow_factory, on_twilio, OTHER_TWILIO, seconds=1)
    sandbox_account = await add_account(uow_factory, on_sandbox, TWILIO)
    await add_sender(uow_factory, on_twilio, OUR_NUMBER)  # no account: through the first Twilio one
    await add_sender(uow_factory, on_sandbox, OUR_NUMBER)  # no account: through the sandbox

    async with uow_factory() as uow:
        with pytest.raises(AccountInUse):
            await uow.provider_accounts.remove(on_twilio.id, first.id)
        assert await uow.provider_accounts.remove(on_twilio.id, second.id)
        assert await uow.provider_accounts.remove(on_sandbox.id, sandbox_account.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.provider_accounts.get(on_twilio.id, first.id) == first
