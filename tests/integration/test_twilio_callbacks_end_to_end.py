"""Twilio's callbacks for real: the gateway served by uvicorn on PostgreSQL, the Twilio emulator posting
signed callbacks to it over HTTP, out of order and more than once, and forgeries that must get nowhere.

Each test has Twilio accounts of its own, all using the shared sandbox number: the webhooks are routed
by AccountSid, as they would be for several tenants on Twilio's sandbox.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from dependency_injector import providers

from adapters.database.migrate import upgrade
from adapters.security.secret_box import generate_key
from adapters.twilio.errors import readable_reason
from application.administration.onboarding import CreateTenantCommand
from application.authorization import OPERATOR
from application.ports.messages import HistoryQuery, MessageView
from application.ports.rate_limits import RateLimit
from application.ports.tenant_webhooks import DeliveryQuery
from domain.administration.tenancy import ProviderName, Role, TwilioCredentials
from domain.consent.model import ConsentPolicy
from domain.messaging.content import Media, MediaKind
from domain.messaging.messages import Message, MessageStatus, StatusEvent
from domain.phone import PhoneNumber
from domain.tenant_webhooks.model import WebhookEndpoint, WebhookEventType, new_signing_secret
from emulators.twilio import (
    SIGNATURE_HEADER,
    CallbackOrder,
    CallbackSettings,
    Delivery,
    EmulatorConfig,
    ForcedError,
    RunningEmulator,
    Stage,
    running_emulator,
    sign,
)
from entrypoints.container import Container, create_container
from entrypoints.settings import load_settings
from tests.support.served_gateway import base_url_of, listening_socket, served

SANDBOX_NUMBER = "+14155238886"
CUSTOMER = "+14155550100"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
# One key for the whole session: tenants left in the session database by earlier tests share the sandbox
# number, and the webhook reads every such tenant's credentials to find the one it is for.
CREDENTIALS_KEY = generate_key()
RANK = {status: rank for rank, status in enumerate(["queued", "sending", "sent", "delivered", "read"])}

# The Twilio SDK's own async client passes aiohttp's deprecated BasicAuth; that is the SDK's business.
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated.*:DeprecationWarning:twilio")


@dataclass(frozen=True)
class Account:
    sid: str
    token: str

    @classmethod
    def new(cls) -> Account:
        return cls(sid="AC" + uuid.uuid4().hex, token=secrets.token_urlsafe(24))


@dataclass
class Tenant:
    id: UUID
    account: Account
    headers: dict[str, str]


@dataclass
class World:
    gateway_url: str
    http: httpx.AsyncClient
    emulator: RunningEmulator
    container: Container
    acme: Tenant
    globex: Tenant

    @property
    def inbound_url(self) -> str:
        return f"{self.gateway_url}/webhooks/twilio/inbound"

    async def inbound(self, tenant: Tenant, body: str = "Hello!", **options: Any) -> Delivery:
        return await self.emulator.send_inbound(
            self.inbound_url,
            from_=CUSTOMER,
            to=SANDBOX_NUMBER,
            body=body,
            account_sid=tenant.account.sid,
            **options,
        )

    async def send(self, tenant: Tenant, body: str) -> dict[str, Any]:
        """POST /api/send, then wait until Twilio has the message and has posted all its callbacks."""
        response = await self.http.post(
            "/api/send", json={"to_number": CUSTOMER, "body": body}, headers=tenant.headers
        )
        assert response.status_code in (201, 202), response.text
        message_id = response.json()["id"]
        for _ in range(500):  # the gateway may hand it to Twilio in the background
            sent = await self.message(tenant, message_id)
            if sent["provider_sid"]:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail(f"message {message_id} never reached Twilio: {sent}")
        await self.emulator.state.settle()
        return sent

    async def message(self, tenant: Tenant, message_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/messages/{message_id}", headers=tenant.headers)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def timeline(self, tenant: Tenant, message_id: str) -> list[StatusEvent]:
        async with self.container.unit_of_work() as uow:
            return await uow.messages.list_status_events(tenant.id, UUID(message_id))

    async def stored(self, provider_sid: str) -> Message | None:
        async with self.container.unit_of_work() as uow:
            return await uow.messages.get_by_provider_sid(provider_sid)

    async def history(self, tenant: Tenant) -> list[MessageView]:
        async with self.container.unit_of_work() as uow:
            return await uow.messages.list_views(HistoryQuery(tenant_id=tenant.id, limit=100))


async def provision(container: Container, name: str, account: Account, http: httpx.AsyncClient) -> Tenant:
    tenant = await container.create_tenant()(
        OPERATOR,
        CreateTenantCommand(
            name=f"{name} {uuid.uuid4().hex[:8]}",
            provider=ProviderName.TWILIO,
            twilio_credentials=TwilioCredentials(account_sid=account.sid, auth_token=account.token),
        ),
    )
    await container.add_sender()(OPERATOR, tenant.id, SANDBOX_NUMBER)
    username, password = f"user-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
    await container.create_user()(OPERATOR, tenant.id, username, password, Role.AGENT)
    login = await http.post("/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    return Tenant(tenant.id, account, {"Authorization": f"Bearer {login.json()['access_token']}"})


@pytest.fixture
async def world(postgres_url: str, tmp_path: Path) -> AsyncIterator[World]:
    upgrade(postgres_url)
    acme_account, globex_account = Account.new(), Account.new()
    config = EmulatorConfig(
        accounts={acme_account.sid: acme_account.token, globex_account.sid: globex_account.token},
        senders={acme_account.sid: (SANDBOX_NUMBER,), globex_account.sid: (SANDBOX_NUMBER,)},
        callbacks=CallbackSettings(step_delay_seconds=0.02),
        # No fixed seed: the SIDs it draws must not repeat those of earlier tests in this database.
    )
    sock = listening_socket()
    gateway_url = base_url_of(sock)
    async with running_emulator(config) as emulator:
        settings = load_settings(
            environ={
                "DATA_DIR": str(tmp_path),
                "DATABASE_URL": postgres_url,
                "DB_POOL_SIZE": "4",
                "ARGON2_TIME_COST": "1",
                "ARGON2_MEMORY_KIB": "8192",
                "ARGON2_PARALLELISM": "1",
                "TWILIO_API_BASE_URL": emulator.base_url,
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
            acme = await provision(container, "Acme", acme_account, http)
            globex = await provision(container, "Globex", globex_account, http)
            yield World(gateway_url, http, emulator, container, acme, globex)


async def open_the_window(world: World, tenant: Tenant) -> None:
    """A customer writes first: the 24-hour session window opens for free-form replies."""
    delivery = await world.inbound(tenant, "Hi, any news about my order?")
    assert delivery.http_status == 200, delivery.response_body


# ------------------------------------------------------------------------------------------ inbound


async def test_a_signed_inbound_message_is_stored_once_and_updates_the_conversation(world: World) -> None:
    media = "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0"
    delivery = await world.inbound(world.acme, "", media_urls=[media], profile_name="Ana")
    # Twilio delivers the very same webhook again (a retry after a timeout, say).
    again = await world.emulator.webhooks.post(
        kind="inbound",
        url=world.inbound_url,
        params=delivery.params,
        account_sid=world.acme.account.sid,
        message_sid=delivery.message_sid,
        status="received",
    )

    for response in (delivery, again):
        assert response.http_status == 200, response.response_body
        assert response.response_body == EMPTY_TWIML
    stored = await world.stored(delivery.message_sid)
    assert stored is not None
    assert stored.tenant_id == world.acme.id
    assert (stored.content.body, stored.content.media) == (
        "",
        (Media(kind=MediaKind.IMAGE, url=media, content_type="image/jpeg"),),
    )
    assert (stored.profile_name, stored.wa_id) == ("Ana", CUSTOMER.lstrip("+"))
    assert [m.provider_sid for m in await world.history(world.acme)] == [delivery.message_sid]
    assert await world.history(world.globex) == []
    async with world.container.unit_of_work() as uow:
        conversation = await uow.conversations.get(world.acme.id, PhoneNumber.parse(CUSTOMER))
    assert conversation is not None
    assert conversation.last_message_id == stored.id
    assert conversation.last_inbound_at == stored.created_at
    assert conversation.profile_name == "Ana"


async def test_the_shared_number_is_routed_by_account(world: World) -> None:
    for_acme = await world.inbound(world.acme, "to Acme")
    for_globex = await world.inbound(world.globex, "to Globex")

    assert (for_acme.http_status, for_globex.http_status) == (200, 200)
    assert [m.body for m in await world.history(world.acme)] == ["to Acme"]
    assert [m.body for m in await world.history(world.globex)] == ["to Globex"]


def inbound_form(account_sid: str, body: str) -> dict[str, str]:
    sid = "SM" + uuid.uuid4().hex
    return {
        "AccountSid": account_sid,
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": f"whatsapp:{CUSTOMER}",
        "MessageSid": sid,
        "NumMedia": "0",
        "ProfileName": "Mallory",
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": f"whatsapp:{SANDBOX_NUMBER}",
        "WaId": CUSTOMER.lstrip("+"),
    }


async def test_forged_and_cross_tenant_webhooks_are_refused_and_nothing_is_stored(world: World) -> None:
    # The emulator signs for another URL than the one it posts to.
    forged = await world.inbound(
        world.acme, "forged", signed_url="https://attacker.example/webhooks/twilio/inbound"
    )
    # Globex knows its own token: it signs a message claiming to be for Acme's account.
    cross_tenant = inbound_form(world.acme.account.sid, "injected into Acme")
    responses = [
        await world.http.post(
            path,
            data=cross_tenant,
            headers={
                SIGNATURE_HEADER: sign(world.globex.account.token, world.gateway_url + path, cross_tenant)
            },
        )
        for path in ("/webhooks/twilio/inbound", "/webhook/twilio")
    ]
    # A made-up signature, and none at all.
    made_up = inbound_form(world.acme.account.sid, "made up")
    responses.append(
        await world.http.post(
            "/webhooks/twilio/inbound", data=made_up, headers={SIGNATURE_HEADER: "bm90IGEgc2lnbmF0dXJl"}
        )
    )
    responses.append(await world.http.post("/webhooks/twilio/inbound", data=made_up))
    # A status callback signed with a guessed token.
    status_form = {
        "AccountSid": world.acme.account.sid,
        "From": f"whatsapp:{SANDBOX_NUMBER}",
        "To": f"whatsapp:{CUSTOMER}",
        "MessageSid": "SM" + "0" * 32,
        "MessageStatus": "read",
    }
    status_url = f"{world.gateway_url}/webhooks/twilio/status"
    responses.append(
        await world.http.post(
            "/webhooks/twilio/status",
            data=status_form,
            headers={SIGNATURE_HEADER: sign("a-guessed-token", status_url, status_form)},
        )
    )

    assert forged.http_status == 403, forged.response_body
    assert "webhook-signature-invalid" in forged.response_body
    for response in responses:
        assert response.status_code == 403, response.text
        assert response.json()["type"].endswith("/webhook-signature-invalid")
    assert await world.history(world.acme) == []
    assert await world.history(world.globex) == []
    async with world.container.unit_of_work() as uow:
        assert await uow.conversations.get(world.acme.id, PhoneNumber.parse(CUSTOMER)) is None
        assert await uow.conversations.get(world.globex.id, PhoneNumber.parse(CUSTOMER)) is None


async def test_of_concurrent_forgeries_from_one_address_at_most_the_limit_are_looked_up(world: World) -> None:
    world.container.twilio_signature_failure_limit.override(providers.Object(RateLimit(10, 60)))
    form = {
        "AccountSid": world.acme.account.sid,
        "From": f"whatsapp:{SANDBOX_NUMBER}",
        "To": f"whatsapp:{CUSTOMER}",
        "MessageSid": "SM" + "0" * 32,
        "MessageStatus": "read",
    }
    # Of Twilio's form, for a real number and account: each one let through costs a lookup and an HMAC.
    forged = {SIGNATURE_HEADER: sign("a-guessed-token", f"{world.gateway_url}/webhooks/twilio/status", form)}

    responses = await asyncio.gather(
        *(world.http.post("/webhooks/twilio/status", data=form, headers=forged) for _ in range(30))
    )

    assert Counter(r.status_code for r in responses) == {403: 10, 429: 20}


async def test_a_tenant_with_a_stale_token_on_the_shared_number_holds_back_no_other_tenant(
    world: World,
) -> None:
    # Acme's auth token was rotated at Twilio, not here: everything Twilio posts for it fails. Twilio
    # posts Globex's webhooks, on the same sandbox number, from the same address.
    def stale(n: int) -> dict[str, str]:
        return {
            "AccountSid": world.acme.account.sid,
            "From": f"whatsapp:{CUSTOMER}",
            "To": f"whatsapp:{SANDBOX_NUMBER}",
            "MessageSid": f"SM{n:032x}",
            "Body": "lost?",
        }

    stale_posts = await asyncio.gather(
        *(
            world.http.post(
                "/webhooks/twilio/inbound",
                data=stale(n),
                headers={SIGNATURE_HEADER: sign("rotated-at-twilio", world.inbound_url, stale(n))},
            )
            for n in range(100)
        )
    )
    for_globex = [await world.inbound(world.globex, f"to Globex {n}") for n in range(20)]

    assert Counter(r.status_code for r in stale_posts) == {403: 30, 429: 70}
    assert [delivery.http_status for delivery in for_globex] == [200] * 20
    assert len(await world.history(world.globex)) == 20
    assert await world.history(world.acme) == []


# ---------------------------------------------------------------------------------- status callbacks


async def test_reversed_and_repeated_callbacks_end_read_with_each_report_once_in_the_timeline(
    world: World,
) -> None:
    await open_the_window(world, world.acme)
    world.emulator.state.update_faults(callback_order=CallbackOrder.REVERSED, duplicate_callbacks=1)

    sent = await world.send(world.acme, "Your order has shipped")

    callbacks = world.emulator.state.status_callbacks(sent["provider_sid"])
    assert [c.status for c in callbacks] == [
        "read",
        "read",
        "delivered",
        "delivered",
        "sent",
        "sent",
        "queued",
        "queued",
    ]
    assert {c.http_status for c in callbacks} == {204}
    assert (await world.message(world.acme, sent["id"]))["status"] == "read"
    timeline = await world.timeline(world.acme, sent["id"])
    # Every distinct report, late ones as not applied; each repeat is the report it repeats.
    assert [(e.status.value, e.applied) for e in timeline] == [
        ("read", True),
        ("delivered", False),
        ("sent", False),
        ("queued", False),
    ]


async def test_shuffled_and_repeated_callbacks_end_delivered_with_each_report_once_in_the_timeline(
    world: World,
) -> None:
    await open_the_window(world, world.globex)
    world.emulator.state.update_callbacks(statuses=("queued", "sent", "delivered"))
    world.emulator.state.update_faults(callback_order=CallbackOrder.SHUFFLED, duplicate_callbacks=2)

    sent = [await world.send(world.globex, f"update {n}") for n in range(3)]

    for message in sent:
        callbacks = world.emulator.state.status_callbacks(message["provider_sid"])
        assert sorted(c.status for c in callbacks) == sorted(["queued", "sent", "delivered"] * 3)
        assert {c.http_status for c in callbacks} == {204}
        assert (await world.message(world.globex, message["id"]))["status"] == "delivered"
        timeline = await world.timeline(world.globex, message["id"])
        assert [e.status.value for e in timeline] == list(dict.fromkeys(c.status for c in callbacks))
        applied = [e.status.value for e in timeline if e.applied]
        assert applied[-1] == "delivered"
        assert [RANK[s] for s in applied] == sorted({RANK[s] for s in applied})  # only ever forward


async def test_a_failure_reported_out_of_order_keeps_its_error_and_reason(world: World) -> None:
    await open_the_window(world, world.acme)
    world.emulator.state.update_faults(
        to_errors={CUSTOMER: ForcedError(code=30008, stage=Stage.DELIVERY)},
        callback_order=CallbackOrder.REVERSED,
        duplicate_callbacks=1,
    )

    sent = await world.send(world.acme, "This one will not arrive")

    message = await world.message(world.acme, sent["id"])
    assert (message["status"], message["error_code"]) == ("undelivered", 30008)
    assert message["error_message"] == readable_reason(30008, None)
    assert (message["failure"]["code"], message["failure"]["provider"]) == ("provider-error", "twilio")
    timeline = await world.timeline(world.acme, sent["id"])
    assert [(e.status, e.applied, e.error_code) for e in timeline] == [
        (MessageStatus.UNDELIVERED, True, 30008),
        (MessageStatus.QUEUED, False, None),
    ]


async def test_a_message_twilio_reports_outside_the_window_fails_as_session_window_closed(
    world: World,
) -> None:
    await open_the_window(world, world.acme)
    world.emulator.state.update_faults(to_errors={CUSTOMER: ForcedError(code=63016)})

    sent = await world.send(world.acme, "Are you still there?")

    message = await world.message(world.acme, sent["id"])
    assert message["status"] in ("failed", "undelivered")
    failure = message["failure"]
    assert {key: failure[key] for key in ("code", "provider", "provider_code", "retryable")} == {
        "code": "session-window-closed",
        "provider": "twilio",
        "provider_code": 63016,
        "retryable": False,
    }
    assert failure["reason"] == message["error_message"] == readable_reason(63016, None)
    assert failure["advice"]
    filtered = await world.http.get(
        "/api/messages?failure_code=session-window-closed", headers=world.acme.headers
    )
    assert [item["id"] for item in filtered.json()["items"]] == [sent["id"]]


async def test_callbacks_that_overtake_the_sends_own_answer_are_not_undone_by_it(world: World) -> None:
    # No delay: Twilio's callbacks race the answer to the create request itself.
    await open_the_window(world, world.acme)
    world.emulator.state.update_callbacks(step_delay_seconds=0.0)
    world.emulator.state.update_faults(duplicate_callbacks=1)

    sent = [await world.send(world.acme, f"race {n}") for n in range(5)]

    for message in sent:
        assert (await world.message(world.acme, message["id"]))["status"] == "read"
        timeline = await world.timeline(world.acme, message["id"])
        assert sorted(e.status.value for e in timeline) == sorted(["queued", "sent", "delivered", "read"])
        assert [e.status.value for e in timeline if e.applied][-1] == "read"


# ------------------------------------------------------------------------------------------ consent


async def subscribe_to_consent(world: World, tenant: Tenant) -> UUID:
    endpoint = WebhookEndpoint.new(
        tenant_id=tenant.id,
        url="https://crm.example.com/hooks/consent",
        events=[WebhookEventType.CONSENT_CHANGED],
        now=datetime.now(UTC),
    )
    async with world.container.unit_of_work() as uow:
        assert await uow.webhook_endpoints.add(endpoint, new_signing_secret(), at_most=10)
        await uow.commit()
    return endpoint.id


async def consent_events(world: World, tenant: Tenant, endpoint_id: UUID) -> list[dict[str, Any]]:
    async with world.container.unit_of_work() as uow:
        deliveries = await uow.webhook_deliveries.list_page(
            DeliveryQuery(tenant_id=tenant.id, endpoint_id=endpoint_id, limit=50)
        )
    return [json.loads(delivery.payload)["data"] for delivery in reversed(deliveries)]


async def consent_of(world: World, tenant: Tenant) -> dict[str, Any]:
    response = await world.http.get(f"/api/consent/{CUSTOMER}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("stop", "start"), [("STOP", "Start"), ("Baja.", "ALTA"), ("sair", "Voltar!")], ids=["en", "es", "pt"]
)
async def test_a_customer_opts_out_and_back_in_by_keyword_through_twilio(
    world: World, stop: str, start: str
) -> None:
    endpoint_id = await subscribe_to_consent(world, world.acme)

    stopped = await world.inbound(world.acme, stop)
    after_stop = await consent_of(world, world.acme)
    refused = await world.http.post(
        "/api/send", json={"to_number": CUSTOMER, "body": "Spring sale!"}, headers=world.acme.headers
    )
    started = await world.inbound(world.acme, start)
    after_start = await consent_of(world, world.acme)

    assert (stopped.http_status, started.http_status) == (200, 200)
    evidence = await world.stored(stopped.message_sid)
    assert evidence is not None
    assert (after_stop["state"], after_stop["source"]) == ("opted_out", "keyword")
    assert after_stop["recent_changes"][0]["evidence_message_id"] == str(evidence.id)
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith("/recipient-opted-out")
    assert after_start["state"] == "opted_in"
    assert [
        (event["state"], event["source"]) for event in await consent_events(world, world.acme, endpoint_id)
    ] == [
        ("opted_out", "keyword"),
        ("opted_in", "keyword"),
    ]
    assert (await consent_of(world, world.globex))["state"] is None  # the same person, another tenant


async def test_the_tenants_confirmation_reply_reaches_twilio_after_a_stop(world: World) -> None:
    reply = "You will hear no more from us. Write START to come back."
    async with world.container.unit_of_work() as uow:
        await uow.consent.save_policy(
            ConsentPolicy(tenant_id=world.acme.id, opt_out_reply=reply, updated_at=datetime.now(UTC))
        )
        await uow.commit()

    delivery = await world.inbound(world.acme, "Parar")

    assert delivery.http_status == 200, delivery.response_body
    for _ in range(500):  # the dispatcher hands the queued reply to Twilio in the background
        replies = [m for m in await world.history(world.acme) if m.body == reply]
        if replies and replies[0].provider_sid:
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail(f"the confirmation reply never reached Twilio: {replies}")
    assert replies[0].to_number == CUSTOMER
    assert (await consent_of(world, world.acme))["state"] == "opted_out"
