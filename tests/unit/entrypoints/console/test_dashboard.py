"""The console's dashboard shows the API's figures: a tenant's for its users, the platform's for
platform admins (who read no tenant's messages)."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.support.api import Api
from tests.support.console import ConsolePages, text_of

HOSTILE = '<script>alert(1)</script><img src=x onerror="x()">'


def figures_of(page: str) -> dict[str, int]:
    return {name: int(value) for name, value in re.findall(r'data-figure="([a-z_]+)">(\d+)<', page)}


async def test_the_dashboard_shows_the_same_figures_as_the_api(api: Api) -> None:
    await api.customer_writes(api.acme, "+14155550123", timedelta(hours=2), body="Where is my order?")
    await api.customer_writes(api.acme, "+14155550124", timedelta(days=2), body="Thanks!")
    admin = await api.login(api.acme)
    sent = await api.send(admin, to_number="+14155550123", body="On its way")
    assert sent.status_code == 201, sent.text
    console = ConsolePages(api.client)
    await console.sign_in("ana")

    page = await console.get("/console")
    expected = (await api.client.get("/api/dashboard", headers=admin)).json()

    figures = figures_of(page)
    assert figures == {
        "active_conversations": expected["active_conversations"],
        "messages_today": expected["messages_today"],
        "total_messages": expected["total_messages"],
        "dispatch_waiting": expected["dispatch_queue"]["waiting"],
        "templates_pending": expected["templates_pending"],
    }
    assert figures["total_messages"] >= 3
    assert "On its way" in text_of(page)  # the conversation's last message


async def test_another_tenants_conversations_never_show(api: Api) -> None:
    await api.customer_writes(api.globex, "+14155550199", timedelta(hours=1), body="globex secret")
    console = ConsolePages(api.client)
    await console.sign_in("alice")

    page = await console.get("/console")

    assert "globex secret" not in page
    assert figures_of(page)["total_messages"] == 0


async def test_a_message_holding_markup_shows_as_text(api: Api) -> None:
    await api.customer_writes(
        api.acme,
        "+14155550123",
        timedelta(hours=1),
        body='<script>alert(1)</script><img src=x onerror="x()">',
    )
    console = ConsolePages(api.client)
    await console.sign_in("alice")

    page = await console.get("/console")

    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page


async def test_a_platform_admin_sees_the_tenants_and_their_usage_but_no_messages(api: Api) -> None:
    await api.customer_writes(api.acme, "+14155550123", timedelta(hours=1), body="acme private words")
    console = ConsolePages(api.client)
    await console.sign_in("root")

    page = await console.get("/console")
    expected = (await api.client.get("/admin/usage", headers=await api.bearer("root"))).json()

    figures = figures_of(page)
    assert figures["active_tenants"] == expected["active_tenants"]
    assert figures["tenants"] == expected["active_tenants"] + expected["suspended_tenants"]
    text = text_of(page)
    assert api.acme.tenant.name in text
    assert api.globex.tenant.name in text
    assert "acme private words" not in page


async def test_the_spanish_dashboard(api: Api) -> None:
    api.client.headers["Accept-Language"] = "es"
    console = ConsolePages(api.client)
    await console.sign_in("alice")

    text = text_of(await console.get("/console"))

    assert "Mensajes de hoy" in text
    assert "Conversaciones activas" in text
