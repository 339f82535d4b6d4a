"""What operators watch that has to be measured rather than counted."""

from __future__ import annotations

import logging

from application.errors import StorageUnavailable
from application.ports import Clock, Metrics, UnitOfWork

logger = logging.getLogger(__name__)


class MeasureDispatchQueue:
    """Measure the dispatch queue (one aggregate query) and hand it to ``Metrics``; run at each scrape.

    When the database does not answer the gauges become unknown (absent from the scrape), not stale.
    """

    def __init__(self, uow: UnitOfWork, clock: Clock, metrics: Metrics) -> None:
        self._uow = uow
        self._clock = clock
        self._metrics = metrics

    async def __call__(self) -> None:
        now = self._clock.now()
        try:
            async with self._uow:
                depth, oldest = await self._uow.jobs.depth(now)
        except StorageUnavailable:
            logger.warning("dispatch queue not measured: the database is unavailable")
            self._metrics.dispatch_queue(None, None)
            return
        age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else None
        self._metrics.dispatch_queue(depth, age)
