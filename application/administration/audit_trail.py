"""Reading the audit trail (tenant admins their tenant's, platform admins every tenant's) and purging
what is older than the retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from application.authorization import require_platform_admin, require_tenant_admin
from application.errors import InvalidInput
from application.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, decode_audit_cursor, encode_audit_cursor
from application.ports.audit import AuditPosition, AuditQuery
from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from domain.administration.audit import MIN_RETENTION, AuditAction, AuditEntry


@dataclass(frozen=True, slots=True)
class AuditTrailRequest:
    """A page of entries, newest first; the filters narrow it (``actor``: a user's or an API key's id).

    ``tenant_id`` is read by the platform admins' view only: a tenant admin always reads their own.
    """

    principal: Principal
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    action: AuditAction | None = None
    actor_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    tenant_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    items: list[AuditEntry]
    next_cursor: str | None


class ListAuditTrail:
    """A tenant's audit trail, for its admins: what happened in it, including what platform admins did
    to it."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, request: AuditTrailRequest) -> AuditPage:
        require_tenant_admin(request.principal, "only tenant admins read their tenant's audit trail")
        return await _page(self._uow, request, request.principal.tenant_id)


class ListPlatformAuditTrail:
    """Every tenant's audit trail (and the logins refused for unknown usernames, which belong to no
    tenant), or one tenant's, for platform admins."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, request: AuditTrailRequest) -> AuditPage:
        require_platform_admin(request.principal)
        return await _page(self._uow, request, request.tenant_id)


async def _page(uow: UnitOfWork, request: AuditTrailRequest, tenant_id: UUID | None) -> AuditPage:
    if request.limit < 1:
        raise InvalidInput("limit must be at least 1")
    limit = min(request.limit, MAX_PAGE_SIZE)
    for name, moment in (("since", request.since), ("until", request.until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(f"{name} needs a timezone, e.g. 2026-01-31T12:00:00Z")
    query = AuditQuery(
        limit=limit + 1,  # one extra row tells whether another page exists
        tenant_id=tenant_id,
        after=decode_audit_cursor(request.cursor) if request.cursor else None,
        action=request.action,
        actor_id=request.actor_id,
        since=request.since,
        until=request.until,
    )
    async with uow:
        rows = await uow.audit.list_page(query)
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_audit_cursor(AuditPosition(occurred_at=last.occurred_at, entry_id=last.id))
    return AuditPage(items=items, next_cursor=next_cursor)


class PurgeAuditLog:
    """Housekeeping: entries older than the retention are deleted (never one younger than
    ``MIN_RETENTION``, whatever the retention says)."""

    def __init__(self, uow: UnitOfWork, clock: Clock, retention: timedelta) -> None:
        if retention < MIN_RETENTION:
            raise ValueError(f"the audit trail is kept {MIN_RETENTION.days} days at least")
        self._uow = uow
        self._clock = clock
        self._retention = retention

    async def __call__(self) -> int:
        async with self._uow:
            purged = await self._uow.audit.purge_older_than(self._clock.now() - self._retention)
            await self._uow.commit()
        return purged
