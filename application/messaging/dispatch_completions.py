"""The outcomes of sends, written together (``GatheredWrites``): the sends of one claim end within
milliseconds of each other, and each would otherwise pay a transaction of its own (its job, its message,
its webhook events).

Each caller learns its own outcome (``DispatchCompletion``) as if it had written alone. When one outcome
cannot be written with the others (its provider id is another message's), each is written in a
transaction of its own, so that one message's conflict does not hold the rest back. When the
transaction fails, it fails for each caller of that batch, whose job then comes back when its lease
ends, as a failed write always did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from application.errors import AlreadyExists
from application.gathered_writes import GatheredWrites
from application.ports.dispatch_queue import DispatchCompletion
from application.ports.unit_of_work import UnitOfWork
from application.tenant_webhooks.events import record_statuses_changed
from domain.messaging.messages import Message

_Completion = tuple[Message, str]  # a message with its send's outcome, and the lease owner of its job


class DispatchCompletions:
    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], *, linger_seconds: float, max_batch: int = 200
    ) -> None:
        self._uow_factory = uow_factory
        self._gathered = GatheredWrites[_Completion, DispatchCompletion](
            self._write_batch, linger_seconds=linger_seconds, max_batch=max_batch, name="dispatch completions"
        )

    async def complete(self, message: Message, owner: str) -> DispatchCompletion:
        """``DispatchQueue.complete_dispatch`` of ``message``'s job, and its status events when its outcome
        was recorded, committed with the outcomes of the sends that ended about the same time."""
        return await self._gathered.write((message, owner))

    async def _write_batch(self, batch: Sequence[_Completion]) -> list[DispatchCompletion | Exception]:
        try:
            return list(await self._write(batch))
        except AlreadyExists:
            return [await self._write_alone(completion) for completion in batch]

    async def _write_alone(self, completion: _Completion) -> DispatchCompletion | Exception:
        try:
            [written] = await self._write([completion])
        except Exception as error:
            return error
        return written

    async def _write(self, batch: Sequence[_Completion]) -> list[DispatchCompletion]:
        """One transaction: every job removed with its message's outcome, and the status events of those
        recorded; a crash leaves all or none of it."""
        uow = self._uow_factory()
        async with uow:
            completions = await uow.jobs.complete_dispatches(list(batch))
            recorded = [
                message
                for (message, _), completion in zip(batch, completions, strict=True)
                if completion is DispatchCompletion.RECORDED
            ]
            await record_statuses_changed(uow, recorded)
            await uow.commit()
        return completions
