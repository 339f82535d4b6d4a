"""Row-level security, checked from the database's side: the application's role, the tables, the rows.

Every other PostgreSQL test already runs as the application's role (see conftest.py), so each
repository and end-to-end test proves its tenant is bound. These tests prove the floor beneath them:
a query that names no tenant sees nothing, and a write for another tenant is refused.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.database.engine import create_database_engine, sync_database_url
from adapters.database.repository import SqlAlchemyRepository, Transaction
from adapters.database.roles import RoleCheck, RoleNotUsable, grant_app_role, inspect_connected_role
from adapters.database.tables import messages
from adapters.database.tenant_scope import CROSS_TENANT_SETTING, TENANT_SETTING, TenantScope
from adapters.security.secret_box import SecretBox
from application.ports.media import KeptMedia, MediaDownload
from application.ports.messages import StatusChange
from domain.administration.audit import OPERATOR_ACTOR, AuditAction, AuditEntry
from domain.administration.tenancy import Tenant, TwilioCredentials
from domain.consent.model import ConsentChange, ConsentPolicy, ConsentSource, ConsentState
from domain.messaging.content import Media, MediaKind
from domain.messaging.messages import Message, MessageContent, MessageStatus
from domain.messaging.retention import RetentionMode, RetentionPolicy
from domain.phone import PhoneNumber
from domain.tenant_webhooks.model import DeliveryState
from entrypoints import cli
from entrypoints.container import create_container, shutdown, warn_unless_row_level_security_binds
from entrypoints.settings import load_settings
from tests.support.databases import UowFactory, empty_all_tables
from tests.support.postgres_server import PostgresServer, Role
from tests.support.provider_accounts import set_twilio_credentials
from tests.support.repositories import T0
from tests.support.repositories.access import add_user, new_key, open_session
from tests.support.repositories.campaigns import a_campaign, add_campaign, add_people, person
from tests.support.repositories.dispatch import accept_holding, key_record, tenant_with_sender
from tests.support.repositories.templates import (
    ORDER_UPDATE,
    add_meta_account,
    add_template,
    meta_listing,
    sandbox_listing,
)
from tests.support.repositories.tenant_webhooks import add_endpoint, claim, record, settle

pytestmark = pytest.mark.postgres

# A table holds tenant data if it has a tenant_id column, or refers to such a table and has none.
_TENANT_TABLES = sa.text(
    "SELECT table_name FROM information_schema.columns "
    "WHERE table_schema = 'public' AND column_name = 'tenant_id'"
)
_CHILD_TABLES = sa.text(
    "SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent, a.attname AS column "
    "FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
    "WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace"
)


def tenant_data_tables(admin_url: str) -> dict[str, tuple[str, str] | None]:
    """Each table with tenant data: None if it has a tenant_id, else (its parent, the referring column)."""
    engine = sa.create_engine(sync_database_url(admin_url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            tables: dict[str, tuple[str, str] | None] = dict.fromkeys(
                connection.execute(_TENANT_TABLES).scalars()
            )
            for child, parent, column in connection.execute(_CHILD_TABLES):
                if parent in tables and child not in tables:
                    tables[child] = (parent, column)
    finally:
        engine.dispose()
    return tables


@pytest.fixture
async def engine(postgres_url: str, postgres_admin_url: str) -> AsyncIterator[AsyncEngine]:
    """The application's engine, as the application's role, on an emptied database. One connection:
    every transaction here reuses it, as a pooled connection is reused by the next request."""
    empty_all_tables(postgres_admin_url)
    engine = create_database_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def admin(postgres_admin_url: str) -> AsyncIterator[AsyncEngine]:
    """The superuser, who bypasses row-level security: what is really stored."""
    engine = create_database_engine(postgres_admin_url, pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


async def seed_tenant(uow_factory: UowFactory) -> Tenant:
    """One row or more in every table with tenant data, through the repositories."""
    tenant = await tenant_with_sender(uow_factory)
    async with uow_factory() as uow:  # the message, its job, its conversation and its key
        message = await accept_holding(uow, key_record(tenant, "order-1"))
        await uow.commit()
    provider_sid = "SM" + message.id.hex
    async with uow_factory() as uow:
        credentials = TwilioCredentials(account_sid="AC" + "1" * 32, auth_token="auth-token-0123456789abcdef")
        await set_twilio_credentials(uow, tenant.id, credentials)
        await uow.messages.attach_provider_sid(tenant.id, message.id, provider_sid)
        await uow.conversations.record_message(message)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.messages.advance_status(StatusChange(provider_sid, MessageStatus.SENT), T0)
        await uow.commit()
    await open_session(uow_factory, await add_user(uow_factory, tenant))
    async with uow_factory() as uow:
        await uow.api_keys.add(new_key(tenant)[0])
        await uow.commit()
    await add_endpoint(uow_factory, tenant)
    await record(uow_factory, tenant)
    await receive_media(uow_factory, tenant)
    account = await add_meta_account(uow_factory, tenant)
    await add_template(uow_factory, tenant, ORDER_UPDATE, sandbox_listing(), meta_listing(account))
    campaign = await add_campaign(uow_factory, a_campaign(tenant))
    await add_people(uow_factory, campaign, person(1))
    async with uow_factory() as uow:
        assert await uow.templates.claim_sync(tenant.id, T0, timedelta(minutes=15))
        await uow.consent.save_policy(
            ConsentPolicy(tenant_id=tenant.id, opt_out_reply="Done.", updated_at=T0)
        )
        await uow.consent.record(
            ConsentChange(
                tenant_id=tenant.id,
                identity="+14155550100",
                number="+14155550100",
                state=ConsentState.OPTED_OUT,
                source=ConsentSource.API,
                actor="operator",
                at=T0,
            )
        )
        await uow.retention.save_policy(
            RetentionPolicy(tenant_id=tenant.id, days=90, mode=RetentionMode.REDACT, updated_at=T0)
        )
        await uow.audit.record(
            AuditEntry(
                action=AuditAction.TENANT_CREATED, occurred_at=T0, actor=OPERATOR_ACTOR, tenant_id=tenant.id
            )
        )
        await uow.commit()
    return tenant


async def receive_media(uow_factory: UowFactory, tenant: Tenant) -> None:
    """A customer's photo and voice note: the photo kept, the voice note's download queued."""
    photo = Media(kind=MediaKind.IMAGE, provider_media_id="1029384756", content_type="image/jpeg")
    voice = Media(kind=MediaKind.AUDIO, provider_media_id="1029384757", content_type="audio/ogg")
    message = Message.new_inbound(
        tenant_id=tenant.id,
        sender=PhoneNumber.parse("+14155238886"),
        contact=PhoneNumber.parse("+14155550100"),
        content=MessageContent(media=(photo, voice)),
        provider_sid=f"wamid.{secrets.token_hex(16)}",
        now=T0,
    )
    kept_photo, queued_voice = MediaDownload.for_message(message, T0)
    async with uow_factory() as uow:
        await uow.messages.add(message)
        await uow.media_downloads.enqueue(queued_voice)
        await uow.media.add(
            KeptMedia(
                id=kept_photo.id,
                tenant_id=tenant.id,
                message_id=message.id,
                content_type="image/jpeg",
                size=1024,
                sha256="ab" * 32,
                created_at=T0,
            )
        )
        await uow.commit()


@pytest.fixture
async def two_tenants(uow_factory: UowFactory) -> tuple[Tenant, Tenant]:
    first, second = await seed_tenant(uow_factory), await seed_tenant(uow_factory)
    for delivery in await claim(uow_factory, "worker", T0 + timedelta(minutes=1)):
        assert await settle(uow_factory, delivery, "worker", status=200, state=DeliveryState.DELIVERED)
    return first, second


async def count(connection: AsyncConnection, table: str, tenant_id: UUID | None = None) -> int:
    statement = f"SELECT count(*) FROM {table}"  # noqa: S608 (table names from the catalog)
    if tenant_id is not None:
        statement += " WHERE tenant_id = :tenant"
    return int((await connection.execute(sa.text(statement), {"tenant": tenant_id})).scalar_one())


async def stored_count(
    admin: AsyncEngine, table: str, parent: tuple[str, str] | None, tenant_id: UUID
) -> int:
    """How many rows of ``table`` belong to the tenant, as the superuser counts them."""
    async with admin.connect() as connection:
        if parent is None:
            return await count(connection, table, tenant_id)
        parent_table, column = parent
        statement = (
            f"SELECT count(*) FROM {table} JOIN {parent_table} ON {parent_table}.id = {table}.{column} "  # noqa: S608
            f"WHERE {parent_table}.tenant_id = :tenant"
        )
        return int((await connection.execute(sa.text(statement), {"tenant": tenant_id})).scalar_one())


async def set_tenant(connection: AsyncConnection, tenant_id: UUID | str) -> None:
    await connection.execute(sa.select(sa.func.set_config(TENANT_SETTING, str(tenant_id), True)))


async def test_the_application_role_is_no_superuser_cannot_bypass_rls_and_owns_no_table(
    engine: AsyncEngine,
) -> None:
    check = await inspect_connected_role(engine)

    assert check is not None
    assert (check.superuser, check.bypasses_rls, check.owned_tables) == (False, False, 0)
    assert check.rls_in_force
    async with engine.connect() as connection:
        owners = await connection.execute(
            sa.text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
        )
        assert check.name not in set(owners.scalars())


def test_every_table_with_tenant_data_has_row_level_security_forced(postgres_admin_url: str) -> None:
    tables = tenant_data_tables(postgres_admin_url)
    # the derivation finds both kinds: tables with tenant_id, and children that belong through a parent
    assert {"messages", "provider_accounts", "auth_sessions"} <= tables.keys()
    assert tables["refresh_tokens"] == ("auth_sessions", "session_id")
    assert tables["webhook_delivery_attempts"] == ("webhook_deliveries", "delivery_id")

    engine = sa.create_engine(sync_database_url(postgres_admin_url), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            flags = {
                name: (enabled, forced)
                for name, enabled, forced in connection.execute(
                    sa.text(
                        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                        "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
                    )
                )
            }
    finally:
        engine.dispose()
    unprotected = sorted(table for table in tables if flags.get(table) != (True, True))
    assert unprotected == [], "tables with tenant data but without forced row-level security"


async def test_without_a_tenant_the_application_role_sees_no_row(
    engine: AsyncEngine, admin: AsyncEngine, two_tenants: tuple[Tenant, Tenant], postgres_admin_url: str
) -> None:
    for table, parent in tenant_data_tables(postgres_admin_url).items():
        stored = [await stored_count(admin, table, parent, tenant.id) for tenant in two_tenants]
        assert all(stored), f"{table}: the seed must give every tenant rows here ({stored})"
        async with engine.connect() as connection:
            assert await count(connection, table) == 0, table
            await connection.execute(sa.select(sa.func.set_config(TENANT_SETTING, "", True)))
            assert await count(connection, table) == 0, f"{table}, with an empty tenant setting"


async def test_with_a_tenant_set_only_its_rows_are_visible(
    engine: AsyncEngine, admin: AsyncEngine, two_tenants: tuple[Tenant, Tenant], postgres_admin_url: str
) -> None:
    for table, parent in tenant_data_tables(postgres_admin_url).items():
        for tenant in two_tenants:
            async with engine.connect() as connection:
                await set_tenant(connection, tenant.id)
                visible = await count(connection, table)
            assert visible == await stored_count(admin, table, parent, tenant.id), (table, tenant.name)


async def test_a_row_of_another_tenant_cannot_be_written(
    engine: AsyncEngine, two_tenants: tuple[Tenant, Tenant]
) -> None:
    mine, theirs = two_tenants
    async with engine.connect() as connection:
        await set_tenant(connection, mine.id)
        # their rows are not there to update or delete
        updated = await connection.execute(
            sa.text("UPDATE senders SET label = 'mine now' WHERE tenant_id = :theirs"), {"theirs": theirs.id}
        )
        deleted = await connection.execute(
            sa.text("DELETE FROM api_keys WHERE tenant_id = :theirs"), {"theirs": theirs.id}
        )
        assert (updated.rowcount, deleted.rowcount) == (0, 0)

    async with engine.connect() as connection:
        await set_tenant(connection, mine.id)
        with pytest.raises(sa.exc.ProgrammingError) as moved:
            await connection.execute(
                sa.text("UPDATE senders SET tenant_id = :theirs WHERE tenant_id = :mine"),
                {"theirs": theirs.id, "mine": mine.id},
            )
    assert isinstance(moved.value.orig, psycopg.errors.InsufficientPrivilege)
    assert "row-level security" in str(moved.value.orig)

    async with engine.connect() as connection:
        await set_tenant(connection, mine.id)
        with pytest.raises(sa.exc.ProgrammingError) as inserted:
            await connection.execute(
                sa.text(
                    "INSERT INTO senders (id, tenant_id, phone_number, is_default, label, created_at) "
                    "VALUES (gen_random_uuid(), :theirs, '+14155550100', false, 'planted', now())"
                ),
                {"theirs": theirs.id},
            )
    assert isinstance(inserted.value.orig, psycopg.errors.InsufficientPrivilege)


async def test_a_tenant_cannot_read_another_tenants_templates(
    engine: AsyncEngine, uow_factory: UowFactory, two_tenants: tuple[Tenant, Tenant]
) -> None:
    mine, theirs = two_tenants
    async with uow_factory() as uow:
        [their_template] = await uow.templates.list_all(theirs.id)
    their_ids = [listing.provider_template_id for listing in their_template.listings]

    async with engine.connect() as connection:  # a query with no tenant filter, in my tenant
        await set_tenant(connection, mine.id)
        visible = await connection.execute(sa.text("SELECT tenant_id FROM templates"))
        assert set(visible.scalars()) == {mine.id}
        listed = await connection.execute(
            sa.text("SELECT count(*) FROM template_listings WHERE provider_template_id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": their_ids},
        )
        assert listed.scalar_one() == 0
        with pytest.raises(sa.exc.ProgrammingError) as planted:
            await connection.execute(
                sa.text(
                    "INSERT INTO template_listings (provider, provider_template_id, template_id, "
                    "tenant_id, status, status_changed_at) "
                    "VALUES ('sandbox', 'planted', :template, :theirs, 'approved', now())"
                ),
                {"template": their_template.id, "theirs": theirs.id},
            )
    assert isinstance(planted.value.orig, psycopg.errors.InsufficientPrivilege)

    # A provider's webhook, which names no tenant, still finds it: that lookup crosses tenants on purpose.
    async with uow_factory() as uow:
        assert await uow.templates.get(mine.id, their_template.id) is None
        found = await uow.templates.with_provider_id(
            their_template.listings[0].provider, their_template.listings[0].provider_template_id
        )
    assert found == their_template


class _ForgetfulMessages(SqlAlchemyRepository):
    """A repository method with a bug: it binds the tenant but forgets to filter by it."""

    async def count_all(self, tenant_id: UUID | None) -> int:
        if tenant_id is not None:
            await self._scope.bind(tenant_id)
        result = await self._execute(sa.select(sa.func.count()).select_from(messages))
        return int(result.scalar_one())


async def test_a_repository_query_that_forgets_its_tenant_filter_sees_only_the_bound_tenant(
    engine: AsyncEngine, admin: AsyncEngine, secret_box: SecretBox, two_tenants: tuple[Tenant, Tenant]
) -> None:
    mine, _ = two_tenants
    async with admin.connect() as connection:
        assert await count(connection, "messages") == 4  # an outbound and an inbound one each

    async with engine.connect() as connection:
        forgetful = _ForgetfulMessages(Transaction(connection, TenantScope(connection), secret_box))
        assert await forgetful.count_all(None) == 0
    async with engine.connect() as connection:
        forgetful = _ForgetfulMessages(Transaction(connection, TenantScope(connection), secret_box))
        assert await forgetful.count_all(mine.id) == 2


async def test_tenant_settings_end_with_their_transaction_on_a_pooled_connection(
    engine: AsyncEngine, uow_factory: UowFactory, two_tenants: tuple[Tenant, Tenant]
) -> None:
    mine, _ = two_tenants
    async with uow_factory() as uow:  # binds the tenant, then reaches across tenants
        assert await uow.senders.list_for_tenant(mine.id)
        assert await uow.users.get_by_username("nobody") is None
        await uow.commit()
    # the engine has one connection: the next transaction runs on the very same one
    async with engine.connect() as connection:
        settings = await connection.execute(
            sa.select(
                sa.func.current_setting(TENANT_SETTING, True),
                sa.func.current_setting(CROSS_TENANT_SETTING, True),
            )
        )
        assert tuple(settings.one()) in {(None, None), ("", "")}
        assert await count(connection, "senders") == 0


# ------------------------------------------------------------------------------ the roles, set up and checked


def test_a_superuser_is_refused_as_the_application_role(
    postgres_owner_url: str, postgres_admin_url: str
) -> None:
    superuser = make_url(postgres_admin_url).username
    assert superuser is not None
    with pytest.raises(RoleNotUsable, match="superuser"):
        grant_app_role(postgres_owner_url, superuser)


def test_db_upgrade_creates_and_grants_the_application_role_of_database_url(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    database = postgres_server.create_database()
    app = Role(name=f"wa_gateway_app_{secrets.token_hex(4)}", password=secrets.token_urlsafe(18))
    try:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("MIGRATION_DATABASE_URL", postgres_server.url_for(database))
        monkeypatch.setenv("DATABASE_URL", postgres_server.url_for(database, app))
        monkeypatch.setenv("DATA_DIR", str(tmp_path))

        assert cli.main(["db", "upgrade", "--grant-app-role"]) == 0
        assert cli.main(["db", "grant-app-role"]) == 0  # again: the grants hold, nothing breaks

        check = asyncio.run(_inspect(postgres_server.url_for(database, app)))
        assert check is not None
        assert (check.superuser, check.bypasses_rls, check.owned_tables) == (False, False, 0)
    finally:
        postgres_server.drop_database(database)
        postgres_server.drop_role(app)


async def _inspect(url: str) -> RoleCheck | None:
    engine = create_database_engine(url)
    try:
        async with engine.connect() as connection:  # the role may read the tables it was granted
            await connection.execute(sa.text("SELECT count(*) FROM messages"))
        return await inspect_connected_role(engine)
    finally:
        await engine.dispose()


async def test_starting_as_a_role_that_escapes_rls_logs_a_warning(
    postgres_url: str, postgres_admin_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    verdicts: dict[str, bool | None] = {}
    for name, url in (("app", postgres_url), ("superuser", postgres_admin_url)):
        settings = load_settings(environ={"DATA_DIR": str(tmp_path), "DATABASE_URL": url}, env_file=None)
        container = create_container(settings)
        try:
            verdicts[name] = await warn_unless_row_level_security_binds(container)
        finally:
            await shutdown(container)

    assert verdicts == {"app": True, "superuser": False}
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "is a superuser" in warnings[0]
    assert "NOT in force" in warnings[0]


async def test_the_policies_read_their_settings_once_per_statement_not_per_row(
    engine: AsyncEngine, two_tenants: tuple[Tenant, Tenant], postgres_admin_url: str
) -> None:
    # current_setting() in the row condition ran for every row a scan fetched (several times the
    # owner's CPU on long scans); as scalar sub-selects they are InitPlans, computed once.
    tenant, _ = two_tenants
    for table, parent in tenant_data_tables(postgres_admin_url).items():
        if parent is not None:
            continue  # a child table's policy is its parent's visibility
        statement = f"EXPLAIN SELECT * FROM {table}"  # noqa: S608 (table names from the catalog)
        async with engine.connect() as connection:
            await set_tenant(connection, tenant.id)
            plan = "\n".join(line for (line,) in await connection.exec_driver_sql(statement))
        assert "InitPlan" in plan, (table, plan)
        filters = [line for line in plan.splitlines() if "Filter:" in line]
        assert filters, (table, plan)
        assert all("current_setting" not in line for line in filters), (table, plan)
