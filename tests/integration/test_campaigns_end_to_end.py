"""Campaigns as deployed: ``wa-gateway serve`` API processes that only accept, ``wa-gateway worker``
processes that run the campaign runner and the dispatcher, real PostgreSQL, a sandbox tenant.

A campaign's messages leave at its pace, measured over the whole campaign within 10 % (each job is due
at its slot, the first one after the hand-over commits); every recipient gets exactly one message; and
a worker killed with SIGKILL in the middle of a campaign loses nobody and sends nobody twice: its batch
was committed whole or not at all, and the other workers go on from the campaign's stored schedule. How
fast the messages actually left is printed; the bench measures it at higher paces on a quiet machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.dispatch_load import libpq_url
from tests.support.gateways import GatewayProcesses
from tests.support.postgres_server import PostgresServer

pytestmark = pytest.mark.postgres

SENDER = "+14155238886"
PACE = 20.0
# Low enough that a loaded 2-core machine keeps it, long enough that a poll's delay is small beside it.
MEASURED_PACE, MEASURED_COUNT = 10.0, 100


@pytest.fixture
def campaign_database(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create_database()
    try:
        yield postgres_server.url_for(name)
    finally:
        postgres_server.drop_database(name)


@dataclass
class Deployed:
    gateway: GatewayProcesses
    client: httpx.AsyncClient
    database_url: str
    tenant_id: str

    async def create_campaign(self, count: int, *, first: int = 0, pace: float = PACE) -> str:
        recipients = [
            {"number": f"+4479111{n:05d}", "attributes": {"first_name": f"Person {n}"}}
            for n in range(first, first + count)
        ]
        response = await self.client.post(
            "/api/campaigns",
            json={
                "name": f"campaign {first}",
                "sender_number": SENDER,
                "template": {"name": "spring_sale", "language": "en"},
                "variables": {"1": {"attribute": "first_name"}},
                "audience": {"recipients": recipients},
                "pace": {"messages_per_second": pace},
            },
        )
        assert response.status_code == 201, response.text
        campaign_id: str = response.json()["id"]
        return campaign_id

    async def campaign(self, campaign_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/api/campaigns/{campaign_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def wait_until_completed(self, campaign_id: str, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            campaign = await self.campaign(campaign_id)
            if campaign["status"] == "completed":
                return campaign
            await asyncio.sleep(0.5)
        pytest.fail(f"not completed within {timeout} s: {campaign}\n{self.gateway.log_tails()}")

    async def handed_to_provider(self, campaign_id: str) -> list[tuple[str, float]]:
        """Each of the campaign's messages: its contact, and when the provider took it (epoch seconds)."""
        async with await psycopg.AsyncConnection.connect(libpq_url(self.database_url)) as db:
            rows = await (
                await db.execute(
                    "SELECT m.contact_number, extract(epoch FROM m.updated_at) FROM campaign_recipients r "
                    "JOIN messages m ON m.id = r.message_id WHERE r.campaign_id = %s ORDER BY m.updated_at",
                    (campaign_id,),
                )
            ).fetchall()
        return [(row[0], float(row[1])) for row in rows]

    async def messages_to(self, contacts: list[str]) -> dict[str, int]:
        async with await psycopg.AsyncConnection.connect(libpq_url(self.database_url)) as db:
            rows = await (
                await db.execute(
                    "SELECT contact_number, count(*) FROM messages WHERE direction = 'outbound' "
                    "AND contact_number = ANY(%s) GROUP BY contact_number",
                    (contacts,),
                )
            ).fetchall()
        return {row[0]: row[1] for row in rows}


@contextlib.asynccontextmanager
async def deployment(tmp_path: Path, database_url: str, *, workers: int) -> AsyncIterator[Deployed]:
    gateway = GatewayProcesses(
        database_url=database_url,
        log_dir=tmp_path,
        settings={
            # The provider's answer is the last change of each message: its updated_at is when it left.
            "SANDBOX_SENT_AFTER_SECONDS": "3600",
            "SANDBOX_DELIVERED_AFTER_SECONDS": "3600",
            "CAMPAIGN_TICK_SECONDS": "0.2",
            "DISPATCH_LEASE_SECONDS": "6",
            "PROVIDER_TIMEOUT_SECONDS": "2",
        },
    )
    try:
        await asyncio.to_thread(gateway.migrate)
        suffix = uuid.uuid4().hex[:8]
        tenant = await asyncio.to_thread(gateway.cli, "tenant", "create", f"Tenant {suffix}")
        await asyncio.to_thread(
            gateway.cli,
            "user", "create", tenant["id"], f"admin-{suffix}", "--role", "tenant_admin", "--password-stdin",
            stdin=f"password-{suffix}\n",
        )  # fmt: skip
        await asyncio.to_thread(gateway.start, apis=1, workers=workers)
        async with httpx.AsyncClient(base_url=gateway.api_urls[0], timeout=30, trust_env=False) as client:
            login = await client.post(
                "/auth/login", json={"username": f"admin-{suffix}", "password": f"password-{suffix}"}
            )
            assert login.status_code == 200, login.text
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            sender = await client.post("/api/senders", json={"phone_number": SENDER, "label": "main"})
            assert sender.status_code == 201, sender.text
            template = await client.post(
                "/api/templates",
                json={
                    "name": "spring_sale",
                    "language": "en",
                    "category": "marketing",
                    "body": "Hi {{1}}, our spring sale starts today.",
                    "examples": {"1": "Ana"},
                    "accounts": ["sandbox"],
                },
            )
            assert template.status_code == 201, template.text
            yield Deployed(gateway, client, database_url, tenant["id"])
    finally:
        await asyncio.to_thread(gateway.stop)


async def test_a_campaign_sends_each_recipient_once_at_its_pace(
    campaign_database: str, tmp_path: Path
) -> None:
    async with deployment(tmp_path, campaign_database, workers=2) as deployed:
        campaign_id = await deployed.create_campaign(MEASURED_COUNT, pace=MEASURED_PACE)
        campaign = await deployed.wait_until_completed(campaign_id, timeout=90)
        left = await deployed.handed_to_provider(campaign_id)
        assert not deployed.gateway.dead_processes(), deployed.gateway.log_tails()

    progress = campaign["progress"]
    assert (progress["targeted"], progress["pending"]) == (MEASURED_COUNT, 0)
    assert progress["sent"] == MEASURED_COUNT
    assert len({contact for contact, _ in left}) == MEASURED_COUNT == len(left)
    # Over the whole campaign, first message to last: each leaves at its slot (the first one a moment
    # after the runner handed it over, never already past), give or take the dispatcher's polls.
    moments = [moment for _, moment in left]
    measured = (len(moments) - 1) / (moments[-1] - moments[0])
    print(
        f"\ncampaign at {MEASURED_PACE:g} msg/s: its {MEASURED_COUNT} messages left at {measured:.2f} msg/s"
    )
    assert MEASURED_PACE * 0.9 <= measured <= MEASURED_PACE * 1.1


async def test_a_worker_killed_mid_campaign_leaves_no_recipient_missing_or_sent_twice(
    campaign_database: str, tmp_path: Path
) -> None:
    async with deployment(tmp_path, campaign_database, workers=2) as deployed:
        campaign_id = await deployed.create_campaign(200, first=1000)
        deadline = time.monotonic() + 30
        while (await deployed.campaign(campaign_id))["progress"]["pending"] > 120:
            assert time.monotonic() < deadline, deployed.gateway.log_tails()
            await asyncio.sleep(0.1)
        victim = deployed.gateway.workers[0]
        victim.kill()  # SIGKILL: whatever batch it was in is committed whole or rolled back
        deployed.gateway.workers.remove(victim)
        await asyncio.to_thread(deployed.gateway.start_worker)
        campaign = await deployed.wait_until_completed(campaign_id, timeout=120)
        contacts = [f"+4479111{n:05d}" for n in range(1000, 1200)]
        sent = await deployed.messages_to(contacts)
        assert not deployed.gateway.dead_processes(), deployed.gateway.log_tails()

    assert campaign["progress"]["pending"] == 0
    assert sorted(sent) == sorted(contacts), "nobody missing"
    assert set(sent.values()) == {1}, "nobody twice"
