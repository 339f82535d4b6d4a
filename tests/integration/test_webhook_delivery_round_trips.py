"""A webhook delivery attempt on PostgreSQL, its round trips counted in libpq's trace of the protocol.

The worker's claim reads the claimed deliveries' endpoints and sealed secrets in the claim's own
transaction (``for_deliveries``, one statement for the batch), so an attempt through the worker costs
its settlement only: the delivery's new state and the attempt's line written with their COMMIT
(``write_and_commit``), one round trip. ``DeliverWebhook`` called without an endpoint (not through the
worker) reads it first as a transaction of its own (tenant_scope.py's ``read_alone``): two round trips.
Attempts that end together share their settlement (``WebhookSettlements``): N of them, of any tenants,
cost one round trip for all their writes. What must hold either way: a delivered attempt is stored with
its line, an attempt whose lease was lost stores nothing, and the connection goes back to the pool as
psycopg hands it out."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox
from application.ports.tenant_webhooks import DeliveryQuery, WebhookRequest, WebhookResponse
from application.tenant_webhooks.delivery import DeliverWebhook, WebhookDeliverySettings
from application.tenant_webhooks.worker import WebhookWorker, WebhookWorkerSettings
from domain.tenant_webhooks.model import DeliveryState, WebhookDelivery, WebhookEndpoint
from tests.support.databases import UowFactory
from tests.support.fakes import FakeMetrics, FakeWebhookSender, FixedClock
from tests.support.repositories import T0
from tests.support.repositories.tenant_webhooks import add_endpoint, add_tenant, claim, record
from tests.support.round_trips import the_driver, traced

pytestmark = pytest.mark.postgres


@pytest.fixture
def writes(one_connection: AsyncEngine, secret_box: SecretBox) -> UowFactory:
    return lambda: SqlAlchemyUnitOfWork(one_connection, secret_box)


@pytest.fixture
def reads(one_connection: AsyncEngine, secret_box: SecretBox) -> UowFactory:
    return lambda: SqlAlchemyUnitOfWork(one_connection, secret_box, read_only=True)


def deliver_webhook(
    writes: UowFactory, reads: UowFactory, sender: FakeWebhookSender, metrics: FakeMetrics
) -> DeliverWebhook:
    return DeliverWebhook(
        writes, sender, FixedClock(T0), WebhookDeliverySettings(), metrics=metrics, reads=reads
    )


def webhook_worker(writes: UowFactory, deliver: DeliverWebhook) -> WebhookWorker:
    # The leases of ``claim``'s (tests/support), so that another worker's claim can take one over.
    settings = WebhookWorkerSettings(lease_seconds=30)
    return WebhookWorker(writes, deliver, FixedClock(T0), settings, owner="w1")


# An attempt's answer, and the state it leaves its delivery in.
DELIVERED_OR_RETRIED = pytest.mark.parametrize(
    ("answer", "state"),
    [
        (WebhookResponse(duration_ms=3, status_code=200, body_excerpt="ok"), DeliveryState.DELIVERED),
        (WebhookResponse(duration_ms=3, status_code=503, body_excerpt="busy"), DeliveryState.PENDING),
    ],
    ids=["delivered", "retried"],
)


async def a_leased_delivery(writes: UowFactory) -> tuple[WebhookEndpoint, WebhookDelivery]:
    """A tenant's endpoint, and a delivery to it leased by worker ``w1``."""
    tenant = await add_tenant(writes)
    endpoint = await add_endpoint(writes, tenant)
    await record(writes, tenant)
    [delivery] = await claim(writes, "w1", T0)
    return endpoint, delivery


async def assert_stored_as_answered(
    writes: UowFactory, settled: WebhookDelivery, answer: WebhookResponse, state: DeliveryState
) -> None:
    """``settled`` is what is stored: its first attempt, answered ``answer``, left it in ``state``."""
    async with writes() as uow:
        stored = await uow.webhook_deliveries.get(settled.tenant_id, settled.id)
        attempts = await uow.webhook_deliveries.list_attempts(settled.tenant_id, [settled.id])
    assert stored == settled
    assert (stored.state, stored.attempts, stored.last_status_code) == (state, 1, answer.status_code)
    assert [(a.status_code, a.response_excerpt, a.attempted_at) for a in attempts[settled.id]] == [
        (answer.status_code, answer.body_excerpt, T0)
    ]


@DELIVERED_OR_RETRIED
async def test_an_attempt_that_reads_its_own_endpoint_takes_two_round_trips_and_stores_its_outcome(
    one_connection: AsyncEngine,
    writes: UowFactory,
    reads: UowFactory,
    tmp_path: Path,
    answer: WebhookResponse,
    state: DeliveryState,
) -> None:
    endpoint, delivery = await a_leased_delivery(writes)
    sender, metrics = FakeWebhookSender(), FakeMetrics()
    sender.will_answer(answer)
    deliver = deliver_webhook(writes, reads, sender, metrics)
    driver = await the_driver(one_connection)

    with traced(driver, tmp_path / "trace") as round_trips:
        settled = await deliver(delivery, "w1")

    assert round_trips == [2]
    assert [request.url for request in sender.requests] == [endpoint.url]
    await assert_stored_as_answered(writes, settled, answer, state)
    assert len(metrics.events) == 1
    assert driver.autocommit is False
    assert driver.info.transaction_status is TransactionStatus.IDLE


async def test_an_attempt_whose_lease_was_lost_stores_nothing(
    one_connection: AsyncEngine, writes: UowFactory, reads: UowFactory, tmp_path: Path
) -> None:
    endpoint, delivery = await a_leased_delivery(writes)
    tenant = endpoint.tenant_id
    sender, metrics = FakeWebhookSender(), FakeMetrics()
    deliver = deliver_webhook(writes, reads, sender, metrics)
    driver = await the_driver(one_connection)

    with traced(driver, tmp_path / "trace") as round_trips:
        await deliver(delivery, "w2")  # another worker's lease by now

    assert round_trips == [2]
    async with writes() as uow:
        stored = await uow.webhook_deliveries.get(tenant, delivery.id)
        attempts = await uow.webhook_deliveries.list_attempts(tenant, [delivery.id])
        [listed] = await uow.webhook_deliveries.list_page(
            DeliveryQuery(tenant_id=tenant, endpoint_id=endpoint.id, limit=10)
        )
    assert stored is not None
    assert (stored.state, stored.attempts, stored.last_attempt_at) == (DeliveryState.PENDING, 0, None)
    assert listed.id == delivery.id
    assert attempts == {}
    assert metrics.events == []  # the attempt is its new owner's to count
    assert driver.info.transaction_status is TransactionStatus.IDLE


class AnsweringTogether(FakeWebhookSender):
    """Answers no request until ``expected`` have been sent and ``answer()`` is called: their attempts
    end at the same moment, when the test says."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self._expected = expected
        self._all_sent = asyncio.Event()
        self._answering = asyncio.Event()

    def answer(self) -> None:
        self._answering.set()

    async def send(self, request: WebhookRequest) -> WebhookResponse:
        self.requests.append(request)
        if len(self.requests) == self._expected:
            self._all_sent.set()
        await self._all_sent.wait()
        await self._answering.wait()
        return self.default


@DELIVERED_OR_RETRIED
async def test_an_attempt_through_the_worker_costs_its_settlement_only(
    one_connection: AsyncEngine,
    writes: UowFactory,
    reads: UowFactory,
    tmp_path: Path,
    answer: WebhookResponse,
    state: DeliveryState,
) -> None:
    tenant = await add_tenant(writes)
    endpoint = await add_endpoint(writes, tenant)
    await record(writes, tenant)
    sender, metrics = FakeWebhookSender(), FakeMetrics()
    sender.will_answer(answer)
    worker = webhook_worker(writes, deliver_webhook(writes, reads, sender, metrics))
    driver = await the_driver(one_connection)

    with traced(driver, tmp_path / "claim") as claim_round_trips:
        [attempt] = await worker.start_due()  # claimed and read; the attempt starts at the next await
    with traced(driver, tmp_path / "attempt") as round_trips:
        settled = await attempt

    # BEGIN with the cross-tenant setting, the look for anything due, the leases, the endpoints, COMMIT.
    assert claim_round_trips == [5]
    assert round_trips == [1]
    assert settled is not None
    assert [request.url for request in sender.requests] == [endpoint.url]
    await assert_stored_as_answered(writes, settled, answer, state)
    assert len(metrics.events) == 1
    assert driver.autocommit is False
    assert driver.info.transaction_status is TransactionStatus.IDLE


@pytest.mark.parametrize("tenants", [1, 2], ids=["one-tenant", "two-tenants"])
async def test_attempts_ending_together_share_one_round_trip_for_their_settlement(
    one_connection: AsyncEngine, writes: UowFactory, reads: UowFactory, tmp_path: Path, tenants: int
) -> None:
    for _ in range(tenants):
        tenant = await add_tenant(writes)
        await add_endpoint(writes, tenant)
        for _ in range(4 // tenants):
            await record(writes, tenant)
    sender, metrics = AnsweringTogether(4), FakeMetrics()
    worker = webhook_worker(writes, deliver_webhook(writes, reads, sender, metrics))
    tasks = await worker.start_due()
    # Another worker takes one over once its lease has run out, before w1's attempt settles it.
    [stolen] = await claim(writes, "w2", T0 + timedelta(seconds=31), limit=1)
    driver = await the_driver(one_connection)

    with traced(driver, tmp_path / "trace") as round_trips:
        sender.answer()
        ended = await asyncio.gather(*tasks)

    assert len(tasks) == 4
    assert round_trips == [1]  # no reads: one settlement for all
    settled = [delivery for delivery in ended if delivery is not None]
    stored = []
    for delivery in settled:
        async with writes() as uow:
            stored.append(await uow.webhook_deliveries.get(delivery.tenant_id, delivery.id))
            attempts = await uow.webhook_deliveries.list_attempts(delivery.tenant_id, [delivery.id])
        assert len(attempts.get(delivery.id, [])) == (0 if delivery.id == stolen.id else 1)
    assert [s.state if s else None for s in stored] == [
        DeliveryState.PENDING if d.id == stolen.id else DeliveryState.DELIVERED for d in settled
    ]
    assert [s for s, d in zip(stored, settled, strict=True) if d.id != stolen.id] == [
        d for d in settled if d.id != stolen.id
    ]
    assert len(metrics.events) == len(settled) - 1
    assert driver.autocommit is False
    assert driver.info.transaction_status is TransactionStatus.IDLE
