"""The whole application on real PostgreSQL: real container, argon2, JWT and the sandbox provider."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from application.administration.onboarding import CreateTenantCommand
from application.authorization import OPERATOR
from domain.administration.tenancy import Role
from entrypoints.container import Container, create_container, shutdown, upgrade_database
from entrypoints.http.app import create_app
from tests.support.gateways import gateway_settings


@dataclass
class Account:
    tenant_id: str
    username: str
    password: str
    sender: str


@pytest.fixture
async def container(postgres_url: str, tmp_path: Path) -> AsyncIterator[Container]:
    """The gateway's container, its database migrated; each test provisions through it, then serves the
    app (whose lifespan starts the embedded dispatcher) to a test client."""
    overrides = {
        "DATABASE_URL": postgres_url,
        "DB_POOL_SIZE": "4",
        # The embedded dispatcher sends; the sandbox reports sent, then delivered, as Twilio's callbacks
        # would.
        "EMBEDDED_DISPATCHER": "true",
        "SANDBOX_SENT_AFTER_SECONDS": "0.05",
        "SANDBOX_DELIVERED_AFTER_SECONDS": "0.1",
    }
    settings = gateway_settings(tmp_path, overrides)
    upgrade_database(settings.resolved_migration_database_url)
    container = create_container(settings)
    yield container
    await shutdown(container)


async def provision(container: Container, sender: str) -> Account:
    suffix = uuid.uuid4().hex[:8]
    # Sandbox tenants that may write to anyone, like the demo tenant (no customer writes first here).
    tenant = await container.create_tenant()(
        OPERATOR, CreateTenantCommand(name=f"Tenant {suffix}", session_window_check=False)
    )
    await container.add_sender()(OPERATOR, tenant.id, sender)
    username, password = f"user-{suffix}", f"password-{suffix}"
    await container.create_user()(OPERATOR, tenant.id, username, password, Role.AGENT)
    return Account(tenant_id=str(tenant.id), username=username, password=password, sender=sender)


async def login(client: AsyncTestClient[Any], account: Account) -> dict[str, str]:
    response = await client.post(
        "/auth/login", json={"username": account.username, "password": account.password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def until_delivered(client: AsyncTestClient[Any], headers: dict[str, str], ids: list[str]) -> None:
    """Waits (10 s at most) until the sandbox has reported every message sent, then delivered."""
    for _ in range(200):
        statuses = [
            (await client.get(f"/api/messages/{id_}", headers=headers)).json()["status"] for id_ in ids
        ]
        if set(statuses) == {"delivered"}:
            return
        await asyncio.sleep(0.05)


async def test_login_send_and_page_through_history_on_postgres(container: Container) -> None:
    account = await provision(container, "+14155238886")
    async with AsyncTestClient(app=create_app(container)) as client:
        await send_and_page_through_history(client, account)


async def send_and_page_through_history(client: AsyncTestClient[Any], account: Account) -> None:
    assert (await client.get("/readyz")).status_code == 200
    headers = await login(client, account)

    sent = []
    for n in range(5):
        response = await client.post(
            "/api/send",
            json={"to_number": f"whatsapp:+1415555{n:04d}", "body": f"hello {n}"},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "queued"
        assert response.json()["from_number"] == account.sender
        sent.append(response.json())

    # The sandbox reports sent, then delivered, as Twilio's callbacks would.
    await until_delivered(client, headers, [message["id"] for message in sent])
    seen = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await client.get("/api/messages", params=params, headers=headers)
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break

    assert [m["id"] for m in seen] == [m["id"] for m in reversed(sent)]
    assert {m["status"] for m in seen} == {"delivered"}
    one = await client.get(f"/api/messages/{sent[0]['id']}", headers=headers)
    assert one.json()["body"] == "hello 0"


async def test_a_second_tenant_sees_nothing_of_the_first_on_postgres(container: Container) -> None:
    first = await provision(container, "+14155238886")
    second = await provision(container, "+447911123456")
    async with AsyncTestClient(app=create_app(container)) as client:
        await second_tenant_sees_nothing(client, first, second)


async def second_tenant_sees_nothing(client: AsyncTestClient[Any], first: Account, second: Account) -> None:
    first_headers = await login(client, first)
    second_headers = await login(client, second)
    ids = []
    for n in range(3):
        response = await client.post(
            "/api/send", json={"to_number": "+14155550123", "body": f"private {n}"}, headers=first_headers
        )
        ids.append(response.json()["id"])
    first_page = (await client.get("/api/messages", params={"limit": 1}, headers=first_headers)).json()

    listed = await client.get("/api/messages", headers=second_headers)
    with_cursor = await client.get(
        "/api/messages", params={"cursor": first_page["next_cursor"]}, headers=second_headers
    )
    filtered = await client.get("/api/messages", params={"contact": "+14155550123"}, headers=second_headers)
    by_id = [await client.get(f"/api/messages/{message_id}", headers=second_headers) for message_id in ids]
    from_first_sender = await client.post(
        "/api/send",
        json={"to_number": "+14155550123", "body": "spoof", "from_number": first.sender},
        headers=second_headers,
    )

    assert listed.json() == {"items": [], "next_cursor": None}
    assert with_cursor.json()["items"] == []
    assert filtered.json()["items"] == []
    assert {response.status_code for response in by_id} == {404}
    assert from_first_sender.status_code == 422
    assert len((await client.get("/api/messages", headers=first_headers)).json()["items"]) == 3
