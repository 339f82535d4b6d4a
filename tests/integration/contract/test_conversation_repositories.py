"""Conversations by id, and their unread counts: each inbound message adds one, marking the
conversation seen sets it back to 0, outbound messages leave it as it is."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

from domain.messaging.conversations import Conversation
from domain.messaging.messages import Message
from domain.phone import PhoneNumber
from tests.support.databases import UowFactory
from tests.support.repositories import T0
from tests.support.repositories.messages import ALICE, add_tenant, inbound, outbound

BOB = PhoneNumber.parse("+4915187654321")


async def record(uow_factory: UowFactory, *messages: Message) -> None:
    for message in messages:
        async with uow_factory() as uow:
            await uow.messages.add(message)
            await uow.conversations.record_message(message)
            await uow.commit()


async def conversation_of(
    uow_factory: UowFactory, tenant_id: UUID, contact: PhoneNumber = ALICE
) -> Conversation:
    async with uow_factory() as uow:
        conversation = await uow.conversations.get(tenant_id, contact)
    assert conversation is not None
    return conversation


async def test_each_inbound_message_is_one_more_unread_and_outbound_ones_change_nothing(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    await record(
        uow_factory,
        outbound(tenant),
        inbound(tenant, at=T0 + timedelta(minutes=1)),
        inbound(tenant, at=T0 + timedelta(minutes=2)),
        outbound(tenant, at=T0 + timedelta(minutes=3)),
    )

    assert (await conversation_of(uow_factory, tenant.id)).unread_count == 2


async def test_an_inbound_message_recorded_late_still_counts_as_unread(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    await record(uow_factory, inbound(tenant, at=T0 + timedelta(minutes=5)), inbound(tenant, at=T0))

    assert (await conversation_of(uow_factory, tenant.id)).unread_count == 2


async def test_a_conversation_begun_by_the_business_has_nothing_unread(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    await record(uow_factory, outbound(tenant))

    assert (await conversation_of(uow_factory, tenant.id)).unread_count == 0


async def test_marking_a_conversation_seen_sets_its_unread_count_to_zero_and_only_its_own(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    await record(uow_factory, inbound(tenant), inbound(tenant, contact=BOB))
    alice = await conversation_of(uow_factory, tenant.id)

    async with uow_factory() as uow:
        assert await uow.conversations.mark_seen(tenant.id, alice.id) is True
        await uow.commit()

    assert (await conversation_of(uow_factory, tenant.id)).unread_count == 0
    assert (await conversation_of(uow_factory, tenant.id, BOB)).unread_count == 1
    await record(uow_factory, inbound(tenant, at=T0 + timedelta(minutes=1)))
    assert (await conversation_of(uow_factory, tenant.id)).unread_count == 1


async def test_another_tenants_conversation_is_neither_found_nor_marked_seen(uow_factory: UowFactory) -> None:
    acme = await add_tenant(uow_factory)
    globex = await add_tenant(uow_factory)
    await record(uow_factory, inbound(acme))
    theirs = await conversation_of(uow_factory, acme.id)

    async with uow_factory() as uow:
        assert await uow.conversations.get_by_id(globex.id, theirs.id) is None
        assert await uow.conversations.mark_seen(globex.id, theirs.id) is False
        assert await uow.conversations.mark_seen(acme.id, uuid4()) is False
        await uow.commit()

    assert (await conversation_of(uow_factory, acme.id)).unread_count == 1


async def test_a_conversation_is_found_by_its_id(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    await record(uow_factory, inbound(tenant))
    stored = await conversation_of(uow_factory, tenant.id)

    async with uow_factory() as uow:
        found = await uow.conversations.get_by_id(tenant.id, stored.id)

    assert found == stored
    assert found is not None
    assert found.unread_count == 1
