"""Routes each inbound media item to the adapter of the provider its account is at."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager

from application.ports.media import FetchedMedia, InboundMediaFetcher, MediaFetchFailed
from domain.administration.tenancy import ProviderAccount, ProviderName
from domain.messaging.content import Media


class InboundMediaRouter:
    def __init__(self, fetchers: Mapping[ProviderName, InboundMediaFetcher]) -> None:
        self._fetchers = dict(fetchers)

    def fetch(
        self, account: ProviderAccount, media: Media, max_bytes: int
    ) -> AbstractAsyncContextManager[FetchedMedia]:
        fetcher = self._fetchers.get(account.provider)
        if fetcher is None:
            return _refused(f"media sent through {account.provider} cannot be fetched")
        return fetcher.fetch(account, media, max_bytes)


@contextlib.asynccontextmanager
async def _refused(reason: str) -> AsyncIterator[FetchedMedia]:
    raise MediaFetchFailed(reason, permanent=True)
    yield  # pragma: no cover - never reached: makes this a generator
