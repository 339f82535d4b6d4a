"""Which tenant's rows one transaction may touch, told to PostgreSQL's row-level security.

Every tenant table has RLS forced (migration 0006): a row is visible only while the transaction has
``app.tenant_id`` set to its tenant, or has ``app.cross_tenant`` set to ``on``. Both are set with
``set_config(..., true)``: transaction-local, so a pooled connection never carries them to its next
user. A query that forgets its tenant filter therefore sees the bound tenant's rows only, and nothing
at all in a transaction that bound none.

The repositories call one of three methods before their statement:

- ``bind(tenant_id)``: methods that take a tenant. The first call sets it (one round trip, with the
  transaction's BEGIN when it is the transaction's first statement); later calls with the same tenant
  are free. A call for another tenant sets that one instead (another round trip):
  each statement still sees only the tenant it names, and a transaction that checks that tenant B
  cannot read tenant A's rows (the repository contract tests do) checks it in the database too.
- ``cross_tenant()``: the few methods that must find rows before any tenant is known (webhook routing
  by number, a template by its provider's id, login by username, a token's session, an API key's
  prefix, the workers' claims, queue depth, purges, re-sealing). Once on, it stays on for the rest of
  the transaction, whose tenant-taking methods keep their own tenant filters; ``bind`` then sets
  nothing.
- ``by_key()``: methods that name one row by a unique key and take no tenant (a job by message id and
  lease owner, a session by id). They run in the bound tenant when there is one, else cross-tenant.

Three more carry a statement in the same round trip as the setting: ``bind_and_read`` (the
transaction goes on: the accept's tenant and sender, the worker's lease-and-load),
``cross_tenant_and_read`` (a status report's update of its message, when the transaction goes on)
and ``read_alone`` (a read that is its whole transaction: a history page, a webhook delivery's
endpoint and secrets, with its BEGIN READ ONLY and ROLLBACK). ``write_and_commit`` sends a
transaction's last write with its COMMIT (the accept's write, a status report's move with its webhook
events, the settling of webhook deliveries).

SQLite has no row-level security: there the scope only keeps its bookkeeping and sends nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
import sqlalchemy as sa
from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.database.engine import PREPARES_STATEMENTS
from adapters.database.errors import PersistenceError, translated_errors
from adapters.database.pipeline import run_in_one_round_trip
from application.errors import AlreadyExists, NotFound

TENANT_SETTING = "app.tenant_id"
CROSS_TENANT_SETTING = "app.cross_tenant"


class TenantScope:
    def __init__(self, connection: AsyncConnection, *, read_only: bool = False) -> None:
        self._connection = connection
        self._read_only = read_only
        self._enforced = connection.dialect.name == "postgresql"
        self._tenant: UUID | None = None
        self._cross_tenant = False
        self._prepares = True
        # Set by a write to a table the session check reads, so that the unit of work empties this
        # process's access cache once the write is committed (access_cache.py).
        self.changed_access = False
        # Set by a write that changes who signs Twilio's callbacks, so that the unit of work tells this
        # process's TwilioSigners once the write is committed (access_cache.py's signers version).
        self.changed_signers = False
        # Set by a write to the template catalogue, so that the unit of work tells this process's kept
        # catalogue templates once the write is committed (access_cache.py's catalogue version).
        self.changed_catalogue = False

    @property
    def tenant(self) -> UUID | None:
        return self._tenant

    @property
    def is_cross_tenant(self) -> bool:
        return self._cross_tenant

    async def bind(self, tenant_id: UUID) -> None:
        if self._cross_tenant or self._tenant == tenant_id:
            return
        await self._set(TENANT_SETTING, str(tenant_id))
        self._tenant = tenant_id

    async def cross_tenant(self) -> None:
        if self._cross_tenant:
            return
        await self._set(CROSS_TENANT_SETTING, "on")
        self._cross_tenant = True

    def forget(self) -> None:
        """After a commit or rollback: the settings were transaction-local, so they are gone."""
        self._tenant = None
        self._cross_tenant = False
        self.changed_access = False
        self.changed_signers = False
        self.changed_catalogue = False

    async def by_key(self) -> None:
        if self._tenant is None:
            await self.cross_tenant()

    async def read_alone(
        self, tenant_id: UUID, statement: sa.Select[Any], parameters: Mapping[str, Any]
    ) -> Sequence[tuple[Any, ...]] | None:
        """Run ``statement`` for ``tenant_id`` as a transaction of its own, in one round trip; None when
        this transaction cannot (SQLite, a statement ran already, a tenant is bound).

        For a read that is all its unit of work does (a history page, a webhook delivery's endpoint).
        Through SQLAlchemy it costs three round trips (BEGIN with the tenant setting, the SELECT,
        ROLLBACK), each with the execution layer's overhead, which cost more CPU than the query. Here
        the four statements go in one round trip (see ``_pipelined``). The rows come back as psycopg
        types: the caller maps them.
        """
        if not self._enforced or self._tenant is not None or self._cross_tenant:
            return None
        driver = await self._driver()
        if driver.info.transaction_status is not TransactionStatus.IDLE:
            return None
        select, fixed = _compiled(statement)
        query = ("BEGIN READ ONLY", _SET_TENANT, select, "ROLLBACK")
        arguments = {**fixed, **parameters, _TENANT_PARAMETER: str(tenant_id)}
        return await self._pipelined(driver, query, arguments, result=2, as_dicts=False)

    async def bind_and_read(
        self,
        tenant_id: UUID,
        statement: sa.Select[Any],
        parameters: Mapping[str, Any],
        *,
        conflict: str = "the record exists already",
    ) -> Sequence[Mapping[str, Any]] | None:
        """``bind(tenant_id)`` and run ``statement`` in the same round trip (with the transaction's
        BEGIN when it is the first); None when nothing is to be bound (SQLite, a tenant is bound
        already, cross-tenant): the caller runs the statement as any other. Rows as dicts.

        ``statement`` may write through data-modifying CTEs: a unique violation is AlreadyExists with
        ``conflict`` as its detail."""
        if not self._enforced or self._tenant is not None or self._cross_tenant:
            return None
        arguments = {**parameters, _TENANT_PARAMETER: str(tenant_id)}
        rows = await self._set_and_read(_SET_TENANT, statement, arguments, conflict=conflict)
        self._tenant = tenant_id
        return rows

    async def cross_tenant_and_read(
        self,
        statement: sa.Select[Any],
        parameters: Mapping[str, Any],
        *,
        conflict: str = "the record exists already",
    ) -> Sequence[Mapping[str, Any]] | None:
        """``cross_tenant()`` and run ``statement`` in the same round trip, as ``bind_and_read`` does;
        None when nothing is to be set (SQLite, a tenant is bound, cross-tenant already)."""
        if not self._enforced or self._tenant is not None or self._cross_tenant:
            return None
        rows = await self._set_and_read(_SET_CROSS_TENANT, statement, parameters, conflict=conflict)
        self._cross_tenant = True
        return rows

    async def _set_and_read(
        self, setting: str, statement: sa.Select[Any], arguments: Mapping[str, Any], *, conflict: str
    ) -> Sequence[Mapping[str, Any]]:
        driver = await self._driver()
        select, fixed = _compiled(statement)
        query: tuple[str, ...]
        if driver.info.transaction_status is TransactionStatus.IDLE:
            query, result = (_begin_statement(driver, self._read_only), setting, select), 2
        else:
            query, result = (setting, select), 1
        return await self._pipelined(
            driver, query, {**fixed, **arguments}, result=result, as_dicts=True, conflict=conflict
        )

    async def write_and_commit(
        self,
        tenant_id: UUID | None,
        statement: sa.Select[Any] | sa.TextClause,
        parameters: Mapping[str, Any],
        *,
        conflict: str,
        missing_reference: str,
        aborted: Exception,
        cross_tenant: bool = False,
        as_dicts: bool = False,
    ) -> Sequence[Any] | None:
        """Run ``statement`` (a write, through data-modifying CTEs) in ``tenant_id``'s scope (None: the
        transaction's scope, cross-tenant or bound already; ``cross_tenant``: every tenant's, for a
        statement that names each row's tenant itself) and commit
        the transaction with it, in one round trip (with the transaction's BEGIN and the tenant setting
        when they are still to be sent); None on SQLite, where the caller writes as usual. Its rows are
        tuples, or dicts by column name (``as_dicts``).

        For the last write of a unit of work: the transaction is over when this returns, and the unit
        of work's ``commit()`` after it finds nothing to commit. ``parameters`` are the statement's
        bind parameters as SQLAlchemy takes them (its types turn them into the driver's values here).

        A failing statement stops the query before its COMMIT, so nothing of it is stored: a unique
        violation is AlreadyExists with ``conflict`` as its detail, a foreign key violation NotFound
        with ``missing_reference``, and a division by zero raises ``aborted``: that is how a statement
        refuses to be committed (``SELECT 1 / count(*)`` over what it must have written).
        """
        if not self._enforced:
            return None
        setting: str | None = None
        if cross_tenant:
            setting = _SET_CROSS_TENANT
        elif tenant_id is not None:
            setting = _SET_TENANT
        elif self._tenant is None and not self._cross_tenant:
            return None
        driver = await self._driver()
        write, fixed, processors = _compiled_for_driver(statement)
        arguments = {**fixed, _TENANT_PARAMETER: str(tenant_id)}
        for name, value in parameters.items():
            process = processors.get(name)
            arguments[name] = process(value) if process is not None and value is not None else value
        query: tuple[str, ...]
        if driver.info.transaction_status is TransactionStatus.IDLE and setting is not None:
            query, result = (_begin_statement(driver, self._read_only), setting, write, "COMMIT"), 2
        elif setting is None or self._cross_tenant or (not cross_tenant and self._tenant == tenant_id):
            query, result = (write, "COMMIT"), 0
        else:
            query, result = (setting, write, "COMMIT"), 1
        try:
            rows = await self._pipelined(
                driver, query, arguments, result=result, as_dicts=as_dicts, conflict=conflict
            )
        except PersistenceError as error:
            if isinstance(error.__cause__, psycopg.errors.ForeignKeyViolation):
                raise NotFound(missing_reference) from error.__cause__
            if isinstance(error.__cause__, psycopg.errors.DivisionByZero):
                raise aborted from error.__cause__
            raise
        # The settings were transaction-local: the next statement begins a new transaction.
        self._tenant = None
        self._cross_tenant = False
        return rows

    async def _driver(self) -> psycopg.AsyncConnection[Any]:
        with translated_errors():
            raw = await self._connection.get_raw_connection()
        driver = raw.driver_connection
        if not isinstance(driver, psycopg.AsyncConnection):  # engine.py always uses it
            raise TypeError("PostgreSQL is reached through psycopg's async driver")
        self._prepares = bool(raw.info.get(PREPARES_STATEMENTS, True))
        return driver

    async def _set(self, name: str, value: str) -> None:
        if not self._enforced:
            return
        driver = await self._driver()
        arguments = {"setting": name, "value": value}
        if driver.info.transaction_status is TransactionStatus.IDLE:
            # The transaction's first statement: its BEGIN goes with the setting, in one round trip.
            query = (_begin_statement(driver, self._read_only), _SET_CONFIG)
            await self._pipelined(driver, query, arguments, result=1, as_dicts=False)
        else:
            await self._pipelined(driver, (_SET_CONFIG,), arguments, result=0, as_dicts=False)

    async def _pipelined(
        self,
        driver: psycopg.AsyncConnection[Any],
        statements: Sequence[str],
        arguments: Mapping[str, Any],
        *,
        result: int,
        as_dicts: bool,
        conflict: str = "the record exists already",
    ) -> list[Any]:
        """Run ``statements`` in one round trip and return the rows of the ``result``-th (from 0), as
        tuples or dicts (pipeline.py: one write for all of them and their Sync, each statement
        prepared once per connection, its parameters bound by the server).

        A statement that fails stops the rest (a COMMIT after it never runs). A query that opens a
        transaction itself runs with psycopg's autocommit on, so psycopg sends no BEGIN of its own
        first; the transaction is then ours to end (COMMIT and ROLLBACK through SQLAlchemy end it as
        usual), and the pool sets autocommit back off when the connection is returned (engine.py).
        """
        with translated_errors():
            try:
                if driver.info.transaction_status is TransactionStatus.IDLE and not driver.autocommit:
                    await driver.set_autocommit(True)
                rows = await run_in_one_round_trip(
                    driver, statements, arguments, result=result, as_dicts=as_dicts, prepares=self._prepares
                )
            except psycopg.errors.TransactionRollback:
                # A deadlock or serialization failure: the connection is fine, the transaction is not
                # (translated_errors makes it TransactionConflict; the unit of work rolls it back).
                raise
            except psycopg.OperationalError:
                # SQLAlchemy did not see this failure: drop the connection rather than pool it.
                await self._connection.invalidate()
                raise
            except psycopg.errors.UniqueViolation as error:
                raise AlreadyExists(conflict) from error
            except psycopg.Error as error:
                raise PersistenceError("a database statement failed") from error
            except BaseException:
                if driver.closed:  # interrupted half-way (a cancelled request): pipeline.py closed it
                    await self._connection.invalidate()
                raise
        if driver.info.parameter_status("TimeZone") not in _UTC_NAMES:
            rows = [_in_utc(row) for row in rows]
        return rows


_TENANT_PARAMETER = "wa_gateway_tenant_id"
_SET_TENANT = f"SELECT set_config('{TENANT_SETTING}', %({_TENANT_PARAMETER})s, true)"
_SET_CROSS_TENANT = f"SELECT set_config('{CROSS_TENANT_SETTING}', 'on', true)"
_SET_CONFIG = "SELECT set_config(%(setting)s, %(value)s, true)"
# psycopg gives timestamps in the session's time zone; SQLAlchemy's columns (UtcDateTime) in UTC.
_UTC_NAMES = frozenset({"UTC", "Etc/UTC"})


def _in_utc(row: Any) -> Any:
    def utc(value: Any) -> Any:
        return value.astimezone(UTC) if isinstance(value, datetime) else value

    if isinstance(row, dict):
        return {name: utc(value) for name, value in row.items()}
    return tuple(utc(value) for value in row)


def _begin_statement(driver: psycopg.AsyncConnection[Any], read_only: bool) -> str:
    """The BEGIN psycopg itself would send (the connection's isolation level and read-only flag), READ
    ONLY for a read-only unit of work."""
    parts = ["BEGIN"]
    if driver.isolation_level is not None:
        parts.append("ISOLATION LEVEL " + IsolationLevel(driver.isolation_level).name.replace("_", " "))
    if read_only or driver.read_only:
        parts.append("READ ONLY")
    elif driver.read_only is not None:
        parts.append("READ WRITE")
    return " ".join(parts)


_PSYCOPG = postgresql_psycopg.dialect()  # type: ignore[no-untyped-call]


@functools.cache
def _compiled_for_driver(
    statement: sa.Select[Any] | sa.TextClause,
) -> tuple[str, Mapping[str, Any], Mapping[str, Callable[[Any], Any]]]:
    """``_compiled``, and the processors of the statement's typed parameters (JSON documents, UTC
    timestamps): what SQLAlchemy applies to a value before it hands it to the driver."""
    compiled = statement.compile(dialect=_PSYCOPG)
    fixed = {name: value for name, value in compiled.params.items() if value is not None}
    # Private, but what SQLAlchemy's own execution reads (DefaultExecutionContext).
    processors = {name: process for name, process in compiled._bind_processors.items() if callable(process)}
    return str(compiled), fixed, processors


@functools.cache
def _compiled(statement: sa.Select[Any]) -> tuple[str, Mapping[str, Any]]:
    """The statement in psycopg's placeholder style (``%(name)s``), and the values of the parameters
    the statement fixed itself (literals in its expressions)."""
    compiled = statement.compile(dialect=_PSYCOPG)
    return str(compiled), {name: value for name, value in compiled.params.items() if value is not None}
