"""The unit of work: one connection and one transaction per ``async with`` block."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, cast, overload

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.database.acceptance import SqlAlchemyMessageAcceptance
from adapters.database.api_keys import SqlAlchemyApiKeyRepository
from adapters.database.audit import SqlAlchemyAuditLog
from adapters.database.campaigns import SqlAlchemyCampaignRepository
from adapters.database.consent import SqlAlchemyConsentRepository
from adapters.database.contact_data import SqlAlchemyContactDataRepository
from adapters.database.contacts import SqlAlchemyContactRepository
from adapters.database.conversations import SqlAlchemyConversationRepository
from adapters.database.dashboard import SqlAlchemyDashboardQueries
from adapters.database.dispatch_queue import SqlAlchemyDispatchQueue
from adapters.database.errors import translated_errors
from adapters.database.idempotency import SqlAlchemyIdempotencyRepository
from adapters.database.media import SqlAlchemyMediaRepository
from adapters.database.media_downloads import SqlAlchemyMediaDownloadQueue
from adapters.database.messages import SqlAlchemyMessageRepository
from adapters.database.provider_accounts import SqlAlchemyProviderAccountRepository
from adapters.database.repository import SqlAlchemyRepository, Transaction
from adapters.database.retention import SqlAlchemyRetentionRepository
from adapters.database.senders import SqlAlchemySenderRepository
from adapters.database.sessions import SqlAlchemySessionRepository
from adapters.database.templates import SqlAlchemyTemplateRepository
from adapters.database.tenant_scope import TenantScope
from adapters.database.tenants import SqlAlchemyTenantRepository
from adapters.database.users import SqlAlchemyUserRepository
from adapters.database.webhook_deliveries import SqlAlchemyWebhookDeliveryQueue
from adapters.database.webhook_endpoints import SqlAlchemyWebhookEndpointRepository
from adapters.database.webhook_outbox import SqlAlchemyWebhookOutbox
from adapters.security.secret_box import SecretBox

if TYPE_CHECKING:
    from application.ports.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=SqlAlchemyRepository)


class _PerTransaction(Generic[R]):
    """A repository of the unit of work, built on the transaction the first time the transaction uses
    it and kept until the transaction ends; outside a block, reaching it is an error."""

    def __init__(self, build: Callable[[Transaction], R]) -> None:
        self._build = build
        self._name = ""

    def __set_name__(self, owner: type[object], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, uow: None, owner: type[object]) -> Self: ...
    @overload
    def __get__(self, uow: SqlAlchemyUnitOfWork, owner: type[object]) -> R: ...
    def __get__(self, uow: SqlAlchemyUnitOfWork | None, owner: type[object]) -> Self | R:
        if uow is None:
            return self
        transaction, built = uow._active(), uow._built
        repository = built.get(self._name)
        if repository is None:
            repository = built[self._name] = self._build(transaction)
        return cast(R, repository)


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

    # The repositories of application/ports/unit_of_work.Repositories, one line each.
    tenants = _PerTransaction(SqlAlchemyTenantRepository)
    senders = _PerTransaction(SqlAlchemySenderRepository)
    provider_accounts = _PerTransaction(SqlAlchemyProviderAccountRepository)
    users = _PerTransaction(SqlAlchemyUserRepository)
    messages = _PerTransaction(SqlAlchemyMessageRepository)
    conversations = _PerTransaction(SqlAlchemyConversationRepository)
    jobs = _PerTransaction(SqlAlchemyDispatchQueue)
    idempotency = _PerTransaction(SqlAlchemyIdempotencyRepository)
    acceptance = _PerTransaction(SqlAlchemyMessageAcceptance)
    sessions = _PerTransaction(SqlAlchemySessionRepository)
    api_keys = _PerTransaction(SqlAlchemyApiKeyRepository)
    webhook_endpoints = _PerTransaction(SqlAlchemyWebhookEndpointRepository)
    webhook_events = _PerTransaction(SqlAlchemyWebhookOutbox)
    webhook_deliveries = _PerTransaction(SqlAlchemyWebhookDeliveryQueue)
    audit = _PerTransaction(SqlAlchemyAuditLog)
    media = _PerTransaction(SqlAlchemyMediaRepository)
    media_downloads = _PerTransaction(SqlAlchemyMediaDownloadQueue)
    templates = _PerTransaction(SqlAlchemyTemplateRepository)
    dashboard = _PerTransaction(SqlAlchemyDashboardQueries)
    contacts = _PerTransaction(SqlAlchemyContactRepository)
    consent = _PerTransaction(SqlAlchemyConsentRepository)
    retention = _PerTransaction(SqlAlchemyRetentionRepository)
    contact_data = _PerTransaction(SqlAlchemyContactDataRepository)
    campaigns = _PerTransaction(SqlAlchemyCampaignRepository)

    def __init__(
        self,
        engine: AsyncEngine,
        secret_box: SecretBox,
        *,
        read_only: bool = False,
        on_access_changed: Callable[[], None] | None = None,
        on_signers_changed: Callable[[], None] | None = None,
        on_catalogue_changed: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._secret_box = secret_box
        self._read_only = read_only
        # Called after a commit that wrote to a table the session check reads (the access cache's
        # invalidate): this process's next request then sees the change without waiting for NOTIFY.
        self._on_access_changed = on_access_changed
        # Called after a commit that changed who signs provider callbacks (the access cache's
        # signers_changed): this process's TwilioSigners and MetaApps stop trusting what they read.
        self._on_signers_changed = on_signers_changed
        # Called after a commit that wrote to the template catalogue (the access cache's
        # catalogue_changed): this process's kept catalogue templates are read again.
        self._on_catalogue_changed = on_catalogue_changed
        self._transaction: Transaction | None = None
        self._built: dict[str, Any] = {}  # the transaction's repositories, by name (see _PerTransaction)

    def read_only_twin(self) -> SqlAlchemyUnitOfWork:
        """A read-only unit of work on the same engine."""
        return SqlAlchemyUnitOfWork(self._engine, self._secret_box, read_only=True)

    def on_engine(self, engine: AsyncEngine) -> SqlAlchemyUnitOfWork:
        """The same unit of work drawing its connections from another engine's pool."""
        return SqlAlchemyUnitOfWork(
            engine,
            self._secret_box,
            read_only=self._read_only,
            on_access_changed=self._on_access_changed,
            on_signers_changed=self._on_signers_changed,
            on_catalogue_changed=self._on_catalogue_changed,
        )

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
        self._transaction = Transaction(connection, scope, self._secret_box)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        transaction, self._transaction = self._transaction, None
        self._built = {}
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
        changed_signers = transaction.scope.changed_signers
        changed_catalogue = transaction.scope.changed_catalogue
        try:
            with translated_errors():
                await transaction.connection.commit()
        finally:
            # A failed COMMIT may still have committed (the connection broke after the server did):
            # forgetting a cached check costs one query, keeping a revoked one would let it in.
            if changed_access and self._on_access_changed is not None:
                self._on_access_changed()
            if changed_signers and self._on_signers_changed is not None:
                self._on_signers_changed()
            if changed_catalogue and self._on_catalogue_changed is not None:
                self._on_catalogue_changed()
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

    def _active(self) -> Transaction:
        if self._transaction is None:
            raise RuntimeError("use the unit of work inside 'async with'")
        return self._transaction


async def _close_quietly(connection: AsyncConnection) -> None:
    """Give the connection back to the pool; a connection that is broken already is just discarded."""
    try:
        await connection.close()
    except Exception:
        logger.warning("closing a database connection failed", exc_info=True)


if TYPE_CHECKING:
    # mypy checks that the class is a UnitOfWork: every repository of Repositories, each of its port.
    _IS_A_UNIT_OF_WORK: type[UnitOfWork] = SqlAlchemyUnitOfWork
