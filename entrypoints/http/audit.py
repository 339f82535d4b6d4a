"""The audit trail over HTTP: ``GET /api/audit`` for a tenant's admins, ``GET /admin/audit`` for
platform admins. Read-only: entries are written by the use cases, in the transaction of each action."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from application.administration.audit_trail import (
    DEFAULT_PAGE_SIZE,
    AuditPage,
    AuditTrailRequest,
    ListAuditTrail,
    ListPlatformAuditTrail,
)
from application.ports.principal import Principal
from domain.administration.audit import ActorKind, AuditAction, AuditEntry, TargetKind
from domain.administration.tenancy import Role
from entrypoints.http.access import PLATFORM_ADMINS, TENANT_ADMINS
from entrypoints.http.dependencies import container_of
from entrypoints.http.problems import problem_responses
from entrypoints.http.routes import BEARER, PageCursor, PageLimit
from entrypoints.http.wire_types import Moment

Action = Annotated[AuditAction | None, QueryParameter(description="Only entries of this action")]
Actor = Annotated[
    UUID | None, QueryParameter(description="Only entries by this actor: a user's or an API key's id")
]
Since = Annotated[Moment | None, QueryParameter(description="Occurred at or after")]
Until = Annotated[Moment | None, QueryParameter(description="Occurred before")]
_ERRORS = problem_responses(400, 401, 403, 422, 503)
_DESCRIPTION = (
    "Newest first. Keyset pagination: pass `next_cursor` back as `cursor` to get the next page (with "
    "the same filters). Entries never hold a secret: no password, token, key or credential."
)


class AuditActorResource(msgspec.Struct):
    type: ActorKind  # user, api_key, operator (the command line) or anonymous (a refused login)
    id: UUID | None
    role: Role | None


class AuditTargetResource(msgspec.Struct):
    type: TargetKind
    id: str | None


class AuditEntryResource(msgspec.Struct):
    id: UUID
    action: AuditAction
    occurred_at: datetime
    tenant_id: UUID | None
    actor: AuditActorResource
    target: AuditTargetResource | None
    client_address: str | None
    request_id: str | None
    details: dict[str, str]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryResource:
        return cls(
            id=entry.id,
            action=entry.action,
            occurred_at=entry.occurred_at,
            tenant_id=entry.tenant_id,
            actor=AuditActorResource(type=entry.actor.kind, id=entry.actor.id, role=entry.actor.role),
            target=AuditTargetResource(type=entry.target.kind, id=entry.target.id) if entry.target else None,
            client_address=entry.client_address,
            request_id=entry.request_id,
            details=dict(entry.details),
        )


class AuditPageResource(msgspec.Struct):
    items: list[AuditEntryResource]
    next_cursor: str | None

    @classmethod
    def of(cls, page: AuditPage) -> AuditPageResource:
        return cls(items=[AuditEntryResource.of(entry) for entry in page.items], next_cursor=page.next_cursor)


async def provide_list_audit_trail(request: Request[Any, Any, Any]) -> ListAuditTrail:
    return container_of(request).list_audit_trail()


async def provide_list_platform_audit_trail(request: Request[Any, Any, Any]) -> ListPlatformAuditTrail:
    return container_of(request).list_platform_audit_trail()


class AuditController(Controller):
    """A tenant's admins (logged in or with a tenant-admin API key) read their tenant's trail."""

    path = "/api/audit"
    tags = ["audit"]
    security = BEARER
    opt = TENANT_ADMINS
    dependencies = {"list_audit_trail": Provide(provide_list_audit_trail)}

    @get(
        "/",
        operation_id="listAuditEntries",
        summary="The tenant's audit trail: who did what, from where, when",
        description=_DESCRIPTION + " What platform admins did to the tenant is in it too.",
        responses=_ERRORS,
    )
    async def list_entries(
        self,
        principal: NamedDependency[Principal],
        list_audit_trail: NamedDependency[ListAuditTrail],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: PageCursor = None,
        action: Action = None,
        actor: Actor = None,
        since: Since = None,
        until: Until = None,
    ) -> AuditPageResource:
        page = await list_audit_trail(
            AuditTrailRequest(
                principal=principal,
                limit=limit,
                cursor=cursor,
                action=action,
                actor_id=actor,
                since=since,
                until=until,
            )
        )
        return AuditPageResource.of(page)


class AdminAuditController(Controller):
    """Platform admins read every tenant's trail, or one tenant's."""

    path = "/admin/audit"
    tags = ["admin"]
    security = BEARER
    opt = PLATFORM_ADMINS
    dependencies = {"list_platform_audit_trail": Provide(provide_list_platform_audit_trail)}

    @get(
        "/",
        operation_id="adminListAuditEntries",
        summary="Every tenant's audit trail (or one tenant's)",
        description=_DESCRIPTION
        + " Logins refused for a username that does not exist belong to no tenant (`tenant_id` null).",
        responses=_ERRORS,
    )
    async def list_entries(
        self,
        principal: NamedDependency[Principal],
        list_platform_audit_trail: NamedDependency[ListPlatformAuditTrail],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: PageCursor = None,
        tenant: Annotated[UUID | None, QueryParameter(description="Only this tenant's entries")] = None,
        action: Action = None,
        actor: Actor = None,
        since: Since = None,
        until: Until = None,
    ) -> AuditPageResource:
        page = await list_platform_audit_trail(
            AuditTrailRequest(
                principal=principal,
                limit=limit,
                cursor=cursor,
                tenant_id=tenant,
                action=action,
                actor_id=actor,
                since=since,
                until=until,
            )
        )
        return AuditPageResource.of(page)


AUDIT_CONTROLLERS = [AuditController, AdminAuditController]
