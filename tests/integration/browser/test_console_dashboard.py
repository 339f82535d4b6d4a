"""The dashboard in Chromium shows what the API says (GET /api/dashboard): its latest conversations are
the API's, in the same order, a customer's new message among them."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.support.browser import ConsoleWorld, sign_in


async def test_the_latest_conversations_are_the_apis(desktop: Page, console_world: ConsoleWorld) -> None:
    await console_world.customer_writes("Is my order on its way?", profile_name="Dora")
    dashboard = await console_world.world.api("GET", "/api/dashboard")

    await sign_in(desktop, console_world.agent)

    latest = desktop.get_by_role("region", name="Latest conversations").get_by_role("listitem")
    await expect(latest).to_contain_text(
        [
            f"{c['profile_name'] or c['contact']} {c['last_message']['preview']}"
            for c in dashboard["latest_conversations"]
        ]
    )
    await expect(latest.first).to_contain_text("Dora Is my order on its way?")
