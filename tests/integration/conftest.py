"""Fixtures for tests against real databases.

- ``postgres_server`` / ``postgres_url``: a database of its own for this test session, created on the
  first server found (see postgres_server.py) and dropped at the end, migrated to head. As in
  production, two roles made for this run (dropped at the end): ``postgres_owner_url`` owns the
  tables and migrates; ``postgres_url`` connects as the application's role, which owns nothing, is no
  superuser and cannot bypass row-level security, so every test on it proves the tenant is bound.
  ``postgres_admin_url`` is the server's superuser, for what only it may do (TRUNCATE, pg_dump).
- ``sqlite_url``: a fresh SQLite file per test, not migrated.
- ``database_url``: each test twice, on PostgreSQL and on SQLite, migrated to head and empty.
- ``engine``, ``secret_box``, ``uow_factory``: the adapter built on ``database_url``.
- ``one_connection``: an engine of one pooled connection on ``postgres_url`` (the application's role),
  emptied: for counting round trips (tests/support/round_trips.py), or for what that role may not do.

Tests that use ``postgres_url`` are marked ``postgres`` automatically. Without a server they are
skipped with the reason, or fail under ``CI=true``, where a missing server is a broken pipeline.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.engine import create_database_engine
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox, generate_key, parse_keys
from tests.support.databases import (
    PostgresRoles,
    UowFactory,
    create_prepared_database,
    empty_all_tables,
    migrated_empty_database,
)
from tests.support.postgres_server import PostgresNotFound, PostgresServer, find_postgres_server
from tests.support.run_summary import TERMINAL_SUMMARY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TERMINAL_SUMMARY:
        terminalreporter.section("figures")
        for line in TERMINAL_SUMMARY:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        with find_postgres_server() as server:
            yield server
    except PostgresNotFound as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {error}", pytrace=False)
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def postgres_roles(postgres_server: PostgresServer) -> Iterator[PostgresRoles]:
    owner = postgres_server.create_role("owner")
    try:
        app = postgres_server.create_role("app")
        try:
            yield PostgresRoles(owner=owner, app=app)
        finally:
            postgres_server.drop_role(app)
    finally:
        postgres_server.drop_role(owner)


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer, postgres_roles: PostgresRoles) -> Iterator[str]:
    """The name of this session's database."""
    name = create_prepared_database(postgres_server, postgres_roles)
    try:
        yield name
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def postgres_url(
    postgres_server: PostgresServer, postgres_database: str, postgres_roles: PostgresRoles
) -> str:
    return postgres_server.url_for(postgres_database, postgres_roles.app)


@pytest.fixture(scope="session")
def postgres_owner_url(
    postgres_server: PostgresServer, postgres_database: str, postgres_roles: PostgresRoles
) -> str:
    return postgres_server.url_for(postgres_database, postgres_roles.owner)


@pytest.fixture(scope="session")
def postgres_admin_url(postgres_server: PostgresServer, postgres_database: str) -> str:
    return postgres_server.url_for(postgres_database)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database: the same test runs once on each engine."""
    return migrated_empty_database(request, request.param)


@pytest.fixture
def credentials_key() -> str:
    return generate_key()


@pytest.fixture
def secret_box(credentials_key: str) -> SecretBox:
    return SecretBox(parse_keys(credentials_key))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_database_engine(database_url, pool_size=3, max_overflow=2)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def uow_factory(engine: AsyncEngine, secret_box: SecretBox) -> UowFactory:
    return lambda: SqlAlchemyUnitOfWork(engine, secret_box)


@pytest.fixture
async def one_connection(postgres_url: str, postgres_admin_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine of one pooled connection of the application's role, on emptied tables."""
    empty_all_tables(postgres_admin_url)
    engine = create_database_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()
