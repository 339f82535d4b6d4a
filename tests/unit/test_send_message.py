"""Sending a message: stored first, then handed to the provider, and the outcome recorded."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from application.errors import AccessDenied, NoDefaultSender, NotFound, UnknownSender
from application.ports import OutboundRequest, OutcomeKind, SendOutcome
from application.use_cases.send_message import SendMessage, SendMessageCommand
from domain.errors import InvalidMessage, InvalidPhoneNumber
from domain.messages import Direction, MessageStatus
from domain.phone import PhoneNumber
from domain.tenancy import ProviderName, Sender, Tenant, TenantStatus, TwilioCredentials
from tests.unit.fakes import FakeMessagingProvider, FakeUnitOfWork, FixedClock, TenantAccount

CUSTOMER = "+447911123456"


@pytest.fixture
def send(uow: FakeUnitOfWork, provider: FakeMessagingProvider, clock: FixedClock) -> SendMessage:
    return SendMessage(uow, provider, clock)


def to_customer(account: TenantAccount, from_number: str | None = None) -> SendMessageCommand:
    return SendMessageCommand(
        tenant_id=account.tenant.id, to_number=CUSTOMER, body="Your order shipped", from_number=from_number
    )


async def add_sender(uow: FakeUnitOfWork, clock: FixedClock, account: TenantAccount, number: str) -> Sender:
    sender = Sender(
        tenant_id=account.tenant.id, phone_number=PhoneNumber.parse(number), created_at=clock.now()
    )
    await uow.senders.add(sender)
    return sender


# ---------------------------------------------------------------------------------- choosing a sender


async def test_without_from_number_the_default_sender_is_used(
    send: SendMessage, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    message = await send(to_customer(acme))

    assert message.from_number == acme.sender.phone_number
    assert message.to_number == PhoneNumber.parse(CUSTOMER)
    assert provider.requests[0].message.sender == acme.sender.phone_number


@pytest.mark.parametrize("written_as", ["+12025550123", "whatsapp:+12025550123", " WhatsApp:+12025550123 "])
async def test_from_number_picks_another_of_the_tenants_senders(
    send: SendMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, written_as: str
) -> None:
    second = await add_sender(uow, clock, acme, "+12025550123")

    message = await send(to_customer(acme, from_number=written_as))

    assert message.sender == second.phone_number


async def test_a_from_number_that_is_not_a_sender_of_the_tenant_is_refused(
    send: SendMessage, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    with pytest.raises(UnknownSender, match=r"\+12025550123"):
        await send(to_customer(acme, from_number="+12025550123"))

    assert uow.messages.all() == []
    assert provider.requests == []


async def test_another_tenants_sender_cannot_be_borrowed(
    send: SendMessage,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    with pytest.raises(UnknownSender):
        await send(to_customer(acme, from_number=globex.sender.phone_number.e164))

    assert uow.messages.all() == []
    assert provider.requests == []


async def test_a_tenant_without_a_default_sender_must_name_one(
    send: SendMessage, uow: FakeUnitOfWork, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    tenant = Tenant(name="Initech", provider=ProviderName.SANDBOX, created_at=clock.now())
    await uow.tenants.add(tenant)

    with pytest.raises(NoDefaultSender):
        await send(SendMessageCommand(tenant_id=tenant.id, to_number=CUSTOMER, body="hi"))

    assert provider.requests == []


# ------------------------------------------------------------------------------------ refusing input


@pytest.mark.parametrize("to_number", ["07911 123456", "+4479111234567890", "bob", ""])
async def test_an_invalid_recipient_stores_nothing_and_sends_nothing(
    send: SendMessage,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    acme: TenantAccount,
    to_number: str,
) -> None:
    with pytest.raises(InvalidPhoneNumber):
        await send(SendMessageCommand(tenant_id=acme.tenant.id, to_number=to_number, body="hi"))

    assert uow.messages.all() == []
    assert provider.requests == []


async def test_an_invalid_from_number_is_refused_as_a_phone_number(
    send: SendMessage, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    with pytest.raises(InvalidPhoneNumber):
        await send(to_customer(acme, from_number="4155238886"))

    assert uow.messages.all() == []
    assert provider.requests == []


async def test_invalid_content_stores_nothing_and_sends_nothing(
    send: SendMessage, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    with pytest.raises(InvalidMessage):
        await send(SendMessageCommand(tenant_id=acme.tenant.id, to_number=CUSTOMER, body="  "))

    assert uow.messages.all() == []
    assert provider.requests == []


async def test_a_suspended_tenant_cannot_send(
    send: SendMessage, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    uow.tenants.save(replace(acme.tenant, status=TenantStatus.SUSPENDED))

    with pytest.raises(AccessDenied, match="suspended"):
        await send(to_customer(acme))

    assert uow.messages.all() == []
    assert provider.requests == []


async def test_an_unknown_tenant_cannot_send(send: SendMessage, provider: FakeMessagingProvider) -> None:
    with pytest.raises(NotFound):
        await send(SendMessageCommand(tenant_id=uuid4(), to_number=CUSTOMER, body="hi"))

    assert provider.requests == []


# ------------------------------------------------------------------------------ store, then send


async def test_the_message_is_committed_before_the_provider_is_called(
    send: SendMessage, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    seen_by_provider: list[MessageStatus] = []

    async def look_in_the_database(request: OutboundRequest) -> None:
        stored = await uow.messages.get(acme.tenant.id, request.message.id)
        assert stored is not None
        assert not uow.in_transaction
        seen_by_provider.append(stored.status)

    provider.on_send = look_in_the_database

    await send(to_customer(acme))

    assert seen_by_provider == [MessageStatus.ACCEPTED]


async def test_a_provider_crash_leaves_an_accepted_record_behind(
    send: SendMessage, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    provider.will_raise(ConnectionResetError("boom"))

    with pytest.raises(ConnectionResetError):
        await send(to_customer(acme))

    [message] = uow.messages.all()
    assert message.status is MessageStatus.ACCEPTED
    assert message.provider_sid is None
    assert message.content.body == "Your order shipped"


async def test_the_provider_gets_the_tenant_the_message_and_its_credentials(
    send: SendMessage, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    credentials = TwilioCredentials(account_sid="AC" + "0" * 32, auth_token="s3cr3t-auth-token")
    await uow.tenants.set_twilio_credentials(acme.tenant.id, credentials)

    message = await send(to_customer(acme, from_number=acme.sender.phone_number.whatsapp_address))

    [request] = provider.requests
    assert request.tenant == acme.tenant
    assert request.credentials == credentials
    assert request.message.id == message.id
    assert request.message.contact.whatsapp_address == "whatsapp:" + CUSTOMER


async def test_a_tenant_without_credentials_hands_none_to_the_provider(
    send: SendMessage, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    await send(to_customer(acme))

    assert provider.requests[0].credentials is None


async def test_the_recipient_is_stored_in_e164(send: SendMessage, acme: TenantAccount) -> None:
    message = await send(
        SendMessageCommand(tenant_id=acme.tenant.id, to_number=" whatsapp:+447911123456 ", body="hi")
    )

    assert message.contact.e164 == CUSTOMER


async def test_media_is_sent_along(
    send: SendMessage, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    urls = ("https://example.com/invoice.pdf", "https://example.com/map.png")

    await send(SendMessageCommand(tenant_id=acme.tenant.id, to_number=CUSTOMER, media_urls=urls))

    assert provider.requests[0].message.content.media_urls == urls


async def test_the_message_belongs_to_the_sending_tenant_only(
    send: SendMessage, uow: FakeUnitOfWork, acme: TenantAccount, globex: TenantAccount
) -> None:
    message = await send(to_customer(acme))

    assert await uow.messages.get(acme.tenant.id, message.id) is not None
    assert await uow.messages.get(globex.tenant.id, message.id) is None


# -------------------------------------------------------------------------------------- outcomes


async def test_accepted_records_the_provider_id_and_status(
    send: SendMessage,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    provider.will_return(
        SendOutcome(kind=OutcomeKind.ACCEPTED, provider_sid="SM123", status=MessageStatus.QUEUED)
    )
    sent_at = clock.now()

    async def take_a_moment(_: OutboundRequest) -> None:
        clock.advance(timedelta(milliseconds=300))

    provider.on_send = take_a_moment

    message = await send(to_customer(acme))

    assert message.status is MessageStatus.QUEUED
    assert message.provider_sid == "SM123"
    assert message.direction is Direction.OUTBOUND
    assert message.created_at == sent_at
    assert message.updated_at == sent_at + timedelta(milliseconds=300)
    assert await uow.messages.get(acme.tenant.id, message.id) == message


async def test_rejected_marks_the_message_failed_with_the_providers_code(
    send: SendMessage, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    provider.will_return(
        SendOutcome(kind=OutcomeKind.REJECTED, error_code=21610, reason="recipient opted out")
    )

    message = await send(to_customer(acme))

    assert message.status is MessageStatus.FAILED
    assert message.error_code == 21610
    assert message.error_message == "recipient opted out"
    assert message.provider_sid is None
    assert await uow.messages.get(acme.tenant.id, message.id) == message


async def test_a_rejection_without_a_reason_still_explains_itself(
    send: SendMessage, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    provider.will_return(SendOutcome(kind=OutcomeKind.REJECTED))

    message = await send(to_customer(acme))

    assert message.status is MessageStatus.FAILED
    assert message.error_code is None
    assert message.error_message == "the provider refused it"


async def test_retryable_marks_the_message_failed(
    send: SendMessage, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    provider.will_return(
        SendOutcome(
            kind=OutcomeKind.RETRYABLE, error_code=20429, reason="too many requests", retry_after_seconds=1
        )
    )

    message = await send(to_customer(acme))

    assert message.status is MessageStatus.FAILED
    assert message.error_code == 20429
    assert await uow.messages.get(acme.tenant.id, message.id) == message


async def test_unknown_leaves_the_message_accepted_for_its_status_callback_to_settle(
    send: SendMessage, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    provider.will_return(SendOutcome(kind=OutcomeKind.UNKNOWN, reason="no answer from Twilio (TimeoutError)"))

    message = await send(to_customer(acme))

    assert message.status is MessageStatus.ACCEPTED
    assert message.provider_sid is None
    assert message.error_code is None
    assert await uow.messages.get(acme.tenant.id, message.id) == message


async def test_each_send_is_its_own_message(
    send: SendMessage, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    first = await send(to_customer(acme))
    second = await send(to_customer(acme))

    assert first.id != second.id
    assert first.provider_sid != second.provider_sid
    assert len(uow.messages.all()) == 2
