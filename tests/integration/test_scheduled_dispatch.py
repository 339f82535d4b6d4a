"""A scheduled send survives a restart: it is rows, so a worker started after its time (the one running
when it was accepted having stopped) sends it, once, and not before its time; on PostgreSQL and SQLite.

Sending is the real use case and the real dispatcher loop over the real database and the wall clock;
only the provider is a fake, which notes when it was called. A send is scheduled at least a minute
ahead: the message is accepted by a clock running 58 seconds behind, so it falls due two seconds from
now and the test waits seconds, not minutes.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from adapters.system_clock import SystemClock
from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.messaging.dispatcher import Dispatcher, DispatcherSettings
from application.messaging.send_message import SendMessage, SendMessageCommand
from application.ports.providers import OutboundRequest
from domain.messaging.messages import MessageStatus
from tests.support.databases import UowFactory
from tests.support.fakes import FakeMessagingProvider, FakeMetrics, FixedClock
from tests.support.repositories.dispatch import CONTACT, tenant_with_sender

DUE_IN = timedelta(seconds=2)
WAIT_LIMIT_SECONDS = 30.0  # a bound for a stuck run, not a speed requirement


def worker(uow_factory: UowFactory, provider: FakeMessagingProvider, name: str) -> Dispatcher:
    """A worker process's dispatcher, as ``wa-gateway worker`` builds it."""
    clock = SystemClock()
    dispatch = DispatchMessage(uow_factory, provider, clock, DispatchSettings(), metrics=FakeMetrics())
    return Dispatcher(uow_factory, dispatch, clock, DispatcherSettings(), owner=name)


async def run_for(dispatcher: Dispatcher, seconds: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.create_task(dispatcher.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await loop


async def test_a_worker_started_after_its_time_sends_a_scheduled_message_once_and_not_before(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    provider = FakeMessagingProvider()
    sent_at: list[datetime] = []
    sent = asyncio.Event()

    async def note_the_time(_: OutboundRequest) -> None:
        sent_at.append(datetime.now(UTC))
        sent.set()

    provider.on_send = note_the_time
    first_worker = worker(uow_factory, provider, "worker-before-restart")
    send_at = datetime.now(UTC) + DUE_IN
    accepting_clock = FixedClock(send_at - timedelta(minutes=1))
    send_message = SendMessage(
        uow_factory(),
        first_worker,
        accepting_clock,
        wait_seconds=1.0,
        metrics=FakeMetrics(),
        provider=provider,
    )
    accepted = await send_message(
        SendMessageCommand(
            tenant_id=tenant.id,
            to_number=CONTACT.e164,
            content_sid="HX" + "0" * 32,  # a template: no session window to open first
            send_at=send_at,
        )
    )
    assert accepted.message.status is MessageStatus.SCHEDULED

    # The worker running when it was accepted stops before its time (a deploy, a crash).
    await run_for(first_worker, 0.5)
    assert provider.requests == []
    await asyncio.sleep((send_at - datetime.now(UTC)).total_seconds())

    # After its time, a new worker starts and picks it up.
    restarted = worker(uow_factory, provider, "worker-after-restart")
    stop = asyncio.Event()
    loop = asyncio.create_task(restarted.run(stop))
    await asyncio.wait_for(sent.wait(), WAIT_LIMIT_SECONDS)
    await asyncio.sleep(0.5)  # room for a second send, were there one
    stop.set()
    await loop

    assert [request.message.id for request in provider.requests] == [accepted.message.id]
    assert sent_at[0] >= send_at
    async with uow_factory() as uow:
        message = await uow.messages.get(tenant.id, accepted.message.id)
        waiting, _ = await uow.jobs.depth(datetime.now(UTC))
    assert message is not None
    assert (message.status, message.send_at) == (MessageStatus.QUEUED, send_at)
    assert waiting == 0


async def test_a_running_worker_sends_a_scheduled_message_at_its_time_not_before(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    provider = FakeMessagingProvider()
    sent_at: list[datetime] = []
    sent = asyncio.Event()

    async def note_the_time(_: OutboundRequest) -> None:
        sent_at.append(datetime.now(UTC))
        sent.set()

    provider.on_send = note_the_time
    running = worker(uow_factory, provider, "worker")
    stop = asyncio.Event()
    loop = asyncio.create_task(running.run(stop))
    send_at = datetime.now(UTC) + DUE_IN
    send_message = SendMessage(
        uow_factory(),
        running,
        FixedClock(send_at - timedelta(minutes=1)),
        wait_seconds=1.0,
        metrics=FakeMetrics(),
        provider=provider,
    )
    await send_message(
        SendMessageCommand(
            tenant_id=tenant.id, to_number=CONTACT.e164, content_sid="HX" + "1" * 32, send_at=send_at
        )
    )

    await asyncio.wait_for(sent.wait(), WAIT_LIMIT_SECONDS)
    stop.set()
    await loop

    assert len(provider.requests) == 1
    assert sent_at[0] >= send_at
    print(f"scheduled send went {(sent_at[0] - send_at).total_seconds():.3f} s after its time")
