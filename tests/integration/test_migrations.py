"""The migrations: reversible step by step, equal to tables.py, and the history query uses its index."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from adapters.database.engine import create_database_engine, sync_database_url
from adapters.database.migrate import MIGRATIONS_DIRECTORY, current_revision, downgrade, upgrade
from adapters.database.roles import grant_app_role
from adapters.database.sealed_secrets import credentials_owner
from adapters.database.tables import (
    UtcDateTime,
    conversations,
    messages,
    metadata,
    provider_accounts,
    senders,
    template_listings,
    template_sync_claims,
    templates,
    tenants,
)
from adapters.database.tenant_scope import TENANT_SETTING
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox
from adapters.twilio.errors import TWILIO_ERRORS
from application.ports.messages import HistoryPosition, HistoryQuery
from domain.administration.tenancy import (
    MetaCredentials,
    ProviderAccount,
    ProviderName,
    Sender,
    Tenant,
    TwilioCredentials,
)
from domain.phone import PhoneNumber
from domain.templates.catalogue import CatalogueTemplate
from tests.support.databases import PostgresRoles
from tests.support.postgres_server import PostgresServer
from tests.support.repositories.templates import ORDER_UPDATE, meta_listing, sandbox_listing

TENANTS = 5
MEXICO_PLAN, MEXICO_WHATSAPP = PhoneNumber.parse("+525512345678"), PhoneNumber.parse("+5215512345678")
MESSAGES_PER_TENANT = 1000
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def fresh_database(postgres_server: PostgresServer, postgres_roles: PostgresRoles) -> Iterator[str]:
    """A database of this test's own (migrations must not disturb the session database), owned by
    the run's owner role: migrations run as a role that is no superuser, as in production."""
    name = postgres_server.create_database(owner=postgres_roles.owner)
    try:
        yield name
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def fresh_postgres_url(
    postgres_server: PostgresServer, postgres_roles: PostgresRoles, fresh_database: str
) -> str:
    return postgres_server.url_for(fresh_database, postgres_roles.owner)


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def empty_database_url(request: pytest.FixtureRequest) -> str:
    fixture = "fresh_postgres_url" if request.param == "postgres" else "sqlite_url"
    url: str = request.getfixturevalue(fixture)
    return url


def revisions_oldest_first() -> list[tuple[str, str]]:
    """(revision, the revision below it or 'base') for every migration, in the order they apply."""
    scripts = ScriptDirectory(str(MIGRATIONS_DIRECTORY))
    steps = [(script.revision, script.down_revision) for script in scripts.walk_revisions()]
    return [(revision, str(below) if below else "base") for revision, below in reversed(steps)]


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(sync_database_url(url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_every_migration_goes_up_down_and_up_again(empty_database_url: str) -> None:
    assert current_revision(empty_database_url) is None
    for revision, below in revisions_oldest_first():
        upgrade(empty_database_url, revision)
        assert current_revision(empty_database_url) == revision
        downgrade(empty_database_url, below)
        assert current_revision(empty_database_url) == (None if below == "base" else below)
        upgrade(empty_database_url, revision)

    downgrade(empty_database_url, "base")
    assert table_names(empty_database_url) <= {"alembic_version"}
    upgrade(empty_database_url)
    assert table_names(empty_database_url) >= set(metadata.tables)


def test_upgrading_twice_changes_nothing(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    head = current_revision(empty_database_url)
    upgrade(empty_database_url)
    assert current_revision(empty_database_url) == head == revisions_oldest_first()[-1][0]


# SQLite's reflection cannot read an index on an expression; the PostgreSQL run compares those too.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_the_migrated_schema_is_the_one_in_tables_py(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    engine = sa.create_engine(sync_database_url(empty_database_url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []


# --- data carried forward --------------------------------------------------------------------------


def test_a_customers_conversations_in_two_forms_become_one_keyed_by_identity(empty_database_url: str) -> None:
    """Before conversations were keyed by identity, Argentina's +54 and +549 forms of one mobile were two
    conversations (both forms were accepted): the upgrade merges them, per tenant."""
    upgrade(empty_database_url, "0009")
    acme, globex = uuid4(), uuid4()
    minutes = [T0 + timedelta(minutes=n) for n in range(60)]
    # conversations as of 0009: without contact_identity
    old_conversations = sa.table(
        "conversations",
        *(
            sa.column(column.name, column.type)
            for column in conversations.c
            if column.name != "contact_identity"
        ),
    )
    with tenant_rows_writable(empty_database_url) as connection:
        connection.execute(
            sa.insert(tenants),
            [
                {"id": tenant_id, "name": name, "provider": "twilio", "status": "active", "created_at": T0}
                for tenant_id, name in ((acme, "acme"), (globex, "globex"))
            ],
        )
        connection.execute(
            sa.insert(old_conversations),
            [
                # acme answered the national form last; the customer wrote from WhatsApp's form earlier
                conversation_row(acme, "+541123456789", last_at=minutes[40], created_at=minutes[0]),
                conversation_row(
                    acme, "+5491123456789", last_at=minutes[30], inbound_at=minutes[30], profile_name="Ana"
                ),
                conversation_row(acme, "+551187654321", last_at=minutes[5], inbound_at=minutes[5]),
                conversation_row(acme, "+14155550100", last_at=minutes[6]),
                conversation_row(globex, "+541123456789", last_at=minutes[7]),
            ],
        )

    upgrade(empty_database_url)

    with tenant_rows_writable(empty_database_url) as connection:
        rows = connection.execute(sa.select(conversations)).mappings().all()
    by_identity = {(row["tenant_id"], row["contact_identity"]): row for row in rows}
    assert len(rows) == len(by_identity) == 4
    merged = by_identity[(acme, "+5491123456789")]
    assert merged["contact_number"] == "+5491123456789"  # where the customer wrote from
    assert merged["last_message_at"] == minutes[40]
    assert merged["last_inbound_at"] == minutes[30]
    assert merged["created_at"] == minutes[0]
    assert merged["profile_name"] == "Ana"
    assert by_identity[(acme, "+5511987654321")]["contact_number"] == "+551187654321"
    assert by_identity[(acme, "+14155550100")]["contact_number"] == "+14155550100"
    assert by_identity[(globex, "+5491123456789")]["contact_number"] == "+541123456789"

    downgrade(empty_database_url, "0009")
    assert current_revision(empty_database_url) == "0009"


def test_existing_messages_get_their_kind_and_no_content_document(empty_database_url: str) -> None:
    upgrade(empty_database_url, "0013")
    tenant_id = uuid4()
    # messages as of 0013: without kind and content
    old_messages = messages_without("kind", "content", *FAILURE_COLUMNS)
    # (its kind, body, media URLs, Content SID)
    stored = [
        ("text", "hello", [], None),
        ("media", "", ["https://example.com/a.png"], None),
        ("media", "a caption", ["https://example.com/a.png"], None),
        ("template", "", [], "HX" + "0" * 32),
    ]
    with tenant_rows_writable(empty_database_url) as connection:
        connection.execute(
            sa.insert(tenants),
            {"id": tenant_id, "name": "acme", "provider": "twilio", "status": "active", "created_at": T0},
        )
        connection.execute(
            sa.insert(old_messages),
            [
                {
                    "id": uuid4(),
                    "tenant_id": tenant_id,
                    "direction": "outbound",
                    "status": "delivered",
                    "sender_number": "+14155238886",
                    "contact_number": "+14155550100",
                    "body": body,
                    "media_urls": media_urls,
                    "content_sid": content_sid,
                    "created_at": T0,
                    "updated_at": T0,
                }
                for _, body, media_urls, content_sid in stored
            ],
        )

    upgrade(empty_database_url)

    with tenant_rows_writable(empty_database_url) as connection:
        rows = connection.execute(sa.select(messages.c.kind, messages.c.body, messages.c.content)).all()
    assert sorted((kind, body, content) for kind, body, content in rows) == sorted(
        (kind, body, None) for kind, body, _, _ in stored
    )
    downgrade(empty_database_url, "0013")
    assert current_revision(empty_database_url) == "0013"


FAILURE_COLUMNS = ("failure_code", "provider", "provider_error_message")


def messages_without(*names: str) -> sa.TableClause:
    """The messages table as an earlier revision had it: without the columns ``names``."""
    return sa.table(
        "messages",
        *(sa.column(column.name, column.type) for column in messages.c if column.name not in names),
    )


def test_existing_failed_messages_get_the_failure_code_of_their_twilio_error(empty_database_url: str) -> None:
    upgrade(empty_database_url, "0015")
    tenant_id = uuid4()
    old_messages = messages_without(*FAILURE_COLUMNS)
    # (status, Twilio's error code, the failure code it gets)
    stored: list[tuple[str, int | None, str | None]] = [
        ("failed", 63016, "session-window-closed"),
        ("undelivered", 63024, "recipient-invalid"),
        ("failed", 21610, "recipient-opted-out"),
        ("failed", 99999, "unknown"),  # a code not in the table
        ("failed", None, "unknown"),  # attempts exhausted, say
        ("delivered", None, None),
        ("sent", 30008, None),  # not failed: no failure
    ]
    with tenant_rows_writable(empty_database_url) as connection:
        connection.execute(
            sa.insert(tenants),
            {"id": tenant_id, "name": "acme", "provider": "twilio", "status": "active", "created_at": T0},
        )
        connection.execute(
            sa.insert(old_messages),
            [
                {
                    "id": uuid4(),
                    "tenant_id": tenant_id,
                    "direction": "outbound",
                    "status": status,
                    "sender_number": "+14155238886",
                    "contact_number": "+14155550100",
                    "body": f"message {number}",
                    "media_urls": [],
                    "error_code": error_code,
                    "error_message": "why" if error_code else None,
                    "created_at": T0,
                    "updated_at": T0,
                    "kind": "text",
                }
                for number, (status, error_code, _) in enumerate(stored)
            ],
        )

    upgrade(empty_database_url)

    with tenant_rows_writable(empty_database_url) as connection:
        rows = connection.execute(
            sa.select(
                messages.c.body,
                messages.c.failure_code,
                messages.c.provider,
                messages.c.provider_error_message,
            )
        ).all()
    assert sorted(rows) == sorted(
        (f"message {number}", failure_code, None, None) for number, (_, _, failure_code) in enumerate(stored)
    )

    downgrade(empty_database_url, "0015")
    assert current_revision(empty_database_url) == "0015"


def test_the_backfill_agrees_with_twilios_table() -> None:
    """The migration keeps its own copy of Twilio's table (the adapter's may grow; a migration does not
    change): each code it knows maps as the adapter maps it."""
    migration = ScriptDirectory(str(MIGRATIONS_DIRECTORY)).get_revision("0016").module
    copied: dict[int, str] = migration._TWILIO_FAILURE_CODES
    assert copied == {code: TWILIO_ERRORS[code].failure.value for code in copied}


def conversation_row(
    tenant_id: UUID,
    contact: str,
    *,
    last_at: datetime,
    created_at: datetime | None = None,
    inbound_at: datetime | None = None,
    profile_name: str | None = None,
) -> dict[str, Any]:
    return {
        "id": uuid4(),
        "tenant_id": tenant_id,
        "contact_number": contact,
        "sender_number": "+14155238886",
        "last_message_id": uuid4(),
        "last_message_at": last_at,
        "last_direction": "inbound" if inbound_at == last_at else "outbound",
        "last_message_preview": "hi",
        "last_inbound_at": inbound_at,
        "profile_name": profile_name,
        "created_at": created_at or last_at,
    }


@contextmanager
def tenant_rows_writable(url: str) -> Iterator[sa.Connection]:
    """A transaction that sees and writes every tenant's rows (row-level security applies to the
    owner too), committed at the end."""
    engine = sa.create_engine(sync_database_url(url), poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.select(sa.func.set_config("app.cross_tenant", "on", True)))
            yield connection
    finally:
        engine.dispose()


# Tenant-level Twilio credentials as of 0012, before each tenant held provider accounts.
old_credentials = sa.table(
    "tenant_credentials",
    sa.column("tenant_id", sa.Uuid()),
    sa.column("account_sid", sa.String()),
    sa.column("auth_token_sealed", sa.LargeBinary()),
    sa.column("api_key_sid", sa.String()),
    sa.column("api_key_secret_sealed", sa.LargeBinary()),
    sa.column("updated_at", UtcDateTime()),
)
# senders as of 0012: without the account they send through and their number's id there
old_senders = sa.table(
    "senders",
    *(
        sa.column(column.name, column.type)
        for column in senders.c
        if column.name not in {"account_id", "provider_number_id"}
    ),
)
ACME_TWILIO = TwilioCredentials(
    account_sid="AC" + "1" * 32,
    auth_token="acme-auth-token-0123456789",
    api_key_sid="SK" + "2" * 32,
    api_key_secret="acme-api-key-secret-0123456789",
)
SANDBOX_TWILIO = TwilioCredentials(account_sid="AC" + "3" * 32, auth_token="sandbox-auth-token-0123")


def seed_tenants_as_of_0012(url: str, secret_box: SecretBox) -> dict[str, UUID]:
    """Three tenants at 0012, by name: ``acme`` on Twilio with credentials (an API key too) and two
    senders, ``sandbox`` on the sandbox with credentials and a sender, ``bare`` on the sandbox with a
    sender and no credentials."""
    tenant_ids = {name: uuid4() for name in ("acme", "sandbox", "bare")}
    providers = {"acme": "twilio", "sandbox": "sandbox", "bare": "sandbox"}

    def sealed(name: str, secret: str | None) -> bytes | None:
        return secret_box.seal(secret, credentials_owner(tenant_ids[name])) if secret is not None else None

    with tenant_rows_writable(url) as connection:
        connection.execute(
            sa.insert(tenants),
            [
                {"id": tenant_ids[name], "name": name, "provider": providers[name], "status": "active"}
                | {"created_at": T0}
                for name in tenant_ids
            ],
        )
        connection.execute(
            sa.insert(old_senders),
            [
                {
                    "id": uuid4(),
                    "tenant_id": tenant_ids[name],
                    "phone_number": number,
                    "is_default": number == "+14155238886",
                    "label": "",
                    "created_at": T0,
                }
                for name, number in (
                    ("acme", "+14155238886"),
                    ("acme", "+14155238800"),
                    ("sandbox", "+14155238886"),
                    ("bare", "+14155238886"),
                )
            ],
        )
        connection.execute(
            sa.insert(old_credentials),
            [
                {
                    "tenant_id": tenant_ids[name],
                    "account_sid": credentials.account_sid,
                    "auth_token_sealed": sealed(name, credentials.auth_token),
                    "api_key_sid": credentials.api_key_sid,
                    "api_key_secret_sealed": sealed(name, credentials.api_key_secret),
                    "updated_at": T0 + timedelta(days=3),
                }
                for name, credentials in (("acme", ACME_TWILIO), ("sandbox", SANDBOX_TWILIO))
            ],
        )
    return tenant_ids


def stored_credentials(url: str) -> dict[UUID, dict[str, Any]]:
    """Each tenant's ``tenant_credentials`` row (the table of 0012)."""
    with tenant_rows_writable(url) as connection:
        rows = connection.execute(sa.select(old_credentials)).mappings().all()
    return {row["tenant_id"]: dict(row) for row in rows}


async def test_each_tenants_twilio_credentials_become_its_twilio_account_with_the_same_sealed_secrets(
    empty_database_url: str, secret_box: SecretBox
) -> None:
    upgrade(empty_database_url, "0012")
    tenant_ids = seed_tenants_as_of_0012(empty_database_url, secret_box)
    acme, sandbox, bare = tenant_ids["acme"], tenant_ids["sandbox"], tenant_ids["bare"]
    credentials_before = stored_credentials(empty_database_url)

    upgrade(empty_database_url)

    assert "tenant_credentials" not in table_names(empty_database_url)
    with tenant_rows_writable(empty_database_url) as connection:
        accounts = connection.execute(sa.select(provider_accounts)).mappings().all()
        sender_accounts = {
            (row["tenant_id"], row["phone_number"]): (row["account_id"], row["provider_number_id"])
            for row in connection.execute(sa.select(senders)).mappings()
        }
    by_tenant = {row["tenant_id"]: row for row in accounts}
    assert len(accounts) == len(by_tenant) == 2, "one account for each tenant with credentials"
    assert bare not in by_tenant
    for tenant_id, credentials in ((acme, ACME_TWILIO), (sandbox, SANDBOX_TWILIO)):
        row, before = by_tenant[tenant_id], credentials_before[tenant_id]
        assert (row["provider"], row["label"]) == ("twilio", "Twilio")
        assert (row["external_id"], row["api_key_sid"]) == (credentials.account_sid, credentials.api_key_sid)
        assert row["secret_sealed"] == before["auth_token_sealed"]
        assert row["second_secret_sealed"] == before["api_key_secret_sealed"]
        assert row["created_at"] == row["updated_at"] == T0 + timedelta(days=3)
    acme_account = by_tenant[acme]["id"]
    assert sender_accounts == {
        (acme, "+14155238886"): (acme_account, None),
        (acme, "+14155238800"): (acme_account, None),
        # a sandbox tenant's senders keep sending through the sandbox
        (sandbox, "+14155238886"): (None, None),
        (bare, "+14155238886"): (None, None),
    }

    # The same key opens the same bytes, through the repositories.
    engine = create_database_engine(empty_database_url)
    try:
        async with SqlAlchemyUnitOfWork(engine, secret_box) as uow:
            for tenant_id, credentials in ((acme, ACME_TWILIO), (sandbox, SANDBOX_TWILIO)):
                account = await uow.provider_accounts.first_of(tenant_id, ProviderName.TWILIO)
                assert account is not None
                assert account.credentials == credentials
            assert await uow.provider_accounts.list_for_tenant(bare) == []
            acme_senders = await uow.senders.list_for_tenant(acme)
            assert {sender.account_id for sender in acme_senders} == {acme_account}
            signers = await uow.provider_accounts.twilio_signers()
    finally:
        await engine.dispose()
    # the sandbox tenant's sender is still signed for by its Twilio account (its first), as before
    assert {(signer.tenant_id, str(signer.phone_number), signer.auth_token) for signer in signers} == {
        (acme, "+14155238886", ACME_TWILIO.auth_token),
        (acme, "+14155238800", ACME_TWILIO.auth_token),
        (sandbox, "+14155238886", SANDBOX_TWILIO.auth_token),
    }

    downgrade(empty_database_url, "0012")

    assert current_revision(empty_database_url) == "0012"
    assert stored_credentials(empty_database_url) == credentials_before
    assert "provider_accounts" not in table_names(empty_database_url)


async def test_the_downgrade_puts_each_tenants_first_twilio_account_back_as_its_credentials(
    empty_database_url: str, secret_box: SecretBox
) -> None:
    upgrade(empty_database_url, "0012")
    tenant_ids = seed_tenants_as_of_0012(empty_database_url, secret_box)
    acme, bare = tenant_ids["acme"], tenant_ids["bare"]
    upgrade(empty_database_url)
    meta = MetaCredentials(
        business_account_id="102290129340398",
        access_token="EAAG-an-access-token",
        app_secret="an-apps-secret-0123456789",
        verify_token="a-verify-token",
    )
    engine = create_database_engine(empty_database_url)
    try:
        async with SqlAlchemyUnitOfWork(engine, secret_box) as uow:
            # acme: a newer Twilio account and a Meta one with a sender; bare: a Meta account only
            later = T0 + timedelta(days=30)
            acme_meta = ProviderAccount(tenant_id=acme, credentials=meta, created_at=later)
            for account in (
                ProviderAccount(tenant_id=acme, credentials=SANDBOX_TWILIO, created_at=later),
                acme_meta,
                ProviderAccount(tenant_id=bare, credentials=meta, created_at=later),
            ):
                await uow.provider_accounts.add(account)
            await uow.senders.add(
                Sender(
                    tenant_id=acme,
                    phone_number=PhoneNumber.parse("+447911123456"),
                    created_at=T0,
                    account_id=acme_meta.id,
                    provider_number_id="106540352242922",
                )
            )
            await uow.commit()
    finally:
        await engine.dispose()

    downgrade(empty_database_url, "0012")

    credentials = stored_credentials(empty_database_url)
    assert set(credentials) == {acme, tenant_ids["sandbox"]}, "a Meta account has no place in 0012"
    assert credentials[acme]["account_sid"] == ACME_TWILIO.account_sid
    assert secret_box.open(credentials[acme]["auth_token_sealed"], credentials_owner(acme)) == (
        ACME_TWILIO.auth_token
    )
    with tenant_rows_writable(empty_database_url) as connection:
        numbers = connection.execute(
            sa.select(old_senders.c.phone_number).where(old_senders.c.tenant_id == acme)
        )
        assert sorted(numbers.scalars()) == ["+14155238800", "+14155238886", "+447911123456"]


async def test_the_template_catalogue_comes_with_0020_and_goes_with_its_downgrade(
    empty_database_url: str, secret_box: SecretBox
) -> None:
    upgrade(empty_database_url)
    tenant = Tenant(name="acme", provider=ProviderName.META, created_at=T0)
    account = ProviderAccount(
        tenant_id=tenant.id,
        credentials=MetaCredentials(
            business_account_id="102290129340398",
            access_token="EAAG-an-access-token",
            app_secret="an-apps-secret-0123456789",
            verify_token="a-verify-token",
        ),
        created_at=T0,
    )
    template = CatalogueTemplate(
        tenant_id=tenant.id,
        definition=ORDER_UPDATE,
        listings=(sandbox_listing(provider_template_id="sandbox-1"), meta_listing(account)),
        created_at=T0,
        updated_at=T0,
    )
    engine = create_database_engine(empty_database_url)
    try:
        async with SqlAlchemyUnitOfWork(engine, secret_box) as uow:
            await uow.tenants.add(tenant)
            await uow.provider_accounts.add(account)
            await uow.templates.add(template)
            await uow.commit()
    finally:
        await engine.dispose()
    # One sandbox listing per template, held by the schema itself (an index whose condition the schema
    # comparison above cannot read): a second one, past the repository, is refused.
    with pytest.raises(sa.exc.IntegrityError), tenant_rows_writable(empty_database_url) as connection:
        connection.execute(
            sa.insert(template_listings).values(
                provider="sandbox",
                provider_template_id="sandbox-2",
                template_id=template.id,
                tenant_id=tenant.id,
                account_id=None,
                status="approved",
                status_changed_at=T0,
            )
        )

    downgrade(empty_database_url, "0019")

    assert {"templates", "template_listings"}.isdisjoint(table_names(empty_database_url))
    with tenant_rows_writable(empty_database_url) as connection:
        assert connection.execute(sa.select(provider_accounts.c.id)).scalars().all() == [account.id]

    upgrade(empty_database_url)

    with tenant_rows_writable(empty_database_url) as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(templates)).scalar_one() == 0


async def test_the_template_sync_claims_come_with_0021_and_go_with_its_downgrade(
    empty_database_url: str, secret_box: SecretBox
) -> None:
    upgrade(empty_database_url)
    tenant = Tenant(name="acme", provider=ProviderName.META, created_at=T0)
    engine = create_database_engine(empty_database_url)
    try:
        async with SqlAlchemyUnitOfWork(engine, secret_box) as uow:
            await uow.tenants.add(tenant)
            assert await uow.templates.claim_sync(tenant.id, T0, timedelta(minutes=15))
            await uow.commit()
    finally:
        await engine.dispose()

    downgrade(empty_database_url, "0020")

    assert "template_sync_claims" not in table_names(empty_database_url)
    with tenant_rows_writable(empty_database_url) as connection:
        assert connection.execute(sa.select(tenants.c.id)).scalars().all() == [tenant.id]

    upgrade(empty_database_url)

    with tenant_rows_writable(empty_database_url) as connection:
        claims = connection.execute(sa.select(sa.func.count()).select_from(template_sync_claims))
        assert claims.scalar_one() == 0, "every process claims afresh"


# --- the history index on PostgreSQL ---------------------------------------------------------------


@pytest.fixture
def history_database(
    postgres_server: PostgresServer,
    postgres_roles: PostgresRoles,
    fresh_database: str,
    fresh_postgres_url: str,
) -> tuple[str, UUID]:
    """A migrated database with enough rows for the planner to prefer an index, and one tenant's id;
    the URL is the application role's, so the plans are the ones row-level security leaves."""
    upgrade(fresh_postgres_url)
    grant_app_role(fresh_postgres_url, postgres_roles.app.name)
    tenant_id = seed_history(postgres_server.url_for(fresh_database))  # the superuser writes past RLS
    return postgres_server.url_for(fresh_database, postgres_roles.app), tenant_id


def seed_history(url: str) -> UUID:
    """Several tenants' messages, analyzed; returns the id of one of the tenants."""
    tenant_ids = [uuid4() for _ in range(TENANTS)]
    # Twenty customers, and one busy customer written in two forms (Mexico's, with and without
    # WhatsApp's 1) with as many messages as ten of the others.
    contacts = [PhoneNumber.parse(f"+1415555{n:04d}").e164 for n in range(20)]
    contacts_of_messages = [contacts[n % len(contacts)] for n in range(MESSAGES_PER_TENANT)]
    two_forms = (MEXICO_PLAN.e164, MEXICO_WHATSAPP.e164)
    contacts_of_messages += [two_forms[n % 2] for n in range(MESSAGES_PER_TENANT // 2)]
    engine = sa.create_engine(sync_database_url(url), poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.insert(tenants),
                [
                    {
                        "id": tenant_id,
                        "name": f"t{n}",
                        "provider": "sandbox",
                        "status": "active",
                        "created_at": T0,
                    }
                    for n, tenant_id in enumerate(tenant_ids)
                ],
            )
            connection.execute(
                sa.insert(messages),
                [
                    {
                        "id": uuid4(),
                        "tenant_id": tenant_id,
                        "direction": "outbound",
                        "status": "delivered",
                        "sender_number": "+14155238886",
                        "contact_number": contact,
                        "body": f"message {n}",
                        "media_urls": [],
                        "created_at": T0 + timedelta(seconds=n // 2),
                        "updated_at": T0,
                    }
                    for tenant_id in tenant_ids
                    for n, contact in enumerate(contacts_of_messages)
                ],
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE messages")
    finally:
        engine.dispose()
    return tenant_ids[0]


async def explain_history_page(url: str, query: HistoryQuery) -> str:
    """EXPLAIN the very statement the repository sends for ``query``."""
    engine = create_database_engine(url)
    sent: list[tuple[str, Any]] = []

    def capture(_conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        if "FROM messages" in statement:
            sent.append((statement, parameters))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with SqlAlchemyUnitOfWork(engine, SecretBox([bytes(32)])) as uow:
            # A statement first, so the page goes through SQLAlchemy (read alone, it would go in one
            # round trip of its own, past the event above): the same statement either way.
            await uow.ping()
            rows = await uow.messages.list_views(query)
        assert len(rows) == query.limit
        (statement, parameters), *_ = sent
        async with engine.connect() as connection:
            # Planned as the repository's transaction plans it: the tenant is set first (row-level
            # security), and the planner estimates the policy with it.
            await connection.execute(
                sa.select(sa.func.set_config(TENANT_SETTING, str(query.tenant_id), True))
            )
            plan = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            return "\n".join(line for (line,) in plan)
    finally:
        await engine.dispose()


@pytest.mark.postgres
def test_the_history_index_exists(history_database: tuple[str, UUID]) -> None:
    url, _ = history_database
    engine = sa.create_engine(sync_database_url(url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            definition = connection.execute(
                sa.text("SELECT indexdef FROM pg_indexes WHERE tablename = 'messages' AND indexname = :name"),
                {"name": "ix_messages_history"},
            ).scalar_one()
    finally:
        engine.dispose()
    assert definition.endswith("(tenant_id, created_at DESC, id DESC)")


@pytest.mark.postgres
async def test_a_history_page_is_read_from_the_index_in_order(history_database: tuple[str, UUID]) -> None:
    url, tenant_id = history_database
    position = HistoryPosition(created_at=T0 + timedelta(seconds=300), message_id=UUID(int=2**127))

    first_page = await explain_history_page(url, HistoryQuery(tenant_id=tenant_id, limit=51))
    next_page = await explain_history_page(url, HistoryQuery(tenant_id=tenant_id, limit=51, after=position))

    for plan in (first_page, next_page):
        assert "Index Scan using ix_messages_history" in plan, plan
        assert "Sort" not in plan, plan  # the index delivers the rows in page order
    # the keyset is an index condition, not a filter applied to rows read before the cursor
    index_condition = next(line for line in next_page.splitlines() if "Index Cond" in line)
    assert "created_at" in index_condition, next_page


@pytest.mark.postgres
async def test_a_contact_history_page_is_read_from_its_index(history_database: tuple[str, UUID]) -> None:
    url, tenant_id = history_database
    contact = PhoneNumber.parse("+14155550003")

    plan = await explain_history_page(url, HistoryQuery(tenant_id=tenant_id, limit=20, contact=contact))

    assert "Index Scan using ix_messages_contact_history" in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.postgres
@pytest.mark.parametrize("contact", [MEXICO_PLAN, MEXICO_WHATSAPP])
async def test_a_contact_written_two_ways_is_read_from_its_index_in_order_without_sorting_it_all(
    history_database: tuple[str, UUID], contact: PhoneNumber
) -> None:
    url, tenant_id = history_database
    # the busy customer's messages are the seed's last, from T0 + 500 s on
    position = HistoryPosition(created_at=T0 + timedelta(seconds=600), message_id=UUID(int=2**127))

    first_page = await explain_history_page(url, HistoryQuery(tenant_id=tenant_id, limit=20, contact=contact))
    next_page = await explain_history_page(
        url, HistoryQuery(tenant_id=tenant_id, limit=20, contact=contact, after=position)
    )

    for plan in (first_page, next_page):
        assert "Merge Append" in plan, plan  # each form's rows come in page order, merged
        assert plan.count("Index Scan using ix_messages_contact_history") == 2, plan
        assert "->  Sort" not in plan, plan


def test_the_migrations_ship_inside_the_package() -> None:
    package = Path(__file__).parents[2] / "adapters"
    assert MIGRATIONS_DIRECTORY.is_relative_to(package)
    assert (MIGRATIONS_DIRECTORY / "env.py").is_file()
    assert (MIGRATIONS_DIRECTORY / "script.py.mako").is_file()
