"""Media files on the local disk, under one directory (MEDIA_DIR).

The key ``acme/abc`` is the file ``acme/abc.media`` under the root (keys hold no dots, so a file name
never meets a directory's). Each file starts with a header of ``HEADER_BYTES``: a JSON object (format,
content type, size, SHA-256) padded with spaces; the media's bytes follow it. Keeping what the bytes
are inside their own file means one rename publishes both together: there is no sidecar to fall out of
step with its file after a crash or beside a concurrent overwrite.

A file is written as a hidden temporary file beside its final name (keys never start with a dot, so no
key names it), flushed to disk, then renamed over the final name. Readers see the old file or the new
one, never part of one, and a reader holding the old one open reads it to the end. Every call that
touches the disk runs in a worker thread, so a large or slow write never holds up the event loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from adapters.media.intake import in_pieces, off_the_loop
from application.errors import MediaNotFound, MediaStorageUnavailable
from application.ports.media_store import MediaContent, StoredMedia, check_content_type, check_media_key

logger = logging.getLogger(__name__)

HEADER_BYTES = 1024
FORMAT = 1
SUFFIX = ".media"
WRITE_PIECE_BYTES = 256 * 1024
READ_CHUNK_BYTES = 64 * 1024

T = TypeVar("T")


class LocalMediaStore:
    """A ``MediaStore`` (application/ports/media_store.py) in a directory of the local disk."""

    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self._root = root
        self._max_bytes = max_bytes

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    async def put(self, key: str, data: bytes | AsyncIterable[bytes], content_type: str) -> StoredMedia:
        path = self._path(key)
        check_content_type(content_type)
        temporary = _TemporaryFile(path)
        try:
            await _on_disk("write", path, temporary.open)
            pieces = in_pieces(data, at_least=WRITE_PIECE_BYTES, max_bytes=self._max_bytes)
            async with contextlib.aclosing(pieces):
                async for piece in pieces:
                    await _on_disk("write", path, temporary.write, piece)
            media = StoredMedia(
                key=key, size=temporary.size, sha256=temporary.sha256, content_type=content_type
            )
            await _on_disk("write", path, temporary.publish, _header(media))
            return media
        finally:
            temporary.discard()

    async def open(self, key: str) -> MediaContent:
        path = self._path(key)
        try:
            handle, media = await off_the_loop(_open_stored, path, key)
        except (FileNotFoundError, NotADirectoryError):
            raise MediaNotFound(key) from None
        except OSError as error:
            raise _unavailable("read", path, error) from error
        chunks = _chunks(handle, media.size, path)

        async def close() -> None:
            await chunks.aclose()
            await off_the_loop(handle.close)

        return MediaContent(media, chunks, close)

    async def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            await off_the_loop(path.unlink)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as error:
            raise _unavailable("delete", path, error) from error
        return True

    async def exists(self, key: str) -> bool:
        path = self._path(key)
        try:
            return await off_the_loop(path.is_file)
        except OSError as error:
            raise _unavailable("read", path, error) from error

    def _path(self, key: str) -> Path:
        *directories, name = check_media_key(key).split("/")
        return self._root.joinpath(*directories, name + SUFFIX)


class _TemporaryFile:
    """The file being written for ``final``: a hidden name beside it, renamed over it once complete."""

    def __init__(self, final: Path) -> None:
        self._final = final
        self._path = final.with_name(f".{final.name}.{secrets.token_hex(8)}.tmp")
        self._handle: IO[bytes] | None = None
        self._digest = hashlib.sha256()
        self._published = False
        self.size = 0

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def open(self) -> None:
        self._final.parent.mkdir(parents=True, exist_ok=True)
        self._handle = os.fdopen(os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        self._handle.write(b" " * HEADER_BYTES)  # the header's place, written last

    def write(self, piece: bytes) -> None:
        assert self._handle is not None
        self._digest.update(piece)
        self._handle.write(piece)
        self.size += len(piece)

    def publish(self, header: bytes) -> None:
        assert self._handle is not None
        self._handle.seek(0)
        self._handle.write(header)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._path, self._final)
        self._published = True
        _sync_directory(self._final.parent)

    def discard(self) -> None:
        """Close the file and, unless it was published, remove it (if it was ever created)."""
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
        if not self._published:
            with contextlib.suppress(OSError):
                self._path.unlink()


def _header(media: StoredMedia) -> bytes:
    fields = {
        "format": FORMAT,
        "content_type": media.content_type,
        "size": media.size,
        "sha256": media.sha256,
    }
    text = json.dumps(fields, separators=(",", ":")).encode()
    if len(text) >= HEADER_BYTES:  # cannot happen with a content type check_content_type took
        raise ValueError("the media's description does not fit the header")
    return text.ljust(HEADER_BYTES - 1) + b"\n"


def _open_stored(path: Path, key: str) -> tuple[IO[bytes], StoredMedia]:
    handle = path.open("rb")
    try:
        fields = json.loads(handle.read(HEADER_BYTES))
        media = StoredMedia(
            key=key, size=fields["size"], sha256=fields["sha256"], content_type=fields["content_type"]
        )
        if fields["format"] != FORMAT or os.fstat(handle.fileno()).st_size != HEADER_BYTES + media.size:
            raise ValueError("the header does not describe the file")
    except (ValueError, KeyError, TypeError) as error:
        handle.close()
        raise OSError(f"not a media file of this store: {error}") from error
    except BaseException:
        handle.close()
        raise
    return handle, media


async def _chunks(handle: IO[bytes], size: int, path: Path) -> AsyncGenerator[bytes, None]:
    remaining = size
    try:
        while remaining > 0:
            try:
                chunk = await off_the_loop(handle.read, min(READ_CHUNK_BYTES, remaining))
            except OSError as error:
                raise _unavailable("read", path, error) from error
            if not chunk:
                raise _unavailable("read", path, OSError("the file ended early"))
            remaining -= len(chunk)
            yield chunk
    finally:
        await off_the_loop(handle.close)


async def _on_disk(action: str, path: Path, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` off the loop, its OSError reported as the store being unavailable."""
    try:
        return await off_the_loop(function, *args)
    except OSError as error:
        raise _unavailable(action, path, error) from error


def _sync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (where the platform can open a directory)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _unavailable(action: str, path: Path, error: OSError) -> MediaStorageUnavailable:
    logger.warning("media store: could not %s %s: %s", action, path, error)
    return MediaStorageUnavailable(f"the media store could not {action} the file; try again later")
