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


def is_twilio_account_sid(value: str) -> bool:
    """Whether ``value`` has the form of a Twilio Account SID ('AC' and 32 hexadecimal digits)."""
    return _ACCOUNT_SID.fullmatch(value) is not None


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
    # Only a sandbox tenant may switch the 24-hour window check off (nothing reaches WhatsApp there).
    session_window_check: bool = True
    # Messages the tenant may send per minute and per day; None: the gateway's defaults (settings).
    sends_per_minute: int | None = None
    sends_per_day: int | None = None
    id: UUID = field(default_factory=uuid4)

    @property
    def is_active(self) -> bool:
        return self.status is TenantStatus.ACTIVE

    @property
    def enforces_session_window(self) -> bool:
        return self.session_window_check or self.provider is not ProviderName.SANDBOX


@dataclass(frozen=True, slots=True)
class TwilioCredentials:
    """A tenant's own Twilio account.

    The auth token is always needed: Twilio signs its webhooks with it. An API key (SID + secret), when
    given, is what API requests authenticate with instead, so the token itself never travels.
    """

    account_sid: str
    auth_token: str
    api_key_sid: str | None = None
    api_key_secret: str | None = None

    def __post_init__(self) -> None:
        if not _ACCOUNT_SID.fullmatch(self.account_sid):
            raise InvalidCredentials("a Twilio Account SID is 'AC' and 32 hexadecimal digits")
        _check_secret(self.auth_token, "auth token")
        if (self.api_key_sid is None) != (self.api_key_secret is None):
            raise InvalidCredentials("an API key needs both its SID and its secret")
        if self.api_key_sid is not None:
            if not _KEY_SID.fullmatch(self.api_key_sid):
                raise InvalidCredentials("a Twilio API Key SID is 'SK' and 32 hexadecimal digits")
            _check_secret(self.api_key_secret or "", "API key secret")

    @property
    def api_username(self) -> str:
        return self.api_key_sid or self.account_sid

    @property
    def api_password(self) -> str:
        return self.api_key_secret or self.auth_token

    @property
    def masked_auth_token(self) -> str:
        return _mask(self.auth_token)

    def __repr__(self) -> str:
        return (
            f"TwilioCredentials(account_sid={self.account_sid!r}, auth_token={_mask(self.auth_token)!r}, "
            f"api_key_sid={self.api_key_sid!r})"
        )


def _check_secret(secret: str, name: str) -> None:
    if not 1 <= len(secret) <= _MAX_SECRET_LENGTH or any(c.isspace() for c in secret):
        raise InvalidCredentials(f"the Twilio {name} is empty, too long or has spaces")


def _mask(secret: str) -> str:
    """At most the last four characters of a secret are ever shown."""
    return f"****{secret[-4:]}" if len(secret) >= 12 else "****"


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
