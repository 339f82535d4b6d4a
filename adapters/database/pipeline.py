"""Several statements in one round trip, sent with one write to the socket.

psycopg's pipeline mode sends each statement as it is executed (a flush, a readiness poll and a
cursor per statement) and costs ~210 µs of client CPU for a BEGIN, a setting, a write and a COMMIT;
queued in libpq and flushed once with their Sync, the same four cost ~100 µs (bench/pipeline.py). The
statements keep what psycopg gives them: its adapters turn the arguments into parameters and the
rows into Python values, and a statement is prepared once per connection, unless ``prepares`` is off
(``DB_PREPARED_STATEMENTS``: a pooler that cannot keep prepared statements). psycopg follows a
ROLLBACK with DEALLOCATE ALL once it has prepared statements of its own: the engine calls
``forget_prepared`` before each ROLLBACK through psycopg (engine.py), and the statements are closed
and prepared again in the next round trip.

A failing statement stops the ones after it (PostgreSQL skips them until the Sync), and its error is
raised as psycopg raises it. Interrupted half-way (a cancelled request), the connection is closed: the
protocol is then at an unknown point, and the pool drops a closed connection.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import abc, errors, pq
from psycopg.adapt import PyFormat, Transformer

# psycopg's placeholders, as SQLAlchemy's psycopg dialect writes them, and its escaped percent sign.
_PLACEHOLDER = re.compile(rb"%\(([^)]+)\)s|%%")
# Per connection, beyond which a new statement runs unnamed rather than prepared: the gateway's
# statements are a fixed set, but a history filter's combinations are many.
MOST_PREPARED = 200

# A statement by its text and its parameters' types (a parameter's type may vary with its value).
_StatementKey = tuple[bytes, tuple[int, ...]]


# Preparing needs Close (libpq 17): a statement that may be gone is closed before it is prepared again,
# closing one that is gone being no error, so none outlives its forgetting.
_CAN_CLOSE = psycopg.capabilities.has_send_close_prepared()


class _Prepared:
    """The statements prepared on one connection, by key, and the number the next one's name takes
    (never one used before on the connection, even after a failed Prepare)."""

    def __init__(self) -> None:
        self.names: dict[_StatementKey, bytes] = {}
        self.numbers = itertools.count()
        # Forgotten, but perhaps still on the server: closed at the start of the next round trip.
        self.to_close: list[bytes] = []


_prepared: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], _Prepared] = weakref.WeakKeyDictionary()


def forget_prepared(driver: psycopg.AsyncConnection[Any]) -> None:
    """The connection's prepared statements may be gone (DEALLOCATE ALL): each is closed, and prepared
    again on its next use."""
    prepared = _prepared.get(driver)
    if prepared is not None:
        prepared.to_close.extend(prepared.names.values())
        prepared.names.clear()


@functools.cache
def native_statement(statement: str) -> tuple[bytes, tuple[str, ...]]:
    """``statement`` with PostgreSQL's own placeholders (``$1``), and the arguments they take in order."""
    names: list[str] = []

    def numbered(match: re.Match[bytes]) -> bytes:
        if match[1] is None:
            return b"%"
        name = match[1].decode()
        if name not in names:
            names.append(name)
        return b"$%d" % (names.index(name) + 1)

    return _PLACEHOLDER.sub(numbered, statement.encode()), tuple(names)


async def run_in_one_round_trip(
    driver: psycopg.AsyncConnection[Any],
    statements: Sequence[str],
    arguments: Mapping[str, Any],
    *,
    result: int,
    as_dicts: bool,
    prepares: bool,
) -> list[Any]:
    """Run ``statements`` (psycopg's ``%(name)s`` placeholders, filled from ``arguments``) in one round
    trip and return the rows of the ``result``-th (from 0): tuples, or dicts by column name."""
    pgconn = driver.pgconn
    transformer = Transformer.from_context(driver)
    prepared = _prepared.setdefault(driver, _Prepared())
    # What each reply will answer, in the order sent: a Close (None), a Prepare (by its key) or a
    # statement's execution (by its index).
    sent: list[_Prepare | int | None] = []
    pgconn.enter_pipeline_mode()
    try:
        for name in prepared.to_close:
            pgconn.send_close_prepared(name)
            sent.append(None)
        prepared.to_close.clear()
        for index, statement in enumerate(statements):
            preparing = _send(pgconn, transformer, prepared, statement, arguments, prepares and _CAN_CLOSE)
            if preparing is not None:
                sent.append(preparing)
            sent.append(index)
        pgconn.pipeline_sync()
        replies = await _replies(pgconn)
        pgconn.exit_pipeline_mode()
    except BaseException:
        # Sent, but its replies not all read: the protocol is at an unknown point for a later user.
        _prepared.pop(driver, None)
        pgconn.finish()
        raise
    return _rows_or_failure(driver, transformer, sent, replies, result=result, as_dicts=as_dicts)


def _rows_or_failure(
    driver: psycopg.AsyncConnection[Any],
    transformer: abc.Transformer,
    sent: Sequence[_Prepare | int | None],
    replies: Sequence[pq.abc.PGresult],
    *,
    result: int,
    as_dicts: bool,
) -> list[Any]:
    """The ``result``-th statement's rows, or the first failure raised; a Prepare that did not run
    forgotten, so that the statement is prepared on its next use."""
    names = _prepared[driver].names
    failure: psycopg.Error | None = None
    rows: list[Any] = []
    for what, reply in zip(sent, replies, strict=True):
        status = reply.status
        if status == pq.ExecStatus.FATAL_ERROR and failure is None:
            failure = errors.error_from_result(reply, encoding=driver.info.encoding)
        if isinstance(what, _Prepare):
            if status != pq.ExecStatus.COMMAND_OK:  # failed, or skipped after a failure
                names.pop(what.key, None)
        elif what == result and status == pq.ExecStatus.TUPLES_OK:
            rows = _loaded(transformer, reply, as_dicts)
    if isinstance(failure, errors.InvalidSqlStatementName):
        # Something deallocated this connection's statements behind our back (DDL run through psycopg
        # on a pooled connection): prepare afresh.
        forget_prepared(driver)
    if failure is not None:
        raise failure
    return rows


def _send(
    pgconn: pq.abc.PGconn,
    transformer: abc.Transformer,
    prepared: _Prepared,
    statement: str,
    arguments: Mapping[str, Any],
    prepares: bool,
) -> _Prepare | None:
    """Queue ``statement``'s execution, after its Prepare on its first use on this connection (that
    Prepare returned, for its reply)."""
    query, used = native_statement(statement)
    params: Sequence[abc.Buffer | None] | None = None
    types: tuple[int, ...] = ()
    formats: Sequence[int] | None = None
    if used:
        values = [arguments[name] for name in used]
        params = transformer.dump_sequence(values, [PyFormat.AUTO] * len(used))
        types, formats = tuple(transformer.types or ()), transformer.formats
    key = (query, types)
    name = prepared.names.get(key)
    prepare = None
    if name is None and prepares and len(prepared.names) < MOST_PREPARED:
        name = prepared.names[key] = b"wa_gateway_%d" % next(prepared.numbers)
        pgconn.send_prepare(name, query, param_types=types)
        prepare = _Prepare(key)
    if name is None:
        pgconn.send_query_params(query, params, param_types=types, param_formats=formats)
    else:
        pgconn.send_query_prepared(name, params, param_formats=formats)
    return prepare


@dataclass(frozen=True, slots=True)
class _Prepare:
    key: _StatementKey


def _loaded(transformer: abc.Transformer, reply: pq.abc.PGresult, as_dicts: bool) -> list[Any]:
    transformer.set_pgresult(reply)
    if not as_dicts:
        return list(transformer.load_rows(0, reply.ntuples, tuple))
    columns = [reply.fname(index) or b"" for index in range(reply.nfields)]
    keys = [column.decode() for column in columns]
    return list(transformer.load_rows(0, reply.ntuples, lambda values: dict(zip(keys, values, strict=True))))


async def _replies(pgconn: pq.abc.PGconn) -> list[pq.abc.PGresult]:
    """Send what libpq holds, then read every reply up to the Sync's: one result per reply (a
    statement's, a Prepare's, or PIPELINE_ABORTED for one PostgreSQL skipped after a failure)."""
    loop = asyncio.get_running_loop()
    while pgconn.flush():
        await _ready(loop, pgconn.socket, loop.add_writer, loop.remove_writer)
    replies: list[pq.abc.PGresult] = []
    while True:
        while pgconn.is_busy():
            await _ready(loop, pgconn.socket, loop.add_reader, loop.remove_reader)
            pgconn.consume_input()
        reply = pgconn.get_result()
        if reply is None:
            continue  # the end of one statement's results
        if reply.status == pq.ExecStatus.PIPELINE_SYNC:
            return replies
        replies.append(reply)


async def _ready(
    loop: asyncio.AbstractEventLoop,
    socket: int,
    watch: Callable[..., None],
    unwatch: Callable[[int], bool],
) -> None:
    ready: asyncio.Future[None] = loop.create_future()
    watch(socket, _settle, ready)
    try:
        await ready
    finally:
        unwatch(socket)


def _settle(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)
