"""One customer, however WhatsApp writes their number: one conversation, one session window, one history.

WhatsApp writes Mexican mobiles with a 1 after +52, Argentine ones with or without the 9 after +54, and
Brazilian accounts older than the ninth digit without it. A customer who writes in one form and is
answered in the other is still the same customer, and replies go to the form they write from.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.twilio.callbacks import TwilioInboundMessages
from application.inbound.receive_message import ReceiveInboundMessage
from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.messaging.dispatcher import Dispatcher, DispatcherSettings
from application.messaging.history import HistoryRequest, ListHistory
from application.messaging.send_message import SendMessage, SendMessageCommand
from application.ports.provider_callbacks import ProviderCallback
from domain.administration.tenancy import Sender, TwilioCredentials
from domain.messaging.messages import Direction, Message
from domain.phone import PhoneNumber
from tests.support.fakes import FakeMessagingProvider, FakeMetrics, FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.provider_accounts import set_twilio_credentials
from tests.support.twilio_callbacks import (
    ACME_ACCOUNT,
    ACME_TOKEN,
    INBOUND_SID,
    INBOUND_URL,
    inbound_params,
    signed_callback,
)

MEXICO_WHATSAPP, MEXICO_PLAN = "+5215512345678", "+525512345678"
ARGENTINA_WHATSAPP, ARGENTINA_NATIONAL = "+5491123456789", "+541123456789"
BRAZIL_OLD_ACCOUNT, BRAZIL_PLAN = "+551187654321", "+5511987654321"


@pytest.fixture
async def twilio_account(uow: FakeUnitOfWork, acme: TenantAccount) -> None:
    await set_twilio_credentials(uow, acme.tenant.id, TwilioCredentials(ACME_ACCOUNT, ACME_TOKEN))


@pytest.fixture
def receive(uow: FakeUnitOfWork, clock: FixedClock, twilio_account: None) -> ReceiveInboundMessage:
    return ReceiveInboundMessage(uow, TwilioInboundMessages(), clock)


@pytest.fixture
def send_message(uow: FakeUnitOfWork, provider: FakeMessagingProvider, clock: FixedClock) -> SendMessage:
    database = uow.database
    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(database), provider, clock, DispatchSettings(), metrics=FakeMetrics()
    )
    dispatcher = Dispatcher(lambda: FakeUnitOfWork(database), dispatch, clock, DispatcherSettings())
    return SendMessage(uow, dispatcher, clock, wait_seconds=5.0, metrics=FakeMetrics(), provider=provider)


def customer_writes(from_: str, *, to: str = "+14155238886", sid: str = INBOUND_SID) -> ProviderCallback:
    """Twilio's inbound webhook as it arrives for a customer whose WhatsApp id is ``from_``."""
    params = inbound_params(from_=from_, to=to, wa_id=from_.removeprefix("+"), sid=sid)
    return signed_callback(INBOUND_URL, params, token=ACME_TOKEN)


def reply(
    account: TenantAccount, to: str, *, content_sid: str | None = None, idempotency_key: str | None = None
) -> SendMessageCommand:
    return SendMessageCommand(
        tenant_id=account.tenant.id,
        to_number=to,
        body="" if content_sid else "Your order shipped",
        content_sid=content_sid,
        idempotency_key=idempotency_key,
    )


def sent_messages(uow: FakeUnitOfWork) -> list[Message]:
    return [message for message in uow.messages.all() if message.direction is Direction.OUTBOUND]


async def test_a_mexican_customer_writing_in_whatsapps_form_is_stored_as_written(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork
) -> None:
    receipt = await receive(customer_writes(MEXICO_WHATSAPP))

    assert not receipt.duplicate
    assert receipt.message.contact.e164 == MEXICO_WHATSAPP
    assert uow.messages.all() == [receipt.message]


@pytest.mark.parametrize(
    ("writes_from", "answered_at"),
    [
        (MEXICO_WHATSAPP, MEXICO_PLAN),
        (MEXICO_PLAN, MEXICO_WHATSAPP),
        (ARGENTINA_WHATSAPP, ARGENTINA_NATIONAL),
        (BRAZIL_OLD_ACCOUNT, BRAZIL_PLAN),
        (BRAZIL_PLAN, BRAZIL_OLD_ACCOUNT),
    ],
)
async def test_a_reply_in_the_other_form_is_inside_the_window_and_goes_where_the_customer_wrote_from(
    receive: ReceiveInboundMessage,
    send_message: SendMessage,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
    writes_from: str,
    answered_at: str,
) -> None:
    await receive(customer_writes(writes_from))
    clock.advance(timedelta(minutes=5))

    result = await send_message(reply(acme, answered_at))

    assert result.dispatched
    assert result.message.contact.e164 == writes_from
    assert [request.message.contact.e164 for request in provider.requests] == [writes_from]
    [conversation] = uow.conversations.all()
    assert conversation.contact.e164 == writes_from
    assert conversation.last_direction is Direction.OUTBOUND
    assert conversation.window_open(clock.now())


async def test_the_conversation_is_found_by_either_form(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    await receive(customer_writes(MEXICO_WHATSAPP))

    by_whatsapp_form = await uow.conversations.get(acme.tenant.id, PhoneNumber.parse(MEXICO_WHATSAPP))
    by_plan_form = await uow.conversations.get(acme.tenant.id, PhoneNumber.parse(MEXICO_PLAN))

    assert by_whatsapp_form is not None
    assert by_whatsapp_form == by_plan_form


async def test_before_the_customer_writes_a_message_goes_to_the_form_it_was_addressed_to(
    receive: ReceiveInboundMessage,
    send_message: SendMessage,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    template = reply(acme, MEXICO_PLAN, content_sid="HX" + "0" * 32)

    first = await send_message(template)
    clock.advance(timedelta(minutes=5))
    await receive(customer_writes(MEXICO_WHATSAPP))
    clock.advance(timedelta(minutes=5))
    answer = await send_message(reply(acme, MEXICO_PLAN))

    assert first.message.contact.e164 == MEXICO_PLAN
    assert answer.message.contact.e164 == MEXICO_WHATSAPP
    [conversation] = uow.conversations.all()
    assert conversation.contact.e164 == MEXICO_WHATSAPP  # replies now go where the customer writes from
    assert conversation.last_message_id == answer.message.id


@pytest.mark.parametrize("asked_for", [MEXICO_WHATSAPP, MEXICO_PLAN, f"whatsapp:{MEXICO_WHATSAPP}"])
async def test_the_history_of_a_contact_holds_both_forms_whichever_is_asked_for(
    receive: ReceiveInboundMessage,
    send_message: SendMessage,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    asked_for: str,
) -> None:
    await send_message(reply(acme, MEXICO_PLAN, content_sid="HX" + "0" * 32))
    clock.advance(timedelta(minutes=1))
    wrote = await receive(customer_writes(MEXICO_WHATSAPP))
    clock.advance(timedelta(minutes=1))
    answered = await send_message(reply(acme, MEXICO_PLAN))
    await receive(customer_writes("+525587654321", sid="SM" + "9" * 32))  # another customer

    page = await ListHistory(uow)(HistoryRequest(tenant_id=acme.tenant.id, contact=asked_for))

    assert len(page.items) == 3
    assert [view.id for view in page.items][:2] == [answered.message.id, wrote.message.id]


async def test_a_retried_send_in_the_other_form_is_the_same_request(
    receive: ReceiveInboundMessage,
    send_message: SendMessage,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    await receive(customer_writes(BRAZIL_OLD_ACCOUNT))

    first = await send_message(reply(acme, BRAZIL_PLAN, idempotency_key="order-42"))
    again = await send_message(reply(acme, BRAZIL_OLD_ACCOUNT, idempotency_key="order-42"))

    assert again.replayed
    assert again.message.id == first.message.id
    assert len(provider.requests) == 1


async def test_an_inbound_message_reaches_the_tenant_whose_number_twilio_writes_in_the_other_form(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    mexican_line = Sender(
        tenant_id=acme.tenant.id, phone_number=PhoneNumber.parse(MEXICO_PLAN), created_at=clock.now()
    )
    await uow.senders.add(mexican_line)

    receipt = await receive(customer_writes("+14155550100", to=MEXICO_WHATSAPP))

    assert receipt.message.tenant_id == acme.tenant.id
    assert receipt.message.sender.e164 == MEXICO_WHATSAPP
