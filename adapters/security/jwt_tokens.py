"""Access tokens and browser tickets as HS256 JWTs with every claim required and checked.

Both name their session (``sid``): whether the session, its user and its tenant still grant access is
checked on every request by the application (``ResolvePrincipal``), not here. An access token
(``typ: access``) lives 15 minutes at most and goes in an Authorization header; a browser ticket
(``typ: browser``) lives as long as its session and goes in the console's HttpOnly cookie. Each is
refused where the other is expected, so a cookie lifted from a browser is no Bearer credential.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

import jwt

from application.errors import InvalidToken
from application.ports.clock import Clock
from application.ports.identity import AccessClaims, IssuedToken
from domain.administration.tenancy import Role, User

MIN_SECRET_BYTES = 32
_ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "tid", "role", "sid"]
# Access tokens live 15 minutes at most: a stolen one is useful for that long at worst, and revocation
# (checked per request against the session) does not depend on it.
MAX_TTL_SECONDS = 900
_LEEWAY_SECONDS = 5
_VERIFIED_TOKENS_KEPT = 1024
_TokenKind = Literal["access", "browser"]


class JwtTokenService:
    def __init__(self, *, secret: str, issuer: str, audience: str, ttl_seconds: int, clock: Clock) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes")
        if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"an access token lives 1 to {MAX_TTL_SECONDS} seconds")
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        # Tokens verified lately, with their claims and validity window: a client sends the same token
        # on every request for up to 15 minutes, and decoding and checking it again cost more CPU than
        # the rest of authentication. The same string has the same signature and claims; only the
        # time decides again.
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    def issue(self, user: User, session_id: UUID) -> IssuedToken:
        now = int(self._clock.now().timestamp())
        token = self._encode(user, session_id, "access", issued_at=now, expires_at=now + self._ttl_seconds)
        return IssuedToken(access_token=token, expires_in=self._ttl_seconds)

    def issue_browser_ticket(self, user: User, session_id: UUID, expires_at: datetime) -> str:
        now = int(self._clock.now().timestamp())
        return self._encode(
            user, session_id, "browser", issued_at=now, expires_at=int(expires_at.timestamp())
        )

    def verify(self, token: str) -> AccessClaims:
        return self._verified_claims(token, "access")

    def verify_browser_ticket(self, ticket: str) -> AccessClaims:
        return self._verified_claims(ticket, "browser")

    def _encode(
        self, user: User, session_id: UUID, kind: _TokenKind, *, issued_at: int, expires_at: int
    ) -> str:
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user.id),
            "tid": str(user.tenant_id),
            "role": user.role.value,
            "sid": str(session_id),
            "iat": issued_at,
            "nbf": issued_at,
            "exp": expires_at,
            "jti": uuid.uuid4().hex,
            "typ": kind,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM, headers={"typ": "JWT"})

    def _verified_claims(self, token: str, kind: _TokenKind) -> AccessClaims:
        verified = self._verified.get(token)
        if verified is None:
            verified = self._decode(token)
            self._verified[token] = verified
            if len(self._verified) > _VERIFIED_TOKENS_KEPT:
                self._verified.popitem(last=False)
        else:
            self._verified.move_to_end(token)
        if verified.kind != kind:
            raise InvalidToken(
                "the token is not an access token" if kind == "access" else "the ticket is not valid"
            )
        # The validity window is checked here, on every use, against the service's clock.
        now = self._clock.now().timestamp()
        if now >= verified.valid_until:
            raise InvalidToken(f"the {'access token' if kind == 'access' else 'ticket'} has expired")
        if now < verified.valid_from:
            raise InvalidToken("the access token is not valid yet")
        return verified.claims

    def _decode(self, token: str) -> _Verified:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],  # pinned: "none" and algorithm confusion are refused
                audience=self._audience,
                issuer=self._issuer,
                # exp, nbf and iat are checked by verify(), with the service's clock, on every use.
                options={
                    "require": _REQUIRED_CLAIMS,
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
                leeway=_LEEWAY_SECONDS,
            )
        except jwt.PyJWTError as error:
            raise InvalidToken("the access token is not valid") from error
        kind = claims.get("typ")
        if kind not in ("access", "browser"):
            raise InvalidToken("the token is not an access token")
        try:
            access = AccessClaims(
                user_id=UUID(claims["sub"]),
                tenant_id=UUID(claims["tid"]),
                role=Role(claims["role"]),
                session_id=UUID(claims["sid"]),
                token_id=str(claims["jti"]),
            )
            # Not valid before it was issued either (a token issued in the future is a forgery or a
            # clock gone wrong).
            not_before = max(_timestamp(claims["nbf"]), _timestamp(claims["iat"]))
            expires = _timestamp(claims["exp"])
        except (ValueError, TypeError, AttributeError) as error:
            raise InvalidToken("the access token is not valid") from error
        return _Verified(access, kind, not_before - _LEEWAY_SECONDS, expires + _LEEWAY_SECONDS)


def _timestamp(value: object) -> float:
    """A NumericDate claim (RFC 7519): a number of seconds; anything else makes the token invalid."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("a NumericDate is a number")
    return float(value)


@dataclass(frozen=True, slots=True)
class _Verified:
    """A token whose signature and claims were checked, and the window in which it is valid."""

    claims: AccessClaims
    kind: _TokenKind
    valid_from: float
    valid_until: float
