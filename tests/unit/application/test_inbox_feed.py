"""What changed in a tenant's inbox: the messages created or changed since a moment, with their
conversations, and the feed that hands each change once to every open view of the tenant."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from application.messaging.inbox_feed import (
    CHANGES_PAGE,
    DEFAULT_LOOKBACK,
    InboxChanges,
    InboxFeed,
    InboxSubscription,
    MessageChange,
    ReadInboxChanges,
    TooManyStreams,
)
from application.ports.messages import ChangePosition, StatusChange
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
OTHER_CUSTOMER = "+14155550199"
# One person in two forms: WhatsApp's (a 1 after 52) and the national plan's.
MEXICO_WHATSAPP, MEXICO_PLAN = "+5215512345678", "+525512345678"


@asynccontextmanager
async def subscribed(feed: InboxFeed, tenant_id: UUID, user_id: UUID) -> AsyncIterator[InboxSubscription]:
    """A view of the tenant's feed for the block, as a stream holds one."""
    subscription = feed.join(tenant_id, user_id)
    try:
        yield subscription
    finally:
        await feed.leave(subscription)


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


async def test_each_change_comes_with_its_own_persons_conversation(world: World) -> None:
    database, clock, acme, globex = world
    moment = clock.now()
    await open_window(FakeUnitOfWork(database), acme, CUSTOMER, moment, body="first")
    await open_window(FakeUnitOfWork(database), acme, OTHER_CUSTOMER, moment, body="second")
    await open_window(FakeUnitOfWork(database), acme, MEXICO_PLAN, moment, body="plan form")
    await open_window(FakeUnitOfWork(database), acme, MEXICO_WHATSAPP, moment, body="whatsapp form")
    await open_window(FakeUnitOfWork(database), globex, CUSTOMER, moment, body="theirs")

    changes = await ReadInboxChanges(FakeUnitOfWork(database))(acme.tenant.id, moment - timedelta(1))

    conversations = {change.message.body: change.conversation for change in changes.changes}
    assert set(conversations) == {"first", "second", "plan form", "whatsapp form"}
    first, second = conversations["first"], conversations["second"]
    assert first is not None
    assert first.contact == PhoneNumber.parse(CUSTOMER)
    assert first.tenant_id == acme.tenant.id
    assert second is not None
    assert second.contact == PhoneNumber.parse(OTHER_CUSTOMER)
    # Both forms of one number are one person, with one conversation.
    assert conversations["plan form"] == conversations["whatsapp form"]
    assert conversations["plan form"] is not None
    assert conversations["plan form"].unread_count == 2


async def test_a_page_goes_on_after_the_last_change_even_at_the_same_moment(world: World) -> None:
    database, clock, acme, _ = world
    moment = clock.now()
    for body in ("a", "b", "c"):
        await open_window(FakeUnitOfWork(database), acme, CUSTOMER, moment, body=body)
    read = ReadInboxChanges(FakeUnitOfWork(database))

    first = await read(acme.tenant.id, moment - timedelta(1), 2)
    rest = await read(acme.tenant.id, moment - timedelta(1), 2, first.end)

    assert first.full is True
    bodies = [change.message.body for change in (*first.changes, *rest.changes)]
    assert sorted(bodies) == ["a", "b", "c"]
    assert rest.full is False
    assert rest.end == ChangePosition(moment, rest.changes[-1].message.id)


async def test_the_feed_hands_every_change_when_a_page_ends_amid_changes_of_one_moment(world: World) -> None:
    database, clock, acme, _ = world
    feed = InboxFeed(lambda: ReadInboxChanges(FakeUnitOfWork(database)), clock, interval=0.01, page=2)

    async with subscribed(feed, acme.tenant.id, acme.user.id) as view:
        for body in ("a", "b", "c", "d", "e"):
            await open_window(FakeUnitOfWork(database), acme, CUSTOMER, clock.now(), body=body)

        handed: list[str] = []
        while len(handed) < 5:
            handed += [change.message.body for change in await next_changes(view)]
        await asyncio.sleep(0.05)  # a few more polls: nothing is handed over twice
        assert view.batches.empty()

    assert sorted(handed) == ["a", "b", "c", "d", "e"]


class RecordedReads(ReadInboxChanges):
    """The use case, noting where each read began."""

    def __init__(self, database: FakeDatabase) -> None:
        super().__init__(FakeUnitOfWork(database))
        self.starts: list[tuple[datetime, ChangePosition | None]] = []

    async def __call__(
        self, tenant_id: UUID, since: datetime, limit: int = CHANGES_PAGE, after: ChangePosition | None = None
    ) -> InboxChanges:
        self.starts.append((since, after))
        return await super().__call__(tenant_id, since, limit, after)


async def test_the_feed_reads_again_only_a_short_look_back_before_the_newest_change(world: World) -> None:
    database, clock, acme, _ = world
    reads = RecordedReads(database)
    feed = InboxFeed(lambda: reads, clock, interval=0.01)
    newest = clock.now() + timedelta(minutes=5)

    async with subscribed(feed, acme.tenant.id, acme.user.id) as view:
        await open_window(FakeUnitOfWork(database), acme, CUSTOMER, newest, body="newest")
        (change,) = await next_changes(view)
        assert change.message.body == "newest"
        # Committed after the newest, though stamped a moment before it: still handed over, once.
        await open_window(
            FakeUnitOfWork(database), acme, CUSTOMER, newest - timedelta(seconds=1), body="late"
        )
        (late,) = await next_changes(view)
        assert late.message.body == "late"
        await asyncio.sleep(0.05)
        assert view.batches.empty()

    later_starts = reads.starts[reads.starts.index((newest - DEFAULT_LOOKBACK, None)) :]
    assert set(later_starts) == {(newest - DEFAULT_LOOKBACK, None)}


async def test_the_feed_hands_a_new_message_once_to_each_view_of_its_tenant_only(world: World) -> None:
    database, clock, acme, globex = world
    feed = InboxFeed(lambda: ReadInboxChanges(FakeUnitOfWork(database)), clock, interval=0.01)

    async with (
        subscribed(feed, acme.tenant.id, acme.user.id) as first,
        subscribed(feed, acme.tenant.id, acme.user.id) as second,
        subscribed(feed, globex.tenant.id, globex.user.id) as theirs,
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

    async with subscribed(feed, acme.tenant.id, acme.user.id), subscribed(feed, acme.tenant.id, acme.user.id):
        with pytest.raises(TooManyStreams):
            feed.join(acme.tenant.id, acme.user.id)
