"""An in-memory media store for use-case and HTTP tests: it keeps the port's contract, which
tests/integration/test_media_stores.py holds it to beside the real stores."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterable

from application.errors import MediaNotFound, MediaTooLarge
from application.ports.media_store import MediaContent, StoredMedia, check_content_type, check_media_key

FAKE_CHUNK_BYTES = 64 * 1024


class FakeMediaStore:
    def __init__(self, *, max_bytes: int = 16 * 1024 * 1024) -> None:
        self._max_bytes = max_bytes
        self.files: dict[str, tuple[StoredMedia, bytes]] = {}

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    async def put(self, key: str, data: bytes | AsyncIterable[bytes], content_type: str) -> StoredMedia:
        check_media_key(key)
        check_content_type(content_type)
        if isinstance(data, bytes):
            whole = data
        else:
            received = bytearray()
            async for chunk in data:
                received += chunk
                if len(received) > self._max_bytes:
                    raise MediaTooLarge(self._max_bytes)
            whole = bytes(received)
        if len(whole) > self._max_bytes:
            raise MediaTooLarge(self._max_bytes)
        media = StoredMedia(
            key=key, size=len(whole), sha256=hashlib.sha256(whole).hexdigest(), content_type=content_type
        )
        self.files[key] = (media, whole)
        return media

    async def open(self, key: str) -> MediaContent:
        check_media_key(key)
        if key not in self.files:
            raise MediaNotFound(key)
        media, whole = self.files[key]
        chunks = _chunks(whole)
        return MediaContent(media, chunks, chunks.aclose)

    async def delete(self, key: str) -> bool:
        check_media_key(key)
        return self.files.pop(key, None) is not None

    async def exists(self, key: str) -> bool:
        check_media_key(key)
        return key in self.files


async def _chunks(whole: bytes) -> AsyncGenerator[bytes, None]:
    for start in range(0, len(whole), FAKE_CHUNK_BYTES):
        yield whole[start : start + FAKE_CHUNK_BYTES]
