"""Administration as an operator runs it: a platform admin made with the CLI, then everything else over
real HTTP against `wa-gateway serve` (real JWTs, real SQLite, and real PostgreSQL as the application's
role under row-level security): tenants, their admins, API keys, refresh, logout and suspension."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.databases import empty_all_tables
from tests.support.gateways import create_platform_admin, served_gateway, wa_gateway

ROOT_PASSWORD = "platform password"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """SQLite in the working directory, or the session's PostgreSQL database, emptied, as the app's role."""
    if request.param == "sqlite":
        return {}
    empty_all_tables(request.getfixturevalue("postgres_admin_url"))
    return {
        "DATABASE_URL": request.getfixturevalue("postgres_url"),
        "MIGRATION_DATABASE_URL": request.getfixturevalue("postgres_owner_url"),
    }


@pytest.fixture
def gateway(tmp_path: Path, settings: dict[str, str]) -> Iterator[httpx.Client]:
    assert wa_gateway(tmp_path, settings, "db", "upgrade").returncode == 0
    created = create_platform_admin(tmp_path, settings, "root", ROOT_PASSWORD)
    assert '"role": "platform_admin"' in created
    with served_gateway(tmp_path, settings) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    response = client.post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def test_a_platform_admin_onboards_a_tenant_whose_admin_issues_an_api_key(gateway: httpx.Client) -> None:
    root = bearer(log_in(gateway, "root", ROOT_PASSWORD)["access_token"])
    # The platform admin alone did not stop the demo tenant from being created.
    names = [t["name"] for t in gateway.get("/admin/tenants", headers=root).json()["items"]]
    assert names == ["Demo"]
    assert gateway.get("/api/messages", headers=root).status_code == 403

    tenant = gateway.post("/admin/tenants", json={"name": "Initech"}, headers=root).json()
    created = gateway.post(
        f"/admin/tenants/{tenant['id']}/users",
        json={"username": "peter", "password": "tps reports!", "role": "tenant_admin"},
        headers=root,
    )
    assert created.status_code == 201, created.text
    peter_tokens = log_in(gateway, "peter", "tps reports!")
    peter = bearer(peter_tokens["access_token"])
    assert (
        gateway.post("/api/senders", json={"phone_number": "+14155238886"}, headers=peter).status_code == 201
    )

    key = gateway.post("/api/api-keys", json={"name": "orders", "role": "agent"}, headers=peter).json()["key"]
    sent = gateway.post(
        "/api/send", json={"to_number": "+14155550123", "content_sid": "HX" + "0" * 32}, headers=bearer(key)
    )
    assert sent.status_code in {201, 202}, sent.text

    renewed = gateway.post("/auth/refresh", json={"refresh_token": peter_tokens["refresh_token"]}).json()
    assert (
        gateway.post("/auth/refresh", json={"refresh_token": peter_tokens["refresh_token"]}).status_code
        == 401
    )
    assert gateway.get("/api/users", headers=bearer(renewed["access_token"])).status_code == 401  # reuse

    assert gateway.post(f"/admin/tenants/{tenant['id']}/suspend", headers=root).status_code == 200
    assert gateway.get("/api/messages", headers=bearer(key)).status_code == 401
    assert (
        gateway.post("/auth/login", json={"username": "peter", "password": "tps reports!"}).status_code == 401
    )

    assert gateway.post("/auth/logout", headers=root).status_code == 204
    assert gateway.get("/admin/tenants", headers=root).status_code == 401


def test_the_cli_keeps_platform_admins_in_the_platform_tenant(tmp_path: Path) -> None:
    assert wa_gateway(tmp_path, {}, "db", "upgrade").returncode == 0

    wrong = wa_gateway(
        tmp_path, {}, "user", "create", "platform", "ana", "--password-stdin", stdin="a long password"
    )

    assert wrong.returncode == 1
    assert "platform" in wrong.stderr


def test_the_audit_trail_tells_who_did_what_and_a_key_cannot_mint_an_admin(gateway: httpx.Client) -> None:
    root = bearer(log_in(gateway, "root", ROOT_PASSWORD)["access_token"])
    tenant = gateway.post("/admin/tenants", json={"name": "Initech"}, headers=root).json()
    gateway.post(
        f"/admin/tenants/{tenant['id']}/users",
        json={"username": "peter", "password": "tps reports!", "role": "tenant_admin"},
        headers=root,
    )
    peter = bearer(log_in(gateway, "peter", "tps reports!")["access_token"])
    key = gateway.post("/api/api-keys", json={"name": "crm", "role": "tenant_admin"}, headers=peter).json()
    assert gateway.post("/auth/login", json={"username": "peter", "password": "wrong!"}).status_code == 401
    assert gateway.post("/auth/login", json={"username": "nobody", "password": "guess"}).status_code == 401

    minted = gateway.post(
        "/api/users",
        json={"username": "mallory", "password": "a long password", "role": "tenant_admin"},
        headers=bearer(key["key"]),
    )
    assert minted.status_code == 403
    assert minted.json()["type"].endswith("/person-required")

    trail = gateway.get("/api/audit", headers=peter).json()["items"]
    assert [entry["action"] for entry in reversed(trail)] == [
        "tenant.created",
        "user.created",
        "login.succeeded",
        "api_key.created",
        "login.refused",
    ]
    assert {entry["actor"]["role"] for entry in trail[-2:]} == {"platform_admin"}
    assert all(entry["client_address"] == "127.0.0.1" for entry in trail)
    assert key["key"] not in str(trail)
    assert "nobody" not in str(trail)

    everything = gateway.get("/admin/audit", headers=root).json()["items"]
    by_the_cli = [e for e in everything if e["actor"]["type"] == "operator" and e["action"] == "user.created"]
    # the platform admin made with the CLI, and the demo tenant's user `serve` made on its first start
    assert sorted(entry["details"]["username"] for entry in by_the_cli) == ["demo", "root"]
    (unknown,) = [e for e in everything if e["action"] == "login.refused" and e["tenant_id"] is None]
    assert unknown["details"] == {"reason": "unknown_user"}
