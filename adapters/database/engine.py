"""Building the async engine from a database URL, for PostgreSQL (psycopg 3) and SQLite (aiosqlite)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from adapters.database.pipeline import forget_prepared

_IDLE = psycopg.pq.TransactionStatus.IDLE
# Whether a pooled PostgreSQL connection prepares the one-round-trip statements (its ``info``).
PREPARES_STATEMENTS = "wa_gateway_prepares_statements"
_POSTGRES_ASYNC_DRIVER = "postgresql+psycopg"
_SQLITE_ASYNC_DRIVER = "sqlite+aiosqlite"
_SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",  # off by default in SQLite, and the schema relies on them
    "PRAGMA journal_mode=WAL",  # readers do not block the writer
    "PRAGMA busy_timeout=5000",  # wait for a concurrent writer instead of failing at once
)


def normalize_database_url(url: str) -> str:
    """Give each supported URL form the async driver this adapter uses.

    ``postgres://`` (Heroku style) and ``postgresql://`` become ``postgresql+psycopg://``;
    ``sqlite:///`` becomes ``sqlite+aiosqlite:///``. A URL that names a driver already is kept.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise ValueError("a database URL looks like postgresql://user@host/db or sqlite:///path/to/file.db")
    if scheme in ("postgres", "postgresql"):
        return f"{_POSTGRES_ASYNC_DRIVER}://{rest}"
    if scheme == "sqlite":
        return f"{_SQLITE_ASYNC_DRIVER}://{rest}"
    return url


def sync_database_url(url: str) -> str:
    """The same database through a blocking driver, for migrations (psycopg 3 serves both modes)."""
    parsed = make_url(normalize_database_url(url))
    if parsed.drivername == _SQLITE_ASYNC_DRIVER:
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


def create_database_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    echo: bool = False,
    connect_timeout_seconds: int = 5,
    pool_timeout_seconds: float = 30.0,
    prepared_statements: bool = True,
) -> AsyncEngine:
    parsed = make_url(normalize_database_url(url))
    # No pool_pre_ping: it costs a round trip (~0.3 ms of CPU) on every checkout. A connection that a
    # server restart broke fails its first statement instead, as StorageUnavailable (503), and that
    # disconnect makes SQLAlchemy's pool discard every connection opened before it, so the next
    # checkouts connect afresh.
    # msgspec decodes the JSON columns (media URLs, template variables) several times faster than the
    # json module the drivers use by default; a history page decodes two per row.
    # hide_parameters: a failed statement's error (and so a traceback in the log) names no values: they
    # are message bodies, password hashes, sealed credentials.
    options: dict[str, Any] = {
        "echo": echo,
        "json_deserializer": msgspec.json.decode,
        "hide_parameters": True,
    }
    if parsed.get_backend_name() == "sqlite":
        # An in-memory database gets SQLAlchemy's single shared connection (a second connection would
        # see another, empty database), which takes no pool sizes.
        if not _is_memory_database(parsed):
            create_sqlite_directory(parsed)
            options.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout_seconds)
    else:
        options.update(
            # Every connection the pool may open is kept once open (no overflow to close at check-in):
            # a burst that outgrew the pool would otherwise open its connections again on the next
            # burst, each a new server process (8,751 sessions for 20,000 messages end to end).
            pool_size=pool_size + max_overflow,
            max_overflow=0,
            # A checkout waits this long for a free connection, then fails (sqlalchemy's TimeoutError,
            # StorageUnavailable above the adapter): an overloaded process answers 503 at once instead
            # of queueing requests for seconds.
            pool_timeout=pool_timeout_seconds,
            # connect_timeout: without it an unroutable host hangs a request for minutes instead of
            # failing fast. prepare_threshold None: psycopg prepares nothing (its default prepares a
            # statement on its fifth execution), for poolers that cannot keep prepared statements.
            connect_args={"connect_timeout": connect_timeout_seconds}
            | ({} if prepared_statements else {"prepare_threshold": None}),
        )
    engine = create_async_engine(parsed, **options)
    if parsed.get_backend_name() == "sqlite":
        sa.event.listen(engine.sync_engine, "connect", configure_sqlite_connection)
    else:
        sa.event.listen(engine.sync_engine, "reset", leave_autocommit)
        sa.event.listen(engine.sync_engine, "connect", functools.partial(note_preparing, prepared_statements))
        sa.event.listen(engine.sync_engine, "rollback", forget_prepared_before_rollback)
    return engine


def forget_prepared_before_rollback(connection: sa.Connection) -> None:
    if not connection.invalidated:  # an invalidated connection is closed, its statements with it
        forget_prepared_if_in_transaction(connection.connection.driver_connection)


def forget_prepared_if_in_transaction(driver: Any) -> None:
    """Before a ROLLBACK through psycopg: psycopg follows it with DEALLOCATE ALL when it has prepared
    statements of its own, and the one-round-trip statements' preparations go with them (pipeline.py
    prepares them again on their next use)."""
    if isinstance(driver, psycopg.AsyncConnection) and driver.info.transaction_status != _IDLE:
        forget_prepared(driver)


def note_preparing(prepares: bool, _dbapi_connection: object, record: ConnectionPoolEntry) -> None:
    """Tell the tenant scope, through the pooled connection's ``info``, whether to prepare its
    statements (``prepared_statements`` off: a pooler in transaction mode cannot keep them)."""
    record.info[PREPARES_STATEMENTS] = prepares


def leave_autocommit(dbapi_connection: Any, record: ConnectionPoolEntry, _state: object) -> None:
    """Before a PostgreSQL connection goes back to the pool: psycopg's autocommit off again.

    The tenant scope opens a transaction with its own BEGIN (sent with the tenant setting, in one round
    trip), which needs autocommit on while it runs (tenant_scope.py). Whatever the unit of work did
    with the connection, the next checkout gets it as psycopg and SQLAlchemy expect it.
    """
    forget_prepared_if_in_transaction(record.driver_connection)
    if not dbapi_connection.autocommit:
        return
    if dbapi_connection.info.transaction_status != _IDLE:
        dbapi_connection.rollback()
    dbapi_connection.autocommit = False


def configure_sqlite_connection(dbapi_connection: Any, _connection_record: object) -> None:
    """Run on every new SQLite connection (async or blocking), before it is handed out."""
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _is_memory_database(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def create_sqlite_directory(url: URL) -> None:
    """SQLite creates a missing database file, but not the directory it goes in."""
    database = url.database or ""
    # A "file:" URI filename is SQLite's to interpret, not ours.
    if _is_memory_database(url) or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def sync_connection(url: str) -> Iterator[Connection]:
    """One transaction on a blocking connection (migrations, role grants), committed on leaving."""
    engine = sa.create_engine(sync_database_url(url), poolclass=sa.NullPool)
    if engine.dialect.name == "sqlite":
        create_sqlite_directory(engine.url)
        sa.event.listen(engine, "connect", configure_sqlite_connection)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()
