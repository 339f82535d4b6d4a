"""The messages of a tenant created or changed after a moment, oldest change first: what the inbox's
live view polls for."""

from __future__ import annotations

from datetime import timedelta

from application.ports.messages import StatusChange
from domain.messaging.messages import MessageStatus
from tests.support.databases import UowFactory
from tests.support.repositories import T0
from tests.support.repositories.messages import add_messages, add_tenant, inbound, outbound


async def test_the_messages_created_after_a_moment_come_oldest_first_and_only_the_tenants(
    uow_factory: UowFactory,
) -> None:
    tenant, other = await add_tenant(uow_factory), await add_tenant(uow_factory)
    before = outbound(tenant, at=T0)
    first = inbound(tenant, at=T0 + timedelta(seconds=2))
    second = outbound(tenant, at=T0 + timedelta(seconds=3), body="second")
    theirs = outbound(other, at=T0 + timedelta(seconds=2))
    await add_messages(uow_factory, before, second, first, theirs)

    async with uow_factory() as uow:
        changed = await uow.messages.list_changed(tenant.id, T0, 10)

    assert [view.id for view in changed] == [first.id, second.id]
    assert changed[1].body == "second"


async def test_a_status_change_makes_a_message_changed(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    sent = outbound(tenant, at=T0).handed_to_provider("SM-changes-1", MessageStatus.SENT, T0)
    await add_messages(uow_factory, sent)

    async with uow_factory() as uow:
        await uow.messages.advance_status(
            StatusChange("SM-changes-1", MessageStatus.DELIVERED), T0 + timedelta(minutes=5)
        )
        await uow.commit()
    async with uow_factory() as uow:
        changed = await uow.messages.list_changed(tenant.id, T0 + timedelta(minutes=1), 10)

    assert [(view.id, view.status) for view in changed] == [(sent.id, MessageStatus.DELIVERED)]


async def test_a_page_of_changes_is_at_most_the_limit(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    messages = [outbound(tenant, at=T0 + timedelta(seconds=second)) for second in range(1, 4)]
    await add_messages(uow_factory, *messages)

    async with uow_factory() as uow:
        changed = await uow.messages.list_changed(tenant.id, T0, 2)

    assert [view.id for view in changed] == [messages[0].id, messages[1].id]
