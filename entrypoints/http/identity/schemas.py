"""Identity on the wire: logging in, sessions and their tokens, passwords, API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from domain.administration.tenancy import Role
from domain.identity.credentials import ApiKey
from entrypoints.http.wire_types import TenantRole, Text

Password = Annotated[Text, msgspec.Meta(min_length=1, max_length=256)]


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[Text, msgspec.Meta(min_length=1, max_length=128)]
    password: Annotated[Text, msgspec.Meta(min_length=1, max_length=256)]


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Annotated[Text, msgspec.Meta(min_length=1, max_length=128)]


class TokenResponse(msgspec.Struct):
    access_token: str
    expires_in: int  # seconds the access token is valid (15 minutes at most)
    # Exchange at POST /auth/refresh for the next pair, once: a refresh token used twice ends the session.
    refresh_token: str
    refresh_expires_in: int  # seconds until the session ends (refreshing does not extend it)
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the token type, not a secret


class ChangePasswordRequest(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Password
    new_password: Annotated[
        Text, msgspec.Meta(min_length=1, max_length=256, description="8 to 256 characters")
    ]


class CreateApiKeyRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[Text, msgspec.Meta(min_length=1, max_length=100, examples=["order system"])]
    role: TenantRole = "agent"


class ApiKeyResource(msgspec.Struct):
    id: UUID
    name: str
    prefix: str  # the visible part of the key: wag_<prefix>_…
    role: Role
    active: bool
    created_at: datetime
    created_by: UUID | None
    last_used_at: datetime | None  # to the minute
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyResource:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            role=key.role,
            active=key.is_active,
            created_at=key.created_at,
            created_by=key.created_by,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class CreatedApiKeyResource(ApiKeyResource):
    """The new key, with the whole key in ``key``: shown this once, never again."""

    key: str

    @classmethod
    def of_created(cls, api_key: ApiKey, key: str) -> CreatedApiKeyResource:
        return cls(**msgspec.structs.asdict(ApiKeyResource.of(api_key)), key=key)
