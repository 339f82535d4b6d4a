"""Scheduled sends: accepted as scheduled, sent by a worker at their time (not before), rescheduled or
canceled only while no worker has taken them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from application.errors import InvalidInput, NotFound, NotScheduled
from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.messaging.dispatcher import Dispatcher, DispatcherSettings
from application.messaging.scheduling import CancelScheduled, ListScheduled, RescheduleMessage
from application.messaging.send_message import SendMessage, SendMessageCommand
from application.messaging.template_sends import TemplateChoice
from application.principal import Principal
from application.tenant_webhooks.endpoints import RegisterWebhookCommand, RegisterWebhookEndpoint
from domain.administration.tenancy import Role
from domain.errors import InvalidMessage
from domain.messaging.failures import FailureCode
from domain.messaging.messages import Direction, Message, MessageStatus, Template
from domain.tenant_webhooks.model import WebhookEventType
from tests.support.fakes import (
    FakeMessagingProvider,
    FakeMetrics,
    FakeUnitOfWork,
    FakeWebhookUrlGuard,
    FixedClock,
    TenantAccount,
    open_window,
)
from tests.support.use_cases import build_send_message

CUSTOMER = "+447911123456"
AN_HOUR = timedelta(hours=1)


@pytest.fixture
def send_message(uow: FakeUnitOfWork, provider: FakeMessagingProvider, clock: FixedClock) -> SendMessage:
    return build_send_message(uow, provider, clock)


@pytest.fixture
def worker(uow: FakeUnitOfWork, provider: FakeMessagingProvider, clock: FixedClock) -> Dispatcher:
    """A worker of the queue, as ``wa-gateway worker`` runs one."""
    database = uow.database
    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(database), provider, clock, DispatchSettings(), metrics=FakeMetrics()
    )
    return Dispatcher(lambda: FakeUnitOfWork(database), dispatch, clock, DispatcherSettings(), owner="w1")


@pytest.fixture(autouse=True)
async def customer_wrote_an_hour_ago(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> None:
    await open_window(uow, acme, CUSTOMER, clock.now() - AN_HOUR)


def scheduled(account: TenantAccount, send_at: datetime, **more: object) -> SendMessageCommand:
    return SendMessageCommand(
        tenant_id=account.tenant.id,
        to_number=CUSTOMER,
        body="Your appointment is tomorrow",
        send_at=send_at,
        **more,  # type: ignore[arg-type]
    )


def outbound(uow: FakeUnitOfWork) -> list[Message]:
    return [m for m in uow.messages.all() if m.direction is Direction.OUTBOUND]


# ------------------------------------------------------------------------------------------ accepting


async def test_a_message_with_send_at_is_stored_scheduled_with_its_job_due_then_and_is_not_sent(
    send_message: SendMessage,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    send_at = clock.now() + AN_HOUR

    result = await send_message(scheduled(acme, send_at))

    assert result.dispatched is False
    assert (result.message.status, result.message.send_at) == (MessageStatus.SCHEDULED, send_at)
    [job] = uow.jobs.all()
    assert (job.message_id, job.available_at) == (result.message.id, send_at)
    assert provider.requests == []


async def test_send_at_in_another_offset_is_kept_in_utc(
    send_message: SendMessage, clock: FixedClock, acme: TenantAccount
) -> None:
    in_madrid = (clock.now() + AN_HOUR).astimezone(timezone(timedelta(hours=1)))

    message = (await send_message(scheduled(acme, in_madrid))).message

    assert message.send_at == clock.now() + AN_HOUR
    assert message.send_at is not None
    assert message.send_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("ahead", "words"),
    [
        (timedelta(seconds=59), "at least a minute ahead"),
        (-AN_HOUR, "at least a minute ahead"),
        (timedelta(days=35, seconds=1), "at most 35 days ahead"),
    ],
    ids=["under a minute", "in the past", "beyond 35 days"],
)
async def test_a_send_at_out_of_bounds_is_refused_and_nothing_is_stored(
    send_message: SendMessage,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    ahead: timedelta,
    words: str,
) -> None:
    with pytest.raises(InvalidMessage, match=words):
        await send_message(scheduled(acme, clock.now() + ahead))

    assert outbound(uow) == []
    assert uow.jobs.all() == []


@pytest.mark.parametrize("ahead", [timedelta(minutes=1), timedelta(days=35)], ids=["a minute", "35 days"])
async def test_the_bounds_themselves_are_accepted(
    send_message: SendMessage, clock: FixedClock, acme: TenantAccount, ahead: timedelta
) -> None:
    message = (await send_message(scheduled(acme, clock.now() + ahead))).message

    assert message.status is MessageStatus.SCHEDULED


async def test_a_moment_without_utc_equivalent_is_refused_not_overflowed(
    send_message: SendMessage, acme: TenantAccount
) -> None:
    far = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-14)))

    with pytest.raises(InvalidMessage, match="at most 35 days ahead"):
        await send_message(scheduled(acme, far))


async def test_a_free_form_message_to_a_closed_window_is_accepted_for_later(
    send_message: SendMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    command = SendMessageCommand(
        tenant_id=acme.tenant.id, to_number="+14155550100", body="hi", send_at=clock.now() + AN_HOUR
    )

    message = (await send_message(command)).message

    assert message.status is MessageStatus.SCHEDULED


async def test_a_fallback_template_cannot_be_scheduled(
    send_message: SendMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    fallback = TemplateChoice(Template.named("order_update", "en", {"1": "Ana"}))

    with pytest.raises(InvalidInput, match="fallback_template"):
        await send_message(scheduled(acme, clock.now() + AN_HOUR, fallback_template=fallback))

    assert outbound(uow) == []


async def test_a_repeated_scheduled_request_with_its_key_replays_the_first_answer(
    send_message: SendMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    command = scheduled(acme, clock.now() + AN_HOUR, idempotency_key="appointment-42")
    first = await send_message(command)
    clock.advance(timedelta(minutes=59, seconds=30))  # send_at is now less than a minute ahead

    again = await send_message(command)

    assert again.replayed
    assert not again.dispatched
    assert again.message.id == first.message.id
    assert len(outbound(uow)) == 1


# ------------------------------------------------------------------------------------------ dispatching


async def test_a_worker_sends_it_at_its_time_and_not_before(
    send_message: SendMessage,
    worker: Dispatcher,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    message = (await send_message(scheduled(acme, clock.now() + AN_HOUR))).message
    clock.advance(AN_HOUR - timedelta(seconds=1))
    assert await worker.run_due() == []

    clock.advance(timedelta(seconds=1))
    [sent] = await worker.run_due()

    assert (sent.id, sent.status, sent.send_at) == (message.id, MessageStatus.QUEUED, message.send_at)
    assert [request.message.id for request in provider.requests] == [message.id]
    assert uow.jobs.all() == []
    assert await worker.run_due() == []  # sent once


async def test_a_free_form_message_whose_window_closed_by_its_time_fails_unsent(
    send_message: SendMessage,
    worker: Dispatcher,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    # The customer wrote an hour ago: the window closes 23 hours from now.
    await send_message(scheduled(acme, clock.now() + timedelta(hours=24)))
    clock.advance(timedelta(hours=24))

    [failed] = await worker.run_due()

    assert failed.status is MessageStatus.FAILED
    assert failed.failure is not None
    assert failed.failure.code is FailureCode.SESSION_WINDOW_CLOSED
    assert provider.requests == []


async def test_a_scheduled_template_goes_whatever_the_window(
    send_message: SendMessage,
    worker: Dispatcher,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    command = SendMessageCommand(
        tenant_id=acme.tenant.id,
        to_number="+14155550100",
        content_sid="HX" + "a" * 32,
        send_at=clock.now() + AN_HOUR,
    )
    await send_message(command)
    clock.advance(AN_HOUR)

    [sent] = await worker.run_due()

    assert sent.status is MessageStatus.QUEUED
    assert len(provider.requests) == 1


# ------------------------------------------------------------------------------------------ listing


async def test_the_pending_scheduled_messages_are_listed_soonest_first_a_page_at_a_time(
    send_message: SendMessage,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    later = (await send_message(scheduled(acme, clock.now() + 3 * AN_HOUR))).message
    sooner = (await send_message(scheduled(acme, clock.now() + AN_HOUR))).message
    middle = (await send_message(scheduled(acme, clock.now() + 2 * AN_HOUR))).message
    await send_message(SendMessageCommand(tenant_id=acme.tenant.id, to_number=CUSTOMER, body="now"))
    list_scheduled = ListScheduled(uow)

    first = await list_scheduled(acme.tenant.id, limit=2)
    second = await list_scheduled(acme.tenant.id, limit=2, cursor=first.next_cursor)

    assert [view.id for view in first.items] == [sooner.id, middle.id]
    assert [view.id for view in second.items] == [later.id]
    assert second.next_cursor is None
    assert (await list_scheduled(globex.tenant.id)).items == []


# ------------------------------------------------------------------------------------------ rescheduling


async def test_a_scheduled_message_is_moved_with_its_job(
    send_message: SendMessage,
    worker: Dispatcher,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    message = (await send_message(scheduled(acme, clock.now() + AN_HOUR))).message
    new_time = clock.now() + 2 * AN_HOUR

    moved = await RescheduleMessage(uow, clock)(acme.tenant.id, message.id, new_time)

    assert (moved.status, moved.send_at) == (MessageStatus.SCHEDULED, new_time)
    assert (await uow.messages.get(acme.tenant.id, message.id)) == moved
    [job] = uow.jobs.all()
    assert job.available_at == new_time
    clock.advance(AN_HOUR)
    assert await worker.run_due() == []  # its old time passes unsent


async def test_rescheduling_takes_the_same_bounds_as_a_send(
    send_message: SendMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    message = (await send_message(scheduled(acme, clock.now() + AN_HOUR))).message

    with pytest.raises(InvalidMessage, match="at most 35 days"):
        await RescheduleMessage(uow, clock)(acme.tenant.id, message.id, clock.now() + timedelta(days=36))

    assert (await uow.messages.get(acme.tenant.id, message.id)) == message


async def test_a_message_a_worker_has_taken_can_no_longer_be_rescheduled_or_canceled(
    send_message: SendMessage,
    worker: Dispatcher,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    message = (await send_message(scheduled(acme, clock.now() + AN_HOUR))).message
    clock.advance(AN_HOUR)
    assert await worker.claim(message.id) is not None  # taken, about to be sent

    with pytest.raises(NotScheduled):
        await RescheduleMessage(uow, clock)(acme.tenant.id, message.id, clock.now() + AN_HOUR)
    with pytest.raises(NotScheduled):
        await CancelScheduled(uow, clock)(acme.tenant.id, message.id)

    assert (await uow.messages.get(acme.tenant.id, message.id)) == message
    assert len(uow.jobs.all()) == 1


async def test_a_message_sent_at_once_is_not_scheduled(
    send_message: SendMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    sent = (
        await send_message(SendMessageCommand(tenant_id=acme.tenant.id, to_number=CUSTOMER, body="now"))
    ).message

    with pytest.raises(NotScheduled, match="queued"):
        await RescheduleMessage(uow, clock)(acme.tenant.id, sent.id, clock.now() + AN_HOUR)
    with pytest.raises(NotScheduled, match="queued"):
        await CancelScheduled(uow, clock)(acme.tenant.id, sent.id)


async def test_another_tenants_scheduled_message_is_not_found(
    send_message: SendMessage,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    message = (await send_message(scheduled(acme, clock.now() + AN_HOUR))).message

    with pytest.raises(NotFound):
        await RescheduleMessage(uow, clock)(globex.tenant.id, message.id, clock.now() + AN_HOUR)
    with pytest.raises(NotFound):
        await CancelScheduled(uow, clock)(globex.tenant.id, message.id)

    assert (await uow.messages.get(acme.tenant.id, message.id)) == message


# ------------------------------------------------------------------------------------------ canceling


async def test_a_canceled_message_is_final_its_job_gone_and_never_sent(
    send_message: SendMessage,
    worker: Dispatcher,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    message = (await send_message(scheduled(acme, clock.now() + AN_HOUR))).message
    clock.advance(timedelta(minutes=5))

    canceled = await CancelScheduled(uow, clock)(acme.tenant.id, message.id)

    assert (canceled.status, canceled.updated_at) == (MessageStatus.CANCELED, clock.now())
    assert (await uow.messages.get(acme.tenant.id, message.id)) == canceled
    assert uow.jobs.all() == []
    clock.advance(AN_HOUR)
    assert await worker.run_due() == []
    assert provider.requests == []
    with pytest.raises(NotScheduled, match="canceled"):
        await CancelScheduled(uow, clock)(acme.tenant.id, message.id)


async def test_canceling_tells_the_tenants_webhooks_as_a_message_status_event(
    send_message: SendMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    principal = Principal(user_id=acme.user.id, tenant_id=acme.tenant.id, role=Role.TENANT_ADMIN)
    await RegisterWebhookEndpoint(uow, FakeWebhookUrlGuard(), clock)(
        RegisterWebhookCommand(
            principal=principal, url="https://crm.example.com/hooks", events=("message.status",)
        )
    )
    message = (await send_message(scheduled(acme, clock.now() + AN_HOUR))).message

    await CancelScheduled(uow, clock)(acme.tenant.id, message.id)

    [delivery] = uow.webhook_deliveries.all()
    assert delivery.event_type is WebhookEventType.MESSAGE_STATUS
    data = json.loads(delivery.payload)["data"]
    assert (data["id"], data["status"]) == (str(message.id), "canceled")
