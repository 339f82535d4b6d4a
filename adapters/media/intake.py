"""What both media stores do with the bytes they are given: hold them to the size limit as they arrive,
regroup small chunks into pieces worth a disk write or an upload part, and work on files off the event
loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from typing import Any, TypeVar

from application.errors import MediaTooLarge

T = TypeVar("T")


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


async def off_the_loop(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a worker thread. A caller cancelled meanwhile still waits for the thread to
    finish before going on, so that no file is closed or removed while a thread is using it."""
    work = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({work})
        raise
