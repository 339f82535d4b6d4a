"""Tenants, their WhatsApp senders and their users."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID, uuid4

from domain.errors import InvalidCredentials
from domain.phone import PhoneNumber

_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_KEY_SID = re.compile(r"SK[0-9a-fA-F]{32}")
_MAX_SECRET_LENGTH = 128


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class ProviderName(enum.StrEnum):
    """Which messaging provider sends a tenant's messages."""

    SANDBOX = "sandbox"
    TWILIO = "twilio"


class Role(enum.StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    TENANT_ADMIN = "tenant_admin"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str
    provider: ProviderName
    created_at: datetime
    status: TenantStatus = TenantStatus.ACTIVE
    id: UUID = field(default_factory=uuid4)

    @property
    def is_active(self) -> bool:
        return self.status is TenantStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class TwilioCredentials:
    """A tenant's own Twilio account. ``key_sid`` is set when an API key is used instead of the auth token."""

    account_sid: str
    secret: str
    key_sid: str | None = None

    def __post_init__(self) -> None:
        if not _ACCOUNT_SID.fullmatch(self.account_sid):
            raise InvalidCredentials("a Twilio Account SID is 'AC' and 32 hexadecimal digits")
        if self.key_sid is not None and not _KEY_SID.fullmatch(self.key_sid):
            raise InvalidCredentials("a Twilio API Key SID is 'SK' and 32 hexadecimal digits")
        if not 1 <= len(self.secret) <= _MAX_SECRET_LENGTH or any(c.isspace() for c in self.secret):
            raise InvalidCredentials("the Twilio auth token (or API key secret) is empty, too long or spaced")

    @property
    def masked_secret(self) -> str:
        return f"****{self.secret[-4:]}" if len(self.secret) >= 8 else "****"

    def __repr__(self) -> str:
        return (
            f"TwilioCredentials(account_sid={self.account_sid!r}, key_sid={self.key_sid!r}, secret=<hidden>)"
        )


@dataclass(frozen=True, slots=True)
class Sender:
    """A WhatsApp number a tenant sends from."""

    tenant_id: UUID
    phone_number: PhoneNumber
    created_at: datetime
    is_default: bool = False
    label: str = ""
    id: UUID = field(default_factory=uuid4)


@dataclass(frozen=True, slots=True)
class User:
    tenant_id: UUID
    username: str
    password_hash: str
    created_at: datetime
    role: Role = Role.AGENT
    is_active: bool = True
    id: UUID = field(default_factory=uuid4)

    def with_password_hash(self, password_hash: str) -> User:
        return replace(self, password_hash=password_hash)
