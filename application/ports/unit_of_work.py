"""One database transaction and the repositories that work inside it.

``Repositories`` is the one list of them. Each implementation (the SQL unit of work, the tests' fake)
builds its own from a table with a line per repository, and is type-checked against this list.
Adding a repository: its port, a line here, its SQL class and its fake, each with its line in its
implementation's table.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from application.ports.audit import AuditLog
from application.ports.consent import ConsentRepository
from application.ports.contacts import ContactRepository
from application.ports.dashboard import DashboardQueries
from application.ports.dispatch_queue import DispatchQueue
from application.ports.identity import ApiKeyRepository, SessionRepository, UserRepository
from application.ports.media import MediaDownloadQueue, MediaRepository
from application.ports.messages import (
    ConversationRepository,
    IdempotencyRepository,
    MessageAcceptance,
    MessageRepository,
)
from application.ports.retention import ContactDataRepository, RetentionRepository
from application.ports.templates import TemplateRepository
from application.ports.tenancy import ProviderAccountRepository, SenderRepository, TenantRepository
from application.ports.tenant_webhooks import WebhookDeliveryQueue, WebhookEndpointRepository, WebhookOutbox


class Repositories(Protocol):
    """Every repository of a unit of work, by the name use cases reach it under (``uow.messages``)."""

    @property
    def tenants(self) -> TenantRepository: ...
    @property
    def senders(self) -> SenderRepository: ...
    @property
    def provider_accounts(self) -> ProviderAccountRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def jobs(self) -> DispatchQueue: ...
    @property
    def idempotency(self) -> IdempotencyRepository: ...
    @property
    def acceptance(self) -> MessageAcceptance: ...
    @property
    def sessions(self) -> SessionRepository: ...
    @property
    def api_keys(self) -> ApiKeyRepository: ...
    @property
    def webhook_endpoints(self) -> WebhookEndpointRepository: ...
    @property
    def webhook_events(self) -> WebhookOutbox: ...
    @property
    def webhook_deliveries(self) -> WebhookDeliveryQueue: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def media(self) -> MediaRepository: ...
    @property
    def media_downloads(self) -> MediaDownloadQueue: ...
    @property
    def templates(self) -> TemplateRepository: ...
    @property
    def dashboard(self) -> DashboardQueries: ...
    @property
    def contacts(self) -> ContactRepository: ...
    @property
    def consent(self) -> ConsentRepository: ...
    @property
    def retention(self) -> RetentionRepository: ...
    @property
    def contact_data(self) -> ContactDataRepository: ...


class UnitOfWork(Repositories, Protocol):
    """One database transaction: rolled back on leaving the block unless ``commit()`` was called."""

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...
    async def ping(self) -> None:
        """Prove the database answers; raise StorageUnavailable otherwise."""
        ...
