"""The Meta emulator as tests set it up: one app with two business accounts, a webhook receiver standing
in for the gateway's ``/webhooks/meta``, and a small Graph API client.

The receiver checks nothing itself: it records every POST (raw body and headers) and answers with the
statuses it is told to, and it answers Meta's verification GET as a gateway should (the challenge when
the verify token matches, 403 otherwise).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

from emulators.meta import App, Business, EmulatorConfig, PhoneNumber, Template, WebhookSettings
from tests.support.http_servers import serving

API_VERSION = "v23.0"
APP_ID = "1111111111111111"
APP_SECRET = "app-secret-of-the-emulated-app"
VERIFY_TOKEN = "verify-token-of-the-emulated-app"
WABA_ID = "2222222222222222"
PHONE_NUMBER_ID = "3333333333333333"
DISPLAY_PHONE_NUMBER = "15550100001"
TOKEN = "access-token-of-acme"
EXPIRED_TOKEN = "expired-access-token-of-acme"
OTHER_WABA_ID = "4444444444444444"
OTHER_PHONE_NUMBER_ID = "5555555555555555"
OTHER_DISPLAY_PHONE_NUMBER = "15550100002"
OTHER_TOKEN = "access-token-of-globex"
CUSTOMER = "+1 415-555-0100"
CUSTOMER_WA_ID = "14155550100"
OTHER_CUSTOMER_WA_ID = "14155550123"
# A Mexican mobile: sent to as 52 + 10 digits, known to WhatsApp as 521 + 10 digits.
MEXICAN_NUMBER = "+52 55 1234 5678"
MEXICAN_WA_ID = "5215512345678"
TEMPLATES = (
    Template(name="order_update", language="en_US", category="utility", body_parameters=2),
    Template(name="spring_sale", language="en_US", category="marketing"),
)


def emulator_config(callback_url: str | None, **changes: Any) -> EmulatorConfig:
    """Acme (with templates) and Globex, both on one app whose webhooks go to ``callback_url``."""
    config = EmulatorConfig(
        apps={APP_ID: App(secret=APP_SECRET, callback_url=callback_url, verify_token=VERIFY_TOKEN)},
        businesses={
            WABA_ID: Business(
                app_id=APP_ID,
                phone_numbers={PHONE_NUMBER_ID: PhoneNumber(display_phone_number=DISPLAY_PHONE_NUMBER)},
                access_tokens=(TOKEN,),
                expired_tokens=(EXPIRED_TOKEN,),
                templates=TEMPLATES,
            ),
            OTHER_WABA_ID: Business(
                app_id=APP_ID,
                phone_numbers={
                    OTHER_PHONE_NUMBER_ID: PhoneNumber(display_phone_number=OTHER_DISPLAY_PHONE_NUMBER)
                },
                access_tokens=(OTHER_TOKEN,),
            ),
        },
        wa_ids={MEXICAN_NUMBER: MEXICAN_WA_ID},
        webhooks=WebhookSettings(step_delay_seconds=0.001, retry_delay_seconds=0.001),
        seed=11,
    )
    return msgspec.structs.replace(config, **changes)


def expected_signature(body: bytes, secret: str = APP_SECRET) -> str:
    """What ``X-Hub-Signature-256`` must say, computed here with hmac alone."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ReceivedWebhook:
    path: str
    body: bytes
    headers: Mapping[str, str]

    @property
    def payload(self) -> Any:
        return msgspec.json.decode(self.body)

    @property
    def signature(self) -> str:
        return self.headers.get("X-Hub-Signature-256", "")

    def signed_with(self, secret: str = APP_SECRET) -> bool:
        return hmac.compare_digest(self.signature, expected_signature(self.body, secret))

    def values(self) -> list[dict[str, Any]]:
        return [change["value"] for entry in self.payload["entry"] for change in entry["changes"]]

    def statuses(self) -> list[dict[str, Any]]:
        return [status for value in self.values() for status in value.get("statuses", [])]

    def messages(self) -> list[dict[str, Any]]:
        return [message for value in self.values() for message in value.get("messages", [])]


@dataclass
class WebhookReceiver:
    """An HTTP server standing in for the gateway's Meta webhook endpoint."""

    base_url: str = ""
    received: list[ReceivedWebhook] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses to answer with, in order; then 200
    verify_token: str = VERIFY_TOKEN

    def url(self, path: str = "/webhooks/meta") -> str:
        return f"{self.base_url}{path}"

    def statuses(self) -> list[str]:
        return [status["status"] for webhook in self.received for status in webhook.statuses()]

    def status_items(self) -> list[dict[str, Any]]:
        return [status for webhook in self.received for status in webhook.statuses()]

    async def _record(self, request: web.Request) -> web.Response:
        self.received.append(ReceivedWebhook(request.path, await request.read(), dict(request.headers)))
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status, text="EVENT_RECEIVED" if status < 300 else "no")

    async def _verify(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("hub.mode") == "subscribe" and query.get("hub.verify_token") == self.verify_token:
            return web.Response(text=query.get("hub.challenge", ""), content_type="text/plain")
        return web.Response(status=403, text="Forbidden")


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver._record)
    app.router.add_get("/{tail:.*}", receiver._verify)
    async with serving(app) as base_url:
        receiver.base_url = base_url
        yield receiver


@dataclass(frozen=True)
class GraphAnswer:
    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = self.body["error"]
        return error


@dataclass(frozen=True)
class GraphClient:
    """Calls the emulator as a Cloud API client would: a bearer token on every request."""

    http: aiohttp.ClientSession
    base_url: str

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        token: str | None = TOKEN,
        version: str | None = API_VERSION,
    ) -> GraphAnswer:
        url = f"{self.base_url}/{version}{path}" if version else f"{self.base_url}{path}"
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with self.http.request(method, url, json=json, data=data, headers=headers) as response:
            body = (
                await response.json()
                if response.content_type == "application/json"
                else await response.text()
            )
            return GraphAnswer(response.status, body, response.headers)

    async def send(
        self, body: Any, *, phone_number_id: str = PHONE_NUMBER_ID, token: str | None = TOKEN
    ) -> GraphAnswer:
        return await self.call("POST", f"/{phone_number_id}/messages", json=body, token=token)

    async def send_text(
        self,
        text: str = "Hello",
        *,
        to: str = CUSTOMER,
        phone_number_id: str = PHONE_NUMBER_ID,
        token: str | None = TOKEN,
        **extra: Any,
    ) -> GraphAnswer:
        """A text message; ``extra`` are more keys of the body (``context``, ``biz_opaque_callback_data``)."""
        body = {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": text}, **extra}
        return await self.send(body, phone_number_id=phone_number_id, token=token)

    async def upload(
        self,
        content: bytes,
        mime_type: str,
        *,
        filename: str = "file",
        phone_number_id: str = PHONE_NUMBER_ID,
        token: str | None = TOKEN,
        messaging_product: str | None = "whatsapp",
    ) -> GraphAnswer:
        form = aiohttp.FormData()
        if messaging_product is not None:
            form.add_field("messaging_product", messaging_product)
        form.add_field("type", mime_type)
        form.add_field("file", content, filename=filename, content_type=mime_type)
        return await self.call("POST", f"/{phone_number_id}/media", data=form, token=token)
