"""Users, login sessions, API keys, password hashing and access tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.administration.tenancy import Role, Tenant, User
from domain.identity.credentials import ApiKey, AuthSession, RefreshToken, RevocationReason


class UserRepository(Protocol):
    async def add(self, user: User) -> None: ...
    async def get_by_username(self, username: str) -> User | None: ...
    async def update_password_hash(self, user_id: UUID, password_hash: str) -> None: ...
    async def get_in_tenant(self, tenant_id: UUID, user_id: UUID) -> User | None: ...
    async def list_for_tenant(self, tenant_id: UUID) -> list[User]:
        """By username."""
        ...

    async def update(self, user: User) -> None:
        """Store the user's role, active flag and password hash; NotFound if it is not in its tenant."""
        ...


@dataclass(frozen=True, slots=True)
class SessionAccess:
    """A session with its user and the user's tenant: what each request's token is checked against."""

    session: AuthSession
    user: User
    tenant: Tenant


class AccessCache(Protocol):
    """Session checks this process made recently, kept only while nothing that could revoke them changed.

    ``version()`` is None while the cache cannot be trusted (it is not told of changes right now):
    then nothing is served from it. A check read from the database is kept with ``put`` only under the
    version read before the query, so a revocation that lands while the query runs is not undone by
    storing what the query saw.
    """

    def version(self) -> int | None: ...

    def get(self, session_id: UUID) -> SessionAccess | None: ...

    def put(self, session_id: UUID, access: SessionAccess, version: int) -> None: ...


class SessionRepository(Protocol):
    """Login sessions and their refresh tokens (stored by hash only)."""

    async def add(self, session: AuthSession) -> None: ...
    async def get_access(self, session_id: UUID) -> SessionAccess | None:
        """The session, its user and its tenant in one indexed query (run on every request)."""
        ...

    async def revoke(self, session_id: UUID, now: datetime, reason: RevocationReason) -> None: ...
    async def revoke_for_user(self, user_id: UUID, now: datetime, reason: RevocationReason) -> int:
        """End every live session of the user; return how many."""
        ...

    async def revoke_for_tenant(self, tenant_id: UUID, now: datetime, reason: RevocationReason) -> int: ...
    async def add_refresh_token(self, token: RefreshToken) -> None: ...
    async def get_refresh_token(self, token_hash: str) -> RefreshToken | None: ...
    async def use_refresh_token(self, token_hash: str, now: datetime) -> bool:
        """Mark the token used; False if it was used already (one conditional UPDATE: race-safe)."""
        ...

    async def purge_expired(self, now: datetime) -> int:
        """Delete sessions (with their refresh tokens) that expired before ``now``; return how many."""
        ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> None: ...
    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        """Any tenant's key with this prefix (unique, indexed): how a presented key is found."""
        ...

    async def get(self, tenant_id: UUID, key_id: UUID) -> ApiKey | None: ...
    async def list_for_tenant(self, tenant_id: UUID) -> list[ApiKey]:
        """Oldest first, revoked ones included."""
        ...

    async def revoke(self, tenant_id: UUID, key_id: UUID, now: datetime) -> bool:
        """False if the tenant has no such key or it was revoked already."""
        ...

    async def record_use(self, key_id: UUID, now: datetime) -> None:
        """Set ``last_used_at``."""
        ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...
    async def verify(self, password_hash: str, password: str) -> bool: ...
    def needs_rehash(self, password_hash: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says; whether it still grants access is checked against the session."""

    user_id: UUID
    tenant_id: UUID
    role: Role
    session_id: UUID
    token_id: str


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class SessionTokens:
    """What a login or a refresh returns: a short-lived access token and the session's next refresh token."""

    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


@dataclass(frozen=True, slots=True)
class BrowserSession:
    """What a sign-in to the console returns: a ticket for the browser's cookie, valid as long as the
    session (which each request checks, as it checks an access token's)."""

    ticket: str
    expires_at: datetime


class TokenService(Protocol):
    def issue(self, user: User, session_id: UUID) -> IssuedToken: ...
    def verify(self, token: str) -> AccessClaims:
        """Return the token's claims; raise InvalidToken unless it is a valid, unexpired access token."""
        ...

    def issue_browser_ticket(self, user: User, session_id: UUID, expires_at: datetime) -> str: ...
    def verify_browser_ticket(self, ticket: str) -> AccessClaims:
        """Return the ticket's claims; raise InvalidToken unless it is a valid, unexpired browser ticket
        (an access token is not one)."""
        ...
