"""How callers prove who they are besides a password: login sessions with rotating refresh tokens, and
API keys for servers. Also the platform tenant, which platform admins belong to.

Refresh tokens and API keys are opaque random strings with 256 bits of entropy. Only their SHA-256 is
stored: for a secret that cannot be guessed a fast hash is enough (a slow password hash guards against
guessing low-entropy passwords, which these are not), and it lets a token be found by its hash.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from domain.administration.tenancy import Role

# Platform admins manage tenants. They belong to this reserved tenant, which has no senders, no other
# users and no messages, and they are only let into /admin routes: a platform admin reads no tenant's
# data through the API.
PLATFORM_TENANT_ID = UUID(int=0)
PLATFORM_TENANT_NAME = "platform"

# The roles a tenant's users and API keys can have.
TENANT_ROLES = frozenset({Role.AGENT, Role.TENANT_ADMIN})

REFRESH_TOKEN_PREFIX = "wagrt_"  # noqa: S105 - a prefix, not a secret
API_KEY_PREFIX = "wag_"
_RANDOM_BYTES = 32  # 256 bits
_API_KEY_ID_HEX = 12  # the visible part: 48 bits, enough to find a key, useless to use one
_API_KEY = re.compile(r"^wag_(?P<prefix>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
_REFRESH_TOKEN = re.compile(r"^wagrt_[A-Za-z0-9_-]{43}$")


def hash_secret(token: str) -> str:
    """The SHA-256 of a high-entropy token, in hex: what is stored instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def is_refresh_token(text: str) -> bool:
    return _REFRESH_TOKEN.fullmatch(text) is not None


class RevocationReason(enum.StrEnum):
    LOGOUT = "logout"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"  # noqa: S105 - a reason, not a secret
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a reason, not a secret
    ROLE_CHANGED = "role_changed"
    USER_DEACTIVATED = "user_deactivated"
    TENANT_SUSPENDED = "tenant_suspended"


@dataclass(frozen=True, slots=True)
class AuthSession:
    """One login. Its refresh tokens form a family (rotated on every refresh), and its access tokens
    carry its id: revoking the session ends the whole family and every access token issued in it.

    A session lasts until ``expires_at`` at most; refreshing does not extend it.
    """

    user_id: UUID
    tenant_id: UUID
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: RevocationReason | None = None
    id: UUID = field(default_factory=uuid4)

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """A refresh token, by its hash. ``used_at`` is set when it is exchanged: a second use is a reuse."""

    token_hash: str
    session_id: UUID
    created_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A tenant's key for server-to-server calls, with the role it acts as.

    The key itself (``wag_<prefix>_<secret>``) is shown once, when it is created; ``prefix`` is stored
    in clear (to find the key and to show which key is which) and ``secret_hash`` is the SHA-256 of the
    whole key.
    """

    tenant_id: UUID
    name: str
    prefix: str
    secret_hash: str
    role: Role
    created_at: datetime
    created_by: UUID | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    id: UUID = field(default_factory=uuid4)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def display(self) -> str:
        """How a key is shown after creation: its prefix only."""
        return f"{API_KEY_PREFIX}{self.prefix}_…"


@dataclass(frozen=True, slots=True)
class NewApiKeySecret:
    """A freshly generated key: ``key`` goes to the client once, the rest is stored."""

    key: str
    prefix: str
    secret_hash: str


def new_api_key_secret() -> NewApiKeySecret:
    prefix = secrets.token_hex(_API_KEY_ID_HEX // 2)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(_RANDOM_BYTES)}"
    return NewApiKeySecret(key=key, prefix=prefix, secret_hash=hash_secret(key))


def looks_like_api_key(text: str) -> bool:
    """Whether a Bearer credential is meant as an API key (rather than an access token)."""
    return text.startswith(API_KEY_PREFIX)


def api_key_prefix(text: str) -> str | None:
    """The prefix of a well-formed API key, or None."""
    match = _API_KEY.fullmatch(text)
    return match.group("prefix") if match else None
