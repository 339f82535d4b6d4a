"""Tenants and their WhatsApp senders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.administration.tenancy import Sender, Tenant, TwilioCredentials
from domain.phone import PhoneNumber


@dataclass(frozen=True, slots=True)
class TwilioSigner:
    """Who signs Twilio's callbacks for a sender: its number, its tenant's Twilio account and auth token."""

    tenant_id: UUID
    phone_number: PhoneNumber
    account_sid: str
    auth_token: str


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> None: ...
    async def get(self, tenant_id: UUID) -> Tenant | None: ...
    async def get_by_name(self, name: str) -> Tenant | None: ...
    async def count(self) -> int: ...
    async def set_twilio_credentials(self, tenant_id: UUID, credentials: TwilioCredentials) -> None: ...
    async def get_twilio_credentials(self, tenant_id: UUID) -> TwilioCredentials | None: ...
    async def update(self, tenant: Tenant) -> None:
        """Store the tenant's name, provider, status and session window check; NotFound if it is gone."""
        ...

    async def list_page(self, limit: int, after_name: str | None = None) -> list[Tenant]:
        """Every tenant (the platform tenant included), by name; ``after_name`` exclusive."""
        ...

    async def reseal_credentials(self) -> int:
        """Re-encrypt every tenant's stored credentials under the newest key; return how many changed."""
        ...

    async def twilio_signers(self) -> list[TwilioSigner]:
        """Every sender of every tenant that has Twilio credentials, with them (one query). A tenant
        whose credentials do not open is left out (and logged)."""
        ...


class SenderRepository(Protocol):
    async def add(self, sender: Sender) -> None: ...
    async def get_default(self, tenant_id: UUID) -> Sender | None: ...
    async def get_by_number(self, tenant_id: UUID, phone_number: PhoneNumber) -> Sender | None:
        """The tenant's sender of this number, in whichever of its forms it was added."""
        ...

    async def list_for_tenant(self, tenant_id: UUID) -> list[Sender]: ...
    async def pause(self, tenant_id: UUID, phone_number: PhoneNumber, until: datetime) -> None:
        """Claim none of this sender's jobs before ``until`` (WhatsApp's messaging limit was hit)."""
        ...

    async def find_all_by_number(self, phone_number: PhoneNumber) -> list[Sender]:
        """Every tenant's sender with this number (Twilio's shared sandbox number serves many)."""
        ...

    async def get(self, tenant_id: UUID, sender_id: UUID) -> Sender | None: ...
    async def update_label(self, tenant_id: UUID, sender_id: UUID, label: str) -> None: ...
    async def make_default(self, tenant_id: UUID, sender_id: UUID) -> None:
        """Make this sender the tenant's only default one."""
        ...

    async def remove(self, tenant_id: UUID, sender_id: UUID) -> bool:
        """Delete the sender; False if the tenant has no such sender."""
        ...
