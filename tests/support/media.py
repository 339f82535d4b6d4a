"""An in-memory media store for use-case and HTTP tests: it keeps the port's contract, which
tests/integration/test_media_stores.py holds it to beside the real stores; and a fake of the providers'
copies of inbound media (``InboundMediaFetcher``)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from dataclasses import dataclass

from application.errors import MediaNotFound, MediaStorageUnavailable, MediaTooLarge
from application.ports.media import FetchedMedia, MediaFetchFailed
from application.ports.media_store import MediaContent, StoredMedia, check_content_type, check_media_key
from domain.administration.tenancy import ProviderAccount
from domain.messaging.content import Media

FAKE_CHUNK_BYTES = 64 * 1024


class FakeMediaStore:
    """Set ``available`` to False to make it unreachable: ``put`` then raises MediaStorageUnavailable."""

    def __init__(self, *, max_bytes: int = 16 * 1024 * 1024) -> None:
        self._max_bytes = max_bytes
        self.files: dict[str, tuple[StoredMedia, bytes]] = {}
        self.available = True

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    async def put(self, key: str, data: bytes | AsyncIterable[bytes], content_type: str) -> StoredMedia:
        check_media_key(key)
        check_content_type(content_type)
        if not self.available:
            raise MediaStorageUnavailable("the media store could not store the file; try again later")
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


@dataclass
class ProviderFile:
    """A provider's copy of a media item, as the fake fetcher serves it.

    ``failure`` is raised on opening it (a 4xx is permanent, a 5xx or a timeout not); ``breaks_after``
    bytes into the transfer the connection drops (a failure that may pass); ``announced_size`` is what
    the provider says the size is (unset: the content's)."""

    content: bytes = b""
    content_type: str | None = "image/jpeg"
    failure: MediaFetchFailed | None = None
    breaks_after: int | None = None
    announced_size: int | None = None


class FakeMediaFetcher:
    """The providers' copies of inbound media, by MediaUrl or media id (``files``), fetched with whatever
    account; each fetch is recorded (``fetches``). With ``hold`` set, a fetch waits for it once opened
    (``opened`` is set then), so a test can look at the world while a download is in flight."""

    def __init__(self) -> None:
        self.files: dict[str, ProviderFile] = {}
        self.fetches: list[tuple[ProviderAccount, Media]] = []
        self.hold: asyncio.Event | None = None
        self.opened = asyncio.Event()

    @contextlib.asynccontextmanager
    async def fetch(
        self, account: ProviderAccount, media: Media, max_bytes: int
    ) -> AsyncIterator[FetchedMedia]:
        self.fetches.append((account, media))
        file = self.files.get(media.url or media.provider_media_id or "")
        if file is None:
            raise MediaFetchFailed("the provider answered HTTP 404", permanent=True)
        if file.failure is not None:
            raise file.failure
        size = file.announced_size if file.announced_size is not None else len(file.content)
        if size > max_bytes:
            raise MediaTooLarge(max_bytes)
        self.opened.set()
        if self.hold is not None:
            await self.hold.wait()
        yield FetchedMedia(
            content_type=file.content_type, size=size, chunks=_provider_chunks(file, max_bytes)
        )


async def _provider_chunks(file: ProviderFile, max_bytes: int) -> AsyncGenerator[bytes, None]:
    sent = 0
    for start in range(0, len(file.content), 1024):
        if file.breaks_after is not None and sent >= file.breaks_after:
            raise MediaFetchFailed("the media download broke off (ServerDisconnectedError)", permanent=False)
        chunk = file.content[start : start + 1024]
        sent += len(chunk)
        if sent > max_bytes:
            raise MediaTooLarge(max_bytes)
        yield chunk
