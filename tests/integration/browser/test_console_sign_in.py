"""Signing in to the console and out of it, in Chromium: the form leads to the dashboard, a wrong
password is said so beside the form, a page asked for while signed out comes back after signing in, and
signing out in one tab ends the session in every other."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.support.browser import CONSOLE, DESKTOP, ConsoleWorld, OpenPage, sign_in, sign_out


async def test_a_tenant_admin_signs_in_to_the_dashboard(desktop: Page, console_world: ConsoleWorld) -> None:
    await sign_in(desktop, console_world.tenant_admin)

    await expect(desktop.get_by_role("heading", level=1)).to_have_text("Dashboard")
    await expect(desktop.get_by_role("button", name="Sign out")).to_be_visible()


async def test_a_wrong_password_is_said_beside_the_form_and_signs_no_one_in(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    admin = console_world.tenant_admin
    await desktop.goto(f"{CONSOLE}/login")
    await desktop.get_by_label("Username").fill(admin.username)
    await desktop.get_by_label("Password").fill(admin.password + " but wrong")

    async with desktop.expect_response(f"**{CONSOLE}/login") as answer:
        await desktop.get_by_role("button", name="Sign in").click()

    assert (await answer.value).status == 401
    await expect(desktop.get_by_role("alert")).to_have_text("The username or password is wrong.")
    await expect(desktop.get_by_label("Username")).to_have_value(admin.username)
    await expect(desktop.get_by_label("Password")).to_have_value("")
    # Still no one: the dashboard sends the browser back to the form.
    await desktop.goto(CONSOLE)
    await expect(desktop).to_have_url(f"{console_world.base_url}{CONSOLE}/login?next=%2Fconsole")


async def test_a_page_asked_for_while_signed_out_comes_back_after_signing_in(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    await desktop.goto(f"{CONSOLE}?from=bookmark")

    await expect(desktop.get_by_role("heading", level=1)).to_have_text("Sign in")
    await desktop.get_by_label("Username").fill(console_world.agent.username)
    await desktop.get_by_label("Password").fill(console_world.agent.password)
    await desktop.get_by_role("button", name="Sign in").click()

    await expect(desktop).to_have_url(f"{console_world.base_url}{CONSOLE}?from=bookmark")
    await expect(desktop.get_by_role("heading", level=1)).to_have_text("Dashboard")


async def test_signing_out_in_one_tab_ends_the_session_in_the_other(
    open_page: OpenPage, console_world: ConsoleWorld
) -> None:
    first = await open_page(DESKTOP)
    second = await first.context.new_page()
    await sign_in(first, console_world.agent)
    await second.goto(CONSOLE)
    await expect(second.get_by_role("heading", level=1)).to_have_text("Dashboard")

    await sign_out(first)

    await second.reload()
    await expect(second.get_by_role("heading", level=1)).to_have_text("Sign in")


async def test_signing_out_ends_the_session_on_the_server_not_only_the_cookie(
    open_page: OpenPage, console_world: ConsoleWorld
) -> None:
    page = await open_page(DESKTOP)
    await sign_in(page, console_world.agent)
    cookies = await page.context.cookies()

    await sign_out(page)

    # The old cookie, put back as a stolen copy would be, opens nothing.
    await page.context.add_cookies(cookies)  # type: ignore[arg-type]
    await page.goto(CONSOLE)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
