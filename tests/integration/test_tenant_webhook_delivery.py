"""Webhooks delivered over real HTTP to a receiver that verifies them with the `standardwebhooks` library,
from a real database (PostgreSQL and SQLite): retries, timeouts, 410, dead letters, replay, SSRF refusals.

The receiver listens on 127.0.0.1, so these deliveries allow private networks, as development does;
the SSRF tests use a sender that does not.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
import standardwebhooks
from aiohttp import web

from adapters.system_clock import SystemClock
from adapters.tenant_webhooks.destinations import DestinationPolicy, ResolvingWebhookUrlGuard
from adapters.tenant_webhooks.sender import AiohttpWebhookSender
from application.errors import WebhookUrlRefused
from application.inbound.delivery_status import RecordStatusChange
from application.ports.messages import StatusChange
from application.ports.tenant_webhooks import DeliveryQuery
from application.principal import Principal
from application.tenant_webhooks.delivery import DeliverWebhook, WebhookDeliverySettings
from application.tenant_webhooks.endpoints import (
    EndpointWithSecret,
    RegisterWebhookCommand,
    RegisterWebhookEndpoint,
    ReplayWebhookDelivery,
    RotateWebhookSecret,
    UpdateWebhookCommand,
    UpdateWebhookEndpoint,
)
from application.tenant_webhooks.worker import WebhookWorker, WebhookWorkerSettings
from domain.administration.tenancy import ProviderName, Role, Tenant
from domain.messaging.messages import Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from domain.retry_policy import RetryPolicy
from domain.tenant_webhooks.model import (
    DeliveryState,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
    new_signing_secret,
)
from tests.support.databases import UowFactory
from tests.support.fakes import FakeMetrics

TIMEOUT_SECONDS = 0.5
POLICY = RetryPolicy(
    max_attempts=3, base_delay=timedelta(milliseconds=50), max_delay=timedelta(milliseconds=200)
)
SID = "SM" + "4" * 32


# -------------------------------------------------------------------------------------------- receiver


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: str = "ok"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    payload: Any  # what standardwebhooks.Webhook(secret).verify returned; None if it refused


class Receiver:
    """A tenant's system: verifies every request with the official library, answers as scripted."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.answers: list[Answer] = []
        self.received: list[Received] = []
        self.port = 0

    def url(self, path: str = "/hooks/whatsapp", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def will_answer(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        payload = None
        for secret in self.secrets:
            try:
                payload = standardwebhooks.Webhook(secret).verify(body, headers)
                break
            except standardwebhooks.webhooks.WebhookVerificationError:
                continue
        self.received.append(Received(headers=headers, body=body, payload=payload))
        answer = self.answers.pop(0) if self.answers else Answer()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if payload is None:
            return web.Response(status=400, text="signature does not verify")
        return web.Response(status=answer.status, text=answer.body, headers=answer.headers)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.port = runner.addresses[0][1]
    try:
        yield receiver
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------------------------------------- harness


@dataclass
class Harness:
    uow_factory: UowFactory
    sender: AiohttpWebhookSender
    worker: WebhookWorker
    tenant: Tenant
    receiver: Receiver

    @property
    def principal(self) -> Principal:
        return Principal(user_id=uuid4(), tenant_id=self.tenant.id, role=Role.TENANT_ADMIN)

    async def register(
        self, url: str | None = None, *, events: tuple[str, ...] = ("message.status",)
    ) -> EndpointWithSecret:
        guard = ResolvingWebhookUrlGuard(DestinationPolicy(allow_private_networks=True))
        created = await RegisterWebhookEndpoint(self.uow_factory(), guard, SystemClock())(
            RegisterWebhookCommand(principal=self.principal, url=url or self.receiver.url(), events=events)
        )
        self.receiver.secrets.append(created.secret)
        return created

    async def record_event(self, payload: dict[str, Any] | None = None) -> None:
        now = SystemClock().now()
        body = json.dumps({"type": "message.status", "timestamp": now.isoformat(), "data": payload or {}})
        async with self.uow_factory() as uow:
            await uow.webhook_events.record(self.tenant.id, WebhookEventType.MESSAGE_STATUS, body, now)
            await uow.commit()

    async def deliveries(self) -> list[WebhookDelivery]:
        async with self.uow_factory() as uow:
            endpoints = await uow.webhook_endpoints.list_for_tenant(self.tenant.id)
            found = []
            for endpoint in endpoints:
                found += await uow.webhook_deliveries.list_page(
                    DeliveryQuery(tenant_id=self.tenant.id, endpoint_id=endpoint.id, limit=100)
                )
        return found

    async def endpoint(self, endpoint_id: Any) -> WebhookEndpoint:
        async with self.uow_factory() as uow:
            endpoint = await uow.webhook_endpoints.get(self.tenant.id, endpoint_id)
        assert endpoint is not None
        return endpoint

    async def deliver_until(
        self, done: Callable[[list[WebhookDelivery]], bool], seconds: float = 10
    ) -> list[WebhookDelivery]:
        """Run the worker (as its loop would) until ``done`` holds for the stored deliveries."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            await self.worker.deliver_due()
            deliveries = await self.deliveries()
            if done(deliveries):
                return deliveries
            await asyncio.sleep(0.02)
        raise AssertionError(f"not done in {seconds} s: {await self.deliveries()}")


def settled(deliveries: list[WebhookDelivery]) -> bool:
    return bool(deliveries) and all(d.state is not DeliveryState.PENDING for d in deliveries)


def build_worker(
    uow_factory: UowFactory, sender: AiohttpWebhookSender, policy: RetryPolicy = POLICY
) -> WebhookWorker:
    deliver = DeliverWebhook(
        uow_factory, sender, SystemClock(), WebhookDeliverySettings(retry=policy), metrics=FakeMetrics()
    )
    return WebhookWorker(
        uow_factory, deliver, SystemClock(), WebhookWorkerSettings(lease_seconds=30), owner="it"
    )


@pytest.fixture
async def harness(uow_factory: UowFactory, receiver: Receiver) -> AsyncIterator[Harness]:
    tenant = Tenant(
        name=f"tenant {uuid4().hex[:8]}", provider=ProviderName.SANDBOX, created_at=SystemClock().now()
    )
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    sender = AiohttpWebhookSender(
        timeout_seconds=TIMEOUT_SECONDS, policy=DestinationPolicy(allow_private_networks=True)
    )
    try:
        yield Harness(uow_factory, sender, build_worker(uow_factory, sender), tenant, receiver)
    finally:
        await sender.aclose()


# ------------------------------------------------------------------------------------------------ tests


async def test_a_status_change_reaches_the_receiver_which_verifies_it(harness: Harness) -> None:
    created = await harness.register()
    message = Message.new_outbound(
        tenant_id=harness.tenant.id,
        sender=PhoneNumber.parse("+14155238886"),
        contact=PhoneNumber.parse("+14155550123"),
        content=MessageContent(body="Your order shipped"),
        now=SystemClock().now(),
    ).handed_to_provider(SID, MessageStatus.QUEUED, SystemClock().now())
    async with harness.uow_factory() as uow:
        await uow.messages.add(message)
        await uow.commit()

    await RecordStatusChange(harness.uow_factory(), SystemClock(), metrics=FakeMetrics())(
        StatusChange(SID, MessageStatus.DELIVERED)
    )
    [delivery] = await harness.deliver_until(settled)

    [received] = harness.receiver.received
    assert received.payload is not None, "standardwebhooks refused the signature"
    assert received.payload["type"] == "message.status"
    assert received.payload["data"]["id"] == str(message.id)
    assert received.payload["data"]["status"] == "delivered"
    assert received.headers["webhook-id"] == delivery.id
    assert received.headers["Content-Type"] == "application/json"
    assert (delivery.state, delivery.last_status_code, delivery.endpoint_id) == (
        DeliveryState.DELIVERED,
        200,
        created.endpoint.id,
    )


async def test_after_500s_the_retry_has_the_same_webhook_id(harness: Harness) -> None:
    await harness.register()
    harness.receiver.will_answer(Answer(500, "boom"), Answer(503, "busy"))
    await harness.record_event({"n": 1})

    [delivery] = await harness.deliver_until(settled)

    assert delivery.state is DeliveryState.DELIVERED
    assert delivery.attempts == 3
    ids = {received.headers["webhook-id"] for received in harness.receiver.received}
    assert ids == {delivery.id}
    assert len(harness.receiver.received) == 3
    assert all(received.payload is not None for received in harness.receiver.received)  # each verified
    bodies = {received.body for received in harness.receiver.received}
    assert len(bodies) == 1  # the same bytes every time
    async with harness.uow_factory() as uow:
        attempts = (await uow.webhook_deliveries.list_attempts(harness.tenant.id, [delivery.id]))[delivery.id]
    assert [(a.status_code, a.response_excerpt) for a in attempts] == [
        (500, "boom"),
        (503, "busy"),
        (200, "ok"),
    ]


async def test_after_a_timeout_the_retry_has_the_same_webhook_id(harness: Harness) -> None:
    await harness.register()
    harness.receiver.will_answer(Answer(delay=TIMEOUT_SECONDS * 3))
    await harness.record_event()

    [delivery] = await harness.deliver_until(settled)

    assert delivery.state is DeliveryState.DELIVERED
    assert [r.headers["webhook-id"] for r in harness.receiver.received] == [delivery.id, delivery.id]
    async with harness.uow_factory() as uow:
        first, second = (await uow.webhook_deliveries.list_attempts(harness.tenant.id, [delivery.id]))[
            delivery.id
        ]
    assert (first.status_code, first.error) == (None, f"timed out after {TIMEOUT_SECONDS:g} s")
    assert TIMEOUT_SECONDS * 1000 <= first.duration_ms < TIMEOUT_SECONDS * 3000
    assert second.status_code == 200


async def test_a_410_disables_the_endpoint(harness: Harness) -> None:
    created = await harness.register()
    harness.receiver.will_answer(Answer(410, "this hook is gone"))
    await harness.record_event()

    [delivery] = await harness.deliver_until(settled)
    await harness.record_event()  # no longer recorded for the disabled endpoint

    assert (delivery.state, delivery.last_status_code) == (DeliveryState.DEAD, 410)
    assert delivery.last_response_excerpt == "this hook is gone"
    endpoint = await harness.endpoint(created.endpoint.id)
    assert not endpoint.enabled
    assert endpoint.disabled_reason is not None
    assert "410" in endpoint.disabled_reason
    assert await harness.deliveries() == [delivery]
    assert len(harness.receiver.received) == 1


async def test_a_delivery_is_dead_lettered_when_the_attempts_run_out_and_can_be_replayed(
    harness: Harness,
) -> None:
    created = await harness.register()
    harness.receiver.will_answer(*[Answer(502, "down")] * POLICY.max_attempts)
    await harness.record_event({"order": 1042})

    [dead] = await harness.deliver_until(settled)

    assert dead.state is DeliveryState.DEAD
    assert dead.last_error == f"attempts exhausted ({POLICY.max_attempts}): the endpoint answered 502"
    assert len(harness.receiver.received) == POLICY.max_attempts

    replayed = await ReplayWebhookDelivery(harness.uow_factory(), SystemClock())(
        harness.principal, created.endpoint.id, dead.id
    )
    assert replayed.delivery.state is DeliveryState.PENDING
    [delivered] = await harness.deliver_until(settled)

    assert (delivered.id, delivered.state, delivered.attempts) == (dead.id, DeliveryState.DELIVERED, 1)
    assert {r.headers["webhook-id"] for r in harness.receiver.received} == {dead.id}
    assert harness.receiver.received[-1].payload["data"] == {"order": 1042}


async def test_a_replay_after_a_410_needs_the_endpoint_enabled_again(harness: Harness) -> None:
    created = await harness.register()
    harness.receiver.will_answer(Answer(410))
    await harness.record_event()
    [dead] = await harness.deliver_until(settled)
    guard = ResolvingWebhookUrlGuard(DestinationPolicy(allow_private_networks=True))

    await UpdateWebhookEndpoint(harness.uow_factory(), guard, SystemClock())(
        UpdateWebhookCommand(principal=harness.principal, endpoint_id=created.endpoint.id, enabled=True)
    )
    await ReplayWebhookDelivery(harness.uow_factory(), SystemClock())(
        harness.principal, created.endpoint.id, dead.id
    )
    [delivered] = await harness.deliver_until(settled)

    assert (delivered.id, delivered.state) == (dead.id, DeliveryState.DELIVERED)
    assert [r.headers["webhook-id"] for r in harness.receiver.received] == [dead.id, dead.id]


async def test_retry_after_is_honoured(harness: Harness) -> None:
    await harness.register()
    harness.receiver.will_answer(Answer(429, "slow down", headers={"Retry-After": "1"}))
    await harness.record_event()

    await harness.worker.deliver_due()
    [waiting] = await harness.deliveries()

    assert waiting.state is DeliveryState.PENDING
    assert waiting.last_attempt_at is not None
    assert waiting.next_attempt_at - waiting.last_attempt_at >= timedelta(seconds=1)
    [delivered] = await harness.deliver_until(settled)
    assert delivered.state is DeliveryState.DELIVERED


async def test_only_the_first_kilobyte_of_an_answer_is_kept_and_redirects_are_not_followed(
    harness: Harness,
) -> None:
    await harness.register()
    harness.receiver.will_answer(
        Answer(500, "x" * 5000),
        Answer(302, "moved", headers={"Location": harness.receiver.url("/elsewhere")}),
    )
    await harness.record_event()

    await harness.worker.deliver_due()
    [after_500] = await harness.deliveries()
    await harness.deliver_until(lambda ds: ds[0].attempts == 2)
    [after_302] = await harness.deliveries()

    assert after_500.last_response_excerpt == "x" * 1024
    assert (after_302.state, after_302.last_status_code) == (DeliveryState.PENDING, 302)
    assert [r.headers["webhook-id"] for r in harness.receiver.received] == [
        after_500.id
    ] * 2  # /elsewhere never hit


async def test_both_secrets_verify_during_a_rotation(harness: Harness) -> None:
    created = await harness.register()
    rotated = await RotateWebhookSecret(harness.uow_factory(), SystemClock())(
        harness.principal, created.endpoint.id
    )
    await harness.record_event()

    await harness.deliver_until(settled)

    [received] = harness.receiver.received
    for secret in (created.secret, rotated.secret):
        standardwebhooks.Webhook(secret).verify(received.body, received.headers)


# ------------------------------------------------------------------------------------------------- SSRF

PRIVATE_URLS = [
    "http://127.0.0.1:{port}/hooks",
    "http://[::1]:{port}/hooks",
    "http://localhost:{port}/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hooks",
    "http://192.168.1.1/hooks",
    "http://172.16.0.1/hooks",
]


@pytest.mark.parametrize("template", PRIVATE_URLS)
async def test_private_destinations_are_refused_at_registration(
    uow_factory: UowFactory, receiver: Receiver, template: str
) -> None:
    tenant = Tenant(
        name=f"tenant {uuid4().hex[:8]}", provider=ProviderName.SANDBOX, created_at=SystemClock().now()
    )
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    guard = ResolvingWebhookUrlGuard(DestinationPolicy(allow_private_networks=False))
    principal = Principal(user_id=uuid4(), tenant_id=tenant.id, role=Role.TENANT_ADMIN)

    with pytest.raises(WebhookUrlRefused, match="public addresses only"):
        await RegisterWebhookEndpoint(uow_factory(), guard, SystemClock())(
            RegisterWebhookCommand(
                principal=principal, url=template.format(port=receiver.port), events=["message.status"]
            )
        )

    async with uow_factory() as uow:
        assert await uow.webhook_endpoints.list_for_tenant(tenant.id) == []


@pytest.mark.parametrize("template", PRIVATE_URLS)
async def test_private_destinations_are_refused_at_delivery(
    harness: Harness, uow_factory: UowFactory, template: str
) -> None:
    # An endpoint stored while private networks were allowed (or whose name resolves elsewhere now).
    url = template.format(port=harness.receiver.port)
    endpoint = WebhookEndpoint.new(
        tenant_id=harness.tenant.id, url=url, events=["message.status"], now=SystemClock().now()
    )
    async with uow_factory() as uow:
        assert await uow.webhook_endpoints.add(endpoint, new_signing_secret(), at_most=100)
        await uow.commit()
    await harness.record_event()
    strict = AiohttpWebhookSender(
        timeout_seconds=TIMEOUT_SECONDS, policy=DestinationPolicy(allow_private_networks=False)
    )
    try:
        [attempted] = await build_worker(uow_factory, strict).deliver_due()
    finally:
        await strict.aclose()

    assert harness.receiver.received == []
    assert attempted.state is DeliveryState.PENDING  # retried later: DNS may change, the check is made again
    assert attempted.last_status_code is None
    assert attempted.last_error is not None
    assert attempted.last_error.startswith("refused: ")
    assert "public addresses only" in attempted.last_error
