"""Sending a message: checked against the 24-hour window, stored, handed to the provider, outcome recorded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.errors import (
    AccessDenied,
    NoDefaultSender,
    NotFound,
    RateLimited,
    SessionWindowClosed,
    UnknownSender,
)
from application.messaging.send_message import SendMessage, SendMessageCommand, TenantSendLimits
from application.ports.dispatch_queue import JobPhase
from application.ports.providers import OutboundRequest, OutcomeKind, SendOutcome
from domain.administration.tenancy import ProviderName, Sender, Tenant, TenantStatus, TwilioCredentials
from domain.errors import InvalidMessage, InvalidPhoneNumber
from domain.messaging.messages import Direction, Message, MessageStatus, Template
from domain.phone import PhoneNumber
from tests.support.fakes import (
    FakeMessagingProvider,
    FakePasswordHasher,
    FakeRateLimiter,
    FakeUnitOfWork,
    FixedClock,
    TenantAccount,
    open_window,
    provision_account,
)
from tests.support.provider_accounts import set_twilio_credentials
from tests.support.use_cases import build_send_message, profile_in_memory

CUSTOMER = "+447911123456"


Send = Callable[[SendMessageCommand], Awaitable[Message]]


@pytest.fixture
def send_message(uow: FakeUnitOfWork, provider: FakeMessagingProvider, clock: FixedClock) -> SendMessage:
    return build_send_message(uow, provider, clock)


@pytest.fixture
def send(send_message: SendMessage) -> Send:
    """Send and return the message as it stands when the request answers."""

    async def send_and_return_message(command: SendMessageCommand) -> Message:
        return (await send_message(command)).message

    return send_and_return_message


@pytest.fixture(params=["profile read", "profile in memory"])
async def send_either_way(
    request: pytest.FixtureRequest,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> Send:
    """Send as ``send`` does, the sending profile read first or kept in memory (the window then checked
    by the write, and the accept sent the long way when it refuses): the same outcomes either way."""
    profiles = await profile_in_memory(uow, acme) if request.param == "profile in memory" else None
    send_message = build_send_message(uow, provider, clock, sending_profiles=profiles)

    async def send_and_return_message(command: SendMessageCommand) -> Message:
        return (await send_message(command)).message

    return send_and_return_message


@pytest.fixture(autouse=True)
async def customer_wrote_an_hour_ago(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> None:
    """Acme's session window with CUSTOMER is open, so free-form messages may go there."""
    await open_window(uow, acme, CUSTOMER, clock.now() - timedelta(hours=1))


def sent_messages(uow: FakeUnitOfWork) -> list[Message]:
    return [message for message in uow.messages.all() if message.direction is Direction.OUTBOUND]


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
    send: Send, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    message = await send(to_customer(acme))

    assert message.from_number == acme.sender.phone_number
    assert message.to_number == PhoneNumber.parse(CUSTOMER)
    assert provider.requests[0].message.sender == acme.sender.phone_number


@pytest.mark.parametrize("written_as", ["+12025550123", "whatsapp:+12025550123", " WhatsApp:+12025550123 "])
async def test_from_number_picks_another_of_the_tenants_senders(
    send: Send, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, written_as: str
) -> None:
    second = await add_sender(uow, clock, acme, "+12025550123")

    message = await send(to_customer(acme, from_number=written_as))

    assert message.sender == second.phone_number


async def test_a_from_number_that_is_not_a_sender_of_the_tenant_is_refused(
    send: Send, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    with pytest.raises(UnknownSender, match=r"\+12025550123"):
        await send(to_customer(acme, from_number="+12025550123"))

    assert sent_messages(uow) == []
    assert provider.requests == []


async def test_another_tenants_sender_cannot_be_borrowed(
    send: Send,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    with pytest.raises(UnknownSender):
        await send(to_customer(acme, from_number=globex.sender.phone_number.e164))

    assert sent_messages(uow) == []
    assert provider.requests == []


async def test_a_tenant_without_a_default_sender_must_name_one(
    send: Send, uow: FakeUnitOfWork, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    tenant = Tenant(name="Initech", provider=ProviderName.SANDBOX, created_at=clock.now())
    await uow.tenants.add(tenant)

    with pytest.raises(NoDefaultSender):
        await send(SendMessageCommand(tenant_id=tenant.id, to_number=CUSTOMER, body="hi"))

    assert provider.requests == []


# ------------------------------------------------------------------------------------ refusing input


@pytest.mark.parametrize("to_number", ["07911 123456", "+4479111234567890", "bob", ""])
async def test_an_invalid_recipient_stores_nothing_and_sends_nothing(
    send: Send,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    acme: TenantAccount,
    to_number: str,
) -> None:
    with pytest.raises(InvalidPhoneNumber):
        await send(SendMessageCommand(tenant_id=acme.tenant.id, to_number=to_number, body="hi"))

    assert sent_messages(uow) == []
    assert provider.requests == []


async def test_an_invalid_from_number_is_refused_as_a_phone_number(
    send: Send, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    with pytest.raises(InvalidPhoneNumber):
        await send(to_customer(acme, from_number="4155238886"))

    assert sent_messages(uow) == []
    assert provider.requests == []


async def test_invalid_content_stores_nothing_and_sends_nothing(
    send: Send, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    with pytest.raises(InvalidMessage):
        await send(SendMessageCommand(tenant_id=acme.tenant.id, to_number=CUSTOMER, body="  "))

    assert sent_messages(uow) == []
    assert provider.requests == []


async def test_a_suspended_tenant_cannot_send(
    send: Send, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    uow.tenants.save(replace(acme.tenant, status=TenantStatus.SUSPENDED))

    with pytest.raises(AccessDenied, match="suspended"):
        await send(to_customer(acme))

    assert sent_messages(uow) == []
    assert provider.requests == []


async def test_an_unknown_tenant_cannot_send(send: Send, provider: FakeMessagingProvider) -> None:
    with pytest.raises(NotFound):
        await send(SendMessageCommand(tenant_id=uuid4(), to_number=CUSTOMER, body="hi"))

    assert provider.requests == []


# ------------------------------------------------------------------------------ store, then send


async def test_the_message_is_committed_before_the_provider_is_called(
    send: Send, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
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


async def test_a_provider_crash_leaves_an_accepted_message_to_reconcile_not_resend(
    send_message: SendMessage, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    provider.will_raise(ConnectionResetError("boom"))

    result = await send_message(to_customer(acme))

    assert not result.dispatched
    [message] = sent_messages(uow)
    assert message.status is MessageStatus.ACCEPTED
    assert message.provider_sid is None
    assert message.content.body == "Your order shipped"
    [job] = uow.jobs.all()
    assert job.phase is JobPhase.RECONCILE


async def test_the_provider_gets_the_tenant_the_message_and_its_credentials(
    send: Send, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    credentials = TwilioCredentials(account_sid="AC" + "0" * 32, auth_token="s3cr3t-auth-token")
    await set_twilio_credentials(uow, acme.tenant.id, credentials)

    message = await send(to_customer(acme, from_number=acme.sender.phone_number.whatsapp_address))

    [request] = provider.requests
    assert request.tenant == acme.tenant
    assert request.account is not None
    assert request.account.credentials == credentials
    assert request.message.id == message.id
    assert request.message.contact.whatsapp_address == "whatsapp:" + CUSTOMER


async def test_a_tenant_without_credentials_hands_none_to_the_provider(
    send: Send, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    await send(to_customer(acme))

    assert provider.requests[0].account is None


async def test_the_recipient_is_stored_in_e164(send: Send, acme: TenantAccount) -> None:
    message = await send(
        SendMessageCommand(tenant_id=acme.tenant.id, to_number=" whatsapp:+447911123456 ", body="hi")
    )

    assert message.contact.e164 == CUSTOMER


async def test_media_is_sent_along(send: Send, provider: FakeMessagingProvider, acme: TenantAccount) -> None:
    urls = ("https://example.com/invoice.pdf", "https://example.com/map.png")

    await send(SendMessageCommand(tenant_id=acme.tenant.id, to_number=CUSTOMER, media_urls=urls))

    assert provider.requests[0].message.content.media_urls == urls


async def test_the_message_belongs_to_the_sending_tenant_only(
    send: Send, uow: FakeUnitOfWork, acme: TenantAccount, globex: TenantAccount
) -> None:
    message = await send(to_customer(acme))

    assert await uow.messages.get(acme.tenant.id, message.id) is not None
    assert await uow.messages.get(globex.tenant.id, message.id) is None


# -------------------------------------------------------------------------------------- outcomes


async def test_accepted_records_the_provider_id_and_status(
    send: Send,
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
    send: Send, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    provider.will_return(
        SendOutcome(
            kind=OutcomeKind.REJECTED,
            error_code=21610,
            reason="the recipient has opted out of messages from this sender",
        )
    )

    message = await send(to_customer(acme))

    assert message.status is MessageStatus.FAILED
    assert message.error_code == 21610
    assert message.error_message == "the recipient has opted out of messages from this sender"
    assert message.provider_sid is None
    assert await uow.messages.get(acme.tenant.id, message.id) == message


async def test_a_rejection_without_a_reason_still_explains_itself(
    send: Send, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    provider.will_return(SendOutcome(kind=OutcomeKind.REJECTED))

    message = await send(to_customer(acme))

    assert message.status is MessageStatus.FAILED
    assert message.error_code is None
    assert message.error_message == "the provider refused the message"


async def test_retryable_keeps_the_message_accepted_and_schedules_a_retry(
    send_message: SendMessage,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    provider.will_return(
        SendOutcome(
            kind=OutcomeKind.RETRYABLE, error_code=20429, reason="too many requests", retry_after_seconds=1
        )
    )

    result = await send_message(to_customer(acme))

    assert not result.dispatched
    assert result.message.status is MessageStatus.ACCEPTED
    [job] = uow.jobs.all()
    assert (job.attempts, job.phase) == (1, JobPhase.SEND)
    assert job.available_at >= clock.now() + timedelta(seconds=1)


async def test_unknown_leaves_the_message_accepted_for_its_status_callback_to_settle(
    send: Send, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    provider.will_return(SendOutcome(kind=OutcomeKind.UNKNOWN, reason="no answer from Twilio (TimeoutError)"))

    message = await send(to_customer(acme))

    assert message.status is MessageStatus.ACCEPTED
    assert message.provider_sid is None
    assert message.error_code is None
    assert await uow.messages.get(acme.tenant.id, message.id) == message


async def test_each_send_is_its_own_message(
    send: Send, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    first = await send(to_customer(acme))
    second = await send(to_customer(acme))

    assert first.id != second.id
    assert first.provider_sid != second.provider_sid
    assert len(sent_messages(uow)) == 2


# ------------------------------------------------------------------------------ 24-hour session window

STRANGER = "+34612345678"  # has never written to acme
TEMPLATE_SID = "HX" + "b5" * 16


def free_form(account: TenantAccount, to_number: str = STRANGER) -> SendMessageCommand:
    return SendMessageCommand(tenant_id=account.tenant.id, to_number=to_number, body="Any news?")


def template(
    account: TenantAccount, to_number: str = STRANGER, variables: dict[str, str] | None = None
) -> SendMessageCommand:
    return SendMessageCommand(
        tenant_id=account.tenant.id,
        to_number=to_number,
        content_sid=TEMPLATE_SID,
        content_variables=variables if variables is not None else {"1": "12/1", "2": "3pm"},
    )


async def test_free_form_to_a_contact_who_never_wrote_is_refused_before_anything_happens(
    send_either_way: Send, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    with pytest.raises(SessionWindowClosed, match="content_sid") as refused:
        await send_either_way(free_form(acme))

    assert STRANGER in refused.value.detail
    assert sent_messages(uow) == []
    assert await uow.conversations.get(acme.tenant.id, PhoneNumber.parse(STRANGER)) is None
    assert provider.requests == []


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(
            lambda a: SendMessageCommand(tenant_id=a.tenant.id, to_number=STRANGER, body="hi"), id="text"
        ),
        pytest.param(
            lambda a: SendMessageCommand(
                tenant_id=a.tenant.id, to_number=STRANGER, media_urls=("https://example.com/a.png",)
            ),
            id="media",
        ),
    ],
)
async def test_text_and_media_alike_need_the_window(
    send_either_way: Send,
    provider: FakeMessagingProvider,
    acme: TenantAccount,
    command: Callable[[TenantAccount], SendMessageCommand],
) -> None:
    with pytest.raises(SessionWindowClosed):
        await send_either_way(command(acme))

    assert provider.requests == []


async def test_free_form_inside_the_window_is_sent(
    send_either_way: Send,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    await open_window(uow, acme, STRANGER, clock.now() - timedelta(hours=23, minutes=59))

    message = await send_either_way(free_form(acme))

    assert message.status is MessageStatus.QUEUED
    assert provider.requests[0].message.id == message.id


@pytest.mark.parametrize(
    ("wrote_ago", "open_"),
    [
        (timedelta(hours=24) - timedelta(microseconds=1), True),
        (timedelta(hours=24), False),
        (timedelta(hours=24, microseconds=1), False),
    ],
    ids=["a microsecond before 24 h", "exactly 24 h", "just after 24 h"],
)
async def test_the_window_closes_exactly_24_hours_after_the_contacts_last_message(
    send_either_way: Send,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
    wrote_ago: timedelta,
    open_: bool,
) -> None:
    await open_window(uow, acme, STRANGER, clock.now() - wrote_ago)

    if open_:
        await send_either_way(free_form(acme))
        assert len(provider.requests) == 1
    else:
        with pytest.raises(SessionWindowClosed, match="last wrote at"):
            await send_either_way(free_form(acme))
        assert provider.requests == []


async def test_our_own_messages_do_not_reopen_the_window(
    send_either_way: Send,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    await open_window(uow, acme, STRANGER, clock.now())
    await send_either_way(free_form(acme))
    clock.advance(timedelta(hours=24))

    with pytest.raises(SessionWindowClosed):
        await send_either_way(free_form(acme))

    assert len(provider.requests) == 1


async def test_a_new_inbound_message_reopens_the_window(
    send_either_way: Send, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await open_window(uow, acme, STRANGER, clock.now() - timedelta(days=3))
    with pytest.raises(SessionWindowClosed):
        await send_either_way(free_form(acme))

    await open_window(uow, acme, STRANGER, clock.now())

    assert (await send_either_way(free_form(acme))).status is MessageStatus.QUEUED


async def test_a_template_is_always_allowed(
    send_either_way: Send, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    message = await send_either_way(template(acme))

    assert message.status is MessageStatus.QUEUED
    assert message.content.template == Template.of(TEMPLATE_SID, {"1": "12/1", "2": "3pm"})
    assert message.content.body == ""
    assert provider.requests[0].message.content.template is not None
    assert await uow.messages.get(acme.tenant.id, message.id) == message


async def test_a_template_outside_a_closed_window_is_allowed(
    send_either_way: Send, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await open_window(uow, acme, STRANGER, clock.now() - timedelta(days=2))

    assert (await send_either_way(template(acme))).status is MessageStatus.QUEUED


async def test_another_tenants_window_does_not_count(
    send_either_way: Send,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    await open_window(uow, globex, STRANGER, clock.now())

    with pytest.raises(SessionWindowClosed):
        await send_either_way(free_form(acme))

    assert provider.requests == []


async def test_a_sandbox_tenant_with_the_check_off_sends_free_form_to_anyone(
    send: Send,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    hasher: FakePasswordHasher,
    clock: FixedClock,
) -> None:
    demo = await provision_account(
        uow, hasher, clock, name="Demo", username="demo", session_window_check=False
    )

    message = await send(free_form(demo))

    assert message.status is MessageStatus.QUEUED
    assert len(provider.requests) == 1


async def test_a_twilio_tenant_is_checked_even_if_the_flag_says_off(
    send: Send,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    hasher: FakePasswordHasher,
    clock: FixedClock,
) -> None:
    # Only the sandbox may skip the check: an operator's stray flag cannot get a Twilio number banned.
    account = await provision_account(
        uow,
        hasher,
        clock,
        name="Initech",
        username="peter",
        provider=ProviderName.TWILIO,
        session_window_check=False,
    )

    with pytest.raises(SessionWindowClosed):
        await send(free_form(account))

    assert provider.requests == []


async def test_a_sent_message_becomes_the_conversations_last_in_the_same_transaction(
    send: Send, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    seen_by_provider: list[UUID | None] = []

    async def look_at_the_conversation(request: OutboundRequest) -> None:
        conversation = await uow.conversations.get(acme.tenant.id, request.message.contact)
        seen_by_provider.append(conversation.last_message_id if conversation else None)

    provider.on_send = look_at_the_conversation

    message = await send(template(acme))

    assert seen_by_provider == [message.id]
    conversation = await uow.conversations.get(acme.tenant.id, PhoneNumber.parse(STRANGER))
    assert conversation is not None
    assert conversation.last_direction is Direction.OUTBOUND
    assert conversation.last_message_preview == f"[template {TEMPLATE_SID}]"
    assert conversation.sender == acme.sender.phone_number
    assert conversation.last_inbound_at is None  # a template does not open the window


async def test_a_refused_send_leaves_the_conversation_as_it_was(
    send: Send, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    before = await uow.conversations.get(acme.tenant.id, PhoneNumber.parse(CUSTOMER))

    with pytest.raises(UnknownSender):
        await send(to_customer(acme, from_number="+12025550123"))

    assert await uow.conversations.get(acme.tenant.id, PhoneNumber.parse(CUSTOMER)) == before


# -------------------------------------------------------------------------------------- templates


async def test_template_variables_are_kept_in_order_of_their_names(send: Send, acme: TenantAccount) -> None:
    message = await send(template(acme, variables={"2": "3pm", "1": "12/1", "name": "Ana"}))

    assert message.content.template is not None
    assert message.content.template.variables == (("1", "12/1"), ("2", "3pm"), ("name", "Ana"))


async def test_a_template_without_variables_is_fine(send: Send, acme: TenantAccount) -> None:
    message = await send(template(acme, variables={}))

    assert message.content.template == Template(TEMPLATE_SID)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"content_sid": "HX123"}, "content_sid"),
        ({"content_sid": "MM" + "0" * 32}, "content_sid"),
        ({"body": "and some text"}, "no body or media"),
        ({"media_urls": ("https://example.com/a.png",)}, "no body or media"),
        ({"content_variables": {"": "x"}}, "variable names"),
        ({"content_variables": {"1": "x" * 1025}}, "at most 1024"),
    ],
    ids=["short sid", "not a content sid", "with a body", "with media", "empty name", "long value"],
)
async def test_an_invalid_template_stores_nothing_and_sends_nothing(
    send: Send,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    acme: TenantAccount,
    changes: dict[str, Any],
    match: str,
) -> None:
    with pytest.raises(InvalidMessage, match=match):
        await send(replace(template(acme, to_number=CUSTOMER), **changes))

    assert sent_messages(uow) == []
    assert provider.requests == []


async def test_variables_without_a_template_are_refused(
    send: Send, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    with pytest.raises(InvalidMessage, match="content_sid"):
        await send(replace(to_customer(acme), content_variables={"1": "x"}))

    assert provider.requests == []


async def test_up_to_ten_media_urls_are_sent(
    send: Send, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    urls = tuple(f"https://example.com/{n}.png" for n in range(10))

    await send(
        SendMessageCommand(tenant_id=acme.tenant.id, to_number=CUSTOMER, body="album", media_urls=urls)
    )

    assert provider.requests[0].message.content.media_urls == urls
    with pytest.raises(InvalidMessage, match="at most 10"):
        await send(
            SendMessageCommand(tenant_id=acme.tenant.id, to_number=CUSTOMER, media_urls=(*urls, urls[0]))
        )


# ------------------------------------------------------------------------------------------ send limits


async def test_a_send_the_days_limit_refuses_is_not_counted_in_the_minute_either(
    limiter: FakeRateLimiter, acme: TenantAccount
) -> None:
    limits = TenantSendLimits(limiter, sends_per_minute=10, sends_per_day=1)
    await limits.count(acme.tenant)

    with pytest.raises(RateLimited) as refused:
        await limits.count(acme.tenant)

    assert refused.value.scope == "tenant-sends-day"
    assert limiter.hits == [f"sends:tenant:{acme.tenant.id}:minute", f"sends:tenant:{acme.tenant.id}:day"]


def limited_to_one_a_minute(
    uow: FakeUnitOfWork, provider: FakeMessagingProvider, clock: FixedClock, limiter: FakeRateLimiter
) -> SendMessage:
    return build_send_message(uow, provider, clock, TenantSendLimits(limiter, sends_per_minute=1))


def keyed(account: TenantAccount, key: str, body: str = "Your order shipped") -> SendMessageCommand:
    return SendMessageCommand(
        tenant_id=account.tenant.id, to_number=CUSTOMER, body=body, idempotency_key=key, respond_async=True
    )


async def test_a_send_over_the_limit_stores_nothing(
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    limiter: FakeRateLimiter,
    acme: TenantAccount,
) -> None:
    send_message = limited_to_one_a_minute(uow, provider, clock, limiter)
    first = await send_message(keyed(acme, "first"))

    with pytest.raises(RateLimited):
        await send_message(keyed(acme, "second", body="Another one"))

    assert sent_messages(uow) == [first.message]
    assert [job.message_id for job in uow.jobs.all()] == [first.message.id]
    async with uow:
        assert await uow.idempotency.get(acme.tenant.id, "second", clock.now()) is None


async def test_a_replay_of_an_accepted_key_is_answered_over_the_limit_and_not_counted(
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    limiter: FakeRateLimiter,
    acme: TenantAccount,
) -> None:
    send_message = limited_to_one_a_minute(uow, provider, clock, limiter)
    first = await send_message(keyed(acme, "order-42"))

    replay = await send_message(keyed(acme, "order-42"))

    assert (replay.replayed, replay.message.id) == (True, first.message.id)
    assert limiter.hits == [f"sends:tenant:{acme.tenant.id}:minute"]
    assert sent_messages(uow) == [first.message]


async def test_a_replay_within_the_limit_gives_its_count_back(
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    limiter: FakeRateLimiter,
    acme: TenantAccount,
) -> None:
    send_message = build_send_message(uow, provider, clock, TenantSendLimits(limiter, sends_per_minute=2))
    first = await send_message(keyed(acme, "order-42"))

    replay = await send_message(keyed(acme, "order-42"))
    another = await send_message(keyed(acme, "order-43"))

    assert (replay.replayed, replay.message.id) == (True, first.message.id)
    assert not another.replayed
    assert limiter.hits == [f"sends:tenant:{acme.tenant.id}:minute"] * 2


async def test_a_request_refused_as_invalid_is_not_counted(
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    limiter: FakeRateLimiter,
    acme: TenantAccount,
) -> None:
    send_message = limited_to_one_a_minute(uow, provider, clock, limiter)

    with pytest.raises(UnknownSender):
        await send_message(to_customer(acme, from_number="+12025550123"))
    accepted = await send_message(keyed(acme, "order-42"))

    assert not accepted.replayed
    assert limiter.hits == [f"sends:tenant:{acme.tenant.id}:minute"]
