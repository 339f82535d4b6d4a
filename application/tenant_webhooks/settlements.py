"""The settlings of webhook deliveries, written together: the webhook worker attempts many deliveries
at once, their attempts end within milliseconds of each other, and each would otherwise pay a
transaction of its own (its new state and its attempt's line).

A delivery's settling waits here up to ``linger_seconds`` for the others that end meanwhile; then all
the waiting ones of one lease owner are written in one transaction, while the next ones gather. Each
caller learns whether its own delivery was settled (False: its lease was lost, and nothing of it was
stored) as if it had written alone. When the transaction fails, it fails for each caller of that
batch, whose delivery then comes back when its lease ends, as a failed write always did.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from application.ports.unit_of_work import UnitOfWork
from domain.tenant_webhooks.model import DeliveryAttempt, WebhookDelivery


@dataclass(frozen=True, slots=True)
class _Waiting:
    delivery: WebhookDelivery
    attempt: DeliveryAttempt | None
    owner: str
    written: asyncio.Future[bool]


class WebhookSettlements:
    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], *, linger_seconds: float, max_batch: int = 200
    ) -> None:
        self._uow_factory = uow_factory
        self._linger_seconds = linger_seconds
        self._max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def settle(self, delivery: WebhookDelivery, attempt: DeliveryAttempt | None, owner: str) -> bool:
        """``WebhookDeliveryQueue.settle`` of ``delivery`` (and ``attempt``) while ``owner`` holds its
        lease, committed with the settlings of the deliveries that ended about the same time; False if
        the lease was lost."""
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(delivery, attempt, owner, written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting(), name="webhook settlements")
        # Shielded: a caller that stops waiting does not stop the write the others wait for.
        return await asyncio.shield(written)

    async def _write_waiting(self) -> None:
        batch: list[_Waiting] = []
        try:
            while self._waiting:
                await asyncio.sleep(self._linger_seconds)
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                # One transaction per lease owner (a process runs one webhook worker: one owner).
                for owner in dict.fromkeys(waiting.owner for waiting in batch):
                    await self._write_batch([waiting for waiting in batch if waiting.owner == owner])
                batch = []
        except BaseException:  # canceled: none of those waiting will be written by this task
            for waiting in [*batch, *self._waiting]:
                waiting.written.cancel()
            self._waiting = []
            raise

    async def _write_batch(self, batch: Sequence[_Waiting]) -> None:
        try:
            settled = await self._write(batch)
        except Exception as error:
            for waiting in batch:
                _settle(waiting.written, error=error)
            return
        for waiting, was_settled in zip(batch, settled, strict=True):
            _settle(waiting.written, was_settled)

    async def _write(self, batch: Sequence[_Waiting]) -> list[bool]:
        """One transaction, the settling its last write (committed with it where the storage can)."""
        uow = self._uow_factory()
        async with uow:
            settled = await uow.webhook_deliveries.settle_all(
                [(w.delivery, w.attempt) for w in batch], owner=batch[0].owner, commit=True
            )
            await uow.commit()
        return settled


def _settle(
    written: asyncio.Future[bool], settled: bool | None = None, *, error: BaseException | None = None
) -> None:
    with contextlib.suppress(asyncio.InvalidStateError):  # its caller was canceled meanwhile
        if error is not None:
            written.set_exception(error)
        elif settled is not None:
            written.set_result(settled)
