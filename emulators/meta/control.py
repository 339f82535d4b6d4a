"""The emulator's own JSON API under ``/_emulator/``: inspect what it received, change how it behaves,
make customers write, and run the webhook verification handshake.

GET    /_emulator/health            liveness
GET    /_emulator/config            apps and businesses (no secrets, no tokens), every setting
GET    /_emulator/faults            current faults
PATCH  /_emulator/faults            change some fault settings (JSON object, merged)
PUT    /_emulator/faults            replace all fault settings (unset fields take their defaults)
DELETE /_emulator/faults            back to the start-up faults
GET    /_emulator/callbacks         how messages progress and webhooks are posted (WebhookSettings)
PATCH  /_emulator/callbacks         change it (merged)
GET    /_emulator/session_window    the customer-service window rule (SessionWindow)
PATCH  /_emulator/session_window    change it (merged)
POST   /_emulator/customer_windows  say when a customer last wrote: {"phone_number_id"?, "wa_id",
                                    "last_message_at": unix seconds | null} or {..., "hours_ago"}
POST   /_emulator/clock             {"advance_seconds"}: move the emulator's clock forward
POST   /_emulator/apps              add or replace an app: {"app_id", "secret", "callback_url"?,
                                    "verify_token"?}
POST   /_emulator/businesses        add or replace a business: {"waba_id", "app_id", "phone_numbers", ...}
POST   /_emulator/tokens/expire     {"token"}: the token answers error 190 from now on
GET    /_emulator/requests          every Graph API request received: body, auth used, outcome
GET    /_emulator/messages          every message sent: its request body, status, history
GET    /_emulator/inbound           every message customers sent (through this API)
GET    /_emulator/media             every medium (uploaded, or sent by a customer)
GET    /_emulator/reads             every mark-as-read
GET    /_emulator/webhooks          every webhook posted (each attempt), with the receiver's answer
GET    /_emulator/stats             counts by outcome
POST   /_emulator/inbound           a customer writes: post a signed webhook (see InboundMessage)
POST   /_emulator/inbound/batch     several customers' messages in one webhook: {"messages": [...], "merge"?}
POST   /_emulator/statuses          post a status webhook now: {"message_id", "status", "error"?}
POST   /_emulator/verify            Meta's GET handshake on a callback URL: {"app_id"?, "url"?,
                                    "verify_token"?, "challenge"?}; what came back
POST   /_emulator/settle            wait until every pending status and webhook has gone out
POST   /_emulator/reset             forget everything, back to the start-up configuration
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from emulators.meta.callbacks import Verification
from emulators.meta.config import App, Business, Faults, ForcedError, SessionWindow, WebhookSettings
from emulators.meta.inbound import InboundMessage
from emulators.meta.keys import STATE, WEBHOOKS
from emulators.meta.state import (
    Delivery,
    EmulatorState,
    InboundRecord,
    MediaRecord,
    MessageRecord,
    ReceivedRequest,
)

T = TypeVar("T")

routes = web.RouteTableDef()


class InboundBatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    messages: tuple[InboundMessage, ...]
    merge: bool | None = None


class StatusCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    message_id: str
    status: str
    error: ForcedError | None = None


class VerifyCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    app_id: str | None = None
    url: str | None = None
    verify_token: str | None = None
    challenge: str | None = None


class CustomerWindowCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    wa_id: str
    phone_number_id: str | None = None
    last_message_at: float | None = None
    hours_ago: float | None = None


class ClockCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    advance_seconds: float = msgspec.field(default=0.0)


class AppCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    app_id: str
    secret: str
    callback_url: str | None = None
    verify_token: str = ""


class BusinessCommand(Business, frozen=True, kw_only=True, forbid_unknown_fields=True):
    waba_id: str


class TokenCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    token: str


class ControlError(Exception):
    pass


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(data), status=status, content_type="application/json")


async def _read(request: web.Request, kind: type[T]) -> T:
    try:
        return msgspec.json.decode(await request.read() or b"{}", type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise ControlError(str(error)) from error


async def _read_object(request: web.Request) -> dict[str, Any]:
    return await _read(request, dict[str, Any])


@web.middleware
async def control_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except ControlError as error:
        return _json({"error": str(error)}, status=400)
    return response


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE]


def _merge(current: msgspec.Struct, changes: dict[str, Any], kind: type[T]) -> T:
    try:
        return msgspec.convert(msgspec.to_builtins(current) | changes, kind)
    except (msgspec.ValidationError, ValueError) as error:
        raise ControlError(str(error)) from error


def _apply(action: Any, *args: Any) -> Any:
    """Run a state change; its LookupError / ValueError is the caller's mistake (a 400)."""
    try:
        return action(*args)
    except (LookupError, ValueError) as error:
        raise ControlError(str(error)) from error


@routes.get("/_emulator/health")
async def health(_: web.Request) -> web.Response:
    return _json({"ok": True})


@routes.get("/_emulator/config")
async def get_config(request: web.Request) -> web.Response:
    state = _state(request)
    return _json(
        {
            "apps": {
                app_id: {"callback_url": app.callback_url, "verify_token_set": bool(app.verify_token)}
                for app_id, app in state.apps.items()
            },
            "businesses": {
                waba_id: {
                    "app_id": business.app_id,
                    "phone_numbers": business.phone_numbers,
                    "access_tokens": len(business.access_tokens),
                    "expired_tokens": len(business.expired_tokens),
                    "callback_url": business.callback_url,
                    "templates": business.templates,
                }
                for waba_id, business in state.businesses.items()
            },
            "wa_ids": state.wa_ids,
            "faults": state.faults,
            "callbacks": state.webhooks,
            "session_window": state.session_window,
            "media_url_ttl_seconds": state.config.media_url_ttl_seconds,
            "max_media_bytes": state.config.max_media_bytes,
            "now": state.now(),
        }
    )


@routes.get("/_emulator/faults")
async def get_faults(request: web.Request) -> web.Response:
    return _json(_state(request).faults)


@routes.patch("/_emulator/faults")
async def patch_faults(request: web.Request) -> web.Response:
    state = _state(request)
    state.set_faults(_merge(state.faults, await _read_object(request), Faults))
    return _json(state.faults)


@routes.put("/_emulator/faults")
async def put_faults(request: web.Request) -> web.Response:
    state = _state(request)
    state.set_faults(await _read(request, Faults))
    return _json(state.faults)


@routes.delete("/_emulator/faults")
async def delete_faults(request: web.Request) -> web.Response:
    state = _state(request)
    state.set_faults(state.config.faults)
    return _json(state.faults)


@routes.get("/_emulator/callbacks")
async def get_callbacks(request: web.Request) -> web.Response:
    return _json(_state(request).webhooks)


@routes.patch("/_emulator/callbacks")
async def patch_callbacks(request: web.Request) -> web.Response:
    state = _state(request)
    state.set_webhooks(_merge(state.webhooks, await _read_object(request), WebhookSettings))
    return _json(state.webhooks)


@routes.get("/_emulator/session_window")
async def get_session_window(request: web.Request) -> web.Response:
    return _json(_state(request).session_window)


@routes.patch("/_emulator/session_window")
async def patch_session_window(request: web.Request) -> web.Response:
    state = _state(request)
    state.set_session_window(_merge(state.session_window, await _read_object(request), SessionWindow))
    return _json(state.session_window)


@routes.post("/_emulator/customer_windows")
async def set_customer_window(request: web.Request) -> web.Response:
    command = await _read(request, CustomerWindowCommand)
    state = _state(request)
    phone_number_id = command.phone_number_id
    if phone_number_id is None:
        lines = state.lines
        if len(lines) != 1:
            raise ControlError("name the phone_number_id: the emulator has more than one (or none)")
        phone_number_id = lines[0].phone_number_id
    at = command.last_message_at
    if command.hours_ago is not None:
        at = state.now() - command.hours_ago * 3600
    wa_id = state.wa_id_of(command.wa_id)
    state.set_customer_window(phone_number_id, wa_id, at)
    return _json(
        {
            "phone_number_id": phone_number_id,
            "wa_id": wa_id,
            "last_message_at": at,
            "open": state.window_open(phone_number_id, wa_id),
        }
    )


@routes.post("/_emulator/clock")
async def advance_clock(request: web.Request) -> web.Response:
    command = await _read(request, ClockCommand)
    if command.advance_seconds < 0:
        raise ControlError("advance_seconds: the clock only moves forward")
    return _json({"now": _state(request).advance_clock(command.advance_seconds)})


@routes.post("/_emulator/apps")
async def add_app(request: web.Request) -> web.Response:
    command = await _read(request, AppCommand)
    app = App(secret=command.secret, callback_url=command.callback_url, verify_token=command.verify_token)
    _apply(_state(request).add_app, command.app_id, app)
    return _json({"app_id": command.app_id}, status=201)


@routes.post("/_emulator/businesses")
async def add_business(request: web.Request) -> web.Response:
    command = await _read(request, BusinessCommand)
    fields = {name: getattr(command, name) for name in Business.__struct_fields__}
    _apply(_state(request).add_business, command.waba_id, Business(**fields))
    return _json({"waba_id": command.waba_id}, status=201)


@routes.post("/_emulator/tokens/expire")
async def expire_token(request: web.Request) -> web.Response:
    command = await _read(request, TokenCommand)
    if not _state(request).expire_token(command.token):
        raise ControlError("no business has that (live) token")
    return _json({"expired": True})


def received_json(record: ReceivedRequest) -> dict[str, object]:
    return {
        "id": record.id,
        "received_at": record.received_at,
        "method": record.method,
        "path": record.path,
        "version": record.version,
        "object_id": record.object_id,
        "auth": {"kind": record.auth.kind, "token": record.auth.token},
        "body": record.body,
        "form": record.form,
        "outcome": record.outcome,
        "http_status": record.http_status,
        "error_code": record.error_code,
        "message_id": record.message_id,
        "media_id": record.media_id,
    }


def message_json(message: MessageRecord) -> dict[str, object]:
    error = message.error
    return {
        "id": message.id,
        "phone_number_id": message.phone_number_id,
        "waba_id": message.waba_id,
        "to": message.to,
        "wa_id": message.wa_id,
        "type": message.type,
        "request": message.request,
        "biz_opaque_callback_data": message.biz_opaque_callback_data,
        "context_message_id": message.context_message_id,
        "category": message.category,
        "status": message.status,
        "history": [{"status": event.status, "timestamp": event.timestamp} for event in message.history],
        "error": None if error is None else {"code": error.code, "title": error.title, "stage": error.stage},
        "created_at": message.created_at,
    }


def inbound_json(message: InboundRecord) -> dict[str, object]:
    return {
        "id": message.id,
        "phone_number_id": message.phone_number_id,
        "wa_id": message.wa_id,
        "type": message.type,
        "message": message.message,
        "timestamp": message.timestamp,
        "read": message.read,
    }


def media_json(media: MediaRecord) -> dict[str, object]:
    return {
        "id": media.id,
        "phone_number_id": media.phone_number_id,
        "waba_id": media.waba_id,
        "mime_type": media.mime_type,
        "file_size": len(media.content),
        "sha256": media.sha256_hex,
        "filename": media.filename,
        "deleted": media.deleted,
    }


def delivery_json(delivery: Delivery) -> dict[str, object]:
    return {
        "kind": delivery.kind,
        "url": delivery.url,
        "app_id": delivery.app_id,
        "payload": delivery.payload,
        "body": delivery.body,
        "signature": delivery.signature,
        "message_ids": delivery.message_ids,
        "statuses": delivery.statuses,
        "attempt": delivery.attempt,
        "sent_at": delivery.sent_at,
        "http_status": delivery.http_status,
        "error": delivery.error,
        "response_body": delivery.response_body,
    }


def verification_json(verification: Verification) -> dict[str, object]:
    return {
        "url": verification.url,
        "challenge": verification.challenge,
        "verify_token": verification.verify_token,
        "http_status": verification.http_status,
        "body": verification.body,
        "echoed": verification.echoed,
        "error": verification.error,
    }


@routes.get("/_emulator/requests")
async def list_requests(request: web.Request) -> web.Response:
    outcome = request.query.get("outcome")
    records = [r for r in _state(request).requests if outcome is None or r.outcome == outcome]
    return _json({"requests": [received_json(r) for r in records]})


@routes.get("/_emulator/messages")
async def list_messages(request: web.Request) -> web.Response:
    return _json({"messages": [message_json(m) for m in _state(request).messages.values()]})


@routes.get("/_emulator/inbound")
async def list_inbound(request: web.Request) -> web.Response:
    return _json({"inbound": [inbound_json(m) for m in _state(request).inbound.values()]})


@routes.get("/_emulator/media")
async def list_media(request: web.Request) -> web.Response:
    return _json({"media": [media_json(m) for m in _state(request).media.values()]})


@routes.get("/_emulator/reads")
async def list_reads(request: web.Request) -> web.Response:
    reads = _state(request).reads
    return _json(
        {
            "reads": [
                {
                    "message_id": r.message_id,
                    "phone_number_id": r.phone_number_id,
                    "typing_indicator": r.typing_indicator,
                    "at": r.at,
                }
                for r in reads
            ]
        }
    )


@routes.get("/_emulator/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    return _json({"webhooks": [delivery_json(d) for d in _state(request).deliveries]})


@routes.get("/_emulator/stats")
async def stats(request: web.Request) -> web.Response:
    state = _state(request)
    return _json({"stats": dict(sorted(state.stats.items())), "messages": len(state.messages)})


@routes.post("/_emulator/inbound")
async def inbound(request: web.Request) -> web.Response:
    message = await _read(request, InboundMessage)
    delivery = await _apply_async(request.app[WEBHOOKS].send_inbound(message))
    return _json(delivery_json(delivery), status=201)


@routes.post("/_emulator/inbound/batch")
async def inbound_batch(request: web.Request) -> web.Response:
    batch = await _read(request, InboundBatch)
    delivery = await _apply_async(request.app[WEBHOOKS].send_inbound_batch(batch.messages, merge=batch.merge))
    return _json(delivery_json(delivery), status=201)


@routes.post("/_emulator/statuses")
async def post_status(request: web.Request) -> web.Response:
    command = await _read(request, StatusCommand)
    webhooks = request.app[WEBHOOKS]
    delivery = await _apply_async(webhooks.send_status(command.message_id, command.status, command.error))
    return _json(delivery_json(delivery), status=201)


@routes.post("/_emulator/verify")
async def verify(request: web.Request) -> web.Response:
    command = await _read(request, VerifyCommand)
    verification = await _apply_async(
        request.app[WEBHOOKS].verify(
            app_id=command.app_id,
            url=command.url,
            verify_token=command.verify_token,
            challenge=command.challenge,
        )
    )
    return _json(verification_json(verification))


@routes.post("/_emulator/settle")
async def settle(request: web.Request) -> web.Response:
    await _state(request).settle()
    return _json({"settled": True})


@routes.post("/_emulator/reset")
async def reset(request: web.Request) -> web.Response:
    await _state(request).reset()
    return _json({"reset": True})


async def _apply_async(work: Awaitable[T]) -> T:
    try:
        return await work
    except (LookupError, ValueError) as error:
        raise ControlError(str(error)) from error
