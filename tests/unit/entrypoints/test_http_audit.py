"""The audit trail over HTTP, through the real app with fakes behind it: what a tenant's admins and the
platform admins read, with the address and request id of each action, and never a secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entrypoints.settings import ConfigurationError, load_settings
from tests.support.api import ACCESS_CONTROL, PASSWORD, Api, ApiOptions, assert_problem

AUTH_TOKEN = "the-tenants-twilio-auth-token"


@pytest.fixture
def api_options() -> ApiOptions:
    return ACCESS_CONTROL


async def trail(
    gateway: Api, headers: dict[str, str], path: str = "/api/audit", **params: Any
) -> dict[str, Any]:
    response = await gateway.client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_tenant_admin_reads_who_did_what_from_where(api: Api) -> None:
    alice = await api.bearer("alice")
    created = await api.client.post(
        "/api/users",
        json={"username": "carl", "password": "a long password"},
        headers={**alice, "X-Request-ID": "req-create-carl"},
    )
    assert created.status_code == 201, created.text

    entries = (await trail(api, alice))["items"]

    assert [entry["action"] for entry in entries] == ["user.created", "login.succeeded"]
    made = entries[0]
    assert made["actor"] == {"type": "user", "id": str(api.acme.user.id), "role": "tenant_admin"}
    assert made["target"] == {"type": "user", "id": created.json()["id"]}
    assert made["request_id"] == "req-create-carl"
    assert made["client_address"]  # the test client's address
    assert made["details"] == {"username": "carl", "role": "agent"}
    assert made["tenant_id"] == str(api.acme.tenant.id)
    assert "a long password" not in str(entries)


async def test_the_trail_is_paged_and_filtered(api: Api) -> None:
    alice = await api.bearer("alice")
    for name in ("one", "two", "three"):
        response = await api.client.post("/api/api-keys", json={"name": name}, headers=alice)
        assert response.status_code == 201, response.text

    first = await trail(api, alice, limit=2, action="api_key.created")
    rest = await trail(api, alice, limit=2, action="api_key.created", cursor=first["next_cursor"])
    by_alice = await trail(api, alice, actor=str(api.acme.user.id))

    names = [entry["details"]["name"] for entry in first["items"] + rest["items"]]
    assert names == ["three", "two", "one"]
    assert rest["next_cursor"] is None
    assert len(by_alice["items"]) == 4  # the login and three keys
    assert_problem(
        await api.client.get("/api/audit", params={"action": "nope"}, headers=alice), 400, "validation-failed"
    )
    assert_problem(
        await api.client.get("/api/audit", params={"cursor": "not-a-cursor"}, headers=alice),
        400,
        "invalid-cursor",
    )


async def test_a_tenant_admin_sees_nothing_of_another_tenant(api: Api) -> None:
    bob = await api.bearer("bob")
    await api.client.post(
        "/api/users", json={"username": "globex-agent", "password": "a long password"}, headers=bob
    )
    alice = await api.bearer("alice")

    entries = (await trail(api, alice))["items"]

    assert {entry["tenant_id"] for entry in entries} == {str(api.acme.tenant.id)}
    assert "globex" not in str(entries).lower()


async def test_secrets_set_through_the_api_are_never_in_the_trail(api: Api) -> None:
    alice = await api.bearer("alice")
    response = await api.client.put(
        "/api/credentials", json={"account_sid": "AC" + "8" * 32, "auth_token": AUTH_TOKEN}, headers=alice
    )
    assert response.status_code == 200, response.text
    key = (await api.client.post("/api/api-keys", json={"name": "orders"}, headers=alice)).json()["key"]

    answer = await api.client.get("/api/audit", headers=alice)

    assert "credentials.set" in answer.text
    assert AUTH_TOKEN not in answer.text
    assert key not in answer.text
    assert PASSWORD not in answer.text


async def test_who_may_read_which_trail(api: Api) -> None:
    alice = await api.bearer("alice")
    admin_key, _ = await api.api_key(alice, "tenant_admin")
    agent_key, _ = await api.api_key(alice, "agent")
    ana, root = await api.bearer("ana"), await api.bearer("root")

    assert (await api.client.get("/api/audit", headers=admin_key)).status_code == 200
    for refused in (ana, agent_key, root):
        assert_problem(await api.client.get("/api/audit", headers=refused), 403, "forbidden")
    for refused in (alice, admin_key, ana):
        assert_problem(await api.client.get("/admin/audit", headers=refused), 403, "forbidden")
    assert_problem(await api.client.get("/api/audit"), 401, "invalid-token")


async def test_a_platform_admin_reads_every_tenants_trail_and_refused_logins(api: Api) -> None:
    await api.bearer("alice")
    await api.bearer("bob")
    refused = await api.client.post("/auth/login", json={"username": "nobody-here", "password": "guess1234"})
    assert refused.status_code == 401
    root = await api.bearer("root")

    everything = (await trail(api, root, "/admin/audit"))["items"]
    globex = (await trail(api, root, "/admin/audit", tenant=str(api.globex.tenant.id)))["items"]

    tenants = {entry["tenant_id"] for entry in everything}
    assert {str(api.acme.tenant.id), str(api.globex.tenant.id), None} <= tenants
    (unknown,) = [entry for entry in everything if entry["action"] == "login.refused"]
    assert unknown["details"] == {"reason": "unknown_user"}
    assert unknown["actor"] == {"type": "anonymous", "id": None, "role": None}
    assert "nobody-here" not in str(everything)
    assert [entry["details"]["username"] for entry in globex] == ["bob"]


async def test_what_a_platform_admin_does_to_a_tenant_shows_in_its_own_trail(api: Api) -> None:
    root = await api.bearer("root")
    await api.client.patch(f"/admin/tenants/{api.acme.tenant.id}", json={"name": "Acme Shoes"}, headers=root)
    alice = await api.bearer("alice")

    (update,) = [e for e in (await trail(api, alice))["items"] if e["action"] == "tenant.updated"]

    assert update["actor"] == {"type": "user", "id": str(api.root.id), "role": "platform_admin"}
    assert update["details"] == {"changed": "name", "name": "Acme Shoes"}


async def test_the_housekeeping_purge_is_wired_with_the_retention(api: Api) -> None:
    await api.bearer("alice")

    assert await api.container.purge_audit_log()() == 0  # a login of today is kept

    assert api.container.settings().audit_retention_days == 365


def test_the_audit_retention_cannot_be_set_below_30_days(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="AUDIT_RETENTION_DAYS"):
        load_settings(environ={"DATA_DIR": str(tmp_path), "AUDIT_RETENTION_DAYS": "7"}, env_file=None)
