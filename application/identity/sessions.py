"""Sessions: refresh-token rotation with reuse detection, logout, and checking every request's credential.

Design. A login opens a session (``AuthSession``). Its refresh tokens form one family: each refresh
marks the presented token used and issues the next one; a token presented a second time means two
parties hold it (one of them a thief), so the whole session is revoked and the newest token stops
working too. Every access token names its session (the ``sid`` claim), and each request is checked
against the session, its user and the user's tenant in one indexed query: logging out, changing a
password or a role, deactivating a user and suspending a tenant take effect at the next request,
with no denylist of token ids to keep and purge — the session row exists anyway for its refresh
tokens, and revoking it revokes every access token issued in it.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from application.audit_entries import audit_entry
from application.authorization import PersonOnly, require_person
from application.errors import (
    CurrentPasswordWrong,
    InvalidInput,
    InvalidToken,
    NotFound,
)
from application.passwords import check_password_rules
from application.ports.clock import Clock
from application.ports.identity import (
    AccessCache,
    AccessClaims,
    BrowserSession,
    PasswordHasher,
    SessionAccess,
    SessionTokens,
    TokenService,
)
from application.ports.rate_limits import RateLimit, RateLimiter
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from application.rate_limits import CountedLimit, attempt
from domain.administration.audit import ANONYMOUS, AuditAction, TargetKind
from domain.administration.tenancy import User
from domain.identity.credentials import (
    AuthSession,
    RefreshToken,
    RevocationReason,
    api_key_prefix,
    hash_secret,
    is_refresh_token,
    looks_like_api_key,
    new_refresh_token,
)

logger = logging.getLogger(__name__)

# last_used_at of an API key is written at most this often: a write on every request would cost more
# than the request itself, and a minute is as precise as anyone reads it.
API_KEY_USE_RESOLUTION = timedelta(seconds=60)
# Compared against when no key has the presented prefix, so a miss costs what a hit costs.
_NO_KEY_HASH = hash_secret("wag_000000000000_no-such-key")
_REVOKED = "the access token is no longer valid; log in again"


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a session (and so its refresh tokens) lasts from login; refreshing does not extend it."""

    lifetime: timedelta


async def start_session(
    uow: UnitOfWork, tokens: TokenService, user: User, policy: SessionPolicy, clock: Clock
) -> SessionTokens:
    """Open a session for ``user`` inside the caller's unit of work (the caller commits)."""
    now = clock.now()
    session = AuthSession(
        user_id=user.id, tenant_id=user.tenant_id, created_at=now, expires_at=now + policy.lifetime
    )
    await uow.sessions.add(session)
    refresh_token = new_refresh_token()
    await uow.sessions.add_refresh_token(
        RefreshToken(token_hash=hash_secret(refresh_token), session_id=session.id, created_at=now)
    )
    access = tokens.issue(user, session.id)
    return SessionTokens(
        access_token=access.access_token,
        expires_in=access.expires_in,
        refresh_token=refresh_token,
        refresh_expires_in=int(policy.lifetime.total_seconds()),
    )


async def start_browser_session(
    uow: UnitOfWork, tokens: TokenService, user: User, policy: SessionPolicy, clock: Clock
) -> BrowserSession:
    """Open a session for ``user`` signing in to the console, inside the caller's unit of work (the
    caller commits). It has no refresh tokens: the browser's ticket lasts as long as the session, and
    every tab sends the same one, so there is nothing to rotate (and no rotation race between tabs)."""
    now = clock.now()
    session = AuthSession(
        user_id=user.id, tenant_id=user.tenant_id, created_at=now, expires_at=now + policy.lifetime
    )
    await uow.sessions.add(session)
    return BrowserSession(
        ticket=tokens.issue_browser_ticket(user, session.id, session.expires_at),
        expires_at=session.expires_at,
    )


def grants_access(access: SessionAccess, now: datetime) -> bool:
    """Whether a session still lets its user in: live, the user active, the tenant active."""
    return (
        access.session.is_live(now)
        and access.user.is_active
        and access.tenant.is_active
        and access.user.tenant_id == access.tenant.id
        and access.session.user_id == access.user.id
    )


class RefreshSession:
    """Exchange a refresh token for a new access token and the next refresh token of the family."""

    def __init__(self, uow: UnitOfWork, tokens: TokenService, clock: Clock) -> None:
        self._uow = uow
        self._tokens = tokens
        self._clock = clock

    async def __call__(self, refresh_token: str, client_address: str | None = None) -> SessionTokens:
        if not is_refresh_token(refresh_token):
            raise InvalidToken("the refresh token is not valid")
        token_hash = hash_secret(refresh_token)
        now = self._clock.now()
        async with self._uow:
            stored = await self._uow.sessions.get_refresh_token(token_hash)
            if stored is None:
                raise InvalidToken("the refresh token is not valid")
            if not await self._uow.sessions.use_refresh_token(token_hash, now):
                # Used before: whoever holds the newest token of this family, one of the two is not
                # the client the session was opened for. End the session for both.
                await self._uow.sessions.revoke(stored.session_id, now, RevocationReason.REFRESH_TOKEN_REUSED)
                ended = await self._uow.sessions.get_access(stored.session_id)
                await self._uow.audit.record(
                    audit_entry(
                        AuditAction.SESSION_ENDED,
                        ANONYMOUS,  # whoever presented the token again: one of two holders, unproven
                        now=now,
                        tenant_id=ended.tenant.id if ended else None,
                        target=(TargetKind.SESSION, stored.session_id),
                        details={"reason": RevocationReason.REFRESH_TOKEN_REUSED}
                        | ({"username": ended.user.username} if ended else {}),
                        client_address=client_address,
                    )
                )
                await self._uow.commit()
                logger.warning("refresh token reused: session %s revoked", stored.session_id)
                raise InvalidToken("the refresh token was used already; the session has been ended")
            access = await self._uow.sessions.get_access(stored.session_id)
            if access is None or not grants_access(access, now):
                raise InvalidToken("the session has ended; log in again")
            next_token = new_refresh_token()
            await self._uow.sessions.add_refresh_token(
                RefreshToken(token_hash=hash_secret(next_token), session_id=stored.session_id, created_at=now)
            )
            await self._uow.commit()
        issued = self._tokens.issue(access.user, access.session.id)
        return SessionTokens(
            access_token=issued.access_token,
            expires_in=issued.expires_in,
            refresh_token=next_token,
            refresh_expires_in=max(0, int((access.session.expires_at - now).total_seconds())),
        )


class Logout:
    """End the caller's session: its refresh tokens and every access token issued in it stop working."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal) -> None:
        require_person(principal, PersonOnly.END_SESSION)
        assert principal.session_id is not None  # a person's access token names its session
        now = self._clock.now()
        async with self._uow:
            await self._uow.sessions.revoke(principal.session_id, now, RevocationReason.LOGOUT)
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.SESSION_ENDED,
                    principal,
                    now=now,
                    tenant_id=principal.tenant_id,
                    target=(TargetKind.SESSION, principal.session_id),
                    details={"reason": RevocationReason.LOGOUT},
                )
            )
            await self._uow.commit()


class ResolvePrincipal:
    """Turn a Bearer credential (an access token or an API key) into the principal it proves, or refuse.

    Run on every request: an access token costs one indexed query (its session, user and tenant), an
    API key one lookup by its prefix (unique index) and one of its tenant.

    ``reads`` serves the access-token check, which never writes: a read-only unit of work there saves
    the transaction's round trips on every request. API keys go through ``uow``, since a use is
    recorded. Without ``reads``, ``uow`` serves both.

    ``cache`` keeps the checks of recent sessions while nothing that could revoke them changed (see
    ``AccessCache``); whatever it returns is judged again here, against the token and the clock.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        tokens: TokenService,
        clock: Clock,
        *,
        reads: UnitOfWork | None = None,
        cache: AccessCache,
    ) -> None:
        self._uow = uow
        self._reads = reads if reads is not None else uow
        self._tokens = tokens
        self._clock = clock
        self._cache = cache

    async def __call__(self, credential: str) -> Principal:
        if looks_like_api_key(credential):
            return await self._api_key(credential)
        return await self._session_principal(self._tokens.verify(credential))

    async def browser(self, ticket: str) -> Principal:
        """The principal a console ticket (the browser's cookie) proves: its session is checked as an
        access token's is, so logging out anywhere ends every tab at its next request."""
        return await self._session_principal(self._tokens.verify_browser_ticket(ticket))

    async def _session_principal(self, claims: AccessClaims) -> Principal:
        access = await self._session_access(claims.session_id)
        if (
            access is None
            or not grants_access(access, self._clock.now())
            or access.user.id != claims.user_id
            or access.tenant.id != claims.tenant_id
            or access.user.role is not claims.role
        ):
            raise InvalidToken(_REVOKED)
        return Principal(
            user_id=access.user.id,
            tenant_id=access.tenant.id,
            role=access.user.role,
            session_id=access.session.id,
        )

    async def _session_access(self, session_id: UUID) -> SessionAccess | None:
        version = self._cache.version()
        if version is not None and (cached := self._cache.get(session_id)) is not None:
            return cached
        async with self._reads:
            access = await self._reads.sessions.get_access(session_id)
        if access is not None and version is not None:
            self._cache.put(session_id, access, version)
        return access

    async def _api_key(self, credential: str) -> Principal:
        prefix = api_key_prefix(credential)
        if prefix is None:
            raise InvalidToken("the API key is not valid")
        presented = hash_secret(credential)
        now = self._clock.now()
        async with self._uow:
            key = await self._uow.api_keys.get_by_prefix(prefix)
            # Constant-time comparison, also when no key has this prefix.
            matches = hmac.compare_digest(presented, key.secret_hash if key else _NO_KEY_HASH)
            if key is None or not matches or not key.is_active:
                raise InvalidToken("the API key is not valid")
            tenant = await self._uow.tenants.get(key.tenant_id)
            if tenant is None or not tenant.is_active:
                raise InvalidToken("the API key is not valid")
            if key.last_used_at is None or now - key.last_used_at >= API_KEY_USE_RESOLUTION:
                await self._uow.api_keys.record_use(key.id, now)
                await self._uow.commit()
        return Principal(user_id=None, tenant_id=key.tenant_id, role=key.role, api_key_id=key.id)


class ChangeOwnPassword:
    """A user changes their password, proving the current one; every session of theirs ends.

    Wrong current passwords are counted like failed logins: a stolen access token does not buy unlimited
    guesses at the password.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        hasher: PasswordHasher,
        clock: Clock,
        limiter: RateLimiter,
        failure_limit: RateLimit,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock
        self._limiter = limiter
        self._failure_limit = failure_limit

    async def __call__(self, principal: Principal, current_password: str, new_password: str) -> None:
        require_person(principal, PersonOnly.CHANGE_OWN_PASSWORD)
        assert principal.user_id is not None  # what makes a principal a person
        wrong_passwords = CountedLimit(
            f"password-change-failures:user:{principal.user_id}",
            self._failure_limit,
            "too many wrong passwords; wait before trying again",
            scope="password-change",
        )
        # Reserved before the password is checked; only a wrong password stays counted.
        async with attempt(self._limiter, [wrong_passwords], failure=CurrentPasswordWrong):
            async with self._uow:
                user = await self._uow.users.get_in_tenant(principal.tenant_id, principal.user_id)
            if user is None:
                raise NotFound("the user does not exist")
            if not await self._hasher.verify(user.password_hash, current_password):
                raise CurrentPasswordWrong()
        check_password_rules(new_password)
        if new_password == current_password:
            raise InvalidInput("the new password is the current one")
        new_hash = await self._hasher.hash(new_password)
        now = self._clock.now()
        async with self._uow:
            await self._uow.users.update_password_hash(user.id, new_hash)
            ended = await self._uow.sessions.revoke_for_user(user.id, now, RevocationReason.PASSWORD_CHANGED)
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.USER_PASSWORD_CHANGED,
                    principal,
                    now=now,
                    tenant_id=user.tenant_id,
                    target=(TargetKind.USER, user.id),
                    details={"username": user.username, "sessions_ended": ended},
                )
            )
            await self._uow.commit()


class PurgeExpiredSessions:
    """Housekeeping: sessions past their lifetime (and their refresh tokens) are deleted."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self) -> int:
        async with self._uow:
            purged = await self._uow.sessions.purge_expired(self._clock.now())
            await self._uow.commit()
        return purged
