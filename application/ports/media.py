"""Media customers send: the downloads queued for them, the files the gateway keeps, and fetching the
provider's copy (the bytes themselves go to a ``MediaStore``, ``media_store.py``).

An inbound message is stored with a download queued per media item, in the same transaction. A worker
leases due downloads (as dispatch jobs are leased), fetches each from the provider of the message's
sender, streams it into the media store under ``KeptMedia.key``, and settles it: the file's record kept
and the message's media item marked with it, or the item marked not kept and why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID, uuid4

from domain.administration.tenancy import ProviderAccount
from domain.messaging.content import Media
from domain.messaging.messages import Message

MEDIA_PATH = "/api/media"


def served_at(stored_media_id: str) -> str:
    """Where the HTTP API serves a kept file (``GET /api/media/{id}``)."""
    return f"{MEDIA_PATH}/{stored_media_id}"


def media_key(tenant_id: UUID, media_id: UUID) -> str:
    """The key a kept file has in the media store: its tenant's, then its own id."""
    return f"{tenant_id}/{media_id}"


@dataclass(frozen=True, slots=True)
class KeptMedia:
    """A file the gateway keeps of a media item a customer sent: what it is and where it came from."""

    id: UUID
    tenant_id: UUID
    message_id: UUID
    content_type: str
    size: int
    sha256: str  # 64 lower-case hex digits
    created_at: datetime
    filename: str | None = None  # documents: the name the customer gave it

    @property
    def key(self) -> str:
        return media_key(self.tenant_id, self.id)


class MediaRepository(Protocol):
    """The records of kept files; the files themselves are in the media store."""

    async def add(self, media: KeptMedia) -> None:
        """Keep the record; AlreadyExists if one of its id is kept already."""
        ...

    async def get(self, tenant_id: UUID, media_id: UUID) -> KeptMedia | None: ...


@dataclass(frozen=True, slots=True)
class MediaDownload:
    """The durable promise to fetch one media item of an inbound message: the ``item``-th of its
    content's media. ``id`` is the id its file is kept under once fetched (``KeptMedia.id``), the same
    on every attempt, so an attempt repeated after a lost lease overwrites its own file and nothing
    else."""

    id: UUID
    tenant_id: UUID
    message_id: UUID
    item: int
    available_at: datetime
    created_at: datetime
    attempts: int = 0
    last_error: str | None = None

    @classmethod
    def for_message(cls, message: Message, now: datetime) -> list[MediaDownload]:
        """One download, due at once, for each media item of ``message`` that is neither kept nor given
        up on."""
        return [
            cls(
                id=uuid4(),
                tenant_id=message.tenant_id,
                message_id=message.id,
                item=index,
                available_at=now,
                created_at=now,
            )
            for index, media in enumerate(message.content.media)
            if media.stored_media_id is None and media.not_kept is None
        ]


class MediaDownloadQueue(Protocol):
    """Downloads are leased, not locked: a worker that dies loses its lease and the download is due again
    when it runs out. A download leaves the queue when it is settled (kept, or given up on)."""

    async def enqueue(self, download: MediaDownload) -> None: ...
    async def claim_due(
        self, *, owner: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[MediaDownload]:
        """Lease up to ``limit`` due downloads, oldest due first, skipping those another owner holds."""
        ...

    async def reschedule(
        self,
        download_id: UUID,
        *,
        owner: str,
        attempts: int,
        available_at: datetime,
        last_error: str,
    ) -> bool:
        """Release the lease and set when the download is due next; False if ``owner`` no longer holds it."""
        ...

    async def complete(self, download_id: UUID, *, owner: str) -> bool:
        """Remove the download; False if ``owner`` no longer holds its lease (nothing is removed)."""
        ...


# -------------------------------------------------------------------------------- the provider's copy


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    """A media file as the provider serves it: its type as the provider gives it (None: not said), its
    size when announced, and its bytes as they arrive (iterate once)."""

    content_type: str | None
    size: int | None
    chunks: AsyncIterator[bytes]


class MediaFetchFailed(Exception):
    """The provider's copy could not be had. ``permanent``: asking again would fail the same way (the
    provider refused: a 4xx, a URL that is not the provider's, an account of another provider); otherwise
    it may work later (no connection, a timeout, a 5xx, a 429). The message is safe to log and to show."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@runtime_checkable
class InboundMediaFetcher(Protocol):
    """Fetches the provider's copy of a media item a customer sent, with the credentials of the account
    it reached (Twilio: its MediaUrl with the account's Basic credentials; Meta: its media id through the
    Graph API with the account's token), or the router that picks the adapter by the account's provider.
    """

    def fetch(
        self, account: ProviderAccount, media: Media, max_bytes: int
    ) -> AbstractAsyncContextManager[FetchedMedia]:
        """The file, open for reading until the block ends. Entering raises ``MediaFetchFailed``, or
        ``MediaTooLarge`` (application/errors.py) when the provider announces more than ``max_bytes``;
        the chunks raise ``MediaFetchFailed`` if the transfer breaks off, and ``MediaTooLarge`` as soon as
        more than ``max_bytes`` arrive."""
        ...
