"""The part of Twilio's REST API the emulator speaks: create, fetch and list Messages."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from urllib.parse import urlsplit

from aiohttp import web

from emulators.common.faults import apply_latency, pick_failure, unanswered
from emulators.common.settings import FailureKind
from emulators.common.state import utcnow
from emulators.twilio import errors
from emulators.twilio.config import WHATSAPP_PREFIX, ForcedError, Stage
from emulators.twilio.keys import STATE, WEBHOOKS
from emulators.twilio.state import AuthUsed, EmulatorState, MessageRecord, ReceivedRequest
from emulators.twilio.wire import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    message_page,
    message_resource,
)

WHATSAPP_ADDRESS = re.compile(r"whatsapp:\+[1-9]\d{6,14}")
E164 = re.compile(r"\+[1-9]\d{6,14}")
CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
# A WhatsApp location as Twilio's PersistentAction takes it: a geo URI, and a label after "|".
GEO_ACTION = re.compile(r"geo:(?P<latitude>-?\d{1,2}(\.\d+)?),(?P<longitude>-?\d{1,3}(\.\d+)?)(\|[^|]*)?")
DATE_FILTERS = ("DateSent", "DateSent<", "DateSent>")

_FAILURES: dict[FailureKind, tuple[int, int]] = {
    FailureKind.RATE_LIMITED: (errors.RATE_LIMITED, 429),
    FailureKind.SERVER_ERROR: (errors.INTERNAL_ERROR, 500),
    FailureKind.UNAVAILABLE: (errors.SERVICE_UNAVAILABLE, 503),
}


class TwilioError(Exception):
    """Ends a request with Twilio's error body."""

    def __init__(
        self, code: int, message: str, http_status: int, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.headers = dict(headers or {})

    @classmethod
    def of(
        cls,
        code: int,
        *,
        http_status: int | None = None,
        headers: Mapping[str, str] | None = None,
        **fmt: str,
    ) -> TwilioError:
        """The catalogued error ``code``, its message filled with ``fmt`` (to, from_, uri)."""
        spec = errors.CATALOGUE[code]
        message = spec.message.format(**{"to": "", "from_": "", "uri": "", **fmt})
        return cls(code, message, http_status or spec.http_status or 400, headers)

    def response(self) -> web.Response:
        body = errors.error_body(self.code, self.message, self.http_status)
        headers = dict(self.headers)
        if self.code == errors.AUTHENTICATE:
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return web.json_response(body, status=self.http_status, headers=headers)


def _fields(values: Mapping[str, object]) -> dict[str, list[str]]:
    """Every field with all its values, in order (a multidict's items() repeat a key); files are ignored."""
    fields: dict[str, list[str]] = {}
    for key, value in values.items():
        if isinstance(value, str):
            fields.setdefault(key, []).append(value)
    return fields


async def _begin(request: web.Request, state: EmulatorState) -> tuple[ReceivedRequest, AuthUsed]:
    """Read and record the request, then apply the configured latency."""
    form = _fields(await request.post()) if request.method == "POST" else {}
    account_sid = request.match_info.get("account_sid", "")
    auth = state.authenticate(request.headers.get("Authorization"), account_sid)
    record = state.record_request(
        method=request.method,
        path=request.path,
        account_sid=account_sid,
        auth=auth,
        form=form,
        query=_fields(request.query),
    )
    await apply_latency(state)
    return record, auth


def _fail(state: EmulatorState, record: ReceivedRequest, error: TwilioError, outcome: str) -> web.Response:
    state.finish_request(record, outcome, http_status=error.http_status, error_code=error.code)
    return error.response()


async def create_message(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    record, auth = await _begin(request, state)
    if not auth.ok:
        return _fail(state, record, TwilioError.of(errors.AUTHENTICATE), "unauthorized")
    failure = pick_failure(state)
    if failure is not None and state.faults.strikes_before_creation(failure):
        return await _answer_failure(request, state, record, failure)
    try:
        draft = _validate(record, state)
    except TwilioError as error:
        return _fail(state, record, error, "rejected")
    forced = _forced_error(state, draft)
    if forced is not None and forced.stage is Stage.REQUEST:
        return _fail(state, record, TwilioError(forced.code, forced.message, forced.http_status), "rejected")

    now = utcnow()
    message = MessageRecord(
        sid=state.new_sid("MM" if draft.media_urls else "SM"),
        account_sid=record.account_sid,
        to=draft.to,
        from_=draft.from_,
        body=draft.body,
        direction="outbound-api",
        status="queued",
        date_created=now,
        date_updated=now,
        media_urls=draft.media_urls,
        content_sid=draft.content_sid,
        content_variables=draft.content_variables,
        persistent_action=draft.persistent_action,
        status_callback=draft.status_callback,
        auth=auth,
    )
    state.add_message(message)
    request.app[WEBHOOKS].start_progression(message, forced)
    if failure is not None:  # created, but the answer is lost: the case that must never be resent blindly
        record.message_sid = message.sid
        return await _answer_failure(request, state, record, failure)
    state.finish_request(record, "created", http_status=201, message_sid=message.sid)
    return web.json_response(message_resource(message), status=201)


async def _answer_failure(
    request: web.Request, state: EmulatorState, record: ReceivedRequest, failure: FailureKind
) -> web.StreamResponse:
    """The answer of a request failing on purpose (``Faults.failure_rate``)."""
    no_answer = await unanswered(request, state, record, failure)
    if no_answer is not None:
        return no_answer
    code, status = _FAILURES[failure]
    error = TwilioError.of(
        code,
        http_status=status,
        headers={"Retry-After": str(state.faults.retry_after_seconds)} if status == 429 else None,
    )
    state.finish_request(record, failure.value, http_status=status, error_code=code)
    return error.response()


@dataclass(frozen=True, slots=True)
class _Draft:
    to: str
    from_: str
    body: str
    media_urls: tuple[str, ...]
    content_sid: str | None
    content_variables: str | None
    status_callback: str | None
    persistent_action: tuple[str, ...]


def _one(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[-1] if values else None


def _validate(record: ReceivedRequest, state: EmulatorState) -> _Draft:
    """Twilio's checks of a new WhatsApp message, in Twilio's order as far as it is known."""
    form = record.form
    to = (_one(form, "To") or "").strip()
    from_ = (_one(form, "From") or "").strip()
    body = _one(form, "Body") or ""
    media_urls = tuple(url for url in form.get("MediaUrl", []) if url)
    content_sid = _one(form, "ContentSid") or None
    content_variables = _one(form, "ContentVariables") or None
    status_callback = _one(form, "StatusCallback") or None
    persistent_action = tuple(form.get("PersistentAction", []))

    _check_addresses(to, from_, state, record.account_sid)
    if not body and not media_urls and not content_sid:
        raise TwilioError.of(errors.BODY_REQUIRED)
    if len(body) > state.config.max_body_length:
        raise TwilioError.of(errors.BODY_TOO_LONG)
    if len(media_urls) > state.config.max_media:
        raise TwilioError.of(errors.TOO_MANY_MEDIA)
    if not all(_is_http_url(url) for url in media_urls):
        raise TwilioError.of(errors.INVALID_MEDIA_URL)
    if content_sid is not None and not (
        CONTENT_SID.fullmatch(content_sid) and state.may_send_content(record.account_sid, content_sid)
    ):
        raise TwilioError.of(errors.INVALID_CONTENT_SID)
    if content_variables is not None and not _is_json_object(content_variables):
        raise TwilioError.of(errors.INVALID_CONTENT_VARIABLES)
    if status_callback is not None and not _is_http_url(status_callback):
        raise TwilioError.of(errors.INVALID_STATUS_CALLBACK)
    if not all(_is_location(action) for action in persistent_action):
        raise TwilioError.of(errors.INVALID_PARAMETER)
    return _Draft(
        to, from_, body, media_urls, content_sid, content_variables, status_callback, persistent_action
    )


def _check_addresses(to: str, from_: str, state: EmulatorState, account_sid: str) -> None:
    if not to:
        raise TwilioError.of(errors.TO_REQUIRED)
    if not WHATSAPP_ADDRESS.fullmatch(to):
        raise TwilioError.of(errors.INVALID_TO, to=to)
    if not from_:
        raise TwilioError.of(errors.FROM_REQUIRED)
    if not from_.startswith(WHATSAPP_PREFIX) and E164.fullmatch(from_):
        raise TwilioError.of(errors.CHANNEL_MISMATCH)
    if not WHATSAPP_ADDRESS.fullmatch(from_):
        raise TwilioError.of(errors.INVALID_FROM, from_=from_)
    if not state.may_send_from(account_sid, from_):
        raise TwilioError.of(errors.UNKNOWN_SENDER)


def _forced_error(state: EmulatorState, draft: _Draft) -> errors.ResolvedError | None:
    forced: ForcedError | None = state.faults.error_for(to=draft.to, from_=draft.from_)
    if forced is None:
        return None
    return errors.resolve(forced, to=draft.to, from_=draft.from_)


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in url)


def _is_location(action: str) -> bool:
    point = GEO_ACTION.fullmatch(action)
    return point is not None and abs(float(point["latitude"])) <= 90 and abs(float(point["longitude"])) <= 180


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


async def fetch_message(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    record, auth = await _begin(request, state)
    if not auth.ok:
        return _fail(state, record, TwilioError.of(errors.AUTHENTICATE), "unauthorized")
    message = state.messages.get(request.match_info["sid"])
    if message is None or message.account_sid != record.account_sid:
        return _fail(state, record, TwilioError.of(errors.NOT_FOUND, uri=request.path), "not_found")
    state.finish_request(record, "fetched", http_status=200, message_sid=message.sid)
    return web.json_response(message_resource(message))


async def list_messages(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    record, auth = await _begin(request, state)
    if not auth.ok:
        return _fail(state, record, TwilioError.of(errors.AUTHENTICATE), "unauthorized")
    query = request.query
    try:
        page_size = min(int(query.get("PageSize", DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
        page = int(query.get("Page", 0))
        bounds = {name: _parse_date(name, query[name]) for name in DATE_FILTERS if name in query}
    except ValueError:
        return _fail(state, record, TwilioError.of(errors.INVALID_PARAMETER), "rejected")
    if page_size < 1 or page < 0:
        return _fail(state, record, TwilioError.of(errors.INVALID_PARAMETER), "rejected")
    matching = [
        message
        for message in reversed(state.messages.values())  # newest first, like Twilio
        if message.account_sid == record.account_sid
        and _matches(message, to=query.get("To"), from_=query.get("From"), bounds=bounds)
    ]
    filters = {name: query[name] for name in ("To", "From", *DATE_FILTERS) if name in query}
    state.finish_request(record, "listed", http_status=200)
    return web.json_response(
        message_page(
            account_sid=record.account_sid, messages=matching, filters=filters, page=page, page_size=page_size
        )
    )


def _parse_date(name: str, text: str) -> date:
    """A date filter's bound: a UTC day, or (DateSent< / DateSent> only) a moment.

    Twilio documents ``YYYY-MM-DD``; the SDK sends ``YYYY-MM-DDTHH:MM:SSZ`` (a date becomes midnight).
    ``DateSent`` matches the whole day whatever the time; the range filters use the time when it is not
    midnight (the emulator's reading: Twilio documents days only).
    """
    value = text.strip()
    if len(value) == 10:
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.date() if name == "DateSent" or moment.time() == time(0) else moment


def _matches(
    message: MessageRecord, *, to: str | None, from_: str | None, bounds: Mapping[str, date]
) -> bool:
    if to is not None and not _same_address(message.to, to):
        return False
    if from_ is not None and not _same_address(message.from_, from_):
        return False
    return all(_sent_within(message.date_sent, name, bound) for name, bound in bounds.items())


def _sent_within(sent: datetime | None, name: str, bound: date) -> bool:
    if sent is None:  # not sent yet: no date filter matches
        return False
    value: date = sent if isinstance(bound, datetime) else sent.date()  # compare like with like
    if name == "DateSent<":  # on or before
        return value <= bound
    if name == "DateSent>":  # on or after
        return value >= bound
    return value == bound


def _same_address(stored: str, wanted: str) -> bool:
    return stored == wanted or stored.removeprefix(WHATSAPP_PREFIX) == wanted.removeprefix(WHATSAPP_PREFIX)


async def not_found(request: web.Request) -> web.StreamResponse:
    error = TwilioError.of(errors.NOT_FOUND, uri=request.path)
    return error.response()
