"""The repository contract of tenants, senders, users, messages, status reports and conversations, and
the unit of work: on the fakes, SQLite and PostgreSQL alike (see conftest.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.engine import create_database_engine
from adapters.database.errors import PersistenceError
from adapters.database.migrate import upgrade
from adapters.database.tables import provider_accounts
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox, generate_key, parse_keys
from application.errors import AlreadyExists, CredentialsUnreadable, NotFound, StorageUnavailable
from application.ports.messages import (
    ConversationPosition,
    ConversationQuery,
    HistoryPosition,
    HistoryQuery,
    MessageView,
    StatusAdvance,
    StatusChange,
)
from domain.administration.tenancy import (
    ProviderName,
    Role,
    Sender,
    Tenant,
    TenantStatus,
    TwilioCredentials,
    User,
)
from domain.messaging.content import MessageKind
from domain.messaging.conversations import Conversation
from domain.messaging.failures import Failure, FailureCode
from domain.messaging.messages import Direction, Message, MessageContent, MessageStatus, Template
from domain.phone import PhoneNumber
from tests.support.cross_tenant import cross_tenant_connection
from tests.support.databases import UowFactory
from tests.support.message_kinds import CONTENTS
from tests.support.postgres_server import PostgresServer
from tests.support.provider_accounts import set_twilio_credentials, twilio_credentials
from tests.support.repositories import OUR_NUMBER, T0
from tests.support.repositories.messages import ALICE, add_messages, add_tenant, inbound, outbound
from tests.support.stored_rows import StoredRows

OTHER_OUR_NUMBER = PhoneNumber.parse("+14155238800")
BOB = PhoneNumber.parse("+5511987654321")
# One customer each, in the form WhatsApp writes them in and in the national plan's form.
MEXICO_WHATSAPP, MEXICO_PLAN = PhoneNumber.parse("+5215512345678"), PhoneNumber.parse("+525512345678")
BRAZIL_OLD_ACCOUNT, BRAZIL_PLAN = PhoneNumber.parse("+551187654321"), PhoneNumber.parse("+5511987654321")
AUTH_TOKEN = "auth-token-0123456789abcdef"
API_KEY_SECRET = "api-key-secret-fedcba9876543210"


async def page(uow_factory: UowFactory, query: HistoryQuery) -> list[MessageView]:
    async with uow_factory() as uow:
        return await uow.messages.list_views(query)


def newest_first(messages: list[Message]) -> list[UUID]:
    return [message.id for message in sorted(messages, key=lambda m: (m.created_at, m.id), reverse=True)]


# --- tenants ---------------------------------------------------------------------------------------


async def test_a_tenant_reads_back_by_id_and_by_name(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory, "Acme")
    suspended = Tenant(
        name="Dormant", provider=ProviderName.SANDBOX, created_at=T0, status=TenantStatus.SUSPENDED
    )
    async with uow_factory() as uow:
        await uow.tenants.add(suspended)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.tenants.get(tenant.id) == tenant
        assert await uow.tenants.get_by_name("Acme") == tenant
        assert await uow.tenants.get_by_name("Dormant") == suspended
        assert await uow.tenants.get(uuid4()) is None
        assert await uow.tenants.get_by_name("acme") is None
        assert await uow.tenants.count() == 2


async def test_a_second_tenant_with_the_same_name_is_refused(uow_factory: UowFactory) -> None:
    await add_tenant(uow_factory, "Acme")
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists, match="Acme"):
            await uow.tenants.add(Tenant(name="Acme", provider=ProviderName.SANDBOX, created_at=T0))
    async with uow_factory() as uow:
        assert await uow.tenants.count() == 1


async def test_credentials_round_trip_and_are_replaced(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    first = TwilioCredentials(account_sid="AC" + "1" * 32, auth_token=AUTH_TOKEN)
    second = TwilioCredentials(
        account_sid="AC" + "2" * 32,
        auth_token="another-auth-token",
        api_key_sid="SK" + "3" * 32,
        api_key_secret="api-key-secret-xyz",
    )
    async with uow_factory() as uow:
        assert await twilio_credentials(uow, tenant.id) is None
        await set_twilio_credentials(uow, tenant.id, first)
        await uow.commit()
    async with uow_factory() as uow:
        assert await twilio_credentials(uow, tenant.id) == first
        await set_twilio_credentials(uow, tenant.id, second)
        await uow.commit()
    async with uow_factory() as uow:
        assert await twilio_credentials(uow, tenant.id) == second


@pytest.mark.sql_only("secrets are sealed at rest by the SQL adapter; the fake keeps them plain")
async def test_the_secret_is_stored_sealed(uow_factory: UowFactory, engine: AsyncEngine) -> None:
    tenant = await add_tenant(uow_factory)
    credentials = TwilioCredentials(
        account_sid="AC" + "1" * 32,
        auth_token=AUTH_TOKEN,
        api_key_sid="SK" + "3" * 32,
        api_key_secret=API_KEY_SECRET,
    )
    async with uow_factory() as uow:
        await set_twilio_credentials(uow, tenant.id, credentials)
        await uow.commit()

    async with cross_tenant_connection(engine) as connection:
        row = (
            (
                await connection.execute(
                    sa.select(provider_accounts).where(provider_accounts.c.tenant_id == tenant.id)
                )
            )
            .mappings()
            .one()
        )
    stored = b"".join(value if isinstance(value, bytes) else str(value).encode() for value in row.values())
    for secret in (AUTH_TOKEN, API_KEY_SECRET):
        assert secret.encode() not in stored
        assert secret[-8:].encode() not in stored
    assert row["external_id"] == credentials.account_sid


@pytest.mark.sql_only("secrets are sealed at rest by the SQL adapter; the fake keeps them plain")
async def test_a_sealed_secret_copied_to_another_tenant_does_not_open(
    uow_factory: UowFactory, engine: AsyncEngine
) -> None:
    owner, thief = await add_tenant(uow_factory), await add_tenant(uow_factory)
    async with uow_factory() as uow:
        await set_twilio_credentials(uow, owner.id, TwilioCredentials("AC" + "1" * 32, AUTH_TOKEN))
        await set_twilio_credentials(uow, thief.id, TwilioCredentials("AC" + "2" * 32, "its-own-token"))
        await uow.commit()

    async with cross_tenant_connection(engine) as connection:
        owners_secret = (
            await connection.execute(
                sa.select(provider_accounts.c.secret_sealed).where(provider_accounts.c.tenant_id == owner.id)
            )
        ).scalar_one()
        await connection.execute(
            sa.update(provider_accounts)
            .where(provider_accounts.c.tenant_id == thief.id)
            .values(secret_sealed=owners_secret)
        )

    async with uow_factory() as uow:
        with pytest.raises(CredentialsUnreadable):
            await twilio_credentials(uow, thief.id)
        assert (await twilio_credentials(uow, owner.id)) is not None


@pytest.mark.sql_only("spoils one sealed secret in its table; the fake seals nothing")
async def test_twilio_signers_are_every_sender_of_a_tenant_with_credentials_whose_token_opens(
    uow_factory: UowFactory, engine: AsyncEngine
) -> None:
    acme, globex, sandboxed, broken = [await add_tenant(uow_factory) for _ in range(4)]
    acme_account, globex_account = "AC" + "1" * 32, "AC" + "2" * 32
    async with uow_factory() as uow:
        await uow.senders.add(
            Sender(tenant_id=acme.id, phone_number=OUR_NUMBER, created_at=T0, is_default=True)
        )
        await uow.senders.add(Sender(tenant_id=acme.id, phone_number=OTHER_OUR_NUMBER, created_at=T0))
        await uow.senders.add(
            Sender(tenant_id=globex.id, phone_number=OUR_NUMBER, created_at=T0, is_default=True)
        )
        await uow.senders.add(
            Sender(tenant_id=sandboxed.id, phone_number=ALICE, created_at=T0, is_default=True)
        )
        await uow.senders.add(Sender(tenant_id=broken.id, phone_number=BOB, created_at=T0, is_default=True))
        await set_twilio_credentials(uow, acme.id, TwilioCredentials(acme_account, AUTH_TOKEN))
        await set_twilio_credentials(uow, globex.id, TwilioCredentials(globex_account, "globex-token"))
        await set_twilio_credentials(uow, broken.id, TwilioCredentials(acme_account, AUTH_TOKEN))
        await uow.commit()
    async with cross_tenant_connection(engine) as connection:  # sealed for another tenant: does not open
        await connection.execute(
            sa.update(provider_accounts)
            .where(provider_accounts.c.tenant_id == broken.id)
            .values(
                secret_sealed=sa.select(provider_accounts.c.secret_sealed)
                .where(provider_accounts.c.tenant_id == acme.id)
                .scalar_subquery()
            )
        )

    async with uow_factory() as uow:
        signers = await uow.provider_accounts.twilio_signers()

    mine = {acme.id, globex.id, sandboxed.id, broken.id}  # other tests' tenants share the database
    ours = {
        (s.tenant_id, str(s.phone_number), s.account_sid, s.auth_token)
        for s in signers
        if s.tenant_id in mine
    }
    assert ours == {
        (acme.id, str(OUR_NUMBER), acme_account, AUTH_TOKEN),
        (acme.id, str(OTHER_OUR_NUMBER), acme_account, AUTH_TOKEN),
        (globex.id, str(OUR_NUMBER), globex_account, "globex-token"),
    }


@pytest.mark.sql_only("secrets are sealed at rest by the SQL adapter; the fake keeps them plain")
async def test_credentials_sealed_under_a_key_no_longer_configured_do_not_open(
    uow_factory: UowFactory, engine: AsyncEngine
) -> None:
    tenant = await add_tenant(uow_factory)
    async with uow_factory() as uow:
        await set_twilio_credentials(uow, tenant.id, TwilioCredentials("AC" + "1" * 32, AUTH_TOKEN))
        await uow.commit()

    with_other_key = SqlAlchemyUnitOfWork(engine, SecretBox(parse_keys(generate_key())))
    async with with_other_key as uow:
        with pytest.raises(CredentialsUnreadable):
            await twilio_credentials(uow, tenant.id)


@pytest.mark.sql_only("secrets are sealed at rest by the SQL adapter; the fake keeps them plain")
async def test_resealing_moves_every_secret_to_the_newest_key(
    uow_factory: UowFactory, engine: AsyncEngine, credentials_key: str
) -> None:
    tenant = await add_tenant(uow_factory)
    credentials = TwilioCredentials(
        "AC" + "1" * 32, AUTH_TOKEN, api_key_sid="SK" + "3" * 32, api_key_secret=API_KEY_SECRET
    )
    async with uow_factory() as uow:
        await set_twilio_credentials(uow, tenant.id, credentials)
        await uow.commit()
    new_key = generate_key()
    rotated = SecretBox(parse_keys(f"{new_key},{credentials_key}"))

    async with SqlAlchemyUnitOfWork(engine, rotated) as uow:
        assert await uow.provider_accounts.reseal() == 1
        assert await uow.provider_accounts.reseal() == 0  # nothing left under the old key
        await uow.commit()

    async with SqlAlchemyUnitOfWork(engine, SecretBox(parse_keys(new_key))) as uow:
        assert await twilio_credentials(uow, tenant.id) == credentials


async def test_credentials_of_an_unknown_tenant_are_refused(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFound, match="tenant"):
            await set_twilio_credentials(uow, uuid4(), TwilioCredentials("AC" + "1" * 32, AUTH_TOKEN))


# --- senders ---------------------------------------------------------------------------------------


async def test_senders_by_default_by_number_and_listed(uow_factory: UowFactory) -> None:
    tenant, other = await add_tenant(uow_factory), await add_tenant(uow_factory)
    default = Sender(
        tenant_id=tenant.id, phone_number=OUR_NUMBER, created_at=T0, is_default=True, label="main"
    )
    second = Sender(tenant_id=tenant.id, phone_number=OTHER_OUR_NUMBER, created_at=T0 + timedelta(seconds=1))
    # The same number may serve another tenant too (e.g. Twilio's shared sandbox number).
    elsewhere = Sender(tenant_id=other.id, phone_number=OUR_NUMBER, created_at=T0, is_default=True)
    async with uow_factory() as uow:
        for sender in (second, default, elsewhere):
            await uow.senders.add(sender)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.senders.get_default(tenant.id) == default
        assert await uow.senders.get_by_number(tenant.id, OTHER_OUR_NUMBER) == second
        assert await uow.senders.get_by_number(other.id, OTHER_OUR_NUMBER) is None
        assert await uow.senders.get_by_number(other.id, OUR_NUMBER) == elsewhere
        assert await uow.senders.list_for_tenant(tenant.id) == [default, second]
        assert await uow.senders.get_default(uuid4()) is None
        assert await uow.senders.list_for_tenant(uuid4()) == []


async def test_a_tenant_has_each_number_once_and_one_default(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    async with uow_factory() as uow:
        await uow.senders.add(
            Sender(tenant_id=tenant.id, phone_number=OUR_NUMBER, created_at=T0, is_default=True)
        )
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.senders.add(Sender(tenant_id=tenant.id, phone_number=OUR_NUMBER, created_at=T0))
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.senders.add(
                Sender(tenant_id=tenant.id, phone_number=OTHER_OUR_NUMBER, created_at=T0, is_default=True)
            )
    async with uow_factory() as uow:
        assert len(await uow.senders.list_for_tenant(tenant.id)) == 1


async def test_a_sender_is_found_by_any_form_of_its_number_the_oldest_first(uow_factory: UowFactory) -> None:
    tenant, other = await add_tenant(uow_factory), await add_tenant(uow_factory)
    plan_form, whatsapp_form = PhoneNumber.parse("+525512345678"), PhoneNumber.parse("+5215512345678")
    # Two forms of one number, as two requests adding them at the same moment could leave them.
    older = Sender(tenant_id=tenant.id, phone_number=whatsapp_form, created_at=T0)
    newer = Sender(tenant_id=tenant.id, phone_number=plan_form, created_at=T0 + timedelta(seconds=1))
    async with uow_factory() as uow:
        for sender in (newer, older):
            await uow.senders.add(sender)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.senders.get_by_number(tenant.id, plan_form) == older
        assert await uow.senders.get_by_number(tenant.id, whatsapp_form) == older
        assert await uow.senders.get_by_number(other.id, plan_form) is None


async def test_a_sender_of_an_unknown_tenant_is_refused(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.senders.add(Sender(tenant_id=uuid4(), phone_number=OUR_NUMBER, created_at=T0))


async def test_every_tenant_with_a_number_is_found_by_it_oldest_first(uow_factory: UowFactory) -> None:
    first, second, third = [await add_tenant(uow_factory) for _ in range(3)]
    # Twilio's shared sandbox number serves several tenants, each on its own Twilio account.
    later = Sender(tenant_id=first.id, phone_number=OUR_NUMBER, created_at=T0 + timedelta(minutes=5))
    earlier = Sender(tenant_id=second.id, phone_number=OUR_NUMBER, created_at=T0, is_default=True)
    unrelated = Sender(tenant_id=third.id, phone_number=OTHER_OUR_NUMBER, created_at=T0)
    async with uow_factory() as uow:
        for sender in (later, earlier, unrelated):
            await uow.senders.add(sender)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.senders.find_all_by_number(OUR_NUMBER) == [earlier, later]
        assert await uow.senders.find_all_by_number(OTHER_OUR_NUMBER) == [unrelated]
        assert await uow.senders.find_all_by_number(ALICE) == []


async def test_a_number_is_found_whichever_form_whatsapp_writes_it_in(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    mexican_line = Sender(tenant_id=tenant.id, phone_number=MEXICO_PLAN, created_at=T0)
    async with uow_factory() as uow:
        await uow.senders.add(mexican_line)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.senders.find_all_by_number(MEXICO_WHATSAPP) == [mexican_line]
        assert await uow.senders.find_all_by_number(MEXICO_PLAN) == [mexican_line]


# --- users -----------------------------------------------------------------------------------------


async def test_users_by_username_and_password_change(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    user = User(
        tenant_id=tenant.id,
        username="ana",
        password_hash="$argon2id$old",
        created_at=T0,
        role=Role.TENANT_ADMIN,
    )
    inactive = User(
        tenant_id=tenant.id, username="ben", password_hash="$argon2id$x", created_at=T0, is_active=False
    )
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.users.add(inactive)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.get_by_username("ana") == user
        assert await uow.users.get_by_username("ben") == inactive
        assert await uow.users.get_by_username("nobody") is None
        await uow.users.update_password_hash(user.id, "$argon2id$new")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.users.get_by_username("ana") == user.with_password_hash("$argon2id$new")


async def test_a_username_is_unique_across_tenants(uow_factory: UowFactory) -> None:
    first, second = await add_tenant(uow_factory), await add_tenant(uow_factory)
    async with uow_factory() as uow:
        await uow.users.add(User(tenant_id=first.id, username="ana", password_hash="h", created_at=T0))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists, match="ana"):
            await uow.users.add(User(tenant_id=second.id, username="ana", password_hash="h", created_at=T0))


# --- messages --------------------------------------------------------------------------------------


async def test_a_message_reads_back_exactly(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    with_media = Message.new_outbound(
        tenant_id=tenant.id,
        sender=OUR_NUMBER,
        contact=ALICE,
        content=MessageContent(
            body="", media_urls=("https://example.com/a.png", "https://example.com/b.pdf")
        ),
        now=datetime(2026, 1, 15, 12, 0, 0, 123456, tzinfo=UTC),
    )
    received = inbound(tenant, contact=BOB)
    await add_messages(uow_factory, with_media, received)

    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, with_media.id) == with_media
        assert await uow.messages.get(tenant.id, received.id) == received
        assert await uow.messages.get(tenant.id, uuid4()) is None


async def test_timestamps_come_back_in_utc_whatever_zone_they_were_given_in(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    in_tokyo = datetime(2026, 1, 15, 21, 0, tzinfo=timezone(timedelta(hours=9)))
    message = outbound(tenant, at=in_tokyo)
    await add_messages(uow_factory, message)

    async with uow_factory() as uow:
        stored = await uow.messages.get(tenant.id, message.id)
    assert stored is not None
    assert stored.created_at == datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    assert stored.created_at.tzinfo is UTC


async def test_a_naive_timestamp_is_refused_rather_than_guessed(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    async with uow_factory() as uow:
        with pytest.raises(PersistenceError):
            await uow.messages.add(outbound(tenant, at=datetime(2026, 1, 15, 12, 0)))


async def test_another_tenants_message_is_not_found(uow_factory: UowFactory) -> None:
    owner, other = await add_tenant(uow_factory), await add_tenant(uow_factory)
    message = outbound(owner)
    await add_messages(uow_factory, message)

    async with uow_factory() as uow:
        assert await uow.messages.get(other.id, message.id) is None
        # nor can another tenant overwrite it
        with pytest.raises(NotFound):
            await uow.messages.update(replace(message, tenant_id=other.id, status=MessageStatus.FAILED))
    async with uow_factory() as uow:
        assert await uow.messages.get(owner.id, message.id) == message


async def test_a_message_is_updated(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    message = outbound(tenant)
    await add_messages(uow_factory, message)
    sent = message.handed_to_provider(
        "SM" + "a" * 32, MessageStatus.QUEUED, T0 + timedelta(seconds=2), provider=ProviderName.TWILIO
    )
    failure = Failure(
        FailureCode.RECIPIENT_INVALID,
        provider=ProviderName.META,
        provider_code=131021,
        provider_message="Recipient cannot be sender.",
        reason="the recipient is the sender's own number",
    )
    failed = outbound(tenant).failed(failure, T0 + timedelta(seconds=3))
    await add_messages(uow_factory, replace(failed.accepted_again(T0), updated_at=failed.created_at))

    async with uow_factory() as uow:
        await uow.messages.update(sent)
        await uow.messages.update(failed)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, message.id) == sent
        assert await uow.messages.get(tenant.id, failed.id) == failed
        with pytest.raises(NotFound):
            await uow.messages.update(outbound(tenant))  # never added


async def test_two_messages_cannot_share_a_provider_id(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    first, second = outbound(tenant), outbound(tenant)
    await add_messages(uow_factory, first, second)
    async with uow_factory() as uow:
        await uow.messages.update(first.handed_to_provider("SM1", MessageStatus.QUEUED, T0))
        with pytest.raises(AlreadyExists):
            await uow.messages.update(second.handed_to_provider("SM1", MessageStatus.QUEUED, T0))


async def test_the_same_message_cannot_be_added_twice(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    message = outbound(tenant)
    await add_messages(uow_factory, message)
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.messages.add(message)


async def test_inbound_fields_and_templates_read_back_exactly(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    received = Message.new_inbound(
        tenant_id=tenant.id,
        sender=OUR_NUMBER,
        contact=BOB,
        content=MessageContent(body="Olá", media_urls=("https://api.twilio.com/media/ME1",)),
        provider_sid="SM" + "b" * 32,
        now=T0,
        profile_name="Bob Souza",
        wa_id="5511987654321",
    )
    template = Message.new_outbound(
        tenant_id=tenant.id,
        sender=OUR_NUMBER,
        contact=ALICE,
        content=MessageContent(
            template=Template.of("HX" + "0123456789abcdef" * 2, {"1": "Alice", "2": "12/1", "name": "Café"})
        ),
        now=T0,
    )
    bare_template = Message.new_outbound(
        tenant_id=tenant.id,
        sender=OUR_NUMBER,
        contact=ALICE,
        content=MessageContent(template=Template.of("HX" + "f" * 32)),
        now=T0,
    )
    await add_messages(uow_factory, received, template, bare_template)

    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, received.id) == received
        assert await uow.messages.get_by_provider_sid("SM" + "b" * 32) == received
        assert await uow.messages.get(tenant.id, template.id) == template
        assert await uow.messages.get(tenant.id, bare_template.id) == bare_template


async def test_history_views_show_each_message_as_it_is_stored(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    received = Message.new_inbound(
        tenant_id=tenant.id,
        sender=OUR_NUMBER,
        contact=BOB,
        content=MessageContent(body="Olá", media_urls=("https://api.twilio.com/media/ME1",)),
        provider_sid="SM" + "c" * 32,
        now=T0,
        profile_name="Bob Souza",
    )
    template = Message.new_outbound(
        tenant_id=tenant.id,
        sender=OUR_NUMBER,
        contact=ALICE,
        content=MessageContent(template=Template.of("HX" + "0123456789abcdef" * 2, {"1": "Alice"})),
        now=T0 + timedelta(seconds=1),
    )
    sent = outbound(tenant, at=T0 + timedelta(seconds=2))
    failed = outbound(tenant, at=T0 + timedelta(seconds=3)).failed(
        Failure(
            FailureCode.RECIPIENT_OPTED_OUT,
            provider=ProviderName.TWILIO,
            provider_code=21610,
            provider_message="Attempt to send to unsubscribed recipient",
            reason="the recipient has opted out of messages from this sender",
        ),
        T0 + timedelta(seconds=4),
    )
    await add_messages(uow_factory, received, template, sent, failed)

    async with uow_factory() as uow:
        views = await uow.messages.list_views(HistoryQuery(tenant_id=tenant.id, limit=10))

    assert views == [MessageView.of(message) for message in (failed, sent, template, received)]
    assert views[0].failure == failed.failure
    assert views[0].failure is not None
    assert views[0].failure.code is FailureCode.RECIPIENT_OPTED_OUT
    assert views[1].failure is None
    assert (views[3].from_number, views[3].to_number) == (BOB.e164, OUR_NUMBER.e164)


async def test_a_message_is_found_by_its_provider_id_whichever_tenant_it_is(uow_factory: UowFactory) -> None:
    first, second = await add_tenant(uow_factory), await add_tenant(uow_factory)
    mine = outbound(first).handed_to_provider("SM" + "1" * 32, MessageStatus.QUEUED, T0)
    theirs = inbound(second)
    await add_messages(uow_factory, mine, theirs, outbound(first))

    async with uow_factory() as uow:
        assert await uow.messages.get_by_provider_sid("SM" + "1" * 32) == mine
        assert theirs.provider_sid is not None
        assert await uow.messages.get_by_provider_sid(theirs.provider_sid) == theirs
        assert await uow.messages.get_by_provider_sid("SM" + "0" * 32) is None


async def test_a_provider_id_is_attached_once_to_the_tenants_own_message(uow_factory: UowFactory) -> None:
    owner, other = await add_tenant(uow_factory), await add_tenant(uow_factory)
    message = outbound(owner)
    await add_messages(uow_factory, message)

    async with uow_factory() as uow:
        assert not await uow.messages.attach_provider_sid(other.id, message.id, "SM-attached")
        assert not await uow.messages.attach_provider_sid(owner.id, uuid4(), "SM-attached")
        assert await uow.messages.attach_provider_sid(owner.id, message.id, "SM-attached")
        await uow.commit()
    async with uow_factory() as uow:
        # it had one already: a second sid is not attached, nor is the same one again
        assert not await uow.messages.attach_provider_sid(owner.id, message.id, "SM-another")
        assert not await uow.messages.attach_provider_sid(owner.id, message.id, "SM-attached")
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.messages.get_by_provider_sid("SM-attached") == replace(
            message, provider_sid="SM-attached"
        )
        assert await uow.messages.get_by_provider_sid("SM-another") is None


async def test_a_provider_id_used_by_another_message_is_not_attached(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    taken = outbound(tenant).handed_to_provider("SM-taken", MessageStatus.QUEUED, T0)
    waiting = outbound(tenant)
    await add_messages(uow_factory, taken, waiting)

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists, match="provider id"):
            await uow.messages.attach_provider_sid(tenant.id, waiting.id, "SM-taken")
    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, waiting.id) == waiting
        assert await uow.messages.get_by_provider_sid("SM-taken") == taken


# --- history pages ---------------------------------------------------------------------------------


def of_every_kind(tenant: Tenant) -> list[Message]:
    """A message of every kind (tests/support/message_kinds.py), one second apart, the inbound ones as
    received."""
    messages = []
    for index, content in enumerate(CONTENTS.values()):
        at = T0 + timedelta(seconds=index)
        if content.reply is not None or content.unsupported is not None or content.media_urls:
            message = Message.new_inbound(
                tenant_id=tenant.id,
                sender=OUR_NUMBER,
                contact=BOB,
                content=content,
                provider_sid=f"SM{uuid4().hex}",
                now=at,
            )
        else:
            message = Message.new_outbound(
                tenant_id=tenant.id, sender=OUR_NUMBER, contact=ALICE, content=content, now=at
            )
        messages.append(message)
    return messages


async def test_a_message_of_every_kind_reads_back_exactly_and_so_does_its_history_view(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    messages = of_every_kind(tenant)
    await add_messages(uow_factory, *messages)
    # A status change rewrites the row: the content stays as it was.
    sent = messages[0].handed_to_provider("SM" + "9" * 32, MessageStatus.QUEUED, T0)
    async with uow_factory() as uow:
        await uow.messages.update(sent)
        await uow.commit()
    messages[0] = sent

    async with uow_factory() as uow:
        for message in messages:
            assert await uow.messages.get(tenant.id, message.id) == message
        views = await uow.messages.list_views(HistoryQuery(tenant_id=tenant.id, limit=100))

    assert views == [MessageView.of(message) for message in reversed(messages)]
    assert {view.kind for view in views} == {content.kind for content in CONTENTS.values()}


async def test_history_filters_by_kind(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    messages = of_every_kind(tenant)
    await add_messages(uow_factory, *messages)

    for kind in MessageKind:
        query = HistoryQuery(tenant_id=tenant.id, limit=100, kind=kind)
        expected = [message.id for message in reversed(messages) if message.content.kind is kind]
        assert [view.id for view in await page(uow_factory, query)] == expected, kind
    only_contacts = HistoryQuery(tenant_id=tenant.id, limit=100, kind=MessageKind.LOCATION, contact=BOB)
    assert await page(uow_factory, only_contacts) == []


async def test_history_is_newest_first_and_ties_are_broken_by_id(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    oldest = outbound(tenant, at=T0 - timedelta(minutes=1))
    same_instant = [outbound(tenant, at=T0) for _ in range(4)]
    newest = outbound(tenant, at=T0 + timedelta(microseconds=1))
    await add_messages(uow_factory, *same_instant, newest, oldest)

    listed = await page(uow_factory, HistoryQuery(tenant_id=tenant.id, limit=10))

    tied_ids_descending = sorted((m.id for m in same_instant), reverse=True)
    assert [m.id for m in listed] == [newest.id, *tied_ids_descending, oldest.id]


async def test_keyset_pages_cover_the_history_exactly_once(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    # Runs of equal timestamps that straddle page boundaries are where keyset paging goes wrong.
    history = [outbound(tenant, at=T0 + timedelta(seconds=index // 3)) for index in range(23)]
    await add_messages(uow_factory, *history)

    seen: list[UUID] = []
    position: HistoryPosition | None = None
    for _ in range(10):
        rows = await page(uow_factory, HistoryQuery(tenant_id=tenant.id, limit=5, after=position))
        seen.extend(m.id for m in rows)
        if len(rows) < 5:
            break
        position = HistoryPosition(created_at=rows[-1].created_at, message_id=rows[-1].id)

    assert seen == newest_first(history)


async def test_a_position_in_another_time_zone_means_the_same_instant(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    history = [outbound(tenant, at=T0 + timedelta(seconds=index)) for index in range(4)]
    await add_messages(uow_factory, *history)
    middle = newest_first(history)[1]
    middle_at = next(m.created_at for m in history if m.id == middle)

    in_new_york = middle_at.astimezone(timezone(timedelta(hours=-5)))
    rows = await page(
        uow_factory, HistoryQuery(tenant_id=tenant.id, limit=10, after=HistoryPosition(in_new_york, middle))
    )

    assert [m.id for m in rows] == newest_first(history)[2:]


async def test_history_filters(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    to_alice = outbound(tenant, at=T0, contact=ALICE)
    to_bob = outbound(tenant, at=T0 + timedelta(minutes=1), contact=BOB)
    from_bob = inbound(tenant, at=T0 + timedelta(minutes=2), contact=BOB)
    failed = outbound(tenant, at=T0 + timedelta(minutes=3), contact=ALICE).failed(
        Failure(
            FailureCode.SESSION_WINDOW_CLOSED, ProviderName.TWILIO, 63016, reason="outside the 24h window"
        ),
        T0,
    )
    await add_messages(uow_factory, to_alice, to_bob, from_bob, failed)

    async def ids(limit: int = 10, **filters: object) -> list[UUID]:
        query = HistoryQuery(tenant_id=tenant.id, limit=limit, **filters)  # type: ignore[arg-type]
        return [m.id for m in await page(uow_factory, query)]

    assert await ids(direction=Direction.INBOUND) == [from_bob.id]
    assert await ids(direction=Direction.OUTBOUND) == [failed.id, to_bob.id, to_alice.id]
    assert await ids(status=MessageStatus.FAILED) == [failed.id]
    assert await ids(status=MessageStatus.ACCEPTED) == [to_bob.id, to_alice.id]
    assert await ids(contact=BOB) == [from_bob.id, to_bob.id]
    # since is inclusive, until exclusive: adjacent windows neither overlap nor leave a gap
    assert await ids(since=T0 + timedelta(minutes=1)) == [failed.id, from_bob.id, to_bob.id]
    assert await ids(until=T0 + timedelta(minutes=1)) == [to_alice.id]
    assert await ids(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3)) == [
        from_bob.id,
        to_bob.id,
    ]
    assert await ids(contact=ALICE, direction=Direction.OUTBOUND, status=MessageStatus.ACCEPTED) == [
        to_alice.id
    ]
    assert await ids(contact=BOB, after=HistoryPosition(from_bob.created_at, from_bob.id)) == [to_bob.id]
    assert await ids(limit=2) == [failed.id, from_bob.id]
    assert await ids(failure_code=FailureCode.SESSION_WINDOW_CLOSED) == [failed.id]
    assert await ids(failure_code=FailureCode.RECIPIENT_OPTED_OUT) == []
    assert await ids(contact=ALICE, failure_code=FailureCode.SESSION_WINDOW_CLOSED) == [failed.id]


async def test_history_of_failures_holds_failed_and_undelivered_messages(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    delivered = replace(outbound(tenant, at=T0, contact=ALICE), status=MessageStatus.DELIVERED)
    failed = outbound(tenant, at=T0 + timedelta(minutes=1), contact=ALICE).failed(
        Failure(FailureCode.RECIPIENT_OPTED_OUT, ProviderName.TWILIO, 21610), T0
    )
    undelivered = replace(
        outbound(tenant, at=T0 + timedelta(minutes=2), contact=BOB),
        status=MessageStatus.UNDELIVERED,
        failure_code=FailureCode.UNKNOWN,
    )
    await add_messages(uow_factory, delivered, failed, undelivered, inbound(tenant, at=T0, contact=BOB))

    async def ids(**filters: object) -> list[UUID]:
        query = HistoryQuery(tenant_id=tenant.id, limit=10, failures_only=True, **filters)  # type: ignore[arg-type]
        return [m.id for m in await page(uow_factory, query)]

    assert await ids() == [undelivered.id, failed.id]
    assert await ids(contact=ALICE) == [failed.id]
    assert await ids(status=MessageStatus.UNDELIVERED) == [undelivered.id]
    assert await ids(status=MessageStatus.DELIVERED) == []
    assert await ids(failure_code=FailureCode.RECIPIENT_OPTED_OUT) == [failed.id]


async def test_another_tenants_history_never_appears(uow_factory: UowFactory) -> None:
    mine, theirs = await add_tenant(uow_factory), await add_tenant(uow_factory)
    my_history = [outbound(mine, at=T0 + timedelta(seconds=index)) for index in range(3)]
    their_history = [
        outbound(theirs, at=T0 + timedelta(seconds=index), contact=ALICE) for index in range(-2, 6)
    ]
    await add_messages(uow_factory, *my_history, *their_history)

    positions: list[HistoryPosition | None] = [None]
    positions += [HistoryPosition(m.created_at, m.id) for m in their_history]
    positions += [
        HistoryPosition(datetime(9999, 1, 1, tzinfo=UTC), UUID(int=2**128 - 1)),
        HistoryPosition(datetime(1970, 1, 1, tzinfo=UTC), UUID(int=0)),
    ]
    my_ids = set(newest_first(my_history))
    for position in positions:
        for contact in (None, ALICE):
            rows = await page(
                uow_factory, HistoryQuery(tenant_id=mine.id, limit=50, after=position, contact=contact)
            )
            assert {m.id for m in rows} <= my_ids
            async with uow_factory() as uow:
                assert all([await uow.messages.get(mine.id, m.id) for m in rows])

    everything = await page(uow_factory, HistoryQuery(tenant_id=mine.id, limit=50))
    assert [m.id for m in everything] == newest_first(my_history)


# --- delivery status -------------------------------------------------------------------------------


async def sent_message(uow_factory: UowFactory, sid: str) -> Message:
    tenant = await add_tenant(uow_factory)
    message = outbound(tenant).handed_to_provider(sid, MessageStatus.QUEUED, T0)
    await add_messages(uow_factory, message)
    return message


async def report(uow_factory: UowFactory, change: StatusChange, seconds: int = 0) -> Message | None:
    async with uow_factory() as uow:
        result = await uow.messages.advance_status(change, T0 + timedelta(seconds=seconds))
        await uow.commit()
    return result


async def current_status(uow_factory: UowFactory, message: Message) -> MessageStatus:
    async with uow_factory() as uow:
        stored = await uow.messages.get(message.tenant_id, message.id)
    assert stored is not None
    return stored.status


async def logged_events(stored: StoredRows, message: Message) -> list[tuple[str, bool]]:
    return await stored.status_events(message.id)


async def test_a_status_moves_forward_and_is_returned(uow_factory: UowFactory, stored: StoredRows) -> None:
    message = await sent_message(uow_factory, "SM-forward")

    advanced = await report(uow_factory, StatusChange("SM-forward", MessageStatus.SENT), seconds=5)

    assert advanced == replace(message, status=MessageStatus.SENT, updated_at=T0 + timedelta(seconds=5))
    assert await logged_events(stored, message) == [("sent", True)]


async def test_late_and_repeated_reports_change_nothing(uow_factory: UowFactory, stored: StoredRows) -> None:
    message = await sent_message(uow_factory, "SM-late")

    assert await report(uow_factory, StatusChange("SM-late", MessageStatus.DELIVERED)) is not None
    assert await report(uow_factory, StatusChange("SM-late", MessageStatus.SENT)) is None
    assert await report(uow_factory, StatusChange("SM-late", MessageStatus.DELIVERED)) is None
    assert await report(uow_factory, StatusChange("SM-late", MessageStatus.QUEUED)) is None

    assert await current_status(uow_factory, message) is MessageStatus.DELIVERED
    # The late ones are logged as not applied; the repeated one is the same report, logged once.
    assert await logged_events(stored, message) == [
        ("delivered", True),
        ("sent", False),
        ("queued", False),
    ]


async def test_a_report_replayed_many_times_is_logged_once(
    uow_factory: UowFactory, stored: StoredRows
) -> None:
    message = await sent_message(uow_factory, "SM-replayed")
    for change in (
        StatusChange("SM-replayed", MessageStatus.SENT),
        StatusChange("SM-replayed", MessageStatus.DELIVERED),
        StatusChange("SM-replayed", MessageStatus.READ),
        StatusChange("SM-replayed", MessageStatus.SENDING),  # late: logged, not applied
    ):
        await report(uow_factory, change)
    before = await logged_events(stored, message)

    for seconds in range(25):
        assert (
            await report(uow_factory, StatusChange("SM-replayed", MessageStatus.DELIVERED), seconds) is None
        )
    await asyncio.gather(
        *(report(uow_factory, StatusChange("SM-replayed", MessageStatus.SENDING)) for _ in range(5))
    )

    assert len(before) == 4
    assert await logged_events(stored, message) == before
    assert await current_status(uow_factory, message) is MessageStatus.READ


async def test_reports_differing_only_in_their_error_code_are_distinct(
    uow_factory: UowFactory, stored: StoredRows
) -> None:
    message = await sent_message(uow_factory, "SM-errors")

    await report(uow_factory, StatusChange("SM-errors", MessageStatus.UNDELIVERED, 30003, "unreachable"))
    await report(uow_factory, StatusChange("SM-errors", MessageStatus.UNDELIVERED, 30008, "unknown error"))
    await report(uow_factory, StatusChange("SM-errors", MessageStatus.UNDELIVERED, 30003, "unreachable"))
    await report(uow_factory, StatusChange("SM-errors", MessageStatus.UNDELIVERED))

    assert await logged_events(stored, message) == [
        ("undelivered", True),
        ("undelivered", False),
        ("undelivered", False),
    ]


async def test_after_a_retry_the_new_provider_messages_reports_are_new_reports(
    uow_factory: UowFactory, stored: StoredRows
) -> None:
    message = await sent_message(uow_factory, "SM-first-try")
    await report(uow_factory, StatusChange("SM-first-try", MessageStatus.SENT))
    await report(uow_factory, StatusChange("SM-first-try", MessageStatus.FAILED, 63016))
    async with uow_factory() as uow:
        failed = await uow.messages.get(message.tenant_id, message.id)
        assert failed is not None
        retried = failed.accepted_again(T0 + timedelta(minutes=1))
        await uow.messages.update(
            retried.handed_to_provider("SM-second-try", MessageStatus.QUEUED, retried.updated_at)
        )
        await uow.commit()

    assert await report(uow_factory, StatusChange("SM-second-try", MessageStatus.SENT)) is not None
    assert await report(uow_factory, StatusChange("SM-second-try", MessageStatus.SENT)) is None

    assert await logged_events(stored, message) == [("sent", True), ("failed", True), ("sent", True)]


async def test_a_terminal_status_stays(uow_factory: UowFactory, stored: StoredRows) -> None:
    failed = await sent_message(uow_factory, "SM-failed")
    read = await sent_message(uow_factory, "SM-read")

    assert await report(uow_factory, StatusChange("SM-failed", MessageStatus.FAILED, 30008, "Unknown error"))
    assert await report(uow_factory, StatusChange("SM-failed", MessageStatus.DELIVERED)) is None
    assert await report(uow_factory, StatusChange("SM-failed", MessageStatus.UNDELIVERED)) is None
    assert await report(uow_factory, StatusChange("SM-read", MessageStatus.READ))
    assert await report(uow_factory, StatusChange("SM-read", MessageStatus.FAILED, 30008)) is None

    async with uow_factory() as uow:
        stored_failed = await uow.messages.get(failed.tenant_id, failed.id)
        stored_read = await uow.messages.get(read.tenant_id, read.id)
    assert stored_failed is not None
    assert (stored_failed.status, stored_failed.error_code, stored_failed.error_message) == (
        MessageStatus.FAILED,
        30008,
        "Unknown error",
    )
    assert stored_read is not None
    assert (stored_read.status, stored_read.error_code) == (MessageStatus.READ, None)
    assert await logged_events(stored, failed) == [
        ("failed", True),
        ("delivered", False),
        ("undelivered", False),
    ]
    assert await logged_events(stored, read) == [("read", True), ("failed", False)]


async def test_a_failed_report_keeps_our_code_the_providers_words_and_the_provider(
    uow_factory: UowFactory,
) -> None:
    message = await sent_message(uow_factory, "wamid.closed-window")
    change = StatusChange(
        "wamid.closed-window",
        MessageStatus.FAILED,
        131047,
        "more than 24 hours have passed since the customer last wrote",
        failure_code=FailureCode.SESSION_WINDOW_CLOSED,
        provider_error_message="Message failed to send because more than 24 hours have passed",
        provider=ProviderName.META,
    )

    advanced = await report(uow_factory, change)

    async with uow_factory() as uow:
        stored_message = await uow.messages.get(message.tenant_id, message.id)
    assert advanced == stored_message
    assert stored_message is not None
    assert stored_message.failure == Failure(
        FailureCode.SESSION_WINDOW_CLOSED,
        provider=ProviderName.META,
        provider_code=131047,
        provider_message="Message failed to send because more than 24 hours have passed",
        reason="more than 24 hours have passed since the customer last wrote",
    )


async def test_a_failed_report_without_a_code_we_know_is_unknown(uow_factory: UowFactory) -> None:
    message = await sent_message(uow_factory, "SM-canceled")
    await report(uow_factory, StatusChange("SM-canceled", MessageStatus.SENT, provider=ProviderName.TWILIO))
    sent = await current_message(uow_factory, message)
    assert (sent.failure_code, sent.provider, sent.failure) == (None, ProviderName.TWILIO, None)

    await report(uow_factory, StatusChange("SM-canceled", MessageStatus.FAILED, error_message="canceled"))

    failed = await current_message(uow_factory, message)
    assert failed.failure == Failure(FailureCode.UNKNOWN, provider=ProviderName.TWILIO, reason="canceled")
    assert failed.failure_code is FailureCode.UNKNOWN


async def current_message(uow_factory: UowFactory, message: Message) -> Message:
    async with uow_factory() as uow:
        stored = await uow.messages.get(message.tenant_id, message.id)
    assert stored is not None
    return stored


async def test_a_report_for_an_unknown_message_is_ignored(
    uow_factory: UowFactory, stored: StoredRows
) -> None:
    assert await report(uow_factory, StatusChange("SM-nobody-knows", MessageStatus.DELIVERED)) is None
    assert await stored.status_event_count() == 0


async def report_of(
    uow_factory: UowFactory, tenant_ids: list[UUID], change: StatusChange, seconds: int = 0
) -> StatusAdvance:
    async with uow_factory() as uow:
        result = await uow.messages.advance_status_of(tenant_ids, change, T0 + timedelta(seconds=seconds))
        await uow.commit()
    return result


async def test_a_report_for_one_of_the_tenants_moves_its_message_as_any_report_does(
    uow_factory: UowFactory, stored: StoredRows
) -> None:
    message = await sent_message(uow_factory, "SM-of-tenant")
    other_tenant = await add_tenant(uow_factory)
    tenants = [other_tenant.id, message.tenant_id]

    sent = await report_of(uow_factory, tenants, StatusChange("SM-of-tenant", MessageStatus.SENT), 5)
    failed = await report_of(
        uow_factory,
        tenants,
        StatusChange(
            "SM-of-tenant",
            MessageStatus.UNDELIVERED,
            30003,
            "unreachable",
            failure_code=FailureCode.RECIPIENT_UNAVAILABLE,
            provider_error_message="Unreachable destination handset",
            provider=ProviderName.TWILIO,
        ),
        6,
    )
    late = await report_of(uow_factory, tenants, StatusChange("SM-of-tenant", MessageStatus.DELIVERED), 7)
    repeat = await report_of(uow_factory, tenants, StatusChange("SM-of-tenant", MessageStatus.DELIVERED), 8)

    assert sent == StatusAdvance(
        found=True, moved=replace(message, status=MessageStatus.SENT, updated_at=T0 + timedelta(seconds=5))
    )
    stored_message = await current_message(uow_factory, message)
    assert failed == StatusAdvance(found=True, moved=stored_message)
    assert (stored_message.status, stored_message.error_code, stored_message.failure_code) == (
        MessageStatus.UNDELIVERED,
        30003,
        FailureCode.RECIPIENT_UNAVAILABLE,
    )
    assert (stored_message.provider, stored_message.provider_error_message) == (
        ProviderName.TWILIO,
        "Unreachable destination handset",
    )
    assert late == repeat == StatusAdvance(found=True, moved=None)
    assert await logged_events(stored, message) == [
        ("sent", True),
        ("undelivered", True),
        ("delivered", False),
    ]


async def test_a_report_without_an_error_keeps_the_error_reported_before(uow_factory: UowFactory) -> None:
    message = await sent_message(uow_factory, "SM-keeps-error")
    tenants = [message.tenant_id]
    await report_of(uow_factory, tenants, StatusChange("SM-keeps-error", MessageStatus.SENT, 63016, "window"))

    delivered = await report_of(uow_factory, tenants, StatusChange("SM-keeps-error", MessageStatus.DELIVERED))

    assert delivered.moved is not None
    assert (delivered.moved.status, delivered.moved.error_code, delivered.moved.error_message) == (
        MessageStatus.DELIVERED,
        63016,
        "window",
    )
    assert await current_message(uow_factory, message) == delivered.moved


async def test_a_report_for_another_tenants_message_is_not_found_and_changes_nothing(
    uow_factory: UowFactory, stored: StoredRows
) -> None:
    message = await sent_message(uow_factory, "SM-not-yours")
    other_tenant = await add_tenant(uow_factory)

    read = StatusChange("SM-not-yours", MessageStatus.READ)

    result = await report_of(uow_factory, [other_tenant.id], read)
    nobody = await report_of(uow_factory, [], read)
    unknown = await report_of(uow_factory, [message.tenant_id], replace(read, provider_sid="SM-unknown"))

    assert result == nobody == unknown == StatusAdvance(found=False)
    assert await current_message(uow_factory, message) == message
    assert await stored.status_event_count() == 0


@pytest.mark.sql_only("concurrency between connections; the fake runs one block at a time")
async def test_concurrent_reports_leave_the_furthest_status(
    uow_factory: UowFactory, stored: StoredRows
) -> None:
    message = await sent_message(uow_factory, "SM-race")
    reports = [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.SENDING, MessageStatus.SENT] * 2

    await asyncio.gather(*(report(uow_factory, StatusChange("SM-race", status)) for status in reports))

    assert await current_status(uow_factory, message) is MessageStatus.DELIVERED
    events = await logged_events(stored, message)
    assert sorted(status for status, _ in events) == ["delivered", "sending", "sent"]  # each report once
    assert ("delivered", True) in events
    assert sum(applied for _, applied in events) <= 3  # at most sending, sent, delivered, in that order


async def test_the_timeline_lists_every_report_in_order_with_its_outcome(uow_factory: UowFactory) -> None:
    message = await sent_message(uow_factory, "SM-timeline")
    other = await sent_message(uow_factory, "SM-other")
    reports = [
        StatusChange("SM-timeline", MessageStatus.DELIVERED, pricing_category="utility"),
        StatusChange("SM-timeline", MessageStatus.SENT),
        StatusChange("SM-other", MessageStatus.SENT),
        StatusChange("SM-timeline", MessageStatus.DELIVERED),
        StatusChange("SM-timeline", MessageStatus.UNDELIVERED, 30003, "the recipient's phone is unreachable"),
        StatusChange("SM-timeline", MessageStatus.READ),
    ]
    for seconds, change in enumerate(reports):
        await report(uow_factory, change, seconds=seconds)

    async with uow_factory() as uow:
        events = await uow.messages.list_status_events(message.tenant_id, message.id)
        other_events = await uow.messages.list_status_events(other.tenant_id, other.id)
        # another tenant asking about this message learns nothing
        assert await uow.messages.list_status_events(other.tenant_id, message.id) == []
        assert await uow.messages.list_status_events(message.tenant_id, other.id) == []
        assert await uow.messages.list_status_events(message.tenant_id, uuid4()) == []

    assert [(e.status, e.applied, e.error_code, e.error_message, e.pricing_category) for e in events] == [
        (MessageStatus.DELIVERED, True, None, None, "utility"),
        (MessageStatus.SENT, False, None, None, None),
        # the second "delivered" is the first one again: not a report of its own
        (MessageStatus.UNDELIVERED, True, 30003, "the recipient's phone is unreachable", None),
        (MessageStatus.READ, False, None, None, None),
    ]
    assert [e.received_at for e in events] == [T0 + timedelta(seconds=s) for s in (0, 1, 4, 5)]
    assert all(e.received_at.tzinfo is UTC for e in events)
    assert {e.message_id for e in events} == {message.id}
    assert [(e.status, e.applied) for e in other_events] == [(MessageStatus.SENT, True)]


# --- the unit of work ------------------------------------------------------------------------------


async def test_leaving_without_commit_rolls_back(uow_factory: UowFactory) -> None:
    uow = uow_factory()
    async with uow:
        await uow.tenants.add(Tenant(name="Uncommitted", provider=ProviderName.SANDBOX, created_at=T0))
    async with uow:
        assert await uow.tenants.get_by_name("Uncommitted") is None


async def test_an_error_in_the_block_rolls_back_and_propagates(uow_factory: UowFactory) -> None:
    class Boom(Exception):
        pass

    async def fail_halfway() -> None:
        async with uow_factory() as uow:
            await uow.tenants.add(Tenant(name="Doomed", provider=ProviderName.SANDBOX, created_at=T0))
            raise Boom

    with pytest.raises(Boom):
        await fail_halfway()
    async with uow_factory() as uow:
        assert await uow.tenants.count() == 0


async def test_only_what_was_committed_stays(uow_factory: UowFactory) -> None:
    async with uow_factory() as uow:
        await uow.tenants.add(Tenant(name="Kept", provider=ProviderName.SANDBOX, created_at=T0))
        await uow.commit()
        await uow.tenants.add(Tenant(name="Dropped", provider=ProviderName.SANDBOX, created_at=T0))
    async with uow_factory() as uow:
        assert await uow.tenants.get_by_name("Kept") is not None
        assert await uow.tenants.get_by_name("Dropped") is None


@pytest.mark.sql_only("the SQL adapter's connection pool")
async def test_the_connection_goes_back_to_the_pool(uow_factory: UowFactory, engine: AsyncEngine) -> None:
    uow = uow_factory()
    for _ in range(3):
        async with uow:
            await uow.ping()
        with pytest.raises(ZeroDivisionError):
            async with uow:
                _ = 1 / 0
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


@pytest.mark.sql_only("the fake's repositories stay reachable outside a block, for tests to arrange data")
async def test_a_unit_of_work_does_not_nest_and_needs_its_block(uow_factory: UowFactory) -> None:
    uow = uow_factory()
    with pytest.raises(RuntimeError, match="async with"):
        _ = uow.tenants
    async with uow:
        with pytest.raises(RuntimeError, match="in use"):
            await uow.__aenter__()
    with pytest.raises(RuntimeError):
        await uow.commit()


async def test_ping_inside_and_outside_a_block(uow_factory: UowFactory) -> None:
    uow = uow_factory()
    await uow.ping()
    async with uow:
        await uow.ping()


# --- an unreachable database -----------------------------------------------------------------------


@pytest.fixture(params=["postgres", "sqlite"])
def unreachable_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return "postgresql://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1
    # a directory where the database file should be: SQLite cannot open it
    return f"sqlite:///{tmp_path}"


@pytest.mark.sql_only("a database server or file that cannot be reached")
async def test_an_unreachable_database_is_storage_unavailable(
    unreachable_url: str, secret_box: SecretBox
) -> None:
    engine = create_database_engine(unreachable_url)
    try:
        uow = SqlAlchemyUnitOfWork(engine, secret_box)
        with pytest.raises(StorageUnavailable, match="the database is unavailable") as raised:
            async with uow:
                pass
        assert raised.value.__cause__ is not None
        with pytest.raises(StorageUnavailable):
            await uow.ping()
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


@pytest.mark.sql_only("a connection to the server that breaks")
@pytest.mark.parametrize("at", ["statement", "commit"])
async def test_a_connection_lost_mid_transaction_is_storage_unavailable(
    at: str, postgres_server: PostgresServer, postgres_database: str, postgres_url: str, secret_box: SecretBox
) -> None:
    upgrade(postgres_url)
    engine = create_database_engine(postgres_url)
    try:
        async with SqlAlchemyUnitOfWork(engine, secret_box) as uow:
            await uow.tenants.add(
                Tenant(name=f"lost {uuid4()}", provider=ProviderName.SANDBOX, created_at=T0)
            )
            assert postgres_server.terminate_connections(postgres_database) >= 1
            step = uow.tenants.count() if at == "statement" else uow.commit()
            with pytest.raises(StorageUnavailable):
                await step

        # the pool drops the dead connection, and the next unit of work gets a working one
        async with SqlAlchemyUnitOfWork(engine, secret_box) as uow:
            await uow.ping()
    finally:
        await engine.dispose()


# --- conversations ---------------------------------------------------------------------------------


async def record(uow_factory: UowFactory, *messages: Message) -> None:
    """Store each message and record it in its conversation, one transaction each, in this order."""
    for message in messages:
        async with uow_factory() as uow:
            await uow.messages.add(message)
            await uow.conversations.record_message(message)
            await uow.commit()


async def conversation_of(
    uow_factory: UowFactory, tenant: Tenant, contact: PhoneNumber = ALICE
) -> Conversation:
    async with uow_factory() as uow:
        conversation = await uow.conversations.get(tenant.id, contact)
    assert conversation is not None
    return conversation


async def conversation_page(uow_factory: UowFactory, query: ConversationQuery) -> list[Conversation]:
    async with uow_factory() as uow:
        return await uow.conversations.list_page(query)


async def test_the_first_message_creates_the_conversation(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    first = outbound(tenant, body="Your order shipped")
    await record(uow_factory, first)

    conversation = await conversation_of(uow_factory, tenant)

    assert conversation.tenant_id == tenant.id
    assert conversation.contact == ALICE
    assert conversation.sender == OUR_NUMBER
    assert conversation.last_message_id == first.id
    assert conversation.last_message_at == T0
    assert conversation.last_direction is Direction.OUTBOUND
    assert conversation.last_message_preview == "Your order shipped"
    assert conversation.created_at == T0
    assert conversation.last_inbound_at is None
    assert conversation.window_expires_at is None
    assert conversation.profile_name is None


async def test_a_newer_message_moves_the_conversation_forward(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    first = outbound(tenant, body="first")
    later = replace(outbound(tenant, at=T0 + timedelta(minutes=5), body="later"), sender=OTHER_OUR_NUMBER)
    await record(uow_factory, first, later)

    conversation = await conversation_of(uow_factory, tenant)

    assert conversation.last_message_id == later.id
    assert conversation.last_message_at == T0 + timedelta(minutes=5)
    assert conversation.last_message_preview == "later"
    assert conversation.sender == OTHER_OUR_NUMBER
    assert conversation.created_at == T0


async def test_an_older_message_recorded_later_does_not_become_the_last(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    newer = outbound(tenant, at=T0 + timedelta(minutes=10), body="newer")
    older_inbound = inbound(tenant, at=T0 + timedelta(minutes=1))
    await record(uow_factory, newer, older_inbound)

    conversation = await conversation_of(uow_factory, tenant)

    assert conversation.last_message_id == newer.id
    assert conversation.last_direction is Direction.OUTBOUND
    assert conversation.last_message_preview == "newer"
    # ... but the customer did write, so the window is open from their message on.
    assert conversation.last_inbound_at == T0 + timedelta(minutes=1)


async def test_an_older_inbound_message_never_moves_the_window_back(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    latest = inbound(tenant, at=T0 + timedelta(hours=3))
    earlier = inbound(tenant, at=T0 + timedelta(hours=1))
    reply = outbound(tenant, at=T0 + timedelta(hours=4))
    await record(uow_factory, latest, earlier, reply)

    conversation = await conversation_of(uow_factory, tenant)

    assert conversation.last_inbound_at == T0 + timedelta(hours=3)
    assert conversation.window_expires_at == T0 + timedelta(hours=27)
    assert conversation.last_message_id == reply.id


async def test_an_inbound_message_opens_the_window_and_its_profile_name_is_kept(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    await record(uow_factory, outbound(tenant))
    assert not (await conversation_of(uow_factory, tenant)).window_open(T0 + timedelta(minutes=1))

    from_alice = replace(inbound(tenant, at=T0 + timedelta(minutes=1)), profile_name="Alice")
    answer = outbound(tenant, at=T0 + timedelta(minutes=2))
    await record(uow_factory, from_alice, answer)
    conversation = await conversation_of(uow_factory, tenant)

    assert conversation.last_inbound_at == T0 + timedelta(minutes=1)
    assert conversation.window_open(T0 + timedelta(hours=24))
    assert not conversation.window_open(T0 + timedelta(hours=24, minutes=1))
    assert conversation.profile_name == "Alice"  # the outbound answer, without a name, keeps it

    renamed = replace(inbound(tenant, at=T0 + timedelta(minutes=3)), profile_name="Alice B.")
    await record(uow_factory, renamed)
    assert (await conversation_of(uow_factory, tenant)).profile_name == "Alice B."


async def test_the_preview_says_what_a_template_or_media_message_was(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    content_sid = "HX" + "a" * 32
    template = Message.new_outbound(
        tenant_id=tenant.id,
        sender=OUR_NUMBER,
        contact=ALICE,
        content=MessageContent(template=Template.of(content_sid, {"1": "x"})),
        now=T0,
    )
    media = Message.new_outbound(
        tenant_id=tenant.id,
        sender=OUR_NUMBER,
        contact=BOB,
        content=MessageContent(media_urls=("https://example.com/a.png", "https://example.com/b.png")),
        now=T0,
    )
    long_text = outbound(tenant, contact=PhoneNumber.parse("+14155550123"), body="x" * 500)
    await record(uow_factory, template, media, long_text)

    assert (
        await conversation_of(uow_factory, tenant, ALICE)
    ).last_message_preview == f"[template {content_sid}]"
    assert (await conversation_of(uow_factory, tenant, BOB)).last_message_preview == "[2 media]"
    assert (
        await conversation_of(uow_factory, tenant, PhoneNumber.parse("+14155550123"))
    ).last_message_preview == "x" * 120


async def test_a_conversation_is_found_by_its_tenant_and_contact_only(uow_factory: UowFactory) -> None:
    mine, theirs = await add_tenant(uow_factory), await add_tenant(uow_factory)
    await record(uow_factory, inbound(mine, contact=ALICE), outbound(theirs, contact=BOB))

    async with uow_factory() as uow:
        assert (await uow.conversations.get(mine.id, ALICE)) is not None
        assert await uow.conversations.get(mine.id, BOB) is None
        assert await uow.conversations.get(theirs.id, ALICE) is None
        assert await uow.conversations.get(uuid4(), ALICE) is None


async def test_each_contact_has_one_conversation_whatever_the_number_of_messages(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    await record(
        uow_factory,
        *(outbound(tenant, at=T0 + timedelta(seconds=n), body=f"m{n}") for n in range(3)),
        inbound(tenant, at=T0 + timedelta(seconds=5)),
    )

    rows = await conversation_page(uow_factory, ConversationQuery(tenant_id=tenant.id, limit=50))

    assert len(rows) == 1
    assert rows[0].last_direction is Direction.INBOUND


async def test_a_customer_written_two_ways_has_one_conversation_replied_to_where_they_write_from(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    await record(
        uow_factory,
        outbound(tenant, at=T0, contact=MEXICO_PLAN),  # a template before the customer ever wrote
        replace(inbound(tenant, at=T0 + timedelta(minutes=1), contact=MEXICO_WHATSAPP), profile_name="Ana"),
        outbound(tenant, at=T0 + timedelta(minutes=2), contact=MEXICO_PLAN, body="answer"),
    )

    by_whatsapp_form = await conversation_of(uow_factory, tenant, MEXICO_WHATSAPP)
    by_plan_form = await conversation_of(uow_factory, tenant, MEXICO_PLAN)
    rows = await conversation_page(uow_factory, ConversationQuery(tenant_id=tenant.id, limit=50))

    assert rows == [by_whatsapp_form] == [by_plan_form]
    assert by_plan_form.contact == MEXICO_WHATSAPP  # the form the customer writes from
    assert by_plan_form.last_inbound_at == T0 + timedelta(minutes=1)
    assert by_plan_form.last_message_preview == "answer"
    assert by_plan_form.profile_name == "Ana"
    assert by_plan_form.created_at == T0


async def test_until_the_customer_writes_the_conversation_keeps_the_form_last_written_to(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    await record(
        uow_factory,
        outbound(tenant, at=T0, contact=BRAZIL_PLAN),
        outbound(tenant, at=T0 + timedelta(minutes=1), contact=BRAZIL_OLD_ACCOUNT),
    )
    assert (await conversation_of(uow_factory, tenant, BRAZIL_PLAN)).contact == BRAZIL_OLD_ACCOUNT

    await record(
        uow_factory,
        inbound(tenant, at=T0 + timedelta(minutes=3), contact=BRAZIL_PLAN),
        inbound(tenant, at=T0 + timedelta(minutes=2), contact=BRAZIL_OLD_ACCOUNT),  # late, older
        outbound(tenant, at=T0 + timedelta(minutes=4), contact=BRAZIL_OLD_ACCOUNT),
    )

    conversation = await conversation_of(uow_factory, tenant, BRAZIL_OLD_ACCOUNT)
    assert conversation.contact == BRAZIL_PLAN  # the form of the latest message the customer wrote
    assert conversation.last_inbound_at == T0 + timedelta(minutes=3)


async def test_the_history_of_a_customer_written_two_ways_holds_both_forms_in_order(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    forms = [MEXICO_PLAN, MEXICO_WHATSAPP]
    theirs = [
        (inbound if n % 3 == 0 else outbound)(tenant, at=T0 + timedelta(seconds=n // 2), contact=forms[n % 2])
        for n in range(9)
    ]
    others = [outbound(tenant, at=T0 + timedelta(seconds=n), contact=ALICE) for n in range(3)]
    await add_messages(uow_factory, *theirs, *others)

    for asked_for in forms:
        pages: list[list[MessageView]] = []
        after = None
        while not pages or len(pages[-1]) == 4:
            query = HistoryQuery(tenant_id=tenant.id, limit=4, contact=asked_for, after=after)
            pages.append(await page(uow_factory, query))
            after = HistoryPosition(pages[-1][-1].created_at, pages[-1][-1].id) if pages[-1] else None
        assert [message.id for found in pages for message in found] == newest_first(theirs)
        async with uow_factory() as uow:
            views = await uow.messages.list_views(
                HistoryQuery(tenant_id=tenant.id, limit=50, contact=asked_for)
            )
        assert [view.id for view in views] == newest_first(theirs)
        inbound_views = [view for view in views if view.direction is Direction.INBOUND]
        assert {view.from_number for view in inbound_views} == {form.e164 for form in forms}


async def test_keyset_pages_cover_each_conversation_once_newest_first(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    contacts = [PhoneNumber.parse(f"+1415555{n:04d}") for n in range(9)]
    # Three share one timestamp: the id breaks the tie, so none is lost or repeated across pages.
    moments = [T0 + timedelta(minutes=min(n, 6)) for n in range(9)]
    await record(
        uow_factory, *(outbound(tenant, at=at, contact=c) for c, at in zip(contacts, moments, strict=True))
    )
    # A later message moves the oldest conversation to the top.
    await record(uow_factory, inbound(tenant, at=T0 + timedelta(hours=1), contact=contacts[0]))

    seen: list[Conversation] = []
    after: ConversationPosition | None = None
    while True:
        rows = await conversation_page(
            uow_factory, ConversationQuery(tenant_id=tenant.id, limit=4, after=after)
        )
        seen += rows
        if len(rows) < 4:
            break
        after = ConversationPosition(rows[-1].last_message_at, rows[-1].id)

    assert len(seen) == len({c.id for c in seen}) == 9
    assert seen[0].contact == contacts[0]
    keys = [(c.last_message_at, c.id) for c in seen]
    assert keys == sorted(keys, reverse=True)


async def test_another_tenants_conversations_never_appear(uow_factory: UowFactory) -> None:
    mine, theirs = await add_tenant(uow_factory), await add_tenant(uow_factory)
    await record(
        uow_factory, outbound(mine, contact=ALICE), outbound(mine, contact=BOB, at=T0 + timedelta(minutes=1))
    )
    await record(
        uow_factory,
        *(outbound(theirs, contact=ALICE, at=T0 + timedelta(minutes=n)) for n in range(-2, 3)),
        inbound(theirs, contact=PhoneNumber.parse("+14155550123")),
    )

    positions: list[ConversationPosition | None] = [
        None,
        ConversationPosition(datetime(9999, 1, 1, tzinfo=UTC), UUID(int=2**128 - 1)),
        ConversationPosition(T0 + timedelta(minutes=1), uuid4()),
    ]
    for position in positions:
        rows = await conversation_page(
            uow_factory, ConversationQuery(tenant_id=mine.id, limit=50, after=position)
        )
        assert all(c.tenant_id == mine.id for c in rows)

    rows = await conversation_page(uow_factory, ConversationQuery(tenant_id=mine.id, limit=50))
    assert [c.contact for c in rows] == [BOB, ALICE]
    mine_alice = await conversation_of(uow_factory, mine, ALICE)
    assert mine_alice.last_inbound_at is None  # their customer's message opened their window only


@pytest.mark.sql_only("read-only units of work are the SQL adapter's")
async def test_a_read_only_unit_of_work_reads_but_cannot_write(
    uow_factory: UowFactory, engine: AsyncEngine, secret_box: SecretBox
) -> None:
    tenant = await add_tenant(uow_factory)
    reads = SqlAlchemyUnitOfWork(engine, secret_box, read_only=True)

    async with reads:
        assert await reads.tenants.get(tenant.id) == tenant
        with pytest.raises(RuntimeError, match="cannot commit"):
            await reads.commit()
    if engine.dialect.name == "postgresql":
        # BEGIN READ ONLY: the database refuses the write itself, whatever the code tries.
        async with reads:
            with pytest.raises(PersistenceError):
                await reads.messages.add(outbound(tenant))

    # The pooled connection is writable again for the next ordinary unit of work.
    await add_messages(uow_factory, outbound(tenant))
    assert len(await page(uow_factory, HistoryQuery(tenant_id=tenant.id, limit=10))) == 1
