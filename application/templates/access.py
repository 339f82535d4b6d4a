"""Who may do what with a tenant's templates: agents read them (list, look at, preview, export, plan);
tenant admins change them (create, delete, sync, apply); the operator at the command line does both for
the tenant it names."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Operator, require_tenant_admin
from application.errors import AccessDenied, NotFound
from domain.administration.tenancy import Role

_ADMINS_ONLY = "only tenant admins change their tenant's templates"
_READERS = frozenset({Role.AGENT, Role.TENANT_ADMIN})


def require_template_reader(actor: Actor, tenant_id: UUID) -> None:
    if isinstance(actor, Operator):
        return
    if actor.role not in _READERS:
        raise AccessDenied(f"the {actor.role.value} role may not read a tenant's templates")
    if actor.tenant_id != tenant_id:
        raise NotFound("the tenant does not exist")


def require_template_admin(actor: Actor, tenant_id: UUID) -> None:
    if isinstance(actor, Operator):
        return
    require_tenant_admin(actor, _ADMINS_ONLY)
    if actor.tenant_id != tenant_id:
        raise NotFound("the tenant does not exist")
