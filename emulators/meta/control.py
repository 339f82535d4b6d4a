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
POST   /_emulator/clock             {"advance_seconds"}: move the emulator's clock forward (templates
                                    whose review time comes are decided, their webhooks posted)
GET    /_emulator/template_review   how templates are reviewed (TemplateReview)
PATCH  /_emulator/template_review   change it (merged)
GET    /_emulator/templates         every message template (of every business)
POST   /_emulator/templates         make a template "in Meta's console": {"waba_id", "name", "language",
                                    "category", "components", "parameter_format"?, "status"?,
                                    "quality_score"?}; approved unless "status" says otherwise
POST   /_emulator/templates/review  decide now every template whose review time has come
POST   /_emulator/templates/{id}/status   {"event", "reason"?}: APPROVED, REJECTED, PAUSED, DISABLED,
                                    FLAGGED, REINSTATED …, with its status webhook
POST   /_emulator/templates/{id}/quality  {"score"}: GREEN, YELLOW, RED, UNKNOWN, with its webhook
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

Health, faults, stats, settle and reset are every emulator's (emulators/common/control.py); the others
are defined here.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from emulators.common.control import (
    ControlError,
    add_setting_routes,
    json_response,
    read_json,
    refused_as_control_error,
)
from emulators.meta import templates
from emulators.meta.callbacks import Verification
from emulators.meta.config import App, Business, ForcedError
from emulators.meta.errors import MetaError
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
from emulators.meta.templates import TemplateRecord

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


class ConsoleTemplateCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    waba_id: str
    name: str
    language: str
    category: str
    components: list[dict[str, object]]
    parameter_format: str = "POSITIONAL"
    status: str = templates.APPROVED
    quality_score: str = "UNKNOWN"
    rejected_reason: str | None = None


class TemplateEventCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    event: str
    reason: str | None = None


class TemplateQualityCommand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    score: str


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE]


add_setting_routes(
    routes, "/_emulator/callbacks", STATE, lambda state: state.webhooks, EmulatorState.set_webhooks
)
add_setting_routes(
    routes,
    "/_emulator/template_review",
    STATE,
    lambda state: state.template_review,
    EmulatorState.set_template_review,
)
add_setting_routes(
    routes,
    "/_emulator/session_window",
    STATE,
    lambda state: state.session_window,
    EmulatorState.set_session_window,
)


@routes.get("/_emulator/config")
async def get_config(request: web.Request) -> web.Response:
    state = _state(request)
    return json_response(
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
            "template_review": state.template_review,
            "media_url_ttl_seconds": state.config.media_url_ttl_seconds,
            "max_media_bytes": state.config.max_media_bytes,
            "now": state.now(),
        }
    )


@routes.post("/_emulator/customer_windows")
async def set_customer_window(request: web.Request) -> web.Response:
    command = await read_json(request, CustomerWindowCommand)
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
    return json_response(
        {
            "phone_number_id": phone_number_id,
            "wa_id": wa_id,
            "last_message_at": at,
            "open": state.window_open(phone_number_id, wa_id),
        }
    )


@routes.post("/_emulator/clock")
async def advance_clock(request: web.Request) -> web.Response:
    command = await read_json(request, ClockCommand)
    if command.advance_seconds < 0:
        raise ControlError("advance_seconds: the clock only moves forward")
    now = _state(request).advance_clock(command.advance_seconds)
    reviewed = await request.app[WEBHOOKS].review_due()
    return json_response({"now": now, "template_webhooks": [delivery_json(d) for d in reviewed]})


def template_json(template: TemplateRecord) -> dict[str, object]:
    return {
        **templates.template_object(template),
        "waba_id": template.waba_id,
        "created_at": template.created_at,
        "review_due_at": template.review_due_at,
        "history": [{"event": event, "timestamp": at} for event, at in template.history],
    }


@routes.get("/_emulator/templates")
async def list_templates(request: web.Request) -> web.Response:
    return json_response({"templates": [template_json(t) for t in _state(request).templates.values()]})


@routes.post("/_emulator/templates")
async def console_template(request: web.Request) -> web.Response:
    command = await read_json(request, ConsoleTemplateCommand)
    state = _state(request)
    template = made_in_console(state, command)
    return json_response(template_json(template), status=201)


def made_in_console(state: EmulatorState, command: ConsoleTemplateCommand) -> TemplateRecord:
    """A template as if made in Meta's console: no review, the status it is given, no webhook."""
    if command.waba_id not in state.businesses:
        raise ControlError(f"no business {command.waba_id!r}")
    if command.status not in templates.STATUSES:
        raise ControlError(f"status: Meta has no template status {command.status!r}")
    if command.quality_score not in templates.QUALITY_SCORES:
        raise ControlError(f"quality_score: Meta has no quality score {command.quality_score!r}")
    body = msgspec.to_builtins(command)
    try:
        draft = templates.validate_create(body)
    except MetaError as error:
        raise ControlError(error.user_message or error.details or error.message) from error
    if state.template_named(command.waba_id, draft.name, draft.language) is not None:
        raise ControlError(f"the business already has {draft.name} in {draft.language}")
    template = TemplateRecord(
        id=state.new_template_id(),
        waba_id=command.waba_id,
        name=draft.name,
        language=draft.language,
        category=draft.category,
        parameter_format=draft.parameter_format,
        components=draft.components,
        status=command.status,
        created_at=state.timestamp(),
        rejected_reason=(command.rejected_reason or "OTHER")
        if command.status == templates.REJECTED
        else "NONE",
        quality_score=command.quality_score,
    )
    state.add_template(template)
    return template


def _template(request: web.Request) -> TemplateRecord:
    template = _state(request).templates.get(request.match_info["template_id"])
    if template is None:
        raise ControlError(f"no template {request.match_info['template_id']!r}")
    return template


@routes.post("/_emulator/templates/review")
async def review_templates(request: web.Request) -> web.Response:
    reviewed = await request.app[WEBHOOKS].review_due()
    return json_response({"template_webhooks": [delivery_json(d) for d in reviewed]})


@routes.post("/_emulator/templates/{template_id}/status")
async def template_status(request: web.Request) -> web.Response:
    command = await read_json(request, TemplateEventCommand)
    template = _template(request)
    with refused_as_control_error():
        delivery = await request.app[WEBHOOKS].change_template_status(template, command.event, command.reason)
    return json_response(
        {"template": template_json(template), "webhook": delivery_json(delivery) if delivery else None}
    )


@routes.post("/_emulator/templates/{template_id}/quality")
async def template_quality(request: web.Request) -> web.Response:
    command = await read_json(request, TemplateQualityCommand)
    template = _template(request)
    with refused_as_control_error():
        delivery = await request.app[WEBHOOKS].change_template_quality(template, command.score)
    return json_response(
        {"template": template_json(template), "webhook": delivery_json(delivery) if delivery else None}
    )


@routes.post("/_emulator/apps")
async def add_app(request: web.Request) -> web.Response:
    command = await read_json(request, AppCommand)
    app = App(secret=command.secret, callback_url=command.callback_url, verify_token=command.verify_token)
    with refused_as_control_error():
        _state(request).add_app(command.app_id, app)
    return json_response({"app_id": command.app_id}, status=201)


@routes.post("/_emulator/businesses")
async def add_business(request: web.Request) -> web.Response:
    command = await read_json(request, BusinessCommand)
    fields = {name: getattr(command, name) for name in Business.__struct_fields__}
    with refused_as_control_error():
        _state(request).add_business(command.waba_id, Business(**fields))
    return json_response({"waba_id": command.waba_id}, status=201)


@routes.post("/_emulator/tokens/expire")
async def expire_token(request: web.Request) -> web.Response:
    command = await read_json(request, TokenCommand)
    if not _state(request).expire_token(command.token):
        raise ControlError("no business has that (live) token")
    return json_response({"expired": True})


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
        "template_events": delivery.template_events,
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
    return json_response({"requests": [received_json(r) for r in records]})


@routes.get("/_emulator/messages")
async def list_messages(request: web.Request) -> web.Response:
    return json_response({"messages": [message_json(m) for m in _state(request).messages.values()]})


@routes.get("/_emulator/inbound")
async def list_inbound(request: web.Request) -> web.Response:
    return json_response({"inbound": [inbound_json(m) for m in _state(request).inbound.values()]})


@routes.get("/_emulator/media")
async def list_media(request: web.Request) -> web.Response:
    return json_response({"media": [media_json(m) for m in _state(request).media.values()]})


@routes.get("/_emulator/reads")
async def list_reads(request: web.Request) -> web.Response:
    reads = _state(request).reads
    return json_response(
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
    return json_response({"webhooks": [delivery_json(d) for d in _state(request).deliveries]})


@routes.post("/_emulator/inbound")
async def inbound(request: web.Request) -> web.Response:
    message = await read_json(request, InboundMessage)
    with refused_as_control_error():
        delivery = await request.app[WEBHOOKS].send_inbound(message)
    return json_response(delivery_json(delivery), status=201)


@routes.post("/_emulator/inbound/batch")
async def inbound_batch(request: web.Request) -> web.Response:
    batch = await read_json(request, InboundBatch)
    with refused_as_control_error():
        delivery = await request.app[WEBHOOKS].send_inbound_batch(batch.messages, merge=batch.merge)
    return json_response(delivery_json(delivery), status=201)


@routes.post("/_emulator/statuses")
async def post_status(request: web.Request) -> web.Response:
    command = await read_json(request, StatusCommand)
    with refused_as_control_error():
        delivery = await request.app[WEBHOOKS].send_status(command.message_id, command.status, command.error)
    return json_response(delivery_json(delivery), status=201)


@routes.post("/_emulator/verify")
async def verify(request: web.Request) -> web.Response:
    command = await read_json(request, VerifyCommand)
    with refused_as_control_error():
        verification = await request.app[WEBHOOKS].verify(
            app_id=command.app_id,
            url=command.url,
            verify_token=command.verify_token,
            challenge=command.challenge,
        )
    return json_response(verification_json(verification))
