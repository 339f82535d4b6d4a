"""Meta's error codes as the emulator uses them, and the Graph API's error body.

A Graph API error is ``{"error": {"message", "type", "code", "error_subcode"?, "error_data"?,
"fbtrace_id"}}``; WhatsApp's own codes carry ``error_data: {"messaging_product": "whatsapp",
"details"}`` and a message ``(#code) title``. ``error_subcode`` is present only where Meta still sends
one (33: no such object, 463: token expired). Errors reported at delivery come in a ``failed`` status
webhook as ``{"code", "title", "message", "error_data": {"details"}, "href"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from emulators.meta.config import ForcedError, Stage

HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
OAUTH = "OAuthException"
GRAPH_METHOD = "GraphMethodException"

API_SERVICE = 2
INVALID_PARAMETER = 100
ACCESS_TOKEN = 190
NO_SUCH_OBJECT = 33  # the subcode of code 100 for an id that does not exist (or is not yours)
TOKEN_EXPIRED = 463  # the subcode of code 190
TEMPORARILY_BLOCKED = 368
RATE_LIMITED = 130429
SOMETHING_WENT_WRONG = 131000
REQUIRED_PARAMETER = 131008
INVALID_VALUE = 131009
RECIPIENT_IS_SENDER = 131021
UNDELIVERABLE = 131026
ACCOUNT_LOCKED = 131031
RE_ENGAGEMENT = 131047
UNSUPPORTED_TYPE = 131051
MEDIA_UPLOAD = 131053
PAIR_RATE_LIMITED = 131056
TEMPLATE_PARAMETERS = 132000
TEMPLATE_MISSING = 132001
TEMPLATE_PAUSED = 132015
TEMPLATE_DISABLED = 132016
# Subcodes of code 100 that the message-template endpoints answer with.
TEMPLATE_EXISTS = 2388024
TEMPLATE_BEING_DELETED = 2388023
TEMPLATE_INVALID = 2388043
TEMPLATE_NOT_EDITABLE = 2388046


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    title: str
    http_status: int
    details: str
    stage: Stage = Stage.REQUEST  # where Meta reports it unless told otherwise


CATALOGUE: dict[int, ErrorSpec] = {
    0: ErrorSpec("AuthException", 401, "We were unable to authenticate the app user."),
    1: ErrorSpec("API Unknown", 400, "Invalid request or possible server error."),
    API_SERVICE: ErrorSpec(
        "Service temporarily unavailable", 503, "Temporary due to downtime or due to being overloaded."
    ),
    4: ErrorSpec("Application request limit reached", 400, "The app has reached its API call rate limit."),
    10: ErrorSpec("Application does not have permission for this action", 403, "Permission is not granted."),
    INVALID_PARAMETER: ErrorSpec("Invalid parameter", 400, "Invalid parameter"),
    ACCESS_TOKEN: ErrorSpec("Access token has expired", 401, "The access token is expired or invalid."),
    TEMPORARILY_BLOCKED: ErrorSpec(
        "Temporarily blocked for policies violations",
        403,
        "The WhatsApp Business Account is restricted from messaging because of policy violations.",
    ),
    RATE_LIMITED: ErrorSpec(
        "Rate limit hit",
        429,
        "Message failed to send because there were too many messages sent from this phone number "
        "in a short period of time.",
    ),
    130472: ErrorSpec(
        "User's number is part of an experiment",
        400,
        "Failed to send message because this user's phone number is part of an experiment.",
        Stage.DELIVERY,
    ),
    SOMETHING_WENT_WRONG: ErrorSpec(
        "Something went wrong", 500, "Message failed to send due to an unknown error."
    ),
    131005: ErrorSpec("Access denied", 403, "Permission is either not granted or has been removed."),
    REQUIRED_PARAMETER: ErrorSpec("Required parameter is missing", 400, "A required parameter is missing."),
    INVALID_VALUE: ErrorSpec("Parameter value is not valid", 400, "A parameter value is not valid."),
    131016: ErrorSpec("Service unavailable", 503, "A service is temporarily unavailable."),
    RECIPIENT_IS_SENDER: ErrorSpec(
        "Recipient cannot be sender", 400, "Sender and recipient phone number is the same."
    ),
    UNDELIVERABLE: ErrorSpec(
        "Message undeliverable",
        400,
        "Message failed to send because the recipient is not a WhatsApp user, has not accepted the "
        "latest Terms of Service, or uses an old WhatsApp version.",
        Stage.DELIVERY,
    ),
    ACCOUNT_LOCKED: ErrorSpec(
        "Business Account locked", 403, "The WhatsApp Business Account has been locked."
    ),
    131042: ErrorSpec(
        "Business eligibility payment issue",
        400,
        "Message failed to send because there were one or more errors related to your payment method.",
        Stage.DELIVERY,
    ),
    RE_ENGAGEMENT: ErrorSpec(
        "Re-engagement message",
        400,
        "Message failed to send because more than 24 hours have passed since the customer last "
        "replied to this number.",
        Stage.DELIVERY,
    ),
    131048: ErrorSpec(
        "Spam rate limit hit",
        400,
        "Message failed to send because there are restrictions on how many messages can be sent from "
        "this phone number.",
        Stage.DELIVERY,
    ),
    131049: ErrorSpec(
        "This message was not delivered to maintain healthy ecosystem engagement.",
        400,
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
        Stage.DELIVERY,
    ),
    131050: ErrorSpec(
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages "
        "on WhatsApp from your business.",
        400,
        "The recipient has stopped marketing messages from this business.",
        Stage.DELIVERY,
    ),
    UNSUPPORTED_TYPE: ErrorSpec("Message type unknown", 400, "Message type is currently not supported."),
    131052: ErrorSpec(
        "Media download error", 400, "Unable to download the media sent by the user.", Stage.DELIVERY
    ),
    MEDIA_UPLOAD: ErrorSpec("Media upload error", 400, "Unable to upload the media used in the message."),
    PAIR_RATE_LIMITED: ErrorSpec(
        "(Business Account, Consumer Account) pair rate limit hit",
        400,
        "Message failed to send because there were too many messages sent from this phone number to "
        "the same phone number in a short period of time.",
    ),
    131057: ErrorSpec("Account in maintenance mode", 500, "Business Account is in maintenance mode."),
    TEMPLATE_PARAMETERS: ErrorSpec(
        "Number of parameters does not match the expected number of params",
        400,
        "The number of parameters provided does not match the expected number of parameters.",
    ),
    TEMPLATE_MISSING: ErrorSpec(
        "Template name does not exist in the translation", 404, "The template does not exist."
    ),
    132005: ErrorSpec("Translated text too long", 400, "Translated text is too long."),
    TEMPLATE_PAUSED: ErrorSpec("Template is Paused", 400, "Template is paused due to low quality."),
    TEMPLATE_DISABLED: ErrorSpec("Template is Disabled", 400, "Template has been paused too many times."),
    133010: ErrorSpec("Account not registered", 400, "The phone number is not registered."),
    135000: ErrorSpec("Generic user error", 400, "Message failed to send because of an unknown error."),
}


class MetaError(Exception):
    """Ends a Graph API request with Meta's error body (see ``body``)."""

    def __init__(
        self,
        code: int,
        message: str,
        http_status: int,
        *,
        details: str | None = None,
        error_type: str = OAUTH,
        subcode: int | None = None,
        headers: Mapping[str, str] | None = None,
        user_title: str | None = None,
        user_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.user_title = user_title
        self.user_message = user_message
        self.code = code
        self.message = message
        self.http_status = http_status
        self.details = details
        self.error_type = error_type
        self.subcode = subcode
        self.headers = dict(headers or {})

    @classmethod
    def of(cls, code: int, details: str | None = None, *, http_status: int | None = None) -> MetaError:
        """The catalogued WhatsApp error ``code``: ``(#code) title``, with ``details``."""
        spec = CATALOGUE.get(code) or ErrorSpec(f"Error {code}", 400, f"Error {code}")
        return cls(
            code, f"(#{code}) {spec.title}", http_status or spec.http_status, details=details or spec.details
        )

    @classmethod
    def forced(cls, error: ResolvedError) -> MetaError:
        return cls(error.code, f"(#{error.code}) {error.title}", error.http_status, details=error.details)

    @classmethod
    def invalid_token(cls) -> MetaError:
        return cls(
            ACCESS_TOKEN,
            "Invalid OAuth access token - Cannot parse access token",
            401,
            headers={
                "WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token"'
            },
        )

    @classmethod
    def expired_token(cls, now_text: str) -> MetaError:
        return cls(
            ACCESS_TOKEN,
            f"Error validating access token: Session has expired. The current time is {now_text}.",
            401,
            subcode=TOKEN_EXPIRED,
            headers={"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token" "Session has expired"'},
        )

    @classmethod
    def no_such_object(cls, object_id: str, method: str) -> MetaError:
        """Graph's answer for an id that does not exist, or that the token may not use."""
        return cls(
            INVALID_PARAMETER,
            f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation. Please read the Graph "
            "API documentation at https://developers.facebook.com/docs/graph-api",
            400,
            error_type=GRAPH_METHOD,
            subcode=NO_SUCH_OBJECT,
        )

    @classmethod
    def template(cls, subcode: int, title: str, message: str) -> MetaError:
        """A refusal of the message-template endpoints: ``Invalid parameter`` (code 100) with a subcode,
        and a title and a message meant for the person who wrote the template."""
        return cls(
            INVALID_PARAMETER,
            "Invalid parameter",
            400,
            subcode=subcode,
            user_title=title,
            user_message=message,
        )

    def body(self, fbtrace_id: str) -> dict[str, object]:
        error: dict[str, object] = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.user_title is not None or self.user_message is not None:
            error["is_transient"] = False
            error["error_user_title"] = self.user_title or ""
            error["error_user_msg"] = self.user_message or ""
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = fbtrace_id
        return {"error": error}


@dataclass(frozen=True, slots=True)
class ResolvedError:
    code: int
    stage: Stage
    http_status: int  # meaningful at the request stage
    title: str
    details: str


def resolve(forced: ForcedError) -> ResolvedError:
    """Fill what a forced error leaves unset from the catalogue (unknown codes: a 400 at the request)."""
    spec = CATALOGUE.get(forced.code)
    return ResolvedError(
        code=forced.code,
        stage=forced.stage or (spec.stage if spec else Stage.REQUEST),
        http_status=forced.http_status or (spec.http_status if spec else 400),
        title=forced.title or (spec.title if spec else f"Error {forced.code}"),
        details=forced.details or (spec.details if spec else f"Error {forced.code}"),
    )


def webhook_error(code: int, title: str, details: str) -> dict[str, object]:
    """An error as a status (or message) webhook carries it."""
    return {"code": code, "title": title, "message": title, "error_data": {"details": details}, "href": HREF}
