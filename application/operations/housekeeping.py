"""Housekeeping an operator runs (or the workers run on a schedule): resealing secrets under a new
key, purging expired idempotency keys."""

from __future__ import annotations

from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork


class ResealCredentials:
    """After a new key is put first in the key list: re-encrypt every stored secret under it."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self) -> int:
        async with self._uow:
            count = await self._uow.provider_accounts.reseal()
            count += await self._uow.webhook_endpoints.reseal_secrets()
            await self._uow.commit()
        return count


class PurgeIdempotencyKeys:
    """Idempotency keys are kept 24 hours; this deletes the expired ones."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self) -> int:
        async with self._uow:
            purged = await self._uow.idempotency.purge_expired(self._clock.now())
            await self._uow.commit()
        return purged
