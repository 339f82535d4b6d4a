"""Ports of the template catalogue: where the catalogue is stored, and each provider's own catalogue of
an account's templates (Meta's message templates of a WhatsApp Business Account, Twilio's Content API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from domain.administration.tenancy import ProviderAccount, ProviderName
from domain.templates.catalogue import CatalogueTemplate, TemplateQuality, TemplateStatus
from domain.templates.definition import TemplateDefinition


@dataclass(frozen=True, slots=True)
class ListingAt:
    """A provider account a template is listed at (``account_id`` None: the sandbox's)."""

    provider: ProviderName
    account_id: UUID | None


@dataclass(frozen=True, slots=True)
class TemplateQuery:
    """A page of a tenant's catalogue, by name then language; ``after`` is the last (name, language) of
    the previous page. ``status`` keeps the templates with a listing in that status; ``listed_at`` the
    templates with a listing at that account (in ``status``, if given)."""

    tenant_id: UUID
    limit: int
    after: tuple[str, str] | None = None
    name: str | None = None
    status: TemplateStatus | None = None
    listed_at: ListingAt | None = None


class TemplateRepository(Protocol):
    async def add(self, template: CatalogueTemplate) -> None:
        """Store a new template; AlreadyExists if the tenant has one of that name and language."""
        ...

    async def get(self, tenant_id: UUID, template_id: UUID) -> CatalogueTemplate | None: ...

    async def find(self, tenant_id: UUID, name: str, language: str) -> CatalogueTemplate | None: ...

    async def list_page(self, query: TemplateQuery) -> list[CatalogueTemplate]: ...

    async def list_all(self, tenant_id: UUID) -> list[CatalogueTemplate]:
        """Every template of the tenant, by name and language (catalogues are hundreds, not millions)."""
        ...

    async def update(self, template: CatalogueTemplate) -> None:
        """Store the template's definition and listings as they are now; NotFound if it is gone."""
        ...

    async def remove(self, tenant_id: UUID, template_id: UUID) -> bool: ...

    async def with_provider_id(
        self, provider: ProviderName, provider_template_id: str
    ) -> CatalogueTemplate | None:
        """The template (of whichever tenant) listed at a provider under that id: how a provider's status
        webhook, which names no tenant, finds it."""
        ...

    async def claim_sync(self, tenant_id: UUID, now: datetime, every: timedelta) -> bool:
        """Take the tenant's periodic sync for this round: True, and the claim dated ``now``, when it was
        never claimed or last claimed at least ``every`` before ``now``; False otherwise. Of callers
        racing for one tenant (every process runs the periodic sync) only one gets True: a claim waits
        for the transaction of a racing one to end."""
        ...


@dataclass(frozen=True, slots=True)
class RemoteTemplate:
    """A template as a provider account's own catalogue has it. ``definition`` is None when the provider
    has it in a shape the gateway cannot read (it is then left out of the catalogue)."""

    provider_template_id: str
    name: str
    language: str
    status: TemplateStatus
    definition: TemplateDefinition | None
    rejection_reason: str | None = None
    quality: TemplateQuality | None = None


class TemplateProviderRefused(Exception):
    """The provider refused the template (its words are safe to show); nothing was created or changed."""


class TemplateProviderUnavailable(Exception):
    """The provider could not be reached or did not answer usably; try again later."""


class TemplateProvider(Protocol):
    """One provider's catalogue of an account's templates. Raises TemplateProviderRefused or
    TemplateProviderUnavailable."""

    async def create(self, account: ProviderAccount, definition: TemplateDefinition) -> RemoteTemplate:
        """Create the template and ask for its approval; the answer is its id and status (pending,
        usually)."""
        ...

    async def update(
        self, account: ProviderAccount, provider_template_id: str, definition: TemplateDefinition
    ) -> RemoteTemplate:
        """Change the template's content. The answer may carry a new id (a provider whose templates
        cannot change makes a new one and removes the old)."""
        ...

    async def delete(self, account: ProviderAccount, template: RemoteTemplate) -> None:
        """Delete the template (gone already counts as deleted)."""
        ...

    async def list(self, account: ProviderAccount) -> list[RemoteTemplate]:
        """Every template of the account, with its status: the ones made in the provider's console too."""
        ...


@dataclass(frozen=True, slots=True)
class TemplateStatusUpdate:
    """A provider's word that a template's status or quality changed (Meta's
    ``message_template_status_update`` and ``message_template_quality_update`` webhooks).

    ``status`` None: only the quality changed."""

    provider: ProviderName
    business_account_id: str
    provider_template_id: str
    name: str | None
    language: str | None
    status: TemplateStatus | None
    reason: str | None
    quality: TemplateQuality | None
    at: datetime


class TemplateProviders(Protocol):
    """Every provider's catalogue behind one port, chosen by the account a template is listed on: its
    provider's for an account, the sandbox's for ``None`` (a tenant's built-in provider has no account).
    Raises TemplateProviderRefused or TemplateProviderUnavailable (a provider not enabled here is
    unavailable)."""

    async def create(
        self, account: ProviderAccount | None, definition: TemplateDefinition
    ) -> RemoteTemplate: ...

    async def update(
        self, account: ProviderAccount | None, provider_template_id: str, definition: TemplateDefinition
    ) -> RemoteTemplate: ...

    async def delete(self, account: ProviderAccount | None, template: RemoteTemplate) -> None: ...

    async def list(self, account: ProviderAccount | None) -> list[RemoteTemplate]: ...
