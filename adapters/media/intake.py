"""What both media stores do with the bytes they are given: hold them to the size limit as they arrive,
and regroup small chunks into pieces worth a disk write or an upload part."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable

from application.errors import MediaTooLarge


async def in_pieces(
    data: bytes | AsyncIterable[bytes], *, at_least: int, max_bytes: int
) -> AsyncGenerator[bytes, None]:
    """``data`` as pieces of at least ``at_least`` bytes (the last one may be shorter; an empty ``data``
    is one empty piece), so that each write or upload carries a useful amount.

    ``MediaTooLarge`` as soon as more than ``max_bytes`` have arrived: at once for ``bytes``, before
    reading further for chunks, so an endless source costs at most one chunk past the limit.
    """
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            raise MediaTooLarge(max_bytes)
        for start in range(0, max(len(data), 1), at_least):
            yield data[start : start + at_least]
        return
    buffer = bytearray()
    size = 0
    yielded = False
    async for chunk in data:
        size += len(chunk)
        if size > max_bytes:
            raise MediaTooLarge(max_bytes)
        buffer += chunk
        if len(buffer) >= at_least:
            yield bytes(buffer)
            buffer.clear()
            yielded = True
    if buffer or not yielded:
        yield bytes(buffer)
