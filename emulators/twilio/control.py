"""The emulator's own JSON API under ``/_emulator/``: inspect what it received, change how it behaves.

GET    /_emulator/health      liveness
GET    /_emulator/config      accounts (SIDs only), senders, faults, callback settings
GET    /_emulator/faults      current faults
PATCH  /_emulator/faults      change some fault settings (JSON object, merged)
PUT    /_emulator/faults      replace all fault settings (unset fields take their defaults)
DELETE /_emulator/faults      back to the start-up faults
GET    /_emulator/callbacks   how messages progress and callbacks are posted
PATCH  /_emulator/callbacks   change it (merged)
POST   /_emulator/accounts    add an account: {"account_sid", "auth_token", "senders"?, "api_keys"?}
GET    /_emulator/messages    every Twilio API request received: raw form fields, auth used, outcome
GET    /_emulator/webhooks    every webhook posted (status callbacks and inbound messages)
GET    /_emulator/media       every media file customers sent, and every request for one
GET    /_emulator/stats       counts by outcome
POST   /_emulator/inbound     post a signed inbound WhatsApp message to a URL (see InboundCommand)
POST   /_emulator/settle      wait until every pending status callback has gone out
POST   /_emulator/reset       forget everything, back to the start-up configuration

Health, faults, stats, settle and reset are every emulator's (emulators/common/control.py); the others
are defined here.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from emulators.common.control import (
    add_setting_routes,
    json_response,
    read_json,
    refused_as_control_error,
)
from emulators.twilio.config import MediaFile
from emulators.twilio.keys import STATE, WEBHOOKS
from emulators.twilio.state import Delivery, EmulatorState, ReceivedRequest

routes = web.RouteTableDef()


class InboundCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``POST /_emulator/inbound``: ``from`` is the customer, ``to`` the tenant's WhatsApp number."""

    url: str
    from_: str = msgspec.field(name="from")
    to: str
    body: str = ""
    account_sid: str | None = None
    media_urls: tuple[str, ...] = ()
    media_content_types: tuple[str, ...] = ()
    profile_name: str = ""
    extra: dict[str, str] = {}
    signed_url: str | None = None
    media: tuple[MediaFile, ...] = ()  # files served at MediaUrls of the emulator's own


class AccountCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    account_sid: str
    auth_token: str
    senders: tuple[str, ...] | None = None
    api_keys: dict[str, str] = {}  # key SID → secret


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE]


add_setting_routes(
    routes, "/_emulator/callbacks", STATE, lambda state: state.callbacks, EmulatorState.set_callbacks
)


@routes.get("/_emulator/config")
async def get_config(request: web.Request) -> web.Response:
    state = _state(request)
    return json_response(
        {
            "accounts": sorted(state.accounts),
            "api_keys": {sid: key.account_sid for sid, key in state.api_keys.items()},
            "senders": {account: sorted(numbers) for account, numbers in state.senders.items()},
            "faults": state.faults,
            "callbacks": state.callbacks,
            "max_body_length": state.config.max_body_length,
            "max_media": state.config.max_media,
        }
    )


@routes.post("/_emulator/accounts")
async def add_account(request: web.Request) -> web.Response:
    command = await read_json(request, AccountCommand)
    state = _state(request)
    state.add_account(command.account_sid, command.auth_token, command.senders)
    for key_sid, secret in command.api_keys.items():
        state.add_api_key(key_sid, command.account_sid, secret)
    return json_response({"account_sid": command.account_sid}, status=201)


def received_json(record: ReceivedRequest, state: EmulatorState) -> dict[str, object]:
    message = state.messages.get(record.message_sid) if record.message_sid else None
    return {
        "id": record.id,
        "received_at": record.received_at,
        "method": record.method,
        "path": record.path,
        "account_sid": record.account_sid,
        "auth": {"kind": record.auth.kind, "username": record.auth.username},
        "form": record.form,
        "query": record.query,
        "outcome": record.outcome,
        "http_status": record.http_status,
        "error_code": record.error_code,
        "message_sid": record.message_sid,
        "message_status": message.status if message else None,
    }


def delivery_json(delivery: Delivery) -> dict[str, object]:
    return {
        "kind": delivery.kind,
        "url": delivery.url,
        "params": delivery.params,
        "signature": delivery.signature,
        "message_sid": delivery.message_sid,
        "status": delivery.status,
        "sent_at": delivery.sent_at,
        "http_status": delivery.http_status,
        "error": delivery.error,
        "response_body": delivery.response_body,
    }


@routes.get("/_emulator/messages")
async def list_received(request: web.Request) -> web.Response:
    state = _state(request)
    outcome = request.query.get("outcome")
    records = [r for r in state.requests if outcome is None or r.outcome == outcome]
    return json_response({"messages": [received_json(r, state) for r in records]})


@routes.get("/_emulator/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    return json_response({"webhooks": [delivery_json(d) for d in _state(request).deliveries]})


@routes.get("/_emulator/media")
async def list_media(request: web.Request) -> web.Response:
    state = _state(request)
    return json_response(
        {
            "media": [
                {
                    "sid": media.sid,
                    "account_sid": media.account_sid,
                    "message_sid": media.message_sid,
                    "content_type": media.content_type,
                    "size": len(media.content),
                    "url": f"{state.base_url or ''}{media.path}",
                }
                for media in state.media.values()
            ],
            "fetches": [
                {
                    "path": fetch.path,
                    "at_cdn": fetch.at_cdn,
                    "authorization_sent": fetch.authorization_sent,
                    "auth": {"kind": fetch.auth.kind, "username": fetch.auth.username},
                    "http_status": fetch.http_status,
                    "media_sid": fetch.media_sid,
                }
                for fetch in state.media_fetches
            ],
        }
    )


@routes.post("/_emulator/inbound")
async def inbound(request: web.Request) -> web.Response:
    command = await read_json(request, InboundCommand)
    state = _state(request)
    if state.base_url is None:
        state.base_url = str(request.url.origin())
    with refused_as_control_error():
        delivery = await request.app[WEBHOOKS].send_inbound(
            url=command.url,
            from_=command.from_,
            to=command.to,
            body=command.body,
            account_sid=command.account_sid,
            media_urls=command.media_urls,
            media_content_types=command.media_content_types,
            profile_name=command.profile_name,
            extra=command.extra,
            signed_url=command.signed_url,
            media=command.media,
        )
    return json_response(delivery_json(delivery), status=201)
