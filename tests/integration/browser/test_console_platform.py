"""The platform's tenants in Chromium, as a platform admin: a tenant created on the New tenant page gets
its page; suspending it signs its people out at once (a page of theirs left open goes to the sign-in
form) and keeps them out until it is reactivated."""

from __future__ import annotations

import re
import uuid
from uuid import UUID

from playwright.async_api import Page, expect

from application.authorization import OPERATOR
from domain.administration.tenancy import Role
from tests.support.browser import (
    CONSOLE,
    DESKTOP,
    PASSWORD,
    SIGN_IN_WORDS,
    Account,
    ConsoleWorld,
    OpenPage,
    sign_in,
)

TENANTS = f"{CONSOLE}/platform/tenants"


async def _refused_sign_in(page: Page, account: Account) -> None:
    username, password, button = SIGN_IN_WORDS["en"]
    await page.goto(f"{CONSOLE}/login")
    await page.get_by_label(username).fill(account.username)
    await page.get_by_label(password).fill(account.password)
    await page.get_by_role("button", name=button).click()
    await expect(page.get_by_role("alert")).to_be_visible()


async def test_a_tenant_created_then_suspended_has_its_people_signed_out_until_reactivated(
    open_page: OpenPage, console_world: ConsoleWorld
) -> None:
    root = await open_page(DESKTOP)
    await sign_in(root, console_world.platform_admin, next_path=TENANTS)
    name = f"Bakery {uuid.uuid4().hex[:6]}"
    await root.get_by_role("link", name="New tenant").click()
    await root.get_by_label("Name").fill(name)
    await root.get_by_label("Provider").select_option(label="Sandbox")

    await root.get_by_role("button", name="Create the tenant").click()

    await expect(root.get_by_role("heading", level=1)).to_have_text(name)
    await expect(root.get_by_role("status")).to_contain_text("The tenant was created.")
    created = re.search(r"/platform/tenants/([0-9a-f-]{36})", root.url)
    assert created is not None, root.url
    tenant_id = UUID(created[1])
    # Its first admin, as the command line makes one, signs in.
    baker = Account(f"baker-{uuid.uuid4().hex[:6]}", PASSWORD, Role.TENANT_ADMIN)
    await console_world.world.container.create_user()(
        OPERATOR, tenant_id, baker.username, baker.password, baker.role
    )
    baker_page = await open_page(DESKTOP)
    await sign_in(baker_page, baker)

    await root.get_by_role("link", name="Suspend the tenant…").click()
    await root.get_by_role("button", name="Suspend the tenant and sign its users out").click()

    await expect(root.get_by_role("status")).to_be_visible()
    await expect(root.locator("dl.facts")).to_contain_text("Suspended")
    await baker_page.reload()
    await expect(baker_page.get_by_role("heading", level=1)).to_have_text("Sign in")
    await _refused_sign_in(baker_page, baker)

    await root.get_by_role("button", name="Reactivate the tenant").click()

    await expect(root.locator("dl.facts")).to_contain_text("Active")
    await sign_in(baker_page, baker)
    await expect(baker_page.get_by_role("heading", level=1)).to_have_text("Dashboard")


async def test_a_tenant_admin_has_no_way_to_the_platforms_pages(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    await sign_in(desktop, console_world.tenant_admin)
    await expect(desktop.get_by_role("link", name="Tenants")).to_have_count(0)

    response = await desktop.goto(TENANTS)

    assert response is not None
    assert response.status == 403
