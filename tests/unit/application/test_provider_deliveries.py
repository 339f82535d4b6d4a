"""A provider's delivery that batches many messages and reports for many numbers, as a use case: each
item applied as a single callback would be, each in a transaction of its own, so that one that fails
holds back none of the others — unless the database itself is down. (Meta's deliveries, read by its
adapter, are in tests/unit/adapters/test_meta_callbacks.py.)"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import pytest

from application.errors import CallbackRejected, StorageUnavailable
from application.inbound.commands import InboundMessage, StatusReport
from application.inbound.receive_delivery import ReceiveProviderDelivery
from application.inbound.record_status_report import StatusReportOutcome
from application.ports.provider_callbacks import (
    ProvenAccount,
    ProviderCallback,
    ProviderDeliveryReader,
    Recipient,
)
from application.ports.templates import TemplateStatusUpdate
from application.ports.unit_of_work import UnitOfWork
from application.rate_limits import CountedLimit
from domain.administration.tenancy import ProviderName
from domain.campaigns.sender_quality import SenderQualityChange
from domain.messaging.messages import Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from domain.templates.catalogue import TemplateStatus
from tests.support.fakes import FakeMetrics, FakeUnitOfWork, FixedClock, TenantAccount

CUSTOMER = PhoneNumber.parse("+14155550100")
CALLBACK = ProviderCallback(
    url="https://gateway.example.com/webhooks/meta", content_type="application/json", body=b"{}", headers={}
)


def _in_transaction(uow: UnitOfWork) -> bool:
    assert isinstance(uow, FakeUnitOfWork)
    return uow.in_transaction


@dataclass
class Part:
    number: str
    inbound: Sequence[InboundMessage] = ()
    statuses: Sequence[StatusReport] = ()
    routed_to: Recipient | Exception | None = None
    needs_lookup: bool = True
    routed_in_transaction: list[bool] = field(default_factory=list)

    async def recipient(self, uow: UnitOfWork) -> Recipient | None:
        self.routed_in_transaction.append(_in_transaction(uow))
        if isinstance(self.routed_to, Exception):
            raise self.routed_to
        return self.routed_to


@dataclass
class TemplatePart:
    updates: Sequence[TemplateStatusUpdate]
    accounts: frozenset[UUID]

    async def proven_accounts(self, uow: UnitOfWork) -> frozenset[UUID]:
        return self.accounts


@dataclass
class QualityPart:
    changes: Sequence[SenderQualityChange]
    accounts: frozenset[ProvenAccount]

    async def proven_accounts(self, uow: UnitOfWork) -> frozenset[ProvenAccount]:
        return self.accounts


@dataclass
class Screened:
    proven: bool
    delivered: list[Part]
    templates: list[TemplatePart] = field(default_factory=list)
    qualities: list[QualityPart] = field(default_factory=list)
    counted_against: Sequence[CountedLimit] = ()
    needs_lookup: bool = True
    authenticated_in_transaction: list[bool] = field(default_factory=list)

    async def authenticate(self, uow: UnitOfWork) -> None:
        self.authenticated_in_transaction.append(_in_transaction(uow))
        if not self.proven:
            raise CallbackRejected()

    def parts(self) -> list[Part]:
        return self.delivered

    def template_parts(self) -> list[TemplatePart]:
        return self.templates

    def sender_quality_parts(self) -> list[QualityPart]:
        return self.qualities


@dataclass
class FakeDeliveries:
    """Reads the next delivery as ``will_read`` says."""

    provider: ProviderName = ProviderName.META
    _next: Screened | None = field(default=None, repr=False)

    def will_read(
        self,
        *parts: Part,
        proven: bool = True,
        templates: Sequence[TemplatePart] = (),
        needs_lookup: bool = True,
    ) -> ProviderCallback:
        self._next = Screened(proven, list(parts), list(templates), needs_lookup=needs_lookup)
        return CALLBACK

    @property
    def last(self) -> Screened:
        assert self._next is not None
        return self._next

    async def screen(self, callback: ProviderCallback) -> Screened:
        assert self._next is not None, "will_read first"
        return self._next


_: ProviderDeliveryReader = FakeDeliveries()


@pytest.fixture
def deliveries() -> FakeDeliveries:
    return FakeDeliveries()


@pytest.fixture
def receive(uow: FakeUnitOfWork, clock: FixedClock, deliveries: FakeDeliveries) -> ReceiveProviderDelivery:
    return ReceiveProviderDelivery(uow, deliveries, clock, FakeMetrics())


def to(account: TenantAccount) -> Recipient:
    return Recipient(tenant_id=account.tenant.id, number=account.sender.phone_number)


def customer_writes(wamid: str, body: str = "Hi", *, sender: str = "+15550100001") -> InboundMessage:
    return InboundMessage(
        provider_message_id=wamid,
        sender=PhoneNumber.parse(sender),
        contact=CUSTOMER,
        content=MessageContent(body=body),
    )


async def test_each_part_goes_to_its_recipient_under_the_number_the_tenant_has(
    receive: ReceiveProviderDelivery,
    deliveries: FakeDeliveries,
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    receipt = await receive(
        deliveries.will_read(
            Part("acme's", inbound=[customer_writes("w1", "for Acme")], routed_to=to(acme)),
            Part("globex's", inbound=[customer_writes("w2", "for Globex")], routed_to=to(globex)),
            Part("nobody's", inbound=[customer_writes("w3")], statuses=[], routed_to=None),
        )
    )

    stored = {(m.tenant_id, m.sender, m.content.body) for m in uow.messages.all()}
    assert stored == {
        (acme.tenant.id, acme.sender.phone_number, "for Acme"),
        (globex.tenant.id, globex.sender.phone_number, "for Globex"),
    }
    assert (len(receipt.inbound), receipt.unrouted, receipt.failed) == (2, 1, 0)


async def test_what_the_adapter_answers_from_memory_opens_no_transaction(
    receive: ReceiveProviderDelivery, deliveries: FakeDeliveries, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    known = Part("acme's", inbound=[customer_writes("w1")], routed_to=to(acme), needs_lookup=False)
    looked_up = Part("acme's too", inbound=[customer_writes("w2")], routed_to=to(acme))

    receipt = await receive(deliveries.will_read(known, looked_up, needs_lookup=False))

    assert deliveries.last.authenticated_in_transaction == [False]
    assert (known.routed_in_transaction, looked_up.routed_in_transaction) == ([False], [True])
    assert len(receipt.inbound) == 2


async def test_a_delivery_that_is_not_proven_stores_nothing(
    receive: ReceiveProviderDelivery, deliveries: FakeDeliveries, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    with pytest.raises(CallbackRejected):
        await receive(
            deliveries.will_read(Part("x", [customer_writes("w1")], routed_to=to(acme)), proven=False)
        )

    assert uow.messages.all() == []


async def test_an_item_that_cannot_be_applied_is_logged_and_the_others_go_on(
    receive: ReceiveProviderDelivery,
    deliveries: FakeDeliveries,
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    globex: TenantAccount,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real_add = uow.messages.add

    async def breaks_on_the_poisoned_one(message: Message) -> None:
        if message.provider_sid == "poisoned":
            raise ValueError("a bug that only this message meets")
        await real_add(message)

    monkeypatch.setattr(uow.messages, "add", breaks_on_the_poisoned_one)

    receipt = await receive(
        deliveries.will_read(
            Part(
                "a",
                inbound=[customer_writes("w1"), customer_writes("poisoned"), customer_writes("w2")],
                routed_to=to(acme),
            ),
            Part("lookup fails", inbound=[customer_writes("w3")], routed_to=ValueError("routing bug")),
            Part("g", inbound=[customer_writes("w4")], routed_to=to(globex)),
        )
    )

    assert sorted(m.provider_sid or "" for m in uow.messages.all()) == ["w1", "w2", "w4"]
    assert receipt.failed == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert all(r.exc_info for r in errors)  # with the traceback, for whoever fixes it


async def test_an_unavailable_database_fails_the_whole_delivery_for_the_provider_to_send_it_again(
    receive: ReceiveProviderDelivery,
    deliveries: FakeDeliveries,
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_add = uow.messages.add

    async def down_after_the_first(message: Message) -> None:
        if uow.messages.all():
            raise StorageUnavailable("the database is not reachable")
        await real_add(message)

    monkeypatch.setattr(uow.messages, "add", down_after_the_first)
    callback = deliveries.will_read(
        Part("a", inbound=[customer_writes("w1"), customer_writes("w2")], routed_to=to(acme))
    )

    with pytest.raises(StorageUnavailable):
        await receive(callback)
    monkeypatch.setattr(uow.messages, "add", real_add)
    again = await receive(callback)  # delivered again: the first is a repeat now

    assert [r.duplicate for r in again.inbound] == [True, False]
    assert sorted(m.provider_sid or "" for m in uow.messages.all()) == ["w1", "w2"]


async def test_a_concurrent_twin_that_reaches_the_unique_index_is_the_duplicate_it_is(
    receive: ReceiveProviderDelivery,
    deliveries: FakeDeliveries,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    twin = Message.new_inbound(
        tenant_id=acme.tenant.id,
        sender=acme.sender.phone_number,
        contact=CUSTOMER,
        content=MessageContent(body="Hi"),
        provider_sid="w1",
        now=clock.now(),
    )
    real_lookup = uow.messages.get_by_provider_sid
    lookups = 0

    async def twin_lands_after_the_lookup(provider_sid: str) -> Message | None:
        nonlocal lookups
        lookups += 1
        if lookups == 1:
            await uow.messages.add(twin)
            await uow.commit()
            return None
        return await real_lookup(provider_sid)

    monkeypatch.setattr(uow.messages, "get_by_provider_sid", twin_lands_after_the_lookup)

    receipt = await receive(
        deliveries.will_read(
            Part("a", inbound=[customer_writes("w1"), customer_writes("w2")], routed_to=to(acme))
        )
    )

    assert [(r.message.provider_sid, r.duplicate) for r in receipt.inbound] == [("w1", True), ("w2", False)]
    assert receipt.failed == 0
    assert sorted(m.provider_sid or "" for m in uow.messages.all()) == ["w1", "w2"]


async def test_reports_are_applied_for_the_parts_tenant_only(
    receive: ReceiveProviderDelivery,
    deliveries: FakeDeliveries,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    message = Message.new_outbound(
        tenant_id=acme.tenant.id,
        sender=acme.sender.phone_number,
        contact=CUSTOMER,
        content=MessageContent(body="Your order has shipped"),
        now=clock.now(),
    )
    await uow.messages.add(message)
    delivered = StatusReport("wamid.1", MessageStatus.DELIVERED, "delivered", message_id=message.id)

    receipt = await receive(
        deliveries.will_read(
            Part("globex's", statuses=[delivered], routed_to=to(globex)),
            Part("acme's", statuses=[delivered], routed_to=to(acme)),
        )
    )

    assert [r.outcome for r in receipt.reports] == [
        StatusReportOutcome.UNKNOWN_MESSAGE,
        StatusReportOutcome.APPLIED,
    ]
    stored = await uow.messages.get(acme.tenant.id, message.id)
    assert stored is not None
    assert (stored.status, stored.provider_sid) == (MessageStatus.DELIVERED, "wamid.1")


# ------------------------------------------------------------------------------------------ templates


@dataclass
class TemplateSink:
    """The catalogue's side, as the delivery hands it updates: each with the accounts it may touch."""

    applied: list[tuple[str, frozenset[UUID]]] = field(default_factory=list)
    fails_on: str | None = None

    async def __call__(self, update: TemplateStatusUpdate, accounts: frozenset[UUID]) -> bool:
        if update.provider_template_id == self.fails_on:
            raise ValueError("no such template here")
        self.applied.append((update.provider_template_id, accounts))
        return True


def template_update(template_id: str) -> TemplateStatusUpdate:
    return TemplateStatusUpdate(
        provider=ProviderName.META,
        business_account_id="2000000000000001",
        provider_template_id=template_id,
        name="order_update",
        language="en",
        status=TemplateStatus.APPROVED,
        reason=None,
        quality=None,
        at=FixedClock().now(),
    )


async def test_template_updates_go_to_the_catalogue_with_the_accounts_the_delivery_is_proven_for(
    uow: FakeUnitOfWork, clock: FixedClock, deliveries: FakeDeliveries
) -> None:
    sink = TemplateSink(fails_on="broken")
    receive = ReceiveProviderDelivery(uow, deliveries, clock, FakeMetrics(), template_updates=sink)
    accounts = frozenset({uuid4()})

    receipt = await receive(
        deliveries.will_read(
            templates=[
                TemplatePart(
                    [template_update("1"), template_update("broken"), template_update("2")], accounts
                )
            ]
        )
    )

    assert sink.applied == [("1", accounts), ("2", accounts)]
    assert (receipt.template_updates, receipt.failed) == (2, 1)
