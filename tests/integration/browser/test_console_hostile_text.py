"""A customer's message that looks like markup stays text on every console page that shows it, in
Chromium: it is shown as written, and no script of it runs."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from playwright.async_api import Page, expect

from tests.support.browser import CONSOLE, ConsoleWorld, sign_in

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
MALLORY = "<b>Mallory</b>"


@pytest.fixture
async def hostile_customer(console_world: ConsoleWorld) -> str:
    return await console_world.customer_writes(HOSTILE, profile_name=MALLORY)


async def _shown_as_text(page: Page, *texts: str) -> None:
    for text in texts:
        await expect(page.get_by_text(text).first).to_be_visible()
    assert await page.evaluate("window.__pwned") is None
    assert await page.locator("main img, main script, main b").count() == 0


async def test_on_the_dashboard(desktop: Page, console_world: ConsoleWorld, hostile_customer: str) -> None:
    await sign_in(desktop, console_world.agent)

    await _shown_as_text(desktop, HOSTILE, MALLORY)


async def test_in_the_messages_list_and_the_messages_page(
    desktop: Page, console_world: ConsoleWorld, hostile_customer: str
) -> None:
    await sign_in(
        desktop,
        console_world.agent,
        next_path=f"{CONSOLE}/messages?{urlencode({'contact': hostile_customer})}",
    )
    await _shown_as_text(desktop, HOSTILE)

    await desktop.get_by_role("row").filter(has_text=HOSTILE).get_by_role("link").first.click()

    await expect(desktop.get_by_role("heading", level=1)).to_have_text(f"Received from {hostile_customer}")
    await _shown_as_text(desktop, HOSTILE, MALLORY)


async def test_in_the_inbox_arriving_live_and_in_the_conversation(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    await sign_in(desktop, console_world.agent, next_path=f"{CONSOLE}/inbox")
    await expect(desktop.get_by_role("status").filter(has_text="Live updates are on.")).to_be_visible()

    # It arrives while the page is open: the page's script puts it in place, as text.
    customer = await console_world.customer_writes(HOSTILE, profile_name=MALLORY)

    await _shown_as_text(desktop, HOSTILE, MALLORY)
    await desktop.get_by_role("link", name=customer).click()
    await expect(desktop.get_by_role("heading", level=1)).to_contain_text(MALLORY)
    await _shown_as_text(desktop, HOSTILE, MALLORY)
