"""The migrations: reversible step by step, equal to tables.py, and the history query uses its index."""

from __future__ import annotations

from collections.abc import Iterator
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
from adapters.database.tables import messages, metadata, tenants
from adapters.database.tenant_scope import TENANT_SETTING
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox
from application.ports import HistoryPosition, HistoryQuery
from domain.phone import PhoneNumber
from tests.integration.conftest import PostgresRoles
from tests.integration.postgres_server import PostgresServer

TENANTS = 5
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
    contacts = [PhoneNumber.parse(f"+1415555{n:04d}").e164 for n in range(20)]
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
                        "contact_number": contacts[n % len(contacts)],
                        "body": f"message {n}",
                        "media_urls": [],
                        "created_at": T0 + timedelta(seconds=n // 2),
                        "updated_at": T0,
                    }
                    for tenant_id in tenant_ids
                    for n in range(MESSAGES_PER_TENANT)
                ],
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE messages")
    finally:
        engine.dispose()
    return tenant_ids[0]


async def explain_list_page(url: str, query: HistoryQuery) -> str:
    """EXPLAIN the very statement the repository sends for ``query``."""
    engine = create_database_engine(url)
    sent: list[tuple[str, Any]] = []

    def capture(_conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        if "FROM messages" in statement:
            sent.append((statement, parameters))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with SqlAlchemyUnitOfWork(engine, SecretBox([bytes(32)])) as uow:
            rows = await uow.messages.list_page(query)
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

    first_page = await explain_list_page(url, HistoryQuery(tenant_id=tenant_id, limit=51))
    next_page = await explain_list_page(url, HistoryQuery(tenant_id=tenant_id, limit=51, after=position))

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

    plan = await explain_list_page(url, HistoryQuery(tenant_id=tenant_id, limit=20, contact=contact))

    assert "Index Scan using ix_messages_contact_history" in plan, plan
    assert "Sort" not in plan, plan


def test_the_migrations_ship_inside_the_package() -> None:
    package = Path(__file__).parents[2] / "adapters"
    assert MIGRATIONS_DIRECTORY.is_relative_to(package)
    assert (MIGRATIONS_DIRECTORY / "env.py").is_file()
    assert (MIGRATIONS_DIRECTORY / "script.py.mako").is_file()
