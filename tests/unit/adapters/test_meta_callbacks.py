"""Meta's webhooks read by its adapter, driven through the inbound use cases: what proves a delivery or a
handshake, whom each part of a delivery is for, and what failing to prove one costs."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import replace
from typing import Any, cast

import pytest

from adapters.meta.callback_authentication import MetaApps
from adapters.meta.callbacks import MetaDeliveries, MetaSubscriptionChecks
from application.errors import (
    CallbackRejected,
    CredentialsUnreadable,
    RateLimited,
    StorageUnavailable,
    SubscriptionRefused,
)
from application.inbound.commands import SubscriptionChallenge
from application.inbound.receive_delivery import ReceiveProviderDelivery
from application.inbound.record_status_report import StatusReportOutcome
from application.inbound.subscription_check import AnswerSubscriptionCheck
from application.ports.provider_callbacks import (
    ProviderCallback,
    ProviderCallbackReader,
    ProviderDeliveryReader,
)
from application.ports.rate_limits import RateLimit
from application.ports.tenancy import MetaNumber
from application.ports.unit_of_work import UnitOfWork
from domain.administration.tenancy import ProviderName, Sender
from domain.messaging.messages import Direction, Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.fakes import FakeMetrics, FakeRateLimiter, FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.meta_webhooks import (
    CUSTOMER,
    OWN_APP_SECRET,
    PLATFORM_APP_SECRET,
    delivery,
    display_number,
    entry,
    messages_change,
    on_meta,
    signed,
    status,
    text_message,
)

# The adapters implement the ports the use cases take.
_: tuple[ProviderDeliveryReader, ProviderCallbackReader[SubscriptionChallenge]] = (
    MetaDeliveries(),
    MetaSubscriptionChecks(),
)

ACME_WABA, GLOBEX_WABA = "102290129340398", "102290129340399"
ACME_NUMBER_ID, GLOBEX_NUMBER_ID = "106540352242922", "106540352242923"
ACME_VERIFY_TOKEN = "acme-verify-token"
# A number on an account (an app) configured while the gateway runs.
NEW_NUMBER_ID, NEW_APP_SECRET, NEW_VERIFY_TOKEN = "106540352242999", "an-app-added-just-now", "new-token"
WAMID = "wamid.HBgLMTQxNTU1NTAxMDAVAgASGBQzQTAwMDAwMDAwMDAwMDAwMDAwMQA="
OUTBOUND_WAMID = "wamid.HBgLMTQxNTU1NTAxMDAVAgARGBI5QTAwMDAwMDAwMDAwMDAwMDAwMQA="
URL = "https://gateway.example.com/webhooks/meta"
META_ADDRESS, FORGER_ADDRESS = "173.252.88.10", "203.0.113.9"
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
def apps(uow: FakeUnitOfWork, monotonic: Monotonic) -> MetaApps:
    return MetaApps(lambda: FakeUnitOfWork(uow.database), monotonic=monotonic)


@pytest.fixture
async def on_meta_accounts(uow: FakeUnitOfWork, acme: TenantAccount, globex: TenantAccount) -> None:
    """Acme on the platform's app; Globex on an app of its own."""
    await on_meta(
        uow,
        acme,
        phone_number_id=ACME_NUMBER_ID,
        business_account_id=ACME_WABA,
        verify_token=ACME_VERIFY_TOKEN,
    )
    await on_meta(
        uow,
        globex,
        phone_number_id=GLOBEX_NUMBER_ID,
        business_account_id=GLOBEX_WABA,
        app_secret=OWN_APP_SECRET,
    )


@pytest.fixture
def receive(
    uow: FakeUnitOfWork, clock: FixedClock, limiter: FakeRateLimiter, apps: MetaApps, on_meta_accounts: None
) -> ReceiveProviderDelivery:
    deliveries = MetaDeliveries(failure_limit=FAILURE_LIMIT, apps=apps)
    return ReceiveProviderDelivery(uow, deliveries, clock, FakeMetrics(), limiter=limiter)


@pytest.fixture
def answer(
    uow: FakeUnitOfWork, limiter: FakeRateLimiter, apps: MetaApps, on_meta_accounts: None
) -> AnswerSubscriptionCheck:
    checks = MetaSubscriptionChecks(failure_limit=FAILURE_LIMIT, apps=apps)
    return AnswerSubscriptionCheck(uow, checks, limiter=limiter)


def posted(
    body: bytes, app_secret: str = PLATFORM_APP_SECRET, *, address: str = META_ADDRESS
) -> ProviderCallback:
    headers = {name.lower(): value for name, value in signed(body, app_secret).items()}
    return ProviderCallback(
        url=URL, content_type="application/json", body=body, headers=headers, client_address=address
    )


def unsigned(body: bytes, signature: str | None = None) -> ProviderCallback:
    headers = {"x-hub-signature-256": signature} if signature is not None else {}
    return ProviderCallback(
        url=URL, content_type="application/json", body=body, headers=headers, client_address=FORGER_ADDRESS
    )


def handshake(
    verify_token: str, challenge: str = "1158201444", *, mode: str = "subscribe", address: str = META_ADDRESS
) -> ProviderCallback:
    query = f"hub.mode={mode}&hub.verify_token={verify_token}&hub.challenge={challenge}"
    return ProviderCallback(
        url=f"{URL}?{query}", content_type="", body=b"", headers={}, client_address=address
    )


def acme_writes(acme: TenantAccount, *bodies: str, wamid: str = WAMID) -> bytes:
    messages = [text_message(f"{wamid}{n}" if n else wamid, text) for n, text in enumerate(bodies)]
    return delivery(
        entry(ACME_WABA, messages_change(ACME_NUMBER_ID, display_number(acme), messages=messages))
    )


def inbound_of(uow: FakeUnitOfWork) -> list[Message]:
    return [m for m in uow.messages.all() if m.direction is Direction.INBOUND]


async def outcomes_of(calls: Sequence[Awaitable[object]]) -> Counter[str]:
    """How each call ended: the error's name, or "ok"."""
    ended: Counter[str] = Counter()
    for call in calls:
        try:
            await call
        except (CallbackRejected, RateLimited) as error:  # SubscriptionRefused is a CallbackRejected
            ended[type(error).__name__] += 1
        else:
            ended["ok"] += 1
    return ended


# ----------------------------------------------------------------------------- deliveries


async def test_a_delivery_signed_with_a_configured_apps_secret_stores_its_message_for_the_numbers_tenant(
    receive: ReceiveProviderDelivery, uow: FakeUnitOfWork, acme: TenantAccount, limiter: FakeRateLimiter
) -> None:
    receipt = await receive(posted(acme_writes(acme, "Hello, is my order on its way?")))

    (received,) = receipt.inbound
    assert not received.duplicate
    (stored,) = inbound_of(uow)
    assert stored == received.message
    assert (stored.tenant_id, stored.sender, stored.contact) == (
        acme.tenant.id,
        acme.sender.phone_number,
        PhoneNumber.parse(CUSTOMER),
    )
    assert stored.content == MessageContent(body="Hello, is my order on its way?")
    assert limiter.hits == []  # known from memory: nothing counted


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="unsigned"),
        pytest.param("sha1=" + "0" * 40, id="sha1"),
        pytest.param("sha256=not-hex", id="not hex"),
    ],
)
async def test_a_delivery_without_a_signature_of_metas_form_is_refused_without_a_lookup_or_a_warning(
    receive: ReceiveProviderDelivery,
    uow: FakeUnitOfWork,
    limiter: FakeRateLimiter,
    acme: TenantAccount,
    signature: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="adapters.meta.callbacks")
    uow.available = False  # any database work would raise StorageUnavailable

    with pytest.raises(CallbackRejected):
        await receive(unsigned(acme_writes(acme, "Hi"), signature))

    assert limiter.hits == []
    assert [record.levelno for record in caplog.records] == [logging.DEBUG]


async def test_forged_deliveries_are_counted_per_address_then_refused_without_database_work(
    receive: ReceiveProviderDelivery, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    forged = [receive(posted(acme_writes(acme, "Hi"), "guessed", address=FORGER_ADDRESS)) for _ in range(5)]

    assert await outcomes_of(forged) == {"CallbackRejected": 3, "RateLimited": 2}
    uow.available = False
    with pytest.raises(RateLimited):
        await receive(posted(acme_writes(acme, "Hi"), "guessed", address=FORGER_ADDRESS))
    uow.available = True
    # Meta's own, from another address or from that one, are not held back.
    await receive(posted(acme_writes(acme, "Hi"), address=FORGER_ADDRESS))
    assert len(inbound_of(uow)) == 1


async def a_number_on_an_app_of_its_own(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> Sender:
    """Another sender of Acme's, on another Meta account subscribed through an app of its own."""
    sender = Sender(acme.tenant.id, PhoneNumber.parse("+14155550999"), clock.now())
    await uow.senders.add(sender)
    return await on_meta(
        uow,
        replace(acme, sender=sender),
        phone_number_id=NEW_NUMBER_ID,
        business_account_id="102290129340999",
        app_secret=NEW_APP_SECRET,
        verify_token=NEW_VERIFY_TOKEN,
    )


def written_to_the_new_number(wamid: str) -> bytes:
    change = messages_change(NEW_NUMBER_ID, "14155550999", messages=[text_message(wamid, "new")])
    return delivery(entry("102290129340999", change))


async def test_an_account_added_a_moment_ago_is_proven_against_the_database_and_known_from_then_on(
    receive: ReceiveProviderDelivery,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    limiter: FakeRateLimiter,
) -> None:
    await receive(posted(acme_writes(acme, "Hi")))  # the apps are read: the platform's and Globex's
    await a_number_on_an_app_of_its_own(uow, clock, acme)

    receipt = await receive(posted(written_to_the_new_number(WAMID + "n1"), NEW_APP_SECRET))

    assert [(r.message.tenant_id, r.message.content.body) for r in receipt.inbound] == [
        (acme.tenant.id, "new")
    ]
    assert uow.provider_accounts.meta_app_loads == 2  # the first read, then the check against the database
    await receive(posted(written_to_the_new_number(WAMID + "n2"), NEW_APP_SECRET))
    assert uow.provider_accounts.meta_app_loads == 3  # read again once: known from now on
    await receive(posted(written_to_the_new_number(WAMID + "n3"), NEW_APP_SECRET))
    assert uow.provider_accounts.meta_app_loads == 3
    assert limiter.hits == []  # the check that was counted succeeded: given back


async def test_the_apps_are_read_once_for_every_webhook_of_a_few_seconds(
    receive: ReceiveProviderDelivery, uow: FakeUnitOfWork, acme: TenantAccount, monotonic: Monotonic
) -> None:
    for n in range(5):
        await receive(posted(acme_writes(acme, "Hi", wamid=f"{WAMID}{n}")))
    monotonic.now += 10
    await receive(posted(acme_writes(acme, "Hi", wamid=f"{WAMID}5")))

    assert uow.provider_accounts.meta_app_loads == 2


async def test_a_check_the_database_could_not_answer_is_not_counted_as_a_failure(
    receive: ReceiveProviderDelivery, uow: FakeUnitOfWork, limiter: FakeRateLimiter, acme: TenantAccount
) -> None:
    uow.available = False

    for _ in range(5):
        with pytest.raises(StorageUnavailable):
            await receive(posted(acme_writes(acme, "Hi"), "guessed", address=FORGER_ADDRESS))

    assert limiter.hits == []


async def test_each_number_of_a_batch_goes_to_its_tenant_if_the_app_that_signed_is_its_accounts(
    receive: ReceiveProviderDelivery,
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    globex: TenantAccount,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Signed with the platform's app: Acme's number is on it, Globex's is on an app of its own.
    body = delivery(
        entry(
            ACME_WABA,
            messages_change(ACME_NUMBER_ID, display_number(acme), messages=[text_message(WAMID + "a", "1")]),
            messages_change(ACME_NUMBER_ID, display_number(acme), messages=[text_message(WAMID + "b", "2")]),
        ),
        entry(
            GLOBEX_WABA,
            messages_change(
                GLOBEX_NUMBER_ID, display_number(globex), messages=[text_message(WAMID + "g", "injected")]
            ),
        ),
        entry(ACME_WABA, messages_change("999", "15550000000", messages=[text_message(WAMID + "u", "?")])),
    )

    receipt = await receive(posted(body))

    assert [(m.tenant_id, m.content.body) for m in inbound_of(uow)] == [
        (acme.tenant.id, "1"),
        (acme.tenant.id, "2"),
    ]
    assert (receipt.unrouted, receipt.failed) == (2, 0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(GLOBEX_NUMBER_ID in w and "another app" in w for w in warnings)
    assert any("phone number id 999" in w and "no sender" in w for w in warnings)


async def test_a_message_is_kept_under_the_senders_number_as_the_tenant_has_it(
    receive: ReceiveProviderDelivery, uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    # Meta shows the number formatted; the tenant's sender is the same number.
    change = messages_change(ACME_NUMBER_ID, "+1 415-523-8886", messages=[text_message(WAMID, "Hi")])

    await receive(posted(delivery(entry(ACME_WABA, change))))

    (stored,) = inbound_of(uow)
    assert stored.sender == acme.sender.phone_number


async def test_a_number_whose_accounts_secrets_do_not_open_is_skipped_and_the_rest_goes_on(
    receive: ReceiveProviderDelivery,
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = uow.provider_accounts.meta_number

    async def unreadable_for_acme(provider_number_id: str) -> MetaNumber | None:
        if provider_number_id == ACME_NUMBER_ID:
            raise CredentialsUnreadable()
        return await real(provider_number_id)

    await receive(posted(acme_writes(acme, "warm-up", wamid=WAMID + "w")))  # the apps are read first
    monkeypatch.setattr(uow.provider_accounts, "meta_number", unreadable_for_acme)

    receipt = await receive(posted(acme_writes(acme, "Hi")))

    assert receipt.unrouted == 1
    assert [m.content.body for m in inbound_of(uow)] == ["warm-up"]
    assert any(r.levelno == logging.ERROR and ACME_NUMBER_ID in r.getMessage() for r in caplog.records)


async def test_statuses_are_tied_to_our_message_by_its_id_and_move_it_forward_only(
    receive: ReceiveProviderDelivery, uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock
) -> None:
    message = Message.new_outbound(
        tenant_id=acme.tenant.id,
        sender=acme.sender.phone_number,
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(body="Your order has shipped"),
        now=clock.now(),
    )
    await uow.messages.add(message)

    def reports(*statuses: str) -> ProviderCallback:
        items = [status(OUTBOUND_WAMID, s, message_id=message.id) for s in statuses]
        change = messages_change(ACME_NUMBER_ID, display_number(acme), statuses=items)
        return posted(delivery(entry(ACME_WABA, change)))

    first = await receive(reports("delivered", "sent", "teleported"))
    second = await receive(reports("read", "delivered"))

    assert [r.outcome for r in first.reports] == [
        StatusReportOutcome.APPLIED,
        StatusReportOutcome.NOT_APPLIED,
        StatusReportOutcome.IGNORED_STATUS,
    ]
    assert [r.outcome for r in second.reports] == [
        StatusReportOutcome.APPLIED,
        StatusReportOutcome.NOT_APPLIED,
    ]
    stored = await uow.messages.get(acme.tenant.id, message.id)
    assert stored is not None
    assert (stored.status, stored.provider_sid) == (MessageStatus.READ, OUTBOUND_WAMID)
    events = await uow.messages.list_status_events(acme.tenant.id, message.id)
    assert [(e.status, e.applied) for e in events] == [
        (MessageStatus.DELIVERED, True),
        (MessageStatus.SENT, False),
        (MessageStatus.READ, True),
    ]


async def test_a_delivery_is_read_only_after_it_was_authenticated(acme: TenantAccount) -> None:
    screened = await MetaDeliveries().screen(posted(acme_writes(acme, "Hi")))

    with pytest.raises(RuntimeError):
        screened.parts()


# ----------------------------------------------------------------------------- the handshake


async def test_the_handshake_echoes_the_challenge_for_a_configured_verify_token(
    answer: AnswerSubscriptionCheck, limiter: FakeRateLimiter
) -> None:
    assert await answer(handshake(ACME_VERIFY_TOKEN, "1158201444")) == "1158201444"
    assert await answer(handshake("a-verify-token", "42")) == "42"  # Globex's
    assert limiter.hits == []


@pytest.mark.parametrize(
    "check",
    [
        pytest.param(handshake(ACME_VERIFY_TOKEN, mode="unsubscribe"), id="not subscribe"),
        pytest.param(handshake(ACME_VERIFY_TOKEN, challenge=""), id="no challenge"),
        pytest.param(handshake("", "1"), id="no verify token"),
        pytest.param(handshake(ACME_VERIFY_TOKEN, challenge="9" * 300), id="a challenge too long"),
        pytest.param(handshake(ACME_VERIFY_TOKEN, challenge="%3Cscript%3E%0A"), id="a challenge unprintable"),
    ],
)
async def test_a_handshake_not_of_metas_form_is_refused_without_a_lookup(
    answer: AnswerSubscriptionCheck, uow: FakeUnitOfWork, limiter: FakeRateLimiter, check: ProviderCallback
) -> None:
    uow.available = False

    with pytest.raises(SubscriptionRefused):
        await answer(check)

    assert limiter.hits == []


async def test_verify_token_guesses_are_counted_per_address_and_the_right_one_still_answers(
    answer: AnswerSubscriptionCheck, uow: FakeUnitOfWork
) -> None:
    guesses = [answer(handshake(f"guess-{n}", address=FORGER_ADDRESS)) for n in range(5)]

    assert await outcomes_of(guesses) == {"SubscriptionRefused": 3, "RateLimited": 2}
    assert await answer(handshake(ACME_VERIFY_TOKEN, "7", address=FORGER_ADDRESS)) == "7"


async def test_a_verify_token_set_a_moment_ago_is_checked_against_the_database(
    answer: AnswerSubscriptionCheck,
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    limiter: FakeRateLimiter,
) -> None:
    assert await answer(handshake(ACME_VERIFY_TOKEN, "1")) == "1"  # the apps are read
    await a_number_on_an_app_of_its_own(uow, clock, acme)

    assert await answer(handshake(NEW_VERIFY_TOKEN, "2")) == "2"
    assert uow.provider_accounts.meta_app_loads == 2
    assert limiter.hits == []


# ------------------------------------------------------------------------------------------ templates


def template_status_change(template_id: str, event: str = "APPROVED") -> dict[str, object]:
    return {
        "field": "message_template_status_update",
        "value": {
            "event": event,
            "message_template_id": template_id,
            "message_template_name": "order_update",
            "message_template_language": "en_US",
            "reason": "NONE",
        },
    }


async def test_template_updates_may_change_only_templates_of_the_business_account_whose_app_signed(
    uow: FakeUnitOfWork, apps: MetaApps, on_meta_accounts: None, acme: TenantAccount, globex: TenantAccount
) -> None:
    deliveries = MetaDeliveries(apps=apps)
    # Globex's own app signs an update under Acme's business account, and one under its own.
    body = delivery(
        entry(ACME_WABA, template_status_change("1001")),
        entry(GLOBEX_WABA, template_status_change("1002", "REJECTED")),
    )
    screened = await deliveries.screen(posted(body, OWN_APP_SECRET))
    async with uow:
        await screened.authenticate(uow)

    parts = {part.business_account_id: part for part in screened.template_parts()}

    globex_meta = await uow.provider_accounts.first_of(globex.tenant.id, ProviderName.META)
    assert globex_meta is not None
    assert [update.provider_template_id for update in parts[GLOBEX_WABA].updates] == ["1002"]
    assert await parts[GLOBEX_WABA].proven_accounts(uow) == {globex_meta.id}
    assert await parts[ACME_WABA].proven_accounts(uow) == frozenset()


# ---------------------------------------------------------------------- whom MetaApps routes alone


class SignersVersion:
    """The access cache's signers version: ``now`` None while it is not listening."""

    def __init__(self) -> None:
        self.now: int | None = 0

    def __call__(self) -> int | None:
        return self.now


class WatchedUnitOfWork:
    """A unit of work that notes, in order, each transaction begun ("begin") and each repository asked
    for: what receiving a delivery read from the database, and when."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow
        self.events: list[str] = []

    def __getattr__(self, name: str) -> object:
        self.events.append(name)
        return getattr(self._uow, name)

    async def __aenter__(self) -> WatchedUnitOfWork:
        self.events.append("begin")
        await self._uow.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._uow.__aexit__(*exc_info)

    def before_recording(self) -> list[str]:
        return self.events[: self.events.index("messages")] if "messages" in self.events else self.events


@pytest.fixture
def signers_version() -> SignersVersion:
    return SignersVersion()


@pytest.fixture
def watched(uow: FakeUnitOfWork) -> WatchedUnitOfWork:
    return WatchedUnitOfWork(uow)


def receiving(watched: WatchedUnitOfWork, clock: FixedClock, apps: MetaApps) -> ReceiveProviderDelivery:
    deliveries = MetaDeliveries(failure_limit=FAILURE_LIMIT, apps=apps)
    return ReceiveProviderDelivery(cast(UnitOfWork, watched), deliveries, clock, FakeMetrics())


@pytest.fixture
def versioned_apps(uow: FakeUnitOfWork, monotonic: Monotonic, signers_version: SignersVersion) -> MetaApps:
    return MetaApps(lambda: FakeUnitOfWork(uow.database), version=signers_version, monotonic=monotonic)


async def sent_by_acme(uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock) -> Message:
    message = Message.new_outbound(
        tenant_id=acme.tenant.id,
        sender=acme.sender.phone_number,
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(body="Your order has shipped"),
        now=clock.now(),
    )
    await uow.messages.add(message)
    return message


def delivered(message: Message, number_id: str, account: TenantAccount, waba: str) -> bytes:
    change = messages_change(
        number_id,
        display_number(account),
        statuses=[status(OUTBOUND_WAMID, "delivered", message_id=message.id)],
    )
    return delivery(entry(waba, change))


async def test_a_status_the_current_apps_proved_is_recorded_without_a_query_before(
    uow: FakeUnitOfWork,
    watched: WatchedUnitOfWork,
    clock: FixedClock,
    versioned_apps: MetaApps,
    acme: TenantAccount,
    on_meta_accounts: None,
) -> None:
    message = await sent_by_acme(uow, acme, clock)

    receipt = await receiving(watched, clock, versioned_apps)(
        posted(delivered(message, ACME_NUMBER_ID, acme, ACME_WABA))
    )

    assert [r.outcome for r in receipt.reports] == [StatusReportOutcome.APPLIED]
    assert watched.before_recording() == ["begin"]  # the recording's own transaction, nothing read
    assert "provider_accounts" not in watched.events
    assert uow.provider_accounts.meta_number_lookups == 0
    assert (uow.provider_accounts.meta_app_loads, uow.provider_accounts.meta_number_loads) == (1, 1)


class VersionMovedDuringTheRead(FakeUnitOfWork):
    """A sender or account changed while MetaApps read: what it read cannot vouch for itself."""

    version: SignersVersion

    async def __aexit__(self, *exc_info: Any) -> None:
        assert self.version.now is not None
        self.version.now += 1
        await super().__aexit__(*exc_info)


@pytest.mark.parametrize("why", ["not listening", "moved during the read"])
async def test_apps_that_cannot_vouch_for_themselves_leave_the_routing_to_the_database(
    uow: FakeUnitOfWork,
    watched: WatchedUnitOfWork,
    clock: FixedClock,
    monotonic: Monotonic,
    signers_version: SignersVersion,
    acme: TenantAccount,
    on_meta_accounts: None,
    why: str,
) -> None:
    message = await sent_by_acme(uow, acme, clock)
    if why == "not listening":
        signers_version.now = None
        apps = MetaApps(lambda: FakeUnitOfWork(uow.database), version=signers_version, monotonic=monotonic)
    else:

        def changed_meanwhile() -> FakeUnitOfWork:
            changing = VersionMovedDuringTheRead(uow.database)
            changing.version = signers_version
            return changing

        apps = MetaApps(changed_meanwhile, version=signers_version, monotonic=monotonic)

    receipt = await receiving(watched, clock, apps)(
        posted(delivered(message, ACME_NUMBER_ID, acme, ACME_WABA))
    )

    assert [r.outcome for r in receipt.reports] == [StatusReportOutcome.APPLIED]
    assert "provider_accounts" in watched.before_recording()
    assert uow.provider_accounts.meta_number_lookups == 1


@pytest.mark.parametrize(
    ("number_id", "waba", "why"),
    [
        pytest.param(GLOBEX_NUMBER_ID, GLOBEX_WABA, "another app", id="a number of another app's account"),
        pytest.param(ACME_NUMBER_ID, GLOBEX_WABA, "came under", id="a number under another business account"),
    ],
)
async def test_current_apps_still_route_no_number_whose_account_did_not_sign(
    uow: FakeUnitOfWork,
    watched: WatchedUnitOfWork,
    clock: FixedClock,
    versioned_apps: MetaApps,
    acme: TenantAccount,
    globex: TenantAccount,
    on_meta_accounts: None,
    caplog: pytest.LogCaptureFixture,
    number_id: str,
    waba: str,
    why: str,
) -> None:
    # Signed with the platform's app, which is Acme's and not Globex's.
    message = await sent_by_acme(uow, acme, clock)
    account = globex if number_id == GLOBEX_NUMBER_ID else acme

    receipt = await receiving(watched, clock, versioned_apps)(
        posted(delivered(message, number_id, account, waba))
    )

    assert (receipt.reports, receipt.unrouted) == ([], 1)
    assert watched.events == []  # refused from memory: no transaction at all
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(number_id in w and why in w for w in warnings)


async def test_a_number_the_current_apps_do_not_know_is_looked_up(
    uow: FakeUnitOfWork,
    watched: WatchedUnitOfWork,
    clock: FixedClock,
    versioned_apps: MetaApps,
    acme: TenantAccount,
    on_meta_accounts: None,
) -> None:
    message = await sent_by_acme(uow, acme, clock)

    receipt = await receiving(watched, clock, versioned_apps)(
        posted(delivered(message, "999", acme, ACME_WABA))
    )

    assert receipt.unrouted == 1
    assert uow.provider_accounts.meta_number_lookups == 1


async def test_once_the_version_moved_the_apps_are_read_again_and_a_removed_sender_is_not_routed(
    uow: FakeUnitOfWork,
    watched: WatchedUnitOfWork,
    clock: FixedClock,
    versioned_apps: MetaApps,
    signers_version: SignersVersion,
    acme: TenantAccount,
    on_meta_accounts: None,
) -> None:
    message = await sent_by_acme(uow, acme, clock)
    receive = receiving(watched, clock, versioned_apps)
    await receive(posted(delivered(message, ACME_NUMBER_ID, acme, ACME_WABA)))

    assert await uow.senders.remove(acme.tenant.id, acme.sender.id)
    signers_version.now = 1  # what the notification of the removal does
    receipt = await receive(posted(delivered(message, ACME_NUMBER_ID, acme, ACME_WABA)))

    assert (receipt.reports, receipt.unrouted) == ([], 1)
    assert uow.provider_accounts.meta_number_loads == 2
