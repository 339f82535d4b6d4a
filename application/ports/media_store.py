"""Media kept for tenants: opaque files stored under keys the application chooses, read back as a stream.

Keys are paths of segments joined by ``/`` (``"{tenant_id}/{media_id}"``): each segment is letters,
digits, ``-`` and ``_``, so that no key can climb out of the store (``..``), start at its root (``/``),
hide (``.name``), or mean something else to a filesystem or an object store (``\\``, ``//``, spaces,
control characters). ``check_media_key`` is the one place that decides; every store calls it.

Writing a key that holds something replaces it whole: a reader sees the old file or the new one, never
a mix, and a reader that opened the old one before the new was written reads the old one to its end.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from application.errors import InvalidInput, InvalidMediaKey

MAX_KEY_LENGTH = 512
MAX_KEY_SEGMENT_LENGTH = 128
MAX_CONTENT_TYPE_LENGTH = 255
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_KEY_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
# A media type as HTTP carries it (``audio/ogg; codecs=opus``): printable ASCII, no line breaks.
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(?:\s*;[\x20-\x7e]*)?")


def check_media_key(key: str) -> str:
    """``key`` itself if it is safe to store under; ``InvalidMediaKey`` otherwise."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidMediaKey(f"a media key has 1 to {MAX_KEY_LENGTH} characters")
    for segment in key.split("/"):
        if len(segment) > MAX_KEY_SEGMENT_LENGTH or not _KEY_SEGMENT.fullmatch(segment):
            raise InvalidMediaKey(
                "a media key is segments of letters, digits, '-' and '_' joined by '/' "
                f"(at most {MAX_KEY_SEGMENT_LENGTH} characters each)"
            )
    return key


def check_content_type(content_type: str) -> str:
    """``content_type`` itself if a store can keep it and serve it back as a header; ``InvalidInput``
    otherwise (a provider's odd value is best replaced by ``DEFAULT_CONTENT_TYPE`` before storing)."""
    if len(content_type) > MAX_CONTENT_TYPE_LENGTH or not _CONTENT_TYPE.fullmatch(content_type):
        raise InvalidInput("a media content type is a media type such as image/jpeg or audio/ogg")
    return content_type


@dataclass(frozen=True, slots=True)
class StoredMedia:
    """What a store holds under ``key``: ``size`` bytes of ``content_type``, whose SHA-256 is ``sha256``
    (64 lower-case hex digits; empty for an object that was put in a bucket by other means)."""

    key: str
    size: int
    sha256: str
    content_type: str


class MediaContent:
    """A stored file being read: ``media`` says what it is; iterating gives its bytes in chunks as they
    are read, so a large file is never held whole. Iterate once. Reading to the end releases what the
    store held open for it; a reader that stops early calls ``aclose`` (or uses ``async with``)."""

    __slots__ = ("_chunks", "_close", "media")

    def __init__(
        self, media: StoredMedia, chunks: AsyncIterator[bytes], close: Callable[[], Awaitable[None]]
    ) -> None:
        self.media = media
        self._chunks = chunks
        self._close = close

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def aclose(self) -> None:
        await self._close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


@runtime_checkable
class MediaStore(Protocol):
    """Files of up to ``max_bytes`` under safe keys (``check_media_key``). Every method refuses an
    unsafe key with ``InvalidMediaKey`` before touching storage, and reports a store it cannot reach
    as ``MediaStorageUnavailable``."""

    @property
    def max_bytes(self) -> int:
        """The largest file ``put`` takes."""
        ...

    async def put(self, key: str, data: bytes | AsyncIterable[bytes], content_type: str) -> StoredMedia:
        """Store ``data`` (all at once, or chunks as they arrive, such as a download's) under ``key``,
        replacing whatever was there once all of it is written. Nothing of it is visible before that,
        and nothing is left behind when it fails: ``MediaTooLarge`` as soon as more than ``max_bytes``
        arrive (the earlier file, if any, stays), ``InvalidInput`` for a content type that
        ``check_content_type`` refuses, or whatever error the chunks themselves raise."""
        ...

    async def open(self, key: str) -> MediaContent:
        """The file under ``key``, to read as it streams; ``MediaNotFound`` if there is none."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove the file under ``key``: True if there was one, False if there was nothing to remove."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether a file is stored under ``key``."""
        ...
