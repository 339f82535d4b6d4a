"""Retention on SQLAlchemy Core: each tenant's policy, and the bounded batches that redact or delete the
messages that outlived it.

A batch first picks its messages: up to ``limit`` of the tenant's settled messages older than the
horizon, oldest first. On PostgreSQL the pick is ``FOR UPDATE SKIP LOCKED``: workers running the same
tenant's batch at once each take other messages, and none waits for another. Redaction picks from the
partial index ``ix_messages_retention`` (tenant_id, created_at) WHERE redacted_at IS NULL, so the rows
redacted already are never read again; deletion leaves no rows behind to skip. Everything after the
pick works on those message ids only, and is idempotent: a batch that runs again (SQLite, where the
pick cannot lock) changes and counts nothing a first one did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa

from adapters.database.content_document import content_document
from adapters.database.repository import SqlAlchemyRepository
from adapters.database.statements import upsert_for
from adapters.database.tables import (
    conversations,
    dispatch_jobs,
    media,
    media_downloads,
    message_status_events,
    messages,
    retention_policies,
)
from application.ports.media import media_key
from domain.messaging.messages import MessageContent
from domain.messaging.retention import RETAINABLE_STATUSES, RemovedData, RetentionMode, RetentionPolicy

REDACTED_DOCUMENT = content_document(MessageContent(redacted=True))
_SETTLED = sorted(status.value for status in RETAINABLE_STATUSES)


class SqlAlchemyRetentionRepository(SqlAlchemyRepository):
    async def get_policy(self, tenant_id: UUID) -> RetentionPolicy | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(retention_policies).where(retention_policies.c.tenant_id == tenant_id)
        )
        return _policy(row) if row else None

    async def save_policy(self, policy: RetentionPolicy) -> None:
        await self._scope.bind(policy.tenant_id)
        values = {"days": policy.days, "mode": policy.mode.value, "updated_at": policy.updated_at}
        insert = upsert_for(self._connection.dialect.name)
        statement = insert(retention_policies).values(tenant_id=policy.tenant_id, **values)
        await self._execute(
            statement.on_conflict_do_update(index_elements=[retention_policies.c.tenant_id], set_=values)
        )

    async def remove_policy(self, tenant_id: UUID) -> bool:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.delete(retention_policies).where(retention_policies.c.tenant_id == tenant_id)
        )
        return bool(result.rowcount)

    async def policies(self) -> list[RetentionPolicy]:
        await self._scope.cross_tenant()
        result = await self._execute(sa.select(retention_policies).order_by(retention_policies.c.tenant_id))
        return [_policy(row) for row in result.mappings()]

    async def redact_expired(self, policy: RetentionPolicy, now: datetime, limit: int) -> RemovedData:
        ids = await self._pick(policy, now, limit, unredacted_only=True)
        if not ids:
            return RemovedData(counts={})
        keys, files = await self._remove_media(policy.tenant_id, ids)
        redacted = await self._execute(
            sa.update(messages)
            .where(messages.c.tenant_id == policy.tenant_id, messages.c.id.in_(ids))
            .where(messages.c.redacted_at.is_(None))
            .values(
                body="",
                media_urls=[],
                content=REDACTED_DOCUMENT,
                content_sid=None,
                content_variables=None,
                profile_name=None,
                redacted_at=now,
                updated_at=now,
            )
        )
        await self._clear_previews(policy.tenant_id, ids)
        return RemovedData(counts={"messages": int(redacted.rowcount), "media": files}, media_keys=keys)

    async def delete_expired(self, policy: RetentionPolicy, now: datetime, limit: int) -> RemovedData:
        ids = await self._pick(policy, now, limit, unredacted_only=False)
        if not ids:
            return RemovedData(counts={})
        tenant_id = policy.tenant_id
        keys, files = await self._remove_media(tenant_id, ids)
        events = await self._execute(
            sa.delete(message_status_events).where(
                message_status_events.c.tenant_id == tenant_id, message_status_events.c.message_id.in_(ids)
            )
        )
        jobs = await self._execute(
            sa.delete(dispatch_jobs).where(
                dispatch_jobs.c.tenant_id == tenant_id, dispatch_jobs.c.message_id.in_(ids)
            )
        )
        deleted = await self._execute(
            sa.delete(messages).where(messages.c.tenant_id == tenant_id, messages.c.id.in_(ids))
        )
        await self._clear_previews(tenant_id, ids)
        counts = {
            "messages": int(deleted.rowcount),
            "status_events": int(events.rowcount),
            "dispatch_jobs": int(jobs.rowcount),
            "media": files,
        }
        return RemovedData(counts=counts, media_keys=keys)

    async def _pick(
        self, policy: RetentionPolicy, now: datetime, limit: int, *, unredacted_only: bool
    ) -> list[UUID]:
        await self._scope.bind(policy.tenant_id)
        statement = expired_messages(
            policy.tenant_id,
            policy.horizon(now),
            limit,
            unredacted_only=unredacted_only,
            dialect_name=self._connection.dialect.name,
        )
        return list((await self._execute(statement)).scalars())

    async def _remove_media(self, tenant_id: UUID, ids: Sequence[UUID]) -> tuple[tuple[str, ...], int]:
        """Delete the media records and pending downloads of messages ``ids``: the kept files' keys (to
        delete from the store once committed) and how many records went."""
        kept = await self._execute(
            sa.select(media.c.id).where(media.c.tenant_id == tenant_id, media.c.message_id.in_(ids))
        )
        keys = tuple(media_key(tenant_id, media_id) for media_id in kept.scalars())
        await self._execute(
            sa.delete(media_downloads).where(
                media_downloads.c.tenant_id == tenant_id, media_downloads.c.message_id.in_(ids)
            )
        )
        removed = await self._execute(
            sa.delete(media).where(media.c.tenant_id == tenant_id, media.c.message_id.in_(ids))
        )
        return keys, int(removed.rowcount)

    async def _clear_previews(self, tenant_id: UUID, ids: Sequence[UUID]) -> None:
        await self._execute(
            sa.update(conversations)
            .where(conversations.c.tenant_id == tenant_id, conversations.c.last_message_id.in_(ids))
            .values(last_message_preview="")
        )


def expired_messages(
    tenant_id: UUID, horizon: datetime, limit: int, *, unredacted_only: bool, dialect_name: str
) -> sa.Select[tuple[UUID]]:
    """The ids of up to ``limit`` of the tenant's settled messages created before ``horizon``, oldest
    first (only those not redacted yet with ``unredacted_only``: read from ix_messages_retention); on
    PostgreSQL locked, skipping those another batch holds."""
    statement = sa.select(messages.c.id).where(
        messages.c.tenant_id == tenant_id,
        messages.c.created_at < horizon,
        messages.c.status.in_(_SETTLED),
    )
    if unredacted_only:
        statement = statement.where(messages.c.redacted_at.is_(None))
    statement = statement.order_by(messages.c.created_at).limit(limit)
    if dialect_name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return statement


def _policy(row: sa.RowMapping) -> RetentionPolicy:
    return RetentionPolicy(
        tenant_id=row["tenant_id"],
        days=row["days"],
        mode=RetentionMode(row["mode"]),
        updated_at=row["updated_at"],
    )
