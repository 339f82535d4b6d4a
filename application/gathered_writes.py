"""Writes that wait a moment for others, to share one transaction: the outcomes of concurrent work (sends
of one claim, webhook attempts) end within milliseconds of each other, and each would otherwise pay a
transaction of its own.

An item waits here up to ``linger_seconds`` for the others that come meanwhile; then all the waiting ones
(up to ``max_batch``) go to ``write`` together, while the next ones gather. Each caller learns its own
result, or its own failure, as if it had written alone. When ``write`` raises, it fails every caller of
that batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# ``write``'s answer for each item of its batch, in order: its result, or the error it failed with.
BatchWriter = Callable[[Sequence[Item]], Awaitable[Sequence[Result | Exception]]]


@dataclass(frozen=True, slots=True)
class _Waiting(Generic[Item, Result]):
    item: Item
    written: asyncio.Future[Result]


class GatheredWrites(Generic[Item, Result]):
    def __init__(
        self,
        write: BatchWriter[Item, Result],
        *,
        linger_seconds: float,
        max_batch: int = 200,
        name: str = "gathered writes",
    ) -> None:
        self._write = write
        self._linger_seconds = linger_seconds
        self._max_batch = max_batch
        self._name = name
        self._waiting: list[_Waiting[Item, Result]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, item: Item) -> Result:
        """``item`` written with the others that came about the same time; its own result."""
        written: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(item, written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting(), name=self._name)
        # Shielded: a caller that stops waiting does not stop the write the others wait for.
        return await asyncio.shield(written)

    async def _write_waiting(self) -> None:
        batch: list[_Waiting[Item, Result]] = []
        try:
            while self._waiting:
                await asyncio.sleep(self._linger_seconds)
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                await self._write_batch(batch)
                batch = []
        except BaseException:  # canceled: none of those waiting will be written by this task
            for waiting in [*batch, *self._waiting]:
                waiting.written.cancel()
            self._waiting = []
            raise

    async def _write_batch(self, batch: Sequence[_Waiting[Item, Result]]) -> None:
        try:
            outcomes: Sequence[Result | Exception] = await self._write([waiting.item for waiting in batch])
        except Exception as error:
            outcomes = [error] * len(batch)
        for waiting, outcome in zip(batch, outcomes, strict=True):
            with contextlib.suppress(asyncio.InvalidStateError):  # its caller was canceled meanwhile
                if isinstance(outcome, Exception):
                    waiting.written.set_exception(outcome)
                else:
                    waiting.written.set_result(outcome)
