"""Inbound media: a download queued with every customer's message that carries media, kept in the
media store by the media worker, retried while it may still work, given up on (the message kept) when
it cannot, and shared between workers by leases."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from uuid import UUID

import pytest

from application.errors import CredentialsUnreadable
from application.inbound.commands import InboundMessage
from application.inbound.receive_message import store_inbound
from application.media.downloads import DownloadInboundMedia, DownloadOutcome, MediaDownloadSettings
from application.media.worker import MediaDownloader, MediaWorkerSettings
from application.ports.media import MediaFetchFailed, media_key
from application.principal import Principal
from application.tenant_webhooks.endpoints import RegisterWebhookCommand, RegisterWebhookEndpoint
from domain.administration.tenancy import ProviderName, Role, TwilioCredentials
from domain.messaging.content import Media, MediaKind
from domain.messaging.messages import Message, MessageContent
from domain.phone import PhoneNumber
from domain.retry_policy import RetryPolicy
from domain.tenant_webhooks.model import WebhookEventType
from tests.support.fakes import FakeUnitOfWork, FakeWebhookUrlGuard, FixedClock, TenantAccount
from tests.support.media import FakeMediaFetcher, FakeMediaStore, ProviderFile
from tests.support.provider_accounts import set_twilio_credentials
from tests.support.twilio_callbacks import ACME_ACCOUNT, ACME_TOKEN, CUSTOMER

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40  # a JPEG's first bytes, then 10 KiB
PHOTO_URL = (
    f"https://api.twilio.com/2010-04-01/Accounts/{ACME_ACCOUNT}/Messages/MM{'1' * 32}/Media/ME{'1' * 32}"
)
INVOICE_URL = (
    f"https://api.twilio.com/2010-04-01/Accounts/{ACME_ACCOUNT}/Messages/MM{'1' * 32}/Media/ME{'2' * 32}"
)
MAX_BYTES = 64 * 1024
ATTEMPTS = 3


@pytest.fixture
def store() -> FakeMediaStore:
    return FakeMediaStore(max_bytes=MAX_BYTES)


@pytest.fixture
def fetcher() -> FakeMediaFetcher:
    return FakeMediaFetcher()


def downloader(
    uow: FakeUnitOfWork, fetcher: FakeMediaFetcher, store: FakeMediaStore, clock: FixedClock, *, owner: str
) -> MediaDownloader:
    """A worker on the shared fake database (each unit of work is a transaction of its own)."""
    download = DownloadInboundMedia(
        lambda: FakeUnitOfWork(uow.database),
        fetcher,
        store,
        clock,
        MediaDownloadSettings(retry=RetryPolicy(max_attempts=ATTEMPTS, base_delay=timedelta(seconds=10))),
    )
    return MediaDownloader(
        lambda: FakeUnitOfWork(uow.database),
        download,
        clock,
        MediaWorkerSettings(lease_seconds=60),
        owner=owner,
    )


@pytest.fixture
def worker(
    uow: FakeUnitOfWork, fetcher: FakeMediaFetcher, store: FakeMediaStore, clock: FixedClock
) -> MediaDownloader:
    return downloader(uow, fetcher, store, clock, owner="worker-a")


async def receive(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, *media: Media, sid: str = "SM" + "9" * 32
) -> Message:
    """A customer's message with ``media`` to acme's Twilio number, stored as a callback stores it."""
    await set_twilio_credentials(uow, acme.tenant.id, TwilioCredentials(ACME_ACCOUNT, ACME_TOKEN))
    inbound = InboundMessage(
        provider_message_id=sid,
        sender=acme.sender.phone_number,
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(body="my parcel arrived broken", media=media),
    )
    async with uow:
        receipt = await store_inbound(uow, acme.tenant.id, inbound, clock.now())
    return receipt.message


def photo() -> Media:
    return Media(kind=MediaKind.IMAGE, url=PHOTO_URL, content_type="image/jpeg")


async def stored_item(uow: FakeUnitOfWork, message: Message, item: int = 0) -> Media:
    async with uow:
        stored = await uow.messages.get(message.tenant_id, message.id)
    assert stored is not None, "the message is kept whatever became of its media"
    return stored.content.media[item]


# ----------------------------------------------------------------------------------------- queuing


async def test_a_message_with_media_is_stored_with_a_download_queued_per_item(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock
) -> None:
    invoice = Media(kind=MediaKind.DOCUMENT, url=INVOICE_URL, content_type="application/pdf")

    message = await receive(uow, acme, clock, photo(), invoice)

    downloads = uow.media_downloads.all()
    assert [(d.message_id, d.item, d.available_at) for d in downloads] == [
        (message.id, 0, clock.now()),
        (message.id, 1, clock.now()),
    ]
    assert (await stored_item(uow, message)).stored_media_id is None, "not kept yet"


async def test_a_message_without_media_queues_no_download(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock
) -> None:
    await receive(uow, acme, clock)

    assert uow.media_downloads.all() == []


# ----------------------------------------------------------------------------------------- keeping


async def test_a_download_keeps_the_file_in_the_store_and_the_message_names_it(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    clock: FixedClock,
    worker: MediaDownloader,
    fetcher: FakeMediaFetcher,
    store: FakeMediaStore,
) -> None:
    fetcher.files[PHOTO_URL] = ProviderFile(PHOTO, "image/jpeg")
    message = await receive(uow, acme, clock, photo())

    assert await worker.download_due() == [DownloadOutcome.KEPT]

    item = await stored_item(uow, message)
    assert item.stored_media_id is not None
    assert item.not_kept is None
    media_id = UUID(item.stored_media_id)
    async with uow:
        kept = await uow.media.get(acme.tenant.id, media_id)
    assert kept is not None
    assert (kept.message_id, kept.content_type, kept.size) == (message.id, "image/jpeg", len(PHOTO))
    assert kept.sha256 == hashlib.sha256(PHOTO).hexdigest()
    assert store.files[media_key(acme.tenant.id, media_id)][1] == PHOTO
    assert uow.media_downloads.all() == [], "a kept download leaves the queue"
    [(account, fetched)] = fetcher.fetches
    assert isinstance(account.credentials, TwilioCredentials)
    assert (account.credentials.account_sid, fetched.url) == (ACME_ACCOUNT, PHOTO_URL)


async def test_a_document_keeps_its_filename_and_the_type_the_provider_served(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    clock: FixedClock,
    worker: MediaDownloader,
    fetcher: FakeMediaFetcher,
) -> None:
    fetcher.files["4455667788"] = ProviderFile(b"%PDF-1.7 ...", "application/pdf")
    document = Media(kind=MediaKind.DOCUMENT, provider_media_id="4455667788", filename="factura 1042.pdf")
    message = await receive(uow, acme, clock, document)

    await worker.download_due()

    item = await stored_item(uow, message)
    assert (item.content_type, item.filename) == ("application/pdf", "factura 1042.pdf")
    async with uow:
        kept = await uow.media.get(acme.tenant.id, UUID(item.stored_media_id or ""))
    assert kept is not None
    assert kept.filename == "factura 1042.pdf"


async def test_the_tenants_webhooks_hear_that_the_media_is_kept(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    clock: FixedClock,
    worker: MediaDownloader,
    fetcher: FakeMediaFetcher,
) -> None:
    fetcher.files[PHOTO_URL] = ProviderFile(PHOTO)
    principal = Principal(user_id=acme.user.id, tenant_id=acme.tenant.id, role=Role.TENANT_ADMIN)
    await RegisterWebhookEndpoint(uow, FakeWebhookUrlGuard(), clock)(
        RegisterWebhookCommand(
            principal=principal, url="https://crm.example.com/hooks", events=("message.media_stored",)
        )
    )
    message = await receive(uow, acme, clock, photo())

    await worker.download_due()

    [delivery] = uow.webhook_deliveries.all()
    assert delivery.event_type is WebhookEventType.MESSAGE_MEDIA_STORED
    data = json.loads(delivery.payload)["data"]
    [item] = data["media"]
    assert data["id"] == str(message.id)
    assert item["stored_media_url"] == f"/api/media/{item['stored_media_id']}"


# ----------------------------------------------------------------------------------------- retrying


@pytest.mark.parametrize(
    "trouble",
    [
        pytest.param(
            ProviderFile(failure=MediaFetchFailed("Twilio answered HTTP 503", permanent=False)), id="5xx"
        ),
        pytest.param(
            ProviderFile(failure=MediaFetchFailed("no answer from Twilio (TimeoutError)", permanent=False)),
            id="timeout",
        ),
        pytest.param(ProviderFile(PHOTO, breaks_after=4096), id="broken-off"),
    ],
)
async def test_a_failure_that_may_pass_is_tried_again_later_and_then_kept(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    clock: FixedClock,
    worker: MediaDownloader,
    fetcher: FakeMediaFetcher,
    store: FakeMediaStore,
    trouble: ProviderFile,
) -> None:
    fetcher.files[PHOTO_URL] = trouble
    message = await receive(uow, acme, clock, photo())

    assert await worker.download_due() == [DownloadOutcome.RETRYING]

    [waiting] = uow.media_downloads.all()
    assert waiting.attempts == 1
    assert waiting.last_error
    assert clock.now() <= waiting.available_at <= clock.now() + timedelta(seconds=10)
    item = await stored_item(uow, message)
    assert (item.stored_media_id, item.not_kept) == (None, None), "still pending"
    assert store.files == {}, "nothing of a broken transfer is kept"

    fetcher.files[PHOTO_URL] = ProviderFile(PHOTO)
    clock.advance(timedelta(seconds=11))
    assert await worker.download_due() == [DownloadOutcome.KEPT]
    assert (await stored_item(uow, message)).stored_media_id is not None


async def test_a_retry_waits_for_its_backoff(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    clock: FixedClock,
    worker: MediaDownloader,
    fetcher: FakeMediaFetcher,
) -> None:
    fetcher.files[PHOTO_URL] = ProviderFile(failure=MediaFetchFailed("HTTP 500", permanent=False))
    await receive(uow, acme, clock, photo())
    await worker.download_due()
    [waiting] = uow.media_downloads.all()

    clock.set(waiting.available_at - timedelta(microseconds=1))
    assert await worker.download_due() == []
    assert len(fetcher.fetches) == 1


async def test_a_media_store_that_is_unavailable_is_tried_again_later(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    clock: FixedClock,
    worker: MediaDownloader,
    fetcher: FakeMediaFetcher,
    store: FakeMediaStore,
) -> None:
    fetcher.files[PHOTO_URL] = ProviderFile(PHOTO)
    store.available = False
    await receive(uow, acme, clock, photo())

    assert await worker.download_due() == [DownloadOutcome.RETRYING]
    assert uow.media_downloads.all()[0].attempts == 1


async def test_an_account_whose_credentials_do_not_open_is_tried_again_later(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    clock: FixedClock,
    worker: MediaDownloader,
    fetcher: FakeMediaFetcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = await receive(uow, acme, clock, photo())

    async def unreadable(*_: object) -> None:
        raise CredentialsUnreadable

    monkeypatch.setattr(uow.provider_accounts, "of_sender", unreadable)

    assert await worker.download_due() == [DownloadOutcome.RETRYING]
    assert fetcher.fetches == [], "nothing is asked of the provider without credentials"
    [waiting] = uow.media_downloads.all()
    assert waiting.last_error == "the account's stored credentials cannot be read; ask an operator"
    assert (await stored_item(uow, message)).not_kept is None


async def test_when_the_attempts_run_out_the_media_is_not_kept_and_says_why(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    clock: FixedClock,
    worker: MediaDownloader,
    fetcher: FakeMediaFetcher,
) -> None:
    fetcher.files[PHOTO_URL] = ProviderFile(
        failure=MediaFetchFailed("Twilio answered HTTP 503", permanent=False)
    )
    message = await receive(uow, acme, clock, photo())

    outcomes = []
    for _ in range(ATTEMPTS):
        outcomes += await worker.download_due()
        clock.advance(timedelta(minutes=10))

    assert outcomes == [DownloadOutcome.RETRYING, DownloadOutcome.RETRYING, DownloadOutcome.NOT_KEPT]
    item = await stored_item(uow, message)
    assert item.not_kept == f"gave up after {ATTEMPTS} attempts: Twilio answered HTTP 503"
    assert uow.media_downloads.all() == []


# ----------------------------------------------------------------------------------------- giving up


@pytest.mark.parametrize(
    ("file", "reason"),
    [
        pytest.param(
            ProviderFile(failure=MediaFetchFailed("Twilio refused the media (HTTP 404)", permanent=True)),
            "Twilio refused the media (HTTP 404)",
            id="4xx",
        ),
        pytest.param(
            ProviderFile(b"x" * (MAX_BYTES + 1)),
            f"the file is larger than the {MAX_BYTES} bytes kept (MEDIA_MAX_BYTES)",
            id="too-large",
        ),
        pytest.param(
            ProviderFile(b"x" * (MAX_BYTES + 1), announced_size=10),
            f"the file is larger than the {MAX_BYTES} bytes kept (MEDIA_MAX_BYTES)",
            id="larger-than-announced",
        ),
        pytest.param(
            ProviderFile(b"<script>alert(1)</script>", "text/html"),
            "'text/html' is not a media type WhatsApp sends",
            id="not-a-whatsapp-type",
        ),
    ],
)
async def test_what_cannot_be_kept_is_given_up_at_once_and_the_message_stays(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    clock: FixedClock,
    worker: MediaDownloader,
    fetcher: FakeMediaFetcher,
    store: FakeMediaStore,
    file: ProviderFile,
    reason: str,
) -> None:
    fetcher.files[PHOTO_URL] = file
    message = await receive(uow, acme, clock, photo())

    assert await worker.download_due() == [DownloadOutcome.NOT_KEPT]

    item = await stored_item(uow, message)
    assert (item.stored_media_id, item.not_kept) == (None, reason)
    assert uow.media_downloads.all() == []
    assert store.files == {}
    assert uow.media.all() == []
    async with uow:
        stored = await uow.messages.get(acme.tenant.id, message.id)
    assert stored is not None
    assert stored.content.body == "my parcel arrived broken"


async def test_the_tenants_webhooks_hear_that_the_media_is_not_kept(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, worker: MediaDownloader
) -> None:
    principal = Principal(user_id=acme.user.id, tenant_id=acme.tenant.id, role=Role.TENANT_ADMIN)
    await RegisterWebhookEndpoint(uow, FakeWebhookUrlGuard(), clock)(
        RegisterWebhookCommand(
            principal=principal, url="https://crm.example.com/hooks", events=("message.media_not_kept",)
        )
    )
    await receive(uow, acme, clock, photo())  # the provider has no such file: 404

    await worker.download_due()

    [delivery] = uow.webhook_deliveries.all()
    assert delivery.event_type is WebhookEventType.MESSAGE_MEDIA_NOT_KEPT
    [item] = json.loads(delivery.payload)["data"]["media"]
    assert item["not_kept"] == "the provider answered HTTP 404"


async def test_without_a_provider_account_the_media_is_not_kept(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, worker: MediaDownloader
) -> None:
    message = await receive(uow, acme, clock, photo())
    async with uow:
        account = await uow.provider_accounts.first_of(acme.tenant.id, ProviderName.TWILIO)
        assert account is not None
        await uow.provider_accounts.remove(acme.tenant.id, account.id)
        await uow.commit()

    assert await worker.download_due() == [DownloadOutcome.NOT_KEPT]
    assert (await stored_item(uow, message)).not_kept == (
        "the message's sender has no provider account to fetch its media with"
    )


async def test_each_item_of_a_message_is_settled_on_its_own(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    clock: FixedClock,
    worker: MediaDownloader,
    fetcher: FakeMediaFetcher,
) -> None:
    fetcher.files[PHOTO_URL] = ProviderFile(PHOTO)
    invoice = Media(kind=MediaKind.DOCUMENT, url=INVOICE_URL, content_type="application/pdf")
    message = await receive(uow, acme, clock, photo(), invoice)  # the invoice is gone at Twilio: 404

    assert sorted(await worker.download_due()) == sorted([DownloadOutcome.KEPT, DownloadOutcome.NOT_KEPT])

    kept, lost = await stored_item(uow, message, 0), await stored_item(uow, message, 1)
    assert kept.stored_media_id is not None
    assert kept.not_kept is None
    assert lost.stored_media_id is None
    assert lost.not_kept == "the provider answered HTTP 404"


# ----------------------------------------------------------------------------------------- workers


async def test_a_second_worker_leaves_a_download_another_holds(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    clock: FixedClock,
    worker: MediaDownloader,
    fetcher: FakeMediaFetcher,
    store: FakeMediaStore,
) -> None:
    fetcher.files[PHOTO_URL] = ProviderFile(PHOTO)
    fetcher.hold = asyncio.Event()
    await receive(uow, acme, clock, photo())
    other = downloader(uow, fetcher, store, clock, owner="worker-b")

    [first] = await worker.start_due()
    await fetcher.opened.wait()  # worker-a is fetching the file
    assert await other.download_due() == []
    fetcher.hold.set()

    assert await first == DownloadOutcome.KEPT
    assert len(fetcher.fetches) == 1
    assert len(uow.media.all()) == 1


async def test_a_worker_that_lost_its_lease_records_nothing_and_its_successor_keeps_the_file_once(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    clock: FixedClock,
    worker: MediaDownloader,
    fetcher: FakeMediaFetcher,
    store: FakeMediaStore,
) -> None:
    fetcher.files[PHOTO_URL] = ProviderFile(PHOTO)
    fetcher.hold = asyncio.Event()
    message = await receive(uow, acme, clock, photo())
    other = downloader(uow, fetcher, store, clock, owner="worker-b")

    [slow] = await worker.start_due()
    await fetcher.opened.wait()
    clock.advance(timedelta(seconds=61))  # worker-a's lease runs out mid-download
    [taken_over] = await other.start_due()
    fetcher.hold.set()

    assert (await slow, await taken_over) == (DownloadOutcome.LEASE_LOST, DownloadOutcome.KEPT)
    assert len(uow.media.all()) == 1
    item = await stored_item(uow, message)
    assert item.stored_media_id == str(uow.media.all()[0].id)
    assert list(store.files) == [media_key(acme.tenant.id, uow.media.all()[0].id)], "one file, one key"
