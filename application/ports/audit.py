"""The audit trail: appended in the transaction of the change, read a keyset page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.administration.audit import AuditAction, AuditEntry


@dataclass(frozen=True, slots=True)
class AuditPosition:
    """Where a page of the audit trail ends: the last entry's sort key."""

    occurred_at: datetime
    entry_id: UUID


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """A page of the audit trail, newest first, keyset on (occurred_at, id), ``after`` exclusive.

    ``tenant_id`` None: every tenant's entries, and those of no tenant (the platform admins' view).
    """

    limit: int
    tenant_id: UUID | None
    after: AuditPosition | None = None
    action: AuditAction | None = None
    actor_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditLog(Protocol):
    """The audit trail: appended to in the transaction of the action it records, never changed."""

    async def record(self, entry: AuditEntry) -> None: ...
    async def list_page(self, query: AuditQuery) -> list[AuditEntry]: ...
    async def purge_older_than(self, before: datetime) -> int:
        """Delete the entries that occurred before ``before`` — but none younger than the domain's
        ``MIN_RETENTION``, whatever ``before`` says; return how many."""
        ...
