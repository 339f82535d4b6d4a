"""Message history: newest first, a page at a time, filtered, and never another tenant's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from application.errors import InvalidCursor, InvalidInput, NotFound
from application.messaging.history import GetMessage, HistoryPage, HistoryRequest, ListHistory
from application.ports.messages import StatusChange
from domain.errors import InvalidPhoneNumber
from domain.messaging.messages import Direction, Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.fakes import FakeUnitOfWork, FixedClock, TenantAccount

ALICE_CUSTOMER = PhoneNumber.parse("+447911123456")
OTHER_CUSTOMER = PhoneNumber.parse("+34612345678")


@pytest.fixture
def history(uow: FakeUnitOfWork) -> ListHistory:
    return ListHistory(uow)


async def store(
    uow: FakeUnitOfWork,
    account: TenantAccount,
    at: datetime,
    *,
    body: str = "hi",
    direction: Direction = Direction.OUTBOUND,
    status: MessageStatus | None = None,
    contact: PhoneNumber = ALICE_CUSTOMER,
    message_id: UUID | None = None,
) -> Message:
    default_status = MessageStatus.RECEIVED if direction is Direction.INBOUND else MessageStatus.DELIVERED
    message = Message(
        tenant_id=account.tenant.id,
        direction=direction,
        sender=account.sender.phone_number,
        contact=contact,
        content=MessageContent(body=body),
        status=status or default_status,
        created_at=at,
        updated_at=at,
        id=message_id or uuid4(),
    )
    await uow.messages.add(message)
    return message


async def store_series(
    uow: FakeUnitOfWork, account: TenantAccount, clock: FixedClock, count: int
) -> list[Message]:
    """``count`` messages a minute apart, oldest first, with bodies "1", "2", ..."""
    messages = []
    for number in range(1, count + 1):
        messages.append(await store(uow, account, clock.advance(timedelta(minutes=1)), body=str(number)))
    return messages


def bodies(page: HistoryPage) -> list[str]:
    return [message.body for message in page.items]


async def read_all_pages(history: ListHistory, request: HistoryRequest) -> list[HistoryPage]:
    pages = [await history(request)]
    while pages[-1].next_cursor is not None:
        request = HistoryRequest(
            tenant_id=request.tenant_id,
            limit=request.limit,
            cursor=pages[-1].next_cursor,
            direction=request.direction,
            status=request.status,
            contact=request.contact,
            since=request.since,
            until=request.until,
        )
        pages.append(await history(request))
        assert len(pages) < 1000, "the cursor never ran out"
    return pages


# ------------------------------------------------------------------------------------------- paging


async def test_the_newest_message_comes_first(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await store_series(uow, acme, clock, 3)

    page = await history(HistoryRequest(tenant_id=acme.tenant.id))

    assert bodies(page) == ["3", "2", "1"]
    assert page.next_cursor is None


async def test_pages_follow_each_other_until_the_cursor_runs_out(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await store_series(uow, acme, clock, 5)

    pages = await read_all_pages(history, HistoryRequest(tenant_id=acme.tenant.id, limit=2))

    assert [bodies(page) for page in pages] == [["5", "4"], ["3", "2"], ["1"]]
    assert pages[-1].next_cursor is None


async def test_a_full_last_page_has_no_cursor_to_an_empty_one(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await store_series(uow, acme, clock, 4)

    pages = await read_all_pages(history, HistoryRequest(tenant_id=acme.tenant.id, limit=2))

    assert [bodies(page) for page in pages] == [["4", "3"], ["2", "1"]]


async def test_an_empty_history_is_one_empty_page(history: ListHistory, acme: TenantAccount) -> None:
    page = await history(HistoryRequest(tenant_id=acme.tenant.id))

    assert page.items == []
    assert page.next_cursor is None


async def test_messages_sharing_a_timestamp_are_neither_lost_nor_repeated_across_pages(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    same_moment = clock.now()
    stored = [await store(uow, acme, same_moment, body=str(n)) for n in range(7)]

    pages = await read_all_pages(history, HistoryRequest(tenant_id=acme.tenant.id, limit=3))

    seen = [message.id for page in pages for message in page.items]
    assert sorted(seen) == sorted(message.id for message in stored)
    assert seen == sorted(seen, reverse=True)  # ties broken by id, newest id first


async def test_messages_arriving_between_pages_do_not_shift_the_next_page(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await store_series(uow, acme, clock, 4)
    first = await history(HistoryRequest(tenant_id=acme.tenant.id, limit=2))

    await store(uow, acme, clock.advance(), body="new")
    second = await history(HistoryRequest(tenant_id=acme.tenant.id, limit=2, cursor=first.next_cursor))

    assert bodies(first) == ["4", "3"]
    assert bodies(second) == ["2", "1"]


async def test_the_default_page_holds_fifty(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await store_series(uow, acme, clock, 60)

    page = await history(HistoryRequest(tenant_id=acme.tenant.id))

    assert len(page.items) == 50
    assert page.next_cursor is not None


async def test_a_page_is_never_larger_than_one_hundred(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await store_series(uow, acme, clock, 150)

    pages = await read_all_pages(history, HistoryRequest(tenant_id=acme.tenant.id, limit=10_000))

    assert [len(page.items) for page in pages] == [100, 50]


@pytest.mark.parametrize("limit", [0, -1])
async def test_a_limit_below_one_is_refused(history: ListHistory, acme: TenantAccount, limit: int) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        await history(HistoryRequest(tenant_id=acme.tenant.id, limit=limit))


async def test_a_cursor_we_did_not_issue_is_refused(history: ListHistory, acme: TenantAccount) -> None:
    with pytest.raises(InvalidCursor):
        await history(HistoryRequest(tenant_id=acme.tenant.id, cursor="bm90LWEtY3Vyc29y"))


# ------------------------------------------------------------------------------------------ filters


async def test_since_is_inclusive_and_until_exclusive(
    history: ListHistory, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    nine = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    for hour in range(8, 12):
        await store(uow, acme, nine.replace(hour=hour), body=f"{hour}h")

    page = await history(HistoryRequest(tenant_id=acme.tenant.id, since=nine, until=nine.replace(hour=11)))

    assert bodies(page) == ["10h", "9h"]


@pytest.mark.parametrize("field", ["since", "until"])
async def test_a_moment_without_a_timezone_is_refused(
    history: ListHistory, acme: TenantAccount, field: str
) -> None:
    naive = datetime(2026, 1, 15, 9, 0)  # a naive datetime: the mistake under test
    request = (
        HistoryRequest(tenant_id=acme.tenant.id, since=naive)
        if field == "since"
        else HistoryRequest(tenant_id=acme.tenant.id, until=naive)
    )

    with pytest.raises(InvalidInput, match=f"{field} needs a timezone"):
        await history(request)


async def test_moments_in_any_timezone_compare_as_instants(
    history: ListHistory, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    await store(uow, acme, datetime(2026, 1, 15, 9, 0, tzinfo=UTC), body="9h UTC")
    ten_in_paris = datetime(2026, 1, 15, 10, 0, tzinfo=timezone(timedelta(hours=1)))

    since_then = await history(HistoryRequest(tenant_id=acme.tenant.id, since=ten_in_paris))
    until_then = await history(HistoryRequest(tenant_id=acme.tenant.id, until=ten_in_paris))

    assert bodies(since_then) == ["9h UTC"]
    assert bodies(until_then) == []


async def test_direction_filter(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await store(uow, acme, clock.advance(), body="out")
    await store(uow, acme, clock.advance(), body="in", direction=Direction.INBOUND)

    inbound = await history(HistoryRequest(tenant_id=acme.tenant.id, direction=Direction.INBOUND))
    outbound = await history(HistoryRequest(tenant_id=acme.tenant.id, direction=Direction.OUTBOUND))

    assert bodies(inbound) == ["in"]
    assert bodies(outbound) == ["out"]


async def test_status_filter(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await store(uow, acme, clock.advance(), body="ok", status=MessageStatus.DELIVERED)
    await store(uow, acme, clock.advance(), body="ko", status=MessageStatus.FAILED)

    page = await history(HistoryRequest(tenant_id=acme.tenant.id, status=MessageStatus.FAILED))

    assert bodies(page) == ["ko"]


@pytest.mark.parametrize(
    "written_as", ["+447911123456", "whatsapp:+447911123456", "  WHATSAPP:+447911123456 "]
)
async def test_contact_filter_accepts_any_written_form_of_the_number(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, written_as: str
) -> None:
    await store(uow, acme, clock.advance(), body="to alice's customer", contact=ALICE_CUSTOMER)
    await store(uow, acme, clock.advance(), body="to someone else", contact=OTHER_CUSTOMER)

    page = await history(HistoryRequest(tenant_id=acme.tenant.id, contact=written_as))

    assert bodies(page) == ["to alice's customer"]


async def test_contact_filter_covers_both_directions(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await store(uow, acme, clock.advance(), body="question", direction=Direction.INBOUND)
    await store(uow, acme, clock.advance(), body="answer")

    page = await history(HistoryRequest(tenant_id=acme.tenant.id, contact=ALICE_CUSTOMER.e164))

    assert bodies(page) == ["answer", "question"]


async def test_an_invalid_contact_filter_is_refused(history: ListHistory, acme: TenantAccount) -> None:
    with pytest.raises(InvalidPhoneNumber):
        await history(HistoryRequest(tenant_id=acme.tenant.id, contact="07911 123456"))


async def test_filters_hold_across_pages(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    for number in range(6):
        direction = Direction.INBOUND if number % 2 else Direction.OUTBOUND
        await store(uow, acme, clock.advance(), body=f"{direction}-{number}", direction=direction)

    pages = await read_all_pages(
        history, HistoryRequest(tenant_id=acme.tenant.id, limit=2, direction=Direction.INBOUND)
    )

    assert [bodies(page) for page in pages] == [["inbound-5", "inbound-3"], ["inbound-1"]]


# ---------------------------------------------------------------------------------------- isolation


async def test_a_tenant_sees_only_its_own_messages(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    await store(uow, acme, clock.advance(), body="acme's")
    await store(uow, globex, clock.advance(), body="globex's")

    page = await history(HistoryRequest(tenant_id=acme.tenant.id))

    assert bodies(page) == ["acme's"]


async def test_another_tenants_cursor_reveals_nothing_of_theirs(
    history: ListHistory, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    await store_series(uow, acme, clock, 3)
    acme_page = await history(HistoryRequest(tenant_id=acme.tenant.id, limit=1))

    globex_page = await history(HistoryRequest(tenant_id=globex.tenant.id, cursor=acme_page.next_cursor))

    assert globex_page.items == []


async def test_one_message_is_found_by_its_tenant(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    message = await store(uow, acme, clock.now())

    assert (await GetMessage(uow)(acme.tenant.id, message.id)).message == message


async def test_another_tenants_message_is_not_found(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    message = await store(uow, acme, clock.now())

    with pytest.raises(NotFound):
        await GetMessage(uow)(globex.tenant.id, message.id)


async def test_an_unknown_message_is_not_found(uow: FakeUnitOfWork, acme: TenantAccount) -> None:
    with pytest.raises(NotFound):
        await GetMessage(uow)(acme.tenant.id, uuid4())


async def test_a_message_comes_with_its_status_timeline_in_order_received(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    message = await store(uow, acme, clock.now(), status=MessageStatus.QUEUED)
    await uow.messages.update(replace(message, provider_sid="SM1"))
    reports = [MessageStatus.DELIVERED, MessageStatus.SENT, MessageStatus.READ]
    for status in reports:
        await uow.messages.advance_status(StatusChange(provider_sid="SM1", status=status), clock.advance())

    details = await GetMessage(uow)(acme.tenant.id, message.id)

    assert details.message.status is MessageStatus.READ
    assert [(event.status, event.applied) for event in details.timeline] == [
        (MessageStatus.DELIVERED, True),
        (MessageStatus.SENT, False),  # late: it changed nothing, but it is on the record
        (MessageStatus.READ, True),
    ]
    assert [event.received_at for event in details.timeline] == sorted(
        e.received_at for e in details.timeline
    )
    with pytest.raises(NotFound):
        await GetMessage(uow)(globex.tenant.id, message.id)


async def test_a_message_without_reports_has_an_empty_timeline(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    message = await store(uow, acme, clock.now())

    assert (await GetMessage(uow)(acme.tenant.id, message.id)).timeline == []
