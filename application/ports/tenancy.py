"""Tenants and their WhatsApp senders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.administration.tenancy import ProviderAccount, ProviderName, Sender, Tenant
from domain.phone import PhoneNumber


@dataclass(frozen=True, slots=True)
class TwilioSigner:
    """Who signs Twilio's callbacks for a sender: its number, its Twilio account and auth token."""

    tenant_id: UUID
    phone_number: PhoneNumber
    account_sid: str
    auth_token: str = field(repr=False)


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> None: ...
    async def get(self, tenant_id: UUID) -> Tenant | None: ...
    async def get_by_name(self, name: str) -> Tenant | None: ...
    async def count(self) -> int: ...
    async def update(self, tenant: Tenant) -> None:
        """Store the tenant's name, provider, status and session window check; NotFound if it is gone."""
        ...

    async def list_page(self, limit: int, after_name: str | None = None) -> list[Tenant]:
        """Every tenant (the platform tenant included), by name; ``after_name`` exclusive."""
        ...


@dataclass(frozen=True, slots=True)
class MetaNumber:
    """A sender on Meta's Cloud API, as Meta's webhooks name it (its phone-number id), with what proves
    a webhook for it: its account's WhatsApp Business Account (the entry a change comes under) and app
    secret, and the verify token of the subscription handshake."""

    tenant_id: UUID
    provider_number_id: str
    phone_number: PhoneNumber
    business_account_id: str
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class MetaApp:
    """What one Meta account proves Meta's webhooks with: the app secret that signs them, and the verify
    token of the subscription handshake."""

    tenant_id: UUID
    account_id: UUID
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    business_account_id: str = ""  # the WhatsApp Business Account its templates' webhooks come under


class ProviderAccountRepository(Protocol):
    """A tenant's provider accounts, their secrets sealed at rest and opened as they are read.

    A sender's account is its own (``Sender.account_id``) or else its tenant's first Twilio account (the
    one ``PUT /api/credentials`` sets): Twilio's callbacks for it are signed with that account's token.
    Which provider sends its messages is the account's when it is its own, else the tenant's provider.
    """

    async def add(self, account: ProviderAccount) -> None: ...
    async def get(self, tenant_id: UUID, account_id: UUID) -> ProviderAccount | None: ...
    async def list_for_tenant(self, tenant_id: UUID) -> list[ProviderAccount]:
        """Oldest first."""
        ...

    async def first_of(self, tenant_id: UUID, provider: ProviderName) -> ProviderAccount | None:
        """The tenant's oldest account at ``provider``."""
        ...

    async def update(self, account: ProviderAccount) -> None:
        """Store its label and credentials; NotFound if it is gone."""
        ...

    async def remove(self, tenant_id: UUID, account_id: UUID) -> bool:
        """Delete it; False if the tenant has no such account; AccountInUse while a sender sends through
        it (its own, or a Twilio tenant's first Twilio account for its senders without one)."""
        ...

    async def of_sender(self, sender: Sender) -> ProviderAccount | None:
        """``sender``'s account (see the class's docstring); None if it has none."""
        ...

    async def reseal(self) -> int:
        """Re-encrypt every account's secrets under the newest key; return how many accounts changed."""
        ...

    async def twilio_signers(self) -> list[TwilioSigner]:
        """Every sender of every tenant with a Twilio account, once for each of the tenant's Twilio
        accounts, with its SID and auth token (one query): Twilio's callbacks for a number are signed
        by whichever of them sent the message, and a number that moved to another account (or to Meta)
        still gets the late callbacks of what it sent before. Oldest sender first. An account whose
        secrets do not open is left out (and logged)."""
        ...

    async def meta_apps(self) -> list[MetaApp]:
        """Every Meta account of every tenant, with or without senders, with its app secret and verify
        token (one query). An account whose secrets do not open is left out (and logged)."""
        ...

    async def meta_number(self, provider_number_id: str) -> MetaNumber | None:
        """The sender, of whichever tenant, with this phone-number id on a Meta account of its own, with
        that account's secrets; None if there is none. CredentialsUnreadable when they do not open."""
        ...

    async def meta_numbers(self) -> list[MetaNumber]:
        """Every sender with a phone-number id on a Meta account of its own, each as ``meta_number``
        gives it (one query). One whose account's secrets do not open is left out (and logged)."""
        ...


class SenderRepository(Protocol):
    async def add(self, sender: Sender) -> None: ...
    async def get_default(self, tenant_id: UUID) -> Sender | None: ...
    async def get_by_number(self, tenant_id: UUID, phone_number: PhoneNumber) -> Sender | None:
        """The tenant's sender of this number, in whichever of its forms it was added."""
        ...

    async def list_for_tenant(self, tenant_id: UUID) -> list[Sender]: ...
    async def pause(
        self, tenant_id: UUID, phone_number: PhoneNumber, until: datetime, *, now: datetime | None = None
    ) -> bool:
        """Claim none of this sender's jobs before ``until`` (WhatsApp's limit was hit, or its account has
        a problem). With ``now``: only if it is not paused at ``now`` already (the pause it is in stands);
        True if this call paused it."""
        ...

    async def find_all_by_number(self, phone_number: PhoneNumber) -> list[Sender]:
        """Every tenant's sender with this number (Twilio's shared sandbox number serves many)."""
        ...

    async def get(self, tenant_id: UUID, sender_id: UUID) -> Sender | None: ...
    async def update_label(self, tenant_id: UUID, sender_id: UUID, label: str) -> None: ...
    async def move(
        self, tenant_id: UUID, sender_id: UUID, account_id: UUID | None, provider_number_id: str | None
    ) -> None:
        """Send through another provider account (None: the tenant's provider); its number, and so its
        conversations and history, stay. AlreadyExists if another sender has ``provider_number_id``."""
        ...

    async def make_default(self, tenant_id: UUID, sender_id: UUID) -> None:
        """Make this sender the tenant's only default one."""
        ...

    async def remove(self, tenant_id: UUID, sender_id: UUID) -> bool:
        """Delete the sender; False if the tenant has no such sender."""
        ...
