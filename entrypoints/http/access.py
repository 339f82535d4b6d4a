"""Who may call each route. Deny by default: every route declares its access in its ``opt``, and one
app-wide guard enforces the declaration before anything else of the route runs.

- ``allow(*roles)``: a Bearer credential is required, an access token of a user with one of the roles
  or an API key with one of them. Anything else is 401 (no or a bad credential) or 403 (a good one with
  the wrong role).
- ``allow(*roles, person=PersonOnly.X)``: the same, but users only: an API key of an admitted role gets
  the 403 ``person-required`` problem, the answer the use case gives too
  (application/authorization.py decides what needs a person; the route repeats it so a key
  is refused before the route runs).
- ``public(reason)``: no Bearer credential; ``reason`` says what protects the route instead (nothing,
  a password, Twilio's signature, a metrics token ...).
- ``in_console(*roles)``: a page of the web console: a user of one of the roles, proven by the console's
  session cookie (a browser ticket of a live session) instead of a Bearer credential. API keys never
  sign in there.
- A route that declares nothing is refused (403) for everyone, and the route walker test fails.

Roles: agents send and read; tenant admins do what agents do and manage their tenant's users, senders,
Twilio credentials, API keys and webhooks, and read its audit trail; platform admins manage tenants
through ``/admin`` and nothing else, so they read no tenant's messages. API keys act as an agent or a
tenant admin of their tenant, except for what needs a person. The role table in docs/administration.md
lists every operation, and the authorization matrix test is generated from it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler

from application.authorization import PersonOnly, person_required
from application.errors import AccessDenied, InvalidToken
from application.principal import Principal
from domain.administration.tenancy import Role
from entrypoints.http.client_address import client_address
from entrypoints.http.dependencies import container_of
from entrypoints.http.rate_limits import limit_requests_per_address

logger = logging.getLogger(__name__)

ACCESS_OPT = "access"
_PRINCIPAL_KEY = "wa_gateway.principal"

# The OpenAPI security scheme of the Bearer credential, and the ``security`` of every route needing one.
BEARER_SCHEME = "BearerToken"
BEARER: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
# What any route with a Bearer credential can answer besides its own errors.
BEARER_ERRORS = (401, 403, 503)


@dataclass(frozen=True, slots=True)
class Access:
    roles: frozenset[Role] = frozenset()
    person_only: PersonOnly | None = None  # why an API key may not call it; None: keys may
    public_because: str | None = None
    by_browser_session: bool = False  # a console page: the session cookie proves the caller

    @property
    def is_public(self) -> bool:
        return self.public_because is not None

    @property
    def api_keys(self) -> bool:
        return self.person_only is None

    def admits(self, principal: Principal) -> bool:
        return principal.role in self.roles and (principal.is_user or self.api_keys)


def allow(*roles: Role, person: PersonOnly | None = None) -> dict[str, Access]:
    """The ``opt`` of a route that needs a Bearer credential with one of ``roles``; with ``person``,
    an access token only (see application/authorization.py)."""
    if not roles:
        raise ValueError("name at least one role, or declare the route public")
    return {ACCESS_OPT: Access(roles=frozenset(roles), person_only=person)}


def public(reason: str) -> dict[str, Access]:
    """The ``opt`` of a route anyone may call; ``reason`` says what protects it instead."""
    return {ACCESS_OPT: Access(public_because=reason)}


def in_console(*roles: Role) -> dict[str, Access]:
    """The ``opt`` of a console page for users of ``roles``, signed in with the console's cookie."""
    if not roles:
        raise ValueError("name at least one role, or declare the page public")
    return {ACCESS_OPT: Access(roles=frozenset(roles), by_browser_session=True)}


SEND_AND_READ = allow(Role.AGENT, Role.TENANT_ADMIN)
TENANT_ADMINS = allow(Role.TENANT_ADMIN)
PLATFORM_ADMINS = allow(Role.PLATFORM_ADMIN, person=PersonOnly.ADMINISTER_TENANTS)


def tenant_admin_in_person(operation: PersonOnly) -> dict[str, Access]:
    """A tenant admin who logged in: ``operation`` needs a person."""
    return allow(Role.TENANT_ADMIN, person=operation)


def any_user(operation: PersonOnly) -> dict[str, Access]:
    """Anyone who logged in, whatever their role: ``operation`` is about their own session or password."""
    return allow(*Role, person=operation)


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


# The console's session cookie: a browser ticket (see application/identity/sessions.py).
CONSOLE_SESSION_COOKIE = "wa_console_session"


def browser_ticket(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    ticket = connection.cookies.get(CONSOLE_SESSION_COOKIE, "").strip()
    if not ticket:
        raise InvalidToken("sign in to the console")
    return ticket


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
    await limit_requests_per_address(connection)
    resolve = container_of(connection).resolve_principal()
    if access.by_browser_session:
        principal = await resolve.browser(browser_ticket(connection))
    else:
        principal = await resolve(bearer_credential(connection))
    if not access.admits(principal):
        if access.person_only is not None and principal.role in access.roles:
            raise person_required(access.person_only)
        raise AccessDenied(f"the {principal.role.value} role may not do this")
    # Where the request came from, for the audit trail: as the rate limits see it.
    principal = replace(principal, client_address=client_address(connection))
    cast(dict[str, Any], connection.scope)[_PRINCIPAL_KEY] = principal


def admitted_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The principal the guard admitted for this request (also where no dependency reaches, as in an
    exception handler); AccessDenied on a public route, which admits none."""
    principal = principal_of(connection)
    if principal is None:
        raise AccessDenied("this route admits no principal")
    return principal


async def _admitted_principal(request: Request[Any, Any, Any]) -> Principal:
    return admitted_principal(request)


# The ``principal`` dependency of every route: the caller, as the guard admitted it.
PRINCIPAL = Provide(_admitted_principal)
