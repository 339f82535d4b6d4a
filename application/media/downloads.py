"""Downloading one leased media item of an inbound message into the media store, and settling it.

- The provider's copy is fetched with the credentials of the account the message's sender has, and
  streamed into the store under the download's own key: a repeated attempt overwrites its own file.
- Kept: the file's record, the message's media item marked with its ``stored_media_id``, the download
  gone and a ``message.media_stored`` event, in one transaction, only while the lease is still ours.
- Tried again later, with the retry policy's backoff: no connection, a timeout, a 5xx or 429 from the
  provider, the media store unavailable, the account's credentials unreadable.
- Given up on (the message stays; its item is marked ``not_kept`` with the reason, logged, and a
  ``message.media_not_kept`` event): the provider refused (a 4xx), a file larger than the store takes,
  a type WhatsApp does not send, no account to fetch it with, or the attempts ran out.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from application.errors import (
    CredentialsUnreadable,
    InvalidInput,
    MediaStorageUnavailable,
    MediaTooLarge,
)
from application.ports.clock import Clock
from application.ports.media import (
    InboundMediaFetcher,
    KeptMedia,
    MediaDownload,
    MediaFetchFailed,
    media_key,
)
from application.ports.media_store import DEFAULT_CONTENT_TYPE, MediaStore, check_content_type
from application.ports.unit_of_work import UnitOfWork
from application.tenant_webhooks.events import record_media_settled
from domain.administration.tenancy import ProviderAccount, ProviderName
from domain.messaging.content import Media, is_whatsapp_media_type, media_type_of
from domain.messaging.messages import Message
from domain.retry_policy import RetryPolicy

logger = logging.getLogger(__name__)

_MAX_REASON_LENGTH = 500


class DownloadOutcome(enum.StrEnum):
    KEPT = "kept"  # the file is in the store and the message's item names it
    RETRYING = "retrying"  # this attempt failed; the download is due again later
    NOT_KEPT = "not_kept"  # given up on: the message's item says why
    SETTLED = "settled"  # nothing to do: the item was settled already, or the message is gone
    LEASE_LOST = "lease_lost"  # another worker holds the download now: nothing was recorded


# A failing download waits up to 10 s, then up to twice as long each time, at most 30 minutes: ten
# attempts span up to about 70 minutes (half that on average), well within how long providers keep a
# customer's media.
RETRY_BASE_DELAY = timedelta(seconds=10)
RETRY_MAX_DELAY = timedelta(minutes=30)


def download_retry_policy(max_attempts: int = 10) -> RetryPolicy:
    return RetryPolicy(max_attempts=max_attempts, base_delay=RETRY_BASE_DELAY, max_delay=RETRY_MAX_DELAY)


@dataclass(frozen=True, slots=True)
class MediaDownloadSettings:
    retry: RetryPolicy = field(default_factory=download_retry_policy)


class _GiveUp(Exception):
    """This download will never succeed: the reason says why."""


class _TryLater(Exception):
    """This attempt failed in a way a later one may not."""


@dataclass(frozen=True, slots=True)
class _Leased:
    message: Message
    item: Media
    account: ProviderAccount | None
    credentials_unreadable: bool = False


class DownloadInboundMedia:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        fetcher: InboundMediaFetcher,
        store: MediaStore,
        clock: Clock,
        settings: MediaDownloadSettings,
    ) -> None:
        self._uow_factory = uow_factory
        self._fetcher = fetcher
        self._store = store
        self._clock = clock
        self._settings = settings

    async def __call__(self, download: MediaDownload, owner: str) -> DownloadOutcome:
        leased = await self._load(download)
        if leased is None:
            return await self._drop(download, owner)
        try:
            kept = await self._fetch_and_store(download, leased)
        except _GiveUp as refusal:
            return await self._give_up(download, owner, leased.item, str(refusal))
        except _TryLater as failure:
            return await self._retry(download, owner, leased.item, str(failure))
        return await self._keep(download, owner, leased.item, kept)

    async def _load(self, download: MediaDownload) -> _Leased | None:
        """The message, its media item and the account to fetch it with; None when there is nothing to
        fetch (the message is gone, or its item was settled already)."""
        uow = self._uow_factory()
        async with uow:
            message = await uow.messages.get(download.tenant_id, download.message_id)
            if message is None or not 0 <= download.item < len(message.content.media):
                return None
            item = message.content.media[download.item]
            if item.stored_media_id is not None or item.not_kept is not None:
                return None
            try:
                sender = await uow.senders.get_by_number(download.tenant_id, message.sender)
                if sender is not None:
                    account = await uow.provider_accounts.of_sender(sender)
                else:  # the sender is gone: the tenant's first Twilio account, as dispatch does
                    account = await uow.provider_accounts.first_of(download.tenant_id, ProviderName.TWILIO)
            except CredentialsUnreadable:
                logger.error("media download %s: its account's credentials do not open", download.id)
                return _Leased(message=message, item=item, account=None, credentials_unreadable=True)
        return _Leased(message=message, item=item, account=account)

    async def _fetch_and_store(self, download: MediaDownload, leased: _Leased) -> KeptMedia:
        if leased.credentials_unreadable:
            raise _TryLater("the account's stored credentials cannot be read; ask an operator")
        if leased.account is None:
            raise _GiveUp("the message's sender has no provider account to fetch its media with")
        item, max_bytes = leased.item, self._store.max_bytes
        key = media_key(download.tenant_id, download.id)
        try:
            async with self._fetcher.fetch(leased.account, item, max_bytes) as fetched:
                content_type = _content_type(fetched.content_type, item.content_type)
                stored = await self._store.put(key, fetched.chunks, content_type)
        except MediaTooLarge as error:
            raise _GiveUp(
                f"the file is larger than the {error.max_bytes} bytes kept (MEDIA_MAX_BYTES)"
            ) from error
        except MediaFetchFailed as failure:
            if failure.permanent:
                raise _GiveUp(failure.reason) from failure
            raise _TryLater(failure.reason) from failure
        except MediaStorageUnavailable as error:
            raise _TryLater(error.detail) from error
        except InvalidInput as error:  # the store refused the content type
            raise _GiveUp(error.detail) from error
        except _GiveUp:
            raise
        except Exception as error:
            # A defect, or an error an adapter failed to translate: logged, and the attempt counted, so
            # that it cannot come back forever.
            logger.exception("downloading media %s raised", download.id)
            raise _TryLater(f"the download failed unexpectedly ({type(error).__name__})") from error
        return KeptMedia(
            id=download.id,
            tenant_id=download.tenant_id,
            message_id=download.message_id,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            created_at=self._clock.now(),
            filename=item.filename,
        )

    async def _keep(
        self, download: MediaDownload, owner: str, item: Media, kept: KeptMedia
    ) -> DownloadOutcome:
        settled = replace(item, stored_media_id=str(kept.id), content_type=kept.content_type)
        uow = self._uow_factory()
        async with uow:
            if not await uow.media_downloads.complete(download.id, owner=owner):
                logger.warning(
                    "lost the lease on media download %s; leaving it to its new owner", download.id
                )
                return DownloadOutcome.LEASE_LOST
            await uow.media.add(kept)
            await self._settle_item(uow, download, settled)
            await uow.commit()
        logger.info(
            "media item %d of message %s kept: %d bytes of %s",
            download.item,
            download.message_id,
            kept.size,
            kept.content_type,
        )
        return DownloadOutcome.KEPT

    async def _retry(self, download: MediaDownload, owner: str, item: Media, reason: str) -> DownloadOutcome:
        attempts = download.attempts + 1
        policy = self._settings.retry
        if policy.exhausted(attempts):
            return await self._give_up(download, owner, item, f"gave up after {attempts} attempts: {reason}")
        now = self._clock.now()
        uow = self._uow_factory()
        async with uow:
            rescheduled = await uow.media_downloads.reschedule(
                download.id,
                owner=owner,
                attempts=attempts,
                available_at=now + policy.delay_after(attempts),
                last_error=reason[:_MAX_REASON_LENGTH],
            )
            await uow.commit()
        if not rescheduled:
            return DownloadOutcome.LEASE_LOST
        logger.info(
            "media download %s failed (attempt %d), tried again later: %s", download.id, attempts, reason
        )
        return DownloadOutcome.RETRYING

    async def _give_up(
        self, download: MediaDownload, owner: str, item: Media, reason: str
    ) -> DownloadOutcome:
        reason = reason[:_MAX_REASON_LENGTH]
        uow = self._uow_factory()
        async with uow:
            if not await uow.media_downloads.complete(download.id, owner=owner):
                return DownloadOutcome.LEASE_LOST
            await self._settle_item(uow, download, replace(item, not_kept=reason))
            await uow.commit()
        logger.warning(
            "media item %d of message %s (tenant %s) not kept: %s",
            download.item,
            download.message_id,
            download.tenant_id,
            reason,
        )
        # An earlier attempt may have stored the file before its settling failed: nothing names it now.
        with contextlib.suppress(Exception):
            await self._store.delete(media_key(download.tenant_id, download.id))
        return DownloadOutcome.NOT_KEPT

    async def _drop(self, download: MediaDownload, owner: str) -> DownloadOutcome:
        uow = self._uow_factory()
        async with uow:
            completed = await uow.media_downloads.complete(download.id, owner=owner)
            await uow.commit()
        return DownloadOutcome.SETTLED if completed else DownloadOutcome.LEASE_LOST

    async def _settle_item(self, uow: UnitOfWork, download: MediaDownload, item: Media) -> None:
        now = self._clock.now()
        message = await uow.messages.replace_media(
            download.tenant_id, download.message_id, download.item, item, now
        )
        if message is not None:
            await record_media_settled(uow, message, item, now)


def _content_type(given: str | None, declared: str | None) -> str:
    """What the file is: the type the provider served it as, else the one its callback declared; the
    file is not kept unless it is a type WhatsApp sends (nothing else is ever served back)."""
    for candidate in (given, declared):
        if candidate is None or not candidate.strip():
            continue
        value = candidate.strip()
        try:
            check_content_type(value)
        except InvalidInput:
            continue
        if media_type_of(value) == DEFAULT_CONTENT_TYPE:
            continue  # says nothing: the declared type may
        if not is_whatsapp_media_type(value):
            raise _GiveUp(f"{value[:80]!r} is not a media type WhatsApp sends")
        return value
    raise _GiveUp("the provider did not say what type of file it is")
