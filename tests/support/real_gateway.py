"""The gateway as the composition root builds it (real repositories, real JWTs, real password hashing,
the sandbox provider), served in this process through Litestar's AsyncTestClient, and tenants provisioned
the way an operator and a tenant admin would: through the API and the Twilio webhook.

It runs on a SQLite file, or on PostgreSQL as production runs there: migrated by the owner role and
serving as the application's role, which row-level security binds (``DATABASES``, and the settings from
``database_of_its_own`` or ``emptied_session_database``).

Used by the authorization matrix and the JWT suite, which need every kind of id a path can take to
exist for a tenant, and credentials of every kind.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.security.secret_box import generate_key
from application.identity.authorization import OPERATOR
from domain.administration.tenancy import Role
from emulators.twilio import sign
from entrypoints.container import Container, create_container, upgrade_database
from entrypoints.http.app import create_app
from entrypoints.settings import Settings, load_settings
from tests.support.databases import PostgresRoles, create_prepared_database, empty_all_tables
from tests.support.postgres_server import PostgresServer

JWT_SECRET = "the-authorization-matrix-signs-with-this-secret"
PUBLIC_BASE_URL = "https://gateway.example"
ROOT_USERNAME = "root"
PASSWORD = "a long enough password"
# The sandbox's magic number that Twilio refuses (21211): a send to it ends failed, so it can be retried.
FAILING_CONTACT = "+15005550001"

SETTINGS = {
    "JWT_SECRET": JWT_SECRET,
    "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    # Nothing runs in the background: no dispatcher, no webhook worker, and the sandbox reports no status
    # while a test runs, so the only writes are the requests the test makes.
    "EMBEDDED_DISPATCHER": "false",
    "SANDBOX_SENT_AFTER_SECONDS": "3600",
    "SANDBOX_DELIVERED_AFTER_SECONDS": "3600",
    "SEND_WAIT_SECONDS": "10",
    # Tenant webhooks point at a local address that never answers (nothing delivers them anyway).
    "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
    # Hundreds of requests from one address; the limits have tests of their own.
    "REQUESTS_PER_MINUTE_PER_IP": "1000000",
    "LOGIN_ATTEMPTS_PER_MINUTE": "1000000",
    "TWILIO_SIGNATURE_FAILURES_PER_MINUTE": "0",
    "TENANT_SENDS_PER_MINUTE": "0",
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_KIB": "1024",
    "ARGON2_PARALLELISM": "1",
    "LOG_LEVEL": "WARNING",
}


def gateway_settings(directory: Path, overrides: Mapping[str, str] | None = None) -> Settings:
    environ = {"DATA_DIR": str(directory), "CREDENTIALS_KEYS": generate_key(), **SETTINGS}
    return load_settings(environ={**environ, **(overrides or {})}, env_file=None)


# The databases a gateway runs on, as the params of a fixture that passes its value to one of the two
# functions below; the ids name the database in every test id.
DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def _postgres_settings(server: PostgresServer, database: str, roles: PostgresRoles) -> dict[str, str]:
    # As in production: migrations as the owner, the gateway itself as the role row-level security binds.
    return {
        "DATABASE_URL": server.url_for(database, roles.app),
        "MIGRATION_DATABASE_URL": server.url_for(database, roles.owner),
    }


@contextmanager
def database_of_its_own(request: pytest.FixtureRequest, database: str) -> Iterator[dict[str, str]]:
    """Settings for a gateway on a database nothing else touches, even while other gateways run: on
    SQLite none are needed (the gateway's data directory gets a new file); on PostgreSQL, a new database,
    migrated by the owner with the application's role granted, and dropped afterwards."""
    if database == "sqlite":
        yield {}
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    roles: PostgresRoles = request.getfixturevalue("postgres_roles")
    name = create_prepared_database(server, roles)
    try:
        yield _postgres_settings(server, name, roles)
    finally:
        server.drop_database(name)


def emptied_session_database(request: pytest.FixtureRequest, database: str) -> dict[str, str]:
    """Settings for a gateway on the test session's database, emptied first: cheaper than a database of
    its own, for a gateway per test, when no other gateway is running on it."""
    if database == "sqlite":
        return {}
    empty_all_tables(request.getfixturevalue("postgres_admin_url"))
    server: PostgresServer = request.getfixturevalue("postgres_server")
    roles: PostgresRoles = request.getfixturevalue("postgres_roles")
    return _postgres_settings(server, request.getfixturevalue("postgres_database"), roles)


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


@dataclass
class Gateway:
    client: AsyncTestClient[Any]
    app: Litestar
    container: Container

    async def log_in(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = await self.client.post("/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    async def bearer_of(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        return bearer((await self.log_in(username, password))["access_token"])

    async def call(
        self, method: str, path: str, headers: Mapping[str, str], json: Any = None
    ) -> httpx.Response:
        """One JSON API call that must succeed (2xx): provisioning, not the behaviour under test."""
        response = await self.client.request(method, path, headers=dict(headers), json=json)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response

    async def create_platform_admin(self) -> dict[str, str]:
        """As `wa-gateway user create platform root --role platform_admin` does."""
        platform = await self.container.ensure_platform_tenant()()
        await self.container.create_user()(
            OPERATOR, platform.id, ROOT_USERNAME, PASSWORD, Role.PLATFORM_ADMIN
        )
        return await self.bearer_of(ROOT_USERNAME)

    async def receive_inbound(
        self, account_sid: str, auth_token: str, to: str, sender: str, body: str
    ) -> None:
        """A customer's WhatsApp message, posted and signed as Twilio posts it."""
        url = f"{PUBLIC_BASE_URL}/webhooks/twilio/inbound"
        params = {
            "AccountSid": account_sid,
            "MessageSid": "SM" + secrets.token_hex(16),
            "From": f"whatsapp:{sender}",
            "To": f"whatsapp:{to}",
            "Body": body,
            "NumMedia": "0",
        }
        response = await self.client.post(
            "/webhooks/twilio/inbound",
            data=params,
            headers={"X-Twilio-Signature": sign(auth_token, url, params)},
        )
        assert response.status_code in (200, 204), response.text


@asynccontextmanager
async def running_gateway(
    directory: Path, overrides: Mapping[str, str] | None = None
) -> AsyncIterator[Gateway]:
    settings = gateway_settings(directory, overrides)
    upgrade_database(settings.resolved_migration_database_url)  # as `wa-gateway serve` does
    container = create_container(settings)
    app = create_app(container)
    async with AsyncTestClient(app=app) as client:
        yield Gateway(client=client, app=app, container=container)


@dataclass
class TenantWorld:
    """One tenant with something of every kind: the kinds are named as the path parameters are."""

    name: str
    tenant_id: str
    admin: dict[str, str]  # a tenant admin's access token
    agent: dict[str, str]  # an agent's access token
    admin_key: dict[str, str]  # an API key acting as a tenant admin
    agent_key: dict[str, str]  # an API key acting as an agent
    ids: dict[str, str] = field(default_factory=dict)
    # Values of this tenant that no other tenant's answer may contain.
    markers: set[str] = field(default_factory=set)


async def provision_tenant(gateway: Gateway, root: dict[str, str], name: str, *, number: int) -> TenantWorld:
    """A tenant created by the platform admin, then filled by its own admin and agent: a second user,
    two senders, Twilio credentials, two API keys, a webhook endpoint, an outbound message, a failed
    one, and a customer's inbound message (which gives a conversation and a webhook delivery).

    ``number`` (0-9) keeps phone numbers and account SIDs apart between tenants.
    """
    slug = name.lower()
    default_sender, second_sender = f"+1415523{number}886", f"+1415523{number}887"
    contact = f"+1415555{number}123"
    account_sid, auth_token = "AC" + secrets.token_hex(16), secrets.token_urlsafe(24)

    tenant = (
        await gateway.call("POST", "/admin/tenants", root, {"name": name, "session_window_check": False})
    ).json()
    await gateway.call(
        "POST",
        f"/admin/tenants/{tenant['id']}/users",
        root,
        {"username": f"{slug}-admin", "password": PASSWORD, "role": "tenant_admin"},
    )
    admin = await gateway.bearer_of(f"{slug}-admin")
    await gateway.call("POST", "/api/senders", admin, {"phone_number": default_sender, "label": "main"})
    sender = (
        await gateway.call("POST", "/api/senders", admin, {"phone_number": second_sender, "label": "spare"})
    ).json()
    await gateway.call(
        "PUT", "/api/credentials", admin, {"account_sid": account_sid, "auth_token": auth_token}
    )
    agent_user = (
        await gateway.call(
            "POST", "/api/users", admin, {"username": f"{slug}-agent", "password": PASSWORD, "role": "agent"}
        )
    ).json()
    agent = await gateway.bearer_of(f"{slug}-agent")
    agent_key = (
        await gateway.call("POST", "/api/api-keys", admin, {"name": "orders", "role": "agent"})
    ).json()
    admin_key = (
        await gateway.call("POST", "/api/api-keys", admin, {"name": "crm", "role": "tenant_admin"})
    ).json()
    endpoint = (
        await gateway.call(
            "POST",
            "/api/webhooks",
            admin,
            {
                "url": f"http://127.0.0.1:9/{slug}",
                "events": ["message.received", "message.status", "message.failed"],
                "description": f"{name}'s CRM",
            },
        )
    ).json()
    outbound = (
        await gateway.call("POST", "/api/send", agent, {"to_number": contact, "body": f"hello from {name}"})
    ).json()
    failed = (
        await gateway.call(
            "POST", "/api/send", agent, {"to_number": FAILING_CONTACT, "body": f"{name} fails"}
        )
    ).json()
    assert failed["status"] == "failed", failed
    await gateway.receive_inbound(account_sid, auth_token, default_sender, contact, f"hi {name}")
    deliveries = (await gateway.call("GET", f"/api/webhooks/{endpoint['id']}/deliveries", admin)).json()[
        "items"
    ]
    assert deliveries, "the inbound message should have produced a webhook delivery"

    return TenantWorld(
        name=name,
        tenant_id=tenant["id"],
        admin=admin,
        agent=agent,
        admin_key=bearer(admin_key["key"]),
        agent_key=bearer(agent_key["key"]),
        ids={
            "message_id": failed["id"],
            "user_id": agent_user["id"],
            "sender_id": sender["id"],
            "key_id": agent_key["id"],
            "endpoint_id": endpoint["id"],
            "delivery_id": deliveries[0]["id"],
            "contact": contact,
            "tenant_id": tenant["id"],
        },
        markers={
            tenant["id"],
            agent_user["id"],
            sender["id"],
            agent_key["id"],
            admin_key["id"],
            endpoint["id"],
            outbound["id"],
            failed["id"],
            deliveries[0]["id"],
            contact,
            default_sender,
            second_sender,
            account_sid,
            f"{slug}-admin",
            f"{slug}-agent",
        },
    )
