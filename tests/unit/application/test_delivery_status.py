"""Delivery status reports: they arrive late, out of order and twice; a status only moves forward."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.inbound.delivery_status import RecordStatusChange
from application.messaging.send_message import SendMessageCommand
from application.ports.messages import StatusChange
from domain.messaging.messages import Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.fakes import (
    FakeMessagingProvider,
    FakeMetrics,
    FakeUnitOfWork,
    FixedClock,
    TenantAccount,
    open_window,
)
from tests.support.use_cases import build_send_message

SID = "SM0123456789abcdef0123456789abcdef"


@pytest.fixture
def record(uow: FakeUnitOfWork, clock: FixedClock) -> RecordStatusChange:
    return RecordStatusChange(uow, clock, metrics=FakeMetrics())


@pytest.fixture
async def queued(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> Message:
    """A message the provider took as ``SID``, now queued."""
    message = Message.new_outbound(
        tenant_id=acme.tenant.id,
        sender=acme.sender.phone_number,
        contact=PhoneNumber.parse("+447911123456"),
        content=MessageContent(body="Your order shipped"),
        now=clock.now(),
    ).handed_to_provider(SID, MessageStatus.QUEUED, clock.now())
    await uow.messages.add(message)
    return message


async def status_of(uow: FakeUnitOfWork, message: Message) -> MessageStatus:
    stored = await uow.messages.get(message.tenant_id, message.id)
    assert stored is not None
    return stored.status


async def test_each_forward_step_is_recorded(
    record: RecordStatusChange, uow: FakeUnitOfWork, clock: FixedClock, queued: Message
) -> None:
    for status in (MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ):
        moment = clock.advance(timedelta(seconds=2))

        updated = await record(StatusChange(provider_sid=SID, status=status))

        assert updated is not None
        assert updated.status is status
        assert updated.updated_at == moment
        assert await status_of(uow, queued) is status
    assert uow.committed


async def test_a_step_may_be_skipped(
    record: RecordStatusChange, uow: FakeUnitOfWork, queued: Message
) -> None:
    await record(StatusChange(provider_sid=SID, status=MessageStatus.DELIVERED))

    assert await status_of(uow, queued) is MessageStatus.DELIVERED


async def test_a_report_overtaken_by_a_later_one_is_ignored(
    record: RecordStatusChange, uow: FakeUnitOfWork, clock: FixedClock, queued: Message
) -> None:
    delivered = await record(StatusChange(provider_sid=SID, status=MessageStatus.DELIVERED))
    clock.advance()

    late = await record(StatusChange(provider_sid=SID, status=MessageStatus.SENT))

    assert late is None
    assert await uow.messages.get(queued.tenant_id, queued.id) == delivered


async def test_a_repeated_report_changes_nothing(
    record: RecordStatusChange, uow: FakeUnitOfWork, clock: FixedClock, queued: Message
) -> None:
    first = await record(StatusChange(provider_sid=SID, status=MessageStatus.SENT))
    clock.advance()

    again = await record(StatusChange(provider_sid=SID, status=MessageStatus.SENT))

    assert again is None
    assert await uow.messages.get(queued.tenant_id, queued.id) == first


async def test_a_failure_is_recorded_with_the_providers_error(
    record: RecordStatusChange, uow: FakeUnitOfWork, queued: Message
) -> None:
    await record(StatusChange(provider_sid=SID, status=MessageStatus.SENT))

    failed = await record(
        StatusChange(
            provider_sid=SID, status=MessageStatus.FAILED, error_code=63016, error_message="outside window"
        )
    )

    assert failed is not None
    assert failed.status is MessageStatus.FAILED
    assert failed.error_code == 63016
    assert failed.error_message == "outside window"


async def test_a_delivered_message_can_still_turn_out_undelivered(
    record: RecordStatusChange, uow: FakeUnitOfWork, queued: Message
) -> None:
    await record(StatusChange(provider_sid=SID, status=MessageStatus.DELIVERED))

    await record(StatusChange(provider_sid=SID, status=MessageStatus.UNDELIVERED, error_code=30008))

    assert await status_of(uow, queued) is MessageStatus.UNDELIVERED


@pytest.mark.parametrize("final", [MessageStatus.READ, MessageStatus.FAILED, MessageStatus.UNDELIVERED])
@pytest.mark.parametrize("late", [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED])
async def test_nothing_moves_a_message_out_of_a_final_status(
    record: RecordStatusChange,
    uow: FakeUnitOfWork,
    queued: Message,
    final: MessageStatus,
    late: MessageStatus,
) -> None:
    settled = await record(StatusChange(provider_sid=SID, status=final))

    assert await record(StatusChange(provider_sid=SID, status=late)) is None
    assert await uow.messages.get(queued.tenant_id, queued.id) == settled


async def test_a_report_for_an_unknown_message_is_ignored(
    record: RecordStatusChange, uow: FakeUnitOfWork, queued: Message
) -> None:
    assert await record(StatusChange(provider_sid="SMunknown", status=MessageStatus.DELIVERED)) is None

    assert uow.messages.all() == [queued]


async def test_a_report_moves_only_the_message_it_names(
    record: RecordStatusChange,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    queued: Message,
    globex: TenantAccount,
) -> None:
    other = Message.new_outbound(
        tenant_id=globex.tenant.id,
        sender=globex.sender.phone_number,
        contact=PhoneNumber.parse("+447911123456"),
        content=MessageContent(body="hello"),
        now=clock.now(),
    ).handed_to_provider("SMother", MessageStatus.QUEUED, clock.now())
    await uow.messages.add(other)

    await record(StatusChange(provider_sid=SID, status=MessageStatus.DELIVERED))

    assert await status_of(uow, other) is MessageStatus.QUEUED


async def test_reports_settle_a_message_sent_through_the_gateway(
    record: RecordStatusChange,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    await open_window(uow, acme, "+447911123456", clock.now())
    sent = (
        await build_send_message(uow, provider, clock)(
            SendMessageCommand(tenant_id=acme.tenant.id, to_number="+447911123456", body="hi")
        )
    ).message
    assert sent.provider_sid is not None

    for status in (MessageStatus.DELIVERED, MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ):
        await record(StatusChange(provider_sid=sent.provider_sid, status=status))

    assert await status_of(uow, sent) is MessageStatus.READ
