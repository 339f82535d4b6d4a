"""Access control over HTTP, through the real app with fakes behind it: every route declares who may
call it (the route walker), roles, tenant isolation, sessions (refresh, logout, revocation), API keys and
administration."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from litestar import Litestar, get
from litestar.handlers.base import BaseRouteHandler
from litestar.routes import HTTPRoute

from application.transactions import ConflictRetry
from domain.administration.tenancy import Role, TenantStatus, User
from domain.identity.credentials import PLATFORM_TENANT_ID
from entrypoints.container import create_container
from entrypoints.http.access import Access, access_for, is_automatic_options
from entrypoints.settings import ConfigurationError, load_settings
from tests.support.api import ACCESS_CONTROL, PASSWORD, Api, ApiOptions, assert_problem
from tests.support.fakes import FakeSleep, FakeUnitOfWork, FixedClock
from tests.support.provider_accounts import twilio_credentials

# Every route anyone may call without a Bearer credential. Adding one here is a security decision.
PUBLIC_ROUTES = {
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/webhooks/twilio/inbound"),
    ("POST", "/webhook/twilio"),
    ("POST", "/webhooks/twilio/status"),
    ("GET", "/webhooks/meta"),
    ("POST", "/webhooks/meta"),
    ("GET", "/docs"),
    ("GET", "/docs/openapi.json"),
    ("GET", "/docs/assets/{name:str}"),
    ("GET", "/docs/{path:str}"),
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    ("GET", "/console/language/{code:str}"),
    ("GET", "/console/static/{file_path:path}"),
    ("HEAD", "/console/static/{file_path:path}"),
}


@pytest.fixture
def api_options() -> ApiOptions:
    return ACCESS_CONTROL


# ------------------------------------------------------------------------------------- the route walker


def handlers_of(app: Litestar) -> Iterator[tuple[str, str, BaseRouteHandler]]:
    """(method, path, handler) for every HTTP route of the app, Litestar's automatic OPTIONS included."""
    for route in app.routes:
        assert isinstance(route, HTTPRoute), f"{route.path}: only HTTP routes are expected"
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods):
                yield method, route.path, handler


def declared_routes(app: Litestar) -> list[tuple[str, str, Access | None]]:
    return [
        (method, path, access_for(handler))
        for method, path, handler in handlers_of(app)
        if not is_automatic_options(handler)
    ]


def test_every_route_declares_who_may_call_it(api: Api) -> None:
    routes = declared_routes(api.app)

    undeclared = [f"{method} {path}" for method, path, access in routes if access is None]

    assert undeclared == [], "routes without an access declaration (see entrypoints/http/access.py)"
    # The walk really walked: every operation of the OpenAPI schema is among the routes it saw.
    walked = {(method, re.sub(r":[a-z]+}", "}", path)) for method, path, _ in routes}
    schema = api.app.openapi_schema.to_schema()
    documented = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete"}
    }
    assert documented <= walked
    assert len(routes) > len(documented) > 40


def test_the_public_routes_are_exactly_the_expected_ones(api: Api) -> None:
    public = {
        (method, path) for method, path, access in declared_routes(api.app) if access and access.is_public
    }

    assert public == PUBLIC_ROUTES


def test_the_schema_documents_the_bearer_credential_exactly_where_the_guard_wants_it(api: Api) -> None:
    schema = api.app.openapi_schema.to_schema()
    mismatched = []
    for method, path, access in declared_routes(api.app):
        operation = schema["paths"].get(re.sub(r":[a-z]+}", "}", path), {}).get(method.lower())
        if operation is None:  # not in the schema (the documentation, /metrics)
            continue
        documented = any("BearerToken" in requirement for requirement in operation.get("security", []))
        if access is not None and documented == access.is_public:
            mismatched.append(f"{method} {path}")
    assert mismatched == []


async def test_every_protected_route_refuses_a_caller_without_a_credential(api: Api) -> None:
    protected = [
        (method, path, access.by_browser_session)
        for method, path, access in declared_routes(api.app)
        if access and not access.is_public
    ]
    assert protected

    for method, path, console_page in protected:
        concrete = re.sub(r"{[a-z_]+:uuid}", str(uuid.uuid4()), path)
        concrete = re.sub(r"{[a-z_]+:str}", "x", concrete)
        if console_page:
            # A console page sends a browser without a session to the sign-in form (a form's POST
            # without its CSRF token never gets that far: see the console's own tests).
            if method == "GET":
                response = await api.client.get(concrete, follow_redirects=False)
                assert response.status_code == 303, concrete
                assert response.headers["location"].startswith("/console/login?next="), concrete
            continue
        response = await api.client.request(method, concrete, json={})
        assert_problem(response, 401, "invalid-token")


async def test_a_route_that_declares_nothing_is_closed_to_everyone(api: Api) -> None:
    @get("/undeclared", operation_id="undeclared", tags=["test"])
    async def undeclared() -> str:
        return "secret"

    api.app.register(undeclared)
    alice = await api.bearer("alice")

    for headers in ({}, alice):
        response = await api.client.get("/undeclared", headers=headers)
        assert_problem(response, 403, "forbidden")
        assert "secret" not in response.text


async def test_automatic_options_answers_need_no_credential(api: Api) -> None:
    response = await api.client.options("/auth/login")

    assert response.status_code == 204
    assert "POST" in response.headers["allow"]


# ----------------------------------------------------------------------------------------------- roles


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/tenants"),
        ("POST", "/admin/tenants"),
        ("GET", "/api/users"),
        ("GET", "/api/senders"),
        ("GET", "/api/credentials"),
        ("GET", "/api/api-keys"),
        ("GET", "/api/webhooks"),
    ],
)
async def test_an_agent_gets_403_on_admin_routes(api: Api, method: str, path: str) -> None:
    ana = await api.bearer("ana")

    response = await api.client.request(method, path, headers=ana, json={"name": "x"})

    assert_problem(response, 403, "forbidden")


@pytest.mark.parametrize(("method", "path"), [("GET", "/admin/tenants"), ("POST", "/admin/tenants")])
async def test_a_tenant_admin_gets_403_on_platform_routes(api: Api, method: str, path: str) -> None:
    alice = await api.bearer("alice")

    response = await api.client.request(method, path, headers=alice, json={"name": "Initech"})

    assert_problem(response, 403, "forbidden")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/messages"),
        ("POST", "/api/send"),
        ("GET", "/api/conversations"),
        ("GET", "/api/users"),
        ("GET", "/api/senders"),
        ("GET", "/api/api-keys"),
    ],
)
async def test_a_platform_admin_reads_no_tenant_data(api: Api, method: str, path: str) -> None:
    root = await api.bearer("root")

    response = await api.client.request(method, path, headers=root, json={"to_number": "+14155550123"})

    assert_problem(response, 403, "forbidden")


async def test_agents_send_and_read(api: Api) -> None:
    ana = await api.bearer("ana")

    sent = await api.client.post("/api/send", json={"to_number": "+14155550123", "body": "hi"}, headers=ana)
    listed = await api.client.get("/api/messages", headers=ana)

    assert sent.status_code == 201, sent.text
    assert [m["id"] for m in listed.json()["items"]] == [sent.json()["id"]]


# --------------------------------------------------------------------------------------- isolation (404)


async def test_a_tenant_admin_finds_nothing_of_another_tenant(api: Api) -> None:
    alice = await api.bearer("alice")
    bob = await api.bearer("bob")
    _, bobs_key = await api.api_key(bob)
    bob_id, globex_sender = api.globex.user.id, api.globex.sender.id

    attempts = [
        await api.client.get(f"/api/users/{bob_id}", headers=alice),
        await api.client.patch(f"/api/users/{bob_id}", json={"role": "agent"}, headers=alice),
        await api.client.patch(f"/api/senders/{globex_sender}", json={"label": "mine"}, headers=alice),
        await api.client.delete(f"/api/senders/{globex_sender}", headers=alice),
        await api.client.delete(f"/api/api-keys/{bobs_key['id']}", headers=alice),
    ]

    for response in attempts:
        assert_problem(response, 404, "not-found")
    assert [u["username"] for u in (await api.client.get("/api/users", headers=alice)).json()] == [
        "alice",
        "ana",
    ]
    assert (await api.client.get("/api/api-keys", headers=alice)).json() == []
    assert len(api.database.senders.all()) == 2
    assert all(key.is_active for key in api.database.api_keys.all())


# ---------------------------------------------------------------------------------------------- tokens


async def test_login_returns_a_refresh_token_and_is_not_cached(api: Api) -> None:
    response = await api.client.post("/auth/login", json={"username": "alice", "password": PASSWORD})

    body = response.json()
    assert body["refresh_token"].startswith("wagrt_")
    assert body["refresh_expires_in"] == 14 * 24 * 3600
    assert body["expires_in"] <= 900
    assert response.headers["cache-control"] == "no-store"


async def test_a_refresh_token_is_not_an_access_token(api: Api) -> None:
    tokens = await api.tokens("alice")

    response = await api.client.get(
        "/api/messages", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )

    assert_problem(response, 401, "invalid-token")


async def test_refresh_rotates_and_a_reused_token_ends_the_session(api: Api) -> None:
    first = await api.tokens("alice")

    second = (await api.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    third = (await api.client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})).json()
    assert len({first["refresh_token"], second["refresh_token"], third["refresh_token"]}) == 3
    newest = {"Authorization": f"Bearer {third['access_token']}"}
    assert (await api.client.get("/api/messages", headers=newest)).status_code == 200

    reused = await api.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})

    assert_problem(reused, 401, "invalid-token")
    # The newest refresh token and access token of the family stop working too.
    assert_problem(
        await api.client.post("/auth/refresh", json={"refresh_token": third["refresh_token"]}),
        401,
        "invalid-token",
    )
    assert_problem(await api.client.get("/api/messages", headers=newest), 401, "invalid-token")


async def test_refresh_validation(api: Api) -> None:
    assert_problem(await api.client.post("/auth/refresh", json={}), 400, "validation-failed")
    assert_problem(
        await api.client.post("/auth/refresh", json={"refresh_token": "wagrt_" + "x" * 43}),
        401,
        "invalid-token",
    )


async def test_after_logout_the_token_gets_401_and_other_sessions_go_on(api: Api) -> None:
    laptop_tokens = await api.tokens("alice")
    laptop = {"Authorization": f"Bearer {laptop_tokens['access_token']}"}
    phone = await api.bearer("alice")

    response = await api.client.post("/auth/logout", headers=laptop)

    assert response.status_code == 204
    assert_problem(await api.client.get("/api/messages", headers=laptop), 401, "invalid-token")
    assert_problem(
        await api.client.post("/auth/refresh", json={"refresh_token": laptop_tokens["refresh_token"]}),
        401,
        "invalid-token",
    )
    assert (await api.client.get("/api/messages", headers=phone)).status_code == 200


async def test_after_a_password_change_old_tokens_get_401(api: Api) -> None:
    ana = await api.bearer("ana")

    wrong = await api.client.post(
        "/api/me/password",
        json={"current_password": "nope-nope", "new_password": "a new password"},
        headers=ana,
    )
    assert_problem(wrong, 403, "current-password-wrong")

    changed = await api.client.post(
        "/api/me/password", json={"current_password": PASSWORD, "new_password": "a new password"}, headers=ana
    )

    assert changed.status_code == 204
    assert_problem(await api.client.get("/api/messages", headers=ana), 401, "invalid-token")
    assert_problem(
        await api.client.post("/auth/login", json={"username": "ana", "password": PASSWORD}),
        401,
        "invalid-credentials",
    )
    assert (
        await api.client.get("/api/messages", headers=await api.bearer("ana", "a new password"))
    ).is_success


async def test_after_a_role_change_old_tokens_get_401(api: Api) -> None:
    alice = await api.bearer("alice")
    ana = await api.bearer("ana")

    promoted = await api.client.patch(
        f"/api/users/{api.agent.id}", json={"role": "tenant_admin"}, headers=alice
    )

    assert promoted.json()["role"] == "tenant_admin"
    assert_problem(await api.client.get("/api/messages", headers=ana), 401, "invalid-token")
    assert (await api.client.get("/api/users", headers=await api.bearer("ana"))).status_code == 200


async def test_a_suspended_tenants_tokens_and_keys_get_401_until_it_is_reactivated(api: Api) -> None:
    """401, not 403: the credential no longer proves anything (as login, which answers 401 too)."""
    root = await api.bearer("root")
    alice_tokens = await api.tokens("alice")
    alice = {"Authorization": f"Bearer {alice_tokens['access_token']}"}
    key, _ = await api.api_key(alice)
    tenant = api.acme.tenant.id

    suspended = await api.client.post(f"/admin/tenants/{tenant}/suspend", headers=root)

    assert suspended.json()["status"] == "suspended"
    for headers in (alice, key):
        assert_problem(await api.client.get("/api/messages", headers=headers), 401, "invalid-token")
    assert_problem(
        await api.client.post("/auth/refresh", json={"refresh_token": alice_tokens["refresh_token"]}),
        401,
        "invalid-token",
    )
    assert_problem(
        await api.client.post("/auth/login", json={"username": "alice", "password": PASSWORD}),
        401,
        "invalid-credentials",
    )

    assert (await api.client.post(f"/admin/tenants/{tenant}/reactivate", headers=root)).json()[
        "status"
    ] == "active"
    assert (await api.client.get("/api/messages", headers=key)).status_code == 200
    assert_problem(await api.client.get("/api/messages", headers=alice), 401, "invalid-token")  # log in again
    assert (await api.client.get("/api/messages", headers=await api.bearer("alice"))).status_code == 200


async def test_a_deactivated_users_token_gets_401(api: Api) -> None:
    alice = await api.bearer("alice")
    ana = await api.bearer("ana")

    await api.client.patch(f"/api/users/{api.agent.id}", json={"is_active": False}, headers=alice)

    assert_problem(await api.client.get("/api/messages", headers=ana), 401, "invalid-token")


# -------------------------------------------------------------------------------------------- API keys


async def test_an_api_key_is_created_shown_once_used_and_revoked(api: Api) -> None:
    alice = await api.bearer("alice")
    response = await api.client.post("/api/api-keys", json={"name": "order system"}, headers=alice)

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert re.fullmatch(rf"wag_{created['prefix']}_[A-Za-z0-9_-]{{43}}", created["key"])
    assert (created["role"], created["active"], created["last_used_at"]) == ("agent", True, None)
    key = {"Authorization": f"Bearer {created['key']}"}

    sent = await api.client.post("/api/send", json={"to_number": "+14155550123", "body": "hi"}, headers=key)
    assert sent.status_code == 201, sent.text

    listed = (await api.client.get("/api/api-keys", headers=alice)).json()
    assert [k["prefix"] for k in listed] == [created["prefix"]]
    assert "key" not in listed[0]
    assert created["key"] not in str(listed)
    assert listed[0]["last_used_at"] is not None

    assert (await api.client.delete(f"/api/api-keys/{created['id']}", headers=alice)).status_code == 204
    assert_problem(await api.client.get("/api/messages", headers=key), 401, "invalid-token")
    assert (await api.client.get("/api/api-keys", headers=alice)).json()[0]["active"] is False


async def test_an_agent_key_cannot_administer_and_no_key_manages_keys(api: Api) -> None:
    alice = await api.bearer("alice")
    agent_key, _ = await api.api_key(alice, "agent")
    admin_key, _ = await api.api_key(alice, "tenant_admin")

    assert_problem(await api.client.get("/api/users", headers=agent_key), 403, "forbidden")
    assert (await api.client.get("/api/users", headers=admin_key)).status_code == 200
    assert_problem(await api.client.get("/api/api-keys", headers=agent_key), 403, "forbidden")
    for headers in (agent_key, admin_key):
        assert_problem(await api.client.post("/auth/logout", headers=headers), 403, "person-required")
        assert_problem(
            await api.client.post(
                "/api/me/password", json={"current_password": "x", "new_password": "y" * 10}, headers=headers
            ),
            403,
            "person-required",
        )
    assert_problem(await api.client.get("/api/api-keys", headers=admin_key), 403, "person-required")


# What an API key may not do, whatever its role: each of these needs a person who logged in. A leaked
# key must not be able to mint its successors (a new admin to log in as, a new key) nor take over the
# people and secrets of its tenant.
PERSON_ONLY_REQUESTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/users", {"username": "mallory", "password": "a long password", "role": "tenant_admin"}),
    ("POST", "/api/users", {"username": "mallory", "password": "a long password", "role": "agent"}),
    ("PATCH", "/api/users/{admin}", {"password": "taken over at last"}),
    ("PATCH", "/api/users/{agent}", {"role": "tenant_admin"}),
    ("PATCH", "/api/users/{agent}", {"is_active": False}),
    ("GET", "/api/api-keys", None),
    ("POST", "/api/api-keys", {"name": "successor", "role": "tenant_admin"}),
    ("DELETE", "/api/api-keys/{key}", None),
    ("PUT", "/api/credentials", {"account_sid": "AC" + "4" * 32, "auth_token": "attacker-auth-token"}),
    ("POST", "/api/webhooks", {"url": "https://attacker.example.com/hook", "events": ["message.received"]}),
    ("POST", "/api/webhooks/{endpoint}/rotate-secret", {"overlap_seconds": 0}),
    ("POST", "/auth/logout", None),
    ("POST", "/api/me/password", {"current_password": PASSWORD, "new_password": "a brand new password"}),
]


async def _person_only_world(api: Api) -> tuple[dict[str, str], dict[str, str]]:
    """Alice logged in, and a tenant-admin key she made; one of Acme's webhook endpoints."""
    alice = await api.bearer("alice")
    key, _ = await api.api_key(alice, "tenant_admin")
    endpoint = await api.client.post(
        "/api/webhooks",
        json={"url": "https://crm.example.com/hook", "events": ["message.received"]},
        headers=alice,
    )
    assert endpoint.status_code == 201, endpoint.text
    return alice, key


async def _what_a_key_must_not_change(api: Api) -> tuple[object, ...]:
    """Users, keys (but when they were last used), credentials, webhook endpoints and sessions."""
    return (
        api.database.users.all(),
        [(key.id, key.revoked_at) for key in api.database.api_keys.all()],
        await twilio_credentials(api.database, api.acme.tenant.id),
        api.database.webhook_endpoints.all(),
        api.database.sessions.all(),
    )


def _person_only_url(api: Api, path: str, key_id: str, endpoint_id: str) -> str:
    return path.format(admin=api.acme.user.id, agent=api.agent.id, key=key_id, endpoint=endpoint_id)


@pytest.mark.parametrize(("method", "path", "body"), PERSON_ONLY_REQUESTS)
async def test_a_tenant_admin_key_gets_person_required_and_changes_nothing(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    alice, key = await _person_only_world(api)
    key_id = (await api.client.get("/api/api-keys", headers=alice)).json()[0]["id"]
    endpoint_id = (await api.client.get("/api/webhooks", headers=alice)).json()["items"][0]["id"]
    before = await _what_a_key_must_not_change(api)

    response = await api.client.request(
        method, _person_only_url(api, path, key_id, endpoint_id), json=body, headers=key
    )

    problem = assert_problem(response, 403, "person-required")
    assert "API key" in problem["detail"]
    after = await _what_a_key_must_not_change(api)
    assert after == before


async def test_a_leaked_admin_key_cannot_mint_an_admin_to_log_in_as(api: Api) -> None:
    alice = await api.bearer("alice")
    key, _ = await api.api_key(alice, "tenant_admin")

    created = await api.client.post(
        "/api/users",
        json={"username": "mallory", "password": "a long password", "role": "tenant_admin"},
        headers=key,
    )
    reset = await api.client.patch(
        f"/api/users/{api.acme.user.id}", json={"password": "taken over at last"}, headers=key
    )

    assert_problem(created, 403, "person-required")
    assert_problem(reset, 403, "person-required")
    assert_problem(
        await api.client.post("/auth/login", json={"username": "mallory", "password": "a long password"}),
        401,
        "invalid-credentials",
    )
    assert (await api.tokens("alice"))["access_token"]  # her password is still hers


@pytest.mark.parametrize(("method", "path", "body"), PERSON_ONLY_REQUESTS)
async def test_a_logged_in_tenant_admin_may_do_what_a_key_may_not(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    alice, _ = await _person_only_world(api)
    key_id = (await api.client.get("/api/api-keys", headers=alice)).json()[0]["id"]
    endpoint_id = (await api.client.get("/api/webhooks", headers=alice)).json()["items"][0]["id"]
    if path == "/api/users/{admin}":  # an admin sets no password of their own here: another admin's
        bob = User(
            tenant_id=api.acme.tenant.id,
            username="second-admin",
            password_hash="fake-v1$whatever",
            created_at=api.acme.user.created_at,
            role=Role.TENANT_ADMIN,
        )
        await FakeUnitOfWork(api.database).users.add(bob)
        path = f"/api/users/{bob.id}"

    response = await api.client.request(
        method, _person_only_url(api, path, key_id, endpoint_id), json=body, headers=alice
    )

    assert response.is_success, response.text


async def test_a_tenant_admin_key_still_reads_users_and_manages_senders_and_webhooks(api: Api) -> None:
    alice, key = await _person_only_world(api)
    endpoint_id = (await api.client.get("/api/webhooks", headers=alice)).json()["items"][0]["id"]

    assert (await api.client.get("/api/users", headers=key)).status_code == 200
    assert (await api.client.get("/api/credentials", headers=key)).status_code == 200
    added = await api.client.post("/api/senders", json={"phone_number": "+14155238801"}, headers=key)
    assert added.status_code == 201, added.text
    patched = await api.client.patch(
        f"/api/webhooks/{endpoint_id}", json={"description": "orders"}, headers=key
    )
    assert patched.status_code == 200, patched.text


@pytest.mark.parametrize("role", ["platform_admin", "emperor"])
async def test_an_api_key_is_an_agent_or_a_tenant_admin(api: Api, role: str) -> None:
    alice = await api.bearer("alice")

    response = await api.client.post("/api/api-keys", json={"name": "x", "role": role}, headers=alice)

    assert_problem(response, 400, "validation-failed")


async def test_a_forged_key_with_a_real_prefix_is_refused(api: Api) -> None:
    alice = await api.bearer("alice")
    _, created = await api.api_key(alice)
    forged = f"wag_{created['prefix']}_{'A' * 43}"

    response = await api.client.get("/api/messages", headers={"Authorization": f"Bearer {forged}"})

    assert_problem(response, 401, "invalid-token")


# --------------------------------------------------------------------------------------- administration


async def test_a_platform_admin_creates_a_tenant_and_its_first_admin(api: Api) -> None:
    root = await api.bearer("root")

    created = await api.client.post("/admin/tenants", json={"name": "Initech"}, headers=root)
    assert created.status_code == 201, created.text
    tenant = created.json()
    assert (tenant["name"], tenant["provider"], tenant["status"]) == ("Initech", "sandbox", "active")

    user = await api.client.post(
        f"/admin/tenants/{tenant['id']}/users",
        json={"username": "peter", "password": "tps reports!", "role": "tenant_admin"},
        headers=root,
    )
    assert user.status_code == 201, user.text
    peter = await api.bearer("peter", "tps reports!")
    assert [u["username"] for u in (await api.client.get("/api/users", headers=peter)).json()] == ["peter"]

    duplicate = await api.client.post("/admin/tenants", json={"name": "Initech"}, headers=root)
    assert_problem(duplicate, 409, "conflict")


async def test_a_platform_admin_lists_reads_and_changes_tenants(api: Api) -> None:
    root = await api.bearer("root")

    page = (await api.client.get("/admin/tenants", params={"limit": 1}, headers=root)).json()
    rest = (
        await api.client.get("/admin/tenants", params={"cursor": page["next_cursor"]}, headers=root)
    ).json()
    names = [t["name"] for t in page["items"] + rest["items"]]
    assert names == ["Acme", "Globex"]  # not the platform tenant
    assert rest["next_cursor"] is None

    tenant = api.acme.tenant.id
    assert (await api.client.get(f"/admin/tenants/{tenant}", headers=root)).json()["name"] == "Acme"
    patched = await api.client.patch(f"/admin/tenants/{tenant}", json={"name": "Acme Shoes"}, headers=root)
    assert patched.json()["name"] == "Acme Shoes"
    twilio = await api.client.patch(f"/admin/tenants/{tenant}", json={"provider": "twilio"}, headers=root)
    assert_problem(twilio, 422, "invalid-input")
    assert_problem(
        await api.client.get(f"/admin/tenants/{PLATFORM_TENANT_ID}", headers=root), 404, "not-found"
    )
    assert_problem(await api.client.get(f"/admin/tenants/{uuid.uuid4()}", headers=root), 404, "not-found")


async def test_a_twilio_tenant_is_created_with_credentials_that_are_never_returned(api: Api) -> None:
    root = await api.bearer("root")
    secret = "auth-token-secret-0123456789"

    response = await api.client.post(
        "/admin/tenants",
        json={
            "name": "Hooli",
            "provider": "twilio",
            "twilio": {"account_sid": "AC" + "2" * 32, "auth_token": secret},
        },
        headers=root,
    )

    assert response.status_code == 201, response.text
    assert secret not in response.text
    without = await api.client.post(
        "/admin/tenants", json={"name": "Pied Piper", "provider": "twilio"}, headers=root
    )
    assert_problem(without, 422, "invalid-input")


async def test_a_tenant_admin_manages_users(api: Api) -> None:
    alice = await api.bearer("alice")

    created = await api.client.post(
        "/api/users", json={"username": "Carl", "password": "a long password"}, headers=alice
    )
    assert created.status_code == 201, created.text
    carl = created.json()
    assert (carl["username"], carl["role"], carl["is_active"]) == ("carl", "agent", True)
    assert "password" not in str(carl)
    assert_problem(
        await api.client.post(
            "/api/users", json={"username": "carl", "password": "a long password"}, headers=alice
        ),
        409,
        "conflict",
    )
    assert_problem(
        await api.client.post("/api/users", json={"username": "dora", "password": "short"}, headers=alice),
        422,
        "invalid-input",
    )
    assert_problem(
        await api.client.post(
            "/api/users",
            json={"username": "eve", "password": "a long password", "role": "platform_admin"},
            headers=alice,
        ),
        400,
        "validation-failed",
    )
    assert (await api.client.get(f"/api/users/{carl['id']}", headers=alice)).json() == carl
    demote_self = await api.client.patch(
        f"/api/users/{api.acme.user.id}", json={"role": "agent"}, headers=alice
    )
    assert_problem(demote_self, 403, "forbidden")


async def test_a_tenant_admin_manages_senders(api: Api) -> None:
    alice = await api.bearer("alice")

    added = await api.client.post(
        "/api/senders", json={"phone_number": "+14155238800", "label": "support"}, headers=alice
    )
    assert added.status_code == 201, added.text
    sender = added.json()
    assert (sender["phone_number"], sender["is_default"]) == ("+14155238800", False)
    assert_problem(
        await api.client.post("/api/senders", json={"phone_number": "+14155238800"}, headers=alice),
        409,
        "conflict",
    )
    assert_problem(
        await api.client.post("/api/senders", json={"phone_number": "12345"}, headers=alice),
        422,
        "invalid-phone-number",
    )

    made_default = await api.client.patch(
        f"/api/senders/{sender['id']}", json={"is_default": True}, headers=alice
    )
    assert made_default.json()["is_default"] is True
    listed = (await api.client.get("/api/senders", headers=alice)).json()
    assert [(s["phone_number"], s["is_default"]) for s in listed] == [
        ("+14155238886", False),
        ("+14155238800", True),
    ]

    assert_problem(
        await api.client.delete(f"/api/senders/{sender['id']}", headers=alice), 422, "invalid-input"
    )
    assert (await api.client.delete(f"/api/senders/{api.acme.sender.id}", headers=alice)).status_code == 204


async def test_a_change_of_default_that_keeps_conflicting_answers_409_never_503(api: Api) -> None:
    alice = await api.bearer("alice")
    added = await api.client.post("/api/senders", json={"phone_number": "+14155238800"}, headers=alice)
    sender = added.json()
    api.container.conflict_retry.override(providers.Object(ConflictRetry(attempts=3, sleep=FakeSleep())))
    api.database.senders.conflicts_ahead = 100

    response = await api.client.patch(
        f"/api/senders/{sender['id']}", json={"is_default": True, "label": "support"}, headers=alice
    )

    problem = assert_problem(response, 409, "concurrent-update")
    assert problem["title"] == "Conflicting concurrent update"
    assert "again" in problem["detail"]
    assert api.database.senders.make_default_calls == 3
    listed = (await api.client.get("/api/senders", headers=alice)).json()
    assert [(s["phone_number"], s["is_default"], s["label"]) for s in listed] == [
        ("+14155238886", True, ""),
        ("+14155238800", False, ""),
    ]


async def test_twilio_credentials_are_write_only(api: Api) -> None:
    alice = await api.bearer("alice")
    secret = "auth-token-secret-0123456789"
    assert (await api.client.get("/api/credentials", headers=alice)).json() == {
        "configured": False,
        "account_sid": None,
        "api_key_sid": None,
    }

    response = await api.client.put(
        "/api/credentials", json={"account_sid": "AC" + "3" * 32, "auth_token": secret}, headers=alice
    )

    assert response.status_code == 200, response.text
    assert secret not in response.text
    assert (await api.client.get("/api/credentials", headers=alice)).json() == {
        "configured": True,
        "account_sid": "AC" + "3" * 32,
        "api_key_sid": None,
    }
    bad = await api.client.put(
        "/api/credentials", json={"account_sid": "nope", "auth_token": secret}, headers=alice
    )
    assert_problem(bad, 422, "invalid-input")


async def test_a_suspended_tenant_cannot_send_even_with_a_token_issued_before(api: Api) -> None:
    """The suspension takes effect at the very next request, not when the access token expires."""
    ana = await api.bearer("ana")
    api.database.tenants.save(replace(api.acme.tenant, status=TenantStatus.SUSPENDED))

    response = await api.client.post(
        "/api/send", json={"to_number": "+14155550123", "body": "hi"}, headers=ana
    )

    assert_problem(response, 401, "invalid-token")
    assert api.database.messages.all() == []


async def test_every_request_with_a_token_checks_its_session_once(api: Api) -> None:
    ana = await api.bearer("ana")
    before = api.database.sessions.access_checks

    await api.client.get("/api/messages", headers=ana)

    assert api.database.sessions.access_checks == before + 1


# ------------------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("configured", "effective"), [("60", 60), ("900", 900), ("3600", 900), ("86400", 900)]
)
def test_access_tokens_live_15_minutes_at_most_whatever_is_configured(
    tmp_path: Path, configured: str, effective: int
) -> None:
    settings = load_settings(
        environ={"DATA_DIR": str(tmp_path), "ACCESS_TOKEN_TTL_SECONDS": configured}, env_file=None
    )

    assert settings.access_token_ttl_seconds == effective
    assert create_container(settings).token_service().issue(_any_user(), uuid.uuid4()).expires_in == effective


@pytest.mark.parametrize("setting", [{"ACCESS_TOKEN_TTL_SECONDS": "0"}, {"REFRESH_TOKEN_TTL_SECONDS": "59"}])
def test_token_lifetimes_must_make_sense(tmp_path: Path, setting: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        load_settings(environ={"DATA_DIR": str(tmp_path), **setting}, env_file=None)


@pytest.mark.parametrize(
    ("lease", "timeout", "accepted"),
    [("60", "10", True), ("20", "10", True), ("19", "10", False), ("5", "10", False)],
)
def test_a_dispatch_lease_must_outlast_a_provider_call(
    tmp_path: Path, lease: str, timeout: str, accepted: bool
) -> None:
    environ = {
        "DATA_DIR": str(tmp_path),
        "DISPATCH_LEASE_SECONDS": lease,
        "PROVIDER_TIMEOUT_SECONDS": timeout,
    }
    if accepted:
        assert load_settings(environ=environ, env_file=None).dispatch_lease_seconds == float(lease)
    else:
        with pytest.raises(ConfigurationError, match="DISPATCH_LEASE_SECONDS"):
            load_settings(environ=environ, env_file=None)


def _any_user() -> User:
    return User(tenant_id=uuid.uuid4(), username="x", password_hash="x", created_at=FixedClock().now())
