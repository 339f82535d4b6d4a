"""Who is calling: the authenticated user or API key a use case acts for."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.administration.tenancy import Role

# The client address of a request whose connection's peer is not known.
UNKNOWN_CLIENT_ADDRESS = "unknown"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as proven by an access token (a user in a session) or an API key (no user)."""

    user_id: UUID | None
    tenant_id: UUID
    role: Role
    session_id: UUID | None = None
    api_key_id: UUID | None = None
    # The address the request came from, where the entrypoint knows it: for the audit trail.
    client_address: str | None = None

    @property
    def is_user(self) -> bool:
        return self.user_id is not None
