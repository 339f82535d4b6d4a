"""Overload on real PostgreSQL: a request that cannot get a connection in time is answered 503 at once and
changes nothing, and the embedded dispatcher keeps sending while accepts flood a small pool."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from dependency_injector import providers
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.database.engine import create_database_engine, normalize_database_url
from entrypoints.container import Container, create_container, shutdown, upgrade_database
from entrypoints.http.app import create_app
from tests.integration.test_end_to_end import login, provision
from tests.support.gateways import gateway_settings
from tests.support.served_gateway import listening_socket, served

POOL_TIMEOUT_SECONDS = 0.1


def gateway(postgres_url: str, tmp_path: Path, **overrides: str) -> Container:
    settings = gateway_settings(
        tmp_path,
        {
            "DATABASE_URL": postgres_url,
            "SANDBOX_SENT_AFTER_SECONDS": "0.01",
            "SANDBOX_DELIVERED_AFTER_SECONDS": "0.02",
            "TENANT_SENDS_PER_MINUTE": "0",
            **overrides,
        },
    )
    upgrade_database(settings.resolved_migration_database_url)
    container = create_container(settings)
    # The requests' pool, this small: its size is DB_POOL_SIZE plus a burst allowance in production.
    container.engine.override(
        providers.Singleton(
            create_database_engine,
            postgres_url,
            pool_size=1,
            max_overflow=0,
            pool_timeout_seconds=POOL_TIMEOUT_SECONDS,
        )
    )
    return container


@pytest.fixture
async def owner_engine(postgres_admin_url: str) -> AsyncIterator[AsyncEngine]:
    """A superuser's view of the database: row-level security hides no row from it."""
    engine = create_async_engine(normalize_database_url(postgres_admin_url))
    yield engine
    await engine.dispose()


async def statuses_of(engine: AsyncEngine, tenant_id: str) -> dict[str, str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            sa.text("SELECT id, status FROM messages WHERE tenant_id = :tenant AND direction = 'outbound'"),
            {"tenant": tenant_id},
        )
        return {str(row.id): row.status for row in rows}


async def test_a_send_that_cannot_get_a_connection_in_time_gets_503_and_writes_nothing(
    postgres_url: str, tmp_path: Path, owner_engine: AsyncEngine
) -> None:
    container = gateway(postgres_url, tmp_path, EMBEDDED_DISPATCHER="false")
    try:
        account = await provision(container, "+14155238801")
        async with AsyncTestClient(app=create_app(container)) as client:
            headers = {**await login(client, account), "Idempotency-Key": uuid.uuid4().hex}
            request = {"to_number": "+14155550170", "body": "Your table is ready"}

            held = await container.engine().connect()  # the pool's only connection, in a transaction
            try:
                await held.begin()
                refused = await client.post("/api/send", json=request, headers=headers)
            finally:
                await held.close()

            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"].isdigit()
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["type"] == "/problems/service-unavailable"
            assert await statuses_of(owner_engine, account.tenant_id) == {}

            again = await client.post("/api/send", json=request, headers=headers)
            assert again.status_code in (201, 202), again.text
            assert list(await statuses_of(owner_engine, account.tenant_id)) == [again.json()["id"]]
    finally:
        await shutdown(container)


@asynccontextmanager
async def client_of_served(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The app behind a real server in this event loop: its requests run concurrently."""
    async with (
        served(container, listening_socket()) as base_url,
        httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=30) as client,
    ):
        yield client


async def test_the_embedded_dispatcher_sends_while_accepts_flood_a_small_pool_and_loses_nothing(
    postgres_url: str, tmp_path: Path, owner_engine: AsyncEngine
) -> None:
    container = gateway(
        postgres_url,
        tmp_path,
        EMBEDDED_DISPATCHER="true",
        DB_BACKGROUND_POOL_SIZE="2",
        DISPATCH_POLL_SECONDS="0.05",
    )
    try:
        account = await provision(container, "+14155238802")
        async with client_of_served(container) as client:
            auth = await login(client, account)  # type: ignore[arg-type]
            accepted: list[str] = []
            flooding = asyncio.Event()
            flooding.set()
            refused = 0

            async def accept_until_told_to_stop(client_number: int) -> None:
                nonlocal refused
                while flooding.is_set():
                    headers = {**auth, "Idempotency-Key": uuid.uuid4().hex, "Prefer": "respond-async"}
                    request = {
                        "to_number": f"+1415555{client_number:02d}{len(accepted) % 100:02d}",
                        "body": "hi",
                    }
                    while True:  # a refused accept is sent again with the same key, as a client should
                        response = await client.post("/api/send", json=request, headers=headers)
                        if response.status_code != 503:
                            break
                        assert response.headers["retry-after"].isdigit()
                        refused += 1
                    assert response.status_code == 202, response.text
                    accepted.append(response.json()["id"])

            flooders = [asyncio.create_task(accept_until_told_to_stop(n)) for n in range(8)]
            try:
                # While the accepts keep coming, earlier messages leave the backlog: dispatch has its share.
                for _ in range(300):
                    await asyncio.sleep(0.05)
                    statuses = await statuses_of(owner_engine, account.tenant_id)
                    if sum(status != "accepted" for status in statuses.values()) >= 10:
                        break
                else:
                    pytest.fail(f"dispatch starved: {statuses}")
            finally:
                flooding.clear()
                await asyncio.gather(*flooders)

            # Every accepted message is stored once and leaves the backlog; nothing else was stored.
            for _ in range(300):
                statuses = await statuses_of(owner_engine, account.tenant_id)
                if "accepted" not in statuses.values():
                    break
                await asyncio.sleep(0.05)
            assert sorted(statuses) == sorted(accepted)
            assert set(statuses.values()) <= {"queued", "sent", "delivered"}, statuses
    finally:
        await shutdown(container)
