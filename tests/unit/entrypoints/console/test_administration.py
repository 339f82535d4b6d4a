"""The console's tenant administration: users, senders, provider accounts, API keys, webhooks, limits and
the audit log, for the tenant's admins only, each page on the use cases the API's routes call.

What a page did is checked through the API (the same use cases), never through the page alone."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.administration.audit import ActorKind, AuditAction, AuditActor, AuditEntry
from domain.administration.tenancy import Role
from domain.tenant_webhooks.model import DeliveryState, WebhookDelivery, WebhookEventType, new_delivery_id
from entrypoints.console import pages, rendering
from entrypoints.console.pages.administration import accounts, api_keys, senders, users, webhooks
from entrypoints.console.texts import SPANISH
from tests.support.api import ACCESS_CONTROL, Api, ApiOptions
from tests.support.console import ConsolePages, text_of
from tests.support.fakes import FakeUnitOfWork

ADMIN_PAGES = (
    "/console/admin",
    "/console/admin/users",
    "/console/admin/senders",
    "/console/admin/accounts",
    "/console/admin/api-keys",
    "/console/admin/webhooks",
    "/console/admin/limits",
    "/console/admin/consent",
    "/console/admin/retention",
    "/console/admin/audit",
)
TWILIO_SID = "AC" + "1" * 32
AUTH_TOKEN = "twilio-auth-token-never-shown"


@pytest.fixture
def api_options() -> ApiOptions:
    return ACCESS_CONTROL


async def signed_in(api: Api, username: str = "alice") -> ConsolePages:
    console = ConsolePages(api.client)
    await console.sign_in(username)
    return console


async def api_get(api: Api, path: str, username: str = "alice") -> Any:
    response = await api.client.get(path, headers=await api.bearer(username))
    assert response.status_code == 200, response.text
    return response.json()


async def every_admin_page(console: ConsolePages, api: Api) -> str:
    """Every administration page of the signed-in admin, the detail pages of its accounts and webhooks
    included, as one text."""
    pages = [await console.get(path) for path in ADMIN_PAGES]
    for account in await api_get(api, "/api/provider-accounts"):
        pages.append(await console.get(f"/console/admin/accounts/{account['id']}"))
    for endpoint in (await api_get(api, "/api/webhooks"))["items"]:
        pages.append(await console.get(f"/console/admin/webhooks/{endpoint['id']}"))
    return "\n".join(pages)


# ------------------------------------------------------------------------------------------------ access


async def test_tenant_admins_find_administration_in_the_navigation_and_agents_do_not(api: Api) -> None:
    alice = await signed_in(api)
    assert 'href="/console/admin"' in await alice.get("/console")
    index = text_of(await alice.get("/console/admin"))
    for section in ("Users", "Senders", "Provider accounts", "API keys", "Webhooks", "Limits", "Audit log"):
        assert section in index

    ana = await signed_in(api, "ana")
    assert 'href="/console/admin"' not in await ana.get("/console")


async def test_an_agent_gets_403_on_every_administration_page_and_form(api: Api) -> None:
    ana = await signed_in(api, "ana")
    for path in ADMIN_PAGES:
        assert "Forbidden" in await ana.get(path, expect=403)

    users_before = await api_get(api, "/api/users")
    forms = {
        "/console/admin/users": {
            "username": "mallory",
            "password": "a long password",
            "role": "tenant_admin",
        },
        f"/console/admin/users/{api.agent.id}/role": {"role": "tenant_admin"},
        "/console/admin/api-keys": {"name": "stolen", "role": "tenant_admin"},
        "/console/admin/webhooks": {"url": "https://example.com/hook", "events": "message.received"},
        "/console/admin/senders": {"phone_number": "+15550001111"},
        "/console/admin/accounts/twilio": {"account_sid": TWILIO_SID, "auth_token": AUTH_TOKEN},
    }
    for path, form in forms.items():
        await ana.submit(path, form, from_page="/console", expect=403)

    assert await api_get(api, "/api/users") == users_before
    assert await api_get(api, "/api/api-keys") == []
    assert (await api_get(api, "/api/webhooks"))["items"] == []
    assert await api_get(api, "/api/provider-accounts") == []


async def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(api: Api) -> None:
    alice = await signed_in(api)
    await alice.get("/console/admin/users")  # the CSRF cookie is set; the form's token is left out

    forged = await api.client.post(
        "/console/admin/users",
        data={"username": "mallory", "password": "a long password", "role": "tenant_admin"},
        follow_redirects=False,
    )
    revoke = await api.client.post(
        f"/console/admin/users/{api.agent.id}/active", data={"active": "false"}, follow_redirects=False
    )

    assert (forged.status_code, revoke.status_code) == (403, 403)
    users = await api_get(api, "/api/users")
    assert sorted(u["username"] for u in users) == ["alice", "ana"]
    assert all(u["is_active"] for u in users)


# ------------------------------------------------------------------------------------------------- users


async def test_an_admin_creates_a_user_who_can_then_sign_in(api: Api) -> None:
    alice = await signed_in(api)

    created = await alice.submit(
        "/console/admin/users",
        {"username": "carol", "password": "carol's long password", "role": "agent"},
        from_page="/console/admin/users",
    )

    assert created.headers["location"] == "/console/admin/users?done=created"
    page = text_of(await alice.get("/console/admin/users", done="created"))
    assert "The user was created." in page
    assert "carol" in page
    carol = next(u for u in await api_get(api, "/api/users") if u["username"] == "carol")
    assert (carol["role"], carol["is_active"]) == ("agent", True)
    await api.bearer("carol", "carol's long password")
    assert "carol's long password" not in page


async def test_a_refused_user_shows_the_reason_beside_the_form_without_the_password(api: Api) -> None:
    alice = await signed_in(api)

    taken = await alice.submit(
        "/console/admin/users",
        {"username": "ana", "password": "a secret password", "role": "agent"},
        from_page="/console/admin/users",
        expect=409,
    )
    short = await alice.submit(
        "/console/admin/users",
        {"username": "dave", "password": "short", "role": "agent"},
        from_page="/console/admin/users",
        expect=422,
    )

    assert "the username 'ana' is taken" in text_of(taken.text)
    assert 'value="dave"' in short.text  # what was typed stays, but never the password
    assert 'value="short"' not in short.text
    assert "a secret password" not in taken.text
    assert sorted(u["username"] for u in await api_get(api, "/api/users")) == ["alice", "ana"]


async def test_an_admin_changes_a_role_and_deactivates_and_reactivates_a_user(api: Api) -> None:
    alice = await signed_in(api)
    ana = f"/console/admin/users/{api.agent.id}"

    role = await alice.submit(f"{ana}/role", {"role": "tenant_admin"}, from_page="/console/admin/users")
    assert role.headers["location"] == "/console/admin/users?done=role"
    assert {u["username"]: u["role"] for u in await api_get(api, "/api/users")}["ana"] == "tenant_admin"

    await alice.submit(f"{ana}/active", {"active": "false"}, from_page="/console/admin/users")
    assert "Deactivated" in text_of(await alice.get("/console/admin/users"))
    assert {u["username"]: u["is_active"] for u in await api_get(api, "/api/users")}["ana"] is False

    await alice.submit(f"{ana}/active", {"active": "true"}, from_page="/console/admin/users")
    assert {u["username"]: u["is_active"] for u in await api_get(api, "/api/users")}["ana"] is True


async def test_an_admin_cannot_demote_or_deactivate_themselves_and_is_told_why(api: Api) -> None:
    alice = await signed_in(api)
    own = f"/console/admin/users/{api.acme.user.id}"

    demoted = await alice.submit(
        f"{own}/role", {"role": "agent"}, from_page="/console/admin/users", expect=403
    )
    deactivated = await alice.submit(
        f"{own}/active", {"active": "false"}, from_page="/console/admin/users", expect=403
    )

    for refused in (demoted, deactivated):
        assert "you cannot change your own role or deactivate yourself" in text_of(refused.text)
    me = next(u for u in await api_get(api, "/api/users") if u["username"] == "alice")
    assert (me["role"], me["is_active"]) == ("tenant_admin", True)


async def test_another_tenants_user_is_not_found(api: Api) -> None:
    alice = await signed_in(api)
    await alice.submit(
        f"/console/admin/users/{api.globex.user.id}/active",
        {"active": "false"},
        from_page="/console/admin/users",
        expect=404,
    )
    assert all(u["is_active"] for u in await api_get(api, "/api/users", "bob"))


# -------------------------------------------------------------------------------------- provider accounts


async def test_provider_account_secrets_are_never_shown_not_even_after_a_refused_form(api: Api) -> None:
    alice = await signed_in(api)
    await alice.submit(
        "/console/admin/accounts/twilio",
        {"label": "Main", "account_sid": TWILIO_SID, "auth_token": AUTH_TOKEN},
        from_page="/console/admin/accounts",
    )
    refused = await alice.submit(
        "/console/admin/accounts/meta",
        {
            "label": "Brazil",
            "business_account_id": "not digits",
            "access_token": "meta-access-token-never-shown",
            "app_secret": "meta-app-secret-never-shown",
            "verify_token": "meta-verify-token-never-shown",
        },
        from_page="/console/admin/accounts",
        expect=422,
    )

    assert "a WhatsApp Business Account id is 1 to 32 digits" in text_of(refused.text)
    assert 'value="Brazil"' in refused.text
    [account] = await api_get(api, "/api/provider-accounts")
    assert (account["label"], account["twilio"]["account_sid"]) == ("Main", TWILIO_SID)
    pages = refused.text + await every_admin_page(alice, api)
    assert TWILIO_SID in pages
    for secret in (
        AUTH_TOKEN,
        "meta-access-token-never-shown",
        "meta-app-secret-never-shown",
        "meta-verify-token-never-shown",
    ):
        assert secret not in pages


async def test_an_admin_renames_replaces_the_credentials_of_and_removes_an_account(api: Api) -> None:
    alice = await signed_in(api)
    await alice.submit(
        "/console/admin/accounts/meta",
        {
            "label": "Brazil",
            "business_account_id": "102290129340398",
            "access_token": "first-token",
            "app_secret": "first-secret",
            "verify_token": "first-verify",
        },
        from_page="/console/admin/accounts",
    )
    [account] = await api_get(api, "/api/provider-accounts")
    path = f"/console/admin/accounts/{account['id']}"

    await alice.submit(f"{path}/label", {"label": "Brasil"}, from_page=path)
    replaced = await alice.submit(
        f"{path}/meta",
        {
            "business_account_id": "102290129340399",
            "access_token": "second-token",
            "app_secret": "second-secret",
            "verify_token": "second-verify",
        },
        from_page=path,
    )
    assert replaced.headers["location"] == f"{path}?done=credentials"
    [changed] = await api_get(api, "/api/provider-accounts")
    assert (changed["label"], changed["meta"]["business_account_id"]) == ("Brasil", "102290129340399")

    await alice.submit(f"{path}/remove", from_page=path)
    assert await api_get(api, "/api/provider-accounts") == []


# --------------------------------------------------------------------------------------------- senders


async def test_an_admin_adds_changes_and_removes_a_sender(api: Api) -> None:
    alice = await signed_in(api)

    await alice.submit(
        "/console/admin/senders",
        {"phone_number": "+14155550100", "label": "Support", "account": "", "provider_number_id": ""},
        from_page="/console/admin/senders",
    )
    added = next(s for s in await api_get(api, "/api/senders") if s["label"] == "Support")
    path = f"/console/admin/senders/{added['id']}"
    await alice.submit(path, {"label": "Help desk", "make_default": "on"}, from_page="/console/admin/senders")

    senders = {s["label"]: s for s in await api_get(api, "/api/senders")}
    assert senders["Help desk"]["is_default"] is True
    old_default = next(s for s in senders.values() if s["label"] != "Help desk")
    await alice.submit(
        f"/console/admin/senders/{old_default['id']}/remove", from_page="/console/admin/senders"
    )
    assert [s["label"] for s in await api_get(api, "/api/senders")] == ["Help desk"]


async def test_a_refused_sender_shows_why_and_the_default_one_is_not_removed(api: Api) -> None:
    alice = await signed_in(api)
    bad = await alice.submit(
        "/console/admin/senders",
        {"phone_number": "not a number", "label": "x"},
        from_page="/console/admin/senders",
        expect=422,
    )
    assert 'value="not a number"' in bad.text
    assert 'role="alert"' in bad.text

    await alice.submit(
        "/console/admin/senders", {"phone_number": "+14155550100"}, from_page="/console/admin/senders"
    )
    default = next(s for s in await api_get(api, "/api/senders") if s["is_default"])
    refused = await alice.submit(
        f"/console/admin/senders/{default['id']}/remove", from_page="/console/admin/senders", expect=422
    )
    assert "make another sender the default first" in text_of(refused.text)
    assert len(await api_get(api, "/api/senders")) == 2


# -------------------------------------------------------------------------------------------- API keys


async def test_an_api_key_is_shown_once_on_the_page_answering_the_form(api: Api) -> None:
    alice = await signed_in(api)

    created = await alice.submit(
        "/console/admin/api-keys",
        {"name": "CRM", "role": "agent"},
        from_page="/console/admin/api-keys",
        expect=200,
    )

    key = re.search(r'value="(wag_[^"]+)"', created.text)
    assert key is not None, "the page shows the new key"
    assert created.headers["cache-control"] == "no-store"
    assert "location" not in created.headers
    [listed] = await api_get(api, "/api/api-keys")
    assert (listed["name"], listed["role"], listed["revoked_at"]) == ("CRM", "agent", None)
    works = await api.client.get("/api/conversations", headers={"Authorization": f"Bearer {key.group(1)}"})
    assert works.status_code == 200

    later = await every_admin_page(alice, api)
    assert key.group(1) not in later
    assert listed["prefix"] in later


async def test_a_revoked_api_key_stops_working(api: Api) -> None:
    alice = await signed_in(api)
    created = await alice.submit(
        "/console/admin/api-keys",
        {"name": "old", "role": "agent"},
        from_page="/console/admin/api-keys",
        expect=200,
    )
    key = re.search(r'value="(wag_[^"]+)"', created.text)
    assert key is not None
    [listed] = await api_get(api, "/api/api-keys")

    await alice.submit(f"/console/admin/api-keys/{listed['id']}/revoke", from_page="/console/admin/api-keys")

    assert "Revoked" in text_of(await alice.get("/console/admin/api-keys"))
    refused = await api.client.get("/api/conversations", headers={"Authorization": f"Bearer {key.group(1)}"})
    assert refused.status_code == 401


# -------------------------------------------------------------------------------------------- webhooks


async def create_webhook(console: ConsolePages, url: str = "https://example.com/hook") -> str:
    created = await console.submit(
        "/console/admin/webhooks",
        {"url": url, "description": "orders", "events": ["message.received", "message.failed"]},
        from_page="/console/admin/webhooks",
        expect=200,
    )
    assert created.headers["cache-control"] == "no-store"
    secret = re.search(r'value="(whsec_[^"]+)"', created.text)
    assert secret is not None, "the page shows the signing secret"
    return secret.group(1)


async def test_a_webhook_endpoint_is_created_and_its_secret_shown_once(api: Api) -> None:
    alice = await signed_in(api)

    secret = await create_webhook(alice)

    [endpoint] = (await api_get(api, "/api/webhooks"))["items"]
    assert endpoint["url"] == "https://example.com/hook"
    assert sorted(endpoint["events"]) == ["message.failed", "message.received"]
    assert secret not in await every_admin_page(alice, api)


async def test_a_refused_webhook_shows_why_beside_the_form(api: Api) -> None:
    alice = await signed_in(api)
    refused = await alice.submit(
        "/console/admin/webhooks",
        {"url": "https://example.com/hook", "description": "no events"},
        from_page="/console/admin/webhooks",
        expect=422,
    )
    assert "at least one event" in text_of(refused.text)
    assert 'value="no events"' in refused.text
    assert (await api_get(api, "/api/webhooks"))["items"] == []


async def test_an_admin_changes_rotates_and_deletes_an_endpoint(api: Api) -> None:
    alice = await signed_in(api)
    first = await create_webhook(alice)
    [endpoint] = (await api_get(api, "/api/webhooks"))["items"]
    path = f"/console/admin/webhooks/{endpoint['id']}"

    await alice.submit(
        path,
        {"url": "https://example.org/new", "description": "", "events": "message.status"},
        from_page=path,
    )
    [changed] = (await api_get(api, "/api/webhooks"))["items"]
    assert (changed["url"], changed["events"], changed["enabled"]) == (
        "https://example.org/new",
        ["message.status"],
        False,  # the box was left unticked
    )

    rotated = await alice.submit(f"{path}/rotate-secret", from_page=path, expect=200)
    second = re.search(r'value="(whsec_[^"]+)"', rotated.text)
    assert second is not None
    assert second.group(1) != first
    assert rotated.headers["cache-control"] == "no-store"
    assert second.group(1) not in await alice.get(path)

    await alice.submit(f"{path}/delete", from_page=path)
    assert (await api_get(api, "/api/webhooks"))["items"] == []


async def test_an_endpoints_page_lists_its_deliveries_and_replays_one(api: Api) -> None:
    alice = await signed_in(api)
    await create_webhook(alice)
    [endpoint] = (await api_get(api, "/api/webhooks"))["items"]
    now = api.clock.now()
    dead = WebhookDelivery(
        id=new_delivery_id(now),
        tenant_id=api.acme.tenant.id,
        endpoint_id=UUID(endpoint["id"]),
        event_type=WebhookEventType.MESSAGE_RECEIVED,
        payload="{}",
        created_at=now,
        next_attempt_at=now,
        state=DeliveryState.DEAD,
        attempts=16,
        last_attempt_at=now,
        last_status_code=500,
        last_error="<script>alert(1)</script>",
        finished_at=now,
    )
    api.database.webhook_deliveries.add(dead)
    path = f"/console/admin/webhooks/{endpoint['id']}"

    page = await alice.get(path)
    assert dead.id in page
    assert "HTTP 500" in text_of(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page

    replayed = await alice.submit(f"{path}/deliveries/{dead.id}/replay", from_page=path)

    assert replayed.headers["location"] == f"{path}?done=replayed"
    again = await api.client.get(
        f"/api/webhooks/{endpoint['id']}/deliveries/{dead.id}", headers=await api.bearer("alice")
    )
    assert again.json()["state"] == "pending"
    assert "The delivery will be sent again" in text_of(await alice.get(path, done="replayed"))


# ---------------------------------------------------------------------------------- limits and audit


async def test_the_limits_page_shows_the_tenants_own_send_limits_or_the_defaults(api: Api) -> None:
    alice = await signed_in(api)
    assert "Messages sent per minute 600 (the gateway's default)" in text_of(
        await alice.get("/console/admin/limits")
    )

    await FakeUnitOfWork(api.database).tenants.update(replace(api.acme.tenant, sends_per_minute=7))

    page = text_of(await alice.get("/console/admin/limits"))
    assert "Messages sent per minute 7 (set for this tenant)" in page
    assert "Messages sent per day 100000 (the gateway's default)" in page


async def test_the_audit_log_shows_the_tenants_own_trail_a_page_at_a_time(api: Api) -> None:
    bob = await signed_in(api, "bob")  # one browser: bob signs in, works, and alice signs in after him
    await bob.submit(
        "/console/admin/api-keys",
        {"name": "globex key", "role": "agent"},
        from_page="/console/admin/api-keys",
        expect=200,
    )
    alice = await signed_in(api)
    await alice.submit(
        "/console/admin/api-keys",
        {"name": "acme key", "role": "agent"},
        from_page="/console/admin/api-keys",
        expect=200,
    )
    seed = FakeUnitOfWork(api.database)
    actor = AuditActor(kind=ActorKind.USER, id=api.acme.user.id, role=Role.TENANT_ADMIN)
    for minutes in range(1, 56):
        await seed.audit.record(
            AuditEntry(
                action=AuditAction.SESSION_ENDED,
                occurred_at=api.clock.now() - timedelta(days=1, minutes=minutes),
                actor=actor,
                tenant_id=api.acme.tenant.id,
                client_address="203.0.113.7",
            )
        )

    first = await alice.get("/console/admin/audit")
    assert "acme key" in text_of(first)
    assert "globex key" not in first
    assert "alice" in text_of(first)
    assert "203.0.113.7" in first
    older = re.search(r'href="(/console/admin/audit\?cursor=[^"]+)"', first)
    assert older is not None, "a link to older entries"
    second = await alice.get(older.group(1).replace("&amp;", "&"))
    assert "<code>session.ended</code>" in second
    assert "Newest" in text_of(second)

    filtered = await alice.get("/console/admin/audit", action="api_key.created")
    assert "acme key" in text_of(filtered)
    assert "<code>session.ended</code>" not in filtered
    assert "choose one of the listed actions" in text_of(
        await alice.get("/console/admin/audit", action="x", expect=422)
    )


# ------------------------------------------------------------------------------- tenants and hostile text


async def test_every_page_shows_the_tenants_own_data_only(api: Api) -> None:
    bob = await signed_in(api, "bob")
    await bob.submit(
        "/console/admin/api-keys",
        {"name": "globex-key", "role": "agent"},
        from_page="/console/admin/api-keys",
        expect=200,
    )
    await create_webhook(bob, "https://globex.example.com/hook")
    await bob.submit(
        "/console/admin/accounts/twilio",
        {"label": "globex-account", "account_sid": "AC" + "2" * 32, "auth_token": AUTH_TOKEN},
        from_page="/console/admin/accounts",
    )
    globex_pages = await every_admin_page(bob, api)
    assert "globex-key" in globex_pages
    assert "globex.example.com" in globex_pages

    alice = await signed_in(api)
    acme_pages = await every_admin_page(alice, api)

    for theirs in (
        "globex-key",
        "globex.example.com",
        "globex-account",
        "AC" + "2" * 32,
        "bob",
        "+447911123456",
    ):
        assert theirs not in acme_pages
    assert "ana" in acme_pages
    assert "+14155238886" in acme_pages


async def test_hostile_text_shows_as_text(api: Api) -> None:
    alice = await signed_in(api)
    hostile = "<script>alert(1)</script>"
    await alice.submit(
        "/console/admin/accounts/twilio",
        {"label": hostile, "account_sid": TWILIO_SID, "auth_token": AUTH_TOKEN},
        from_page="/console/admin/accounts",
    )
    await alice.submit(
        "/console/admin/senders",
        {"phone_number": "+14155550100", "label": hostile},
        from_page="/console/admin/senders",
    )
    await alice.submit(
        "/console/admin/api-keys",
        {"name": hostile, "role": "agent"},
        from_page="/console/admin/api-keys",
        expect=200,
    )

    pages = await every_admin_page(alice, api)

    assert "<script>alert" not in pages
    assert pages.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # accounts, account, senders, keys


async def test_the_administration_pages_speak_spanish(api: Api) -> None:
    alice = await signed_in(api)
    api.client.cookies.set("wa_console_lang", "es", path="/console")

    users_page = text_of(await alice.get("/console/admin/users"))
    limits_page = text_of(await alice.get("/console/admin/limits"))

    assert "Nuevo usuario" in users_page
    assert "Crear usuario" in users_page
    assert "Mensajes enviados por minuto" in limits_page


def test_every_text_of_the_administration_pages_has_its_spanish() -> None:
    written = [
        *(Path(rendering.TEMPLATES_DIR) / "administration").glob("*.html"),
        *(Path(pages.__file__).parent / "administration").glob("*.py"),
    ]
    literals = {
        text
        for path in written
        for quoted in (r'_\(\s*"([^"]+)"', r"_\(\s*'([^']+)'")
        for text in re.findall(quoted, path.read_text())
    }
    notices = {
        text for page in (users, senders, accounts, api_keys, webhooks) for text in page.NOTICES.values()
    }
    shown_by_name = {"Messages sent per minute", "Messages sent per day", "Pending", "Delivered", "Dead"}
    shown_by_name |= {"API key created", "The new key", "Webhook endpoint created", "Signing secret rotated"}

    assert sorted(text for text in literals | notices | shown_by_name if text not in SPANISH) == []


@pytest.mark.parametrize(
    "query",
    [{"since": "0001-01-01T00:00+14:00"}, {"until": "9999-12-31T23:59-14:00"}, {"since": "yesterday"}],
)
async def test_an_audit_filter_outside_the_calendar_is_a_clear_refusal(
    api: Api, query: dict[str, str]
) -> None:
    console = ConsolePages(api.client)
    await console.sign_in("alice")

    page = await console.get("/console/admin/audit", expect=422, **query)

    assert "is a date and time" in text_of(page)
