"""The repository contract of inbound media: the leased download queue, the records of kept files, and
settling one media item of a message, on the fakes, SQLite and PostgreSQL alike (see conftest.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from application.errors import AlreadyExists
from application.ports.media import KeptMedia, MediaDownload
from domain.administration.tenancy import Tenant
from domain.messaging.content import Media, MediaKind
from domain.messaging.messages import Message, MessageContent
from tests.support.databases import UowFactory
from tests.support.repositories import T0
from tests.support.repositories.messages import add_tenant, inbound

PHOTO = Media(kind=MediaKind.IMAGE, provider_media_id="1029384756", content_type="image/jpeg")
VOICE = Media(
    kind=MediaKind.AUDIO, url="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
)


async def with_media(
    uow_factory: UowFactory, tenant: Tenant, *media: Media
) -> tuple[Message, list[MediaDownload]]:
    """A customer's message with ``media``, stored with its downloads as an inbound message is."""
    message = replace(inbound(tenant), content=MessageContent(body="look", media=media))
    downloads = MediaDownload.for_message(message, T0)
    async with uow_factory() as uow:
        await uow.messages.add(message)
        for download in downloads:
            await uow.media_downloads.enqueue(download)
        await uow.commit()
    return message, downloads


async def claim(
    uow_factory: UowFactory, owner: str, at: timedelta = timedelta(0), limit: int = 10
) -> list[MediaDownload]:
    async with uow_factory() as uow:
        claimed = await uow.media_downloads.claim_due(owner=owner, now=T0 + at, lease_seconds=60, limit=limit)
        await uow.commit()
    return claimed


def kept(message: Message, download: MediaDownload, *, sha256: str = "ab" * 32) -> KeptMedia:
    return KeptMedia(
        id=download.id,
        tenant_id=message.tenant_id,
        message_id=message.id,
        content_type="image/jpeg",
        size=48213,
        sha256=sha256,
        created_at=T0,
        filename=None,
    )


# ----------------------------------------------------------------------------------------- the queue


async def test_due_downloads_are_claimed_oldest_first_with_what_they_name(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    message, [photo, voice] = await with_media(uow_factory, tenant, PHOTO, VOICE)

    claimed = await claim(uow_factory, "a")

    assert [(d.id, d.tenant_id, d.message_id, d.item) for d in claimed] == [
        (photo.id, tenant.id, message.id, 0),
        (voice.id, tenant.id, message.id, 1),
    ]
    assert claimed == [photo, voice]


async def test_a_leased_download_is_invisible_until_its_lease_runs_out(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    _, [download] = await with_media(uow_factory, tenant, PHOTO)

    assert len(await claim(uow_factory, "a")) == 1
    assert await claim(uow_factory, "b", timedelta(seconds=59)) == []
    [again] = await claim(uow_factory, "b", timedelta(seconds=61))

    assert again.id == download.id
    async with uow_factory() as uow:
        assert not await uow.media_downloads.complete(download.id, owner="a"), "a lost its lease"
        assert await uow.media_downloads.complete(download.id, owner="b")
        await uow.commit()
    assert await claim(uow_factory, "c", timedelta(minutes=5)) == [], "a completed download is gone"


async def test_a_rescheduled_download_waits_and_keeps_its_attempts(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    _, [download] = await with_media(uow_factory, tenant, PHOTO)
    await claim(uow_factory, "a")
    due = T0 + timedelta(seconds=30)

    async with uow_factory() as uow:
        assert not await uow.media_downloads.reschedule(
            download.id, owner="b", attempts=1, available_at=due, last_error="HTTP 503"
        ), "only the lease holder reschedules"
        assert await uow.media_downloads.reschedule(
            download.id, owner="a", attempts=1, available_at=due, last_error="HTTP 503"
        )
        await uow.commit()

    assert await claim(uow_factory, "b", timedelta(seconds=29)) == []
    [again] = await claim(uow_factory, "b", timedelta(seconds=30))
    assert (again.attempts, again.last_error, again.available_at) == (1, "HTTP 503", due)


async def test_a_media_item_has_one_download(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    _, [download] = await with_media(uow_factory, tenant, PHOTO)

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.media_downloads.enqueue(replace(download, id=uuid4()))


@pytest.mark.sql_only("concurrency between connections; the fake runs one block at a time")
async def test_concurrent_claims_never_hand_out_a_download_twice(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    for _ in range(6):
        await with_media(uow_factory, tenant, PHOTO, VOICE)

    results = await asyncio.gather(*(claim(uow_factory, f"w{n}", limit=5) for n in range(5)))

    claimed = [download.id for result in results for download in result]
    assert len(claimed) == len(set(claimed)) == 12


# ----------------------------------------------------------------------------------------- kept files


async def test_a_kept_file_reads_back_within_its_tenant_only(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    message, [download] = await with_media(uow_factory, acme, PHOTO)
    record = replace(kept(message, download), filename="Factura nº 7.pdf")

    async with uow_factory() as uow:
        await uow.media.add(record)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.media.get(acme.id, record.id) == record
        assert await uow.media.get(globex.id, record.id) is None
        assert await uow.media.get(acme.id, uuid4()) is None


async def test_a_file_is_kept_once(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    message, [download] = await with_media(uow_factory, tenant, PHOTO)
    async with uow_factory() as uow:
        await uow.media.add(kept(message, download))
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.media.add(kept(message, download, sha256="cd" * 32))


# ----------------------------------------------------------------------------------------- settling an item


async def test_settling_an_item_changes_that_item_only_and_reads_back(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    message, _ = await with_media(uow_factory, tenant, PHOTO, VOICE)
    later = T0 + timedelta(minutes=1)
    stored_photo = replace(PHOTO, stored_media_id=str(uuid4()))
    lost_voice = replace(VOICE, not_kept="Twilio refused the media (HTTP 404)")

    async with uow_factory() as uow:
        first = await uow.messages.replace_media(tenant.id, message.id, 0, stored_photo, later)
        second = await uow.messages.replace_media(tenant.id, message.id, 1, lost_voice, later)
        await uow.commit()

    assert first is not None
    assert first.content.media == (stored_photo, VOICE)
    assert second is not None
    assert second.content.media == (stored_photo, lost_voice)
    assert second.updated_at == later
    async with uow_factory() as uow:
        reread = await uow.messages.get(tenant.id, message.id)
    assert reread is not None
    assert reread.content == replace(message.content, media=(stored_photo, lost_voice))
    assert reread.created_at == message.created_at


async def test_settling_another_tenants_message_or_a_missing_item_changes_nothing(
    uow_factory: UowFactory,
) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    message, _ = await with_media(uow_factory, acme, PHOTO)
    settled = replace(PHOTO, stored_media_id=str(uuid4()))

    async with uow_factory() as uow:
        assert await uow.messages.replace_media(globex.id, message.id, 0, settled, T0) is None
        assert await uow.messages.replace_media(acme.id, message.id, 1, settled, T0) is None
        assert await uow.messages.replace_media(acme.id, uuid4(), 0, settled, T0) is None
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.messages.get(acme.id, message.id) == message


@pytest.mark.sql_only("concurrency between connections; the fake runs one block at a time")
async def test_items_settled_at_once_all_keep_their_outcome(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    items = tuple(replace(PHOTO, provider_media_id=f"10293847{n:02d}") for n in range(6))
    message, _ = await with_media(uow_factory, tenant, *items)
    outcomes = [replace(item, stored_media_id=str(uuid4())) for item in items]

    async def settle(index: int) -> None:
        async with uow_factory() as uow:
            await uow.messages.replace_media(tenant.id, message.id, index, outcomes[index], T0)
            await uow.commit()

    await asyncio.gather(*(settle(index) for index in range(len(items))))

    async with uow_factory() as uow:
        reread = await uow.messages.get(tenant.id, message.id)
    assert reread is not None
    assert reread.content.media == tuple(outcomes)
