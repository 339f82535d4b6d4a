"""Twilio's error codes as the emulator uses them, and Twilio's error body.

A Twilio REST error body is ``{"code", "message", "more_info", "status"}`` (the legacy shape, which the
SDK turns into ``TwilioRestException``). Codes at the request stage come with an HTTP status; codes
that Twilio reports only later, in a failed/undelivered status callback, have none.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulators.twilio.config import ForcedError, Stage

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"

INVALID_PARAMETER = 20001
AUTHENTICATE = 20003
NOT_FOUND = 20404
RATE_LIMITED = 20429
INTERNAL_ERROR = 20500
SERVICE_UNAVAILABLE = 20503
INVALID_TO = 21211
INVALID_FROM = 21212
BODY_REQUIRED = 21602
FROM_REQUIRED = 21603
TO_REQUIRED = 21604
INVALID_STATUS_CALLBACK = 21609
BODY_TOO_LONG = 21617
INVALID_MEDIA_URL = 21620
TOO_MANY_MEDIA = 21623
INVALID_CONTENT_SID = 21655
INVALID_CONTENT_VARIABLES = 21656
CHANNEL_MISMATCH = 21910
UNKNOWN_SENDER = 63007


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    message: str  # may hold {to} / {from_} / {uri} placeholders
    http_status: int | None  # None: reported at delivery, in a status callback


CATALOGUE: dict[int, ErrorSpec] = {
    INVALID_PARAMETER: ErrorSpec("Invalid parameter", 400),
    AUTHENTICATE: ErrorSpec("Authenticate", 401),
    NOT_FOUND: ErrorSpec("The requested resource {uri} was not found", 404),
    RATE_LIMITED: ErrorSpec("Too Many Requests", 429),
    INTERNAL_ERROR: ErrorSpec("Internal Server Error", 500),
    SERVICE_UNAVAILABLE: ErrorSpec("Service Unavailable", 503),
    INVALID_TO: ErrorSpec("The 'To' number {to} is not a valid phone number.", 400),
    INVALID_FROM: ErrorSpec(
        "The 'From' number {from_} is not a valid phone number, shortcode, or alphanumeric sender ID.", 400
    ),
    21408: ErrorSpec(
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}.",
        400,
    ),
    BODY_REQUIRED: ErrorSpec("Message body is required.", 400),
    FROM_REQUIRED: ErrorSpec("A 'From' phone number is required.", 400),
    TO_REQUIRED: ErrorSpec("A 'To' phone number is required.", 400),
    INVALID_STATUS_CALLBACK: ErrorSpec("Invalid StatusCallback", 400),
    21610: ErrorSpec("Attempt to send to unsubscribed recipient", 400),
    21614: ErrorSpec("'To' number is not a valid mobile number", 400),
    BODY_TOO_LONG: ErrorSpec("The concatenated message body exceeds the 1600 character limit.", 400),
    INVALID_MEDIA_URL: ErrorSpec("Invalid media URL(s)", 400),
    TOO_MANY_MEDIA: ErrorSpec("Number of media files exceeds allowed limit", 400),
    INVALID_CONTENT_SID: ErrorSpec("The ContentSid is Invalid", 400),
    INVALID_CONTENT_VARIABLES: ErrorSpec("The Content Variables parameter is invalid", 400),
    CHANNEL_MISMATCH: ErrorSpec("Invalid From and To pair. From and To should be of the same channel", 400),
    UNKNOWN_SENDER: ErrorSpec("Twilio could not find a Channel with the specified From address", 400),
    # Reported at delivery, in a status callback:
    30003: ErrorSpec("Unreachable destination handset", None),
    30005: ErrorSpec("Unknown destination handset", None),
    30006: ErrorSpec("Landline or unreachable carrier", None),
    30008: ErrorSpec("Unknown error", None),
    63003: ErrorSpec("Channel could not find To address", None),
    63016: ErrorSpec(
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template.",
        None,
    ),
    63018: ErrorSpec("Rate limit exceeded for Channel", None),
    63024: ErrorSpec("Invalid message recipient", None),
    63032: ErrorSpec("We cannot send this message to this user because of a WhatsApp limitation.", None),
}


@dataclass(frozen=True, slots=True)
class ResolvedError:
    code: int
    stage: Stage
    http_status: int  # meaningful at the request stage
    message: str
    delivery_status: str  # "failed" or "undelivered", meaningful at the delivery stage


def resolve(forced: ForcedError, *, to: str = "", from_: str = "", uri: str = "") -> ResolvedError:
    """Fill what a forced error leaves unset from the catalogue (unknown codes: a 400 at the request)."""
    spec = CATALOGUE.get(forced.code)
    stage = forced.stage or (
        Stage.DELIVERY if spec is not None and spec.http_status is None else Stage.REQUEST
    )
    http_status = forced.http_status or (spec.http_status if spec and spec.http_status else 400)
    template = forced.message or (spec.message if spec else f"Error {forced.code}")
    return ResolvedError(
        code=forced.code,
        stage=stage,
        http_status=http_status,
        message=template.format(to=to, from_=from_, uri=uri),
        delivery_status="undelivered" if 30000 <= forced.code < 31000 else "failed",
    )


def error_body(code: int, message: str, http_status: int) -> dict[str, object]:
    return {"code": code, "message": message, "more_info": MORE_INFO.format(code=code), "status": http_status}
