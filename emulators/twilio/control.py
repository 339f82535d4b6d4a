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
GET    /_emulator/messages    every Twilio API request received: raw form fields (a Content API
                              request's JSON body), auth used, outcome
GET    /_emulator/content     every Content resource, with its WhatsApp approval
POST   /_emulator/content     make one as in Twilio's console: {"account_sid", "friendly_name",
                              "language", "variables"?, "types", "approval"?: {"name", "category",
                              "status"?, "rejection_reason"?}}
POST   /_emulator/content/{sid}/status   set its approval's status: {"status", "rejection_reason"?}
GET    /_emulator/content_review   how WhatsApp reviews what is submitted (ContentReview)
PATCH  /_emulator/content_review   change it (merged)
POST   /_emulator/clock       {"advance_seconds"}: move the emulator's clock forward (approvals come due)
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

from typing import Any

import msgspec
from aiohttp import web

from emulators.common.control import (
    ControlError,
    add_setting_routes,
    json_response,
    read_json,
    refused_as_control_error,
)
from emulators.twilio import content as content_api
from emulators.twilio.api import TwilioError
from emulators.twilio.config import MediaFile
from emulators.twilio.keys import STATE, WEBHOOKS
from emulators.twilio.state import ContentRecord, Delivery, EmulatorState, ReceivedRequest

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


class ApprovalCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    category: str
    status: str | None = None  # None: as WhatsApp's review decides (ContentReview)
    rejection_reason: str = ""


class ConsoleContentCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``POST /_emulator/content``: a Content resource made in Twilio's console, so that a list finds
    it; without ``approval`` it was never submitted for WhatsApp's approval."""

    account_sid: str
    friendly_name: str
    language: str
    types: dict[str, Any]
    variables: dict[str, str] = {}
    approval: ApprovalCommand | None = None


class StatusCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    status: str
    rejection_reason: str = ""


class ClockCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    advance_seconds: float


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE]


add_setting_routes(
    routes, "/_emulator/callbacks", STATE, lambda state: state.callbacks, EmulatorState.set_callbacks
)
add_setting_routes(
    routes,
    "/_emulator/content_review",
    STATE,
    lambda state: state.content_review,
    EmulatorState.set_content_review,
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


@routes.post("/_emulator/clock")
async def advance_clock(request: web.Request) -> web.Response:
    command = await read_json(request, ClockCommand)
    if command.advance_seconds < 0:
        raise ControlError("advance_seconds: the clock only moves forward")
    return json_response({"now": _state(request).advance_clock(command.advance_seconds)})


def content_json(content: ContentRecord, state: EmulatorState, origin: str) -> dict[str, object]:
    return {
        **content_api.content_resource(content, origin),
        "approval_requests": content_api.approval_resource(content, state.now()),
    }


@routes.get("/_emulator/content")
async def list_content(request: web.Request) -> web.Response:
    state, origin = _state(request), str(request.url.origin())
    return json_response({"contents": [content_json(c, state, origin) for c in state.contents.values()]})


@routes.post("/_emulator/content")
async def add_console_content(request: web.Request) -> web.Response:
    command = await read_json(request, ConsoleContentCommand)
    state = _state(request)
    if command.account_sid not in state.accounts:
        raise ControlError(f"account_sid: no account {command.account_sid}")
    body = msgspec.to_builtins(command)
    try:
        friendly_name, language, variables, types = content_api.checked_content(body)
    except TwilioError as error:
        raise ControlError(error.message) from error
    now = state.now()
    content = ContentRecord(
        sid=state.new_sid("HX"),
        account_sid=command.account_sid,
        friendly_name=friendly_name,
        language=language,
        variables=variables,
        types=types,
        date_created=now,
        date_updated=now,
    )
    approval = command.approval
    with refused_as_control_error():
        if approval is not None:
            content_api.checked_approval({"name": approval.name, "category": approval.category}, content)
        state.add_content(content)
        if approval is not None:
            state.submit_for_approval(content, approval.name, approval.category)
            if approval.status is not None:
                state.set_approval_status(content.sid, approval.status, approval.rejection_reason)
    return json_response(content_json(content, state, str(request.url.origin())), status=201)


@routes.post("/_emulator/content/{sid}/status")
async def set_content_status(request: web.Request) -> web.Response:
    command = await read_json(request, StatusCommand)
    state = _state(request)
    with refused_as_control_error():
        state.set_approval_status(request.match_info["sid"], command.status, command.rejection_reason)
    content = state.contents[request.match_info["sid"]]
    return json_response(content_json(content, state, str(request.url.origin())))


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
        "json": record.json,
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
