"""The records of kept media files on SQLAlchemy Core (the bytes are in the media store)."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.tables import media as media_table
from application.ports.media import KeptMedia


class SqlAlchemyMediaRepository(SqlAlchemyRepository):
    async def add(self, media: KeptMedia) -> None:
        await self._scope.bind(media.tenant_id)
        await self._execute(
            sa.insert(media_table).values(
                id=media.id,
                tenant_id=media.tenant_id,
                message_id=media.message_id,
                content_type=media.content_type,
                size=media.size,
                sha256=media.sha256,
                filename=media.filename,
                created_at=media.created_at,
            ),
            conflict="the media file is kept already",
        )

    async def get(self, tenant_id: UUID, media_id: UUID) -> KeptMedia | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(media_table).where(media_table.c.tenant_id == tenant_id, media_table.c.id == media_id)
        )
        if row is None:
            return None
        return KeptMedia(
            id=row["id"],
            tenant_id=row["tenant_id"],
            message_id=row["message_id"],
            content_type=row["content_type"],
            size=row["size"],
            sha256=row["sha256"],
            created_at=row["created_at"],
            filename=row["filename"],
        )
