"""Access tokens as HS256 JWTs with every claim required and checked."""

from __future__ import annotations

import uuid
from uuid import UUID

import jwt

from application.errors import InvalidToken
from application.ports import Clock, IssuedToken, Principal
from domain.tenancy import Role, User

MIN_SECRET_BYTES = 32
_ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "tid", "role"]


class JwtTokenService:
    def __init__(self, *, secret: str, issuer: str, audience: str, ttl_seconds: int, clock: Clock) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._ttl_seconds = ttl_seconds
        self._clock = clock

    def issue(self, user: User) -> IssuedToken:
        now = int(self._clock.now().timestamp())
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user.id),
            "tid": str(user.tenant_id),
            "role": user.role.value,
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl_seconds,
            "jti": uuid.uuid4().hex,
            "typ": "access",
        }
        token = jwt.encode(claims, self._secret, algorithm=_ALGORITHM, headers={"typ": "JWT"})
        return IssuedToken(access_token=token, expires_in=self._ttl_seconds)

    def verify(self, token: str) -> Principal:
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
            return Principal(
                user_id=UUID(claims["sub"]), tenant_id=UUID(claims["tid"]), role=Role(claims["role"])
            )
        except (ValueError, TypeError) as error:
            raise InvalidToken("the access token is not valid") from error
