"""The test databases the integration fixtures prepare (tests/integration/conftest.py and
contract/conftest.py), and what tests do with them besides: a prepared PostgreSQL database of one's
own, emptying the shared one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from adapters.database.migrate import upgrade
from adapters.database.roles import grant_app_role
from adapters.database.tables import metadata
from application.ports.unit_of_work import UnitOfWork
from tests.support.postgres_server import PostgresServer, Role

# Typed as the port, so mypy checks that the adapter implements it and the tests use only the contract.
UowFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True, slots=True)
class PostgresRoles:
    owner: Role  # owns the database and its tables; runs the migrations
    app: Role  # what the gateway connects as: granted the tables, confined by row-level security


def create_prepared_database(server: PostgresServer, roles: PostgresRoles) -> str:
    """A new database owned by ``roles.owner``, migrated by it to head, with ``roles.app`` granted."""
    name = server.create_database(owner=roles.owner)
    owner_url = server.url_for(name, roles.owner)
    upgrade(owner_url)
    grant_app_role(owner_url, roles.app.name)
    return name


def empty_all_tables(url: str) -> None:
    """Rows left by an earlier test in the shared session database must not leak into this one."""
    tables = sql.SQL(", ").join(sql.Identifier(table.name) for table in metadata.sorted_tables)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(tables))


def migrated_empty_database(request: pytest.FixtureRequest, dialect: str) -> str:
    """The URL of a migrated, empty database: a fresh SQLite file, or this session's PostgreSQL
    database emptied ("postgres")."""
    if dialect == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
        upgrade(url)
        return url
    url = request.getfixturevalue("postgres_url")
    empty_all_tables(request.getfixturevalue("postgres_admin_url"))
    return url
