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
    """A messaging provider: who sends a sender's messages."""

    SANDBOX = "sandbox"
    TWILIO = "twilio"
    META = "meta"  # Meta's WhatsApp Cloud API


class Role(enum.StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    TENANT_ADMIN = "tenant_admin"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str
    # The provider of the tenant's senders that belong to no provider account of their own: the
    # sandbox, or Twilio through the tenant's first Twilio account.
    provider: ProviderName
    created_at: datetime
    status: TenantStatus = TenantStatus.ACTIVE
    # Only a sandbox tenant may switch the 24-hour window check off (nothing reaches WhatsApp there).
    session_window_check: bool = True
    # Messages the tenant may send per minute and per day; None: the gateway's defaults (settings).
    sends_per_minute: int | None = None
    sends_per_day: int | None = None
    # The IANA time zone the tenant's calendar days and quiet hours are told in (campaigns).
    time_zone: str = "UTC"
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


def _check_secret(
    secret: str, name: str, provider: str = "Twilio", max_length: int = _MAX_SECRET_LENGTH
) -> None:
    if not 1 <= len(secret) <= max_length or any(c.isspace() for c in secret):
        raise InvalidCredentials(f"the {provider} {name} is empty, too long or has spaces")


def _mask(secret: str) -> str:
    """At most the last four characters of a secret are ever shown."""
    return f"****{secret[-4:]}" if len(secret) >= 12 else "****"


_META_ID = re.compile(r"[0-9]{1,32}")
_GRAPH_API_VERSION = re.compile(r"v[0-9]{1,3}\.[0-9]{1,2}")
DEFAULT_GRAPH_API_VERSION = "v23.0"
# Meta's access tokens (system-user tokens especially) run to a few hundred characters.
_MAX_ACCESS_TOKEN_LENGTH = 1024


def is_meta_id(value: str) -> bool:
    """Whether ``value`` has the form of a Meta object id (a WhatsApp Business Account, a phone number)."""
    return _META_ID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class MetaCredentials:
    """A WhatsApp Business Account on Meta's Cloud API, and the app the gateway uses it through.

    The access token authenticates every Graph API call; the app secret signs Meta's webhooks
    (``X-Hub-Signature-256``); the verify token is what the webhook subscription's handshake echoes.
    """

    business_account_id: str
    access_token: str
    app_secret: str
    verify_token: str
    graph_api_version: str = DEFAULT_GRAPH_API_VERSION

    def __post_init__(self) -> None:
        if not is_meta_id(self.business_account_id):
            raise InvalidCredentials("a WhatsApp Business Account id is 1 to 32 digits")
        _check_secret(self.access_token, "access token", "Meta", _MAX_ACCESS_TOKEN_LENGTH)
        _check_secret(self.app_secret, "app secret", "Meta")
        _check_secret(self.verify_token, "webhook verify token", "Meta")
        if not _GRAPH_API_VERSION.fullmatch(self.graph_api_version):
            raise InvalidCredentials("a Graph API version reads like 'v23.0'")

    def __repr__(self) -> str:
        return (
            f"MetaCredentials(business_account_id={self.business_account_id!r}, "
            f"access_token={_mask(self.access_token)!r}, graph_api_version={self.graph_api_version!r})"
        )


ProviderCredentials = TwilioCredentials | MetaCredentials


def provider_of(credentials: ProviderCredentials) -> ProviderName:
    return ProviderName.TWILIO if isinstance(credentials, TwilioCredentials) else ProviderName.META


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    """A tenant's account at a messaging provider; each of its senders sends through one."""

    tenant_id: UUID
    credentials: ProviderCredentials = field(repr=False)
    created_at: datetime
    label: str = ""
    id: UUID = field(default_factory=uuid4)

    @property
    def provider(self) -> ProviderName:
        return provider_of(self.credentials)

    def with_credentials(self, credentials: ProviderCredentials) -> ProviderAccount:
        if provider_of(credentials) is not self.provider:
            raise InvalidCredentials(f"this account is a {self.provider} account: its provider stays")
        return replace(self, credentials=credentials)


@dataclass(frozen=True, slots=True)
class Sender:
    """A WhatsApp number a tenant sends from.

    ``account_id`` is the provider account it sends through (None: the tenant's provider, see
    ``Tenant.provider``); ``provider_number_id`` is the provider's own id of the number, which Meta's
    Cloud API sends from and routes webhooks by.
    """

    tenant_id: UUID
    phone_number: PhoneNumber
    created_at: datetime
    is_default: bool = False
    label: str = ""
    account_id: UUID | None = None
    provider_number_id: str | None = None
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        if self.provider_number_id is not None and not is_meta_id(self.provider_number_id):
            raise InvalidCredentials("a phone number id is 1 to 32 digits")


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
