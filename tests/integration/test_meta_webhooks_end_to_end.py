"""Meta's webhooks for real: the gateway served by uvicorn on PostgreSQL, sending through the Meta
emulator over HTTP, and the emulator posting its signed webhooks — statuses out of order and more than
once, customers' messages of every kind, batches for two tenants, the handshake — to /webhooks/meta.

Each test has Meta accounts and phone-number ids of its own: Acme's and Globex's WhatsApp Business
Accounts, both subscribed through one app (a platform's own), as tenants of one gateway would be.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import sqlalchemy as sa

from adapters.database.migrate import upgrade
from adapters.database.tables import messages
from adapters.security.secret_box import generate_key
from application.administration.onboarding import CreateTenantCommand
from application.authorization import OPERATOR
from domain.administration.tenancy import ProviderName, Role
from domain.campaigns.schedule import ScheduleState
from domain.messaging.content import MessageKind
from domain.messaging.messages import StatusEvent
from domain.phone import PhoneNumber
from emulators.meta import (
    App,
    Business,
    EmulatorConfig,
    InboundMessage,
    RunningEmulator,
    WebhookOrder,
    WebhookSettings,
    running_emulator,
)
from emulators.meta import (
    PhoneNumber as MetaPhoneNumber,
)
from entrypoints.container import Container, create_container
from entrypoints.settings import load_settings
from tests.support.meta_webhooks import signed
from tests.support.repositories.campaigns import a_campaign
from tests.support.served_gateway import base_url_of, listening_socket, served

CUSTOMER = "+14155550100"
ACME_DISPLAY, GLOBEX_DISPLAY = "15550100001", "15550100002"
# One key for the whole session: every test's Meta accounts stay in the session database, and each
# webhook reads every Meta account's app secret.
CREDENTIALS_KEY = generate_key()
# What names a customer's message's kind (the emulator's InboundMessage fields).
_KINDS = {"type", "text", "image", "video", "audio", "document", "sticker", "button", "interactive"}
_KINDS |= {"location", "contacts", "reaction"}
RANK = {status: rank for rank, status in enumerate(["queued", "sent", "delivered", "read"])}


def meta_id() -> str:
    """A fresh id of Meta's form (digits): phone-number ids are unique across the database."""
    return str(uuid.uuid4().int)[:16]


@dataclass(frozen=True)
class MetaBusiness:
    waba_id: str
    phone_number_id: str
    display: str
    token: str


@dataclass
class Tenant:
    id: UUID
    business: MetaBusiness
    headers: dict[str, str]
    sender: str  # the sender's number, as the tenant has it


@dataclass
class World:
    gateway_url: str
    http: httpx.AsyncClient
    emulator: RunningEmulator
    container: Container
    app_secret: str
    verify_token: str
    acme: Tenant
    globex: Tenant

    def writes(self, tenant: Tenant, **fields: Any) -> InboundMessage:
        """A customer's message to the tenant's number (a text unless ``fields`` say otherwise)."""
        if not _KINDS & set(fields):
            fields["text"] = {"body": "Hello!"}
        return InboundMessage(
            from_=CUSTOMER,
            phone_number_id=tenant.business.phone_number_id,
            profile_name="Ana",
            **fields,
        )

    async def send(self, tenant: Tenant, body: str) -> dict[str, Any]:
        """POST /api/send, then wait until Meta has the message and has posted all its webhooks."""
        response = await self.http.post(
            "/api/send",
            json={"to_number": CUSTOMER, "body": body, "from_number": tenant.sender},
            headers=tenant.headers,
        )
        assert response.status_code in (201, 202), response.text
        message_id = response.json()["id"]
        for _ in range(500):  # the gateway may hand it to Meta in the background
            at_meta = [
                m for m in self.emulator.state.messages.values() if m.biz_opaque_callback_data == message_id
            ]
            if at_meta:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail(f"message {message_id} never reached Meta")
        await self.emulator.state.settle()
        return await self.message(tenant, message_id)

    async def message(self, tenant: Tenant, message_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/messages/{message_id}", headers=tenant.headers)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def timeline(self, tenant: Tenant, message_id: str) -> list[StatusEvent]:
        async with self.container.unit_of_work() as uow:
            return await uow.messages.list_status_events(tenant.id, UUID(message_id))

    async def stored_rows(self, wamid: str) -> list[tuple[UUID, str, str]]:
        """The rows stored for ``wamid``: (tenant, direction, sender), read past the repositories."""
        engine = self.container.engine()
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT set_config('app.cross_tenant', 'on', true)"))
            result = await connection.execute(
                sa.select(messages.c.tenant_id, messages.c.direction, messages.c.sender_number).where(
                    messages.c.provider_sid == wamid
                )
            )
            return [(row.tenant_id, row.direction, row.sender_number) for row in result]


async def provision(
    container: Container,
    http: httpx.AsyncClient,
    name: str,
    business: MetaBusiness,
    *,
    app_secret: str,
    verify_token: str,
) -> Tenant:
    """A tenant, its admin, its Meta account and its sender on it, set up as a tenant admin does."""
    tenant = await container.create_tenant()(
        OPERATOR, CreateTenantCommand(name=f"{name} {uuid.uuid4().hex[:8]}", provider=ProviderName.SANDBOX)
    )
    username, password = f"admin-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
    await container.create_user()(OPERATOR, tenant.id, username, password, Role.TENANT_ADMIN)
    login = await http.post("/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    account = await http.post(
        "/api/provider-accounts",
        json={
            "provider": "meta",
            "label": "Meta",
            "meta": {
                "business_account_id": business.waba_id,
                "access_token": business.token,
                "app_secret": app_secret,
                "verify_token": verify_token,
            },
        },
        headers=headers,
    )
    assert account.status_code == 201, account.text
    sender = f"+{business.display}"
    added = await http.post(
        "/api/senders",
        json={
            "phone_number": sender,
            "account_id": account.json()["id"],
            "provider_number_id": business.phone_number_id,
        },
        headers=headers,
    )
    assert added.status_code == 201, added.text
    return Tenant(tenant.id, business, headers, PhoneNumber.parse(sender).e164)


@pytest.fixture
async def world(postgres_url: str, tmp_path: Path) -> AsyncIterator[World]:
    upgrade(postgres_url)
    app_id, app_secret, verify_token = meta_id(), secrets.token_urlsafe(24), secrets.token_urlsafe(12)
    acme = MetaBusiness(meta_id(), meta_id(), ACME_DISPLAY, secrets.token_urlsafe(24))
    globex = MetaBusiness(meta_id(), meta_id(), GLOBEX_DISPLAY, secrets.token_urlsafe(24))
    sock = listening_socket()
    gateway_url = base_url_of(sock)
    config = EmulatorConfig(
        apps={
            app_id: App(
                secret=app_secret, callback_url=f"{gateway_url}/webhooks/meta", verify_token=verify_token
            )
        },
        businesses={
            business.waba_id: Business(
                app_id=app_id,
                phone_numbers={
                    business.phone_number_id: MetaPhoneNumber(display_phone_number=business.display)
                },
                access_tokens=(business.token,),
            )
            for business in (acme, globex)
        },
        webhooks=WebhookSettings(step_delay_seconds=0.02),
        # No fixed seed: the wamids it draws must not repeat those of earlier tests in this database.
    )
    async with running_emulator(config) as emulator:
        settings = load_settings(
            environ={
                "DATA_DIR": str(tmp_path),
                "DATABASE_URL": postgres_url,
                "DB_POOL_SIZE": "4",
                "ARGON2_TIME_COST": "1",
                "ARGON2_MEMORY_KIB": "8192",
                "ARGON2_PARALLELISM": "1",
                "META_GRAPH_API_BASE_URL": emulator.base_url,
                "PUBLIC_BASE_URL": gateway_url,
                "PROVIDER_TIMEOUT_SECONDS": "5",
                "CREDENTIALS_KEYS": CREDENTIALS_KEY,
            },
            env_file=None,
        )
        container = create_container(settings)
        async with (
            served(container, sock),
            httpx.AsyncClient(base_url=gateway_url, trust_env=False, timeout=10) as http,
        ):
            tenants = [
                await provision(
                    container, http, name, business, app_secret=app_secret, verify_token=verify_token
                )
                for name, business in (("Acme", acme), ("Globex", globex))
            ]
            yield World(gateway_url, http, emulator, container, app_secret, verify_token, *tenants)


async def open_the_window(world: World, tenant: Tenant) -> None:
    """The customer writes first: the 24-hour window opens for free-form replies."""
    delivery = await world.emulator.send_inbound(world.writes(tenant, text={"body": "Any news?"}))
    assert delivery.http_status == 200, delivery.response_body


# ----------------------------------------------------------------------------- the handshake


async def test_the_handshake_echoes_the_challenge_for_the_accounts_verify_token_only(world: World) -> None:
    verified = await world.emulator.verify()
    guessed = await world.emulator.verify(verify_token="a-guessed-token")

    assert verified.echoed, verified
    assert (guessed.http_status, guessed.echoed) == (403, False)


# ----------------------------------------------------------------------------- statuses


async def test_a_message_sent_through_a_meta_sender_is_tied_to_its_statuses_and_ends_read(
    world: World,
) -> None:
    await open_the_window(world, world.acme)

    sent = await world.send(world.acme, "Your order has shipped")

    (at_meta,) = [
        m for m in world.emulator.state.messages.values() if m.biz_opaque_callback_data == sent["id"]
    ]
    assert at_meta.phone_number_id == world.acme.business.phone_number_id
    assert at_meta.request["biz_opaque_callback_data"] == sent["id"]
    assert (sent["status"], sent["provider_sid"]) == ("read", at_meta.id)
    deliveries = world.emulator.state.status_webhooks(at_meta.id)
    assert [d.http_status for d in deliveries] == [200, 200, 200]
    assert {d.response_body for d in deliveries} == {""}
    timeline = await world.timeline(world.acme, sent["id"])
    assert [(e.status.value, e.applied) for e in timeline][-3:] == [
        ("sent", True),
        ("delivered", True),
        ("read", True),
    ]


async def test_shuffled_and_repeated_statuses_end_read_with_each_report_once_in_the_timeline(
    world: World,
) -> None:
    await open_the_window(world, world.globex)
    world.emulator.state.update_faults(webhook_order=WebhookOrder.SHUFFLED, duplicate_webhooks=2)

    sent = [await world.send(world.globex, f"update {n}") for n in range(3)]

    for message in sent:
        webhooks = world.emulator.state.status_webhooks(message["provider_sid"])
        assert sorted(d.statuses[0] for d in webhooks) == sorted(["sent", "delivered", "read"] * 3)
        assert {d.http_status for d in webhooks} == {200}
        assert message["status"] == "read"
        timeline = [
            e for e in await world.timeline(world.globex, message["id"]) if e.status.value != "queued"
        ]
        assert sorted(e.status.value for e in timeline) == ["delivered", "read", "sent"]
        applied = [e.status.value for e in timeline if e.applied]
        assert applied[-1] == "read"
        assert [RANK[s] for s in applied] == sorted(RANK[s] for s in applied)  # only ever forward


async def test_statuses_in_reverse_end_read_and_late_ones_are_kept_as_not_applied(world: World) -> None:
    await open_the_window(world, world.acme)
    world.emulator.state.update_faults(webhook_order=WebhookOrder.REVERSED, duplicate_webhooks=1)

    sent = await world.send(world.acme, "Reversed")

    assert sent["status"] == "read"
    timeline = [e for e in await world.timeline(world.acme, sent["id"]) if e.status.value != "queued"]
    assert [(e.status.value, e.applied) for e in timeline] == [
        ("read", True),
        ("delivered", False),
        ("sent", False),
    ]


# ----------------------------------------------------------------------------- customers' messages


# A customer's message of each kind, as Meta's webhook carries it, and the kind it is stored as.
INBOUND_KINDS: dict[str, tuple[dict[str, Any], MessageKind]] = {
    "text": ({"text": {"body": "Where is my order?"}}, MessageKind.TEXT),
    "image": ({"image": {"caption": "the parcel"}}, MessageKind.MEDIA),
    "document": ({"document": {"filename": "invoice.pdf"}}, MessageKind.MEDIA),
    "audio": ({"audio": {}}, MessageKind.MEDIA),
    "location": (
        {"location": {"latitude": 38.7223, "longitude": -9.1393, "name": "Lisbon"}},
        MessageKind.LOCATION,
    ),
    "contacts": (
        {"contacts": [{"name": {"formatted_name": "Ana Silva"}, "phones": [{"phone": "+14155550123"}]}]},
        MessageKind.CONTACTS,
    ),
    "interactive": (
        {"interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}}},
        MessageKind.REPLY,
    ),
    "button": ({"button": {"payload": "STOP", "text": "Stop promotions"}}, MessageKind.REPLY),
    "reaction": (
        {"reaction": {"message_id": "wamid.HBgLMTQxNTU1NTAxMDA", "emoji": "\N{THUMBS UP SIGN}"}},
        MessageKind.REACTION,
    ),
    "unsupported": ({"type": "unsupported"}, MessageKind.UNSUPPORTED),
}


@pytest.mark.parametrize("kind", INBOUND_KINDS)
async def test_a_customers_message_of_each_kind_is_stored_once_for_its_tenant(
    world: World, kind: str
) -> None:
    fields, stored_as = INBOUND_KINDS[kind]
    first = await world.emulator.send_inbound(world.writes(world.acme, **fields))
    (wamid,) = first.message_ids
    again = await world.emulator.send_inbound(world.writes(world.acme, id=wamid, **fields))

    assert (first.http_status, again.http_status) == (200, 200), (first.response_body, again.response_body)
    assert await world.stored_rows(wamid) == [(world.acme.id, "inbound", world.acme.sender)]
    async with world.container.unit_of_work() as uow:
        stored = await uow.messages.get_by_provider_sid(wamid)
    assert stored is not None
    assert (stored.content.kind, stored.profile_name, stored.wa_id) == (
        stored_as,
        "Ana",
        CUSTOMER.removeprefix("+"),
    )


async def test_a_batch_for_two_tenants_numbers_gives_each_its_own(world: World) -> None:
    delivery = await world.emulator.send_inbound_batch(
        [
            world.writes(world.acme, text={"body": "to Acme"}),
            world.writes(world.globex, text={"body": "to Globex"}),
            world.writes(world.acme, text={"body": "to Acme again"}),
        ],
        merge=False,
    )

    assert delivery.http_status == 200, delivery.response_body
    assert delivery.response_body == ""
    acme_wamid, globex_wamid, acme_again = delivery.message_ids
    assert await world.stored_rows(acme_wamid) == [(world.acme.id, "inbound", world.acme.sender)]
    assert await world.stored_rows(acme_again) == [(world.acme.id, "inbound", world.acme.sender)]
    assert await world.stored_rows(globex_wamid) == [(world.globex.id, "inbound", world.globex.sender)]
    history = await world.http.get("/api/messages", headers=world.globex.headers)
    assert [m["body"] for m in history.json()["items"]] == ["to Globex"]


async def test_deliveries_not_signed_with_a_configured_app_secret_are_refused_and_nothing_is_stored(
    world: World,
) -> None:
    forged = await world.emulator.send_inbound(
        world.writes(world.acme, text={"body": "forged"}, sign_with="not-the-apps-secret")
    )
    body = forged.body.encode()
    unsigned = await world.http.post(
        "/webhooks/meta", content=body, headers={"Content-Type": "application/json"}
    )
    tampered = await world.http.post(
        "/webhooks/meta",
        content=body.replace(b"forged", b"tampered"),
        headers=signed(body, world.app_secret),
    )

    assert forged.http_status == 403, forged.response_body
    assert "webhook-signature-invalid" in forged.response_body
    for response in (unsigned, tampered):
        assert response.status_code == 403, response.text
    (wamid,) = forged.message_ids
    assert await world.stored_rows(wamid) == []


# ------------------------------------------------------------------------- sender quality


async def running_campaign(world: World, tenant: Tenant) -> str:
    """A campaign of the tenant's running from its Meta sender (its next slot an hour away: the runner
    leaves it alone meanwhile)."""
    async with world.container.unit_of_work() as uow:
        stored_tenant = await uow.tenants.get(tenant.id)
        assert stored_tenant is not None
        now = datetime.now(UTC)
        campaign = a_campaign(
            stored_tenant, sender=PhoneNumber.parse(tenant.sender), at=now, audience_complete=True
        ).started(now)
        campaign = replace(campaign, schedule=ScheduleState(next_slot=now + timedelta(hours=1)))
        await uow.campaigns.add(campaign)
        await uow.commit()
    return str(campaign.id)


def quality_update(tenant: Tenant, event: str, **limits: str) -> dict[str, Any]:
    """A ``phone_number_quality_update`` entry, as Meta posts it under the tenant's business account."""
    value = {"display_phone_number": tenant.business.display, "event": event, **limits}
    return {
        "id": tenant.business.waba_id,
        "time": 1767225600,
        "changes": [{"value": value, "field": "phone_number_quality_update"}],
    }


async def test_a_flagged_sender_pauses_its_running_campaign_with_the_reason_until_resumed(
    world: World,
) -> None:
    acme_campaign = await running_campaign(world, world.acme)
    globex_campaign = await running_campaign(world, world.globex)
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                quality_update(world.acme, "FLAGGED", current_limit="TIER_1K"),
                quality_update(world.globex, "UPGRADE", current_limit="TIER_10K", old_limit="TIER_1K"),
            ],
        }
    ).encode()

    posted = await world.http.post("/webhooks/meta", content=body, headers=signed(body, world.app_secret))

    assert posted.status_code == 200, posted.text
    paused = await world.http.get(f"/api/campaigns/{acme_campaign}", headers=world.acme.headers)
    assert paused.json()["status"] == "paused"
    assert paused.json()["pause_reason"].startswith("sender_quality_flagged")
    upgraded = await world.http.get(f"/api/campaigns/{globex_campaign}", headers=world.globex.headers)
    assert upgraded.json()["status"] == "running"
    # Meta delivers it again: nothing changes. A tenant admin resumes it.
    again = await world.http.post("/webhooks/meta", content=body, headers=signed(body, world.app_secret))
    assert again.status_code == 200, again.text
    resumed = await world.http.post(f"/api/campaigns/{acme_campaign}/resume", headers=world.acme.headers)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "running"
