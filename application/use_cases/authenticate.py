from __future__ import annotations

from application.errors import AuthenticationFailed
from application.ports import (
    Clock,
    PasswordHasher,
    RateLimit,
    RateLimiter,
    SessionTokens,
    TokenService,
    UnitOfWork,
)
from application.use_cases.attempts import give_back_attempt, reserve_attempt
from application.use_cases.sessions import SessionPolicy, start_session

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

    async def __call__(self, username: str, password: str, client_address: str = "unknown") -> SessionTokens:
        username = username.strip().lower()
        failure_keys = (
            f"login-failures:user:{username}:address:{client_address}",
            f"login-failures:address:{client_address}",
        )
        # Reserved before the password is checked, given back if it was right: only failures count.
        await reserve_attempt(
            self._limiter,
            failure_keys,
            self._failure_limit,
            refusal="too many failed logins; wait before trying again",
            scope="login",
        )
        issued = await self._authenticate(username, password)
        await give_back_attempt(self._limiter, failure_keys, self._failure_limit)
        return issued

    async def _authenticate(self, username: str, password: str) -> SessionTokens:
        async with self._uow:
            user = await self._uow.users.get_by_username(username)
            tenant = await self._uow.tenants.get(user.tenant_id) if user else None
        if user is None:
            await self._hasher.verify(_TIMING_EQUALISER_HASH, password)
            raise AuthenticationFailed()
        if not await self._hasher.verify(user.password_hash, password):
            raise AuthenticationFailed()
        # A disabled account or a suspended tenant gets the same answer: nothing to probe.
        if not user.is_active or tenant is None or not tenant.is_active:
            raise AuthenticationFailed()
        new_hash = (
            await self._hasher.hash(password) if self._hasher.needs_rehash(user.password_hash) else None
        )
        async with self._uow:
            if new_hash is not None:
                await self._uow.users.update_password_hash(user.id, new_hash)
            issued = await start_session(self._uow, self._tokens, user, self._sessions, self._clock)
            await self._uow.commit()
        return issued
