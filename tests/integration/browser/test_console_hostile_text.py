"""A customer's message that looks like markup stays text on every console page that shows it, in
Chromium: it is shown as written, and no script of it runs."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.support.browser import CONSOLE, ConsoleWorld, sign_in

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


async def test_a_message_body_with_markup_is_shown_as_text_on_the_dashboard(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    await console_world.customer_writes(HOSTILE, profile_name="<b>Mallory</b>")
    await sign_in(desktop, console_world.agent)

    await desktop.goto(CONSOLE)

    await expect(desktop.get_by_text(HOSTILE)).to_be_visible()
    await expect(desktop.get_by_text("<b>Mallory</b>")).to_be_visible()
    assert await desktop.evaluate("window.__pwned") is None
    assert await desktop.locator("main img, main script, main b").count() == 0
