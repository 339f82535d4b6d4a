"""The repository contract of the dispatch queue and idempotency keys (leases, skipping, expiry), on
the fakes, SQLite and PostgreSQL alike (see conftest.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from application.errors import AlreadyExists
from application.ports.dispatch_queue import DispatchCompletion, JobPhase, LeasedAttempt
from domain.administration.tenancy import (
    MetaCredentials,
    ProviderAccount,
    ProviderName,
    Tenant,
    TwilioCredentials,
)
from domain.messaging.failures import Failure, FailureCode
from domain.messaging.messages import Message, MessageStatus
from domain.phone import PhoneNumber
from tests.support.databases import UowFactory
from tests.support.provider_accounts import set_twilio_credentials
from tests.support.repositories import OUR_NUMBER, T0
from tests.support.repositories.dispatch import (
    accept_holding,
    accepted_with_job,
    claim,
    key_record,
    tenant_with_sender,
)


async def test_due_jobs_are_claimed_oldest_first_and_future_ones_wait(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    later = await accepted_with_job(uow_factory, tenant, due=T0 + timedelta(seconds=5))
    first = await accepted_with_job(uow_factory, tenant, due=T0 - timedelta(seconds=5))
    future = await accepted_with_job(uow_factory, tenant, due=T0 + timedelta(hours=1))

    claimed = await claim(uow_factory, "a", T0 + timedelta(seconds=10))

    assert [job.message_id for job in claimed] == [first.id, later.id]
    assert future.id not in {job.message_id for job in claimed}


async def test_a_leased_job_is_invisible_until_its_lease_runs_out(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await accepted_with_job(uow_factory, tenant)

    assert len(await claim(uow_factory, "a", T0)) == 1
    assert await claim(uow_factory, "b", T0 + timedelta(seconds=29)) == []
    reclaimed = await claim(uow_factory, "b", T0 + timedelta(seconds=31))

    assert [job.message_id for job in reclaimed] == [message.id]
    async with uow_factory() as uow:
        assert not await uow.jobs.complete(message.id, owner="a"), "a lost its lease"
        assert await uow.jobs.complete(message.id, owner="b")
        await uow.commit()


async def test_a_job_whose_lease_ran_out_comes_back_to_be_reconciled(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    await accepted_with_job(uow_factory, tenant)

    (first,) = await claim(uow_factory, "a", T0)
    (again,) = await claim(uow_factory, "b", T0 + timedelta(seconds=31))  # "a" vanished mid-attempt

    assert (first.phase, first.unconfirmed_since) == (JobPhase.SEND, None)
    assert again.phase is JobPhase.RECONCILE, "b looks the message up before it sends anything"
    assert again.unconfirmed_since == T0 + timedelta(seconds=30), "a may have sent it until its lease ended"


async def test_a_reconciling_job_whose_lease_ran_out_keeps_the_moment_its_send_went_unconfirmed(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await accepted_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0)
    async with uow_factory() as uow:
        await uow.jobs.reschedule(
            message.id,
            owner="a",
            attempts=1,
            phase=JobPhase.RECONCILE,
            available_at=T0 + timedelta(seconds=1),
            last_error="timeout",
            unconfirmed_since=T0,
        )
        await uow.commit()
    await claim(uow_factory, "b", T0 + timedelta(seconds=1))

    (again,) = await claim(uow_factory, "c", T0 + timedelta(seconds=32))  # "b" vanished while looking

    assert (again.phase, again.unconfirmed_since) == (JobPhase.RECONCILE, T0)


async def test_only_the_owner_extends_its_lease(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await accepted_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0)

    until = T0 + timedelta(seconds=90)
    async with uow_factory() as uow:
        assert await uow.jobs.extend_lease_and_load(message.id, tenant.id, owner="a", until=until) is not None
        assert await uow.jobs.extend_lease_and_load(message.id, tenant.id, owner="b", until=until) is None
        await uow.commit()

    assert await claim(uow_factory, "b", T0 + timedelta(seconds=60)) == [], "a's lease was extended"
    (taken,) = await claim(uow_factory, "b", T0 + timedelta(seconds=91))
    async with uow_factory() as uow:
        later = T0 + timedelta(minutes=5)
        assert await uow.jobs.extend_lease_and_load(message.id, tenant.id, owner="a", until=later) is None
    assert taken.message_id == message.id


@pytest.mark.sql_only("concurrency between connections; the fake runs one block at a time")
async def test_concurrent_claims_never_hand_out_a_job_twice(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    for _ in range(30):
        await accepted_with_job(uow_factory, tenant)

    results = await asyncio.gather(*(claim(uow_factory, f"w{n}", T0, limit=7) for n in range(6)))

    ids = [job.message_id for jobs in results for job in jobs]
    assert len(ids) == len(set(ids)) == 30


async def test_reschedule_releases_the_lease_and_records_the_attempt(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await accepted_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0)

    async with uow_factory() as uow:
        assert not await uow.jobs.reschedule(
            message.id,
            owner="b",
            attempts=1,
            phase=JobPhase.SEND,
            available_at=T0,
            last_error="x",
            unconfirmed_since=None,
        )
        assert await uow.jobs.reschedule(
            message.id,
            owner="a",
            attempts=1,
            phase=JobPhase.RECONCILE,
            available_at=T0 + timedelta(seconds=30),
            last_error="timeout",
            unconfirmed_since=T0 + timedelta(seconds=2),
        )
        await uow.commit()

    assert await claim(uow_factory, "b", T0 + timedelta(seconds=29)) == []
    (job,) = await claim(uow_factory, "b", T0 + timedelta(seconds=30))
    assert (job.attempts, job.phase, job.last_error) == (1, JobPhase.RECONCILE, "timeout")
    assert job.unconfirmed_since == T0 + timedelta(seconds=2)

    async with uow_factory() as uow:  # not found at the provider: it is to be sent again
        await uow.jobs.reschedule(
            message.id,
            owner="b",
            attempts=1,
            phase=JobPhase.SEND,
            available_at=T0 + timedelta(seconds=30),
            last_error="timeout",
            unconfirmed_since=None,
        )
        await uow.commit()
    (job,) = await claim(uow_factory, "c", T0 + timedelta(seconds=30))
    assert (job.phase, job.unconfirmed_since) == (JobPhase.SEND, None)


async def test_a_paused_sender_s_jobs_wait_for_the_pause_to_end(uow_factory: UowFactory) -> None:
    paused, other = await tenant_with_sender(uow_factory), await tenant_with_sender(uow_factory)
    await accepted_with_job(uow_factory, paused)
    others_message = await accepted_with_job(uow_factory, other)
    async with uow_factory() as uow:
        await uow.senders.pause(paused.id, OUR_NUMBER, T0 + timedelta(minutes=15))
        await uow.commit()

    now_claimed = await claim(uow_factory, "a", T0)
    async with uow_factory() as uow:
        await uow.jobs.complete(others_message.id, owner="a")
        await uow.commit()
    later_claimed = await claim(uow_factory, "a", T0 + timedelta(minutes=16))

    assert [job.tenant_id for job in now_claimed] == [other.id]
    assert [job.tenant_id for job in later_claimed] == [paused.id]


async def test_jobs_of_skipped_senders_and_tenants_stay_queued_for_a_later_claim(
    uow_factory: UowFactory,
) -> None:
    second_number = PhoneNumber.parse("+447911123456")
    busy, quiet = (
        await tenant_with_sender(uow_factory, numbers=(second_number,)),
        await tenant_with_sender(uow_factory),
    )
    busy_backlog = [
        await accepted_with_job(uow_factory, busy, due=T0 - timedelta(seconds=9)) for _ in range(3)
    ]
    busy_second = await accepted_with_job(
        uow_factory, busy, due=T0 - timedelta(seconds=5), sender=second_number
    )
    quiet_message = await accepted_with_job(uow_factory, quiet)

    # The quiet tenant's sender has the same number: the number is what the provider rate-limits.
    sender_skipped = await claim(uow_factory, "a", T0, limit=2, skip_senders=(OUR_NUMBER,))
    tenant_skipped = await claim(uow_factory, "a", T0, skip_tenants=(busy.id,))
    both_skipped = await claim(uow_factory, "a", T0, skip_senders=(OUR_NUMBER,), skip_tenants=(busy.id,))
    rest = await claim(uow_factory, "a", T0)

    assert [job.message_id for job in sender_skipped] == [busy_second.id]
    assert [job.message_id for job in tenant_skipped] == [quiet_message.id]
    assert both_skipped == []
    assert {job.message_id for job in rest} == {m.id for m in busy_backlog}


async def test_a_claim_that_skips_some_tenants_still_leaves_paused_senders_and_leased_jobs_alone(
    uow_factory: UowFactory,
) -> None:
    skipped, paused, other = [await tenant_with_sender(uow_factory) for _ in range(3)]
    await accepted_with_job(uow_factory, skipped)
    await accepted_with_job(uow_factory, paused)
    leased, free = await accepted_with_job(uow_factory, other), await accepted_with_job(uow_factory, other)
    async with uow_factory() as uow:
        await uow.senders.pause(paused.id, OUR_NUMBER, T0 + timedelta(minutes=15))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.jobs.claim(leased.id, owner="b", now=T0, lease_seconds=30) is not None
        await uow.commit()

    claimed = await claim(uow_factory, "a", T0, skip_tenants=(skipped.id,))

    assert [job.message_id for job in claimed] == [free.id]


SID = "SM" + "1" * 32


async def test_extending_the_lease_reads_the_message_its_tenant_and_the_opened_credentials(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    credentials = TwilioCredentials(account_sid="AC" + "0" * 32, auth_token="token-of-the-tenant")
    async with uow_factory() as uow:
        await set_twilio_credentials(uow, tenant.id, credentials)
        await uow.commit()
    message = await accepted_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0)

    async with uow_factory() as uow:
        leased = await uow.jobs.extend_lease_and_load(
            message.id, tenant.id, owner="a", until=T0 + timedelta(seconds=90)
        )
        await uow.commit()

    assert leased is not None
    assert leased.message == message
    assert leased.tenant == tenant
    assert leased.account is not None
    assert leased.account.credentials == credentials
    assert await claim(uow_factory, "b", T0 + timedelta(seconds=60)) == [], "a's lease was extended"
    assert len(await claim(uow_factory, "b", T0 + timedelta(seconds=91))) == 1


async def test_a_tenant_without_credentials_is_read_with_none(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await accepted_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0)

    async with uow_factory() as uow:
        leased = await uow.jobs.extend_lease_and_load(message.id, tenant.id, owner="a", until=T0)

    assert leased is not None
    assert (leased.message, leased.tenant, leased.account) == (message, tenant, None)


META = MetaCredentials(
    business_account_id="102290129340398",
    access_token="EAAG-the-tenants-system-user-access-token",
    app_secret="the-apps-secret-0123456789abcdef",
    verify_token="the-webhook-verify-token",
)
PHONE_NUMBER_ID = "106540352242922"


async def accounts_of(uow_factory: UowFactory, tenant: Tenant) -> tuple[ProviderAccount, ProviderAccount]:
    """``tenant``'s Meta account, then (a second later) its first Twilio account."""
    meta = ProviderAccount(tenant_id=tenant.id, credentials=META, created_at=T0)
    twilio = ProviderAccount(
        tenant_id=tenant.id,
        credentials=TwilioCredentials(account_sid="AC" + "0" * 32, auth_token="token-of-the-tenant"),
        created_at=T0 + timedelta(seconds=1),
    )
    async with uow_factory() as uow:
        await uow.provider_accounts.add(meta)
        await uow.provider_accounts.add(twilio)
        await uow.commit()
    return meta, twilio


async def lease_and_load(uow_factory: UowFactory, tenant: Tenant, message: Message) -> LeasedAttempt:
    await claim(uow_factory, "a", T0)
    async with uow_factory() as uow:
        leased = await uow.jobs.extend_lease_and_load(message.id, tenant.id, owner="a", until=T0)
    assert leased is not None
    return leased


async def test_a_sender_on_its_own_meta_account_is_read_with_it_and_its_phone_number_id(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    meta, _ = await accounts_of(uow_factory, tenant)
    async with uow_factory() as uow:
        sender = await uow.senders.get_default(tenant.id)
        assert sender is not None
        await uow.senders.move(tenant.id, sender.id, meta.id, PHONE_NUMBER_ID)
        await uow.commit()
    message = await accepted_with_job(uow_factory, tenant)

    leased = await lease_and_load(uow_factory, tenant, message)

    assert (leased.account, leased.provider_number_id, leased.sender_has_account) == (
        meta,
        PHONE_NUMBER_ID,
        True,
    )


async def test_a_sender_without_an_account_is_read_with_its_tenants_first_twilio_account(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    _, first_twilio = await accounts_of(uow_factory, tenant)
    message = await accepted_with_job(uow_factory, tenant)

    leased = await lease_and_load(uow_factory, tenant, message)

    assert (leased.account, leased.provider_number_id, leased.sender_has_account) == (
        first_twilio,
        None,
        False,
    )


async def test_a_message_whose_sender_was_removed_is_read_with_its_tenants_first_twilio_account(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    _, first_twilio = await accounts_of(uow_factory, tenant)
    message = await accepted_with_job(uow_factory, tenant)
    async with uow_factory() as uow:
        sender = await uow.senders.get_default(tenant.id)
        assert sender is not None
        await uow.senders.remove(tenant.id, sender.id)
        await uow.commit()

    leased = await lease_and_load(uow_factory, tenant, message)

    assert (leased.message, leased.account, leased.sender_has_account) == (message, first_twilio, False)


async def test_without_the_lease_nothing_is_read_and_the_lease_is_left_alone(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    other_tenant = await tenant_with_sender(uow_factory)
    message = await accepted_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0)

    async with uow_factory() as uow:
        later = T0 + timedelta(hours=1)
        assert await uow.jobs.extend_lease_and_load(message.id, tenant.id, owner="b", until=later) is None
        # The job's own tenant only: named under another tenant, it is not found.
        assert (
            await uow.jobs.extend_lease_and_load(message.id, other_tenant.id, owner="a", until=later) is None
        )
        await uow.commit()

    assert len(await claim(uow_factory, "b", T0 + timedelta(seconds=31))) == 1, "a's lease was not extended"


async def test_completing_a_dispatch_removes_the_job_and_records_the_outcome(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await accepted_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0)
    sent = message.handed_to_provider(
        SID, MessageStatus.QUEUED, T0 + timedelta(seconds=1), provider=ProviderName.TWILIO
    )

    async with uow_factory() as uow:
        assert await uow.jobs.complete_dispatch(sent, owner="a") is DispatchCompletion.RECORDED
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, message.id) == sent
        assert await uow.jobs.depth(T0) == (0, None)


async def test_a_failed_outcome_is_recorded_without_a_provider_sid(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await accepted_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0)
    failure = Failure(
        FailureCode.RECIPIENT_INVALID,
        provider=ProviderName.TWILIO,
        provider_code=21211,
        provider_message="The 'To' number +1500555 is not a valid phone number.",
        reason="the 'To' number is not a valid phone number",
    )
    failed = message.failed(failure, T0)

    async with uow_factory() as uow:
        assert await uow.jobs.complete_dispatch(failed, owner="a") is DispatchCompletion.RECORDED
        await uow.commit()
        assert await uow.messages.get(tenant.id, message.id) == failed


async def test_without_the_lease_completing_a_dispatch_writes_nothing(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await accepted_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0)
    await claim(uow_factory, "b", T0 + timedelta(seconds=31))  # a's lease ran out

    async with uow_factory() as uow:
        sent = message.handed_to_provider(SID, MessageStatus.QUEUED, T0)
        assert await uow.jobs.complete_dispatch(sent, owner="a") is DispatchCompletion.LEASE_LOST
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, message.id) == message, "still accepted, without a SID"
        assert (await uow.jobs.depth(T0))[0] == 1, "b's job is still there"


async def test_a_message_settled_meanwhile_keeps_its_status_and_learns_its_sid(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = await accepted_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0)
    async with uow_factory() as uow:  # settled elsewhere while "a" was sending, before any SID was known
        await uow.messages.update(message.failed(Failure(FailureCode.UNKNOWN, reason="cancelled"), T0))
        await uow.commit()

    async with uow_factory() as uow:
        sent = message.handed_to_provider(SID, MessageStatus.QUEUED, T0 + timedelta(seconds=1))
        assert await uow.jobs.complete_dispatch(sent, owner="a") is DispatchCompletion.SETTLED_ELSEWHERE
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.messages.get(tenant.id, message.id)
        assert await uow.jobs.depth(T0) == (0, None)
    assert stored is not None
    assert (stored.status, stored.provider_sid) == (MessageStatus.FAILED, SID)


async def test_completing_with_another_messages_sid_is_a_conflict_and_writes_nothing(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    holder = await accepted_with_job(uow_factory, tenant)
    message = await accepted_with_job(uow_factory, tenant)
    await claim(uow_factory, "a", T0)
    async with uow_factory() as uow:
        await uow.messages.attach_provider_sid(tenant.id, holder.id, SID)
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.jobs.complete_dispatch(
                message.handed_to_provider(SID, MessageStatus.QUEUED, T0), owner="a"
            )

    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, message.id) == message
        assert (await uow.jobs.depth(T0))[0] == 2


async def test_depth_counts_waiting_jobs_and_the_oldest(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    await accepted_with_job(uow_factory, tenant)
    await accepted_with_job(uow_factory, tenant)

    async with uow_factory() as uow:
        count, oldest = await uow.jobs.depth(T0)

    assert (count, oldest) == (2, T0)


async def test_an_idempotency_key_is_held_per_tenant_until_it_expires(uow_factory: UowFactory) -> None:
    tenant, other = await tenant_with_sender(uow_factory), await tenant_with_sender(uow_factory)
    async with uow_factory() as uow:
        await accept_holding(uow, key_record(tenant, "order-1"))
        await accept_holding(uow, key_record(other, "order-1"))  # keys are scoped to the tenant
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await accept_holding(uow, key_record(tenant, "order-1", at=T0 + timedelta(hours=1)))
    async with uow_factory() as uow:
        await uow.idempotency.complete(tenant.id, "order-1", 201)
        await uow.commit()
        record = await uow.idempotency.get(tenant.id, "order-1", T0 + timedelta(hours=1))
        assert record is not None
        assert record.response_status == 201
        assert await uow.idempotency.get(tenant.id, "order-1", T0 + timedelta(hours=25)) is None

    later = T0 + timedelta(hours=25)
    async with uow_factory() as uow:
        await accept_holding(uow, key_record(tenant, "order-1", at=later, fingerprint="e" * 64))
        await uow.commit()
        reused = await uow.idempotency.get(tenant.id, "order-1", later)
    assert reused is not None
    assert reused.request_fingerprint == "e" * 64


async def test_expired_idempotency_keys_are_purged(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    async with uow_factory() as uow:
        await accept_holding(uow, key_record(tenant, "old"))
        await accept_holding(uow, key_record(tenant, "new", at=T0 + timedelta(hours=12)))
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.idempotency.purge_expired(T0 + timedelta(hours=30)) == 1
        await uow.commit()
        assert await uow.idempotency.get(tenant.id, "new", T0 + timedelta(hours=30)) is not None


OTHER_SENDER = PhoneNumber.parse("+447911123456")


async def test_a_senders_jobs_in_flight_are_those_leased_or_awaiting_confirmation(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory, numbers=(OTHER_SENDER,))
    other_tenant = await tenant_with_sender(uow_factory)
    message = await accepted_with_job(uow_factory, tenant)
    await accepted_with_job(uow_factory, tenant, sender=OTHER_SENDER, due=T0 + timedelta(hours=1))

    async def in_flight(sender: PhoneNumber = OUR_NUMBER) -> int:
        async with uow_factory() as uow:
            return await uow.jobs.in_flight_from(tenant.id, sender)

    assert await in_flight() == 0  # queued, not yet taken
    await claim(uow_factory, "a", T0)
    assert await in_flight() == 1
    async with uow_factory() as uow:  # its send got no answer: it waits to learn what became of it
        await uow.jobs.reschedule(
            message.id,
            owner="a",
            attempts=1,
            phase=JobPhase.RECONCILE,
            available_at=T0 + timedelta(seconds=30),
            last_error="timeout",
            unconfirmed_since=T0,
        )
        await uow.commit()
    assert await in_flight() == 1
    assert await in_flight(OTHER_SENDER) == 0
    async with uow_factory() as uow:
        assert await uow.jobs.in_flight_from(other_tenant.id, OUR_NUMBER) == 0
