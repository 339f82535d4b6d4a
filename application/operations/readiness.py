from __future__ import annotations

import time
from collections.abc import Callable

from application.ports.unit_of_work import UnitOfWork
from application.shared_outcome import SharedOutcome


class CheckReadiness:
    """Ready means the database answers; raises StorageUnavailable otherwise.

    Probes are never rate limited, so anyone may send them as fast as they like: one answer (ready or
    not) serves every probe for ``max_age_seconds``, and probes that arrive while the database is being
    asked wait for that answer. A flood of probes costs one pool checkout and one query a second.
    """

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        *,
        max_age_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._new_uow = new_uow
        self._answer = SharedOutcome(self._ask, max_age_seconds=max_age_seconds, monotonic=monotonic)

    async def __call__(self) -> None:
        await self._answer.get()

    async def _ask(self) -> None:
        uow = self._new_uow()
        async with uow:
            await uow.ping()
