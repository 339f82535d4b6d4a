"""A worker sends a claim's jobs as one batch: one statement leases them with what each send needs, and
the outcomes of sends that end together are written in one transaction; on PostgreSQL and SQLite.

Each job still ends as it would alone (sent, retried later, left to another owner), and on PostgreSQL
the round trips of a batch do not grow with its size.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.tenant_scope import TenantScope
from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.messaging.dispatcher import Dispatcher, DispatcherSettings
from application.ports.dispatch_queue import DispatchCompletion
from application.ports.messages import StatusChange
from application.ports.providers import OutboundRequest, OutcomeKind, SendOutcome
from domain.administration.tenancy import ProviderName
from domain.messaging.messages import Message, MessageStatus
from tests.support.databases import UowFactory
from tests.support.fakes import FakeMessagingProvider, FakeMetrics, FixedClock
from tests.support.repositories import T0
from tests.support.repositories.dispatch import accepted_with_job, claim, tenant_with_sender
from tests.support.repositories.tenant_webhooks import add_endpoint
from tests.support.repositories.tenant_webhooks import claim as claim_deliveries


class FailsOnce(FakeMessagingProvider):
    """Accepts every message but one, which the provider refuses for now (a 5xx: safe to send again)."""

    def __init__(self, failing: Message) -> None:
        super().__init__()
        self._failing = failing.id

    async def send(self, request: OutboundRequest) -> SendOutcome:
        if request.message.id == self._failing:
            self.requests.append(request)
            return SendOutcome(kind=OutcomeKind.RETRYABLE, reason="the provider is unavailable")
        return await super().send(request)


def dispatcher(uow_factory: UowFactory, provider: FakeMessagingProvider) -> Dispatcher:
    clock = FixedClock(T0)
    dispatch = DispatchMessage(uow_factory, provider, clock, DispatchSettings(), metrics=FakeMetrics())
    return Dispatcher(uow_factory, dispatch, clock, DispatcherSettings(), owner="worker")


async def test_a_batch_where_one_send_fails_for_now_ends_each_job_as_it_would_alone(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    await add_endpoint(uow_factory, tenant, events=("message.status",))
    messages = [await accepted_with_job(uow_factory, tenant) for _ in range(6)]
    failing = messages[2]
    provider = FailsOnce(failing)

    settled = await dispatcher(uow_factory, provider).run_due()

    assert len(provider.requests) == 6  # each sent once
    async with uow_factory() as uow:
        stored = [await uow.messages.get(tenant.id, m.id) for m in messages]
    assert [m.status if m else None for m in stored] == [
        MessageStatus.ACCEPTED if m.id == failing.id else MessageStatus.QUEUED for m in messages
    ]
    assert all(m and m.provider_sid for m in stored if m and m.id != failing.id)
    assert {m.id for m in settled if m.status is MessageStatus.QUEUED} == {
        m.id for m in messages if m.id != failing.id
    }
    # Only the failed one's job is left: free, its attempt counted, due again after a back-off.
    assert await claim(uow_factory, "another", T0) == []
    [retry] = await claim(uow_factory, "another", T0 + timedelta(hours=1))
    assert (retry.message_id, retry.attempts, retry.last_error) == (
        failing.id,
        1,
        "the provider is unavailable",
    )
    # One message.status event per message sent, for the tenant's webhook.
    deliveries = await claim_deliveries(uow_factory, "webhooks", T0 + timedelta(minutes=1), limit=20)
    assert sorted(json.loads(d.payload)["data"]["id"] for d in deliveries) == sorted(
        str(m.id) for m in messages if m.id != failing.id
    )
    # Each with an id of its own, in the shape every delivery id has (``msg_`` and a ULID).
    assert len({d.id for d in deliveries}) == len(deliveries)
    assert all(re.fullmatch(r"msg_[0-9A-HJKMNP-TV-Z]{26}", d.id) for d in deliveries), deliveries


async def test_completions_written_together_each_end_as_they_would_alone(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    # One job's lease ran out and another worker took it over.
    taken_over = await accepted_with_job(uow_factory, tenant, due=T0 - timedelta(minutes=1))
    await claim(uow_factory, "worker", T0, limit=1)
    later = T0 + timedelta(minutes=5)
    await claim(uow_factory, "other worker", later, limit=1)
    sent, settled_meanwhile = [await accepted_with_job(uow_factory, tenant) for _ in range(2)]
    assert {job.message_id for job in await claim(uow_factory, "worker", later)} == {
        sent.id,
        settled_meanwhile.id,
    }
    # A status report overtook one send.
    async with uow_factory() as uow:
        await uow.messages.attach_provider_sid(tenant.id, settled_meanwhile.id, "SMreported")
        await uow.messages.advance_status(
            StatusChange(provider_sid="SMreported", status=MessageStatus.DELIVERED), later
        )
        await uow.commit()
    outcomes = [
        (m.handed_to_provider(sid, MessageStatus.QUEUED, later, provider=ProviderName.SANDBOX), "worker")
        for m, sid in ((sent, "SMsent"), (settled_meanwhile, "SMignored"), (taken_over, "SMlate"))
    ]

    async with uow_factory() as uow:
        completions = await uow.jobs.complete_dispatches(outcomes)
        await uow.commit()

    assert completions == [
        DispatchCompletion.RECORDED,
        DispatchCompletion.SETTLED_ELSEWHERE,
        DispatchCompletion.LEASE_LOST,
    ]
    async with uow_factory() as uow:
        stored = [await uow.messages.get(tenant.id, m.id) for m in (sent, settled_meanwhile, taken_over)]
    assert [(m.status, m.provider_sid) if m else None for m in stored] == [
        (MessageStatus.QUEUED, "SMsent"),
        (MessageStatus.DELIVERED, "SMreported"),
        (MessageStatus.ACCEPTED, None),
    ]
    # The job taken over is still its new owner's; the others are gone.
    async with uow_factory() as uow:
        assert not await uow.jobs.complete(sent.id, owner=None)
        assert not await uow.jobs.complete(settled_meanwhile.id, owner=None)
        assert await uow.jobs.complete(taken_over.id, owner="other worker")
        await uow.commit()


async def test_a_batch_costs_the_same_few_round_trips_whatever_its_size(
    engine: AsyncEngine, uow_factory: UowFactory, round_trips: list[str]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite is a file in this process: it has no round trips to save")
    tenant = await tenant_with_sender(uow_factory)
    await add_endpoint(uow_factory, tenant, events=("message.status",))
    batch = [await accepted_with_job(uow_factory, tenant) for _ in range(40)]
    provider = FakeMessagingProvider()
    worker = dispatcher(uow_factory, provider)
    round_trips.clear()

    settled = await worker.run_due()

    assert len(provider.requests) == len(settled) == len(batch)
    # The claim (its BEGIN with the cross-tenant setting, the lease with what each send needs, COMMIT),
    # and the completions: at most one transaction per handful of sends that end together (its BEGIN
    # and setting, the outcomes, the tenant's endpoints, the webhook deliveries, COMMIT).
    assert len(round_trips) <= 3 + 5 * 2, round_trips
    async with uow_factory() as uow:
        stored = [await uow.messages.get(tenant.id, m.id) for m in batch]
    assert {m.status if m else None for m in stored} == {MessageStatus.QUEUED}
    assert await claim(uow_factory, "another", T0 + timedelta(hours=1)) == []


# -- round trips (PostgreSQL) ------------------------------------------------------------------------


@pytest.fixture
def round_trips(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every round trip to the database from here on: statements through SQLAlchemy, COMMITs and
    ROLLBACKs, and the queries the tenant scope sends itself."""
    sent: list[str] = []

    def statement(_conn: Any, _cursor: Any, text: str, *_: Any) -> None:
        sent.append(text.split(None, 1)[0])

    def ended(_conn: Any) -> None:
        sent.append("END")

    pipelined = TenantScope._pipelined

    async def counted(
        self: TenantScope, driver: Any, statements: Sequence[str], *args: Any, **kwargs: Any
    ) -> Any:
        sent.append(statements[0].split(None, 1)[0])
        return await pipelined(self, driver, statements, *args, **kwargs)

    monkeypatch.setattr(TenantScope, "_pipelined", counted)
    sa.event.listen(engine.sync_engine, "before_cursor_execute", statement)
    sa.event.listen(engine.sync_engine, "commit", ended)
    sa.event.listen(engine.sync_engine, "rollback", ended)
    try:
        yield sent
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", statement)
        sa.event.remove(engine.sync_engine, "commit", ended)
        sa.event.remove(engine.sync_engine, "rollback", ended)
