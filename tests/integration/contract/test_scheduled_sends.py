"""The repository contract of scheduled sends: stored with their time, listed soonest first, and moved,
canceled or started by one conditional change of message and job, which a worker's claim either beats
or loses to; on the fakes, SQLite and PostgreSQL alike (see conftest.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from application.ports.dashboard import ActivityPeriods
from application.ports.dispatch_queue import DispatchJob
from application.ports.messages import ScheduledPosition
from domain.administration.tenancy import Tenant
from domain.messaging.messages import Message, MessageContent, MessageStatus
from tests.support.databases import UowFactory
from tests.support.repositories import OUR_NUMBER, T0
from tests.support.repositories.dispatch import CONTACT, claim, tenant_with_sender

AN_HOUR = timedelta(hours=1)


async def scheduled_with_job(
    uow_factory: UowFactory, tenant: Tenant, send_at: timedelta = AN_HOUR
) -> Message:
    """A message scheduled for T0 + ``send_at``, accepted as sending accepts one."""
    message = Message.new_outbound(
        tenant_id=tenant.id,
        sender=OUR_NUMBER,
        contact=CONTACT,
        content=MessageContent(body="See you tomorrow"),
        now=T0,
        send_at=T0 + send_at,
    )
    async with uow_factory() as uow:
        await uow.acceptance.add(message, DispatchJob.scheduled(message, T0 + send_at), None)
        await uow.commit()
    return message


async def stored(uow_factory: UowFactory, message: Message) -> Message | None:
    async with uow_factory() as uow:
        return await uow.messages.get(message.tenant_id, message.id)


async def jobs_of(uow_factory: UowFactory, now: timedelta) -> int:
    async with uow_factory() as uow:
        return (await uow.jobs.depth(T0 + now))[0]


async def test_a_scheduled_message_keeps_its_time_and_its_job_waits_for_it(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await scheduled_with_job(uow_factory, tenant)

    assert await stored(uow_factory, message) == message
    assert await claim(uow_factory, "a", T0 + AN_HOUR - timedelta(seconds=1)) == []
    [job] = await claim(uow_factory, "a", T0 + AN_HOUR)
    assert job.message_id == message.id


async def test_a_scheduled_job_is_not_counted_as_waiting_before_its_time(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    await scheduled_with_job(uow_factory, tenant)

    assert await jobs_of(uow_factory, timedelta(0)) == 0
    async with uow_factory() as uow:
        assert await uow.jobs.depth(T0 + AN_HOUR) == (1, T0 + AN_HOUR)


async def test_the_dashboard_counts_a_scheduled_job_as_waiting_only_from_its_time(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    await scheduled_with_job(uow_factory, tenant)

    async with uow_factory() as uow:
        before = await uow.dashboard.tenant_activity(tenant.id, periods_at(T0))
        after = await uow.dashboard.tenant_activity(tenant.id, periods_at(T0 + AN_HOUR))

    assert (before.queue_waiting, before.queue_oldest_at) == (0, None)
    assert (after.queue_waiting, after.queue_oldest_at) == (1, T0 + AN_HOUR)


def periods_at(now: datetime) -> ActivityPeriods:
    return ActivityPeriods(
        now=now,
        day_start=now.replace(hour=0, minute=0),
        last_24_hours=now - timedelta(hours=24),
        last_7_days=now - timedelta(days=7),
    )


async def test_pending_scheduled_messages_are_listed_soonest_first_by_keyset(uow_factory: UowFactory) -> None:
    tenant, other = await tenant_with_sender(uow_factory), await tenant_with_sender(uow_factory)
    later = await scheduled_with_job(uow_factory, tenant, 3 * AN_HOUR)
    sooner = await scheduled_with_job(uow_factory, tenant, AN_HOUR)
    middle = await scheduled_with_job(uow_factory, tenant, 2 * AN_HOUR)
    gone = await scheduled_with_job(uow_factory, tenant, 4 * AN_HOUR)
    await scheduled_with_job(uow_factory, other, AN_HOUR)
    async with uow_factory() as uow:
        assert await uow.jobs.cancel_scheduled(tenant.id, gone.id, now=T0)
        await uow.commit()

    async with uow_factory() as uow:
        first = await uow.messages.list_scheduled(tenant.id, 2)
        rest = await uow.messages.list_scheduled(
            tenant.id, 2, ScheduledPosition(first[-1].send_at or T0, first[-1].id)
        )

    assert [(view.id, view.send_at) for view in first] == [
        (sooner.id, T0 + AN_HOUR),
        (middle.id, T0 + 2 * AN_HOUR),
    ]
    assert [view.id for view in rest] == [later.id]
    assert all(view.status is MessageStatus.SCHEDULED for view in [*first, *rest])


async def test_rescheduling_moves_the_message_and_its_job(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await scheduled_with_job(uow_factory, tenant)

    async with uow_factory() as uow:
        assert await uow.jobs.reschedule_scheduled(
            tenant.id, message.id, send_at=T0 + 2 * AN_HOUR, now=T0 + timedelta(minutes=5)
        )
        await uow.commit()

    assert await stored(uow_factory, message) == message.rescheduled(
        T0 + 2 * AN_HOUR, T0 + timedelta(minutes=5)
    )
    assert await claim(uow_factory, "a", T0 + AN_HOUR) == []
    assert [job.message_id for job in await claim(uow_factory, "a", T0 + 2 * AN_HOUR)] == [message.id]


async def test_canceling_marks_the_message_canceled_and_removes_its_job(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await scheduled_with_job(uow_factory, tenant)

    async with uow_factory() as uow:
        assert await uow.jobs.cancel_scheduled(tenant.id, message.id, now=T0 + timedelta(minutes=5))
        await uow.commit()
    async with uow_factory() as uow:
        assert not await uow.jobs.cancel_scheduled(tenant.id, message.id, now=T0 + timedelta(minutes=6))

    assert await stored(uow_factory, message) == message.canceled(T0 + timedelta(minutes=5))
    assert await claim(uow_factory, "a", T0 + AN_HOUR) == []


async def test_another_tenant_can_neither_move_nor_cancel_it(uow_factory: UowFactory) -> None:
    tenant, other = await tenant_with_sender(uow_factory), await tenant_with_sender(uow_factory)
    message = await scheduled_with_job(uow_factory, tenant)

    async with uow_factory() as uow:
        assert not await uow.jobs.reschedule_scheduled(other.id, message.id, send_at=T0 + 2 * AN_HOUR, now=T0)
        assert not await uow.jobs.cancel_scheduled(other.id, message.id, now=T0)
        await uow.commit()

    assert await stored(uow_factory, message) == message


async def test_once_a_worker_holds_the_job_it_is_neither_moved_nor_canceled(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await scheduled_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0 + AN_HOUR)

    async with uow_factory() as uow:
        now = T0 + AN_HOUR + timedelta(seconds=1)
        assert not await uow.jobs.reschedule_scheduled(tenant.id, message.id, send_at=now + AN_HOUR, now=now)
        assert not await uow.jobs.cancel_scheduled(tenant.id, message.id, now=now)
        await uow.commit()

    assert await stored(uow_factory, message) == message
    assert await jobs_of(uow_factory, AN_HOUR) == 1


async def test_only_the_worker_holding_the_job_starts_the_message(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await scheduled_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0 + AN_HOUR)
    now = T0 + AN_HOUR + timedelta(seconds=1)

    async with uow_factory() as uow:
        assert not await uow.jobs.start_scheduled(message.id, tenant.id, owner="b", now=now)
        assert await uow.jobs.start_scheduled(message.id, tenant.id, owner="a", now=now)
        await uow.commit()
    async with uow_factory() as uow:
        assert not await uow.jobs.start_scheduled(message.id, tenant.id, owner="a", now=now), "started once"

    assert await stored(uow_factory, message) == message.due(now)


async def test_a_started_message_whose_worker_vanished_is_not_canceled(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await scheduled_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0 + AN_HOUR)
    async with uow_factory() as uow:
        assert await uow.jobs.start_scheduled(message.id, tenant.id, owner="a", now=T0 + AN_HOUR)
        await uow.commit()
    later = T0 + 2 * AN_HOUR  # the lease ran out: the job is free, but the message is on its way

    async with uow_factory() as uow:
        assert not await uow.jobs.cancel_scheduled(tenant.id, message.id, now=later)
        await uow.commit()

    assert await jobs_of(uow_factory, 2 * AN_HOUR) == 1, "its job stays, for the next worker to finish"


async def test_a_worker_that_vanished_before_starting_it_leaves_it_scheduled_and_movable(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await scheduled_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0 + AN_HOUR)
    later = T0 + 2 * AN_HOUR  # its lease ran out

    async with uow_factory() as uow:
        assert await uow.jobs.reschedule_scheduled(tenant.id, message.id, send_at=later + AN_HOUR, now=later)
        await uow.commit()

    [job] = await claim(uow_factory, "b", later + AN_HOUR)
    assert job.phase.value == "send", "never sent, so nothing to reconcile"
    async with uow_factory() as uow:
        assert not await uow.jobs.start_scheduled(message.id, tenant.id, owner="a", now=later + AN_HOUR)


@pytest.mark.sql_only("concurrency between connections; the fake runs one block at a time")
async def test_a_cancel_racing_a_claim_either_wins_or_loses_cleanly(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    messages = [await scheduled_with_job(uow_factory, tenant) for _ in range(10)]
    now = T0 + AN_HOUR

    async def cancel(message: Message) -> bool:
        async with uow_factory() as uow:
            canceled = await uow.jobs.cancel_scheduled(tenant.id, message.id, now=now)
            await uow.commit()
        return canceled

    claiming = asyncio.ensure_future(claim(uow_factory, "a", now))
    won = await asyncio.gather(*(cancel(m) for m in messages))
    jobs = await claiming

    claimed = {job.message_id for job in jobs}
    canceled = {m.id for m, canceled_it in zip(messages, won, strict=True) if canceled_it}
    assert claimed.isdisjoint(canceled)
    assert claimed | canceled == {m.id for m in messages}
    for message in messages:
        status = (await stored(uow_factory, message) or message).status
        expected = MessageStatus.CANCELED if message.id in canceled else MessageStatus.SCHEDULED
        assert status is expected
