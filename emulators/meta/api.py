"""The part of the Graph API the emulator speaks: send (and mark as read), upload, describe, download
and delete media, describe a phone number, and create, list, describe, edit and delete message
templates. Every route takes any version prefix (``/v23.0/...``)
or none."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

import msgspec
from aiohttp import BodyPartReader, web

from emulators.common.faults import apply_latency, pick_failure, unanswered
from emulators.common.settings import FailureKind
from emulators.meta import errors, templates
from emulators.meta.config import ForcedError, Stage, digits
from emulators.meta.errors import MetaError, resolve
from emulators.meta.keys import STATE, WEBHOOKS
from emulators.meta.state import (
    AuthKind,
    AuthUsed,
    EmulatorState,
    Line,
    MediaRecord,
    MessageRecord,
    ReadReceipt,
    ReceivedRequest,
)
from emulators.meta.validation import MessageDraft, ReadDraft, validate_send
from emulators.meta.wire import media_object, send_answer

_FAILURES: dict[FailureKind, int] = {
    FailureKind.RATE_LIMITED: errors.RATE_LIMITED,
    FailureKind.SERVER_ERROR: errors.SOMETHING_WENT_WRONG,
    FailureKind.UNAVAILABLE: errors.API_SERVICE,
}

# What Meta accepts for upload, by message type, and each type's size limit in bytes.
MEDIA_LIMITS: dict[str, int] = {
    "audio/aac": 16 * 2**20,
    "audio/amr": 16 * 2**20,
    "audio/mpeg": 16 * 2**20,
    "audio/mp4": 16 * 2**20,
    "audio/ogg": 16 * 2**20,
    "text/plain": 100 * 2**20,
    "application/pdf": 100 * 2**20,
    "application/msword": 100 * 2**20,
    "application/vnd.ms-excel": 100 * 2**20,
    "application/vnd.ms-powerpoint": 100 * 2**20,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 * 2**20,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 * 2**20,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 * 2**20,
    "image/jpeg": 5 * 2**20,
    "image/png": 5 * 2**20,
    "image/webp": 500 * 2**10,
    "video/3gpp": 16 * 2**20,
    "video/mp4": 16 * 2**20,
}


def _respond(
    state: EmulatorState, data: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data),
        status=status,
        content_type="application/json",
        headers={"x-fb-trace-id": state.new_fbtrace_id(), **(headers or {})},
    )


def _error_response(state: EmulatorState, error: MetaError) -> web.Response:
    return _respond(state, error.body(state.new_fbtrace_id()), error.http_status, error.headers)


def _fail(state: EmulatorState, record: ReceivedRequest, error: MetaError, outcome: str) -> web.Response:
    state.finish_request(record, outcome, http_status=error.http_status, error_code=error.code)
    return _error_response(state, error)


def _now_text(state: EmulatorState) -> str:
    return datetime.fromtimestamp(state.now(), UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")


def _check_access(state: EmulatorState, auth: AuthUsed, object_id: str, method: str, *, exists: bool) -> None:
    """Graph's order: a bad token first (190), then an object the token cannot see (100, subcode 33)."""
    if auth.kind in (AuthKind.MISSING, AuthKind.INVALID):
        raise MetaError.invalid_token()
    if auth.kind is AuthKind.EXPIRED:
        raise MetaError.expired_token(_now_text(state))
    if not exists or auth.kind is AuthKind.FOREIGN:
        raise MetaError.no_such_object(object_id, method)


async def _begin(
    request: web.Request,
    state: EmulatorState,
    waba_id: str | None,
    *,
    body: Any = None,
    form: dict[str, str] | None = None,
) -> ReceivedRequest:
    """Record the request, then apply the configured latency."""
    record = state.record_request(
        method=request.method,
        path=request.path,
        version=request.match_info.get("version"),
        object_id=request.match_info.get("object_id", ""),
        auth=state.authenticate(request.headers.get("Authorization"), waba_id),
        body=body,
        form=form,
    )
    await apply_latency(state)
    return record


# -- sending --------------------------------------------------------------------------------------


async def send_message(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    raw = await request.read()
    try:
        body: Any = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        body = None
    line = state.line(request.match_info["object_id"])
    record = await _begin(request, state, line.waba_id if line else None, body=body)
    try:
        _check_access(state, record.auth, record.object_id, "post", exists=line is not None)
    except MetaError as error:
        return _fail(state, record, error, "unauthorized" if error.http_status == 401 else "not_found")
    assert line is not None
    return await _send(request, state, record, line, body)


async def _send(
    request: web.Request, state: EmulatorState, record: ReceivedRequest, line: Line, body: Any
) -> web.StreamResponse:
    is_read = isinstance(body, dict) and "status" in body
    failure = None if is_read else pick_failure(state)
    if failure is not None and state.faults.strikes_before_creation(failure):
        return await _answer_failure(request, state, record, failure)
    try:
        draft = validate_send(body, line, state)
        if isinstance(draft, ReadDraft):
            return _mark_read(state, record, line, draft)
        forced = _forced_error(state, line, draft)
        if forced is not None and forced.stage is Stage.REQUEST:
            raise MetaError.forced(forced)
    except MetaError as error:
        return _fail(state, record, error, "rejected")

    message = _create(state, record, line, draft, body, forced)
    request.app[WEBHOOKS].start_progression(message)
    if failure is not None:  # created, but the answer is lost: the case that must never be resent blindly
        record.message_id = message.id
        return await _answer_failure(request, state, record, failure)
    state.finish_request(record, "accepted", http_status=200, message_id=message.id)
    return _respond(state, send_answer(message))


def _create(
    state: EmulatorState,
    record: ReceivedRequest,
    line: Line,
    draft: MessageDraft,
    body: dict[str, Any],
    failure: errors.ResolvedError | None,
) -> MessageRecord:
    window_open = state.window_open(line.phone_number_id, draft.wa_id)
    free = draft.category == "service" or (draft.category == "utility" and window_open)
    message = MessageRecord(
        id=state.new_wamid(draft.wa_id),
        phone_number_id=line.phone_number_id,
        waba_id=line.waba_id,
        to=draft.to,
        wa_id=draft.wa_id,
        type=draft.type,
        request=body,
        category=draft.category,
        created_at=state.timestamp(),
        billable=not free,
        pricing_type="free_customer_service" if free else "regular",
        biz_opaque_callback_data=draft.biz_opaque_callback_data,
        context_message_id=draft.context_message_id,
        error=failure,
        token=record.auth.token,
    )
    state.add_message(message)
    return message


def _forced_error(state: EmulatorState, line: Line, draft: MessageDraft) -> errors.ResolvedError | None:
    """The first of: the next forced error, the recipient's, the sender's, a closed customer window."""
    forced: ForcedError | None = (
        state.take_next_error()
        or state.faults.recipient_errors.get(draft.wa_id)
        or state.faults.recipient_errors.get(digits(draft.to))
        or state.faults.sender_errors.get(line.phone_number_id)
    )
    window = state.session_window
    if (
        forced is None
        and window.enforced
        and draft.type != "template"
        and not state.window_open(line.phone_number_id, draft.wa_id)
    ):
        forced = ForcedError(errors.RE_ENGAGEMENT, stage=window.stage)
    return resolve(forced) if forced is not None else None


def _mark_read(state: EmulatorState, record: ReceivedRequest, line: Line, draft: ReadDraft) -> web.Response:
    state.add_read(
        ReadReceipt(
            message_id=draft.message_id,
            phone_number_id=line.phone_number_id,
            typing_indicator=draft.typing_indicator,
            at=state.timestamp(),
        )
    )
    state.finish_request(record, "read", http_status=200, message_id=draft.message_id)
    return _respond(state, {"success": True})


async def _answer_failure(
    request: web.Request, state: EmulatorState, record: ReceivedRequest, failure: FailureKind
) -> web.StreamResponse:
    """The answer of a send failing on purpose (``Faults.failure_rate``)."""
    no_answer = await unanswered(request, state, record, failure)
    if no_answer is not None:
        return no_answer
    error = MetaError.of(_FAILURES[failure])
    state.finish_request(record, failure.value, http_status=error.http_status, error_code=error.code)
    return _error_response(state, error)


# -- media ----------------------------------------------------------------------------------------


async def upload_media(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    line = state.line(request.match_info["object_id"])
    fields, file = await _read_upload(request)
    form = dict(fields)
    if file is not None:
        form["file"] = file[0]
    record = await _begin(request, state, line.waba_id if line else None, form=form)
    try:
        _check_access(state, record.auth, record.object_id, "post", exists=line is not None)
        assert line is not None
        media = _uploaded(state, line, fields, file)
    except MetaError as error:
        return _fail(state, record, error, "unauthorized" if error.http_status == 401 else "rejected")
    state.add_media(media)
    record.media_id = media.id
    state.finish_request(record, "uploaded", http_status=200)
    return _respond(state, {"id": media.id})


async def _read_upload(request: web.Request) -> tuple[dict[str, str], tuple[str, str, bytes] | None]:
    """The text fields of a multipart upload, and its file as (file name, content type, bytes)."""
    fields: dict[str, str] = {}
    file: tuple[str, str, bytes] | None = None
    if not request.content_type.startswith("multipart/"):
        return fields, file
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename is not None:
            content = await part.read(decode=False)
            file = (
                part.filename,
                part.headers.get("Content-Type", "application/octet-stream"),
                bytes(content),
            )
        else:
            fields[part.name] = await part.text()
    return fields, file


def _uploaded(
    state: EmulatorState, line: Line, fields: dict[str, str], file: tuple[str, str, bytes] | None
) -> MediaRecord:
    if fields.get("messaging_product") != "whatsapp":
        raise MetaError.of(errors.INVALID_PARAMETER, "The parameter messaging_product is required.")
    if file is None:
        raise MetaError.of(errors.INVALID_PARAMETER, "The parameter file is required.")
    filename, file_type, content = file
    mime_type = (fields.get("type") or file_type).strip()
    base_type = mime_type.split(";", 1)[0].strip().lower()
    if base_type not in MEDIA_LIMITS:
        raise MetaError.of(
            errors.INVALID_PARAMETER,
            f"Param file must be a file with one of the following types: {', '.join(MEDIA_LIMITS)}. "
            f"Received file of type '{mime_type}'.",
        )
    if not content:
        raise MetaError.of(errors.MEDIA_UPLOAD, "The uploaded file is empty.")
    limit = min(MEDIA_LIMITS[base_type], state.config.max_media_bytes)
    if len(content) > limit:
        raise MetaError.of(
            errors.MEDIA_UPLOAD, f"The file is {len(content)} bytes; {base_type} may be {limit}."
        )
    return MediaRecord(
        id=state.new_media_id(),
        phone_number_id=line.phone_number_id,
        waba_id=line.waba_id,
        mime_type=mime_type,
        content=content,
        created_at=state.timestamp(),
        filename=filename,
    )


async def get_object(request: web.Request) -> web.StreamResponse:
    """``GET /{media-id}`` (a download URL and the file's description), ``GET /{phone-number-id}`` or
    ``GET /{template-id}``."""
    state = request.app[STATE]
    object_id = request.match_info["object_id"]
    line = state.line(object_id)
    media = state.live_media(object_id)
    template = state.live_template(object_id)
    owner = line.waba_id if line else media.waba_id if media else template.waba_id if template else None
    record = await _begin(request, state, owner)
    try:
        _check_access(state, record.auth, object_id, "get", exists=owner is not None)
        if media is not None:
            phone_number_id = request.query.get("phone_number_id")
            if phone_number_id is not None and phone_number_id != media.phone_number_id:
                raise MetaError.of(
                    errors.INVALID_PARAMETER,
                    f"Media {object_id} does not belong to phone number {phone_number_id}.",
                )
    except MetaError as error:
        return _fail(state, record, error, "unauthorized" if error.http_status == 401 else "not_found")
    if line is not None:
        state.finish_request(record, "described", http_status=200)
        return _respond(state, _phone_number_object(line))
    if template is not None:
        fields = [name for name in request.query.get("fields", "").split(",") if name] or None
        state.finish_request(record, "described", http_status=200)
        return _respond(state, templates.template_object(template, fields))
    assert media is not None
    handle, url = state.issue_media_url(media.id)
    digest = hashlib.sha256(handle.encode()).hexdigest()[:32]
    link = f"{request.url.origin()}/_media/{handle}?mid={media.id}&ext={int(url.expires_at)}&hash={digest}"
    record.media_id = media.id
    state.finish_request(record, "described", http_status=200)
    return _respond(state, media_object(media, link))


def _phone_number_object(line: Line) -> dict[str, object]:
    return {
        "verified_name": line.number.verified_name,
        "code_verification_status": "VERIFIED",
        "display_phone_number": line.display_phone_number,
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": {"level": "STANDARD"},
        "id": line.phone_number_id,
    }


async def delete_object(request: web.Request) -> web.StreamResponse:
    """``DELETE /{media-id}``."""
    state = request.app[STATE]
    object_id = request.match_info["object_id"]
    media = state.live_media(object_id)
    record = await _begin(request, state, media.waba_id if media else None)
    try:
        _check_access(state, record.auth, object_id, "delete", exists=media is not None)
    except MetaError as error:
        return _fail(state, record, error, "unauthorized" if error.http_status == 401 else "not_found")
    assert media is not None
    media.deleted = True
    record.media_id = media.id
    state.finish_request(record, "deleted", http_status=200)
    return _respond(state, {"success": True})


async def download_media(request: web.Request) -> web.StreamResponse:
    """The bytes behind a media URL: they need the bearer token of the media's business, and the URL
    expires (``media_url_ttl_seconds``)."""
    state = request.app[STATE]
    url = state.media_url(request.match_info["handle"])
    media = state.live_media(url.media_id) if url is not None else None
    auth = state.authenticate(request.headers.get("Authorization"), media.waba_id if media else None)
    record = state.record_request(
        method=request.method,
        path=request.path,
        version=None,
        object_id=request.match_info["handle"],
        auth=auth,
    )
    if not auth.ok and auth.kind is not AuthKind.FOREIGN:
        return _fail(state, record, MetaError.invalid_token(), "unauthorized")
    if url is None or media is None or auth.kind is AuthKind.FOREIGN:
        state.finish_request(record, "not_found", http_status=404)
        return web.Response(status=404, text="Not Found")
    record.media_id = media.id
    if url.expires_at <= state.now():
        state.finish_request(record, "expired", http_status=404)
        return web.Response(status=404, text="URL signature expired")
    state.finish_request(record, "downloaded", http_status=200)
    headers = {"Content-Type": media.mime_type}
    if media.filename:
        headers["Content-Disposition"] = f'attachment; filename="{media.filename}"'
    return web.Response(body=media.content, headers=headers)


async def not_found(request: web.Request) -> web.StreamResponse:
    """Graph's answer to a path it does not know."""
    state = request.app[STATE]
    error = MetaError(2500, f"Unknown path components: {request.path}", 400)
    return _error_response(state, error)


# -- message templates ----------------------------------------------------------------------------


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        return None


async def _business_request(
    request: web.Request, state: EmulatorState, method: str, body: Any = None
) -> tuple[ReceivedRequest, MetaError | None]:
    """Record a request on ``/{waba-id}/message_templates``; the error if the token may not use it."""
    waba_id = request.match_info["object_id"]
    exists = waba_id in state.businesses
    record = await _begin(request, state, waba_id if exists else None, body=body)
    try:
        _check_access(state, record.auth, waba_id, method, exists=exists)
    except MetaError as error:
        return record, error
    return record, None


def _access_outcome(error: MetaError) -> str:
    return "unauthorized" if error.http_status == 401 else "not_found"


async def create_template(request: web.Request) -> web.StreamResponse:
    """``POST /{waba-id}/message_templates``: the template is created pending review."""
    state = request.app[STATE]
    body = await _json_body(request)
    record, refused = await _business_request(request, state, "post", body)
    if refused is not None:
        return _fail(state, record, refused, _access_outcome(refused))
    waba_id = record.object_id
    try:
        draft = templates.validate_create(body)
        existing = state.template_named(waba_id, draft.name, draft.language)
        if existing is not None:
            raise _already_there(existing, draft.language)
    except MetaError as error:
        return _fail(state, record, error, "rejected")
    template = templates.TemplateRecord(
        id=state.new_template_id(),
        waba_id=waba_id,
        name=draft.name,
        language=draft.language,
        category=draft.category,
        parameter_format=draft.parameter_format,
        components=draft.components,
        status=templates.PENDING,
        created_at=state.timestamp(),
    )
    state.add_template(template)
    request.app[WEBHOOKS].start_review(template)
    state.finish_request(record, "template_created", http_status=200)
    return _respond(state, {"id": template.id, "status": template.status, "category": template.category})


def _already_there(existing: templates.TemplateRecord, language: str) -> MetaError:
    named = templates.language_name(language)
    if not existing.live:
        return MetaError.template(
            errors.TEMPLATE_BEING_DELETED,
            "Message template language is being deleted",
            f"New {named} content can't be added while the existing {named} content is being deleted. "
            "Try again in 4 weeks or use a different name for the template.",
        )
    return MetaError.template(
        errors.TEMPLATE_EXISTS,
        "Message template already exists",
        f"There is already {named} content for this template. You can create a new template and try again.",
    )


async def list_templates(request: web.Request) -> web.StreamResponse:
    """``GET /{waba-id}/message_templates?fields=...&limit=...&after=...``, a page at a time (``name``,
    ``status``, ``language`` and ``category`` filter)."""
    state = request.app[STATE]
    record, refused = await _business_request(request, state, "get")
    if refused is not None:
        return _fail(state, record, refused, _access_outcome(refused))
    query = request.query
    try:
        limit = int(query.get("limit", "25"))
        if not 1 <= limit <= 1000:
            raise ValueError
    except ValueError:
        return _fail(
            state, record, MetaError.of(errors.INVALID_PARAMETER, "Param limit is 1 to 1000."), "rejected"
        )
    fields = [name for name in query.get("fields", "").split(",") if name] or None
    found = [
        t
        for t in state.templates_of(record.object_id)
        if (not query.get("name") or query["name"] in t.name)
        and (not query.get("status") or t.status == query["status"].upper())
        and (not query.get("language") or t.language == query["language"])
        and (not query.get("category") or t.category == query["category"].upper())
    ]
    start = 0
    after = query.get("after")
    if after:
        ids = [t.id for t in found]
        decoded = _cursor_id(after)
        if decoded not in ids:
            return _fail(
                state,
                record,
                MetaError.of(errors.INVALID_PARAMETER, "Param after is not a valid cursor."),
                "rejected",
            )
        start = ids.index(decoded) + 1
    page = found[start : start + limit]
    answer: dict[str, object] = {"data": [templates.template_object(t, fields) for t in page]}
    if page:
        paging: dict[str, object] = {
            "cursors": {"before": _cursor(page[0].id), "after": _cursor(page[-1].id)}
        }
        if start + limit < len(found):
            paging["next"] = str(request.url.update_query(after=_cursor(page[-1].id)))
        answer["paging"] = paging
    state.finish_request(record, "templates_listed", http_status=200)
    return _respond(state, answer)


def _cursor(template_id: str) -> str:
    return base64.urlsafe_b64encode(template_id.encode()).decode().rstrip("=")


def _cursor_id(cursor: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


async def delete_templates(request: web.Request) -> web.StreamResponse:
    """``DELETE /{waba-id}/message_templates?name=...`` (every language of the name) or with
    ``&hsm_id=...`` (that one template). A deleted template stays ``PENDING_DELETION``: its name and
    language cannot be used again."""
    state = request.app[STATE]
    record, refused = await _business_request(request, state, "delete")
    if refused is not None:
        return _fail(state, record, refused, _access_outcome(refused))
    name = request.query.get("name")
    hsm_id = request.query.get("hsm_id")
    try:
        if not name:
            raise MetaError.of(errors.INVALID_PARAMETER, "The parameter name is required.")
        chosen = [
            t
            for t in state.templates_of(record.object_id)
            if t.live and t.name == name and (hsm_id is None or t.id == hsm_id)
        ]
        if not chosen:
            raise MetaError.template(
                errors.TEMPLATE_INVALID,
                "Message template not found",
                f"No message template named {name!r}"
                + (f" with the id {hsm_id}" if hsm_id else "")
                + " was found in this WhatsApp Business Account.",
            )
    except MetaError as error:
        return _fail(state, record, error, "rejected")
    for template in chosen:
        await request.app[WEBHOOKS].change_template_status(template, templates.PENDING_DELETION)
    state.finish_request(record, "templates_deleted", http_status=200)
    return _respond(state, {"success": True})


async def update_template(request: web.Request) -> web.StreamResponse:
    """``POST /{template-id}`` with new ``components`` and/or ``category``: the template goes back to
    review."""
    state = request.app[STATE]
    body = await _json_body(request)
    template = state.live_template(request.match_info["object_id"])
    record = await _begin(request, state, template.waba_id if template else None, body=body)
    try:
        _check_access(state, record.auth, record.object_id, "post", exists=template is not None)
    except MetaError as error:
        return _fail(state, record, error, _access_outcome(error))
    assert template is not None
    try:
        category, components = templates.validate_update(body, template)
    except MetaError as error:
        return _fail(state, record, error, "rejected")
    template.category, template.components = category, components
    webhooks = request.app[WEBHOOKS]
    await webhooks.change_template_status(template, templates.PENDING)
    webhooks.start_review(template)
    state.finish_request(record, "template_updated", http_status=200)
    return _respond(state, {"success": True})
