"""The inbox in Chromium: a customer's message arrives in an open page without a reload (Server-Sent
Events), an agent replies inside the 24-hour window from the conversation, and outside it sends an
approved template; signing out elsewhere ends the page's live stream."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.support.browser import CONSOLE, DESKTOP, ConsoleWorld, OpenPage, sign_in, sign_out

INBOX = f"{CONSOLE}/inbox"
LIVE = "Live updates are on."


async def _live(page: Page) -> None:
    """Wait until the page's live stream is open."""
    await expect(page.get_by_role("status").filter(has_text=LIVE)).to_be_visible()


async def _mark_document(page: Page) -> None:
    """A mark that a reload or a navigation would wipe out: ``_same_document`` checks it is still there."""
    await page.evaluate("window.__sameDocument = true")


async def _same_document(page: Page) -> bool:
    return bool(await page.evaluate("window.__sameDocument === true"))


async def test_a_customers_message_appears_in_the_open_inbox_without_a_reload(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    await sign_in(desktop, console_world.agent, next_path=INBOX)
    await _live(desktop)
    await _mark_document(desktop)

    customer = await console_world.customer_writes("Do you open on Sundays?", profile_name="Carmen")

    conversation = desktop.locator("[data-conversations] li").filter(has_text=customer)
    await expect(conversation).to_contain_text("Carmen")
    await expect(conversation).to_contain_text("Do you open on Sundays?")
    await expect(desktop.locator("[data-conversations] li").first).to_contain_text(customer)
    assert await _same_document(desktop)


async def test_an_agent_replies_inside_the_window_and_sees_its_ticks_and_the_customers_answer_live(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    customer = await console_world.customer_writes("Is the blue one in stock?", profile_name="Bea")
    await sign_in(desktop, console_world.agent, next_path=INBOX)
    await desktop.get_by_role("link", name=customer).click()
    await expect(desktop.get_by_role("heading", level=1)).to_contain_text("Bea")
    await expect(desktop.get_by_text("Is the blue one in stock?")).to_be_visible()
    await _live(desktop)

    await desktop.get_by_label("Message (or the caption of a file)").fill("Yes, in every size.")
    await desktop.get_by_role("button", name="Send message").click()

    reply = desktop.locator("[data-messages] li.outbound").filter(has_text="Yes, in every size.")
    await expect(reply).to_be_visible()
    # Twilio's status callbacks come after the page was drawn: the tick moves on without a reload.
    await _mark_document(desktop)
    await expect(reply.locator("[data-status]")).to_have_class(re.compile(r"status-(delivered|read)"))
    history = (await console_world.world.api("GET", f"/api/conversations/{customer}/messages"))["items"]
    assert [(m["direction"], m["body"]) for m in history if m["direction"] == "outbound"] == [
        ("outbound", "Yes, in every size.")
    ]
    # And the customer's answer arrives in the open conversation.
    await console_world.customer_writes("Great, thanks!", customer=customer, profile_name="Bea")
    await expect(desktop.locator("[data-messages] li.inbound").last).to_contain_text("Great, thanks!")
    assert await _same_document(desktop)


async def test_outside_the_window_an_agent_sends_an_approved_template_with_its_values(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    template = (await console_world.approved_template())["template"]["name"]
    customer = await console_world.business_writes_first(template)
    await sign_in(desktop, console_world.agent, next_path=INBOX)
    await desktop.get_by_role("link", name=customer).click()
    await expect(desktop.get_by_text("The 24-hour session window is closed")).to_be_visible()
    await expect(desktop.get_by_label("Message (or the caption of a file)")).to_have_count(0)

    await desktop.get_by_label("Template").select_option(label=f"{template} (en)")
    await desktop.get_by_role("button", name="Choose template").click()
    await desktop.get_by_label("Value of 1").fill("Eva")
    await desktop.get_by_label("Value of 2").fill("Saturday")
    await desktop.get_by_role("button", name="Send template").click()

    await expect(desktop.locator("[data-messages] li.outbound").last).to_contain_text(
        "Hi Eva, see you on Saturday."
    )
    history = (await console_world.world.api("GET", f"/api/conversations/{customer}/messages"))["items"]
    assert len([m for m in history if m["direction"] == "outbound"]) == 2


async def test_signing_out_in_one_tab_closes_the_other_tabs_live_inbox(
    open_page: OpenPage, console_world: ConsoleWorld
) -> None:
    first = await open_page(DESKTOP)
    second = await first.context.new_page()
    await sign_in(first, console_world.agent)
    await second.goto(INBOX)
    await _live(second)

    await sign_out(first)

    # The stream says the session ended, and the page goes to the sign-in form, back here after.
    await expect(second).to_have_url(re.compile(r"/console/login\?next=%2Fconsole%2Finbox"))
    await expect(second.get_by_role("heading", level=1)).to_have_text("Sign in")
