"""Who may call each route. Deny by default: every route declares its access in its ``opt``, and one
app-wide guard enforces the declaration before anything else of the route runs.

- ``allow(*roles)``: a Bearer credential is required, an access token of a user with one of the roles
  or (unless ``api_keys=False``) an API key with one of them. Anything else is 401 (no or a bad
  credential) or 403 (a good one with the wrong role).
- ``public(reason)``: no Bearer credential; ``reason`` says what protects the route instead (nothing,
  a password, Twilio's signature, a metrics token ...).
- A route that declares nothing is refused (403) for everyone, and the route walker test fails.

Roles: agents send and read; tenant admins do what agents do and manage their tenant's users, senders,
Twilio credentials and API keys; platform admins manage tenants through ``/admin`` and nothing else,
so they read no tenant's messages. API keys act as an agent or a tenant admin of their tenant, but
cannot manage API keys (a leaked key cannot mint its successors) nor log out or change a password.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from application.errors import AccessDenied, InvalidToken
from application.ports import Principal
from domain.tenancy import Role

logger = logging.getLogger(__name__)

ACCESS_OPT = "access"
_PRINCIPAL_KEY = "wa_gateway.principal"


@dataclass(frozen=True, slots=True)
class Access:
    roles: frozenset[Role] = frozenset()
    api_keys: bool = False
    public_because: str | None = None

    @property
    def is_public(self) -> bool:
        return self.public_because is not None

    def admits(self, principal: Principal) -> bool:
        return principal.role in self.roles and (principal.is_user or self.api_keys)


def allow(*roles: Role, api_keys: bool = True) -> dict[str, Access]:
    """The ``opt`` of a route that needs a Bearer credential with one of ``roles``."""
    if not roles:
        raise ValueError("name at least one role, or declare the route public")
    return {ACCESS_OPT: Access(roles=frozenset(roles), api_keys=api_keys)}


def public(reason: str) -> dict[str, Access]:
    """The ``opt`` of a route anyone may call; ``reason`` says what protects it instead."""
    return {ACCESS_OPT: Access(public_because=reason)}


SEND_AND_READ = allow(Role.AGENT, Role.TENANT_ADMIN)
TENANT_ADMINS = allow(Role.TENANT_ADMIN)
TENANT_ADMIN_USERS = allow(Role.TENANT_ADMIN, api_keys=False)
PLATFORM_ADMINS = allow(Role.PLATFORM_ADMIN, api_keys=False)
ANY_USER = allow(*Role, api_keys=False)


# Litestar answers OPTIONS on every path by itself, with the Allow header and nothing else.
_AUTOMATIC_OPTIONS = Access(public_because="Litestar's automatic OPTIONS answer: the Allow header only")


def access_of(opt: Mapping[str, Any]) -> Access | None:
    access = opt.get(ACCESS_OPT)
    return access if isinstance(access, Access) else None


def is_automatic_options(handler: BaseRouteHandler) -> bool:
    return getattr(handler.fn, "__qualname__", "").startswith("HTTPRoute.create_options_handler")


def access_for(handler: BaseRouteHandler) -> Access | None:
    """The access a route handler declares (None: it declares nothing, and is closed)."""
    return _AUTOMATIC_OPTIONS if is_automatic_options(handler) else access_of(handler.opt)


def bearer_credential(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = connection.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise InvalidToken("send an access token or an API key: Authorization: Bearer <token>")
    return credential.strip()


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The principal the guard admitted for this request, if any."""
    principal = cast(dict[str, Any], connection.scope).get(_PRINCIPAL_KEY)
    return principal if isinstance(principal, Principal) else None


async def enforce_access(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The app-wide guard: admit the caller if the route's declaration does, refuse otherwise."""
    access = access_for(handler)
    if access is None:
        logger.error("refused a call to %s: the route declares no access rule", connection.url.path)
        raise AccessDenied("this route is closed")
    if access.is_public:
        return
    # The per-address limit runs first, so credentials are not checked (a database query) unlimited.
    from entrypoints.http.dependencies import container_of, limit_requests_per_address

    await limit_requests_per_address(connection)
    principal = await container_of(connection).resolve_principal()(bearer_credential(connection))
    if not access.admits(principal):
        if not principal.is_user and principal.role in access.roles:
            raise AccessDenied("this route is for users, not API keys")
        raise AccessDenied(f"the {principal.role.value} role may not do this")
    cast(dict[str, Any], connection.scope)[_PRINCIPAL_KEY] = principal
