"""Provider callbacks as use cases, whichever provider they come from: what an authenticated inbound
message or status report stores, and what it may never do. (Twilio's own callbacks, read by its
adapter, are in tests/unit/adapters/test_twilio_callbacks.py.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Generic, TypeVar
from uuid import UUID, uuid4

import pytest

from application.errors import CallbackRejected, StorageUnavailable
from application.inbound.commands import InboundMessage, StatusReport
from application.inbound.receive_message import ReceiveInboundMessage
from application.inbound.record_status_report import RecordStatusReport, StatusReportOutcome
from application.ports.provider_callbacks import ProviderCallback, ProviderCallbackReader
from application.ports.rate_limits import RateLimit
from application.ports.unit_of_work import UnitOfWork
from application.rate_limits import CountedLimit
from domain.administration.tenancy import ProviderName, Sender
from domain.messaging.messages import Direction, Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.fakes import FakeMetrics, FakeRateLimiter, FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.use_cases import outbound_message, sent_message, stored, timeline

CUSTOMER = "+14155550100"
INBOUND_SID = "SM" + "1" * 32
OUTBOUND_SID = "SM" + "2" * 32
# The use cases never look inside: the reader says what a callback is.
CALLBACK = ProviderCallback(
    url="https://gateway.example.com/callbacks", content_type="application/json", body=b"{}", headers={}
)

Command = TypeVar("Command")


@dataclass
class Screened(Generic[Command]):
    made: Command
    tenants: list[UUID]
    counted_against: Sequence[CountedLimit] = ()

    async def authenticate(self, uow: UnitOfWork) -> list[UUID]:
        if not self.tenants:
            raise CallbackRejected()
        return self.tenants

    def command(self) -> Command:
        return self.made


@dataclass
class FakeCallbacks(Generic[Command]):
    """Reads the next callback as ``will_read`` says: that command, for those tenants (none: it fails
    authentication), counted against ``counted_against``."""

    provider: ProviderName = ProviderName.SANDBOX
    counted_against: Sequence[CountedLimit] = ()
    _next: Screened[Command] | None = field(default=None, repr=False)

    def will_read(self, command: Command, *tenants: UUID) -> ProviderCallback:
        self._next = Screened(command, list(tenants), self.counted_against)
        return CALLBACK

    async def screen(self, callback: ProviderCallback) -> Screened[Command]:
        assert self._next is not None, "will_read first"
        return self._next


@pytest.fixture
def inbound() -> FakeCallbacks[InboundMessage]:
    return FakeCallbacks()


@pytest.fixture
def reports() -> FakeCallbacks[StatusReport]:
    return FakeCallbacks()


@pytest.fixture
def metrics() -> FakeMetrics:
    return FakeMetrics()


@pytest.fixture
def receive(
    uow: FakeUnitOfWork, clock: FixedClock, inbound: FakeCallbacks[InboundMessage]
) -> ReceiveInboundMessage:
    return ReceiveInboundMessage(uow, inbound, clock)


@pytest.fixture
def record(
    uow: FakeUnitOfWork, clock: FixedClock, reports: FakeCallbacks[StatusReport], metrics: FakeMetrics
) -> RecordStatusReport:
    return RecordStatusReport(uow, reports, clock, metrics)


def customer_writes(
    to: TenantAccount, *, body: str = "Hello, is my order on its way?", sid: str = INBOUND_SID
) -> InboundMessage:
    return InboundMessage(
        provider_message_id=sid,
        sender=to.sender.phone_number,
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(body=body),
        profile_name="Ana",
        wa_id="14155550100",
    )


def report(
    status: MessageStatus | None, *, sid: str = OUTBOUND_SID, message_id: UUID | None = None
) -> StatusReport:
    reported = status.value if status is not None else "exploded"
    return StatusReport(provider_message_id=sid, status=status, reported=reported, message_id=message_id)


# The fakes implement the port the use cases take.
_: ProviderCallbackReader[InboundMessage] = FakeCallbacks[InboundMessage]()


# ------------------------------------------------------------------------------------------ inbound


async def test_an_inbound_message_is_stored_for_the_tenant_the_provider_proved(
    receive: ReceiveInboundMessage,
    inbound: FakeCallbacks[InboundMessage],
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    receipt = await receive(
        inbound.will_read(customer_writes(acme, body="Where is my order?"), acme.tenant.id)
    )

    assert not receipt.duplicate
    (stored,) = uow.messages.all()
    assert stored == receipt.message
    assert (stored.tenant_id, stored.direction, stored.status) == (
        acme.tenant.id,
        Direction.INBOUND,
        MessageStatus.RECEIVED,
    )
    assert (stored.sender, stored.contact) == (acme.sender.phone_number, PhoneNumber.parse(CUSTOMER))
    assert stored.content == MessageContent(body="Where is my order?")
    assert (stored.provider_sid, stored.created_at) == (INBOUND_SID, clock.now())
    assert (stored.profile_name, stored.wa_id) == ("Ana", "14155550100")


async def test_the_same_message_delivered_twice_is_stored_once(
    receive: ReceiveInboundMessage,
    inbound: FakeCallbacks[InboundMessage],
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    first = await receive(inbound.will_read(customer_writes(acme), acme.tenant.id))
    clock.advance(timedelta(seconds=30))

    again = await receive(inbound.will_read(customer_writes(acme), acme.tenant.id))

    assert again.duplicate
    assert again.message == first.message
    assert uow.messages.all() == [first.message]


async def test_a_concurrent_twin_that_reaches_the_unique_index_is_the_duplicate_it_is(
    receive: ReceiveInboundMessage,
    inbound: FakeCallbacks[InboundMessage],
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    twin = Message.new_inbound(
        tenant_id=acme.tenant.id,
        sender=acme.sender.phone_number,
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(body="Hello, is my order on its way?"),
        provider_sid=INBOUND_SID,
        now=clock.now(),
    )
    real_lookup = uow.messages.get_by_provider_sid
    lookups = 0

    async def twin_lands_after_the_lookup(provider_sid: str) -> Message | None:
        # The other request commits between this request's lookup and its insert.
        nonlocal lookups
        lookups += 1
        if lookups == 1:
            await uow.messages.add(twin)
            await uow.commit()
            return None
        return await real_lookup(provider_sid)

    monkeypatch.setattr(uow.messages, "get_by_provider_sid", twin_lands_after_the_lookup)

    receipt = await receive(inbound.will_read(customer_writes(acme), acme.tenant.id))

    assert receipt.duplicate
    assert receipt.message == twin
    assert uow.messages.all() == [twin]


async def test_the_conversation_records_the_message_and_opens_the_window(
    receive: ReceiveInboundMessage,
    inbound: FakeCallbacks[InboundMessage],
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    receipt = await receive(inbound.will_read(customer_writes(acme, body="Hi there"), acme.tenant.id))

    conversation = await uow.conversations.get(acme.tenant.id, PhoneNumber.parse(CUSTOMER))
    assert conversation is not None
    assert conversation.last_message_id == receipt.message.id
    assert conversation.last_direction is Direction.INBOUND
    assert conversation.last_inbound_at == clock.now()
    assert conversation.profile_name == "Ana"
    assert conversation.window_open(clock.now() + timedelta(hours=23))


async def test_a_number_several_tenants_share_gives_the_message_to_the_first_the_provider_names(
    receive: ReceiveInboundMessage,
    inbound: FakeCallbacks[InboundMessage],
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    await uow.senders.add(
        Sender(tenant_id=globex.tenant.id, phone_number=acme.sender.phone_number, created_at=clock.now())
    )

    receipt = await receive(inbound.will_read(customer_writes(acme), acme.tenant.id, globex.tenant.id))

    assert receipt.message.tenant_id == acme.tenant.id
    assert await uow.conversations.get(globex.tenant.id, PhoneNumber.parse(CUSTOMER)) is None


async def test_a_callback_that_fails_authentication_stores_nothing_and_stays_counted(
    uow: FakeUnitOfWork, clock: FixedClock, limiter: FakeRateLimiter, acme: TenantAccount
) -> None:
    limit = CountedLimit("failures:address:203.0.113.9", RateLimit(3, 60), "too many", scope="failures")
    inbound = FakeCallbacks[InboundMessage](counted_against=[limit])
    receive = ReceiveInboundMessage(uow, inbound, clock, limiter=limiter)

    with pytest.raises(CallbackRejected):
        await receive(inbound.will_read(customer_writes(acme)))  # proves no tenant
    await receive(inbound.will_read(customer_writes(acme, sid="SM" + "3" * 32), acme.tenant.id))

    assert limiter.hits == [limit.key]  # the failure stays counted, the success was given back
    assert [message.provider_sid for message in uow.messages.all()] == ["SM" + "3" * 32]


async def test_a_callback_the_database_could_not_authenticate_is_not_counted_as_a_failure(
    uow: FakeUnitOfWork, clock: FixedClock, limiter: FakeRateLimiter, acme: TenantAccount
) -> None:
    limit = CountedLimit("failures:address:203.0.113.9", RateLimit(3, 60), "too many", scope="failures")
    inbound = FakeCallbacks[InboundMessage](counted_against=[limit])
    receive = ReceiveInboundMessage(uow, inbound, clock, limiter=limiter)
    uow.available = False

    with pytest.raises(StorageUnavailable):
        await receive(inbound.will_read(customer_writes(acme), acme.tenant.id))

    assert limiter.hits == []


# ---------------------------------------------------------------------------------- status reports


@pytest.fixture
async def sent(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> Message:
    return await sent_message(uow, clock, acme, OUTBOUND_SID)


async def test_statuses_move_the_message_forward(
    record: RecordStatusReport,
    reports: FakeCallbacks[StatusReport],
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    sent: Message,
) -> None:
    clock.advance()
    result = await record(reports.will_read(report(MessageStatus.SENT), acme.tenant.id))
    clock.advance()
    await record(reports.will_read(report(MessageStatus.DELIVERED), acme.tenant.id))

    assert result.outcome is StatusReportOutcome.APPLIED
    assert result.message is not None
    assert result.message.status is MessageStatus.SENT
    now_stored = await stored(uow, sent)
    assert now_stored.status is MessageStatus.DELIVERED
    assert now_stored.updated_at == clock.now()
    assert await timeline(uow, sent) == [(MessageStatus.SENT, True), (MessageStatus.DELIVERED, True)]


async def test_out_of_order_and_repeated_reports_leave_the_furthest_status_and_each_report_once(
    record: RecordStatusReport,
    reports: FakeCallbacks[StatusReport],
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    sent: Message,
) -> None:
    outcomes = []
    for status in ["read", "read", "delivered", "sent", "delivered", "queued"]:
        callback = reports.will_read(report(MessageStatus(status)), acme.tenant.id)
        outcomes.append((await record(callback)).outcome)

    assert (await stored(uow, sent)).status is MessageStatus.READ
    assert outcomes == [StatusReportOutcome.APPLIED] + [StatusReportOutcome.NOT_APPLIED] * 5
    # Late reports are logged as not applied; a repeat of a logged one is that report, not another.
    assert await timeline(uow, sent) == [
        (MessageStatus.READ, True),
        (MessageStatus.DELIVERED, False),
        (MessageStatus.SENT, False),
        (MessageStatus.QUEUED, False),
    ]


async def test_an_applied_report_is_counted_for_the_provider_that_made_it(
    record: RecordStatusReport,
    reports: FakeCallbacks[StatusReport],
    metrics: FakeMetrics,
    acme: TenantAccount,
    sent: Message,
) -> None:
    await record(reports.will_read(report(MessageStatus.DELIVERED), acme.tenant.id))
    await record(reports.will_read(report(MessageStatus.SENT), acme.tenant.id))  # stale: not counted

    assert metrics.named("message_status") == [("sandbox", MessageStatus.DELIVERED, acme.tenant.id)]


async def test_a_status_that_is_not_one_of_an_outbound_message_is_ignored(
    record: RecordStatusReport,
    reports: FakeCallbacks[StatusReport],
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    sent: Message,
) -> None:
    result = await record(reports.will_read(report(None), acme.tenant.id))

    assert result.outcome is StatusReportOutcome.IGNORED_STATUS
    assert await stored(uow, sent) == sent
    assert await timeline(uow, sent) == []


async def test_a_report_that_beats_the_sends_own_update_finds_the_message_by_our_id(
    record: RecordStatusReport,
    reports: FakeCallbacks[StatusReport],
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    # The provider answered the send, but its report arrives before the send recorded the provider's id.
    message = outbound_message(acme, clock)
    await uow.messages.add(message)

    first = await record(reports.will_read(report(MessageStatus.SENT, message_id=message.id), acme.tenant.id))
    second = await record(
        reports.will_read(report(MessageStatus.DELIVERED, message_id=message.id), acme.tenant.id)
    )

    assert (first.outcome, second.outcome) == (StatusReportOutcome.APPLIED, StatusReportOutcome.APPLIED)
    now_stored = await stored(uow, message)
    assert (now_stored.provider_sid, now_stored.status) == (OUTBOUND_SID, MessageStatus.DELIVERED)
    assert await timeline(uow, message) == [(MessageStatus.SENT, True), (MessageStatus.DELIVERED, True)]


async def test_our_id_in_a_report_cannot_reach_another_tenants_message(
    record: RecordStatusReport,
    reports: FakeCallbacks[StatusReport],
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    theirs = outbound_message(globex, clock, body="Globex's own message")
    await uow.messages.add(theirs)

    # Proven to be Acme's, but naming Globex's message.
    result = await record(
        reports.will_read(report(MessageStatus.DELIVERED, message_id=theirs.id), acme.tenant.id)
    )

    assert result.outcome is StatusReportOutcome.UNKNOWN_MESSAGE
    assert await stored(uow, theirs) == theirs
    assert await timeline(uow, theirs) == []


async def test_a_report_about_another_tenants_message_changes_nothing(
    record: RecordStatusReport,
    reports: FakeCallbacks[StatusReport],
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    theirs = outbound_message(globex, clock, body="Globex's own message").handed_to_provider(
        "SM" + "9" * 32, MessageStatus.QUEUED, clock.now()
    )
    await uow.messages.add(theirs)

    failed = replace(report(MessageStatus.FAILED, sid="SM" + "9" * 32), error_code=30008)
    result = await record(reports.will_read(failed, acme.tenant.id))

    assert result.outcome is StatusReportOutcome.UNKNOWN_MESSAGE
    assert await stored(uow, theirs) == theirs
    assert await timeline(uow, theirs) == []


async def test_a_report_for_an_unknown_message_is_acknowledged_and_dropped(
    record: RecordStatusReport,
    reports: FakeCallbacks[StatusReport],
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    sent: Message,
) -> None:
    unknown = report(MessageStatus.DELIVERED, sid="SM" + "f" * 32, message_id=uuid4())
    result = await record(reports.will_read(unknown, acme.tenant.id))

    assert result.outcome is StatusReportOutcome.UNKNOWN_MESSAGE
    assert uow.messages.all() == [sent]
    assert await timeline(uow, sent) == []


async def test_a_report_that_fails_authentication_changes_nothing(
    record: RecordStatusReport, reports: FakeCallbacks[StatusReport], uow: FakeUnitOfWork, sent: Message
) -> None:
    with pytest.raises(CallbackRejected):
        await record(reports.will_read(report(MessageStatus.READ)))

    assert await stored(uow, sent) == sent
    assert await timeline(uow, sent) == []
