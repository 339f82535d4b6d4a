"""The audit trail on SQLAlchemy Core: appended in the caller's transaction, read a keyset page at a
time, purged past the retention.

On PostgreSQL the application's role cannot UPDATE or DELETE the table (migration 0012): the purge goes
through ``purge_audit_log``, the owner's function, which keeps every entry younger than
``MIN_RETENTION`` whatever it is asked. SQLite has no roles; the same floor is kept here.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.tables import UtcDateTime, audit_log
from application.ports.audit import AuditQuery
from domain.administration.audit import (
    MIN_RETENTION,
    ActorKind,
    AuditAction,
    AuditActor,
    AuditEntry,
    AuditTarget,
    TargetKind,
)
from domain.administration.tenancy import Role

_PURGE = sa.text("SELECT purge_audit_log(:before)").bindparams(sa.bindparam("before", type_=UtcDateTime()))


class SqlAlchemyAuditLog(SqlAlchemyRepository):
    async def record(self, entry: AuditEntry) -> None:
        if entry.tenant_id is None:
            await self._scope.cross_tenant()  # an entry of no tenant (row-level security admits it so)
        else:
            await self._scope.bind(entry.tenant_id)
        await self._execute(
            sa.insert(audit_log).values(
                id=entry.id,
                occurred_at=entry.occurred_at,
                tenant_id=entry.tenant_id,
                action=entry.action.value,
                actor_type=entry.actor.kind.value,
                actor_id=entry.actor.id,
                actor_role=entry.actor.role.value if entry.actor.role else None,
                target_type=entry.target.kind.value if entry.target else None,
                target_id=entry.target.id if entry.target else None,
                client_address=entry.client_address,
                request_id=entry.request_id,
                details=dict(entry.details),
            ),
            conflict="the audit entry exists already",
        )

    async def list_page(self, query: AuditQuery) -> list[AuditEntry]:
        parameters: dict[str, Any] = {"limit": query.limit}
        if query.tenant_id is None:
            await self._scope.cross_tenant()
        else:
            await self._scope.bind(query.tenant_id)
            parameters["tenant_id"] = query.tenant_id
        if query.after is not None:
            parameters["after_occurred_at"] = query.after.occurred_at
            parameters["after_id"] = query.after.entry_id
        if query.action is not None:
            parameters["action"] = query.action.value
        if query.actor_id is not None:
            parameters["actor_id"] = query.actor_id
        if query.since is not None:
            parameters["since"] = query.since
        if query.until is not None:
            parameters["until"] = query.until
        result = await self._execute(_page(frozenset(parameters)), parameters)
        return [_entry_from_row(row) for row in result.mappings()]

    async def purge_older_than(self, before: datetime) -> int:
        await self._scope.cross_tenant()
        if self._connection.dialect.name == "postgresql":
            return int((await self._execute(_PURGE, {"before": before})).scalar_one())
        # The floor the PostgreSQL function keeps, against this adapter's own clock.
        before = min(before, datetime.now(UTC) - MIN_RETENTION)
        result = await self._execute(sa.delete(audit_log).where(audit_log.c.occurred_at < before))
        return int(result.rowcount)


@functools.cache
def _page(filters: frozenset[str]) -> sa.Select[Any]:
    """The page query for one combination of filters (named by their parameters), built once."""
    statement = sa.select(audit_log)
    if "tenant_id" in filters:
        statement = statement.where(audit_log.c.tenant_id == sa.bindparam("tenant_id", type_=sa.Uuid()))
    if "after_occurred_at" in filters:
        # A row-value comparison, so PostgreSQL walks the index from the cursor on.
        statement = statement.where(
            sa.tuple_(audit_log.c.occurred_at, audit_log.c.id)
            < sa.tuple_(
                sa.bindparam("after_occurred_at", type_=UtcDateTime()),
                sa.bindparam("after_id", type_=sa.Uuid()),
            )
        )
    if "action" in filters:
        statement = statement.where(audit_log.c.action == sa.bindparam("action"))
    if "actor_id" in filters:
        statement = statement.where(audit_log.c.actor_id == sa.bindparam("actor_id", type_=sa.Uuid()))
    if "since" in filters:
        statement = statement.where(audit_log.c.occurred_at >= sa.bindparam("since", type_=UtcDateTime()))
    if "until" in filters:
        statement = statement.where(audit_log.c.occurred_at < sa.bindparam("until", type_=UtcDateTime()))
    return statement.order_by(audit_log.c.occurred_at.desc(), audit_log.c.id.desc()).limit(
        sa.bindparam("limit", type_=sa.Integer())
    )


def _entry_from_row(row: RowMapping) -> AuditEntry:
    actor_id: UUID | None = row["actor_id"]
    target_type = row["target_type"]
    return AuditEntry(
        id=row["id"],
        action=AuditAction(row["action"]),
        occurred_at=row["occurred_at"],
        tenant_id=row["tenant_id"],
        actor=AuditActor(
            kind=ActorKind(row["actor_type"]),
            id=actor_id,
            role=Role(row["actor_role"]) if row["actor_role"] else None,
        ),
        target=AuditTarget(kind=TargetKind(target_type), id=row["target_id"]) if target_type else None,
        client_address=row["client_address"],
        request_id=row["request_id"],
        details=row["details"] or {},
    )
