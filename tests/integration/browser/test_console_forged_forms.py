"""Forms only the console's own pages can submit, in Chromium: a request without the page's CSRF token,
or a form on another origin's page aimed at the console, is refused with a page saying so, and changes
nothing (no user is made, the user stays signed in)."""

from __future__ import annotations

import uuid

from playwright.async_api import Page, expect

from tests.support.browser import CONSOLE, ConsoleWorld, sign_in

REFUSED = "did not come from this page"


async def _usernames(console_world: ConsoleWorld) -> list[str]:
    return [user["username"] for user in await console_world.world.api("GET", "/api/users")]


async def _still_signed_in(page: Page) -> None:
    await page.goto(CONSOLE)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")


async def test_a_post_without_the_pages_token_is_refused_and_changes_nothing(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    await sign_in(desktop, console_world.tenant_admin)
    intruder = f"intruder-{uuid.uuid4().hex[:6]}"

    # With the browser's cookies (the session and the CSRF cookie), but no token in the forms.
    create_user = await desktop.request.post(
        f"{CONSOLE}/admin/users",
        form={"username": intruder, "password": "an intruder's password", "role": "tenant_admin"},
        max_redirects=0,
    )
    sign_out = await desktop.request.post(f"{CONSOLE}/logout", form={}, max_redirects=0)

    assert (create_user.status, sign_out.status) == (403, 403)
    assert REFUSED in await create_user.text()
    assert intruder not in await _usernames(console_world)
    await _still_signed_in(desktop)


async def test_a_form_on_another_origins_page_is_refused_and_changes_nothing(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    await sign_in(desktop, console_world.tenant_admin)
    intruder = f"intruder-{uuid.uuid4().hex[:6]}"
    # A page of another origin (the emulator's port) with a form that posts to the console, a guessed
    # token in it; the browser sends the console's cookies along, as it would to a same-site origin.
    await desktop.goto(console_world.world.twilio.base_url)
    await desktop.set_content(
        f'<form method="post" action="{console_world.base_url}{CONSOLE}/admin/users">'
        '<input type="hidden" name="_csrf_token" value="guessed">'
        f'<input type="hidden" name="username" value="{intruder}">'
        '<input type="hidden" name="password" value="an intruder\'s password">'
        '<input type="hidden" name="role" value="tenant_admin">'
        "<button>Win a prize</button></form>"
    )

    await desktop.get_by_role("button", name="Win a prize").click()

    await expect(desktop.get_by_role("heading", level=1)).to_have_text("Forbidden")
    await expect(desktop.get_by_text(REFUSED)).to_be_visible()
    assert intruder not in await _usernames(console_world)
    await _still_signed_in(desktop)
