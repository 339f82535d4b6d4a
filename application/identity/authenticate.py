from __future__ import annotations

from application.audit_entries import audit_entry
from application.errors import AuthenticationFailed
from application.identity.sessions import SessionPolicy, start_browser_session, start_session
from application.ports.clock import Clock
from application.ports.identity import BrowserSession, PasswordHasher, SessionTokens, TokenService
from application.ports.rate_limits import RateLimit, RateLimiter
from application.ports.unit_of_work import UnitOfWork
from application.principal import UNKNOWN_CLIENT_ADDRESS
from application.rate_limits import CountedLimit, attempt
from domain.administration.audit import ANONYMOUS, ActorKind, AuditAction, AuditActor, TargetKind
from domain.administration.tenancy import User

# A valid argon2id hash (of a random password) with the default cost: verifying against it costs as
# much as verifying a real user's hash, so an unknown username answers in about the same time.
_TIMING_EQUALISER_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$Ga8xRaVlGZW9ABu6mIuLwxvJ2lPXvIqeGJ9sbTQTGDs"
)


class Authenticate:
    """Exchange a username and password for a new session: an access token and a refresh token.

    Failed attempts are counted per username *from one client address* and per client address; past
    ``failure_limit`` the caller must wait (429) before trying again, whether or not the next password
    would be right. The per-account count is keyed by the address too, so that nobody can lock a user
    out by failing logins in their name from elsewhere: the lockout only ever holds the address that
    failed, and it decays (a sliding window of ``failure_limit.per_seconds``), so it is never permanent.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        hasher: PasswordHasher,
        tokens: TokenService,
        limiter: RateLimiter,
        failure_limit: RateLimit,
        clock: Clock,
        sessions: SessionPolicy,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens
        self._limiter = limiter
        self._failure_limit = failure_limit
        self._clock = clock
        self._sessions = sessions

    async def __call__(
        self, username: str, password: str, client_address: str = UNKNOWN_CLIENT_ADDRESS
    ) -> SessionTokens:
        user = await self._admitted(username, password, client_address)
        async with self._uow:
            issued = await start_session(self._uow, self._tokens, user, self._sessions, self._clock)
            await self._succeeded(user, client_address)
        return issued

    async def sign_in_browser(
        self, username: str, password: str, client_address: str = UNKNOWN_CLIENT_ADDRESS
    ) -> BrowserSession:
        """The same checks, limits and audit as a login, for the web console: a session whose ticket
        goes in the browser's cookie instead of tokens."""
        user = await self._admitted(username, password, client_address)
        async with self._uow:
            browser = await start_browser_session(self._uow, self._tokens, user, self._sessions, self._clock)
            await self._succeeded(user, client_address)
        return browser

    async def _admitted(self, username: str, password: str, client_address: str) -> User:
        username = username.strip().lower()
        refusal = "too many failed logins; wait before trying again"
        failures = [
            CountedLimit(key, self._failure_limit, refusal, scope="login")
            for key in (
                f"login-failures:user:{username}:address:{client_address}",
                f"login-failures:address:{client_address}",
            )
        ]
        # Reserved before the password is checked; only a refused login stays counted.
        async with attempt(self._limiter, failures, failure=AuthenticationFailed):
            return await self._checked_user(username, password, client_address)

    async def _checked_user(self, username: str, password: str, client_address: str) -> User:
        async with self._uow:
            user = await self._uow.users.get_by_username(username)
            tenant = await self._uow.tenants.get(user.tenant_id) if user else None
        if user is None:
            await self._hasher.verify(_TIMING_EQUALISER_HASH, password)
            await self._refused(None, "unknown_user", client_address)
            raise AuthenticationFailed()
        if not await self._hasher.verify(user.password_hash, password):
            await self._refused(user, "wrong_password", client_address)
            raise AuthenticationFailed()
        # A disabled account or a suspended tenant gets the same answer: nothing to probe.
        if not user.is_active or tenant is None or not tenant.is_active:
            reason = "user_deactivated" if not user.is_active else "tenant_suspended"
            await self._refused(user, reason, client_address)
            raise AuthenticationFailed()
        if self._hasher.needs_rehash(user.password_hash):
            new_hash = await self._hasher.hash(password)
            async with self._uow:
                await self._uow.users.update_password_hash(user.id, new_hash)
                await self._uow.commit()
        return user

    async def _succeeded(self, user: User, client_address: str) -> None:
        """Record the login and commit the caller's unit of work, which opened the session."""
        await self._uow.audit.record(
            audit_entry(
                AuditAction.LOGIN_SUCCEEDED,
                AuditActor(kind=ActorKind.USER, id=user.id, role=user.role),
                now=self._clock.now(),
                tenant_id=user.tenant_id,
                target=(TargetKind.USER, user.id),
                details={"username": user.username},
                client_address=client_address,
            )
        )
        await self._uow.commit()

    async def _refused(self, user: User | None, reason: str, client_address: str) -> None:
        """Record a refused login, in a transaction of its own (nothing else is written). The username
        typed is kept only when it is a user's: a mistyped one may be a password."""
        async with self._uow:
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.LOGIN_REFUSED,
                    ANONYMOUS,
                    now=self._clock.now(),
                    tenant_id=user.tenant_id if user else None,
                    target=(TargetKind.USER, user.id) if user else None,
                    details={"reason": reason} | ({"username": user.username} if user else {}),
                    client_address=client_address,
                )
            )
            await self._uow.commit()
