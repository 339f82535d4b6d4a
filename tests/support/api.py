"""The HTTP API under test: the real Litestar app, built from the real container with the database, the
password hasher, the messaging provider, the tenant-webhook sender and URL guard, the media store and
the providers' copies of inbound media replaced by fakes, and the same people in it every time.

Every HTTP test over fakes gets its app from ``running_api`` (the unit tests through the ``api`` and
``make_api`` fixtures of tests/unit/entrypoints/conftest.py); what differs between tests is an
``ApiOptions``, never the way the app is built.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from domain.administration.tenancy import ProviderName, Role, Tenant, User
from domain.identity.credentials import PLATFORM_TENANT_ID, PLATFORM_TENANT_NAME
from domain.messaging.messages import Direction
from entrypoints.container import Container, create_container
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.support.fakes import (
    FakeDatabase,
    FakeMessagingProvider,
    FakePasswordHasher,
    FakeUnitOfWork,
    FakeWebhookSender,
    FakeWebhookUrlGuard,
    FixedClock,
    TenantAccount,
    open_window,
    provision_account,
)
from tests.support.media import FakeMediaFetcher, FakeMediaStore

JWT_SECRET = "a-test-secret-that-is-long-enough-for-hs256"
PASSWORD = "correct horse battery"  # everyone's, so a test logs anyone in by name


@dataclass(frozen=True)
class ApiOptions:
    """What one test's app has of its own."""

    # The environment the app reads, beyond DATA_DIR and JWT_SECRET. The default suits the send path:
    # login and body-size limits low enough for a test to reach, and a short wait for the provider.
    settings: Mapping[str, str] = field(
        default_factory=lambda: {
            "LOGIN_ATTEMPTS_PER_MINUTE": "5",
            "MAX_REQUEST_BODY_BYTES": "8192",
            "SEND_WAIT_SECONDS": "0.3",
        }
    )
    # The tenants ("acme", "globex") that check the 24-hour session window; the others send free-form
    # messages to anyone, as the demo tenant does.
    session_window_check: frozenset[str] = frozenset()
    # Whether the app reads the time from ``Api.clock`` rather than the system clock. That clock starts
    # at the real time, since tokens are checked against it.
    fixed_clock: bool = False
    # Whether messages go through the app's own providers (the sandbox's and Twilio's, behind its
    # router) rather than ``Api.provider``. Nothing leaves the machine: the sandbox sends nowhere, and
    # Twilio refuses a sender without an account.
    real_providers: bool = False

    def with_settings(self, **settings: str) -> ApiOptions:
        """These options with more settings (an empty value unsets one)."""
        return replace(self, settings={**self.settings, **settings})


# Access control, administration and the audit trail: no embedded dispatcher, so a sent message stays
# accepted; globex checks the session window, acme does not.
ACCESS_CONTROL = ApiOptions(
    settings={"SEND_WAIT_SECONDS": "0.3", "EMBEDDED_DISPATCHER": "false"},
    session_window_check=frozenset({"globex"}),
)


@dataclass
class Api:
    """A running app, its fakes and the people in it: acme (alice) and globex (bob), two tenants with
    their tenant admins; ana, an agent of acme; root, a platform admin. All have the password PASSWORD."""

    client: AsyncTestClient[Any]
    app: Litestar
    container: Container
    database: FakeDatabase
    hasher: FakePasswordHasher
    provider: FakeMessagingProvider  # unused with ApiOptions.real_providers
    webhook_sender: FakeWebhookSender
    webhook_url_guard: FakeWebhookUrlGuard
    media_store: FakeMediaStore
    media_fetcher: FakeMediaFetcher
    clock: FixedClock  # the seed data's time; the app's too with ApiOptions.fixed_clock
    acme: TenantAccount
    globex: TenantAccount
    agent: User
    root: User

    async def login(self, account: TenantAccount) -> dict[str, str]:
        """The Authorization header of the account's tenant admin."""
        return await self.bearer(account.user.username, account.password)

    async def tokens(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = await self.client.post("/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def bearer(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        """The Authorization header of anyone, by name."""
        return {"Authorization": f"Bearer {(await self.tokens(username, password))['access_token']}"}

    async def api_key(
        self, admin: dict[str, str], role: str = "agent"
    ) -> tuple[dict[str, str], dict[str, Any]]:
        response = await self.client.post(
            "/api/api-keys", json={"name": f"{role} key", "role": role}, headers=admin
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return {"Authorization": f"Bearer {created['key']}"}, created

    async def send(self, headers: dict[str, str], **body: Any) -> httpx.Response:
        return await self.client.post("/api/send", json=body, headers=headers)

    async def customer_writes(
        self, account: TenantAccount, contact: str, ago: timedelta, *, body: str = "hello?"
    ) -> None:
        """``contact`` wrote to the tenant ``ago`` before now: its 24-hour session window opened then."""
        message = await open_window(
            FakeUnitOfWork(self.database), account, contact, self.clock.now() - ago, body=body
        )
        assert message.direction is Direction.INBOUND


class MakeApi(Protocol):
    """The ``make_api`` fixture: an app with ``options`` (the test module's ``api_options`` by default)
    and these settings on top of them."""

    async def __call__(self, options: ApiOptions | None = None, **settings: str) -> Api: ...


@asynccontextmanager
async def running_api(data_dir: Path, options: ApiOptions) -> AsyncIterator[Api]:
    """The app with these options, started (its lifespan runs) and served to a test client."""
    environ = {"DATA_DIR": str(data_dir), "JWT_SECRET": JWT_SECRET, **options.settings}
    container = create_container(load_settings(environ=environ, env_file=None))
    database = FakeDatabase()
    hasher = FakePasswordHasher()
    provider = FakeMessagingProvider()
    webhook_sender = FakeWebhookSender()
    webhook_url_guard = FakeWebhookUrlGuard("localhost")
    media_store, media_fetcher = FakeMediaStore(), FakeMediaFetcher()
    clock = FixedClock(datetime.now(UTC)) if options.fixed_clock else FixedClock()
    container.unit_of_work.override(providers.Factory(FakeUnitOfWork, database))
    container.password_hasher.override(providers.Object(hasher))
    if not options.real_providers:
        container.messaging_provider.override(providers.Object(provider))
    container.webhook_sender.override(providers.Object(webhook_sender))
    container.webhook_url_guard.override(providers.Object(webhook_url_guard))
    container.media_store.override(providers.Object(media_store))
    container.inbound_media_fetcher.override(providers.Object(media_fetcher))
    if options.fixed_clock:
        container.clock.override(providers.Object(clock))

    seed = FakeUnitOfWork(database)
    checked = options.session_window_check
    acme = await provision_account(
        seed, hasher, clock, password=PASSWORD, session_window_check="acme" in checked
    )
    globex = await provision_account(
        seed,
        hasher,
        clock,
        name="Globex",
        sender_number="+447911123456",
        username="bob",
        password=PASSWORD,
        session_window_check="globex" in checked,
    )
    agent = User(
        tenant_id=acme.tenant.id,
        username="ana",
        password_hash=await hasher.hash(PASSWORD),
        created_at=clock.now(),
        role=Role.AGENT,
    )
    await seed.users.add(agent)
    # The platform tenant and its admin, as `wa-gateway user create platform root --role platform_admin`
    # makes them.
    await seed.tenants.add(
        Tenant(
            id=PLATFORM_TENANT_ID,
            name=PLATFORM_TENANT_NAME,
            provider=ProviderName.SANDBOX,
            created_at=clock.now(),
        )
    )
    root = User(
        tenant_id=PLATFORM_TENANT_ID,
        username="root",
        password_hash=await hasher.hash(PASSWORD),
        created_at=clock.now(),
        role=Role.PLATFORM_ADMIN,
    )
    await seed.users.add(root)

    app = create_app(container)
    async with AsyncTestClient(app=app) as client:
        yield Api(
            client,
            app,
            container,
            database,
            hasher,
            provider,
            webhook_sender,
            webhook_url_guard,
            media_store,
            media_fetcher,
            clock,
            acme,
            globex,
            agent,
            root,
        )


def assert_problem(response: httpx.Response, status: int, type_suffix: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this status and type; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"].endswith("/" + type_suffix), problem
    assert problem["title"]
    return problem


def unstarted_app(data_dir: Path) -> Litestar:
    """The app as the composition root builds it, with the default settings and nothing replaced, not
    started: nothing connects until a request comes, so its routes and schema can be read as they are."""
    return create_app(create_container(load_settings(environ={"DATA_DIR": str(data_dir)}, env_file=None)))


def openapi_schema(data_dir: Path) -> dict[str, Any]:
    """The app's OpenAPI schema as a plain dict, with the default settings."""
    return unstarted_app(data_dir).openapi_schema.to_schema()
