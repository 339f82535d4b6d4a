"""Delivering webhooks: events recorded with the change that caused them, signed, retried, settled."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import standardwebhooks

from adapters.twilio.callbacks import TwilioInboundMessages
from application.errors import StorageUnavailable
from application.inbound.delivery_status import RecordStatusChange
from application.inbound.receive_message import ReceiveInboundMessage
from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.messaging.dispatcher import Dispatcher, DispatcherSettings
from application.ports.dispatch_queue import DispatchJob
from application.ports.messages import StatusChange
from application.ports.providers import OutcomeKind, SendOutcome
from application.ports.tenant_webhooks import WebhookResponse
from application.principal import Principal
from application.tenant_webhooks.delivery import (
    DeliverWebhook,
    PurgeWebhookDeliveries,
    WebhookDeliverySettings,
)
from application.tenant_webhooks.endpoints import (
    EndpointWithSecret,
    RegisterWebhookCommand,
    RegisterWebhookEndpoint,
    RotateWebhookSecret,
)
from application.tenant_webhooks.settlements import WebhookSettlements
from application.tenant_webhooks.worker import WebhookWorker, WebhookWorkerSettings
from domain.administration.tenancy import Role, TwilioCredentials
from domain.messaging.messages import Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from domain.retry_policy import RetryPolicy
from domain.tenant_webhooks.model import DeliveryState, WebhookDelivery, WebhookEventType
from tests.support.fakes import (
    FakeMessagingProvider,
    FakeMetrics,
    FakeUnitOfWork,
    FakeWebhookSender,
    FakeWebhookUrlGuard,
    FixedClock,
    TenantAccount,
)
from tests.support.provider_accounts import set_twilio_credentials
from tests.support.twilio_callbacks import (
    ACME_ACCOUNT,
    ACME_TOKEN,
    INBOUND_URL,
    inbound_params,
    signed_callback,
)

URL = "https://crm.example.com/hooks/whatsapp"
ALL_EVENTS = ("message.received", "message.status", "message.failed")
SID = "SM" + "3" * 32
POLICY = RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=10), max_delay=timedelta(minutes=5))


@pytest.fixture
def clock() -> FixedClock:
    # Near the real time: the standardwebhooks library refuses timestamps more than 5 minutes off.
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def sender() -> FakeWebhookSender:
    return FakeWebhookSender()


@pytest.fixture
def metrics() -> FakeMetrics:
    return FakeMetrics()


@pytest.fixture
def worker(
    uow: FakeUnitOfWork, sender: FakeWebhookSender, clock: FixedClock, metrics: FakeMetrics
) -> WebhookWorker:
    database = uow.database
    deliver = DeliverWebhook(
        lambda: FakeUnitOfWork(database),
        sender,
        clock,
        WebhookDeliverySettings(retry=POLICY),
        metrics=metrics,
    )
    return WebhookWorker(
        lambda: FakeUnitOfWork(database), deliver, clock, WebhookWorkerSettings(), owner="w1"
    )


async def register(
    uow: FakeUnitOfWork, clock: FixedClock, account: TenantAccount, events: tuple[str, ...] = ALL_EVENTS
) -> EndpointWithSecret:
    principal = Principal(user_id=account.user.id, tenant_id=account.tenant.id, role=Role.TENANT_ADMIN)
    return await RegisterWebhookEndpoint(uow, FakeWebhookUrlGuard(), clock)(
        RegisterWebhookCommand(principal=principal, url=URL, events=events)
    )


async def queued_message(uow: FakeUnitOfWork, clock: FixedClock, account: TenantAccount) -> Message:
    message = Message.new_outbound(
        tenant_id=account.tenant.id,
        sender=account.sender.phone_number,
        contact=PhoneNumber.parse("+447911123456"),
        content=MessageContent(body="Your order shipped"),
        now=clock.now(),
    ).handed_to_provider(SID, MessageStatus.QUEUED, clock.now())
    await uow.messages.add(message)
    return message


async def status_event(uow: FakeUnitOfWork, clock: FixedClock, status: MessageStatus) -> None:
    await RecordStatusChange(uow, clock, metrics=FakeMetrics())(StatusChange(provider_sid=SID, status=status))


def body_of(delivery: WebhookDelivery) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(delivery.payload)
    return payload


def only(uow: FakeUnitOfWork) -> WebhookDelivery:
    [delivery] = uow.webhook_deliveries.all()
    return delivery


# ---------------------------------------------------------------------------------------------- outbox


async def test_an_inbound_message_becomes_a_message_received_event(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await set_twilio_credentials(uow, acme.tenant.id, TwilioCredentials(ACME_ACCOUNT, ACME_TOKEN))
    endpoint = (await register(uow, clock, acme)).endpoint
    params = inbound_params(body="Where is my order?")
    receive = ReceiveInboundMessage(uow, TwilioInboundMessages(), clock)

    receipt = await receive(signed_callback(INBOUND_URL, params, token=ACME_TOKEN))
    await receive(signed_callback(INBOUND_URL, params, token=ACME_TOKEN))

    delivery = only(uow)  # Twilio's repeat stored nothing, and recorded no second event
    assert (delivery.endpoint_id, delivery.event_type) == (endpoint.id, WebhookEventType.MESSAGE_RECEIVED)
    assert (delivery.state, delivery.next_attempt_at) == (DeliveryState.PENDING, clock.now())
    body = body_of(delivery)
    assert body["type"] == "message.received"
    assert body["timestamp"] == clock.now().isoformat(timespec="microseconds").replace("+00:00", "Z")
    assert body["data"]["id"] == str(receipt.message.id)
    assert body["data"]["direction"] == "inbound"
    assert body["data"]["body"] == "Where is my order?"
    assert body["data"]["from_number"] == "+14155550100"
    assert body["data"]["profile_name"] == "Ana"


async def test_a_status_change_becomes_a_message_status_event(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await register(uow, clock, acme)
    message = await queued_message(uow, clock, acme)

    await status_event(uow, clock, MessageStatus.DELIVERED)
    await status_event(uow, clock, MessageStatus.SENT)  # late: applies nothing, tells nobody

    delivery = only(uow)
    assert delivery.event_type is WebhookEventType.MESSAGE_STATUS
    assert body_of(delivery)["data"]["status"] == "delivered"
    assert body_of(delivery)["data"]["id"] == str(message.id)


async def test_a_failure_is_both_a_status_and_a_failed_event(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await register(uow, clock, acme)
    await queued_message(uow, clock, acme)

    await RecordStatusChange(uow, clock, metrics=FakeMetrics())(
        StatusChange(provider_sid=SID, status=MessageStatus.UNDELIVERED, error_code=63024)
    )

    deliveries = uow.webhook_deliveries.all()
    assert sorted(d.event_type for d in deliveries) == [
        WebhookEventType.MESSAGE_FAILED,
        WebhookEventType.MESSAGE_STATUS,
    ]
    assert {d.id for d in deliveries}.__len__() == 2  # one webhook-id per event
    for delivery in deliveries:
        assert body_of(delivery)["data"]["error_code"] == 63024


async def test_an_endpoint_receives_only_the_events_it_subscribed_to(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    failures_only = (await register(uow, clock, acme, events=("message.failed",))).endpoint
    await register(uow, clock, globex)  # another tenant's endpoint hears nothing of acme's messages
    await queued_message(uow, clock, acme)

    await status_event(uow, clock, MessageStatus.DELIVERED)
    assert uow.webhook_deliveries.all() == []

    await status_event(uow, clock, MessageStatus.FAILED)
    delivery = only(uow)
    assert (delivery.endpoint_id, delivery.event_type) == (failures_only.id, WebhookEventType.MESSAGE_FAILED)


async def test_a_disabled_endpoint_gets_no_new_events(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    endpoint = (await register(uow, clock, acme)).endpoint
    await uow.webhook_endpoints.update(endpoint.changed(now=clock.now(), enabled=False))
    await queued_message(uow, clock, acme)

    await status_event(uow, clock, MessageStatus.DELIVERED)

    assert uow.webhook_deliveries.all() == []


async def test_settling_a_dispatch_records_its_status_in_the_same_transaction(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await register(uow, clock, acme)
    provider = FakeMessagingProvider(SendOutcome(kind=OutcomeKind.REJECTED, error_code=21211, reason="bad"))
    database = uow.database
    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(database), provider, clock, DispatchSettings(), metrics=FakeMetrics()
    )
    dispatcher = Dispatcher(
        lambda: FakeUnitOfWork(database), dispatch, clock, DispatcherSettings(), owner="d"
    )
    message = Message.new_outbound(
        tenant_id=acme.tenant.id,
        sender=acme.sender.phone_number,
        contact=PhoneNumber.parse("+447911123456"),
        content=MessageContent(body="hi"),
        now=clock.now(),
    )
    await uow.messages.add(message)
    await uow.jobs.enqueue(
        DispatchJob(
            message_id=message.id,
            tenant_id=acme.tenant.id,
            sender=message.sender,
            available_at=clock.now(),
            created_at=clock.now(),
        )
    )

    job = await dispatcher.claim(message.id)
    assert job is not None
    await dispatch(job, dispatcher.owner)

    events = {d.event_type: body_of(d)["data"] for d in uow.webhook_deliveries.all()}
    assert set(events) == {WebhookEventType.MESSAGE_STATUS, WebhookEventType.MESSAGE_FAILED}
    assert events[WebhookEventType.MESSAGE_FAILED]["status"] == "failed"
    assert events[WebhookEventType.MESSAGE_FAILED]["error_code"] == 21211


# -------------------------------------------------------------------------------------------- delivery


async def test_a_delivery_is_signed_the_standard_webhooks_way(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    worker: WebhookWorker,
    acme: TenantAccount,
) -> None:
    created = await register(uow, clock, acme)
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.DELIVERED)

    [settled] = await worker.deliver_due()

    [request] = sender.requests
    assert request.url == URL
    assert request.headers["webhook-id"] == settled.id
    assert request.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    assert request.headers["content-type"] == "application/json"
    payload = standardwebhooks.Webhook(created.secret).verify(request.body, dict(request.headers))
    assert payload["data"]["status"] == "delivered"
    assert (settled.state, settled.attempts, settled.last_status_code) == (DeliveryState.DELIVERED, 1, 200)
    assert settled.finished_at == clock.now()
    assert only(uow) == settled
    [attempt] = uow.webhook_deliveries.attempts_of(settled.id)
    assert (attempt.status_code, attempt.response_excerpt) == (200, "ok")


async def test_a_500_is_retried_later_with_the_same_id(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    worker: WebhookWorker,
    acme: TenantAccount,
) -> None:
    created = await register(uow, clock, acme)
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.DELIVERED)
    sender.will_answer(WebhookResponse(duration_ms=5, status_code=500, body_excerpt="boom"))
    started = clock.now()

    [first] = await worker.deliver_due()

    assert (first.state, first.attempts, first.last_status_code) == (DeliveryState.PENDING, 1, 500)
    assert first.last_error == "the endpoint answered 500"
    assert started <= first.next_attempt_at <= started + POLICY.base_delay
    assert await worker.deliver_due() == []  # not due yet

    clock.set(first.next_attempt_at)
    [second] = await worker.deliver_due()

    assert (second.state, second.attempts) == (DeliveryState.DELIVERED, 2)
    ids = [request.headers["webhook-id"] for request in sender.requests]
    assert ids == [first.id, first.id]
    for request in sender.requests:  # each attempt is signed afresh, and verifies
        standardwebhooks.Webhook(created.secret).verify(request.body, dict(request.headers))
    attempts = uow.webhook_deliveries.attempts_of(first.id)
    assert [(a.status_code, a.response_excerpt) for a in attempts] == [(500, "boom"), (200, "ok")]


async def test_a_timeout_is_retried(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    worker: WebhookWorker,
    acme: TenantAccount,
) -> None:
    await register(uow, clock, acme)
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.DELIVERED)
    sender.will_answer(WebhookResponse(duration_ms=15000, error="timed out after 15 s"))

    [settled] = await worker.deliver_due()

    assert (settled.state, settled.last_status_code, settled.last_error) == (
        DeliveryState.PENDING,
        None,
        "timed out after 15 s",
    )
    [attempt] = uow.webhook_deliveries.attempts_of(settled.id)
    assert (attempt.error, attempt.duration_ms) == ("timed out after 15 s", 15000)


async def test_retry_after_is_honoured_up_to_a_day(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    worker: WebhookWorker,
    acme: TenantAccount,
) -> None:
    await register(uow, clock, acme)
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.DELIVERED)
    sender.will_answer(
        WebhookResponse(duration_ms=1, status_code=429, retry_after_seconds=3600),
        WebhookResponse(duration_ms=1, status_code=503, retry_after_seconds=30 * 24 * 3600),
    )

    [first] = await worker.deliver_due()
    assert first.next_attempt_at == clock.now() + timedelta(hours=1)

    clock.set(first.next_attempt_at)
    [second] = await worker.deliver_due()
    assert second.next_attempt_at == clock.now() + timedelta(hours=24)


async def test_a_410_disables_the_endpoint_and_kills_the_delivery(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    worker: WebhookWorker,
    acme: TenantAccount,
) -> None:
    endpoint = (await register(uow, clock, acme)).endpoint
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.SENT)
    sender.will_answer(WebhookResponse(duration_ms=1, status_code=410, body_excerpt="gone"))

    [settled] = await worker.deliver_due()

    assert (settled.state, settled.last_status_code) == (DeliveryState.DEAD, 410)
    assert settled.last_error is not None
    assert "410" in settled.last_error
    stored = await uow.webhook_endpoints.get(acme.tenant.id, endpoint.id)
    assert stored is not None
    assert not stored.enabled
    assert stored.disabled_reason is not None
    assert "410" in stored.disabled_reason

    await status_event(uow, clock, MessageStatus.DELIVERED)
    assert uow.webhook_deliveries.all() == [settled]  # a disabled endpoint gets no new events


async def test_pending_deliveries_of_a_disabled_endpoint_die_unsent_and_uncounted(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    worker: WebhookWorker,
    metrics: FakeMetrics,
    acme: TenantAccount,
) -> None:
    endpoint = (await register(uow, clock, acme)).endpoint
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.SENT)
    await uow.webhook_endpoints.update(endpoint.changed(now=clock.now(), enabled=False))

    [settled] = await worker.deliver_due()

    assert sender.requests == []
    assert (settled.state, settled.attempts) == (DeliveryState.DEAD, 0)
    assert settled.last_error == "not sent: the endpoint is disabled"
    assert uow.webhook_deliveries.attempts_of(settled.id) == []
    assert metrics.named("webhook_delivery") == []  # no attempt, nothing counted


async def test_a_delivery_is_dead_when_its_attempts_run_out(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    worker: WebhookWorker,
    acme: TenantAccount,
) -> None:
    await register(uow, clock, acme)
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.DELIVERED)
    sender.default = WebhookResponse(duration_ms=1, status_code=502)

    states = []
    for _ in range(POLICY.max_attempts):
        [settled] = await worker.deliver_due()
        states.append(settled.state)
        clock.set(settled.next_attempt_at)

    assert states == [DeliveryState.PENDING, DeliveryState.PENDING, DeliveryState.DEAD]
    assert settled.last_error == "attempts exhausted (3): the endpoint answered 502"
    assert settled.finished_at == clock.now()
    clock.advance(timedelta(days=2))
    assert await worker.deliver_due() == []
    assert len(sender.requests) == 3


async def test_each_attempt_is_counted_once_with_its_outcome_and_tenant(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    worker: WebhookWorker,
    metrics: FakeMetrics,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    for account in (acme, globex):
        await register(uow, clock, account)
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.DELIVERED)
    sender.default = WebhookResponse(duration_ms=1, status_code=502)

    for _ in range(POLICY.max_attempts):
        [settled] = await worker.deliver_due()
        clock.set(settled.next_attempt_at)
    assert metrics.named("webhook_delivery") == [
        ("retrying", acme.tenant.id),
        ("retrying", acme.tenant.id),
        ("dead", acme.tenant.id),
    ]

    metrics.events.clear()
    for event in (WebhookEventType.MESSAGE_STATUS, WebhookEventType.MESSAGE_FAILED):
        await uow.webhook_events.record(globex.tenant.id, event, "{}", clock.now())
    sender.will_answer(
        WebhookResponse(duration_ms=1, status_code=204),
        WebhookResponse(duration_ms=1, status_code=410),
    )
    assert len(await worker.deliver_due()) == 2
    assert sorted(metrics.named("webhook_delivery")) == [
        ("dead", globex.tenant.id),
        ("delivered", globex.tenant.id),
    ]


async def test_backoff_grows_with_full_jitter(
    uow: FakeUnitOfWork, clock: FixedClock, sender: FakeWebhookSender, acme: TenantAccount
) -> None:
    policy = RetryPolicy(max_attempts=20, base_delay=timedelta(seconds=30), max_delay=timedelta(hours=8))
    deliver = DeliverWebhook(
        lambda: uow, sender, clock, WebhookDeliverySettings(retry=policy), metrics=FakeMetrics()
    )
    await register(uow, clock, acme)
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.DELIVERED)
    sender.default = WebhookResponse(duration_ms=1, status_code=500)
    random.seed(7)

    delays = []
    for attempt in range(1, 12):
        [delivery] = await uow.webhook_deliveries.claim_due(
            owner="w", now=clock.now(), lease_seconds=60, limit=1
        )
        settled = await deliver(delivery, "w")
        delay = settled.next_attempt_at - clock.now()
        assert timedelta(0) <= delay <= min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
        delays.append(delay)
        clock.set(settled.next_attempt_at)
    assert len(set(delays)) == len(delays)  # jittered
    assert max(delays) > timedelta(hours=1)


async def test_during_a_rotation_deliveries_carry_both_signatures(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    worker: WebhookWorker,
    acme: TenantAccount,
) -> None:
    created = await register(uow, clock, acme)
    principal = Principal(user_id=acme.user.id, tenant_id=acme.tenant.id, role=Role.TENANT_ADMIN)
    rotated = await RotateWebhookSecret(uow, clock)(principal, created.endpoint.id, timedelta(minutes=1))
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.DELIVERED)

    await worker.deliver_due()

    [request] = sender.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (created.secret, rotated.secret):
        standardwebhooks.Webhook(secret).verify(request.body, dict(request.headers))


async def test_the_worker_claims_its_batch_with_the_endpoints_so_its_attempts_read_nothing_of_their_own(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    worker: WebhookWorker,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    created = {account.tenant.id: await register(uow, clock, account) for account in (acme, globex)}
    for account in (acme, acme, globex):
        await uow.webhook_events.record(account.tenant.id, WebhookEventType.MESSAGE_STATUS, "{}", clock.now())

    settled = await worker.deliver_due()

    assert uow.webhook_endpoints.for_delivery_calls == 0
    assert [d.state for d in settled] == [DeliveryState.DELIVERED] * 3
    assert len(sender.requests) == 3
    for delivery in settled:
        [request] = [r for r in sender.requests if r.headers["webhook-id"] == delivery.id]
        secret = created[delivery.tenant_id].secret
        standardwebhooks.Webhook(secret).verify(request.body, dict(request.headers))


async def test_an_attempt_whose_claim_found_no_endpoint_sends_nothing_and_reads_nothing(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    metrics: FakeMetrics,
    acme: TenantAccount,
) -> None:
    await register(uow, clock, acme)
    await uow.webhook_events.record(acme.tenant.id, WebhookEventType.MESSAGE_STATUS, "{}", clock.now())
    [delivery] = await uow.webhook_deliveries.claim_due(owner="w", now=clock.now(), lease_seconds=60, limit=1)
    deliver = DeliverWebhook(lambda: uow, sender, clock, WebhookDeliverySettings(), metrics=metrics)

    unchanged = await deliver(delivery, "w", endpoint=None)  # deleted since: so are its deliveries

    assert unchanged == delivery
    assert sender.requests == []
    assert uow.webhook_endpoints.for_delivery_calls == 0
    assert metrics.named("webhook_delivery") == []


async def test_a_worker_that_lost_its_lease_stores_nothing(
    uow: FakeUnitOfWork, clock: FixedClock, sender: FakeWebhookSender, acme: TenantAccount
) -> None:
    await register(uow, clock, acme)
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.DELIVERED)
    metrics = FakeMetrics()
    deliver = DeliverWebhook(
        lambda: uow, sender, clock, WebhookDeliverySettings(retry=POLICY), metrics=metrics
    )
    [mine] = await uow.webhook_deliveries.claim_due(owner="slow", now=clock.now(), lease_seconds=60, limit=1)
    clock.advance(timedelta(seconds=61))
    [theirs] = await uow.webhook_deliveries.claim_due(
        owner="fast", now=clock.now(), lease_seconds=60, limit=1
    )
    assert theirs.id == mine.id

    await deliver(mine, "slow")

    assert uow.webhook_deliveries.attempts_of(mine.id) == []
    assert only(uow).state is DeliveryState.PENDING
    assert metrics.named("webhook_delivery") == []  # the attempt is its new owner's to count


async def test_attempts_ending_together_are_settled_in_one_transaction_each_with_its_own_outcome(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    metrics: FakeMetrics,
    acme: TenantAccount,
    globex: TenantAccount,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for account in (acme, globex):
        await register(uow, clock, account)
    for account in (acme, acme, globex):
        await uow.webhook_events.record(account.tenant.id, WebhookEventType.MESSAGE_STATUS, "{}", clock.now())
    claimed = await uow.webhook_deliveries.claim_due(owner="w1", now=clock.now(), lease_seconds=60, limit=3)
    clock.advance(timedelta(seconds=61))
    [stolen] = await uow.webhook_deliveries.claim_due(owner="w2", now=clock.now(), lease_seconds=60, limit=1)
    units: list[FakeUnitOfWork] = []

    def unit_of_work() -> FakeUnitOfWork:
        units.append(FakeUnitOfWork(uow.database))
        return units[-1]

    deliver = DeliverWebhook(
        unit_of_work, sender, clock, WebhookDeliverySettings(retry=POLICY), metrics=metrics
    )
    await asyncio.gather(*(deliver(delivery, "w1") for delivery in claimed))

    assert len(sender.requests) == 3
    assert uow.webhook_deliveries.settle_all_calls == 1
    assert sum(unit.commits for unit in units) == 1
    deliveries = uow.webhook_deliveries
    assert {d.id: (d.state, len(deliveries.attempts_of(d.id))) for d in deliveries.all()} == {
        d.id: (DeliveryState.PENDING, 0) if d.id == stolen.id else (DeliveryState.DELIVERED, 1)
        for d in claimed
    }
    assert sorted(metrics.named("webhook_delivery")) == sorted(
        ("delivered", d.tenant_id) for d in claimed if d.id != stolen.id
    )
    lost = [r.getMessage() for r in caplog.records if "lost the lease" in r.getMessage()]
    assert len(lost) == 1
    assert stolen.id in lost[0]


async def test_a_failed_settlement_fails_each_attempt_of_its_batch(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    await register(uow, clock, acme)
    for _ in range(2):
        await uow.webhook_events.record(acme.tenant.id, WebhookEventType.MESSAGE_STATUS, "{}", clock.now())
    claimed = await uow.webhook_deliveries.claim_due(owner="w1", now=clock.now(), lease_seconds=60, limit=2)
    unreachable = FakeUnitOfWork(uow.database)
    unreachable.available = False
    settlements = WebhookSettlements(lambda: unreachable, linger_seconds=0.001)

    outcomes = await asyncio.gather(
        *(settlements.settle(delivery, None, "w1") for delivery in claimed), return_exceptions=True
    )

    assert [type(outcome) for outcome in outcomes] == [StorageUnavailable, StorageUnavailable]
    assert {d.state for d in uow.webhook_deliveries.all()} == {DeliveryState.PENDING}


async def test_a_sender_that_raises_counts_as_a_failed_attempt(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount
) -> None:
    class Broken(FakeWebhookSender):
        async def send(self, request: Any) -> WebhookResponse:
            raise RuntimeError("bug")

    await register(uow, clock, acme)
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.DELIVERED)
    deliver = DeliverWebhook(
        lambda: uow, Broken(), clock, WebhookDeliverySettings(retry=POLICY), metrics=FakeMetrics()
    )
    [delivery] = await uow.webhook_deliveries.claim_due(owner="w", now=clock.now(), lease_seconds=60, limit=1)

    settled = await deliver(delivery, "w")

    assert (settled.state, settled.last_error) == (DeliveryState.PENDING, "the request failed unexpectedly")


async def run_worker_until_delivered(
    uow: FakeUnitOfWork, clock: FixedClock, sender: FakeWebhookSender, acme: TenantAccount
) -> None:
    """Run a worker loop while a delivered status makes an event for acme's endpoint, until it is
    delivered (or two seconds have passed), then stop the loop."""
    database = uow.database
    deliver = DeliverWebhook(
        lambda: FakeUnitOfWork(database), sender, clock, WebhookDeliverySettings(), metrics=FakeMetrics()
    )
    worker = WebhookWorker(
        lambda: FakeUnitOfWork(database), deliver, clock, WebhookWorkerSettings(poll_interval_seconds=0.01)
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await register(uow, clock, acme)
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.DELIVERED)

    for _ in range(200):
        if only(uow).state is DeliveryState.DELIVERED:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, 5)


async def test_the_worker_loop_delivers_until_stopped(
    uow: FakeUnitOfWork, clock: FixedClock, sender: FakeWebhookSender, acme: TenantAccount
) -> None:
    await run_worker_until_delivered(uow, clock, sender, acme)

    assert only(uow).state is DeliveryState.DELIVERED
    assert len(sender.requests) == 1


async def test_a_claim_that_fails_unexpectedly_is_logged_and_the_worker_goes_on_delivering(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    acme: TenantAccount,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    claim_due = type(uow.webhook_deliveries).claim_due
    failed = 0

    async def fails_once(self: object, **kwargs: Any) -> list[WebhookDelivery]:
        nonlocal failed
        if not failed:
            failed += 1
            raise RuntimeError("a bug in the claim")
        return await claim_due(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(type(uow.webhook_deliveries), "claim_due", fails_once)
    await run_worker_until_delivered(uow, clock, sender, acme)

    assert failed == 1
    assert only(uow).state is DeliveryState.DELIVERED
    assert any("claim failed" in record.getMessage() for record in caplog.records)


async def test_finished_deliveries_are_purged_after_the_retention(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    worker: WebhookWorker,
    acme: TenantAccount,
) -> None:
    await register(uow, clock, acme)
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.SENT)
    await worker.deliver_due()
    await status_event(uow, clock, MessageStatus.DELIVERED)  # still pending: never purged
    purge = PurgeWebhookDeliveries(uow, clock, retention=timedelta(days=30))

    clock.advance(timedelta(days=29))
    assert await purge() == 0
    clock.advance(timedelta(days=2))
    assert await purge() == 1

    assert [d.state for d in uow.webhook_deliveries.all()] == [DeliveryState.PENDING]


async def test_a_secret_that_does_not_open_is_never_sent_unsigned(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    sender: FakeWebhookSender,
    worker: WebhookWorker,
    acme: TenantAccount,
    caplog: pytest.LogCaptureFixture,
) -> None:
    registered = await register(uow, clock, acme)
    await queued_message(uow, clock, acme)
    await status_event(uow, clock, MessageStatus.DELIVERED)

    uow.webhook_endpoints.lose_the_key_of(registered.endpoint.id)
    [settled] = await worker.deliver_due()

    assert sender.requests == []
    assert (settled.state, settled.attempts) == (DeliveryState.PENDING, 1)
    assert settled.last_error is not None
    assert "cannot be read" in settled.last_error
    assert [record.levelname for record in caplog.records if "does not open" in record.message] == ["ERROR"]
