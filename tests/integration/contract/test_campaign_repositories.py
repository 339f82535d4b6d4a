"""The repository contract of campaigns and their recipients, on the fakes, SQLite and PostgreSQL alike
(see conftest.py): a campaign written over its version only, each person once per campaign, claims in
audience order that never hand a recipient out twice, and progress read from the messages' statuses."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, time, timedelta
from uuid import UUID

import pytest

from application.errors import AlreadyExists
from application.ports.campaigns import CampaignPosition, RecipientQuery
from application.ports.dispatch_queue import DispatchJob
from domain.campaigns.model import (
    AudienceFilter,
    AudienceKind,
    Campaign,
    CampaignStatus,
    NewRecipient,
    RecipientState,
    SkipReason,
)
from domain.campaigns.schedule import QuietHours, ScheduleState
from domain.messaging.messages import Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.databases import UowFactory
from tests.support.repositories import OUR_NUMBER, T0
from tests.support.repositories.campaigns import a_campaign, add_campaign, add_people, person
from tests.support.repositories.messages import add_tenant, inbound

HELD = T0 + timedelta(days=365 * 100)


async def claim_and_accept(uow_factory: UowFactory, campaign: Campaign, limit: int) -> list[UUID]:
    """One worker's claim: its recipients each get a message and a job, in the claim's transaction."""
    async with uow_factory() as uow:
        claimed = await uow.campaigns.claim_pending(campaign.tenant_id, campaign.id, limit)
        accepted = []
        for recipient in claimed:
            message = Message.new_outbound(
                tenant_id=campaign.tenant_id,
                sender=OUR_NUMBER,
                contact=PhoneNumber(recipient.number),
                content=MessageContent(body="spring sale"),
                now=T0,
            )
            await uow.acceptance.add(message, DispatchJob.due_now(message, T0), None)
            accepted.append((recipient.id, message.id))
        await uow.campaigns.mark_accepted(campaign.tenant_id, accepted, T0)
        await uow.commit()
    return [recipient_id for recipient_id, _ in accepted]


async def test_a_campaign_reads_back_whole(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    campaign = await add_campaign(
        uow_factory,
        a_campaign(
            tenant,
            audience=AudienceKind.CONTACTS,
            audience_filter=AudienceFilter(tags=("vip", "es"), attributes=(("city", "Madrid"),)),
            audience_complete=False,
            quiet_hours=QuietHours(time(21), time(8)),
            status=CampaignStatus.RUNNING,
            schedule=ScheduleState(T0 + timedelta(seconds=3), date(2026, 1, 15), 42),
            started_at=T0,
        ),
    )

    async with uow_factory() as uow:
        assert await uow.campaigns.get(tenant.id, campaign.id) == campaign


async def test_another_tenant_finds_no_campaign_of_this_one(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    campaign = await add_campaign(uow_factory, a_campaign(acme))

    async with uow_factory() as uow:
        assert await uow.campaigns.get(globex.id, campaign.id) is None
        assert await uow.campaigns.list_page(globex.id, limit=10) == []


async def test_a_change_is_written_only_over_the_version_it_was_made_from(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    campaign = await add_campaign(uow_factory, a_campaign(tenant))

    async with uow_factory() as uow:
        assert await uow.campaigns.save(campaign.paused("first", T0))
        assert not await uow.campaigns.save(campaign.canceled(T0)), "read before the pause"
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.campaigns.get(tenant.id, campaign.id)
    assert stored is not None
    assert (stored.status, stored.pause_reason, stored.version) == (CampaignStatus.PAUSED, "first", 1)


async def test_the_active_campaigns_of_a_sender_are_its_scheduled_and_running_ones(
    uow_factory: UowFactory,
) -> None:
    tenant, other = await add_tenant(uow_factory), await add_tenant(uow_factory)
    scheduled = await add_campaign(uow_factory, a_campaign(tenant))
    running = await add_campaign(
        uow_factory, a_campaign(tenant, status=CampaignStatus.RUNNING, started_at=T0)
    )
    await add_campaign(uow_factory, a_campaign(tenant, status=CampaignStatus.PAUSED, pause_reason="x"))
    await add_campaign(uow_factory, a_campaign(tenant, sender=PhoneNumber.parse("+14155550199")))
    await add_campaign(uow_factory, a_campaign(other))

    async with uow_factory() as uow:
        found = await uow.campaigns.active_of_sender(tenant.id, OUR_NUMBER)

    assert sorted(c.id for c in found) == sorted([scheduled.id, running.id])


async def test_an_idempotency_key_names_one_campaign_per_tenant(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    first = await add_campaign(uow_factory, a_campaign(tenant), ("key-1", "f" * 64))

    with pytest.raises(AlreadyExists):
        await add_campaign(uow_factory, a_campaign(tenant), ("key-1", "e" * 64))
    async with uow_factory() as uow:
        assert await uow.campaigns.by_idempotency_key(tenant.id, "key-1") == (first, "f" * 64)
        assert await uow.campaigns.by_idempotency_key(tenant.id, "key-2") is None


async def test_campaigns_are_listed_newest_first_page_by_page(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    campaigns = [
        await add_campaign(uow_factory, a_campaign(tenant, at=T0 + timedelta(minutes=n))) for n in range(5)
    ]

    async with uow_factory() as uow:
        first = await uow.campaigns.list_page(tenant.id, limit=3)
        last = first[-1]
        rest = await uow.campaigns.list_page(
            tenant.id, limit=3, after=CampaignPosition(last.created_at, last.id)
        )

    assert [c.id for c in first + rest] == [c.id for c in reversed(campaigns)]


async def test_a_person_is_stored_once_per_campaign_whatever_form_of_their_number(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    campaign = await add_campaign(uow_factory, a_campaign(tenant))
    other = await add_campaign(uow_factory, a_campaign(tenant))
    # Mexico's mobile written with and without the 1: one person.
    with_one, without_one = PhoneNumber.parse("+5215512345678"), PhoneNumber.parse("+525512345678")
    twice = [
        NewRecipient(1, with_one.e164, with_one.identity, {}),
        NewRecipient(2, without_one.e164, without_one.identity, {}),
        NewRecipient(3, "not a number", None, {}, SkipReason.INVALID, "line 3: not a number"),
        NewRecipient(4, "nor this", None, {}, SkipReason.INVALID, "line 4: not a number"),
    ]

    assert await add_people(uow_factory, campaign, *twice) == 3
    assert await add_people(uow_factory, campaign, person(5), twice[0]) == 1
    assert await add_people(uow_factory, other, twice[0]) == 1, "another campaign may have them too"


async def test_claims_take_pending_recipients_in_audience_order_and_never_the_same_one_twice(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    campaign = await add_campaign(uow_factory, a_campaign(tenant))
    await add_people(
        uow_factory, campaign, person(3), person(1), person(2, skip_reason=SkipReason.OPTED_OUT), person(4)
    )

    first = await claim_and_accept(uow_factory, campaign, 2)
    second = await claim_and_accept(uow_factory, campaign, 5)

    async with uow_factory() as uow:
        recipients = await uow.campaigns.recipients_page(RecipientQuery(tenant.id, campaign.id, 10))
        assert not await uow.campaigns.has_pending(tenant.id, campaign.id)
    by_id = {r.id: r.position for r in recipients}
    assert [by_id[r] for r in first] == [1, 3]
    assert [by_id[r] for r in second] == [4]
    assert [r.state for r in recipients] == [
        RecipientState.ACCEPTED,
        RecipientState.SKIPPED,
        RecipientState.ACCEPTED,
        RecipientState.ACCEPTED,
    ]


@pytest.mark.sql_only("concurrency between connections; the fake runs one block at a time")
async def test_concurrent_claims_never_hand_out_a_recipient_twice(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    campaign = await add_campaign(uow_factory, a_campaign(tenant))
    await add_people(uow_factory, campaign, *(person(n) for n in range(1, 41)))

    claims = await asyncio.gather(*(claim_and_accept(uow_factory, campaign, 7) for _ in range(8)))
    leftovers = [await claim_and_accept(uow_factory, campaign, 7) for _ in range(6)]

    handed = [r for batch in claims + leftovers for r in batch]
    assert len(handed) == len(set(handed)) == 40


async def test_progress_counts_recipients_by_their_messages_status_and_who_replied(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    campaign = await add_campaign(uow_factory, a_campaign(tenant))
    await add_people(
        uow_factory,
        campaign,
        person(1),
        person(2),
        person(3),
        person(4, skip_reason=SkipReason.OPTED_OUT),
        person(5, identity=None, skip_reason=SkipReason.INVALID, detail="bad"),
        person(6),
    )
    await claim_and_accept(uow_factory, campaign, 3)
    async with uow_factory() as uow:
        page = await uow.campaigns.recipients_page(RecipientQuery(tenant.id, campaign.id, 10))
        messages = {r.position: r.message_id for r in page}
        delivered = await uow.messages.get(tenant.id, messages[2])  # type: ignore[arg-type]
        assert delivered is not None
        await uow.messages.update(
            replace(delivered, status=MessageStatus.DELIVERED, provider_sid="SMdelivered", updated_at=T0)
        )
        await uow.commit()
    # Recipient 1 writes back after the campaign's message.
    reply = inbound(tenant, at=T0 + timedelta(minutes=5), contact=PhoneNumber.parse("+447911100001"))
    async with uow_factory() as uow:
        await uow.messages.add(reply)
        await uow.conversations.record_message(reply)
        await uow.commit()

    async with uow_factory() as uow:
        progress = await uow.campaigns.progress(tenant.id, campaign.id)
        delivered_only = await uow.campaigns.recipients_page(
            RecipientQuery(tenant.id, campaign.id, 10, state=RecipientState.DELIVERED)
        )

    assert (progress.targeted, progress.pending, progress.accepted, progress.delivered) == (6, 1, 2, 1)
    assert (progress.skipped_opted_out, progress.skipped_invalid, progress.replied) == (1, 1, 1)
    assert [r.position for r in delivered_only] == [2]


async def test_held_jobs_wait_until_rescheduled_and_a_leased_one_is_left_alone(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    campaign = await add_campaign(uow_factory, a_campaign(tenant))
    await add_people(uow_factory, campaign, person(1), person(2), person(3))
    await claim_and_accept(uow_factory, campaign, 3)
    async with uow_factory() as uow:
        [leased] = await uow.jobs.claim_due(owner="w", now=T0, lease_seconds=60, limit=1)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.campaigns.hold_unsent(tenant.id, campaign.id, HELD) == 2
        held = await uow.campaigns.held_messages(tenant.id, campaign.id, HELD)
        await uow.campaigns.reschedule_jobs(tenant.id, [(held[0], T0 + timedelta(seconds=1))])
        await uow.commit()

    async with uow_factory() as uow:
        still_held = await uow.campaigns.held_messages(tenant.id, campaign.id, HELD)
        assert await uow.campaigns.campaign_of_message(tenant.id, leased.message_id) == campaign.id
    assert leased.message_id not in held
    assert still_held == held[1:]
