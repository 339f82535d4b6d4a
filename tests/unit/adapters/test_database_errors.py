"""Driver errors as the layers above see them: a transaction the database gave up for a concurrent one
is a conflict (run it again, or 409), never "the database is unavailable"."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from adapters.database.errors import translated_errors
from application.errors import StorageUnavailable, TransactionConflict


def through_sqlalchemy(driver_error: Exception) -> sa_exc.StatementError:
    return sa_exc.DBAPIError.instance("UPDATE senders SET is_default = ...", {}, driver_error, Exception)


def sqlite_error(name: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorname = name
    return error


@pytest.mark.parametrize(
    "error",
    [
        through_sqlalchemy(psycopg.errors.SerializationFailure("could not serialize access")),
        through_sqlalchemy(psycopg.errors.DeadlockDetected("deadlock detected")),
        # as the tenant scope's own round trips raise them, outside SQLAlchemy
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        through_sqlalchemy(sqlite_error("SQLITE_BUSY_SNAPSHOT")),
    ],
    ids=["pg-40001", "pg-40P01", "raw-pg-40001", "raw-pg-40P01", "sqlite-busy-snapshot"],
)
def test_serialization_failures_and_deadlocks_are_transaction_conflicts(error: Exception) -> None:
    with pytest.raises(TransactionConflict), translated_errors():
        raise error


@pytest.mark.parametrize(
    "error",
    [
        through_sqlalchemy(psycopg.OperationalError("connection refused")),
        psycopg.OperationalError("server closed the connection unexpectedly"),
        # SQLite's plain "database is locked": the busy timeout ran out waiting for another writer
        through_sqlalchemy(sqlite_error("SQLITE_BUSY")),
    ],
    ids=["pg-connection", "raw-pg-connection", "sqlite-busy"],
)
def test_a_database_that_cannot_answer_is_still_unavailable(error: Exception) -> None:
    with pytest.raises(StorageUnavailable), translated_errors():
        raise error


def test_a_pool_with_no_free_connection_is_unavailable_and_logged_as_busy(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(StorageUnavailable), translated_errors():
        raise sa_exc.TimeoutError("QueuePool limit of size 20 overflow 0 reached, connection timed out")

    assert [record.getMessage() for record in caplog.records] == [
        "database busy: no pooled connection came free within the pool timeout"
    ]


def test_a_database_that_cannot_be_reached_is_logged_as_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(StorageUnavailable), translated_errors():
        raise through_sqlalchemy(psycopg.OperationalError("connection refused"))

    assert [record.getMessage() for record in caplog.records] == [
        "database unavailable: (psycopg.OperationalError) connection refused"
    ]
