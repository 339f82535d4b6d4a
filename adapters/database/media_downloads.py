"""Inbound media downloads on SQLAlchemy Core: the leased queue the media worker claims.

Claimed like dispatch jobs and webhook deliveries: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite,
one writer at a time, needs no skipping), and a lease that runs out makes a download claimable again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.tables import media_downloads
from application.ports.media import MediaDownload

_LEASED_BY = media_downloads.c.lease_owner == sa.bindparam("owner")


class SqlAlchemyMediaDownloadQueue(SqlAlchemyRepository):
    async def enqueue(self, download: MediaDownload) -> None:
        await self._scope.bind(download.tenant_id)
        await self._execute(
            sa.insert(media_downloads).values(
                id=download.id,
                tenant_id=download.tenant_id,
                message_id=download.message_id,
                item=download.item,
                attempts=download.attempts,
                available_at=download.available_at,
                last_error=download.last_error,
                created_at=download.created_at,
            ),
            conflict="the media item has a download queued already",
        )

    async def claim_due(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[MediaDownload]:
        await self._scope.cross_tenant()
        claimable = sa.and_(
            media_downloads.c.available_at <= now,
            sa.or_(
                media_downloads.c.lease_expires_at.is_(None),
                media_downloads.c.lease_expires_at <= now,
            ),
        )
        # Most polls find nothing: a read answers them without the UPDATE (SQLite's write lock).
        anything = await self._one_or_none(sa.select(media_downloads.c.id).where(claimable).limit(1))
        if anything is None:
            return []
        due = (
            sa.select(media_downloads.c.id)
            .where(claimable)
            .order_by(media_downloads.c.available_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self._execute(
            sa.update(media_downloads)
            .where(media_downloads.c.id.in_(due.scalar_subquery()))
            .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
            .returning(*media_downloads.c)
        )
        claimed = [_download_from_row(row) for row in result.mappings()]
        return sorted(claimed, key=lambda download: (download.available_at, download.created_at))

    async def reschedule(
        self,
        download_id: UUID,
        *,
        owner: str,
        attempts: int,
        available_at: datetime,
        last_error: str,
    ) -> bool:
        await self._scope.by_key()
        result = await self._execute(
            sa.update(media_downloads)
            .where(media_downloads.c.id == download_id, _LEASED_BY)
            .values(
                attempts=attempts,
                available_at=available_at,
                last_error=last_error,
                lease_owner=None,
                lease_expires_at=None,
            ),
            {"owner": owner},
        )
        return result.rowcount == 1

    async def complete(self, download_id: UUID, *, owner: str) -> bool:
        await self._scope.by_key()
        result = await self._execute(
            sa.delete(media_downloads).where(media_downloads.c.id == download_id, _LEASED_BY),
            {"owner": owner},
        )
        return result.rowcount == 1


def _download_from_row(row: RowMapping) -> MediaDownload:
    return MediaDownload(
        id=row["id"],
        tenant_id=row["tenant_id"],
        message_id=row["message_id"],
        item=row["item"],
        available_at=row["available_at"],
        created_at=row["created_at"],
        attempts=row["attempts"],
        last_error=row["last_error"],
    )
