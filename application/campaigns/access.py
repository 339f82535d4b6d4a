"""Who may do what with a tenant's campaigns: agents read them (list, look at, their recipients);
tenant admins create and control them (pause, resume, cancel, upload an audience)."""

from __future__ import annotations

from application.errors import AccessDenied
from application.principal import Principal
from domain.administration.tenancy import Role

_READERS = frozenset({Role.AGENT, Role.TENANT_ADMIN})


def require_campaign_reader(principal: Principal) -> None:
    if principal.role not in _READERS:
        raise AccessDenied(f"the {principal.role.value} role may not read a tenant's campaigns")


def require_campaign_admin(principal: Principal) -> None:
    if principal.role is not Role.TENANT_ADMIN:
        raise AccessDenied("only tenant admins create and control their tenant's campaigns")
