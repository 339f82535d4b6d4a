"""Who may do what, decided by the use cases: each one that acts for a caller takes it (a ``Principal``,
or the ``Actor`` that may also be the operator at the command line), derives the tenant from it, and
checks it here, whichever entrypoint calls: the role (``require_platform_admin``,
``require_tenant_admin``, ``require_sender_manager``, ``require_user_manager``) and whether it needs a
person (``require_person``). A use case never takes a bare tenant id from its caller, so none can be
called for a tenant the caller does not belong to.

The HTTP routes mirror these decisions in their access declarations (entrypoints/http/access.py): the
guard refuses a caller before the route runs, with the answer the use case would give, and the
declarations document the 401 and 403 in OpenAPI. The role table in docs/administration.md lists every
operation with who may call it, and the authorization matrix test holds the routes to it.

What needs a person: the operations an API key may not do, whatever its role. An API key acts as an
agent or a tenant admin of its tenant, for servers that send, read and look after the tenant's data
(senders, webhook endpoints). What grants access or holds a secret needs a person who logged in:
users, their roles and passwords, API keys, the provider credentials and webhook signing secrets, and a
person's own session and password. So a leaked key cannot mint its successors (a new key, or an admin
to log in as), take an admin's account over, or learn a secret it was not given.
"""

from __future__ import annotations

import enum
from typing import Final
from uuid import UUID

from application.errors import AccessDenied, InvalidInput, NotFound, PersonRequired
from application.principal import Principal
from domain.administration.tenancy import Role
from domain.identity.credentials import TENANT_ROLES


class PersonOnly(enum.StrEnum):
    """Each value completes "an API key cannot …"."""

    MANAGE_USERS = "create or change users, their roles or passwords"
    MANAGE_API_KEYS = "list, create or revoke API keys"
    SET_PROVIDER_CREDENTIALS = "set the provider credentials"
    SET_WEBHOOK_SECRETS = "create a webhook endpoint or rotate its signing secret (keys never see a secret)"
    END_SESSION = "log out: it has no session (revoke the key instead)"
    CHANGE_OWN_PASSWORD = "change a password: it has none"  # noqa: S105 - a sentence, not a secret
    ADMINISTER_TENANTS = "administer tenants"


class Operator:
    """Whoever runs the command line (``wa-gateway tenant create``, ``user create``, the demo set-up on
    first start): a person with access to the server and its configuration."""

    def __repr__(self) -> str:
        return "OPERATOR"


OPERATOR: Final = Operator()

# Who asks a use case to act: a caller proven by a credential, or the operator at the command line.
Actor = Principal | Operator


def is_person(actor: Actor) -> bool:
    return isinstance(actor, Operator) or actor.is_user


def person_required(operation: PersonOnly) -> PersonRequired:
    return PersonRequired(f"an API key cannot {operation.value}; log in as a person to do it")


def require_person(actor: Actor, operation: PersonOnly) -> None:
    """Refuse an API key with ``PersonRequired``: ``operation`` needs a person."""
    if not is_person(actor):
        raise person_required(operation)


def require_platform_admin(actor: Actor) -> None:
    """Tenants are administered by platform admins (over /admin) and the operator, nobody else."""
    if isinstance(actor, Principal) and (not actor.is_user or actor.role is not Role.PLATFORM_ADMIN):
        raise AccessDenied("only platform admins administer tenants")


def require_tenant_admin(principal: Principal, refusal: str) -> None:
    """What a tenant keeps (its webhooks, its audit trail) is looked after by the tenant's own admins:
    agents only send and read, and platform admins administer tenants, not what is in them."""
    if principal.role is not Role.TENANT_ADMIN:
        raise AccessDenied(refusal)


def require_sender_manager(actor: Actor, tenant_id: UUID) -> None:
    """A tenant's senders are added by the operator or by the tenant's own admins, logged in or with a
    key (another tenant's admin finds no such tenant); platform admins administer tenants, not what is in
    them."""
    if isinstance(actor, Operator):
        return
    require_tenant_admin(actor, "only tenant admins manage their tenant's senders")
    if actor.tenant_id != tenant_id:
        raise NotFound("the tenant does not exist")


def require_user_manager(actor: Actor, tenant_id: UUID) -> None:
    """Users of a tenant are created by a person: the operator, a platform admin, or one of the tenant's
    own admins (another tenant's admin finds no such tenant)."""
    require_person(actor, PersonOnly.MANAGE_USERS)
    if isinstance(actor, Operator) or actor.role is Role.PLATFORM_ADMIN:
        return
    if actor.role is not Role.TENANT_ADMIN:
        raise AccessDenied(f"the {actor.role.value} role may not manage users")
    if actor.tenant_id != tenant_id:
        raise NotFound("the tenant does not exist")


def check_tenant_role(role: Role) -> None:
    if role not in TENANT_ROLES:
        raise InvalidInput("a tenant's users and API keys are agents or tenant admins")
