"""The Messages section in Chromium: a message the provider failed is found with the Failed filter,
says why it failed, and is sent again with Retry; the filtered history downloads as CSV."""

from __future__ import annotations

import csv
import io
import re

from playwright.async_api import Page, expect

from emulators.twilio.config import ForcedError, Stage
from tests.support.browser import CONSOLE, ConsoleWorld, sign_in

MESSAGES = f"{CONSOLE}/messages"
# Twilio's "Channel could not find To address", reported after the message was taken: it fails.
NOT_FOUND_ON_WHATSAPP = 63003


async def test_a_failed_message_is_found_explained_and_retried(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    twilio = console_world.world.twilio.state
    customer = await console_world.customer_writes("Send me the invoice, please")
    twilio.update_faults(to_errors={customer: ForcedError(NOT_FOUND_ON_WHATSAPP, stage=Stage.DELIVERY)})
    try:
        failed = await console_world.business_sends(customer, "Here is your invoice")
    finally:
        twilio.update_faults(to_errors={})
    assert failed["status"] == "failed"
    await sign_in(desktop, console_world.agent, next_path=MESSAGES)

    await desktop.get_by_role("navigation", name="Quick filters").get_by_role("link", name="Failed").click()
    row = desktop.get_by_role("row").filter(has_text="Here is your invoice")
    await expect(row).to_contain_text(customer)
    await expect(row).to_contain_text("Failed")
    await row.get_by_role("link").first.click()
    await expect(desktop.get_by_role("heading", name="Why it failed")).to_be_visible()
    await expect(desktop.locator(".failure")).to_contain_text(str(NOT_FOUND_ON_WHATSAPP))

    await desktop.get_by_role("button", name="Retry: send this message again").click()

    await expect(desktop.get_by_role("status")).to_have_text("The message was queued to be sent again.")
    await expect(desktop.get_by_role("button", name="Retry: send this message again")).to_have_count(0)
    retried = await console_world.settled(failed["id"])
    assert retried["status"] in ("delivered", "read")
    await desktop.reload()
    await expect(desktop.locator("dl.facts .badge").first).to_have_text(re.compile("Delivered|Read"))


async def test_the_filtered_history_downloads_as_csv(desktop: Page, console_world: ConsoleWorld) -> None:
    customer = await console_world.customer_writes("Which sizes do you have?")
    await console_world.business_sends(customer, "From XS to XXL.")
    await sign_in(desktop, console_world.agent, next_path=MESSAGES)
    await desktop.get_by_label("Contact number").fill(customer)
    await desktop.get_by_role("button", name="Filter").click()
    await expect(desktop.get_by_role("row")).to_have_count(3)  # the heading's and two messages

    async with desktop.expect_download() as download:
        await desktop.get_by_role("link", name="CSV").click()

    path = await (await download.value).path()
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert sorted(row["body"] for row in rows) == ["From XS to XXL.", "Which sizes do you have?"]
