"""An accept on PostgreSQL: the tenant, its sender and the recipient's opt-out read with the
transaction's BEGIN, then the write sent with its COMMIT (tenant_scope.py's ``write_and_commit``): two
round trips, counted here in libpq's trace of the protocol. With its sending profile in memory
(sending_profiles.py), one: BEGIN, the write (which checks the opt-out, and the 24-hour window of a
number with one form, itself) and COMMIT together.
What must hold, whichever way it went: the message, its job and its key stored, a send refused by the
tenant's limit or to a person who opted out stores nothing, a replay is answered, and the connection
goes back to the pool as psycopg hands it out."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox
from application.errors import RateLimited, RecipientOptedOut, SessionWindowClosed
from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.messaging.dispatcher import Dispatcher, DispatcherSettings
from application.messaging.send_message import SendMessage, SendMessageCommand, TenantSendLimits
from application.messaging.sending_profiles import SendingProfiles
from domain.administration.tenancy import ProviderName, Sender, Tenant
from domain.consent.model import ConsentChange, ConsentSource, ConsentState
from domain.messaging.messages import Message, MessageContent
from domain.phone import PhoneNumber
from tests.support.databases import UowFactory
from tests.support.fakes import FakeMessagingProvider, FakeMetrics, FakeRateLimiter, FixedClock
from tests.support.repositories import OUR_NUMBER, T0
from tests.support.round_trips import the_driver, traced

pytestmark = pytest.mark.postgres

CUSTOMER = "+447911123456"


@pytest.fixture
def writes(one_connection: AsyncEngine, secret_box: SecretBox) -> UowFactory:
    return lambda: SqlAlchemyUnitOfWork(one_connection, secret_box)


async def a_tenant(writes: UowFactory, *, session_window_check: bool = False) -> Tenant:
    tenant = Tenant(
        name="acme", provider=ProviderName.SANDBOX, created_at=T0, session_window_check=session_window_check
    )
    async with writes() as uow:
        await uow.tenants.add(tenant)
        await uow.senders.add(
            Sender(tenant_id=tenant.id, phone_number=OUR_NUMBER, created_at=T0, is_default=True)
        )
        await uow.commit()
    return tenant


def send_message(
    writes: UowFactory,
    clock: FixedClock,
    limits: TenantSendLimits,
    sending_profiles: SendingProfiles | None = None,
) -> SendMessage:
    provider = FakeMessagingProvider()
    dispatch = DispatchMessage(writes, provider, clock, DispatchSettings(), metrics=FakeMetrics())
    dispatcher = Dispatcher(writes, dispatch, clock, DispatcherSettings())
    return SendMessage(
        writes(),
        dispatcher,
        clock,
        wait_seconds=1.0,
        metrics=FakeMetrics(),
        provider=provider,
        send_limits=limits,
        sending_profiles=sending_profiles,
    )


def keyed(tenant: Tenant, key: str) -> SendMessageCommand:
    return SendMessageCommand(
        tenant_id=tenant.id, to_number=CUSTOMER, body="hello", idempotency_key=key, respond_async=True
    )


async def test_an_accept_takes_two_round_trips_and_stores_the_message_job_and_key(
    one_connection: AsyncEngine, writes: UowFactory, tmp_path: Path
) -> None:
    tenant = await a_tenant(writes)
    clock = FixedClock(T0)
    send = send_message(writes, clock, TenantSendLimits(FakeRateLimiter(clock), sends_per_minute=10))
    driver = await the_driver(one_connection)

    with traced(driver, tmp_path / "trace") as round_trips:
        accepted = await send(keyed(tenant, "order-1"))

    assert round_trips == [2]
    async with writes() as uow:
        assert await uow.messages.get(tenant.id, accepted.message.id) == accepted.message
        record = await uow.idempotency.get(tenant.id, "order-1", T0)
        jobs = await uow.jobs.claim_due(owner="w", now=T0, lease_seconds=30, limit=10)
    assert record is not None
    assert (record.message_id, record.response_status) == (accepted.message.id, 202)
    assert [job.message_id for job in jobs] == [accepted.message.id]
    assert driver.autocommit is False
    assert driver.info.transaction_status is TransactionStatus.IDLE


async def test_a_replay_is_answered_and_a_send_over_the_limit_stores_nothing(
    writes: UowFactory,
) -> None:
    tenant = await a_tenant(writes)
    clock = FixedClock(T0)
    send = send_message(writes, clock, TenantSendLimits(FakeRateLimiter(clock), sends_per_minute=1))
    first = await send(keyed(tenant, "order-1"))

    replay = await send(keyed(tenant, "order-1"))
    with pytest.raises(RateLimited):
        await send(keyed(tenant, "order-2"))

    assert (replay.replayed, replay.message.id) == (True, first.message.id)
    async with writes() as uow:
        assert await uow.idempotency.get(tenant.id, "order-2", T0) is None
        jobs = await uow.jobs.claim_due(owner="w", now=T0, lease_seconds=30, limit=10)
    assert [job.message_id for job in jobs] == [first.message.id]


async def test_an_accept_with_its_sending_profile_in_memory_takes_one_round_trip(
    one_connection: AsyncEngine, writes: UowFactory, tmp_path: Path
) -> None:
    tenant = await a_tenant(writes)
    clock = FixedClock(T0)
    profiles = SendingProfiles(lambda: 1, ttl_seconds=3600)  # a version that never moves
    send = send_message(writes, clock, TenantSendLimits(None), profiles)
    driver = await the_driver(one_connection)
    first = await send(keyed(tenant, "order-1"))  # reads the profile, and keeps it

    with traced(driver, tmp_path / "trace") as round_trips:
        second = await send(keyed(tenant, "order-2"))
    replay = await send(keyed(tenant, "order-2"))

    assert round_trips == [1]
    assert (replay.replayed, replay.message.id) == (True, second.message.id)
    async with writes() as uow:
        assert await uow.messages.get(tenant.id, second.message.id) == second.message
        record = await uow.idempotency.get(tenant.id, "order-2", T0)
        jobs = await uow.jobs.claim_due(owner="w", now=T0, lease_seconds=30, limit=10)
    assert record is not None
    assert (record.message_id, record.response_status) == (second.message.id, 202)
    assert sorted(job.message_id for job in jobs) == sorted([first.message.id, second.message.id])
    assert driver.info.transaction_status is TransactionStatus.IDLE


async def test_a_person_who_opted_out_is_refused_with_the_sending_profile_in_memory(
    one_connection: AsyncEngine, writes: UowFactory
) -> None:
    tenant = await a_tenant(writes)
    clock = FixedClock(T0)
    profiles = SendingProfiles(lambda: 1, ttl_seconds=3600)
    send = send_message(writes, clock, TenantSendLimits(None), profiles)
    await send(
        SendMessageCommand(tenant_id=tenant.id, to_number="+447911000000", body="hi", respond_async=True)
    )
    async with writes() as uow:
        await uow.consent.record(
            ConsentChange(
                tenant_id=tenant.id,
                identity=PhoneNumber.parse(CUSTOMER).identity,
                number=CUSTOMER,
                state=ConsentState.OPTED_OUT,
                source=ConsentSource.API,
                actor="agent",
                at=T0,
            )
        )
        await uow.commit()

    with pytest.raises(RecipientOptedOut):
        await send(keyed(tenant, "order-1"))

    async with writes() as uow:
        assert await uow.idempotency.get(tenant.id, "order-1", T0) is None
        assert await uow.conversations.get(tenant.id, PhoneNumber.parse(CUSTOMER)) is None
    driver = await the_driver(one_connection)
    assert driver.info.transaction_status is TransactionStatus.IDLE


async def test_a_free_form_accept_that_checks_the_window_takes_one_round_trip_while_it_is_open(
    one_connection: AsyncEngine, writes: UowFactory, tmp_path: Path
) -> None:
    tenant = await a_tenant(writes, session_window_check=True)
    customer = PhoneNumber.parse(CUSTOMER)
    assert len(customer.forms) == 1  # no other form whose conversation would need reading
    wrote = Message.new_inbound(
        tenant_id=tenant.id,
        sender=OUR_NUMBER,
        contact=customer,
        content=MessageContent(body="hi"),
        now=T0,
        provider_sid="SM" + "0" * 32,
    )
    async with writes() as uow:
        await uow.messages.add(wrote)
        await uow.conversations.record_message(wrote)
        await uow.commit()
    clock = FixedClock(T0 + timedelta(hours=1))
    profiles = SendingProfiles(lambda: 1, ttl_seconds=3600)
    send = send_message(writes, clock, TenantSendLimits(None), profiles)
    driver = await the_driver(one_connection)
    await send(keyed(tenant, "order-1"))  # reads the profile, and keeps it

    with traced(driver, tmp_path / "trace") as round_trips:
        inside = await send(keyed(tenant, "order-2"))
    clock.advance(timedelta(hours=23))
    with pytest.raises(SessionWindowClosed):
        await send(keyed(tenant, "order-3"))

    assert round_trips == [1]
    async with writes() as uow:
        assert await uow.messages.get(tenant.id, inside.message.id) == inside.message
        assert await uow.idempotency.get(tenant.id, "order-3", clock.now()) is None
        conversation = await uow.conversations.get(tenant.id, customer)
    assert conversation is not None
    assert conversation.last_message_id == inside.message.id
