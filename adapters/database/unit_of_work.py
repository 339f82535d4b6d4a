"""The unit of work: one connection and one transaction per ``async with`` block."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.database.acceptance import SqlAlchemyMessageAcceptance
from adapters.database.api_keys import SqlAlchemyApiKeyRepository
from adapters.database.audit import SqlAlchemyAuditLog
from adapters.database.conversations import SqlAlchemyConversationRepository
from adapters.database.dispatch_queue import SqlAlchemyDispatchQueue
from adapters.database.errors import translated_errors
from adapters.database.idempotency import SqlAlchemyIdempotencyRepository
from adapters.database.messages import SqlAlchemyMessageRepository
from adapters.database.senders import SqlAlchemySenderRepository
from adapters.database.sessions import SqlAlchemySessionRepository
from adapters.database.tenant_scope import TenantScope
from adapters.database.tenant_webhooks import (
    SqlAlchemyWebhookDeliveryQueue,
    SqlAlchemyWebhookEndpointRepository,
    SqlAlchemyWebhookOutbox,
)
from adapters.database.tenants import SqlAlchemyTenantRepository
from adapters.database.users import SqlAlchemyUserRepository
from adapters.security.secret_box import SecretBox

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Transaction:
    connection: AsyncConnection
    scope: TenantScope
    tenants: SqlAlchemyTenantRepository
    senders: SqlAlchemySenderRepository
    users: SqlAlchemyUserRepository
    messages: SqlAlchemyMessageRepository
    conversations: SqlAlchemyConversationRepository
    jobs: SqlAlchemyDispatchQueue
    idempotency: SqlAlchemyIdempotencyRepository
    acceptance: SqlAlchemyMessageAcceptance
    sessions: SqlAlchemySessionRepository
    api_keys: SqlAlchemyApiKeyRepository
    webhook_endpoints: SqlAlchemyWebhookEndpointRepository
    webhook_events: SqlAlchemyWebhookOutbox
    webhook_deliveries: SqlAlchemyWebhookDeliveryQueue
    audit: SqlAlchemyAuditLog


class SqlAlchemyUnitOfWork:
    """Rolls back on leaving the block unless ``commit()`` was called; always gives the connection back.

    One instance may be entered again after the block is left (each time a new transaction), but not
    while it is in use: it is meant to be created per request, not shared between tasks.

    ``read_only=True`` is for use cases that only read (the per-request session check, a history
    page): ``commit()`` is refused, and on PostgreSQL the transaction is ``BEGIN READ ONLY`` (sent by
    the tenant scope with the tenant setting), so a write through it fails in the database too. It is
    still a transaction, not autocommit: row-level security's tenant setting (tenant_scope.py) is
    transaction-local, so in autocommit it would end before the query that needs it.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        secret_box: SecretBox,
        *,
        read_only: bool = False,
        on_access_changed: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._secret_box = secret_box
        self._read_only = read_only
        # Called after a commit that wrote to a table the session check reads (the access cache's
        # invalidate): this process's next request then sees the change without waiting for NOTIFY.
        self._on_access_changed = on_access_changed
        self._transaction: _Transaction | None = None

    def read_only_twin(self) -> SqlAlchemyUnitOfWork:
        """A read-only unit of work on the same engine."""
        return SqlAlchemyUnitOfWork(self._engine, self._secret_box, read_only=True)

    @property
    def tenants(self) -> SqlAlchemyTenantRepository:
        return self._active().tenants

    @property
    def senders(self) -> SqlAlchemySenderRepository:
        return self._active().senders

    @property
    def users(self) -> SqlAlchemyUserRepository:
        return self._active().users

    @property
    def messages(self) -> SqlAlchemyMessageRepository:
        return self._active().messages

    @property
    def conversations(self) -> SqlAlchemyConversationRepository:
        return self._active().conversations

    @property
    def jobs(self) -> SqlAlchemyDispatchQueue:
        return self._active().jobs

    @property
    def idempotency(self) -> SqlAlchemyIdempotencyRepository:
        return self._active().idempotency

    @property
    def acceptance(self) -> SqlAlchemyMessageAcceptance:
        return self._active().acceptance

    @property
    def sessions(self) -> SqlAlchemySessionRepository:
        return self._active().sessions

    @property
    def api_keys(self) -> SqlAlchemyApiKeyRepository:
        return self._active().api_keys

    @property
    def webhook_endpoints(self) -> SqlAlchemyWebhookEndpointRepository:
        return self._active().webhook_endpoints

    @property
    def webhook_events(self) -> SqlAlchemyWebhookOutbox:
        return self._active().webhook_events

    @property
    def webhook_deliveries(self) -> SqlAlchemyWebhookDeliveryQueue:
        return self._active().webhook_deliveries

    @property
    def audit(self) -> SqlAlchemyAuditLog:
        return self._active().audit

    async def __aenter__(self) -> Self:
        if self._transaction is not None:
            raise RuntimeError("this unit of work is in use already; it does not nest")
        with translated_errors():
            connection = await self._engine.connect()
            try:
                await connection.begin()
            except BaseException:
                await _close_quietly(connection)
                raise
        # On PostgreSQL every transaction is begun by the scope (with the tenant setting), as BEGIN
        # READ ONLY here: a write through this unit of work fails in the database too.
        scope = TenantScope(connection, read_only=self._read_only)
        self._transaction = _Transaction(
            connection=connection,
            scope=scope,
            tenants=SqlAlchemyTenantRepository(connection, scope, self._secret_box),
            senders=SqlAlchemySenderRepository(connection, scope),
            users=SqlAlchemyUserRepository(connection, scope),
            messages=SqlAlchemyMessageRepository(connection, scope),
            conversations=SqlAlchemyConversationRepository(connection, scope),
            jobs=SqlAlchemyDispatchQueue(connection, scope, self._secret_box),
            idempotency=SqlAlchemyIdempotencyRepository(connection, scope),
            acceptance=SqlAlchemyMessageAcceptance(connection, scope),
            sessions=SqlAlchemySessionRepository(connection, scope),
            api_keys=SqlAlchemyApiKeyRepository(connection, scope),
            webhook_endpoints=SqlAlchemyWebhookEndpointRepository(connection, scope, self._secret_box),
            webhook_events=SqlAlchemyWebhookOutbox(connection, scope),
            webhook_deliveries=SqlAlchemyWebhookDeliveryQueue(connection, scope),
            audit=SqlAlchemyAuditLog(connection, scope),
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        transaction, self._transaction = self._transaction, None
        if transaction is None:
            return
        try:
            if transaction.connection.in_transaction():
                with translated_errors():
                    await transaction.connection.rollback()
        except Exception:
            if exc is None:
                raise
            # The block failed already, and its error says more than the rollback's.
            logger.warning("rollback failed after an error in the unit of work", exc_info=True)
        finally:
            await _close_quietly(transaction.connection)

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit: use the ordinary one to write")
        transaction = self._active()
        changed_access = transaction.scope.changed_access
        try:
            with translated_errors():
                await transaction.connection.commit()
        finally:
            # A failed COMMIT may still have committed (the connection broke after the server did):
            # forgetting a cached check costs one query, keeping a revoked one would let it in.
            if changed_access and self._on_access_changed is not None:
                self._on_access_changed()
        # The tenant settings ended with the transaction; the next statement begins a new one.
        transaction.scope.forget()

    async def ping(self) -> None:
        """SELECT 1 in the current transaction, or on a connection of its own outside a block."""
        statement = sa.select(sa.literal(1))
        with translated_errors():
            if self._transaction is not None:
                await self._transaction.connection.execute(statement)
                return
            async with self._engine.connect() as connection:
                await connection.execute(statement)

    def _active(self) -> _Transaction:
        if self._transaction is None:
            raise RuntimeError("use the unit of work inside 'async with'")
        return self._transaction


async def _close_quietly(connection: AsyncConnection) -> None:
    """Give the connection back to the pool; a connection that is broken already is just discarded."""
    try:
        await connection.close()
    except Exception:
        logger.warning("closing a database connection failed", exc_info=True)
