"""Dispatching accepted messages: every outcome ends in a terminal state or a scheduled next step."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import timedelta
from typing import Any

import pytest

from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.messaging.dispatcher import Dispatcher, DispatcherSettings, SenderThrottle
from application.ports.dispatch_queue import DispatchJob, JobPhase
from application.ports.messages import StatusChange
from application.ports.providers import (
    LookupResult,
    OutboundRequest,
    OutcomeKind,
    ProviderLookup,
    SendOutcome,
)
from application.principal import Principal
from application.tenant_webhooks.endpoints import RegisterWebhookCommand, RegisterWebhookEndpoint
from domain.administration.tenancy import Role
from domain.messaging.failures import Failure, FailureCode
from domain.messaging.messages import Message, MessageStatus
from domain.phone import PhoneNumber
from domain.retry_policy import RetryPolicy
from tests.support.fakes import (
    FakeDatabase,
    FakeMessagingProvider,
    FakeMetrics,
    FakeUnitOfWork,
    FakeWebhookUrlGuard,
    FixedClock,
    TenantAccount,
)
from tests.support.use_cases import OWNER, accept

SETTINGS = DispatchSettings(
    retry=RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=10)),
    reconcile_after=timedelta(seconds=30),
    unconfirmed_after=timedelta(hours=1),
    sender_pause=timedelta(minutes=15),
)


async def claim_and_run(
    uow: FakeUnitOfWork, provider: FakeMessagingProvider, clock: FixedClock
) -> Message | None:
    async with uow:
        jobs = await uow.jobs.claim_due(owner=OWNER, now=clock.now(), lease_seconds=60, limit=10)
        await uow.commit()
    assert len(jobs) == 1
    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(uow.database), provider, clock, SETTINGS, metrics=FakeMetrics()
    )
    return await dispatch(jobs[0], OWNER)


async def stored(uow: FakeUnitOfWork, message: Message) -> Message:
    found = await uow.messages.get(message.tenant_id, message.id)
    assert found is not None
    return found


async def test_an_accepted_answer_records_the_sid_and_ends_the_job(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)

    await claim_and_run(uow, provider, clock)

    after = await stored(uow, message)
    assert after.status is MessageStatus.QUEUED
    assert after.provider_sid == "SM00000001"
    assert after.provider is acme.tenant.provider
    assert after.failure is None
    assert uow.jobs.all() == []


async def test_a_permanent_refusal_fails_the_message_at_once_with_a_readable_reason(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)
    provider.will_return(
        SendOutcome(
            kind=OutcomeKind.REJECTED,
            error_code=21211,
            reason="the 'To' number is not a valid phone number",
            failure_code=FailureCode.RECIPIENT_INVALID,
            provider_error_message="The 'To' number +14155550123 is not a valid phone number.",
        )
    )

    await claim_and_run(uow, provider, clock)

    after = await stored(uow, message)
    assert after.status is MessageStatus.FAILED
    assert after.error_code == 21211
    assert after.error_message == "the 'To' number is not a valid phone number"
    assert after.failure == Failure(
        FailureCode.RECIPIENT_INVALID,
        provider=acme.tenant.provider,
        provider_code=21211,
        provider_message="The 'To' number +14155550123 is not a valid phone number.",
        reason="the 'To' number is not a valid phone number",
    )
    assert uow.jobs.all() == []
    assert len(provider.requests) == 1


async def test_a_refusal_the_provider_gave_no_code_of_ours_for_is_unknown(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)
    provider.will_return(SendOutcome(kind=OutcomeKind.REJECTED, reason="no"))

    await claim_and_run(uow, provider, clock)

    failure = (await stored(uow, message)).failure
    assert failure is not None
    assert (failure.code, failure.reason, failure.provider_code) == (FailureCode.UNKNOWN, "no", None)


async def test_a_retryable_failure_is_retried_later_then_fails_when_attempts_run_out(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)
    provider.will_return(
        SendOutcome(
            kind=OutcomeKind.RETRYABLE,
            error_code=20429,
            reason="Too many requests",
            failure_code=FailureCode.RATE_LIMITED,
        )
    )

    await claim_and_run(uow, provider, clock)
    (job,) = uow.jobs.all()
    assert job.attempts == 1
    assert clock.now() <= job.available_at <= clock.now() + timedelta(seconds=1)
    assert (await stored(uow, message)).status is MessageStatus.ACCEPTED

    for _ in range(2):
        clock.advance(timedelta(seconds=20))
        await claim_and_run(uow, provider, clock)

    after = await stored(uow, message)
    assert after.status is MessageStatus.FAILED
    assert after.error_message is not None
    assert after.error_message.startswith("attempts exhausted (3)")
    # It failed for what kept it from going, which may pass: a later retry can succeed.
    assert after.failure is not None
    assert (after.failure.code, after.failure.provider_code) == (FailureCode.RATE_LIMITED, 20429)
    assert after.failure.retryable is True
    assert uow.jobs.all() == []
    assert len(provider.requests) == 3


async def test_a_provider_unreachable_until_the_attempts_run_out_is_a_provider_error(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)
    provider.will_return(SendOutcome(kind=OutcomeKind.RETRYABLE, reason="Twilio unreachable"))

    for _ in range(3):
        await claim_and_run(uow, provider, clock)
        clock.advance(timedelta(seconds=20))

    failure = (await stored(uow, message)).failure
    assert failure is not None
    assert (failure.code, failure.provider_code, failure.retryable) == (
        FailureCode.PROVIDER_ERROR,
        None,
        True,
    )


async def test_retry_after_is_honoured(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    await accept(uow, acme, clock)
    provider.will_return(SendOutcome(kind=OutcomeKind.RETRYABLE, error_code=20429, retry_after_seconds=7))

    await claim_and_run(uow, provider, clock)

    (job,) = uow.jobs.all()
    assert job.available_at == clock.now() + timedelta(seconds=7)


async def test_an_unknown_outcome_is_reconciled_not_resent(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)
    provider.will_return(SendOutcome(kind=OutcomeKind.UNKNOWN, reason="timeout"))

    await claim_and_run(uow, provider, clock)
    (job,) = uow.jobs.all()
    assert job.phase is JobPhase.RECONCILE
    assert job.available_at == clock.now() + SETTINGS.reconcile_after

    provider.lookup_result = ProviderLookup(
        result=LookupResult.FOUND, provider_sid="SM-found", status=MessageStatus.SENT
    )
    clock.advance(SETTINGS.reconcile_after)
    await claim_and_run(uow, provider, clock)

    after = await stored(uow, message)
    assert (after.status, after.provider_sid) == (MessageStatus.SENT, "SM-found")
    assert len(provider.requests) == 1, "the message was found, so it was not sent again"
    assert uow.jobs.all() == []


async def test_an_unknown_outcome_that_the_provider_does_not_have_is_sent_again(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)
    provider.will_return(SendOutcome(kind=OutcomeKind.UNKNOWN, reason="timeout"))
    await claim_and_run(uow, provider, clock)

    clock.advance(SETTINGS.reconcile_after)
    await claim_and_run(uow, provider, clock)  # lookup: not found → due for sending now
    (job,) = uow.jobs.all()
    assert job.phase is JobPhase.SEND
    provider.outcome = None  # the provider answers normally again
    await claim_and_run(uow, provider, clock)

    after = await stored(uow, message)
    assert after.status is MessageStatus.QUEUED
    assert len(provider.requests) == 2


async def test_a_status_callback_that_settled_the_message_ends_the_job_without_sending(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)
    async with uow:
        await uow.messages.attach_provider_sid(message.tenant_id, message.id, "SM-from-callback")
        await uow.commit()
    async with uow:
        await uow.messages.advance_status(
            StatusChange("SM-from-callback", MessageStatus.DELIVERED), clock.now()
        )
        await uow.commit()

    await claim_and_run(uow, provider, clock)

    assert provider.requests == []
    assert (await stored(uow, message)).status is MessageStatus.DELIVERED
    assert uow.jobs.all() == []


async def test_a_sender_at_its_messaging_limit_is_paused_and_others_go_on(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    globex: TenantAccount,
    clock: FixedClock,
    provider: FakeMessagingProvider,
) -> None:
    await accept(uow, acme, clock)
    provider.will_return(
        SendOutcome(kind=OutcomeKind.RETRYABLE, error_code=63018, reason="limit", sender_at_limit=True)
    )
    await claim_and_run(uow, provider, clock)
    provider.outcome = None
    await accept(uow, globex, clock)

    clock.advance(timedelta(minutes=1))
    async with uow:
        due = await uow.jobs.claim_due(owner=OWNER, now=clock.now(), lease_seconds=60, limit=10)
        await uow.commit()

    assert [job.tenant_id for job in due] == [globex.tenant.id]
    assert uow.senders.paused_until[
        (acme.tenant.id, acme.sender.phone_number.e164)
    ] == clock.now() + timedelta(minutes=14)


async def test_a_problem_with_the_senders_account_pauses_the_sender_and_tells_the_tenant_once(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    principal = Principal(user_id=acme.user.id, tenant_id=acme.tenant.id, role=Role.TENANT_ADMIN)
    await RegisterWebhookEndpoint(uow, FakeWebhookUrlGuard(), clock)(
        RegisterWebhookCommand(
            principal=principal, url="https://crm.example.com/hooks", events=("sender.paused",)
        )
    )
    first = await accept(uow, acme, clock)
    second = await accept(uow, acme, clock)
    provider.will_return(
        SendOutcome(
            kind=OutcomeKind.RETRYABLE,
            error_code=190,
            reason="the access token expired or was revoked",
            account_problem=True,
            failure_code=FailureCode.ACCOUNT_MISCONFIGURED,
        )
    )

    async with uow:
        jobs = await uow.jobs.claim_due(owner=OWNER, now=clock.now(), lease_seconds=60, limit=10)
        await uow.commit()
    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(uow.database), provider, clock, SETTINGS, metrics=FakeMetrics()
    )
    await dispatch(jobs[0], OWNER)

    paused_until = clock.now() + SETTINGS.sender_pause
    assert uow.senders.paused_until[(acme.tenant.id, acme.sender.phone_number.e164)] == paused_until
    [event] = uow.webhook_deliveries.all()
    data = json.loads(event.payload)["data"]
    assert data["sender"] == acme.sender.phone_number.e164
    assert data["error_code"] == 190
    assert data["failure_code"] == "account-misconfigured"
    assert data["reason"] == "the access token expired or was revoked"
    assert data["message_id"] == str(jobs[0].message_id)
    # Neither message failed: both wait, unclaimed while the sender rests.
    assert {(await stored(uow, m)).status for m in (first, second)} == {MessageStatus.ACCEPTED}
    clock.advance(timedelta(minutes=1))
    async with uow:
        assert await uow.jobs.claim_due(owner="w2", now=clock.now(), lease_seconds=60, limit=10) == []


async def test_a_sender_paused_already_is_not_paused_again_nor_the_tenant_told_twice(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    principal = Principal(user_id=acme.user.id, tenant_id=acme.tenant.id, role=Role.TENANT_ADMIN)
    await RegisterWebhookEndpoint(uow, FakeWebhookUrlGuard(), clock)(
        RegisterWebhookCommand(
            principal=principal, url="https://crm.example.com/hooks", events=("sender.paused",)
        )
    )
    await accept(uow, acme, clock)
    await accept(uow, acme, clock)
    provider.will_return(
        SendOutcome(kind=OutcomeKind.RETRYABLE, error_code=190, reason="token revoked", account_problem=True)
    )
    async with uow:  # both were taken before the first answer came back
        jobs = await uow.jobs.claim_due(owner=OWNER, now=clock.now(), lease_seconds=60, limit=10)
        await uow.commit()
    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(uow.database), provider, clock, SETTINGS, metrics=FakeMetrics()
    )

    await dispatch(jobs[0], OWNER)
    clock.advance(timedelta(seconds=5))
    await dispatch(jobs[1], OWNER)

    assert len(uow.webhook_deliveries.all()) == 1
    key = (acme.tenant.id, acme.sender.phone_number.e164)
    assert uow.senders.paused_until[key] == clock.now() - timedelta(seconds=5) + SETTINGS.sender_pause


async def test_a_provider_without_lookup_waits_for_a_status_report_then_fails_the_message_unsent(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)
    provider.will_return(SendOutcome(kind=OutcomeKind.UNKNOWN, reason="no answer from Meta"))
    provider.lookup_result = ProviderLookup(result=LookupResult.NOT_SUPPORTED)
    await claim_and_run(uow, provider, clock)

    for _ in range(3):  # looked at again and again while no status report comes
        clock.advance(SETTINGS.reconcile_after)
        await claim_and_run(uow, provider, clock)
        (job,) = uow.jobs.all()
        assert job.phase is JobPhase.RECONCILE
        assert (await stored(uow, message)).status is MessageStatus.ACCEPTED
    clock.advance(SETTINGS.unconfirmed_after)
    await claim_and_run(uow, provider, clock)

    after = await stored(uow, message)
    assert after.status is MessageStatus.FAILED
    assert after.error_message is not None
    assert "never confirmed" in after.error_message
    assert "not sent again" in after.error_message
    assert after.failure is not None
    assert after.failure.code is FailureCode.OUTCOME_UNCONFIRMED
    assert after.failure.retryable is False
    assert len(provider.requests) == 1
    assert uow.jobs.all() == []


async def test_a_message_its_provider_cannot_look_up_is_settled_by_its_status_report(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)
    provider.will_return(SendOutcome(kind=OutcomeKind.UNKNOWN, reason="no answer from Meta"))
    provider.lookup_result = ProviderLookup(result=LookupResult.NOT_SUPPORTED)
    await claim_and_run(uow, provider, clock)
    async with uow:  # the provider's "sent" report, tied to the message by our id, arrives
        await uow.messages.attach_provider_sid(message.tenant_id, message.id, "wamid.HBgL")
        await uow.messages.advance_status(StatusChange("wamid.HBgL", MessageStatus.SENT), clock.now())
        await uow.commit()

    clock.advance(SETTINGS.reconcile_after)
    await claim_and_run(uow, provider, clock)

    assert (await stored(uow, message)).status is MessageStatus.SENT
    assert len(provider.requests) == 1
    assert uow.jobs.all() == []


async def test_a_message_sent_long_after_its_acceptance_still_waits_for_its_status_report(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    # Held back for longer than the wait (a paused sender, back-offs, a failed message retried): the
    # wait runs from the send that got no answer, so the report that comes after it still counts.
    message = await accept(uow, acme, clock)
    clock.advance(SETTINGS.unconfirmed_after * 2)
    provider.will_return(SendOutcome(kind=OutcomeKind.UNKNOWN, reason="no answer from Meta"))
    provider.lookup_result = ProviderLookup(result=LookupResult.NOT_SUPPORTED)
    await claim_and_run(uow, provider, clock)
    sent_at = clock.now()

    clock.advance(SETTINGS.reconcile_after)
    await claim_and_run(uow, provider, clock)
    (job,) = uow.jobs.all()
    assert (job.phase, job.unconfirmed_since) == (JobPhase.RECONCILE, sent_at)
    assert (await stored(uow, message)).status is MessageStatus.ACCEPTED
    async with uow:  # Meta's "sent" report, tied to the message by our id, arrives
        await uow.messages.attach_provider_sid(message.tenant_id, message.id, "wamid.HBgL")
        await uow.messages.advance_status(StatusChange("wamid.HBgL", MessageStatus.SENT), clock.now())
        await uow.commit()
    clock.advance(SETTINGS.reconcile_after)
    await claim_and_run(uow, provider, clock)

    assert (await stored(uow, message)).status is MessageStatus.SENT
    assert len(provider.requests) == 1
    assert uow.jobs.all() == []


async def test_a_message_whose_worker_vanished_waits_for_its_status_report_from_the_end_of_that_lease(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)
    clock.advance(SETTINGS.unconfirmed_after * 2)
    async with uow:  # a worker takes it and is never heard of again: it may have sent it
        await uow.jobs.claim_due(owner="vanished", now=clock.now(), lease_seconds=60, limit=1)
        await uow.commit()
    lease_ended = clock.now() + timedelta(seconds=60)
    provider.lookup_result = ProviderLookup(result=LookupResult.NOT_SUPPORTED)

    clock.advance(timedelta(seconds=61))
    await claim_and_run(uow, provider, clock)
    (job,) = uow.jobs.all()
    assert (job.phase, job.unconfirmed_since) == (JobPhase.RECONCILE, lease_ended)
    clock.advance(lease_ended + SETTINGS.unconfirmed_after - timedelta(seconds=1) - clock.now())
    await claim_and_run(uow, provider, clock)
    assert (await stored(uow, message)).status is MessageStatus.ACCEPTED
    clock.advance(timedelta(seconds=1))
    await claim_and_run(uow, provider, clock)

    after = await stored(uow, message)
    assert after.status is MessageStatus.FAILED
    assert "never confirmed" in (after.error_message or "")
    assert provider.requests == [], "never sent again"
    assert uow.jobs.all() == []


async def test_a_worker_whose_lease_ran_out_does_not_overwrite_the_new_owner(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)
    async with uow:
        (stale,) = await uow.jobs.claim_due(owner="slow-worker", now=clock.now(), lease_seconds=1, limit=1)
        await uow.commit()
    clock.advance(timedelta(seconds=5))
    await claim_and_run(uow, provider, clock)  # the new owner looks it up first: not at the provider
    await claim_and_run(uow, provider, clock)  # then sends it

    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(uow.database), provider, clock, SETTINGS, metrics=FakeMetrics()
    )
    await dispatch(stale, "slow-worker")  # the slow worker wakes up

    assert len(provider.lookups) == 1
    assert len(provider.requests) == 1, "the slow worker no longer held the lease, so it did not send"
    assert (await stored(uow, message)).provider_sid == "SM00000001"


async def test_a_worker_that_lost_its_lease_while_waiting_does_not_send(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)
    async with uow:
        (stale,) = await uow.jobs.claim_due(owner="slow-worker", now=clock.now(), lease_seconds=1, limit=1)
        await uow.commit()
    clock.advance(timedelta(seconds=5))
    async with uow:  # another worker takes the job over; it is about to send
        (taken,) = await uow.jobs.claim_due(owner=OWNER, now=clock.now(), lease_seconds=60, limit=1)
        await uow.commit()

    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(uow.database), provider, clock, SETTINGS, metrics=FakeMetrics()
    )
    # The slow worker finally gets its tenant slot: its lease is gone, so it leaves the job alone.
    assert await dispatch(stale, "slow-worker") is None

    assert provider.requests == []
    assert taken.phase is JobPhase.RECONCILE
    assert (await stored(uow, message)).status is MessageStatus.ACCEPTED


async def test_a_job_whose_owner_vanished_mid_attempt_is_looked_up_before_it_is_sent_again(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock, provider: FakeMessagingProvider
) -> None:
    message = await accept(uow, acme, clock)
    async with uow:  # a worker leases the job, sends, and is killed before it records the answer
        await uow.jobs.claim_due(owner="killed-worker", now=clock.now(), lease_seconds=1, limit=1)
        await uow.commit()
    provider.lookup_result = ProviderLookup(
        result=LookupResult.FOUND, provider_sid="SM" + "7" * 32, status=MessageStatus.SENT
    )
    clock.advance(timedelta(seconds=5))

    settled = await claim_and_run(uow, provider, clock)

    assert provider.requests == [], "the provider had it already: nothing sent again"
    assert len(provider.lookups) == 1
    assert settled is not None
    assert (settled.status, settled.provider_sid) == (MessageStatus.SENT, "SM" + "7" * 32)
    assert (await stored(uow, message)).provider_sid == "SM" + "7" * 32


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=60))
    rng = random.Random(7)

    delays = [policy.delay_after(n, rng=rng) for n in range(1, 11) for _ in range(50)]

    assert all(timedelta(0) <= d <= timedelta(seconds=60) for d in delays)
    assert max(policy.delay_after(1, rng=rng) for _ in range(50)) <= timedelta(seconds=1)
    assert max(policy.delay_after(10, rng=rng) for _ in range(200)) > timedelta(seconds=30)
    assert policy.delay_after(1, retry_after=timedelta(seconds=90), rng=rng) == timedelta(seconds=90)


async def test_the_dispatcher_drains_the_queue_within_the_per_tenant_cap(
    uow: FakeUnitOfWork, acme: TenantAccount, clock: FixedClock
) -> None:
    in_flight, peak = 0, 0
    provider = FakeMessagingProvider()

    async def slow(_: object) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1

    provider.on_send = slow
    messages = [await accept(uow, acme, clock) for _ in range(12)]
    database: FakeDatabase = uow.database
    dispatcher = Dispatcher(
        lambda: FakeUnitOfWork(database),
        DispatchMessage(lambda: FakeUnitOfWork(database), provider, clock, SETTINGS, metrics=FakeMetrics()),
        clock,
        DispatcherSettings(
            max_in_flight_per_tenant=3, poll_interval_seconds=0.01, sender_messages_per_second=1000
        ),
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(dispatcher.run(stop))
    for _ in range(200):
        if not uow.jobs.all() and dispatcher.in_flight == 0:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await runner

    assert len(provider.requests) == 12
    assert peak <= 3
    assert {(await stored(uow, m)).status for m in messages} == {MessageStatus.QUEUED}


@pytest.mark.parametrize("rate", [20.0])
async def test_the_sender_throttle_spaces_messages(rate: float) -> None:
    loop = asyncio.get_running_loop()
    throttle = SenderThrottle(rate, loop.time)
    sender = PhoneNumber.parse("+14155238886")
    start = loop.time()

    for _ in range(int(rate) + 10):
        await throttle.acquire(sender)

    # a full bucket of `rate`, then 10 more at `rate` per second
    assert loop.time() - start >= 10 / rate * 0.9


class PausedTime:
    """A monotonic clock for the sender throttle: it stands still (a sender's bucket, once spent, stays
    empty) until ``run`` is called, then moves a second on every read (every bucket refills at once)."""

    def __init__(self) -> None:
        self._now = 0.0
        self._running = False

    def __call__(self) -> float:
        if self._running:
            self._now += 1.0
        return self._now

    def run(self) -> None:
        self._running = True


async def dispatch_everything(
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    clock: FixedClock,
    settings: DispatcherSettings,
    *,
    until_sent: asyncio.Event,
    throttle: SenderThrottle | None = None,
) -> None:
    """Run a dispatcher until ``until_sent`` is set and the queue is empty."""
    database: FakeDatabase = uow.database
    dispatcher = Dispatcher(
        lambda: FakeUnitOfWork(database),
        DispatchMessage(lambda: FakeUnitOfWork(database), provider, clock, SETTINGS, metrics=FakeMetrics()),
        clock,
        settings,
        throttle=throttle,
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(dispatcher.run(stop))

    try:
        await asyncio.wait_for(until_sent.wait(), timeout=30)  # a safety net for a regression
        for _ in range(3000):
            if not uow.jobs.all() and dispatcher.in_flight == 0:
                break
            await asyncio.sleep(0.01)
    finally:
        until_sent.set()
        stop.set()
        await runner


async def test_a_tenant_at_its_in_flight_cap_does_not_keep_another_tenant_waiting_behind_its_backlog(
    uow: FakeUnitOfWork, acme: TenantAccount, globex: TenantAccount, clock: FixedClock
) -> None:
    backlog = [await accept(uow, acme, clock) for _ in range(30)]
    clock.advance()
    later = await accept(uow, globex, clock)
    provider = FakeMessagingProvider()
    globex_sent = asyncio.Event()

    async def acme_waits_for_globex(request: OutboundRequest) -> None:
        if request.tenant.id == globex.tenant.id:
            globex_sent.set()
        await globex_sent.wait()  # acme's sends hang at the provider until globex's has gone out

    provider.on_send = acme_waits_for_globex
    settings = DispatcherSettings(
        batch_size=10,
        max_concurrent_sends=20,
        max_in_flight_per_tenant=5,
        sender_messages_per_second=1000,
        poll_interval_seconds=0.01,
    )

    await dispatch_everything(uow, provider, clock, settings, until_sent=globex_sent)

    order = [request.message.id for request in provider.requests]
    assert order.index(later.id) <= 5, "only the sends acme had in flight went out before globex's"
    assert set(order) == {m.id for m in [*backlog, later]}


async def test_a_sender_with_a_second_of_jobs_waiting_does_not_keep_another_tenant_waiting(
    uow: FakeUnitOfWork, acme: TenantAccount, globex: TenantAccount, clock: FixedClock
) -> None:
    backlog = [await accept(uow, acme, clock) for _ in range(40)]
    clock.advance()
    later = await accept(uow, globex, clock)
    provider = FakeMessagingProvider()
    globex_sent = asyncio.Event()
    time = PausedTime()

    async def time_runs_once_globex_is_sent(request: OutboundRequest) -> None:
        if request.tenant.id == globex.tenant.id:
            globex_sent.set()
            time.run()

    provider.on_send = time_runs_once_globex_is_sent
    rate = 2.0  # acme's sender sends its burst of 2, then waits: the throttle's time stands still
    settings = DispatcherSettings(
        batch_size=10, max_concurrent_sends=20, sender_messages_per_second=rate, poll_interval_seconds=0.01
    )

    await dispatch_everything(
        uow, provider, clock, settings, until_sent=globex_sent, throttle=SenderThrottle(rate, time)
    )

    order = [request.message.id for request in provider.requests]
    assert order.index(later.id) <= 2, "only acme's burst went out before globex's"
    assert set(order) == {m.id for m in [*backlog, later]}


async def test_a_claim_that_fails_unexpectedly_is_logged_and_the_dispatcher_goes_on_sending(
    uow: FakeUnitOfWork,
    acme: TenantAccount,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A dispatcher that died of one error would leave every accepted message unsent, unnoticed.
    message = await accept(uow, acme, clock)
    provider = FakeMessagingProvider()
    sent = asyncio.Event()

    async def on_send(_: object) -> None:
        sent.set()

    provider.on_send = on_send
    claim_due = type(uow.jobs).claim_due
    failed = 0

    async def fails_once(self: object, **kwargs: Any) -> list[DispatchJob]:
        nonlocal failed
        if not failed:
            failed += 1
            raise RuntimeError("a bug in the claim")
        return await claim_due(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(type(uow.jobs), "claim_due", fails_once)

    await dispatch_everything(
        uow, provider, clock, DispatcherSettings(poll_interval_seconds=0.01), until_sent=sent
    )

    assert failed == 1
    assert len(provider.requests) == 1
    assert (await stored(uow, message)).status is MessageStatus.QUEUED
    assert any("claim failed" in record.getMessage() for record in caplog.records)
