"""A sender's quality flagged or its messaging limit lowered pauses the campaigns sending from it, with
the reason, its event and its audit entry; better news pauses nothing and resumes nothing; and only a
sender on an account the delivery was proven for is affected."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from application.campaigns.management import ResumeCampaign
from application.campaigns.sender_quality import PauseCampaignsOfDegradedSender
from application.ports.provider_callbacks import ProvenAccount
from domain.administration.audit import SYSTEM_ACTOR, AuditAction
from domain.administration.tenancy import Sender
from domain.campaigns.model import Campaign, CampaignStatus
from domain.campaigns.sender_quality import (
    QUALITY_FLAGGED,
    TIER_LOWERED,
    SenderQualityChange,
    SenderQualityEvent,
)
from domain.phone import PhoneNumber
from domain.tenant_webhooks.model import WebhookEndpoint, WebhookEventType
from tests.support.fakes import FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.meta_webhooks import on_meta
from tests.support.repositories.campaigns import a_campaign
from tests.support.use_cases import admin_of

OTHER_NUMBER = PhoneNumber.parse("+14155550199")


async def add(uow: FakeUnitOfWork, campaign: Campaign) -> Campaign:
    async with uow:
        await uow.campaigns.add(campaign)
        await uow.commit()
    return campaign


@pytest.fixture
async def meta_sender(uow: FakeUnitOfWork, acme: TenantAccount) -> Sender:
    return await on_meta(
        uow, acme, phone_number_id="1000000000000001", business_account_id="2000000000000001"
    )


@pytest.fixture
def proven(acme: TenantAccount, meta_sender: Sender) -> frozenset[ProvenAccount]:
    assert meta_sender.account_id is not None
    return frozenset({ProvenAccount(acme.tenant.id, meta_sender.account_id)})


def change(sender: Sender, event: SenderQualityEvent, **more: int) -> SenderQualityChange:
    return SenderQualityChange(number=sender.phone_number, event=event, **more)


async def test_a_flagged_sender_pauses_its_running_and_scheduled_campaigns_with_the_reason(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    meta_sender: Sender,
    proven: frozenset[ProvenAccount],
) -> None:
    endpoint = WebhookEndpoint.new(
        tenant_id=acme.tenant.id,
        url="https://crm.example.com/hooks",
        events=[WebhookEventType.CAMPAIGN_PAUSED],
        now=clock.now(),
    )
    await uow.webhook_endpoints.add(endpoint, "whsec_" + "A" * 43 + "=", at_most=10)
    running = await add(uow, a_campaign(acme.tenant, sender=meta_sender.phone_number).started(clock.now()))
    scheduled = await add(uow, a_campaign(acme.tenant, sender=meta_sender.phone_number))
    elsewhere = await add(uow, a_campaign(acme.tenant, sender=OTHER_NUMBER).started(clock.now()))

    paused = await PauseCampaignsOfDegradedSender(uow, clock)(
        change(meta_sender, SenderQualityEvent.FLAGGED, daily_limit=1000), proven
    )

    assert paused == 2
    for campaign in (running, scheduled):
        stored = await uow.campaigns.get(acme.tenant.id, campaign.id)
        assert stored is not None
        assert stored.status is CampaignStatus.PAUSED
        assert stored.pause_reason is not None
        assert stored.pause_reason.startswith(QUALITY_FLAGGED)
        assert "1,000 a day" in stored.pause_reason
    untouched = await uow.campaigns.get(acme.tenant.id, elsewhere.id)
    assert untouched is not None
    assert untouched.status is CampaignStatus.RUNNING
    events = [json.loads(d.payload) for d in uow.webhook_deliveries.all()]
    assert [e["type"] for e in events] == ["campaign.paused", "campaign.paused"]
    assert all(e["data"]["reason"].startswith(QUALITY_FLAGGED) for e in events)
    audited = [e for e in uow.audit.all() if e.action is AuditAction.CAMPAIGN_PAUSED]
    assert len(audited) == 2
    assert all(e.actor == SYSTEM_ACTOR for e in audited)


async def test_a_lowered_limit_pauses_and_a_person_resumes(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    meta_sender: Sender,
    proven: frozenset[ProvenAccount],
) -> None:
    running = await add(uow, a_campaign(acme.tenant, sender=meta_sender.phone_number).started(clock.now()))
    pause = PauseCampaignsOfDegradedSender(uow, clock)

    lowered = change(
        meta_sender, SenderQualityEvent.LIMIT_LOWERED, daily_limit=250, previous_daily_limit=1000
    )
    assert await pause(lowered, proven) == 1
    stored = await uow.campaigns.get(acme.tenant.id, running.id)
    assert stored is not None
    assert stored.pause_reason is not None
    assert stored.pause_reason.startswith(TIER_LOWERED)
    assert "from 1,000 to 250 a day" in stored.pause_reason

    # Better news resumes nothing: a person does.
    assert await pause(change(meta_sender, SenderQualityEvent.LIMIT_RAISED, daily_limit=1000), proven) == 0
    still = await uow.campaigns.get(acme.tenant.id, running.id)
    assert still is not None
    assert still.status is CampaignStatus.PAUSED
    resumed = await ResumeCampaign(uow, clock)(admin_of(acme), running.id)
    assert resumed.status is CampaignStatus.RUNNING


@pytest.mark.parametrize("event", [SenderQualityEvent.UNFLAGGED, SenderQualityEvent.LIMIT_RAISED])
async def test_better_news_pauses_nothing(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    meta_sender: Sender,
    proven: frozenset[ProvenAccount],
    event: SenderQualityEvent,
) -> None:
    running = await add(uow, a_campaign(acme.tenant, sender=meta_sender.phone_number).started(clock.now()))

    assert await PauseCampaignsOfDegradedSender(uow, clock)(change(meta_sender, event), proven) == 0

    stored = await uow.campaigns.get(acme.tenant.id, running.id)
    assert stored is not None
    assert stored.status is CampaignStatus.RUNNING


async def test_only_a_sender_on_an_account_the_delivery_was_proven_for_is_affected(
    uow: FakeUnitOfWork,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
    meta_sender: Sender,
) -> None:
    running = await add(uow, a_campaign(acme.tenant, sender=meta_sender.phone_number).started(clock.now()))
    flagged = change(meta_sender, SenderQualityEvent.FLAGGED)
    pause = PauseCampaignsOfDegradedSender(uow, clock)

    # Another tenant's account, and another account of this tenant's than its sender's.
    assert await pause(flagged, frozenset({ProvenAccount(globex.tenant.id, uuid4())})) == 0
    assert await pause(flagged, frozenset({ProvenAccount(acme.tenant.id, uuid4())})) == 0

    stored = await uow.campaigns.get(acme.tenant.id, running.id)
    assert stored is not None
    assert stored.status is CampaignStatus.RUNNING
