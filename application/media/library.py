"""Serving the media files the gateway keeps to their tenant (``GET /api/media/{id}``)."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from uuid import UUID

from application.errors import NotFound
from application.ports.media import KeptMedia
from application.ports.media_store import MediaContent, MediaStore
from application.ports.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A kept file: what it is, and its bytes to stream (None when the caller holds this very file)."""

    media: KeptMedia
    content: MediaContent | None


class OpenMedia:
    """One of a tenant's kept media files; another tenant's is NotFound, as one that does not exist."""

    def __init__(self, uow: UnitOfWork, store: MediaStore) -> None:
        self._uow = uow
        self._store = store

    async def __call__(self, tenant_id: UUID, media_id: UUID, *, held: Container[str] = ()) -> MediaFile:
        """``held``: the SHA-256s of the copies the caller has; if the file is one of them, nothing is
        opened. MediaNotFound (a NotFound) if its bytes are missing from the store."""
        async with self._uow:
            media = await self._uow.media.get(tenant_id, media_id)
        if media is None:
            raise NotFound("no such media")
        if media.sha256 in held:
            return MediaFile(media=media, content=None)
        return MediaFile(media=media, content=await self._store.open(media.key))
