"""What changed in a tenant's inbox: the messages created or changed since a moment, with their
conversations, and the feed that hands each change once to every open view of the tenant."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from application.messaging.inbox_feed import (
    InboxFeed,
    InboxSubscription,
    MessageChange,
    ReadInboxChanges,
    TooManyStreams,
)
from application.ports.messages import StatusChange
from domain.messaging.messages import Direction, Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.fakes import (
    FakeDatabase,
    FakePasswordHasher,
    FakeUnitOfWork,
    FixedClock,
    TenantAccount,
    open_window,
    provision_account,
)

World = tuple[FakeDatabase, FixedClock, TenantAccount, TenantAccount]

CUSTOMER = "+14155550123"


@pytest.fixture
async def world() -> World:
    database, clock, hasher = FakeDatabase(), FixedClock(), FakePasswordHasher()
    acme = await provision_account(FakeUnitOfWork(database), hasher, clock)
    globex = await provision_account(
        FakeUnitOfWork(database), hasher, clock, name="Globex", sender_number="+447911123456", username="bob"
    )
    return database, clock, acme, globex


async def next_changes(subscription: InboxSubscription) -> list[MessageChange]:
    """The next batch the feed hands over (a safety net of a few seconds, never reached when it works)."""
    async with asyncio.timeout(5):
        while not (batch := await subscription.next_batch(0.05)):
            pass
    return batch


async def test_the_messages_written_since_a_moment_come_with_their_conversation(world: World) -> None:
    database, clock, acme, globex = world
    before = clock.now()
    await open_window(FakeUnitOfWork(database), acme, CUSTOMER, before - timedelta(minutes=1), body="old")
    await open_window(FakeUnitOfWork(database), acme, CUSTOMER, before + timedelta(seconds=1), body="new")
    await open_window(
        FakeUnitOfWork(database), globex, CUSTOMER, before + timedelta(seconds=1), body="theirs"
    )

    changes = await ReadInboxChanges(FakeUnitOfWork(database))(acme.tenant.id, before)

    assert [change.message.body for change in changes.changes] == ["new"]
    (change,) = changes.changes
    assert change.conversation is not None
    assert change.conversation.unread_count == 2
    assert change.conversation.last_message_id == change.message.id
    assert changes.full is False


async def test_a_status_change_is_a_change_of_the_message(world: World) -> None:
    database, clock, acme, _ = world
    await open_window(FakeUnitOfWork(database), acme, CUSTOMER, clock.now())
    uow = FakeUnitOfWork(database)
    sent = Message.new_outbound(
        tenant_id=acme.tenant.id,
        sender=acme.sender.phone_number,
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(body="on its way"),
        now=clock.now(),
    ).handed_to_provider("SM1", MessageStatus.SENT, clock.now())
    async with uow:
        await uow.messages.add(sent)
        await uow.commit()
    later = clock.advance(timedelta(seconds=5))
    async with uow:
        await uow.messages.advance_status(StatusChange("SM1", MessageStatus.DELIVERED), later)
        await uow.commit()

    changes = await ReadInboxChanges(FakeUnitOfWork(database))(acme.tenant.id, later - timedelta(seconds=1))

    (change,) = changes.changes
    assert (change.message.id, change.message.status, change.message.direction) == (
        sent.id,
        MessageStatus.DELIVERED,
        Direction.OUTBOUND,
    )


async def test_a_full_page_says_so(world: World) -> None:
    database, clock, acme, _ = world
    for second in range(3):
        await open_window(FakeUnitOfWork(database), acme, CUSTOMER, clock.now() + timedelta(seconds=second))

    changes = await ReadInboxChanges(FakeUnitOfWork(database))(acme.tenant.id, clock.now() - timedelta(1), 2)

    assert len(changes.changes) == 2
    assert changes.full is True


async def test_the_feed_hands_a_new_message_once_to_each_view_of_its_tenant_only(world: World) -> None:
    database, clock, acme, globex = world
    feed = InboxFeed(lambda: ReadInboxChanges(FakeUnitOfWork(database)), clock, interval=0.01)

    async with (
        feed.subscribe(acme.tenant.id, acme.user.id) as first,
        feed.subscribe(acme.tenant.id, acme.user.id) as second,
        feed.subscribe(globex.tenant.id, globex.user.id) as theirs,
    ):
        assert feed.streams(acme.tenant.id) == 2
        await open_window(FakeUnitOfWork(database), acme, CUSTOMER, clock.now(), body="hello?")

        for view in (first, second):
            (change,) = await next_changes(view)
            assert change.message.body == "hello?"
        await asyncio.sleep(0.05)  # a few more polls: the same message is not handed over again
        assert first.batches.empty()
        assert theirs.batches.empty()

    assert feed.streams(acme.tenant.id) == 0


async def test_a_user_has_a_bounded_number_of_live_views(world: World) -> None:
    database, clock, acme, _ = world
    feed = InboxFeed(
        lambda: ReadInboxChanges(FakeUnitOfWork(database)), clock, interval=0.01, max_streams_per_user=2
    )

    async with feed.subscribe(acme.tenant.id, acme.user.id), feed.subscribe(acme.tenant.id, acme.user.id):
        with pytest.raises(TooManyStreams):
            feed.join(acme.tenant.id, acme.user.id)
