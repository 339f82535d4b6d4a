"""The outcomes of sends, written together: the sends of one claim end within milliseconds of each other,
and each would otherwise pay a transaction of its own (its job, its message, its webhook events).

A send's outcome waits here up to ``linger_seconds`` for the others that end meanwhile; then all the
waiting ones are written in one transaction, while the next ones gather. Each caller learns its own
outcome (``DispatchCompletion``) as if it had written alone. When one outcome cannot be written with
the others (its provider id is another message's), each is written in a transaction of its own, so
that one message's conflict does not hold the rest back. When the transaction fails, it fails for each
caller of that batch, whose job then comes back when its lease ends, as a failed write always did.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from application.errors import AlreadyExists
from application.ports.dispatch_queue import DispatchCompletion
from application.ports.unit_of_work import UnitOfWork
from application.tenant_webhooks.events import record_statuses_changed
from domain.messaging.messages import Message


@dataclass(frozen=True, slots=True)
class _Waiting:
    message: Message
    owner: str
    written: asyncio.Future[DispatchCompletion]


class DispatchCompletions:
    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], *, linger_seconds: float, max_batch: int = 200
    ) -> None:
        self._uow_factory = uow_factory
        self._linger_seconds = linger_seconds
        self._max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def complete(self, message: Message, owner: str) -> DispatchCompletion:
        """``DispatchQueue.complete_dispatch`` of ``message``'s job, and its status events when its outcome
        was recorded, committed with the outcomes of the sends that ended about the same time."""
        written: asyncio.Future[DispatchCompletion] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(message, owner, written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting(), name="dispatch completions")
        # Shielded: a caller that stops waiting does not stop the write the others wait for.
        return await asyncio.shield(written)

    async def _write_waiting(self) -> None:
        batch: list[_Waiting] = []
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

    async def _write_batch(self, batch: Sequence[_Waiting]) -> None:
        try:
            completions = await self._write(batch)
        except AlreadyExists:
            for waiting in batch:
                await self._write_alone(waiting)
            return
        except Exception as error:
            for waiting in batch:
                _settle(waiting.written, error=error)
            return
        for waiting, completion in zip(batch, completions, strict=True):
            _settle(waiting.written, completion)

    async def _write_alone(self, waiting: _Waiting) -> None:
        try:
            [completion] = await self._write([waiting])
        except Exception as error:
            _settle(waiting.written, error=error)
        else:
            _settle(waiting.written, completion)

    async def _write(self, batch: Sequence[_Waiting]) -> list[DispatchCompletion]:
        """One transaction: every job removed with its message's outcome, and the status events of those
        recorded; a crash leaves all or none of it."""
        uow = self._uow_factory()
        async with uow:
            completions = await uow.jobs.complete_dispatches([(w.message, w.owner) for w in batch])
            recorded = [
                w.message for w, c in zip(batch, completions, strict=True) if c is DispatchCompletion.RECORDED
            ]
            await record_statuses_changed(uow, recorded)
            await uow.commit()
        return completions


def _settle(
    written: asyncio.Future[DispatchCompletion],
    completion: DispatchCompletion | None = None,
    *,
    error: BaseException | None = None,
) -> None:
    with contextlib.suppress(asyncio.InvalidStateError):  # its caller was canceled meanwhile
        if error is not None:
            written.set_exception(error)
        elif completion is not None:
            written.set_result(completion)
