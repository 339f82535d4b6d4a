"""The session-check cache across API processes: two gateways on one PostgreSQL database, as two
processes of one deployment are. Whatever revokes access in one of them (or in the database by hand)
is refused by the other too, and a cache that is not told of changes serves nothing.

Waiting for the other process is bounded (``eventually``): it is told by PostgreSQL's NOTIFY, which
arrives after the writer's commit, in milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
import psycopg
import pytest

from adapters.database.access_cache import ListeningAccessCache, libpq_url
from domain.administration.tenancy import ProviderAccount, TwilioCredentials
from domain.phone import PhoneNumber
from tests.support.gateways import Gateway, emptied_session_database, running_gateway

pytestmark = pytest.mark.postgres

TWILIO = TwilioCredentials(account_sid="AC" + "d4" * 16, auth_token="acme-auth-token-0123456789")
ACME_NUMBER = PhoneNumber.parse("+14155238886")

PATIENCE_SECONDS = 10.0


async def eventually(condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = asyncio.get_running_loop().time() + PATIENCE_SECONDS
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "the other process never saw the change"
        await asyncio.sleep(0.02)


class TwoProcesses:
    def __init__(self, first: Gateway, second: Gateway, admin_url: str) -> None:
        self.first = first
        self.second = second
        self.admin_url = libpq_url(admin_url)

    async def agent_token(self) -> str:
        response = await self.first.client.post(
            "/auth/login", json={"username": "acme-agent", "password": "a long enough password"}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    @staticmethod
    async def status(gateway: Gateway, token: str) -> int:
        response = await gateway.client.get("/api/messages", headers={"Authorization": f"Bearer {token}"})
        return response.status_code

    async def refused_eventually(self, gateway: Gateway, token: str) -> None:
        await eventually(partial(answers, gateway, token, 401))

    @staticmethod
    def cache_of(gateway: Gateway) -> ListeningAccessCache:
        cache = gateway.container.access_cache()
        assert cache is not None
        return cache

    async def as_dba(self, statement: str, *params: Any) -> None:
        """A change by hand, in psql, as a superuser (row-level security binds the owner too)."""
        async with await psycopg.AsyncConnection.connect(self.admin_url, autocommit=True) as connection:
            await connection.execute(statement, params)


@pytest.fixture
async def processes(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_admin_url: str
) -> AsyncIterator[TwoProcesses]:
    settings = emptied_session_database(request, "postgres")
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running_gateway(tmp_path / "first", settings))
        second = await stack.enter_async_context(running_gateway(tmp_path / "second", settings))
        root = await first.create_platform_admin()
        tenant = (await first.call("POST", "/admin/tenants", root, {"name": "Acme"})).json()
        await first.call(
            "POST",
            f"/admin/tenants/{tenant['id']}/users",
            root,
            {"username": "acme-agent", "password": "a long enough password", "role": "agent"},
        )
        both = TwoProcesses(first, second, postgres_admin_url)
        for gateway in (first, second):
            await eventually(partial(is_listening, both.cache_of(gateway)))
        yield both


def session_of(token: str) -> UUID:
    return UUID(jwt.decode(token, options={"verify_signature": False})["sid"])


async def test_the_other_process_serves_a_token_from_its_cache_once_checked(processes: TwoProcesses) -> None:
    token = await processes.agent_token()

    assert await processes.status(processes.second, token) == 200

    assert processes.cache_of(processes.second).get(session_of(token)) is not None
    assert await processes.status(processes.second, token) == 200


async def test_a_logout_in_one_process_ends_the_token_in_the_other(processes: TwoProcesses) -> None:
    token = await processes.agent_token()
    assert await processes.status(processes.second, token) == 200  # now in the second one's cache

    logout = await processes.first.client.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert logout.status_code == 204, logout.text

    # The process that logged out refuses at once; the other as soon as PostgreSQL tells it.
    assert await processes.status(processes.first, token) == 401
    await processes.refused_eventually(processes.second, token)


async def test_a_session_revoked_by_hand_in_the_database_is_refused_everywhere(
    processes: TwoProcesses,
) -> None:
    token = await processes.agent_token()
    for gateway in (processes.first, processes.second):
        assert await processes.status(gateway, token) == 200

    await processes.as_dba(
        "UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'logout' WHERE id = %s",
        session_of(token),
    )

    for gateway in (processes.first, processes.second):
        await processes.refused_eventually(gateway, token)


async def test_a_tenant_suspended_by_hand_locks_out_its_users_everywhere(processes: TwoProcesses) -> None:
    token = await processes.agent_token()
    assert await processes.status(processes.second, token) == 200

    await processes.as_dba("UPDATE tenants SET status = 'suspended' WHERE name = 'Acme'")

    await processes.refused_eventually(processes.second, token)


async def test_a_cache_cut_off_from_the_database_empties_itself_and_listens_again(
    processes: TwoProcesses,
) -> None:
    token = await processes.agent_token()
    assert await processes.status(processes.second, token) == 200
    cache = processes.cache_of(processes.second)
    version_before, signers_before = cache.version(), cache.signers_version()
    assert cache.get(session_of(token)) is not None

    async with await psycopg.AsyncConnection.connect(processes.admin_url, autocommit=True) as admin:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'wa-gateway access cache' AND datname = current_database()"
        )

    # Back and listening, with nothing kept from before: changes made meanwhile were never announced.
    await eventually(partial(listens_again, cache, version_before))
    assert cache.get(session_of(token)) is None
    assert cache.signers_version() != signers_before  # nor are Twilio's signers vouched for
    assert await processes.status(processes.second, token) == 200


async def test_a_twilio_account_added_in_one_process_is_announced_to_the_others_signers(
    processes: TwoProcesses,
) -> None:
    first, second = processes.cache_of(processes.first), processes.cache_of(processes.second)
    first_before, second_before = first.signers_version(), second.signers_version()
    uow = processes.first.container.unit_of_work()
    async with uow:
        tenant = await uow.tenants.get_by_name("Acme")
        assert tenant is not None
        await uow.provider_accounts.add(
            ProviderAccount(tenant_id=tenant.id, credentials=TWILIO, created_at=tenant.created_at)
        )
        await uow.commit()

    assert first.signers_version() != first_before  # at once, in the process that committed it
    await eventually(partial(signers_moved, second, second_before))
    # The other process's signers read from now on are current: they decide whom a callback is for.
    known = await processes.second.container.twilio_signers().of(ACME_NUMBER, TWILIO.account_sid)
    assert known.current


async def signers_moved(cache: ListeningAccessCache, before: int | None) -> bool:
    return cache.signers_version() != before


async def is_listening(cache: ListeningAccessCache) -> bool:
    return cache.listening


async def listens_again(cache: ListeningAccessCache, version_before: int | None) -> bool:
    return cache.listening and cache.version() != version_before


async def answers(gateway: Gateway, token: str, expected: int) -> bool:
    return await TwoProcesses.status(gateway, token) == expected
