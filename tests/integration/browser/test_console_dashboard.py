"""The dashboard in Chromium shows what the API says: a tenant's figures and latest conversations are
GET /api/dashboard's, a customer's new message among them; a platform admin's tenants and their usage
are GET /admin/usage's."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.support.browser import Account, ConsoleWorld, sign_in

TENANT_FIGURES = ("active_conversations", "messages_today", "total_messages", "templates_pending")


async def _figures(page: Page) -> dict[str, str]:
    figures: dict[str, str] = await page.locator("[data-figure]").evaluate_all(
        "(nodes) => Object.fromEntries(nodes.map((node) => [node.dataset.figure, node.textContent.trim()]))"
    )
    return figures


async def _api_as(console_world: ConsoleWorld, account: Account, path: str) -> Any:
    http = console_world.world.http
    login = await http.post("/auth/login", json={"username": account.username, "password": account.password})
    assert login.status_code == 200, login.text
    answer = await http.get(path, headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_tenants_figures_and_latest_conversations_are_the_apis(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    await console_world.customer_writes("Is my order on its way?", profile_name="Dora")
    dashboard = await console_world.world.api("GET", "/api/dashboard")

    await sign_in(desktop, console_world.agent)

    figures = await _figures(desktop)
    assert {name: figures[name] for name in TENANT_FIGURES} == {
        name: str(dashboard[name]) for name in TENANT_FIGURES
    }
    assert figures["dispatch_waiting"] == str(dashboard["dispatch_queue"]["waiting"])
    assert dashboard["active_conversations"] >= 1
    latest = desktop.get_by_role("region", name="Latest conversations").get_by_role("listitem")
    await expect(latest).to_contain_text(
        [
            f"{c['profile_name'] or c['contact']} {c['last_message']['preview']}"
            for c in dashboard["latest_conversations"]
        ]
    )
    await expect(latest.first).to_contain_text("Dora Is my order on its way?")


async def test_a_platform_admins_tenants_and_usage_are_the_apis(
    desktop: Page, console_world: ConsoleWorld
) -> None:
    usage = await _api_as(console_world, console_world.platform_admin, "/admin/usage")

    await sign_in(desktop, console_world.platform_admin)

    assert await _figures(desktop) == {
        "tenants": str(usage["active_tenants"] + usage["suspended_tenants"]),
        "active_tenants": str(usage["active_tenants"]),
        "suspended_tenants": str(usage["suspended_tenants"]),
    }
    rows = desktop.get_by_role("row")  # of the one table, the usage by tenant
    for tenant in usage["tenants"]:
        row = rows.filter(has=desktop.get_by_role("rowheader", name=tenant["name"], exact=True))
        await expect(row.get_by_role("cell")).to_have_text(
            [
                tenant["status"],
                str(tenant["messages_today"]),
                str(tenant["total_messages"]),
                str(tenant["users"]),
                str(tenant["senders"]),
            ]
        )
