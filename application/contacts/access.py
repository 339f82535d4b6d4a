"""Who may do what with a tenant's contacts: agents and tenant admins read and edit them (list, look at,
create, change, export); tenant admins also import and delete them. Platform admins administer
tenants, not what is in them."""

from __future__ import annotations

from application.authorization import require_tenant_admin
from application.errors import AccessDenied
from application.principal import Principal
from domain.administration.tenancy import Role

_EDITORS = frozenset({Role.AGENT, Role.TENANT_ADMIN})


def require_contact_editor(principal: Principal) -> None:
    if principal.role not in _EDITORS:
        raise AccessDenied(f"the {principal.role.value} role may not read or edit a tenant's contacts")


def require_contact_admin(principal: Principal, what: str) -> None:
    require_tenant_admin(principal, f"only tenant admins {what}")
