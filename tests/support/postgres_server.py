"""Finding a PostgreSQL server for the integration tests, and making throwaway databases on it.

The order: ``TEST_DATABASE_URL``; a server on 127.0.0.1:5432 (user postgres, trust auth); a
testcontainers PostgresContainer when a Docker engine answers.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from sqlalchemy.engine import make_url

from adapters.database.engine import normalize_database_url

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
CONTAINER_IMAGE = "postgres:17-alpine"
_PROBE_TIMEOUT_SECONDS = 2


class PostgresNotFound(Exception):
    """No server could be reached; the message lists what was tried."""


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    password: str  # unused where the server trusts local connections, needed where it does not


@dataclass(frozen=True, slots=True)
class PostgresServer:
    """A server we may create databases on, reached through ``admin_url`` (a libpq URI)."""

    admin_url: str
    origin: str

    def url_for(self, database: str, role: Role | None = None) -> str:
        """A URL (psycopg async driver) for ``database`` on this server, as ``role`` or as the admin."""
        url = make_url(self.admin_url).set(database=database)
        if role is not None:
            url = url.set(username=role.name, password=role.password)
        return normalize_database_url(url.render_as_string(hide_password=False))

    def create_database(self, owner: Role | None = None) -> str:
        name = f"wa_gateway_test_{secrets.token_hex(6)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if owner is not None:
            statement += sql.SQL(" OWNER {}").format(sql.Identifier(owner.name))
        with self._admin_connection() as connection:
            connection.execute(statement)
        return name

    def create_role(self, purpose: str) -> Role:
        """A login role that is no superuser and cannot bypass row-level security."""
        role = Role(name=f"wa_gateway_{purpose}_{secrets.token_hex(4)}", password=secrets.token_urlsafe(18))
        with self._admin_connection() as connection:
            connection.execute(
                sql.SQL(
                    "CREATE ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
                ).format(sql.Identifier(role.name), sql.Literal(role.password))
            )
        return role

    def drop_role(self, role: Role) -> None:
        """Drop ``role`` once the databases it owns or was granted rights in are gone."""
        with self._admin_connection() as connection:
            connection.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role.name)))

    def drop_database(self, name: str) -> None:
        # FORCE (PostgreSQL 13+) ends connections a failed test may have left open.
        with self._admin_connection() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def terminate_connections(self, database: str) -> int:
        """Kill every session on ``database``, as a server restart would; returns how many."""
        with self._admin_connection() as connection:
            killed = connection.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()
        return int(killed[0]) if killed else 0

    @contextmanager
    def _admin_connection(self) -> Iterator[psycopg.Connection[TupleRow]]:
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as connection:
            yield connection


@contextmanager
def find_postgres_server() -> Iterator[PostgresServer]:
    """Yield the first server found; a container is stopped again on leaving."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        # An explicit choice that does not work is an error, not a reason to look elsewhere.
        admin_url = _libpq_url(configured)
        try:
            _probe(admin_url)
        except psycopg.OperationalError as error:
            shown = make_url(admin_url).render_as_string(hide_password=True)
            raise PostgresNotFound(
                f"TEST_DATABASE_URL ({shown}) did not answer: {_first_line(error)}"
            ) from error
        yield PostgresServer(admin_url=admin_url, origin="TEST_DATABASE_URL")
        return
    try:
        _probe(LOCAL_SERVER)
    except psycopg.OperationalError as error:
        local_failure = _first_line(error)
    else:
        yield PostgresServer(admin_url=LOCAL_SERVER, origin="127.0.0.1:5432")
        return
    with _container_server(local_failure) as server:
        yield server


@contextmanager
def _container_server(local_failure: str) -> Iterator[PostgresServer]:
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers before 4.14 kept it at the top level
        from testcontainers.postgres import PostgresContainer
    try:
        # Both steps talk to Docker: the constructor connects to the engine, start() pulls and runs.
        container = PostgresContainer(CONTAINER_IMAGE, driver=None)
        container.start()
    except Exception as error:
        raise PostgresNotFound(
            "no PostgreSQL server for the integration tests: TEST_DATABASE_URL is not set; "
            f"127.0.0.1:5432 did not answer ({local_failure}); "
            f"and no Docker engine could start {CONTAINER_IMAGE} ({_first_line(error)})"
        ) from error
    try:
        admin_url = make_url(container.get_connection_url()).set(database="postgres")
        yield PostgresServer(
            admin_url=admin_url.render_as_string(hide_password=False), origin="testcontainers"
        )
    finally:
        container.stop()


def _probe(admin_url: str) -> None:
    with psycopg.connect(admin_url, connect_timeout=_PROBE_TIMEOUT_SECONDS) as connection:
        connection.execute("SELECT 1")


def _libpq_url(url: str) -> str:
    """libpq understands postgresql:// URIs but not SQLAlchemy's driver suffix."""
    parsed = make_url(normalize_database_url(url))
    if parsed.get_backend_name() != "postgresql":
        raise PostgresNotFound(f"TEST_DATABASE_URL must be a PostgreSQL URL, not {parsed.drivername}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _first_line(error: BaseException) -> str:
    return str(error).strip().partition("\n")[0] or type(error).__name__
