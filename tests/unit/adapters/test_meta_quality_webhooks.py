"""Meta's ``phone_number_quality_update`` webhooks read as sender quality changes: FLAGGED and a lowered
limit are what campaigns pause for, and the change is routed only to senders on the accounts whose app
signed the delivery."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.meta.callback_authentication import MetaApps
from adapters.meta.callbacks import MetaDeliveries
from adapters.meta.quality_webhooks import sender_quality_change, sender_quality_changes
from adapters.meta.webhooks import MetaOtherChange, parse_delivery
from application.campaigns.sender_quality import PauseCampaignsOfDegradedSender
from application.inbound.receive_delivery import ReceiveProviderDelivery
from application.ports.provider_callbacks import ProvenAccount, ProviderCallback
from domain.administration.tenancy import ProviderName
from domain.campaigns.model import CampaignStatus
from domain.campaigns.sender_quality import QUALITY_FLAGGED, SenderQualityChange, SenderQualityEvent
from domain.phone import PhoneNumber
from tests.support.fakes import FakeMetrics, FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.meta_webhooks import (
    OWN_APP_SECRET,
    PLATFORM_APP_SECRET,
    delivery,
    display_number,
    entry,
    on_meta,
    signed,
)
from tests.support.repositories.campaigns import a_campaign

ACME_WABA, GLOBEX_WABA = "102290129340398", "102290129340399"
NUMBER = PhoneNumber.parse("+15550783881")


def quality_change(display: str, event: str, **more: Any) -> dict[str, Any]:
    return {
        "field": "phone_number_quality_update",
        "value": {"display_phone_number": display, "event": event, **more},
    }


def read(value: dict[str, Any]) -> SenderQualityChange | None:
    return sender_quality_change(MetaOtherChange(ACME_WABA, "phone_number_quality_update", value))


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"event": "FLAGGED", "current_limit": "TIER_1K"},
            SenderQualityChange(NUMBER, SenderQualityEvent.FLAGGED, daily_limit=1000),
        ),
        (
            {"event": "DOWNGRADE", "current_limit": "TIER_250", "old_limit": "TIER_1K"},
            SenderQualityChange(NUMBER, SenderQualityEvent.LIMIT_LOWERED, 250, 1000),
        ),
        (
            {"event": "UPGRADE", "current_limit": "TIER_10K", "old_limit": "TIER_1K"},
            SenderQualityChange(NUMBER, SenderQualityEvent.LIMIT_RAISED, 10_000, 1000),
        ),
        (
            {"event": "UNFLAGGED", "current_limit": "TIER_UNLIMITED"},
            SenderQualityChange(NUMBER, SenderQualityEvent.UNFLAGGED),
        ),
        # Newer payloads: the limit as a number in max_daily_conversations_per_business.
        (
            {"event": "DOWNGRADE", "old_limit": "TIER_2K", "max_daily_conversations_per_business": "1000"},
            SenderQualityChange(NUMBER, SenderQualityEvent.LIMIT_LOWERED, 1000, 2000),
        ),
        # A limit that fell is lowered, whatever the event word.
        (
            {"event": "ONBOARDING", "current_limit": "TIER_250", "old_limit": "TIER_UNLIMITED"},
            SenderQualityChange(NUMBER, SenderQualityEvent.LIMIT_LOWERED, 250, None),
        ),
    ],
)
def test_a_quality_update_is_read_as_a_change_of_the_senders_quality_or_limit(
    payload: dict[str, Any], expected: SenderQualityChange
) -> None:
    assert read({"display_phone_number": "+1 555-078-3881", **payload}) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"event": "FLAGGED"},  # no number
        {"display_phone_number": "not a number", "event": "FLAGGED"},
        {"display_phone_number": "15550783881", "event": "ONBOARDING", "current_limit": "TIER_1K"},
        {"display_phone_number": "15550783881", "event": 7},
    ],
)
def test_a_quality_update_that_cannot_be_read_or_says_nothing_is_left_out(value: dict[str, Any]) -> None:
    assert read(value) is None


def test_the_quality_updates_of_a_delivery_come_with_their_business_account() -> None:
    body = delivery(
        entry(ACME_WABA, quality_change("15550783881", "FLAGGED", current_limit="TIER_1K")),
        entry(GLOBEX_WABA, {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}),
    )

    found = sender_quality_changes(parse_delivery(body).other_changes)

    assert found == [(ACME_WABA, SenderQualityChange(NUMBER, SenderQualityEvent.FLAGGED, daily_limit=1000))]


def posted(body: bytes, app_secret: str) -> ProviderCallback:
    headers = {name.lower(): value for name, value in signed(body, app_secret).items()}
    return ProviderCallback(
        url="https://gateway.example.com/webhooks/meta",
        content_type="application/json",
        body=body,
        headers=headers,
    )


async def test_a_flagged_number_pauses_the_campaigns_of_the_tenant_whose_app_signed_only(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    acme_sender = await on_meta(uow, acme, phone_number_id="106540352242922", business_account_id=ACME_WABA)
    await on_meta(
        uow,
        globex,
        phone_number_id="106540352242923",
        business_account_id=GLOBEX_WABA,
        app_secret=OWN_APP_SECRET,
    )
    campaign = a_campaign(acme.tenant, sender=acme_sender.phone_number).started(clock.now())
    async with uow:
        await uow.campaigns.add(campaign)
        await uow.commit()
    apps = MetaApps(lambda: FakeUnitOfWork(uow.database))
    receive = ReceiveProviderDelivery(
        uow,
        MetaDeliveries(apps=apps),
        clock,
        FakeMetrics(),
        sender_quality=PauseCampaignsOfDegradedSender(uow, clock),
    )
    flagged = delivery(
        entry(ACME_WABA, quality_change(display_number(acme), "FLAGGED", current_limit="TIER_1K"))
    )

    # Globex's own app cannot speak for Acme's business account.
    forged = await receive(posted(flagged, OWN_APP_SECRET))
    assert forged.campaigns_paused == 0
    receipt = await receive(posted(flagged, PLATFORM_APP_SECRET))

    assert receipt.campaigns_paused == 1
    stored = await uow.campaigns.get(acme.tenant.id, campaign.id)
    assert stored is not None
    assert stored.status is CampaignStatus.PAUSED
    assert stored.pause_reason is not None
    assert stored.pause_reason.startswith(QUALITY_FLAGGED)


async def test_the_accounts_a_quality_part_is_proven_for_are_those_of_its_business_account_and_app(
    uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    await on_meta(uow, acme, phone_number_id="106540352242922", business_account_id=ACME_WABA)
    screened = await MetaDeliveries(apps=MetaApps(lambda: FakeUnitOfWork(uow.database))).screen(
        posted(
            delivery(entry(ACME_WABA, quality_change(display_number(acme), "DOWNGRADE"))), PLATFORM_APP_SECRET
        )
    )
    async with uow:
        await screened.authenticate(uow)

    (part,) = screened.sender_quality_parts()

    account = await uow.provider_accounts.first_of(acme.tenant.id, ProviderName.META)
    assert account is not None
    assert await part.proven_accounts(uow) == {ProvenAccount(acme.tenant.id, account.id)}
    assert [c.event for c in part.changes] == [SenderQualityEvent.LIMIT_LOWERED]
