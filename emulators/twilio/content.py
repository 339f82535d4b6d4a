"""The part of Twilio's Content API (``content.twilio.com``) the emulator speaks: Content resources, their
WhatsApp approval requests, and the list of both.

POST   /v1/Content                                    create (JSON: friendly_name, language, variables, types)
GET    /v1/Content                                    list
GET    /v1/Content/{sid}                              fetch
DELETE /v1/Content/{sid}                              delete
POST   /v1/Content/{sid}/ApprovalRequests/whatsapp    submit for WhatsApp's approval (JSON: name, category)
GET    /v1/Content/{sid}/ApprovalRequests             the approval's status
GET    /v1/ContentAndApprovals                        list, each with its approval

The paths name no account: the account is the one the Basic credentials (its SID and auth token, or one
of its API keys) belong to, and each sees its own resources only. WhatsApp's review follows
``ContentReview``: a decision after a delay, by the emulator's clock.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from emulators.common.faults import apply_latency
from emulators.twilio import errors
from emulators.twilio.api import TwilioError
from emulators.twilio.keys import STATE
from emulators.twilio.state import ContentRecord, EmulatorState, ReceivedRequest, content_texts

CONTENT_PATH = "/v1/Content"
LIST_PATH = "/v1/ContentAndApprovals"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
VARIABLE = re.compile(r"\{\{\s*+((?:[^{}\s]++|\s++(?=[^{}\s]))*+)\s*+\}\}")  # linear in the text
MAX_BODY = 1024
MAX_ACTIONS = 10

# What each type needs: its required fields, and the action types it takes (None: no actions).
_ACTIONS_OF: dict[str, tuple[str, ...] | None] = {
    "twilio/text": None,
    "twilio/media": None,
    "twilio/quick-reply": ("QUICK_REPLY",),
    "twilio/call-to-action": ("URL", "PHONE_NUMBER", "COPY_CODE", "VOICE_CALL"),
    "whatsapp/card": ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "VOICE_CALL"),
}
_ACTION_FIELDS = {"URL": "url", "PHONE_NUMBER": "phone", "COPY_CODE": "code", "QUICK_REPLY": "id"}


def _iso(moment: datetime) -> str:
    """The Content API's date format: ``2015-07-30T19:00:00Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------ the wire


def content_resource(content: ContentRecord, origin: str) -> dict[str, object]:
    url = f"{origin}{CONTENT_PATH}/{content.sid}"
    return {
        "account_sid": content.account_sid,
        "date_created": _iso(content.date_created),
        "date_updated": _iso(content.date_updated),
        "friendly_name": content.friendly_name,
        "language": content.language,
        "links": {
            "approval_create": f"{url}/ApprovalRequests/whatsapp",
            "approval_fetch": f"{url}/ApprovalRequests",
        },
        "sid": content.sid,
        "types": content.types,
        "url": url,
        "variables": content.variables,
    }


def approval_resource(content: ContentRecord, now: datetime) -> dict[str, object]:
    """A Content resource's WhatsApp approval as Twilio shows it ("unsubmitted" when there is none)."""
    approval = content.approval
    return {
        "name": approval.name if approval else "",
        "category": approval.category if approval else "",
        "content_type": next(iter(content.types), ""),
        "status": approval.status(now) if approval else "unsubmitted",
        "rejection_reason": approval.reason(now) if approval else "",
        "allow_category_change": True,
    }


def _page(
    items: list[dict[str, object]], *, origin: str, path: str, page: int, page_size: int
) -> dict[str, object]:
    def url(number: int) -> str:
        return f"{origin}{path}?{urlencode({'PageSize': page_size, 'Page': number})}"

    start = page * page_size
    return {
        "contents": items[start : start + page_size],
        "meta": {
            "page": page,
            "page_size": page_size,
            "first_page_url": url(0),
            "previous_page_url": url(page - 1) if page > 0 else None,
            "url": url(page),
            "next_page_url": url(page + 1) if start + page_size < len(items) else None,
            "key": "contents",
        },
    }


# ------------------------------------------------------------------------------------------ handlers


async def _begin(request: web.Request, state: EmulatorState) -> tuple[ReceivedRequest, Any]:
    """Read and record the request (its JSON body, if any), authenticate it, apply the faults. Raises
    TwilioError for a refused one (the record says why)."""
    raw = await request.read() if request.method == "POST" else b""
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = _UNREADABLE
    auth, account_sid = state.account_of(request.headers.get("Authorization"))
    record = state.record_request(
        method=request.method,
        path=request.path,
        account_sid=account_sid if auth.ok else "",
        auth=auth,
        form={},
        query={key: request.query.getall(key) for key in request.query},
        json=body if body is not _UNREADABLE else None,
    )
    await apply_latency(state)
    forced = state.faults.content_error_status
    if forced is not None:
        code = errors.SERVICE_UNAVAILABLE if forced >= 500 else errors.INVALID_PARAMETER
        raise _refused(state, record, TwilioError(code, "Injected failure", forced), "failed")
    if not auth.ok:
        raise _refused(state, record, TwilioError.of(errors.AUTHENTICATE), "unauthorized")
    return record, body


_UNREADABLE = object()


class _Refusal(Exception):
    def __init__(self, response: web.Response) -> None:
        super().__init__("refused")
        self.response = response


def _refused(state: EmulatorState, record: ReceivedRequest, error: TwilioError, outcome: str) -> _Refusal:
    state.finish_request(record, outcome, http_status=error.http_status, error_code=error.code)
    return _Refusal(error.response())


def _invalid(message: str) -> TwilioError:
    return TwilioError(errors.INVALID_PARAMETER, message, 400)


def _origin(request: web.Request) -> str:
    return str(request.url.origin())


async def create_content(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        record, body = await _begin(request, state)
        try:
            friendly_name, language, variables, types = checked_content(body)
        except TwilioError as error:
            raise _refused(state, record, error, "rejected") from error
    except _Refusal as refusal:
        return refusal.response
    now = state.now()
    content = ContentRecord(
        sid=state.new_sid("HX"),
        account_sid=record.account_sid,
        friendly_name=friendly_name,
        language=language,
        variables=variables,
        types=types,
        date_created=now,
        date_updated=now,
    )
    state.add_content(content)
    state.finish_request(record, "content_created", http_status=201)
    return web.json_response(content_resource(content, _origin(request)), status=201)


async def fetch_content(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        record, _ = await _begin(request, state)
        content = _found(request, state, record)
    except _Refusal as refusal:
        return refusal.response
    state.finish_request(record, "content_fetched", http_status=200)
    return web.json_response(content_resource(content, _origin(request)))


async def delete_content(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        record, _ = await _begin(request, state)
        content = _found(request, state, record)
    except _Refusal as refusal:
        return refusal.response
    state.delete_content(content.sid)
    state.finish_request(record, "content_deleted", http_status=204)
    return web.Response(status=204)


async def create_approval(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        record, body = await _begin(request, state)
        content = _found(request, state, record)
        try:
            name, category = checked_approval(body, content)
        except TwilioError as error:
            raise _refused(state, record, error, "rejected") from error
    except _Refusal as refusal:
        return refusal.response
    state.submit_for_approval(content, name, category)
    state.finish_request(record, "approval_requested", http_status=201)
    # Just received: WhatsApp has not seen it yet.
    return web.json_response({**approval_resource(content, state.now()), "status": "received"}, status=201)


async def fetch_approvals(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        record, _ = await _begin(request, state)
        content = _found(request, state, record)
    except _Refusal as refusal:
        return refusal.response
    state.finish_request(record, "approval_fetched", http_status=200)
    return web.json_response(
        {
            "sid": content.sid,
            "account_sid": content.account_sid,
            "whatsapp": {**approval_resource(content, state.now()), "type": "whatsapp"},
            "url": f"{_origin(request)}{CONTENT_PATH}/{content.sid}/ApprovalRequests",
        }
    )


async def list_contents(request: web.Request) -> web.StreamResponse:
    return await _list(request, with_approvals=False)


async def list_content_and_approvals(request: web.Request) -> web.StreamResponse:
    return await _list(request, with_approvals=True)


async def _list(request: web.Request, *, with_approvals: bool) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        record, _ = await _begin(request, state)
        try:
            page_size = int(request.query.get("PageSize", DEFAULT_PAGE_SIZE))
            page = int(request.query.get("Page", 0))
        except ValueError:
            page_size = page = -1
        if not 1 <= page_size <= MAX_PAGE_SIZE or page < 0:
            raise _refused(state, record, _invalid("Invalid PageSize or Page"), "rejected")
    except _Refusal as refusal:
        return refusal.response
    origin, now = _origin(request), state.now()
    items = [
        {**content_resource(content, origin), "approval_requests": approval_resource(content, now)}
        if with_approvals
        else content_resource(content, origin)
        for content in sorted(state.contents.values(), key=lambda c: (c.date_created, c.sid), reverse=True)
        if content.account_sid == record.account_sid
    ]
    state.finish_request(record, "content_listed", http_status=200)
    return web.json_response(_page(items, origin=origin, path=request.path, page=page, page_size=page_size))


def _found(request: web.Request, state: EmulatorState, record: ReceivedRequest) -> ContentRecord:
    content = state.content_of(record.account_sid, request.match_info["sid"])
    if content is None:
        raise _refused(state, record, TwilioError.of(errors.NOT_FOUND, uri=request.path), "not_found")
    return content


# ------------------------------------------------------------------------------------------ checks


def checked_content(body: object) -> tuple[str, str, dict[str, str], dict[str, Any]]:
    """Twilio's checks of a new Content resource (as far as the emulator knows them)."""
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object")
    friendly_name = body.get("friendly_name") or ""
    language = body.get("language")
    variables = body.get("variables") or {}
    types = body.get("types")
    if not isinstance(friendly_name, str) or len(friendly_name) > 1024:
        raise _invalid("Invalid friendly_name")
    if not isinstance(language, str) or not language:
        raise _invalid("Language is required")
    if not isinstance(variables, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in variables.items()
    ):
        raise _invalid("Variables must be an object of strings")
    if not isinstance(types, dict) or not types:
        raise _invalid("Invalid types. At least one content type definition is required")
    for name, definition in types.items():
        problem = _type_problem(name, definition)
        if problem is not None:
            raise _invalid(f"Invalid {name}: {problem}")
    return friendly_name, language, variables, types


def _type_problem(name: str, definition: object) -> str | None:
    if not isinstance(definition, dict):
        return "a content type is a JSON object"
    if name not in _ACTIONS_OF:
        return None  # a type the emulator does not check: taken as it is
    return (
        _body_problem(name, definition)
        or _media_problem(name, definition)
        or _actions_problem(name, definition)
    )


def _body_problem(name: str, definition: dict[str, Any]) -> str | None:
    body = definition.get("body")
    if name != "twilio/media" and (not isinstance(body, str) or not body.strip()):
        return "body is required"
    if body is not None and (not isinstance(body, str) or len(body) > MAX_BODY):
        return f"body is at most {MAX_BODY} characters"
    return None


def _media_problem(name: str, definition: dict[str, Any]) -> str | None:
    media = definition.get("media")
    if name == "twilio/media" and media is None:
        return "media is required"
    if media is not None and (not isinstance(media, list) or len(media) != 1 or not _is_http_url(media[0])):
        return "media is one http(s) URL"
    if name == "whatsapp/card" and definition.get("header_text") and media:
        return "a card has a text header or media, not both"
    return None


def _actions_problem(name: str, definition: dict[str, Any]) -> str | None:
    allowed = _ACTIONS_OF[name]
    actions = definition.get("actions")
    if allowed is None:
        return None if actions is None else "this type has no actions"
    if actions is None and name == "whatsapp/card":
        # A card's actions are optional: a body and one more field (a footer, a header) make a card.
        others = ("header_text", "media", "footer")
        return None if any(definition.get(field) for field in others) else "a card has a body and more"
    if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_ACTIONS:
        return f"actions is a list of 1 to {MAX_ACTIONS} actions"
    typed = name != "twilio/quick-reply"
    return next(
        (problem for action in actions if (problem := _action_problem(action, allowed, typed=typed))), None
    )


def _action_problem(action: object, allowed: tuple[str, ...], *, typed: bool) -> str | None:
    if not isinstance(action, dict):
        return "an action is a JSON object"
    kind = action.get("type", None if typed else "QUICK_REPLY")
    if kind not in allowed:
        return f"action type {kind!r} is not one of {', '.join(allowed)}"
    title = action.get("title")
    if not isinstance(title, str) or not title or len(title) > 25:
        return "an action's title is 1 to 25 characters"
    needed = _ACTION_FIELDS.get(str(kind))
    if needed is not None and not (isinstance(action.get(needed), str) and action[needed]):
        return f"a {kind} action needs {needed}"
    if kind == "URL" and not _is_http_url(action["url"]):
        return "a URL action's url is an http(s) URL"
    return None


def checked_approval(body: object, content: ContentRecord) -> tuple[str, str]:
    if content.approval is not None:
        raise _invalid("This content has already been submitted for WhatsApp approval")
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object")
    name, category = body.get("name"), body.get("category")
    if not isinstance(name, str) or not TEMPLATE_NAME.fullmatch(name):
        raise _invalid("The template name may contain only lowercase letters, numbers and underscores")
    if category not in CATEGORIES:
        raise _invalid(f"Category must be one of {', '.join(CATEGORIES)}")
    used = {match for text in content_texts(content.types) for match in VARIABLE.findall(text)}
    if not all(variable.isascii() and variable.isdigit() for variable in used):
        raise _invalid("WhatsApp templates take numbered variables only ({{1}}, {{2}} ...)")
    missing = sorted(variable for variable in used if not content.variables.get(variable))
    if missing:
        raise _invalid(f"A sample value is required for each variable: missing {{{{{missing[0]}}}}}")
    return name, category


def _is_http_url(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in url)
