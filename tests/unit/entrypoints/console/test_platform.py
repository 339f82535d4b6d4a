"""Platform administration in the console, through the real app with fakes behind it: the tenants,
creating, changing, suspending and reactivating one, its usage, and that only platform admins get in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from domain.administration.tenancy import TenantStatus
from tests.support.api import Api
from tests.support.console import ConsolePages, text_of
from tests.support.fakes import FakeUnitOfWork, open_window

TENANTS = "/console/platform/tenants"


async def console_of(api: Api, username: str) -> ConsolePages:
    console = ConsolePages(api.client)
    await console.sign_in(username)
    return console


async def tenant_named(api: Api, name: str) -> dict[str, Any] | None:
    response = await api.client.get("/admin/tenants", headers=await api.bearer("root"))
    assert response.status_code == 200, response.text
    return next((tenant for tenant in response.json()["items"] if tenant["name"] == name), None)


async def test_the_tenants_are_listed_with_provider_status_and_creation(api: Api) -> None:
    root = await console_of(api, "root")

    page = text_of(await root.get(TENANTS))

    assert "Acme Sandbox Active" in page
    assert "Globex Sandbox Active" in page
    assert "platform" not in page.lower().split("tenants", 1)[1]  # the platform's own tenant is no customer
    assert "Tenants" in text_of(await root.get("/console"))  # in the navigation


async def test_a_platform_admin_creates_a_tenant(api: Api) -> None:
    root = await console_of(api, "root")

    response = await root.submit(
        f"{TENANTS}/new", {"name": "Initech", "provider": "sandbox"}, from_page=f"{TENANTS}/new"
    )

    created = await tenant_named(api, "Initech")
    assert created is not None
    assert created["provider"] == "sandbox"
    assert response.headers["location"] == f"{TENANTS}/{created['id']}?done=created"
    page = text_of(await root.get(response.headers["location"]))
    assert "The tenant was created." in page
    assert "Initech" in page


async def test_a_refused_tenant_is_shown_again_with_the_reason_and_nothing_is_created(api: Api) -> None:
    root = await console_of(api, "root")

    taken = await root.submit(
        f"{TENANTS}/new", {"name": "Acme", "provider": "sandbox"}, from_page=f"{TENANTS}/new", expect=409
    )
    twilio = await root.submit(
        f"{TENANTS}/new",
        {"name": "Initech", "provider": "twilio", "twilio_auth_token": "a-secret-token"},
        from_page=f"{TENANTS}/new",
        expect=422,
    )
    forged = await root.submit(
        f"{TENANTS}/new", {"name": "Initech", "provider": "meta"}, from_page=f"{TENANTS}/new", expect=422
    )

    assert "a tenant named 'Acme' exists already" in text_of(taken.text)
    assert "Twilio Account SID" in text_of(twilio.text)
    assert 'value="Initech"' in twilio.text
    assert "a-secret-token" not in twilio.text  # a secret is never shown again
    assert "sandbox or twilio" in text_of(forged.text)
    assert await tenant_named(api, "Initech") is None


async def test_a_platform_admin_changes_a_tenants_name_and_limits(api: Api) -> None:
    root = await console_of(api, "root")
    path = f"{TENANTS}/{api.acme.tenant.id}"
    form = await root.get(f"{path}/edit")
    assert 'value="Acme"' in form

    response = await root.submit(
        f"{path}/edit",
        {"name": "Acme Shoes", "provider": "sandbox", "session_window_check": "on", "sends_per_minute": "30"},
        from_page=f"{path}/edit",
    )

    assert response.headers["location"] == f"{path}?done=updated"
    changed = await tenant_named(api, "Acme Shoes")
    assert changed is not None
    assert changed["sends_per_minute"] == 30
    assert changed["session_window_check"] is True
    page = text_of(await root.get(response.headers["location"]))
    assert "The tenant was changed." in page
    assert "Sends per minute 30" in page


async def test_a_refused_change_is_shown_again_and_changes_nothing(api: Api) -> None:
    root = await console_of(api, "root")
    path = f"{TENANTS}/{api.acme.tenant.id}"

    response = await root.submit(
        f"{path}/edit",
        {"name": "Acme", "provider": "twilio", "session_window_check": "on", "sends_per_day": "lots"},
        from_page=f"{path}/edit",
        expect=422,
    )

    assert "is a whole number" in text_of(response.text)
    assert 'value="lots"' in response.text
    unchanged = await tenant_named(api, "Acme")
    assert unchanged is not None
    assert unchanged["provider"] == "sandbox"


async def test_suspending_asks_first_then_its_users_cannot_sign_in_until_reactivated(api: Api) -> None:
    # Another browser on the started app, with cookies of its own. Litestar's ASGI signature is
    # narrower than httpx's callable type, though it is an ASGI app.
    transport = httpx.ASGITransport(app=api.app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as browser:
        alice = ConsolePages(browser)
        await alice.sign_in("alice")
        await suspend_and_reactivate_acme(api, alice)


async def suspend_and_reactivate_acme(api: Api, alice: ConsolePages) -> None:
    root = await console_of(api, "root")
    path = f"{TENANTS}/{api.acme.tenant.id}"
    assert "Suspend the tenant…" in text_of(await root.get(path))
    confirmation = text_of(await root.get(f"{path}/suspend"))
    assert "Suspend Acme?" in confirmation

    response = await root.submit(f"{path}/suspend", from_page=f"{path}/suspend")

    assert response.headers["location"] == f"{path}?done=suspended"
    page = text_of(await root.get(response.headers["location"]))
    assert "The tenant is suspended" in page
    assert "Suspended" in page
    acme = await tenant_named(api, "Acme")
    assert acme is not None
    assert acme["status"] == TenantStatus.SUSPENDED.value
    await alice.get("/console", expect=303)  # her session ended
    refused = await alice.submit(
        "/console/login",
        {"username": "alice", "password": api.acme.password, "next": "/console"},
        from_page="/console/login",
        expect=401,
    )
    assert "The username or password is wrong." in text_of(refused.text)

    reactivated = await root.submit(f"{path}/reactivate", from_page=path)

    assert reactivated.headers["location"] == f"{path}?done=reactivated"
    assert "The tenant is active again" in text_of(await root.get(reactivated.headers["location"]))
    await alice.sign_in("alice")


async def test_a_tenants_page_shows_its_usage_in_counts(api: Api) -> None:
    await open_window(
        FakeUnitOfWork(api.database), api.acme, "+14155550123", api.clock.now() - timedelta(minutes=5)
    )
    root = await console_of(api, "root")

    page = text_of(await root.get(f"{TENANTS}/{api.acme.tenant.id}"))

    assert "Messages in all 1" in page
    assert "Users 2" in page  # alice and ana
    assert "Senders 1" in page
    assert "hi" not in page.split()  # no message's text


@pytest.mark.parametrize("username", ["alice", "ana"])
async def test_tenant_users_get_403_on_platform_pages(api: Api, username: str) -> None:
    console = await console_of(api, username)
    path = f"{TENANTS}/{api.globex.tenant.id}"

    for page in (TENANTS, f"{TENANTS}/new", path, f"{path}/edit", f"{path}/suspend"):
        await console.get(page, expect=403)
    await console.submit(f"{path}/suspend", from_page="/console", expect=403)
    await console.submit(f"{TENANTS}/new", {"name": "Initech"}, from_page="/console", expect=403)

    assert await tenant_named(api, "Initech") is None
    globex = await tenant_named(api, "Globex")
    assert globex is not None
    assert globex["status"] == "active"
    assert "Tenants" not in text_of(await console.get("/console"))


async def test_a_forged_form_without_its_csrf_token_changes_nothing(api: Api) -> None:
    await console_of(api, "root")
    path = f"{TENANTS}/{api.acme.tenant.id}"

    suspend = await api.client.post(f"{path}/suspend", follow_redirects=False)
    create = await api.client.post(f"{TENANTS}/new", data={"name": "Initech"}, follow_redirects=False)

    assert suspend.status_code == 403
    assert create.status_code == 403
    acme = await tenant_named(api, "Acme")
    assert acme is not None
    assert acme["status"] == "active"
    assert await tenant_named(api, "Initech") is None


async def test_a_hostile_tenant_name_is_shown_as_text(api: Api) -> None:
    hostile = '<img src=x onerror="alert(1)">'
    root = await console_of(api, "root")
    response = await root.submit(f"{TENANTS}/new", {"name": hostile}, from_page=f"{TENANTS}/new")

    for page in (await root.get(TENANTS), await root.get(response.headers["location"])):
        assert hostile not in page
        assert "&lt;img src=x onerror=" in page
