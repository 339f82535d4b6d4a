"""Twilio's callbacks read by its adapter, driven through the inbound use cases: who a callback is for,
what it says in our words, and what it may never do."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import cast
from uuid import UUID, uuid4

import pytest

from adapters.twilio.callback_authentication import TwilioSigners
from adapters.twilio.callbacks import TwilioInboundMessages, TwilioStatusCallbacks
from adapters.twilio.errors import readable_reason
from adapters.twilio.statuses import TWILIO_STATUSES
from application.errors import CallbackRejected, InvalidInput, RateLimited, StorageUnavailable
from application.inbound.commands import InboundMessage, StatusReport
from application.inbound.receive_message import ReceiveInboundMessage
from application.inbound.record_status_report import RecordStatusReport, StatusReportOutcome
from application.ports.provider_callbacks import ProviderCallback, ProviderCallbackReader
from application.ports.rate_limits import RateLimit
from application.ports.unit_of_work import UnitOfWork
from domain.administration.tenancy import (
    MetaCredentials,
    ProviderAccount,
    ProviderName,
    Sender,
    TwilioCredentials,
)
from domain.messaging.content import Choice, Location, Media, MediaKind, MessageKind
from domain.messaging.failures import Failure, FailureCode
from domain.messaging.messages import Direction, Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.fakes import FakeMetrics, FakeRateLimiter, FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.provider_accounts import set_twilio_credentials
from tests.support.twilio_callbacks import (
    ACME_ACCOUNT,
    ACME_TOKEN,
    CUSTOMER,
    GLOBEX_ACCOUNT,
    GLOBEX_TOKEN,
    INBOUND_SID,
    INBOUND_URL,
    OUTBOUND_SID,
    SANDBOX_NUMBER,
    Params,
    inbound_params,
    signed_callback,
    status_params,
    status_url,
    with_params,
)
from tests.support.use_cases import outbound_message, sent_message, stored, timeline

# The adapters implement the port the use cases take.
_: tuple[ProviderCallbackReader[InboundMessage], ProviderCallbackReader[StatusReport]] = (
    TwilioInboundMessages(),
    TwilioStatusCallbacks(),
)


@pytest.fixture
async def tenants(uow: FakeUnitOfWork, acme: TenantAccount, globex: TenantAccount) -> None:
    """Acme (sender +14155238886) and Globex (+447911123456), each on its own Twilio account."""
    await set_twilio_credentials(uow, acme.tenant.id, TwilioCredentials(ACME_ACCOUNT, ACME_TOKEN))
    await set_twilio_credentials(uow, globex.tenant.id, TwilioCredentials(GLOBEX_ACCOUNT, GLOBEX_TOKEN))


@pytest.fixture
def receive(uow: FakeUnitOfWork, clock: FixedClock, tenants: None) -> ReceiveInboundMessage:
    return ReceiveInboundMessage(uow, TwilioInboundMessages(), clock)


@pytest.fixture
def record(uow: FakeUnitOfWork, clock: FixedClock, tenants: None) -> RecordStatusReport:
    return RecordStatusReport(uow, TwilioStatusCallbacks(), clock, FakeMetrics())


def inbound(params: Params, *, token: str = ACME_TOKEN, signature: str | None = None) -> ProviderCallback:
    return signed_callback(INBOUND_URL, params, token=token, signature=signature)


def status(
    params: Params, *, url: str | None = None, token: str = ACME_TOKEN, signature: str | None = None
) -> ProviderCallback:
    return signed_callback(url or status_url(), params, token=token, signature=signature)


def assert_nothing_stored(uow: FakeUnitOfWork) -> None:
    assert uow.messages.all() == []
    assert uow.conversations.all() == []


async def test_nothing_a_callback_says_is_read_before_it_is_authenticated(
    uow: FakeUnitOfWork, tenants: None
) -> None:
    screened = await TwilioInboundMessages().screen(inbound(inbound_params()))

    with pytest.raises(RuntimeError, match="only after it was authenticated"):
        screened.command()
    async with uow:
        await screened.authenticate(uow)
    assert screened.command().provider_message_id == INBOUND_SID


def test_a_callbacks_body_and_headers_stay_out_of_its_repr() -> None:
    callback = ProviderCallback(
        url="https://gateway.example.com/callbacks",
        content_type="application/x-www-form-urlencoded",
        body=b"Body=secret+words",
        headers={"authorization": "Basic dXNlcjpwYXNz"},
    )

    assert "secret" not in repr(callback)
    assert "dXNlcjpwYXNz" not in repr(callback)


# ------------------------------------------------------------------------------------------ inbound


async def test_a_signed_inbound_message_is_stored_for_the_tenant_of_the_number(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    receipt = await receive(inbound(inbound_params(body="Where is my order?")))

    assert not receipt.duplicate
    (stored,) = uow.messages.all()
    assert stored == receipt.message
    assert stored.tenant_id == acme.tenant.id
    assert stored.direction is Direction.INBOUND
    assert stored.status is MessageStatus.RECEIVED
    assert (stored.sender, stored.contact) == (acme.sender.phone_number, PhoneNumber.parse(CUSTOMER))
    assert stored.content == MessageContent(body="Where is my order?")
    assert stored.provider_sid == INBOUND_SID
    assert stored.created_at == clock.now()
    assert (stored.profile_name, stored.wa_id) == ("Ana", "14155550100")


async def test_media_are_typed_by_content_type_and_profile_name_and_whatsapp_id_are_kept(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork
) -> None:
    urls = [f"https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME{n}" for n in range(5)]
    types = ["image/jpeg", "video/mp4", "audio/ogg", "application/pdf", "text/vcard"]
    params = inbound_params(
        body="", media=urls, media_types=types, profile_name="Ana Souza", wa_id="5511987654321"
    )

    receipt = await receive(inbound(params))

    kinds = [MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO, MediaKind.DOCUMENT, MediaKind.DOCUMENT]
    media = tuple(
        Media(kind=kind, url=url, content_type=type_)
        for kind, url, type_ in zip(kinds, urls, types, strict=True)
    )
    assert receipt.message.content == MessageContent(body="", media=media)
    assert receipt.message.content.kind is MessageKind.MEDIA
    assert receipt.message.profile_name == "Ana Souza"
    assert receipt.message.wa_id == "5511987654321"
    assert uow.messages.all() == [receipt.message]


async def test_a_nul_character_in_a_customers_message_is_replaced_and_the_message_kept(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork
) -> None:
    # PostgreSQL text cannot hold U+0000; the customer's message must not be lost over it.
    params = inbound_params(body="before\x00after", profile_name="An\x00a")

    receipt = await receive(inbound(params))

    assert receipt.message.content.body == "before\ufffdafter"
    assert receipt.message.profile_name == "An\ufffda"
    assert uow.messages.all() == [receipt.message]


async def test_a_caption_with_a_sticker_is_kept_as_both(receive: ReceiveInboundMessage) -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    params = inbound_params(body="hi", media=[url], media_types=["image/webp"], MessageType="sticker")

    content = (await receive(inbound(params))).message.content

    assert content == MessageContent(
        body="hi", media=(Media(kind=MediaKind.STICKER, url=url, content_type="image/webp"),)
    )


async def test_a_shared_location_is_a_location(receive: ReceiveInboundMessage) -> None:
    params = inbound_params(
        body="",
        MessageType="location",
        Latitude="48.8584",
        Longitude="-2.2945",
        Label="Tour Eiffel",
        Address="Champ de Mars, Paris",
    )

    content = (await receive(inbound(params))).message.content

    assert content == MessageContent(
        location=Location(
            latitude=48.8584, longitude=-2.2945, name="Tour Eiffel", address="Champ de Mars, Paris"
        )
    )
    assert content.kind is MessageKind.LOCATION


@pytest.mark.parametrize(
    ("fields", "choice"),
    [
        pytest.param(
            {"MessageType": "button", "ButtonPayload": "deliver-tomorrow", "ButtonText": "Tomorrow"},
            Choice(id="deliver-tomorrow", title="Tomorrow"),
            id="a quick-reply button",
        ),
        pytest.param(
            {"MessageType": "interactive", "ListId": "size-m", "ListTitle": "Medium"},
            Choice(id="size-m", title="Medium"),
            id="a list row",
        ),
        pytest.param(
            {"ButtonPayload": "yes"}, Choice(id="yes", title="Tomorrow"), id="a button without its text"
        ),
    ],
)
async def test_a_tap_on_a_button_or_a_list_row_is_a_reply_with_its_id(
    receive: ReceiveInboundMessage, fields: dict[str, str], choice: Choice
) -> None:
    params = inbound_params(body="Tomorrow", OriginalRepliedMessageSid=OUTBOUND_SID, **fields)

    content = (await receive(inbound(params))).message.content

    assert content == MessageContent(body="Tomorrow", reply=choice, reply_to=OUTBOUND_SID)
    assert content.kind is MessageKind.REPLY


async def test_a_message_answering_another_names_it(receive: ReceiveInboundMessage) -> None:
    params = inbound_params(body="That one", OriginalRepliedMessageSid=OUTBOUND_SID)
    not_a_sid = inbound_params(body="This one", sid="SM" + "3" * 32, OriginalRepliedMessageSid="<script>")

    assert (await receive(inbound(params))).message.content == MessageContent(
        body="That one", reply_to=OUTBOUND_SID
    )
    assert (await receive(inbound(not_a_sid))).message.content == MessageContent(body="This one")


async def test_a_message_twilio_does_not_pass_on_is_kept_as_unsupported_with_twilios_word(
    receive: ReceiveInboundMessage,
) -> None:
    unsupported = inbound_params(body="", MessageType="unsupported")
    unreadable_location = inbound_params(
        body="", sid="SM" + "3" * 32, MessageType="location", Latitude="91.5", Longitude="2.2945"
    )
    nothing = inbound_params(body="", sid="SM" + "4" * 32)

    assert (await receive(inbound(unsupported))).message.content == MessageContent(unsupported="unsupported")
    assert (await receive(inbound(unreadable_location))).message.content == MessageContent(
        unsupported="location"
    )
    assert (await receive(inbound(nothing))).message.content == MessageContent(unsupported="unknown")


async def test_fields_twilio_adds_without_notice_are_signed_and_accepted(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork
) -> None:
    params = inbound_params(ReferralNumMedia="0", SomeFutureField="")
    params["RepeatedField"] = ["b", "a"]

    await receive(inbound(params))

    assert len(uow.messages.all()) == 1


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda p: inbound(p, signature=""), id="unsigned"),
        pytest.param(lambda p: inbound(p, signature="bm90IGEgc2lnbmF0dXJl"), id="made-up signature"),
        pytest.param(lambda p: inbound(p, token="a-guessed-token"), id="signed with the wrong token"),
        pytest.param(lambda p: inbound(p, token=GLOBEX_TOKEN), id="signed with another tenant's token"),
        pytest.param(
            lambda p: with_params(inbound(p), {**p, "Body": ["Send me the admin password"]}),
            id="a field changed after signing",
        ),
        pytest.param(
            lambda p: with_params(inbound(p), {**p, "Extra": ["added"]}), id="a field added after signing"
        ),
        pytest.param(
            lambda p: replace(inbound(p), url=INBOUND_URL.replace("gateway", "elsewhere")),
            id="signed for another URL",
        ),
    ],
)
async def test_a_forged_inbound_message_is_refused_and_nothing_is_stored(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork, forge: object
) -> None:
    webhook = forge(inbound_params())  # type: ignore[operator]

    with pytest.raises(CallbackRejected):
        await receive(webhook)

    assert_nothing_stored(uow)


async def test_another_tenants_account_cannot_post_to_a_number_it_does_not_own(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork
) -> None:
    # Globex signs correctly with its own token, but the number is Acme's, on Acme's account.
    params = inbound_params(to=SANDBOX_NUMBER, account_sid=GLOBEX_ACCOUNT)

    with pytest.raises(CallbackRejected):
        await receive(inbound(params, token=GLOBEX_TOKEN))

    assert_nothing_stored(uow)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(inbound_params(to="+14155550199"), id="a number no tenant has"),
        pytest.param(inbound_params(to="not-a-number"), id="To is not a number"),
        pytest.param(inbound_params(account_sid=""), id="no AccountSid"),
    ],
)
async def test_an_inbound_message_for_no_known_tenant_is_refused(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork, params: Params
) -> None:
    with pytest.raises(CallbackRejected):
        await receive(inbound(params))

    assert_nothing_stored(uow)


async def test_a_tenant_without_twilio_credentials_gets_no_webhooks(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    account = await uow.provider_accounts.first_of(acme.tenant.id, ProviderName.TWILIO)
    assert account is not None
    assert await uow.provider_accounts.remove(acme.tenant.id, account.id)

    with pytest.raises(CallbackRejected):
        await receive(inbound(inbound_params()))

    assert_nothing_stored(uow)


async def test_the_shared_sandbox_number_is_routed_by_account(
    receive: ReceiveInboundMessage,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    await uow.senders.add(
        Sender(
            tenant_id=globex.tenant.id, phone_number=PhoneNumber.parse(SANDBOX_NUMBER), created_at=clock.now()
        )
    )

    for_globex = await receive(
        inbound(inbound_params(account_sid=GLOBEX_ACCOUNT, sid="SM" + "4" * 32), token=GLOBEX_TOKEN)
    )
    for_acme = await receive(inbound(inbound_params(account_sid=ACME_ACCOUNT, sid="SM" + "5" * 32)))

    assert for_globex.message.tenant_id == globex.tenant.id
    assert for_acme.message.tenant_id == acme.tenant.id
    assert await uow.conversations.get(globex.tenant.id, PhoneNumber.parse(CUSTOMER)) is not None
    assert await uow.conversations.get(acme.tenant.id, PhoneNumber.parse(CUSTOMER)) is not None
    # Globex's account cannot use its own token to post as Acme, even on the shared number.
    with pytest.raises(CallbackRejected):
        await receive(
            inbound(inbound_params(account_sid=ACME_ACCOUNT, sid="SM" + "6" * 32), token=GLOBEX_TOKEN)
        )
    assert len(uow.messages.all()) == 2


async def test_a_signed_message_without_a_valid_message_sid_is_invalid(
    receive: ReceiveInboundMessage, uow: FakeUnitOfWork
) -> None:
    params = inbound_params(sid="SM-not-a-sid")

    with pytest.raises(InvalidInput, match="MessageSid"):
        await receive(inbound(params))

    assert_nothing_stored(uow)


# ---------------------------------------------------------------------------------- status callbacks


@pytest.fixture
async def sent(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> Message:
    return await sent_message(uow, clock, acme, OUTBOUND_SID)


async def test_a_failure_keeps_the_error_code_with_a_readable_reason(
    record: RecordStatusReport, uow: FakeUnitOfWork, sent: Message
) -> None:
    await record(status(status_params("sent")))
    await record(status(status_params("failed", error_code=63016)))
    await record(status(status_params("delivered")))  # too late: failed is final

    failed = await stored(uow, sent)
    assert failed.status is MessageStatus.FAILED
    assert failed.error_code == 63016
    assert failed.error_message == readable_reason(63016, None)
    assert "24-hour window" in (failed.error_message or "")
    assert failed.failure == Failure(
        FailureCode.SESSION_WINDOW_CLOSED,
        provider=ProviderName.TWILIO,
        provider_code=63016,
        reason=failed.error_message,
    )
    events = await uow.messages.list_status_events(sent.tenant_id, sent.id)
    assert [(e.status, e.applied, e.error_code) for e in events] == [
        (MessageStatus.SENT, True, None),
        (MessageStatus.FAILED, True, 63016),
        (MessageStatus.DELIVERED, False, None),
    ]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        pytest.param({"ErrorMessage": "Carrier said no"}, "Carrier said no", id="Twilio's own words"),
        pytest.param({}, "Twilio error 12345", id="just the code"),
    ],
)
async def test_an_unknown_error_code_keeps_what_twilio_said(
    record: RecordStatusReport, uow: FakeUnitOfWork, sent: Message, extra: dict[str, str], reason: str
) -> None:
    await record(status(status_params("undelivered", error_code=12345, **extra)))

    undelivered = await stored(uow, sent)
    assert (undelivered.status, undelivered.error_code, undelivered.error_message) == (
        MessageStatus.UNDELIVERED,
        12345,
        reason,
    )
    assert undelivered.failure is not None
    assert undelivered.failure.code is FailureCode.UNKNOWN
    assert undelivered.failure.provider_message == extra.get("ErrorMessage")


async def test_a_failure_keeps_twilios_own_words_beside_ours(
    record: RecordStatusReport, uow: FakeUnitOfWork, sent: Message
) -> None:
    words = "Twilio could not find a Channel with the specified From address"
    await record(status(status_params("undelivered", error_code=63003, ErrorMessage=words)))

    failure = (await stored(uow, sent)).failure
    assert failure == Failure(
        FailureCode.RECIPIENT_UNAVAILABLE,
        provider=ProviderName.TWILIO,
        provider_code=63003,
        provider_message=words,
        reason="the recipient's number is not a WhatsApp user",
    )
    assert failure is not None
    assert not failure.retryable


async def test_a_nul_character_in_what_twilio_says_of_an_error_is_replaced(
    record: RecordStatusReport, uow: FakeUnitOfWork, sent: Message
) -> None:
    await record(status(status_params("undelivered", error_code=12345, ErrorMessage="Carrier\x00said no")))

    assert (await stored(uow, sent)).error_message == "Carrier\ufffdsaid no"


async def test_a_callback_that_beats_the_sends_own_update_finds_the_message_by_our_id(
    record: RecordStatusReport, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    # Twilio answered the send, but the callback arrives before the send recorded the sid.
    message = outbound_message(acme, clock)
    await uow.messages.add(message)

    first = await record(status(status_params("sent"), url=status_url(message.id)))
    second = await record(status(status_params("delivered"), url=status_url(message.id)))

    assert (first.outcome, second.outcome) == (StatusReportOutcome.APPLIED, StatusReportOutcome.APPLIED)
    now_stored = await stored(uow, message)
    assert (now_stored.provider_sid, now_stored.status) == (OUTBOUND_SID, MessageStatus.DELIVERED)
    assert await timeline(uow, message) == [(MessageStatus.SENT, True), (MessageStatus.DELIVERED, True)]


@pytest.mark.parametrize("reported", ["exploded", "received", "receiving", ""])
async def test_a_status_that_is_not_one_of_an_outbound_message_is_ignored(
    record: RecordStatusReport, uow: FakeUnitOfWork, sent: Message, reported: str
) -> None:
    result = await record(status(status_params(reported)))

    assert result.outcome is StatusReportOutcome.IGNORED_STATUS
    assert await stored(uow, sent) == sent
    assert await timeline(uow, sent) == []


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("accepted", MessageStatus.QUEUED),
        ("scheduled", MessageStatus.QUEUED),
        ("queued", MessageStatus.QUEUED),
        ("sending", MessageStatus.SENDING),
        ("sent", MessageStatus.SENT),
        ("partially_delivered", MessageStatus.SENT),
        ("delivered", MessageStatus.DELIVERED),
        ("read", MessageStatus.READ),
        ("failed", MessageStatus.FAILED),
        ("undelivered", MessageStatus.UNDELIVERED),
        ("canceled", MessageStatus.FAILED),
    ],
)
async def test_twilio_statuses_map_onto_ours(
    record: RecordStatusReport,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    reported: str,
    expected: MessageStatus,
) -> None:
    accepted = outbound_message(acme, clock, body="hi")
    await uow.messages.add(replace(accepted, provider_sid=OUTBOUND_SID))

    result = await record(status(status_params(reported)))

    assert TWILIO_STATUSES[reported] is expected
    assert result.outcome is StatusReportOutcome.APPLIED
    assert (await stored(uow, accepted)).status is expected


async def test_a_canceled_message_says_why_it_failed(
    record: RecordStatusReport, uow: FakeUnitOfWork, sent: Message
) -> None:
    await record(status(status_params("canceled")))

    canceled = await stored(uow, sent)
    assert (canceled.status, canceled.error_message) == (
        MessageStatus.FAILED,
        "the message was canceled before it was sent",
    )
    assert canceled.failure is not None
    assert canceled.failure.code is FailureCode.UNKNOWN  # no error code says why


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda p: status(p, signature=""), id="unsigned"),
        pytest.param(lambda p: status(p, token="a-guessed-token"), id="signed with the wrong token"),
        pytest.param(lambda p: status(p, token=GLOBEX_TOKEN), id="signed with another tenant's token"),
        pytest.param(
            lambda p: with_params(status(p), {**p, "MessageStatus": ["read"]}),
            id="the status changed after signing",
        ),
        pytest.param(
            lambda p: replace(status(p), url=status_url(uuid4())), id="the URL changed after signing"
        ),
    ],
)
async def test_a_forged_status_callback_is_refused_and_changes_nothing(
    record: RecordStatusReport, uow: FakeUnitOfWork, sent: Message, forge: object
) -> None:
    webhook = forge(status_params("delivered"))  # type: ignore[operator]

    with pytest.raises(CallbackRejected):
        await record(webhook)

    assert await stored(uow, sent) == sent
    assert await timeline(uow, sent) == []


async def test_another_tenants_account_cannot_report_on_a_number_it_does_not_own(
    record: RecordStatusReport, uow: FakeUnitOfWork, sent: Message
) -> None:
    params = status_params("failed", account_sid=GLOBEX_ACCOUNT, error_code=30008)

    with pytest.raises(CallbackRejected):
        await record(status(params, token=GLOBEX_TOKEN))

    assert await stored(uow, sent) == sent
    assert await timeline(uow, sent) == []


async def test_a_number_moved_to_meta_still_takes_the_late_statuses_of_what_twilio_sent(
    record: RecordStatusReport, uow: FakeUnitOfWork, sent: Message, acme: TenantAccount, clock: FixedClock
) -> None:
    meta = ProviderAccount(
        tenant_id=acme.tenant.id,
        credentials=MetaCredentials("102290129340398", "access-token", "app-secret", "verify-token"),
        created_at=clock.now(),
    )
    await uow.provider_accounts.add(meta)
    await uow.senders.move(acme.tenant.id, acme.sender.id, meta.id, "106540352242922")

    result = await record(status(status_params("read")))

    assert result.outcome is StatusReportOutcome.APPLIED
    assert (await stored(uow, sent)).status is MessageStatus.READ


# ---------------------------------------------------------------------- what a forger can cost

TWILIO_ADDRESS = "54.172.60.1"
FORGER_ADDRESS = "203.0.113.9"
GLOBEX_NUMBER = "+447911123456"
FAILURE_LIMIT = RateLimit(amount=3, per_seconds=60)


class Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monotonic() -> Monotonic:
    return Monotonic()


@pytest.fixture
def signers(uow: FakeUnitOfWork, monotonic: Monotonic) -> TwilioSigners:
    return TwilioSigners(lambda: FakeUnitOfWork(uow.database), monotonic=monotonic)


@pytest.fixture
def limited_record(
    uow: FakeUnitOfWork, clock: FixedClock, limiter: FakeRateLimiter, signers: TwilioSigners, tenants: None
) -> RecordStatusReport:
    """Three failed signature checks a minute per address, account and number (thirty per address)."""
    callbacks = TwilioStatusCallbacks(failure_limit=FAILURE_LIMIT, signers=signers)
    return RecordStatusReport(uow, callbacks, clock, FakeMetrics(), limiter=limiter)


@pytest.fixture
def limited_receive(
    uow: FakeUnitOfWork, clock: FixedClock, limiter: FakeRateLimiter, signers: TwilioSigners, tenants: None
) -> ReceiveInboundMessage:
    callbacks = TwilioInboundMessages(failure_limit=FAILURE_LIMIT, signers=signers)
    return ReceiveInboundMessage(uow, callbacks, clock, limiter=limiter)


def from_address(webhook: ProviderCallback, address: str) -> ProviderCallback:
    return replace(webhook, client_address=address)


async def outcomes_of(calls: Sequence[Awaitable[object]]) -> Counter[str]:
    """How each call ended: the error's name, or "ok"."""
    ended: Counter[str] = Counter()
    for call in calls:
        try:
            await call
        except (CallbackRejected, RateLimited) as error:
            ended[type(error).__name__] += 1
        else:
            ended["ok"] += 1
    return ended


FORGERIES_OF_NO_TWILIO_SHAPE = [
    pytest.param(lambda: inbound(inbound_params(), signature=""), id="unsigned"),
    pytest.param(lambda: inbound(inbound_params(), signature="not base64!"), id="not base64"),
    pytest.param(lambda: inbound(inbound_params(), signature="bm90IGEgc2lnbmF0dXJl"), id="not 20 bytes"),
    pytest.param(lambda: inbound(inbound_params(account_sid="AC-made-up")), id="AccountSid malformed"),
    pytest.param(lambda: inbound(inbound_params(to="not-a-number")), id="To is not a number"),
]


@pytest.mark.parametrize("forged", FORGERIES_OF_NO_TWILIO_SHAPE)
async def test_a_webhook_that_cannot_be_signed_by_twilio_is_refused_without_touching_the_database(
    limited_receive: ReceiveInboundMessage, uow: FakeUnitOfWork, limiter: FakeRateLimiter, forged: object
) -> None:
    uow.available = False  # any database work would raise StorageUnavailable

    with pytest.raises(CallbackRejected):
        await limited_receive(forged())  # type: ignore[operator]
    assert limiter.hits == []  # nothing to count: it cost nothing


@pytest.mark.parametrize("forged", FORGERIES_OF_NO_TWILIO_SHAPE)
async def test_a_webhook_that_cannot_be_twilios_adds_no_warning_to_its_request_line(
    limited_receive: ReceiveInboundMessage, forged: object, caplog: pytest.LogCaptureFixture
) -> None:
    # Internet noise, not a misconfiguration: a warning each would let anyone flood the log.
    caplog.set_level(logging.DEBUG, logger="adapters.twilio.callback_authentication")

    with pytest.raises(CallbackRejected):
        await limited_receive(forged())  # type: ignore[operator]

    assert [record.levelno for record in caplog.records] == [logging.DEBUG]


async def test_failed_signature_checks_are_limited_per_account_and_number_then_refused_without_database_work(
    limited_record: RecordStatusReport, uow: FakeUnitOfWork, sent: Message
) -> None:
    forged = replace(status(status_params("read"), token="a-guessed-token"), client_address=FORGER_ADDRESS)
    for _ in range(3):
        with pytest.raises(CallbackRejected):
            await limited_record(forged)

    uow.available = False
    with pytest.raises(RateLimited) as limited:
        await limited_record(forged)

    assert 1 <= limited.value.retry_after_seconds <= 60
    assert (limited.value.limit, limited.value.window_seconds) == (3, 60)
    assert limited.value.scope == "twilio-signature-failures"
    uow.available = True
    assert await stored(uow, sent) == sent


async def forge_until_limited(limited_record: RecordStatusReport) -> None:
    """Status callbacks from the forger's address with a guessed token, until its failures are limited."""
    forged = replace(status(status_params("read"), token="a-guessed-token"), client_address=FORGER_ADDRESS)
    for _ in range(3):
        with pytest.raises(CallbackRejected):
            await limited_record(forged)
    with pytest.raises(RateLimited):
        await limited_record(forged)


async def test_a_webhook_twilio_signed_is_never_held_back_by_failures_from_its_address(
    limited_record: RecordStatusReport, uow: FakeUnitOfWork, sent: Message
) -> None:
    await forge_until_limited(limited_record)

    signed = replace(status(status_params("sent")), client_address=FORGER_ADDRESS)

    assert (await limited_record(signed)).outcome is StatusReportOutcome.APPLIED


async def test_a_tenant_with_a_stale_auth_token_does_not_hold_back_another_tenants_webhooks(
    limited_receive: ReceiveInboundMessage, uow: FakeUnitOfWork, globex: TenantAccount
) -> None:
    # Acme's token was rotated at Twilio but not here: every one of its webhooks fails.
    stale = [
        limited_receive(
            from_address(
                inbound(inbound_params(sid=f"SM{n:032x}"), token="rotated-at-twilio"), TWILIO_ADDRESS
            )
        )
        for n in range(100)
    ]
    assert await outcomes_of(stale) == {"CallbackRejected": 3, "RateLimited": 97}

    genuine = [
        limited_receive(
            from_address(
                inbound(
                    inbound_params(to=GLOBEX_NUMBER, account_sid=GLOBEX_ACCOUNT, sid=f"SM{1000 + n:032x}"),
                    token=GLOBEX_TOKEN,
                ),
                TWILIO_ADDRESS,
            )
        )
        for n in range(20)
    ]

    assert await outcomes_of(genuine) == {"ok": 20}
    assert {message.tenant_id for message in uow.messages.all()} == {globex.tenant.id}


async def test_a_number_configured_at_twilio_but_not_here_does_not_hold_back_the_others(
    limited_receive: ReceiveInboundMessage, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    # A sender removed here whose number still sends its webhooks here: "no tenant has this number".
    removed = [
        limited_receive(
            from_address(inbound(inbound_params(to="+14155550999", sid=f"SM{n:032x}")), TWILIO_ADDRESS)
        )
        for n in range(100)
    ]
    assert await outcomes_of(removed) == {"CallbackRejected": 3, "RateLimited": 97}

    genuine = [
        limited_receive(from_address(inbound(inbound_params(sid=f"SM{1000 + n:032x}")), TWILIO_ADDRESS))
        for n in range(20)
    ]

    assert await outcomes_of(genuine) == {"ok": 20}


async def test_forgeries_from_one_address_cost_a_bounded_number_of_lookups_whatever_they_name(
    limited_receive: ReceiveInboundMessage, uow: FakeUnitOfWork
) -> None:
    # A new made-up account in each: every one is an account and number of its own.
    forged = [
        limited_receive(
            from_address(inbound(inbound_params(account_sid=f"AC{n:032x}"), token="guessed"), FORGER_ADDRESS)
        )
        for n in range(100)
    ]

    assert await outcomes_of(forged) == {"CallbackRejected": 30, "RateLimited": 70}
    uow.available = False
    with pytest.raises(RateLimited):
        await limited_receive(
            from_address(
                inbound(inbound_params(account_sid=f"AC{101:032x}"), token="guessed"), FORGER_ADDRESS
            )
        )


async def test_a_tenant_that_fixed_its_token_is_heard_again_once_the_signers_are_read_again(
    limited_receive: ReceiveInboundMessage, uow: FakeUnitOfWork, monotonic: Monotonic, acme: TenantAccount
) -> None:
    def signed_at_twilio(n: int) -> ProviderCallback:
        return from_address(
            inbound(inbound_params(sid=f"SM{n:032x}"), token="rotated-at-twilio"), TWILIO_ADDRESS
        )

    assert await outcomes_of([limited_receive(signed_at_twilio(n)) for n in range(5)]) == {
        "CallbackRejected": 3,
        "RateLimited": 2,
    }
    await set_twilio_credentials(uow, acme.tenant.id, TwilioCredentials(ACME_ACCOUNT, "rotated-at-twilio"))

    monotonic.now += 10

    assert await outcomes_of([limited_receive(signed_at_twilio(n)) for n in range(5, 10)]) == {"ok": 5}


async def test_the_signers_are_read_once_for_every_webhook_of_a_few_seconds(
    limited_receive: ReceiveInboundMessage, uow: FakeUnitOfWork, monotonic: Monotonic
) -> None:
    for n in range(5):
        await limited_receive(inbound(inbound_params(sid=f"SM{n:032x}")))
    monotonic.now += 10
    await limited_receive(inbound(inbound_params(sid=f"SM{5:032x}")))

    assert uow.provider_accounts.signer_loads == 2


async def test_a_sender_added_a_moment_ago_is_heard_at_once(
    limited_receive: ReceiveInboundMessage, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await limited_receive(inbound(inbound_params()))  # the signers are read: acme's one number
    await uow.senders.add(
        Sender(
            tenant_id=acme.tenant.id, phone_number=PhoneNumber.parse("+14155550999"), created_at=clock.now()
        )
    )

    receipt = await limited_receive(inbound(inbound_params(to="+14155550999", sid=f"SM{7:032x}")))

    assert receipt.message.tenant_id == acme.tenant.id
    assert uow.provider_accounts.signer_loads == 1
    await limited_receive(inbound(inbound_params(to="+14155550999", sid=f"SM{8:032x}")))
    assert uow.provider_accounts.signer_loads == 2  # read again: it is known from now on


async def test_twilio_is_not_held_back_by_another_addresss_forgeries_nor_by_its_own_traffic(
    limited_record: RecordStatusReport, uow: FakeUnitOfWork, sent: Message
) -> None:
    await forge_until_limited(limited_record)

    outcomes = [
        (
            await limited_record(replace(status(status_params(reported)), client_address=TWILIO_ADDRESS))
        ).outcome
        for reported in ["sending", "sent", "delivered", "delivered", "read", "read"]
    ]

    assert outcomes.count(StatusReportOutcome.APPLIED) == 4
    assert (await stored(uow, sent)).status is MessageStatus.READ


async def test_an_address_may_try_again_once_its_failures_leave_the_window(
    limited_record: RecordStatusReport, clock: FixedClock, sent: Message
) -> None:
    forged = replace(status(status_params("read"), token="a-guessed-token"), client_address=FORGER_ADDRESS)
    for _ in range(3):
        with pytest.raises(CallbackRejected):
            await limited_record(forged)

    clock.advance(timedelta(seconds=61))

    with pytest.raises(CallbackRejected):  # checked again (and failing again), not refused unchecked
        await limited_record(forged)


async def test_a_check_the_database_could_not_answer_is_not_counted_as_a_failure(
    limited_record: RecordStatusReport, uow: FakeUnitOfWork, limiter: FakeRateLimiter, sent: Message
) -> None:
    forged = replace(status(status_params("read"), token="a-guessed-token"), client_address=FORGER_ADDRESS)
    await limited_record(
        replace(status(status_params("sent")), client_address=TWILIO_ADDRESS)
    )  # signers read
    uow.available = False

    for _ in range(5):
        with pytest.raises(StorageUnavailable):
            await limited_record(forged)

    assert limiter.hits == []


# ---------------------------------------------------------------------- whom signers decide alone


class SignersVersion:
    """The access cache's signers version: ``now`` None while it is not listening."""

    def __init__(self) -> None:
        self.now: int | None = 0

    def __call__(self) -> int | None:
        return self.now


class WatchedUnitOfWork:
    """A unit of work that notes which repositories were asked for: what authenticating a callback
    read from the database."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> object:
        self.asked.append(name)
        return getattr(self._uow, name)


@pytest.fixture
def signers_version() -> SignersVersion:
    return SignersVersion()


@pytest.fixture
def versioned_signers(
    uow: FakeUnitOfWork, monotonic: Monotonic, signers_version: SignersVersion, tenants: None
) -> TwilioSigners:
    return TwilioSigners(lambda: FakeUnitOfWork(uow.database), version=signers_version, monotonic=monotonic)


async def authenticated(
    callbacks: TwilioInboundMessages | TwilioStatusCallbacks, callback: ProviderCallback, uow: FakeUnitOfWork
) -> tuple[list[UUID], list[str]]:
    """The tenants the callback was authenticated for, and the repositories that took."""
    screened = await callbacks.screen(callback)
    watched = WatchedUnitOfWork(uow)
    tenants = await screened.authenticate(cast(UnitOfWork, watched))
    return tenants, watched.asked


SIGNED_CALLBACKS = [
    pytest.param(TwilioInboundMessages, lambda: inbound(inbound_params()), id="inbound message"),
    pytest.param(TwilioStatusCallbacks, lambda: status(status_params("delivered")), id="status callback"),
]


@pytest.mark.parametrize(("kind", "signed"), SIGNED_CALLBACKS)
async def test_a_callback_the_current_signers_verified_is_authenticated_without_a_query(
    uow: FakeUnitOfWork,
    versioned_signers: TwilioSigners,
    acme: TenantAccount,
    kind: type[TwilioInboundMessages | TwilioStatusCallbacks],
    signed: Callable[[], ProviderCallback],
) -> None:
    callbacks = kind(failure_limit=FAILURE_LIMIT, signers=versioned_signers)

    tenants, asked = await authenticated(callbacks, signed(), uow)

    assert tenants == [acme.tenant.id]
    assert asked == []


async def test_a_number_shared_on_one_account_is_every_tenants_oldest_sender_first_without_a_query(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    versioned_signers: TwilioSigners,
    acme: TenantAccount,
    globex: TenantAccount,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Globex sends from Acme's number on Acme's Twilio account too, with a sender added later; Acme has
    # that account twice (each account of a tenant signs for each of its numbers).
    acme_credentials = TwilioCredentials(ACME_ACCOUNT, ACME_TOKEN)
    for tenant in (acme.tenant, globex.tenant, acme.tenant):
        await uow.provider_accounts.add(
            ProviderAccount(tenant_id=tenant.id, credentials=acme_credentials, created_at=clock.now())
        )
    await uow.senders.add(
        Sender(
            tenant_id=globex.tenant.id,
            phone_number=PhoneNumber.parse(SANDBOX_NUMBER),
            created_at=clock.now() + timedelta(minutes=1),
        )
    )
    callbacks = TwilioInboundMessages(failure_limit=FAILURE_LIMIT, signers=versioned_signers)

    tenants, asked = await authenticated(callbacks, inbound(inbound_params()), uow)

    assert tenants == [acme.tenant.id, globex.tenant.id]
    assert asked == []
    assert "share number" in caplog.text  # the inbound message goes to the oldest sender's tenant


async def test_once_the_signers_version_moved_they_are_read_again_and_a_removed_sender_is_refused(
    uow: FakeUnitOfWork,
    versioned_signers: TwilioSigners,
    signers_version: SignersVersion,
    acme: TenantAccount,
) -> None:
    callbacks = TwilioStatusCallbacks(failure_limit=FAILURE_LIMIT, signers=versioned_signers)
    assert (await authenticated(callbacks, status(status_params("sent")), uow))[0] == [acme.tenant.id]

    assert await uow.senders.remove(acme.tenant.id, acme.sender.id)
    signers_version.now = 1  # what the notification of the removal does

    with pytest.raises(CallbackRejected):
        await authenticated(callbacks, status(status_params("delivered")), uow)
    assert uow.provider_accounts.signer_loads == 2


async def test_signers_that_cannot_vouch_for_themselves_leave_the_database_to_decide(
    uow: FakeUnitOfWork,
    versioned_signers: TwilioSigners,
    signers_version: SignersVersion,
    acme: TenantAccount,
) -> None:
    callbacks = TwilioStatusCallbacks(failure_limit=FAILURE_LIMIT, signers=versioned_signers)
    await authenticated(callbacks, status(status_params("sent")), uow)  # the signers know Acme's number

    signers_version.now = None  # the access cache stopped listening: changes may go unannounced
    assert await uow.senders.remove(acme.tenant.id, acme.sender.id)

    with pytest.raises(CallbackRejected):
        await authenticated(callbacks, status(status_params("delivered")), uow)
    assert uow.provider_accounts.signer_loads == 1  # still known here, but no longer trusted


async def test_signers_read_while_their_version_moved_are_checked_in_the_database(
    uow: FakeUnitOfWork,
    monotonic: Monotonic,
    signers_version: SignersVersion,
    acme: TenantAccount,
    tenants: None,
) -> None:
    class ChangedMeanwhile(FakeUnitOfWork):
        """Each read of the signers overlaps a change committed elsewhere."""

        async def __aexit__(self, *exc_info: object) -> None:
            await super().__aexit__(None, None, None)
            assert signers_version.now is not None
            signers_version.now += 1

    signers = TwilioSigners(
        lambda: ChangedMeanwhile(uow.database), version=signers_version, monotonic=monotonic
    )
    callbacks = TwilioInboundMessages(failure_limit=FAILURE_LIMIT, signers=signers)

    tenants_of, asked = await authenticated(callbacks, inbound(inbound_params()), uow)

    assert tenants_of == [acme.tenant.id]
    assert "senders" in asked
    assert uow.provider_accounts.signer_loads == 2  # read once more when the version moved, no more
