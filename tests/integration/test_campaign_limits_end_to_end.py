"""A campaign meets WhatsApp's messaging limit at Twilio, as deployed: a ``wa-gateway worker`` process
sending through a ``wa-gateway twilio-emulator`` process, real PostgreSQL.

The emulator refuses the campaign's messages to one recipient as Twilio does when the sender reached its
limit (HTTP 429, error 63018: nothing was sent). The campaign pauses itself with the reason, and nothing
more of it leaves while it is paused; once the limit lifts and a tenant admin resumes it, it goes on,
and in the end every recipient got exactly one message: none missing, none twice.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.gateways import GatewayProcesses
from tests.support.postgres_server import PostgresServer
from tests.support.provider_emulators import TwilioAccount, TwilioEmulator, start_twilio_emulator

pytestmark = pytest.mark.postgres

COUNT, PACE = 30, 10.0
RECIPIENTS = [f"+4479112{n:05d}" for n in range(COUNT)]
AT_LIMIT = RECIPIENTS[8]  # the recipient whose message meets the limit
TEMPLATE_BODY = "Hi {{1}}, our spring sale starts today."


async def eventually_campaign(
    client: httpx.AsyncClient, campaign_id: str, status: str, within: float, tails: Any
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    campaign: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get(f"/api/campaigns/{campaign_id}")
        assert response.status_code == 200, response.text
        campaign = response.json()
        if campaign["status"] == status:
            return campaign
        await asyncio.sleep(0.3)
    pytest.fail(f"not {status} within {within} s: {campaign}\n{tails()}")


async def sent_to(emulator: TwilioEmulator) -> Counter[str]:
    """How many messages the emulator created for each recipient."""
    created = await emulator.created_messages()
    return Counter(message.to.removeprefix("whatsapp:") for message in created)


async def test_a_campaign_at_the_messaging_limit_pauses_then_resumed_sends_everyone_exactly_once(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    database = postgres_server.create_database()
    emulator = await asyncio.to_thread(start_twilio_emulator, tmp_path, TwilioAccount.new(), seed=7)
    gateway = GatewayProcesses(
        database_url=postgres_server.url_for(database),
        log_dir=tmp_path,
        settings={
            **emulator.gateway_settings,
            "CAMPAIGN_TICK_SECONDS": "0.2",
            "PROVIDER_TIMEOUT_SECONDS": "5",
            # The sender pauses too when it meets its limit; briefly here, so the resume is what counts.
            "SENDER_PAUSE_SECONDS": "1",
        },
    )
    try:
        await emulator.patch_callbacks(step_delay_seconds=3600)  # no status callbacks: fewer moving parts
        await asyncio.to_thread(gateway.migrate)
        tenant = await asyncio.to_thread(gateway.provision_twilio_tenant, emulator.account)
        admin, password = f"admin-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        await asyncio.to_thread(
            gateway.cli,
            "user", "create", tenant.tenant_id, admin, "--role", "tenant_admin", "--password-stdin",
            stdin=password + "\n",
        )  # fmt: skip
        # The template, approved at Twilio (made in its console), then read into the catalogue.
        async with httpx.AsyncClient(base_url=emulator.base_url, trust_env=False, timeout=30) as control:
            console = await control.post(
                "/_emulator/content",
                json={
                    "account_sid": emulator.account.sid,
                    "friendly_name": "spring_sale",
                    "language": "en",
                    "variables": {"1": "Ana"},
                    "types": {"twilio/text": {"body": TEMPLATE_BODY}},
                    "approval": {"name": "spring_sale", "category": "MARKETING", "status": "approved"},
                },
            )
            assert console.status_code == 201, console.text
        await asyncio.to_thread(gateway.start, apis=1, workers=1)
        async with httpx.AsyncClient(base_url=gateway.api_urls[0], timeout=30, trust_env=False) as client:
            login = await client.post("/auth/login", json={"username": admin, "password": password})
            assert login.status_code == 200, login.text
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            synced = await client.post("/api/templates/sync")
            assert synced.status_code == 200, synced.text
            await emulator.patch_faults(
                to_errors={AT_LIMIT: {"code": 63018, "stage": "request", "http_status": 429}}
            )

            created = await client.post(
                "/api/campaigns",
                json={
                    "name": "Spring sale",
                    "sender_number": tenant.sender,
                    "template": {"name": "spring_sale", "language": "en"},
                    "variables": {"1": {"attribute": "first_name"}},
                    "audience": {
                        "recipients": [
                            {"number": number, "attributes": {"first_name": f"Person {n}"}}
                            for n, number in enumerate(RECIPIENTS)
                        ]
                    },
                    "pace": {"messages_per_second": PACE},
                },
            )
            assert created.status_code == 201, created.text
            campaign_id = created.json()["id"]

            paused = await eventually_campaign(client, campaign_id, "paused", 60, gateway.log_tails)
            assert "sender-at-limit" in paused["pause_reason"], paused["pause_reason"]
            # Nothing more leaves while it is paused (a send already under way when it paused may land).
            await asyncio.sleep(1.0)
            while_paused = await sent_to(emulator)
            await asyncio.sleep(3.0)
            assert await sent_to(emulator) == while_paused
            assert AT_LIMIT not in while_paused
            assert sum(while_paused.values()) < COUNT

            # The limit lifts; a tenant admin resumes it.
            await emulator.patch_faults(to_errors={})
            await asyncio.sleep(1.5)  # the sender's own short pause runs out
            resumed = await client.post(f"/api/campaigns/{campaign_id}/resume")
            assert resumed.status_code == 200, resumed.text
            completed = await eventually_campaign(client, campaign_id, "completed", 120, gateway.log_tails)
            assert not gateway.dead_processes(), gateway.log_tails()

        assert completed["progress"]["pending"] == 0
        assert completed["progress"]["failed"] == 0
        assert await sent_to(emulator) == Counter(dict.fromkeys(RECIPIENTS, 1)), "each exactly once"
    finally:
        await asyncio.to_thread(gateway.stop)
        emulator.process.stop()
        await emulator.aclose()
        postgres_server.drop_database(database)
