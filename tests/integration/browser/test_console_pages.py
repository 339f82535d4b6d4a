"""Every console page in Chromium at a desktop's size and a phone's: no serious or critical accessibility
violation (axe-core), nothing wider than the screen, and a screenshot of each for a person to look at
(in the screenshots folder, ignored by git)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from playwright.async_api import Page, expect

from emulators.twilio.config import ForcedError, Stage
from tests.support.browser import (
    CONSOLE,
    Account,
    ConsoleWorld,
    Screen,
    assert_accessible,
    screenshot,
    sign_in,
)
from tests.support.two_providers import TWILIO_NUMBER


@dataclass(frozen=True)
class ConsolePage:
    name: str  # the screenshot's
    path: str  # "{message}", "{template}" …: the ids of what ``page_ids`` made
    who: str | None  # the ConsoleWorld account that looks at it; None: no one signed in
    status: int = 200


PAGES = [
    ConsolePage("sign-in", f"{CONSOLE}/login", None),
    ConsolePage("dashboard-tenant-admin", CONSOLE, "tenant_admin"),
    ConsolePage("dashboard-agent", CONSOLE, "agent"),
    ConsolePage("dashboard-platform-admin", CONSOLE, "platform_admin"),
    ConsolePage("inbox", f"{CONSOLE}/inbox", "agent"),
    ConsolePage("conversation", f"{CONSOLE}/inbox/{{conversation}}", "agent"),
    ConsolePage(
        "conversation-template", f"{CONSOLE}/inbox/{{closed_conversation}}?template={{template}}", "agent"
    ),
    ConsolePage(
        "inbox-message", f"{CONSOLE}/inbox/messages/{{message}}?conversation={{conversation}}", "agent"
    ),
    ConsolePage("messages", f"{CONSOLE}/messages", "agent"),
    ConsolePage("messages-failed", f"{CONSOLE}/messages?failed=1", "agent"),
    ConsolePage("message-failed", f"{CONSOLE}/messages/{{message}}", "agent"),
    ConsolePage("scheduled", f"{CONSOLE}/scheduled", "agent"),
    ConsolePage("campaigns", f"{CONSOLE}/campaigns", "agent"),
    ConsolePage("campaign-agent", f"{CONSOLE}/campaigns/{{campaign}}", "agent"),
    ConsolePage("campaign-tenant-admin", f"{CONSOLE}/campaigns/{{campaign}}", "tenant_admin"),
    ConsolePage("contacts", f"{CONSOLE}/contacts", "agent"),
    ConsolePage("contact-agent", f"{CONSOLE}/contacts/{{contact}}", "agent"),
    ConsolePage("contact-tenant-admin", f"{CONSOLE}/contacts/{{contact}}", "tenant_admin"),
    ConsolePage("contacts-import", f"{CONSOLE}/contacts/import", "tenant_admin"),
    ConsolePage("contact-erase", f"{CONSOLE}/contacts/{{contact}}/erase", "tenant_admin"),
    ConsolePage("templates", f"{CONSOLE}/templates", "tenant_admin"),
    ConsolePage("template", f"{CONSOLE}/templates/{{template}}", "tenant_admin"),
    ConsolePage("template-new", f"{CONSOLE}/templates/new", "tenant_admin"),
    ConsolePage("admin", f"{CONSOLE}/admin", "tenant_admin"),
    ConsolePage("admin-users", f"{CONSOLE}/admin/users", "tenant_admin"),
    ConsolePage("admin-senders", f"{CONSOLE}/admin/senders", "tenant_admin"),
    ConsolePage("admin-accounts", f"{CONSOLE}/admin/accounts", "tenant_admin"),
    ConsolePage("admin-account", f"{CONSOLE}/admin/accounts/{{account}}", "tenant_admin"),
    ConsolePage("admin-api-keys", f"{CONSOLE}/admin/api-keys", "tenant_admin"),
    ConsolePage("admin-webhooks", f"{CONSOLE}/admin/webhooks", "tenant_admin"),
    ConsolePage("admin-webhook", f"{CONSOLE}/admin/webhooks/{{webhook}}", "tenant_admin"),
    ConsolePage("admin-limits", f"{CONSOLE}/admin/limits", "tenant_admin"),
    ConsolePage("admin-consent", f"{CONSOLE}/admin/consent", "tenant_admin"),
    ConsolePage("admin-retention", f"{CONSOLE}/admin/retention", "tenant_admin"),
    ConsolePage("admin-audit", f"{CONSOLE}/admin/audit", "tenant_admin"),
    ConsolePage("platform-tenants", f"{CONSOLE}/platform/tenants", "platform_admin"),
    ConsolePage("platform-tenant", f"{CONSOLE}/platform/tenants/{{tenant}}", "platform_admin"),
    ConsolePage("platform-tenant-new", f"{CONSOLE}/platform/tenants/new", "platform_admin"),
    ConsolePage("platform-tenant-edit", f"{CONSOLE}/platform/tenants/{{tenant}}/edit", "platform_admin"),
    ConsolePage(
        "platform-tenant-suspend", f"{CONSOLE}/platform/tenants/{{tenant}}/suspend", "platform_admin"
    ),
    ConsolePage("forbidden", f"{CONSOLE}/admin/users", "agent", status=403),
    ConsolePage("not-found", f"{CONSOLE}/no-such-page", "agent", status=404),
]


@pytest.fixture(scope="module")
async def page_ids(console_world: ConsoleWorld) -> dict[str, str]:
    """What the pages' paths name: a customer's conversation with a failed reply in it, an approved
    template and a conversation whose window is closed, a webhook endpoint, the tenant, the customer's
    contact (opted out, with tags and notes), a message scheduled for tomorrow and a campaign of the
    template starting tomorrow."""
    twilio = console_world.world.twilio.state
    customer = await console_world.customer_writes("Where is my parcel?", profile_name="Pia")
    twilio.update_faults(to_errors={customer: ForcedError(63003, stage=Stage.DELIVERY)})
    try:
        failed = await console_world.business_sends(customer, "It is on its way.")
    finally:
        twilio.update_faults(to_errors={})
    # A webhook endpoint with a delivery waiting (a local port nothing listens on, allowed in this world).
    webhook = await console_world.world.api(
        "POST",
        "/api/webhooks",
        {"url": "http://127.0.0.1:9/hooks", "events": ["message.received"]},
        expect=201,
    )
    await console_world.customer_writes("Anyone there?", customer=customer, profile_name="Pia")
    template = await console_world.approved_template()
    stranger = await console_world.business_writes_first(template["template"]["name"])
    world = console_world.world
    contact = (await world.api("GET", f"/api/contacts?{urlencode({'q': customer})}"))["items"][0]
    await world.api(
        "PATCH",
        f"/api/contacts/{contact['id']}",
        {"tags": ["vip"], "attributes": {"city": "Monterrey"}, "notes": "Prefers mornings."},
    )
    await world.api("POST", f"/api/consent/{quote(customer)}", {"state": "opted_out"})
    await world.api("POST", f"/api/consent/{quote(customer)}", {"state": "opted_in", "note": "Asked again"})
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    await world.api(
        "POST",
        "/api/send",
        {"to_number": customer, "from_number": TWILIO_NUMBER, "body": "Reminder", "send_at": tomorrow},
        expect=202,
    )
    campaign = await world.api(
        "POST",
        "/api/campaigns",
        {
            "name": "Spring visits",
            "sender_number": TWILIO_NUMBER,
            "template": {"name": template["template"]["name"], "language": "en"},
            "variables": {"1": {"attribute": "first_name"}, "2": {"constant": "Monday"}},
            "audience": {"recipients": [{"number": customer, "attributes": {"first_name": "Pia"}}]},
            "pace": {"messages_per_second": 1, "daily_cap": 200},
            "quiet_hours": {"start": "21:00", "end": "08:00"},
            "start_at": tomorrow,
        },
        expect=201,
    )
    return {
        "campaign": campaign["id"],
        "contact": contact["id"],
        "message": failed["id"],
        "conversation": await console_world.conversation_id(customer),
        "closed_conversation": await console_world.conversation_id(stranger),
        "template": template["id"],
        "account": console_world.world.meta_account_id,
        "webhook": webhook["id"],
        "tenant": str(console_world.world.tenant_id),
    }


@pytest.fixture(scope="module")
def sessions() -> dict[str, list[Any]]:
    """Each account's cookies once signed in, so that every page after the first is one request."""
    return {}


async def _signed_in(page: Page, account: Account, sessions: dict[str, list[Any]]) -> None:
    if account.username not in sessions:
        await sign_in(page, account)
        sessions[account.username] = await page.context.cookies()
    else:
        await page.context.add_cookies(sessions[account.username])


@pytest.mark.parametrize("console_page", PAGES, ids=[page.name for page in PAGES])
async def test_the_page_is_accessible_fits_the_screen_and_is_photographed(
    screen: Screen,
    console_world: ConsoleWorld,
    console_page: ConsolePage,
    page_ids: dict[str, str],
    sessions: dict[str, list[Any]],
) -> None:
    page = screen.page
    if console_page.who is not None:
        await _signed_in(page, getattr(console_world, console_page.who), sessions)

    response = await page.goto(console_page.path.format(**page_ids))

    assert response is not None
    assert response.status == console_page.status
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await assert_accessible(page)
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{console_page.path} is {overflow}px wider than a {screen.size}'s screen"
    await screenshot(page, f"{console_page.name}-{screen.size}")
