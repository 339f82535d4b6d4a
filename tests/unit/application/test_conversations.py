"""Conversations: one per contact, most recent activity first, each with its 24-hour window."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from application.errors import InvalidCursor, InvalidInput, NotFound
from application.messaging.conversations import (
    ConversationPage,
    ConversationsRequest,
    GetConversation,
    ListConversations,
    MarkConversationSeen,
)
from application.pagination import encode_cursor
from application.ports.messages import HistoryPosition
from domain.messaging.conversations import SESSION_WINDOW
from domain.messaging.messages import Direction, Message, MessageContent
from domain.phone import PhoneNumber
from tests.support.fakes import FakeUnitOfWork, FixedClock, TenantAccount, open_window


@pytest.fixture
def conversations(uow: FakeUnitOfWork, clock: FixedClock) -> ListConversations:
    return ListConversations(uow, clock)


def contact(n: int) -> str:
    return f"+1415555{n:04d}"


async def reply(uow: FakeUnitOfWork, account: TenantAccount, to: str, at: datetime) -> Message:
    """An outbound message recorded in its conversation, as SendMessage records it."""
    message = Message.new_outbound(
        tenant_id=account.tenant.id,
        sender=account.sender.phone_number,
        contact=PhoneNumber.parse(to),
        content=MessageContent(body=f"reply to {to}"),
        now=at,
    )
    await uow.messages.add(message)
    await uow.conversations.record_message(message)
    return message


async def all_pages(
    conversations: ListConversations, request: ConversationsRequest
) -> list[ConversationPage]:
    pages = [await conversations(request)]
    while pages[-1].next_cursor is not None:
        pages.append(await conversations(replace(request, cursor=pages[-1].next_cursor)))
    return pages


async def test_an_empty_tenant_has_one_empty_page(
    conversations: ListConversations, acme: TenantAccount
) -> None:
    page = await conversations(ConversationsRequest(tenant_id=acme.tenant.id))

    assert page.items == []
    assert page.next_cursor is None


async def test_one_conversation_per_contact_with_its_last_message(
    conversations: ListConversations, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    wrote = await open_window(uow, acme, contact(1), clock.now() - timedelta(hours=2), body="where is it?")
    answered = await reply(uow, acme, contact(1), clock.now() - timedelta(hours=1))

    [conversation] = (await conversations(ConversationsRequest(tenant_id=acme.tenant.id))).items

    assert conversation.contact == PhoneNumber.parse(contact(1))
    assert conversation.last_message_id == answered.id
    assert conversation.last_direction is Direction.OUTBOUND
    assert conversation.last_message_preview == f"reply to {contact(1)}"
    assert conversation.last_inbound_at == wrote.created_at
    assert conversation.window_expires_at == wrote.created_at + SESSION_WINDOW


async def test_the_window_is_judged_at_the_moment_the_page_is_read(
    conversations: ListConversations, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await open_window(uow, acme, contact(1), clock.now() - timedelta(hours=23))
    await open_window(uow, acme, contact(2), clock.now() - timedelta(hours=25))
    await reply(uow, acme, contact(3), clock.now())

    page = await conversations(ConversationsRequest(tenant_id=acme.tenant.id))

    assert page.as_of == clock.now()
    by_contact = {c.contact.e164: c.window_open(page.as_of) for c in page.items}
    assert by_contact == {contact(1): True, contact(2): False, contact(3): False}


async def test_pages_cover_every_conversation_once_most_recent_first(
    conversations: ListConversations, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    start = clock.now()
    for n in range(7):
        await open_window(uow, acme, contact(n), start + timedelta(minutes=n))
    # Two conversations sharing one timestamp are ordered by id, neither lost nor repeated.
    await open_window(uow, acme, contact(7), start + timedelta(minutes=6))
    # A reply moves contact 0 to the top.
    await reply(uow, acme, contact(0), start + timedelta(minutes=10))

    pages = await all_pages(conversations, ConversationsRequest(tenant_id=acme.tenant.id, limit=3))

    seen = [c.contact.e164 for page in pages for c in page.items]
    assert [len(page.items) for page in pages] == [3, 3, 2]
    assert seen[0] == contact(0)
    assert sorted(seen) == sorted(contact(n) for n in range(8))
    ordered = [(c.last_message_at, c.id) for page in pages for c in page.items]
    assert ordered == sorted(ordered, reverse=True)


async def test_a_full_last_page_has_no_cursor(
    conversations: ListConversations, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    for n in range(4):
        await open_window(uow, acme, contact(n), clock.advance())

    pages = await all_pages(conversations, ConversationsRequest(tenant_id=acme.tenant.id, limit=2))

    assert [len(page.items) for page in pages] == [2, 2]


async def test_a_page_is_never_larger_than_one_hundred(
    conversations: ListConversations, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    for n in range(101):
        await open_window(uow, acme, contact(n), clock.advance())

    page = await conversations(ConversationsRequest(tenant_id=acme.tenant.id, limit=1000))

    assert len(page.items) == 100
    assert page.next_cursor is not None


@pytest.mark.parametrize("limit", [0, -1])
async def test_a_limit_below_one_is_refused(
    conversations: ListConversations, acme: TenantAccount, limit: int
) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        await conversations(ConversationsRequest(tenant_id=acme.tenant.id, limit=limit))


async def test_a_history_cursor_is_not_a_conversation_cursor(
    conversations: ListConversations, clock: FixedClock, acme: TenantAccount
) -> None:
    history_cursor = encode_cursor(HistoryPosition(created_at=clock.now(), message_id=acme.user.id))

    with pytest.raises(InvalidCursor):
        await conversations(ConversationsRequest(tenant_id=acme.tenant.id, cursor=history_cursor))
    with pytest.raises(InvalidCursor):
        await conversations(ConversationsRequest(tenant_id=acme.tenant.id, cursor="garbage!"))


async def test_a_tenant_sees_only_its_own_conversations(
    conversations: ListConversations,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    for n in range(3):
        await open_window(uow, acme, contact(n), clock.advance())
    await open_window(uow, globex, contact(0), clock.advance())
    acme_first = await conversations(ConversationsRequest(tenant_id=acme.tenant.id, limit=1))

    globex_pages = await all_pages(conversations, ConversationsRequest(tenant_id=globex.tenant.id))
    with_acme_cursor = await conversations(
        ConversationsRequest(tenant_id=globex.tenant.id, cursor=acme_first.next_cursor)
    )

    assert [c.tenant_id for page in globex_pages for c in page.items] == [globex.tenant.id]
    assert all(c.tenant_id == globex.tenant.id for c in with_acme_cursor.items)


async def test_a_conversation_is_read_by_its_id_with_its_unread_count(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await open_window(uow, acme, contact(1), clock.now() - timedelta(minutes=2))
    await open_window(uow, acme, contact(1), clock.now() - timedelta(minutes=1))
    [listed] = (await ListConversations(uow, clock)(ConversationsRequest(tenant_id=acme.tenant.id))).items

    conversation = await GetConversation(uow)(acme.tenant.id, listed.id)

    assert conversation == listed
    assert conversation.unread_count == 2


async def test_another_tenants_conversation_is_not_found(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    await open_window(uow, acme, contact(1), clock.now())
    [theirs] = (await ListConversations(uow, clock)(ConversationsRequest(tenant_id=acme.tenant.id))).items

    with pytest.raises(NotFound):
        await GetConversation(uow)(globex.tenant.id, theirs.id)
    with pytest.raises(NotFound):
        await MarkConversationSeen(uow)(globex.tenant.id, theirs.id)
    assert (await GetConversation(uow)(acme.tenant.id, theirs.id)).unread_count == 1


async def test_a_conversation_marked_seen_has_nothing_unread_until_the_customer_writes_again(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await open_window(uow, acme, contact(1), clock.now() - timedelta(minutes=2))
    [listed] = (await ListConversations(uow, clock)(ConversationsRequest(tenant_id=acme.tenant.id))).items

    await MarkConversationSeen(uow)(acme.tenant.id, listed.id)

    assert (await GetConversation(uow)(acme.tenant.id, listed.id)).unread_count == 0
    await open_window(uow, acme, contact(1), clock.now())
    assert (await GetConversation(uow)(acme.tenant.id, listed.id)).unread_count == 1


async def test_marking_an_unknown_conversation_seen_is_not_found(
    uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    with pytest.raises(NotFound):
        await MarkConversationSeen(uow)(acme.tenant.id, uuid4())
