"""A tenant's template catalogue: each template, and where it exists (the provider accounts it was
created on, with the provider's id for it, its approval status and its quality)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID, uuid4

from domain.administration.tenancy import ProviderName
from domain.templates.definition import TemplateDefinition


class TemplateStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAUSED = "paused"  # Meta paused it for low quality: it cannot be sent for a while
    DISABLED = "disabled"  # Meta disabled it for repeated low quality: it cannot be sent again

    @property
    def sendable(self) -> bool:
        return self is TemplateStatus.APPROVED


class TemplateQuality(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TemplateListing:
    """A template as it exists at one provider account. ``account_id`` is None for the sandbox (a
    tenant's built-in provider, which has no account); ``provider_template_id`` is Meta's template id or
    Twilio's Content SID."""

    provider: ProviderName
    account_id: UUID | None
    provider_template_id: str
    status: TemplateStatus
    status_changed_at: datetime
    rejection_reason: str | None = None
    quality: TemplateQuality | None = None

    def with_status(self, status: TemplateStatus, reason: str | None, at: datetime) -> TemplateListing:
        if status is self.status and reason == self.rejection_reason:
            return self
        return replace(
            self,
            status=status,
            rejection_reason=reason if status is TemplateStatus.REJECTED else None,
            status_changed_at=at,
        )


@dataclass(frozen=True, slots=True)
class CatalogueTemplate:
    """One of a tenant's templates, by name and language, and its listings (one per account)."""

    tenant_id: UUID
    definition: TemplateDefinition
    listings: tuple[TemplateListing, ...]
    created_at: datetime
    updated_at: datetime
    id: UUID = field(default_factory=uuid4)

    def listing_for(self, account_id: UUID | None) -> TemplateListing | None:
        return next((item for item in self.listings if item.account_id == account_id), None)

    def with_listing(self, listing: TemplateListing, at: datetime) -> CatalogueTemplate:
        """This template with ``listing`` replacing the one of its account (or added)."""
        others = tuple(item for item in self.listings if item.account_id != listing.account_id)
        return replace(self, listings=(*others, listing), updated_at=at)

    def without_listing(self, account_id: UUID | None, at: datetime) -> CatalogueTemplate:
        return replace(
            self,
            listings=tuple(item for item in self.listings if item.account_id != account_id),
            updated_at=at,
        )
