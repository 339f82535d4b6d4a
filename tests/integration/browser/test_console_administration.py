"""Administration in Chromium, as a tenant admin: a user created on the Users page signs in with the
password given; an API key is shown once, works on the API, and is never shown again; a webhook endpoint
is created with its events and its signing secret shown once. An agent has no way in."""

from __future__ import annotations

import socket
import uuid

from playwright.async_api import Page, expect

from tests.support.browser import CONSOLE, DESKTOP, ConsoleWorld, OpenPage, sign_in

ADMIN = f"{CONSOLE}/admin"


def closed_port() -> int:
    """A local port nothing listens on: the endpoint's deliveries wait there, harmlessly."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_user_created_on_the_users_page_signs_in_with_the_password_given(
    open_page: OpenPage, console_world: ConsoleWorld
) -> None:
    admin = await open_page(DESKTOP)
    await sign_in(admin, console_world.tenant_admin, next_path=f"{ADMIN}/users")
    username = f"nora-{uuid.uuid4().hex[:6]}"
    form = admin.get_by_role("region", name="New user")
    await form.get_by_label("Username").fill(username)
    await form.get_by_label("Password").fill("nora's own long password")
    await form.get_by_label("Role").select_option(label="Agent")

    await form.get_by_role("button", name="Create user").click()

    row = admin.get_by_role("row").filter(has=admin.get_by_role("rowheader", name=username, exact=True))
    await expect(row).to_contain_text("Agent")
    await expect(row).to_contain_text("Active")
    users = await console_world.world.api("GET", "/api/users")
    assert [user["role"] for user in users if user["username"] == username] == ["agent"]
    nora = await open_page(DESKTOP)
    await nora.goto(f"{CONSOLE}/login")
    await nora.get_by_label("Username").fill(username)
    await nora.get_by_label("Password").fill("nora's own long password")
    await nora.get_by_role("button", name="Sign in").click()
    await expect(nora.get_by_role("heading", level=1)).to_have_text("Dashboard")
    await expect(
        nora.get_by_role("navigation", name="Sections").get_by_role("link", name="Administration")
    ).to_have_count(0)


async def test_an_api_key_is_shown_once_works_on_the_api_and_is_not_shown_again(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    await sign_in(desktop, console_world.tenant_admin, next_path=f"{ADMIN}/api-keys")
    name = f"shop server {uuid.uuid4().hex[:6]}"
    form = desktop.get_by_role("region", name="New API key")
    await form.get_by_label("Name").fill(name)
    await form.get_by_label("Acts as").select_option(label="Agent")

    await form.get_by_role("button", name="Create API key").click()

    await expect(desktop.get_by_role("heading", name="API key created")).to_be_visible()
    key = await desktop.get_by_label("The new key").input_value()
    answer = await console_world.world.http.get(
        "/api/conversations", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200, answer.text
    row = desktop.get_by_role("row").filter(has=desktop.get_by_role("rowheader", name=name, exact=True))
    await expect(row).to_contain_text("Active")
    # Shown once: the list, opened again, has the key's prefix and not the key.
    await (
        desktop.get_by_role("navigation", name="Administration").get_by_role("link", name="API keys").click()
    )
    await expect(desktop.get_by_role("heading", name="API key created")).to_have_count(0)
    assert key not in await desktop.content()
    await expect(row).to_be_visible()


async def test_a_webhook_endpoint_is_created_with_its_events_and_its_secret_shown_once(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    await sign_in(desktop, console_world.tenant_admin, next_path=f"{ADMIN}/webhooks")
    url = f"http://127.0.0.1:{closed_port()}/wa/{uuid.uuid4().hex[:6]}"  # private: allowed in this world
    form = desktop.get_by_role("region", name="New webhook endpoint")
    await form.get_by_label("URL").fill(url)
    await form.get_by_label("Description").fill("The CRM")
    await form.get_by_label("message.received").check()

    await form.get_by_role("button", name="Create endpoint").click()

    await expect(desktop.get_by_role("heading", level=1)).to_have_text("Webhook endpoint created")
    secret = await desktop.get_by_label("The signing secret").input_value()
    assert secret
    endpoints = (await console_world.world.api("GET", "/api/webhooks"))["items"]
    (created,) = [endpoint for endpoint in endpoints if endpoint["url"] == url]
    assert created["events"] == ["message.received"]
    await desktop.get_by_role("link", name="Go to the endpoint").click()
    await expect(desktop.get_by_text(url).first).to_be_visible()
    assert secret not in await desktop.content()


async def test_an_agent_is_refused_the_administration_pages(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    await sign_in(desktop, console_world.agent)
    await expect(
        desktop.get_by_role("navigation", name="Sections").get_by_role("link", name="Administration")
    ).to_have_count(0)

    response = await desktop.goto(f"{ADMIN}/users")

    assert response is not None
    assert response.status == 403
    await expect(desktop.get_by_role("heading", level=1)).to_have_text("Forbidden")
