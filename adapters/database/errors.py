"""Turning driver exceptions into application errors, so nothing above the adapter sees SQLAlchemy.

A transaction the database gave up for a concurrent one is TransactionConflict, never "unavailable":
on PostgreSQL a serialization failure (SQLSTATE 40001) or a detected deadlock (40P01); on SQLite a
write whose snapshot a concurrent writer made stale (SQLITE_BUSY_SNAPSHOT). SQLite's plain "database
is locked" (SQLITE_BUSY) is not a conflict: it comes after the connection waited the whole busy
timeout (engine.py) for one writer to finish, so the database is busy, and it stays StorageUnavailable
(503 with Retry-After), which tells the client to come back later rather than at once.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import exc as sa_exc

from application.errors import AlreadyExists, NotFound, StorageUnavailable, TransactionConflict

logger = logging.getLogger(__name__)

STORAGE_UNAVAILABLE = "the database is unavailable"

# SQLSTATE classes (PostgreSQL) and extended result codes (SQLite) of the integrity violations we name.
_PG_UNIQUE_VIOLATION = "23505"
_PG_FOREIGN_KEY_VIOLATION = "23503"
_SQLITE_UNIQUE_VIOLATIONS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})
_SQLITE_FOREIGN_KEY_VIOLATION = "SQLITE_CONSTRAINT_FOREIGNKEY"
_PG_CONFLICTS = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_SQLITE_CONFLICTS = frozenset({"SQLITE_BUSY_SNAPSHOT"})

# Failures to reach or keep the server. SQLAlchemy's TimeoutError is its pool timing out; the raw
# psycopg classes cover its own pool (psycopg_pool.PoolTimeout is an OperationalError) and anything
# raised outside SQLAlchemy's wrapping.
_CONNECTION_FAILURES: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    OSError,  # includes TimeoutError and ConnectionError
)

_DATABASE_FAILURES: tuple[type[BaseException], ...] = (sa_exc.SQLAlchemyError, *_CONNECTION_FAILURES)


class PersistenceError(RuntimeError):
    """A statement failed for a reason no caller can act on: a bug, or a schema that does not match."""


@contextmanager
def translated_errors(
    *,
    conflict: str = "the record exists already",
    missing_reference: str = "a record it refers to does not exist",
) -> Iterator[None]:
    """Run a database call, raising only application errors (or PersistenceError for bugs).

    ``conflict`` is the detail of AlreadyExists for a unique violation, ``missing_reference`` the
    detail of NotFound for a foreign key violation.
    """
    try:
        yield
    except _DATABASE_FAILURES as error:
        raise _translated(error, conflict=conflict, missing_reference=missing_reference) from error


def is_transaction_conflict(error: BaseException) -> bool:
    """Whether the database rolled the transaction back for a concurrent one (see the module's doc)."""
    original = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    if isinstance(original, psycopg.Error):
        return original.sqlstate in _PG_CONFLICTS
    if isinstance(original, sqlite3.Error):
        return original.sqlite_errorname in _SQLITE_CONFLICTS
    return False


def _translated(error: BaseException, *, conflict: str, missing_reference: str) -> Exception:
    # A conflict first: psycopg and SQLAlchemy class both as OperationalError, a connection failure.
    if is_transaction_conflict(error):
        return TransactionConflict()
    if isinstance(error, sa_exc.IntegrityError):
        return _integrity_error(error, conflict=conflict, missing_reference=missing_reference)
    if isinstance(error, _CONNECTION_FAILURES):
        if isinstance(error, sa_exc.TimeoutError):
            # The pool had no free connection in time: this process's requests hold them all (the
            # database may be slow), which an operator reads otherwise than a database out of reach.
            logger.warning("database busy: no pooled connection came free within the pool timeout")
        else:
            logger.warning("database unavailable: %s", _first_line(error))
        return StorageUnavailable(STORAGE_UNAVAILABLE)
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            logger.warning("database connection lost: %s", _first_line(error))
            return StorageUnavailable(STORAGE_UNAVAILABLE)
        return PersistenceError("a database statement failed")
    return PersistenceError("a database operation failed")


def _integrity_error(error: sa_exc.IntegrityError, *, conflict: str, missing_reference: str) -> Exception:
    original = error.orig
    if isinstance(original, psycopg.Error):
        kind = original.sqlstate
        if kind == _PG_UNIQUE_VIOLATION:
            return AlreadyExists(conflict)
        if kind == _PG_FOREIGN_KEY_VIOLATION:
            return NotFound(missing_reference)
    elif isinstance(original, sqlite3.Error):
        kind = original.sqlite_errorname
        if kind in _SQLITE_UNIQUE_VIOLATIONS:
            return AlreadyExists(conflict)
        if kind == _SQLITE_FOREIGN_KEY_VIOLATION:
            return NotFound(missing_reference)
    # NOT NULL or CHECK: the adapter or a use case let an invalid value through.
    return PersistenceError("a database constraint was violated")


def _first_line(error: BaseException) -> str:
    return str(error).partition("\n")[0]
