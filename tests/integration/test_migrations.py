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
from adapters.database.tables import conversations, messages, metadata, tenants
from adapters.database.tenant_scope import TENANT_SETTING
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox
from application.ports.messages import HistoryPosition, HistoryQuery
from domain.phone import PhoneNumber
from tests.support.databases import PostgresRoles
from tests.support.postgres_server import PostgresServer

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
    upgrade(empty_database_url, "0012")
    tenant_id = uuid4()
    # messages as of 0012: without kind and content
    old_messages = sa.table(
        "messages",
        *(
            sa.column(column.name, column.type)
            for column in messages.c
            if column.name not in ("kind", "content")
        ),
    )
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
    downgrade(empty_database_url, "0012")
    assert current_revision(empty_database_url) == "0012"


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
