"""The media worker: claims due downloads of inbound media and runs them, a bounded number at a time.

It runs beside the dispatcher and the webhook worker in every process that dispatches (``serve`` with
the embedded dispatcher, ``wa-gateway worker``). Workers share the downloads through the database with
leases: a download is attempted by one worker at a time, and one whose worker died comes back when its
lease runs out. The polling loop is ``application/polling_worker.py``'s.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from application.log_context import log_context
from application.media.downloads import DownloadInboundMedia, DownloadOutcome
from application.polling_worker import PollingWorker
from application.ports.clock import Clock
from application.ports.media import MediaDownload
from application.ports.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MediaWorkerSettings:
    batch_size: int = 20
    poll_interval_seconds: float = 0.5
    max_concurrent: int = 8
    # Longer than one attempt can take (the download's timeout, then storing it), or a slow attempt
    # would be made twice.
    lease_seconds: float = 180.0


class MediaDownloader(PollingWorker[MediaDownload, UUID, DownloadOutcome]):
    name = "media worker"
    activity = "downloading media"
    drain_seconds = 20.0
    _logger = logger

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        download: DownloadInboundMedia,
        clock: Clock,
        settings: MediaWorkerSettings,
        *,
        owner: str | None = None,
    ) -> None:
        super().__init__(
            owner=owner,
            batch_size=settings.batch_size,
            poll_interval_seconds=settings.poll_interval_seconds,
            max_concurrent=settings.max_concurrent,
        )
        self._uow_factory = uow_factory
        self._download = download
        self._clock = clock
        self._settings = settings

    async def download_due(self) -> list[DownloadOutcome]:
        """Claim what is due now (up to the free slots), run it all, and return how each one ended."""
        return await self.run_due()

    def _key(self, download: MediaDownload) -> UUID:
        return download.id

    def _log_context(self, download: MediaDownload) -> contextlib.AbstractContextManager[None]:
        return log_context(media_id=str(download.id), message_id=str(download.message_id))

    async def _work(self, download: MediaDownload) -> DownloadOutcome | None:
        return await self._download(download, self.owner)

    async def _claim_due(self, limit: int) -> list[MediaDownload]:
        uow = self._uow_factory()
        async with uow:
            claimed = await uow.media_downloads.claim_due(
                owner=self.owner,
                now=self._clock.now(),
                lease_seconds=self._settings.lease_seconds,
                limit=limit,
            )
            await uow.commit()
        return claimed
