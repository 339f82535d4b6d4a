"""Two providers for real, for end-to-end tests: a tenant with a Twilio number and a Meta number side by
side, the gateway served by uvicorn on PostgreSQL, the Twilio emulator and the Meta emulator over HTTP,
each posting its signed webhooks to the gateway (``two_provider_world``)."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import msgspec
import pytest

from adapters.database.migrate import upgrade
from adapters.security.secret_box import generate_key
from application.administration.onboarding import CreateTenantCommand
from application.authorization import OPERATOR
from domain.administration.tenancy import ProviderName, Role
from emulators import meta, twilio
from entrypoints.container import Container, create_container
from entrypoints.settings import load_settings
from tests.support.served_gateway import base_url_of, listening_socket, served

CUSTOMER = "+14155550183"
TWILIO_NUMBER = "+14155550181"
META_NUMBER = "+14155550182"
# One key for the whole session: each Meta webhook reads every Meta account's app secret, and those of
# other tests stay in the session database (the ones sealed under another key are skipped).
CREDENTIALS_KEY = generate_key()


def meta_id() -> str:
    """A fresh id of Meta's form (digits): phone-number ids are unique across the database."""
    return str(uuid.uuid4().int)[:16]


def digits(number: str) -> str:
    return number.removeprefix("+")


@dataclass(frozen=True)
class MetaBusiness:
    app_id: str
    app_secret: str
    verify_token: str
    waba_id: str
    token: str
    phone_number_id: str  # META_NUMBER's
    moved_number_id: str  # TWILIO_NUMBER's, once it moves to Meta

    def config(self, gateway_url: str) -> meta.EmulatorConfig:
        return meta.EmulatorConfig(
            apps={
                self.app_id: meta.App(
                    secret=self.app_secret,
                    callback_url=f"{gateway_url}/webhooks/meta",
                    verify_token=self.verify_token,
                )
            },
            businesses={self.waba_id: self.business(META_NUMBER)},
            webhooks=meta.WebhookSettings(step_delay_seconds=0.02),
        )

    def business(self, *numbers: str) -> meta.Business:
        ids = {META_NUMBER: self.phone_number_id, TWILIO_NUMBER: self.moved_number_id}
        return meta.Business(
            app_id=self.app_id,
            phone_numbers={
                ids[number]: meta.PhoneNumber(display_phone_number=digits(number)) for number in numbers
            },
            access_tokens=(self.token,),
        )


@dataclass
class World:
    container: Container
    http: httpx.AsyncClient
    gateway_url: str
    twilio: twilio.RunningEmulator
    meta: meta.RunningEmulator
    twilio_sid: str
    business: MetaBusiness
    headers: dict[str, str]
    senders: dict[str, dict[str, Any]]  # by number, as POST /api/senders answered
    meta_account_id: str
    tenant_id: UUID
    admin_username: str  # the tenant's admin, logged in for ``headers``
    admin_password: str

    async def api(self, method: str, path: str, json: Any = None, expect: int = 200) -> Any:
        response = await self.http.request(method, path, json=json, headers=self.headers)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    async def customer_writes_to_twilio_number(self, body: str) -> None:
        delivery = await self.twilio.send_inbound(
            f"{self.gateway_url}/webhooks/twilio/inbound",
            from_=CUSTOMER,
            to=TWILIO_NUMBER,
            body=body,
            account_sid=self.twilio_sid,
            profile_name="Ana",
        )
        assert delivery.http_status == 200, delivery.response_body

    async def customer_writes_to_meta(self, phone_number_id: str, body: str) -> None:
        delivery = await self.meta.send_inbound(
            meta.InboundMessage(
                from_=CUSTOMER, phone_number_id=phone_number_id, profile_name="Ana", text={"body": body}
            )
        )
        assert delivery.http_status == 200, delivery.response_body

    async def reply(self, from_number: str, body: str) -> dict[str, Any]:
        """A free-form reply to the customer from ``from_number``, once its provider has it and every
        status of it has come back."""
        response = await self.http.post(
            "/api/send",
            json={"to_number": CUSTOMER, "from_number": from_number, "body": body},
            headers=self.headers,
        )
        assert response.status_code in (201, 202), response.text
        path = f"/api/messages/{response.json()['id']}"
        for _ in range(500):  # the gateway may hand it over in the background
            if (await self.api("GET", path))["provider_sid"]:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail(f"{body!r} never reached a provider")
        await self.twilio.state.settle()
        await self.meta.state.settle()
        found: dict[str, Any] = await self.api("GET", path)
        return found

    async def meta_serves(self, *numbers: str) -> None:
        """Configure the tenant's WhatsApp Business Account at Meta with ``numbers``, over the emulator's
        control API."""
        business = msgspec.to_builtins(self.business.business(*numbers))
        response = await self.http.post(
            f"{self.meta.base_url}/_emulator/businesses", json={"waba_id": self.business.waba_id, **business}
        )
        assert response.status_code == 201, response.text

    async def conversation(self) -> dict[str, Any]:
        page = await self.api("GET", "/api/conversations")
        conversations: list[dict[str, Any]] = [c for c in page["items"] if c["contact"] == CUSTOMER]
        assert len(conversations) == 1, conversations
        return conversations[0]

    async def history(self) -> list[dict[str, Any]]:
        page = await self.api("GET", f"/api/conversations/{CUSTOMER}/messages")
        items: list[dict[str, Any]] = page["items"]
        return items


def at_twilio(world: World, body: str) -> list[twilio.MessageRecord]:
    return [m for m in world.twilio.state.messages.values() if m.direction != "inbound" and m.body == body]


def at_meta(world: World, body: str) -> list[meta.MessageRecord]:
    return [m for m in world.meta.state.messages.values() if m.request.get("text", {}).get("body") == body]


def statuses(message: dict[str, Any]) -> list[str]:
    return [event["status"] for event in message["timeline"]]


@asynccontextmanager
async def two_provider_world(
    postgres_url: str,
    tmp_path: Path,
    *,
    content_review: twilio.ContentReview | None = None,
    template_review: meta.TemplateReview | None = None,
    environment: dict[str, str] | None = None,
) -> AsyncIterator[World]:
    """The world, its tenant's admin logged in, both accounts connected and a sender on each. Templates
    are reviewed as the emulators' defaults say, unless given; ``environment`` adds to the gateway's."""
    upgrade(postgres_url)
    twilio_sid, twilio_token = "AC" + uuid.uuid4().hex, secrets.token_urlsafe(24)
    business = MetaBusiness(
        app_id=meta_id(),
        app_secret=secrets.token_urlsafe(24),
        verify_token=secrets.token_urlsafe(12),
        waba_id=meta_id(),
        token=secrets.token_urlsafe(24),
        phone_number_id=meta_id(),
        moved_number_id=meta_id(),
    )
    sock = listening_socket()
    gateway_url = base_url_of(sock)
    twilio_config = twilio.EmulatorConfig(
        accounts={twilio_sid: twilio_token},
        senders={twilio_sid: (TWILIO_NUMBER,)},
        callbacks=twilio.CallbackSettings(step_delay_seconds=0.02),
    )
    if content_review is not None:
        twilio_config = msgspec.structs.replace(twilio_config, content_review=content_review)
    meta_config = business.config(gateway_url)
    if template_review is not None:
        meta_config = msgspec.structs.replace(meta_config, template_review=template_review)
    async with (
        twilio.running_emulator(twilio_config) as twilio_emulator,
        meta.running_emulator(meta_config) as meta_emulator,
    ):
        settings = load_settings(
            environ={
                "DATA_DIR": str(tmp_path),
                "DATABASE_URL": postgres_url,
                "DB_POOL_SIZE": "4",
                "ARGON2_TIME_COST": "1",
                "ARGON2_MEMORY_KIB": "8192",
                "ARGON2_PARALLELISM": "1",
                "TWILIO_API_BASE_URL": twilio_emulator.base_url,
                "META_GRAPH_API_BASE_URL": meta_emulator.base_url,
                "PUBLIC_BASE_URL": gateway_url,
                "PROVIDER_TIMEOUT_SECONDS": "5",
                "CREDENTIALS_KEYS": CREDENTIALS_KEY,
                **(environment or {}),
            },
            env_file=None,
        )
        container = create_container(settings)
        async with (
            served(container, sock),
            httpx.AsyncClient(base_url=gateway_url, trust_env=False, timeout=10) as http,
        ):
            # A tenant (its own provider: the sandbox) and its admin, who connects both accounts.
            tenant = await container.create_tenant()(
                OPERATOR,
                CreateTenantCommand(
                    name=f"Two providers {uuid.uuid4().hex[:8]}", provider=ProviderName.SANDBOX
                ),
            )
            username, password = f"admin-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
            await container.create_user()(OPERATOR, tenant.id, username, password, Role.TENANT_ADMIN)
            login = await http.post("/auth/login", json={"username": username, "password": password})
            assert login.status_code == 200, login.text
            world = World(
                container=container,
                http=http,
                gateway_url=gateway_url,
                twilio=twilio_emulator,
                meta=meta_emulator,
                twilio_sid=twilio_sid,
                business=business,
                headers={"Authorization": f"Bearer {login.json()['access_token']}"},
                senders={},
                meta_account_id="",
                tenant_id=tenant.id,
                admin_username=username,
                admin_password=password,
            )
            twilio_account = await world.api(
                "POST",
                "/api/provider-accounts",
                {
                    "provider": "twilio",
                    "label": "Twilio",
                    "twilio": {"account_sid": twilio_sid, "auth_token": twilio_token},
                },
                expect=201,
            )
            meta_account = await world.api(
                "POST",
                "/api/provider-accounts",
                {
                    "provider": "meta",
                    "label": "Meta",
                    "meta": {
                        "business_account_id": business.waba_id,
                        "access_token": business.token,
                        "app_secret": business.app_secret,
                        "verify_token": business.verify_token,
                    },
                },
                expect=201,
            )
            world.meta_account_id = meta_account["id"]
            world.senders[TWILIO_NUMBER] = await world.api(
                "POST",
                "/api/senders",
                {"phone_number": TWILIO_NUMBER, "account_id": twilio_account["id"]},
                expect=201,
            )
            world.senders[META_NUMBER] = await world.api(
                "POST",
                "/api/senders",
                {
                    "phone_number": META_NUMBER,
                    "account_id": meta_account["id"],
                    "provider_number_id": business.phone_number_id,
                },
                expect=201,
            )
            yield world
