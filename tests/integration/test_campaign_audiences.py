"""Campaigns over the tenant's contacts and consent, on SQLite and PostgreSQL, through the API: a contacts
audience is exactly the tagged contacts, its template values taken from their attributes; whoever opted
out is skipped, whether before the campaign reached them or after they were stored as its recipients.

The runner is driven tick by tick over a clock the test moves, at a pace of one message per 100 s: each
tick hands over one recipient, so the others wait their turn as they would in a long campaign."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from tests.support.fakes import FixedClock
from tests.support.gateways import (
    DATABASES,
    PASSWORD,
    Gateway,
    emptied_session_database,
    running_gateway,
)

SENDER = "+14155238886"
ANA, BO, CY, DEE = "+447911100001", "+447911100002", "+447911100003", "+447911100004"
SLOW = 0.01  # one message per 100 s


@pytest.fixture(params=DATABASES)
async def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(tmp_path, emptied_session_database(request, request.param)) as gateway:
        yield gateway


@pytest.fixture
def clock(gateway: Gateway) -> FixedClock:
    clock = FixedClock(datetime.now(UTC))
    gateway.container.clock.override(providers.Object(clock))
    return clock


@pytest.fixture
async def admin(gateway: Gateway, clock: FixedClock) -> dict[str, str]:
    """Acme's admin, with a sender, a template approved in the sandbox and four contacts: Ana, Bo and Cy
    tagged vip, Dee not."""
    root = await gateway.create_platform_admin()
    tenant = (
        await gateway.call("POST", "/admin/tenants", root, {"name": "Acme", "session_window_check": False})
    ).json()
    await gateway.call(
        "POST",
        f"/admin/tenants/{tenant['id']}/users",
        root,
        {"username": "acme-admin", "password": PASSWORD, "role": "tenant_admin"},
    )
    admin = await gateway.bearer_of("acme-admin")
    await gateway.call("POST", "/api/senders", admin, {"phone_number": SENDER, "label": "main"})
    await gateway.call(
        "POST",
        "/api/templates",
        admin,
        {
            "name": "spring_sale",
            "language": "en",
            "category": "marketing",
            "body": "Hi {{1}}, our spring sale starts today.",
            "examples": {"1": "Ana"},
            "accounts": ["sandbox"],
        },
    )
    for number, name, tags in ((ANA, "Ana", ["vip"]), (BO, "Bo", ["vip"]), (CY, "Cy", ["vip", "news"])):
        contact = {"phone_number": number, "attributes": {"first_name": name}, "tags": tags}
        await gateway.call("POST", "/api/contacts", admin, contact)
    await gateway.call(
        "POST", "/api/contacts", admin, {"phone_number": DEE, "attributes": {"first_name": "Dee"}}
    )
    return admin


async def opt_out(gateway: Gateway, admin: dict[str, str], number: str) -> None:
    await gateway.call(
        "POST", f"/api/consent/{number}", admin, {"state": "opted_out", "note": "asked by phone"}
    )


async def vip_campaign(gateway: Gateway, admin: dict[str, str]) -> str:
    campaign = await gateway.call(
        "POST",
        "/api/campaigns",
        admin,
        {
            "name": "Spring sale for VIPs",
            "sender_number": SENDER,
            "template": {"name": "spring_sale", "language": "en"},
            "variables": {"1": {"attribute": "first_name"}},
            "audience": {"contacts": {"tags": ["vip"]}},
            "pace": {"messages_per_second": SLOW},
        },
    )
    campaign_id: str = campaign.json()["id"]
    return campaign_id


async def tick(gateway: Gateway, clock: FixedClock) -> None:
    """One round of the runner, then the clock moves on to the next slot."""
    await gateway.container.campaign_runner().run_due()
    clock.advance(timedelta(seconds=1 / SLOW + 1))


async def campaign_of(gateway: Gateway, admin: dict[str, str], campaign_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await gateway.call("GET", f"/api/campaigns/{campaign_id}", admin)).json()
    return found


async def recipients_of(gateway: Gateway, admin: dict[str, str], campaign_id: str) -> dict[str, Any]:
    page = (await gateway.call("GET", f"/api/campaigns/{campaign_id}/recipients", admin)).json()
    return {recipient["number"]: recipient for recipient in page["items"]}


async def test_a_contacts_audience_is_the_tagged_contacts_with_their_attributes_and_who_opted_out_skipped(
    gateway: Gateway, clock: FixedClock, admin: dict[str, str]
) -> None:
    await opt_out(gateway, admin, BO)
    campaign_id = await vip_campaign(gateway, admin)

    for _ in range(4):
        await tick(gateway, clock)

    campaign = await campaign_of(gateway, admin, campaign_id)
    recipients = await recipients_of(gateway, admin, campaign_id)
    progress = campaign["progress"]
    assert (progress["targeted"], progress["accepted"], progress["skipped"]["opted_out"]) == (3, 2, 1)
    assert sorted(recipients) == [ANA, BO, CY]  # Dee has no vip tag
    assert {number: r["variables"] for number, r in recipients.items()} == {
        ANA: {"1": "Ana"},
        BO: {"1": "Bo"},
        CY: {"1": "Cy"},
    }
    assert (recipients[BO]["state"], recipients[BO]["skip_reason"]) == ("skipped", "opted_out")
    assert recipients[BO]["message_id"] is None
    assert {recipients[ANA]["state"], recipients[CY]["state"]} == {"accepted"}


async def test_a_recipient_who_opts_out_after_being_stored_is_skipped_when_their_turn_comes(
    gateway: Gateway, clock: FixedClock, admin: dict[str, str]
) -> None:
    campaign_id = await vip_campaign(gateway, admin)
    await tick(gateway, clock)  # the audience stored, Ana's message handed over; Bo and Cy wait
    waiting = await recipients_of(gateway, admin, campaign_id)
    assert (waiting[ANA]["state"], waiting[BO]["state"], waiting[CY]["state"]) == (
        "accepted",
        "pending",
        "pending",
    )

    await opt_out(gateway, admin, CY)
    for _ in range(3):
        await tick(gateway, clock)

    recipients = await recipients_of(gateway, admin, campaign_id)
    assert (recipients[CY]["state"], recipients[CY]["skip_reason"]) == ("skipped", "opted_out")
    assert recipients[CY]["message_id"] is None
    assert recipients[BO]["state"] == "accepted"
    progress = (await campaign_of(gateway, admin, campaign_id))["progress"]
    assert (progress["accepted"], progress["skipped"]["opted_out"]) == (2, 1)
