"""The settlings of webhook deliveries, written together (``GatheredWrites``): the webhook worker
attempts many deliveries at once, their attempts end within milliseconds of each other, and each would
otherwise pay a transaction of its own (its new state and its attempt's line).

The waiting ones of one lease owner are written in one transaction. Each caller learns whether its own
delivery was settled (False: its lease was lost, and nothing of it was stored) as if it had written
alone. When the transaction fails, it fails for each caller of that batch, whose delivery then comes
back when its lease ends, as a failed write always did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from application.gathered_writes import GatheredWrites
from application.ports.unit_of_work import UnitOfWork
from domain.tenant_webhooks.model import DeliveryAttempt, WebhookDelivery

# A delivery's new state, its attempt (None: settled unsent), and the lease owner settling it.
_Settling = tuple[WebhookDelivery, DeliveryAttempt | None, str]


class WebhookSettlements:
    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], *, linger_seconds: float, max_batch: int = 200
    ) -> None:
        self._uow_factory = uow_factory
        self._gathered = GatheredWrites[_Settling, bool](
            self._write_batch, linger_seconds=linger_seconds, max_batch=max_batch, name="webhook settlements"
        )

    async def settle(self, delivery: WebhookDelivery, attempt: DeliveryAttempt | None, owner: str) -> bool:
        """``WebhookDeliveryQueue.settle`` of ``delivery`` (and ``attempt``) while ``owner`` holds its
        lease, committed with the settlings of the deliveries that ended about the same time; False if
        the lease was lost."""
        return await self._gathered.write((delivery, attempt, owner))

    async def _write_batch(self, batch: Sequence[_Settling]) -> list[bool | Exception]:
        # One transaction per lease owner (a process runs one webhook worker: one owner).
        settled: dict[int, bool | Exception] = {}
        for owner in dict.fromkeys(owner for _, _, owner in batch):
            positions = [index for index, (_, _, of) in enumerate(batch) if of == owner]
            written: Sequence[bool | Exception]
            try:
                written = await self._write([batch[index] for index in positions], owner)
            except Exception as error:
                written = [error] * len(positions)
            settled.update(zip(positions, written, strict=True))
        return [settled[index] for index in range(len(batch))]

    async def _write(self, batch: Sequence[_Settling], owner: str) -> list[bool]:
        """One transaction, the settling its last write (committed with it where the storage can)."""
        uow = self._uow_factory()
        async with uow:
            settled = await uow.webhook_deliveries.settle_all(
                [(delivery, attempt) for delivery, attempt, _ in batch], owner=owner, commit=True
            )
            await uow.commit()
        return settled
