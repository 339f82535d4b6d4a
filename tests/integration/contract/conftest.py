"""The repository contract: each test here runs on the fakes (tests/support/fakes.py), on SQLite and
on PostgreSQL, so the fakes the unit tests rely on behave as the SQL adapters do and cannot drift.

- ``storage``: what the test runs on this time: ``fake``, ``postgres`` or ``sqlite``.
- ``uow_factory``: units of work on that storage, all on the one database of the test (for the SQL
  adapters, ``engine`` and ``secret_box`` of ../conftest.py).
- ``stored``: what a test reads straight from storage, past the repositories (tests/support/stored_rows.py).

A test that holds only for the SQL adapters (secrets sealed at rest, statement counts, the connection
pool, concurrency between connections) says why with ``@pytest.mark.sql_only("reason")`` and runs on
SQLite and PostgreSQL only. A test that asks for ``engine`` or ``database_url`` reaches into SQL, so it
must carry that mark.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from tests.support.databases import UowFactory, migrated_empty_database
from tests.support.fakes import FakeDatabase, FakeUnitOfWork
from tests.support.stored_rows import FakeStoredRows, SqlStoredRows, StoredRows

FAKE = "fake"
SQL_STORAGES = [pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"]
ALL_STORAGES = [FAKE, *SQL_STORAGES]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "storage" not in metafunc.fixturenames:
        return
    sql_only = metafunc.definition.get_closest_marker("sql_only")
    if sql_only is not None and not sql_only.args:
        pytest.fail(f"{metafunc.definition.nodeid}: sql_only needs its reason", pytrace=False)
    if sql_only is None and "database_url" in metafunc.fixturenames:
        pytest.fail(
            f"{metafunc.definition.nodeid} reaches into SQL (engine or database_url): "
            'mark it @pytest.mark.sql_only("why")',
            pytrace=False,
        )
    metafunc.parametrize("storage", SQL_STORAGES if sql_only else ALL_STORAGES, indirect=True)


@pytest.fixture
def storage(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def fake_database() -> FakeDatabase:
    database = FakeDatabase()
    # The audit trail's retention floor is measured against the database's clock, the wall clock.
    database.audit.now = lambda: datetime.now(UTC)
    return database


@pytest.fixture
def database_url(request: pytest.FixtureRequest, storage: str) -> str:
    """Overrides ../conftest.py's: the SQL storage this test runs on, migrated and empty."""
    assert storage != FAKE, "pytest_generate_tests gives tests that reach into SQL no fake"
    return migrated_empty_database(request, storage)


@pytest.fixture
def uow_factory(request: pytest.FixtureRequest, storage: str) -> UowFactory:
    if storage == FAKE:
        database: FakeDatabase = request.getfixturevalue("fake_database")
        return lambda: FakeUnitOfWork(database)
    engine, secret_box = request.getfixturevalue("engine"), request.getfixturevalue("secret_box")
    return lambda: SqlAlchemyUnitOfWork(engine, secret_box)


@pytest.fixture
def stored(request: pytest.FixtureRequest, storage: str) -> StoredRows:
    if storage == FAKE:
        return FakeStoredRows(request.getfixturevalue("fake_database"))
    return SqlStoredRows(request.getfixturevalue("engine"))
