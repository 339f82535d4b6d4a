"""What operators watch that has to be measured rather than counted."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from application.errors import StorageUnavailable
from application.ports.clock import Clock
from application.ports.metrics import Metrics
from application.ports.unit_of_work import UnitOfWork
from application.shared_outcome import SharedOutcome

logger = logging.getLogger(__name__)


class MeasureDispatchQueue:
    """Measure the dispatch queue (one aggregate query) and hand it to ``Metrics``; run at each scrape.

    When the database does not answer the gauges become unknown (absent from the scrape), not stale.
    Scrapes are never rate limited: one measurement serves every scrape for ``max_age_seconds``, and
    scrapes that arrive while it is being taken wait for it (one query a second, however many scrape).
    """

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        clock: Clock,
        metrics: Metrics,
        *,
        max_age_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._new_uow = new_uow
        self._clock = clock
        self._metrics = metrics
        self._measured = SharedOutcome(self._measure, max_age_seconds=max_age_seconds, monotonic=monotonic)

    async def __call__(self) -> None:
        await self._measured.get()

    async def _measure(self) -> None:
        now = self._clock.now()
        try:
            uow = self._new_uow()
            async with uow:
                depth, oldest = await uow.jobs.depth(now)
        except StorageUnavailable:
            logger.warning("dispatch queue not measured: the database is unavailable")
            self._metrics.dispatch_queue(None, None)
            return
        age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else None
        self._metrics.dispatch_queue(depth, age)
