"""Access tokens as HS256 JWTs with every claim required and checked.

An access token names its session (``sid``): whether the session, its user and its tenant still grant
access is checked on every request by the application (``ResolvePrincipal``), not here.
"""

from __future__ import annotations

import uuid
from uuid import UUID

import jwt

from application.errors import InvalidToken
from application.ports import AccessClaims, Clock, IssuedToken
from domain.tenancy import Role, User

MIN_SECRET_BYTES = 32
_ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "tid", "role", "sid"]
# Access tokens live 15 minutes at most: a stolen one is useful for that long at worst, and revocation
# (checked per request against the session) does not depend on it.
MAX_TTL_SECONDS = 900


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

    def issue(self, user: User, session_id: UUID) -> IssuedToken:
        now = int(self._clock.now().timestamp())
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user.id),
            "tid": str(user.tenant_id),
            "role": user.role.value,
            "sid": str(session_id),
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl_seconds,
            "jti": uuid.uuid4().hex,
            "typ": "access",
        }
        token = jwt.encode(claims, self._secret, algorithm=_ALGORITHM, headers={"typ": "JWT"})
        return IssuedToken(access_token=token, expires_in=self._ttl_seconds)

    def verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],  # pinned: "none" and algorithm confusion are refused
                audience=self._audience,
                issuer=self._issuer,
                options={"require": _REQUIRED_CLAIMS, "verify_signature": True},
                leeway=5,
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidToken("the access token has expired") from error
        except jwt.PyJWTError as error:
            raise InvalidToken("the access token is not valid") from error
        if claims.get("typ") != "access":
            raise InvalidToken("the token is not an access token")
        try:
            return AccessClaims(
                user_id=UUID(claims["sub"]),
                tenant_id=UUID(claims["tid"]),
                role=Role(claims["role"]),
                session_id=UUID(claims["sid"]),
                token_id=str(claims["jti"]),
            )
        except (ValueError, TypeError, AttributeError) as error:
            raise InvalidToken("the access token is not valid") from error
