"""Templates in Chromium, as a tenant admin: a template written on the New template page goes to Twilio
for review and shows as pending; once Twilio has decided, Sync with providers shows it approved, as the
API does. An agent reads the catalogue and cannot change it."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Page, expect

from tests.support.browser import CONSOLE, TWILIO_REVIEW_SECONDS, ConsoleWorld, sign_in

TEMPLATES = f"{CONSOLE}/templates"


async def test_a_template_written_on_the_page_is_reviewed_and_synced_to_approved(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    name = f"table_ready_{uuid.uuid4().hex[:6]}"
    await sign_in(desktop, console_world.tenant_admin, next_path=TEMPLATES)
    await desktop.get_by_role("link", name="New template").click()
    form = desktop.locator("#template-form")
    await form.get_by_label("Name", exact=True).fill(name)
    await form.get_by_label("Language", exact=True).fill("en")
    await form.get_by_label("Body", exact=True).fill("Hi {{1}}, your table is ready.")
    await form.get_by_label("Example values").fill("1=Ana")
    await form.get_by_label(re.compile("^Meta")).uncheck()
    await form.get_by_label(re.compile("^Twilio")).check()

    await form.get_by_role("button", name="Create the template and ask for its approval").click()

    await expect(desktop.get_by_role("status")).to_contain_text("The template was created.")
    await expect(desktop.get_by_role("heading", level=1)).to_contain_text(name)
    row = desktop.get_by_role("row").filter(has=desktop.get_by_role("rowheader", name=name, exact=True))
    await desktop.get_by_role("link", name="Templates", exact=True).first.click()
    await expect(row).to_contain_text("Pending")

    console_world.world.twilio.state.advance_clock(TWILIO_REVIEW_SECONDS)
    await desktop.get_by_role("button", name="Sync with providers").click()

    await expect(desktop.get_by_role("status")).to_have_text("The catalogue is in step with the providers.")
    await expect(row).to_contain_text("Approved")
    (template,) = [
        item
        for item in (await console_world.world.api("GET", "/api/templates"))["items"]
        if item["template"]["name"] == name
    ]
    assert [(listing["provider"], listing["status"]) for listing in template["listings"]] == [
        ("twilio", "approved")
    ]


async def test_an_agent_reads_the_catalogue_and_cannot_change_it(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    await sign_in(desktop, console_world.agent, next_path=TEMPLATES)

    await expect(desktop.get_by_role("heading", level=1)).to_have_text("Templates")
    await expect(desktop.get_by_role("link", name="New template")).to_have_count(0)
    await expect(desktop.get_by_role("button", name="Sync with providers")).to_have_count(0)
    response = await desktop.goto(f"{TEMPLATES}/new")
    assert response is not None
    assert response.status == 403
