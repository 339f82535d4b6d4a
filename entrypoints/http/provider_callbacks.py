"""Twilio's webhooks over HTTP: authenticated by Twilio's signature, not by a Bearer token.

The signature covers the URL Twilio called, so that URL is rebuilt here from ``PUBLIC_BASE_URL`` (the
address Twilio is given) plus the path and raw query string of the request, never from the Host header:
behind a proxy or a tunnel the app sees another host, scheme and port than Twilio used, and a Host
header is whatever the client sends. Without ``PUBLIC_BASE_URL`` (development) the URL as received is
used.

The form is parsed here, not by Litestar: its parser drops fields with blank values (the ``Body=`` of a
media-only message), which are signed like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, quote

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import HeaderParameter, RawBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from application.inbound.callbacks import (
    InboundMessageWebhook,
    ReceiveInboundMessage,
    RecordStatusCallback,
    SignedWebhook,
    StatusCallbackWebhook,
)
from entrypoints.http.access import public
from entrypoints.http.client_address import client_address
from entrypoints.http.dependencies import container_of
from entrypoints.http.problems import problem_responses
from entrypoints.http.rate_limits import never_rate_limited

SIGNATURE_HEADER = "X-Twilio-Signature"
TWIML_MEDIA_TYPE = "text/xml"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
# Path characters kept as they are when the routed path is put back into a URL.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"

W = TypeVar("W", bound=SignedWebhook)

Signature = Annotated[
    str | None,
    HeaderParameter(
        name=SIGNATURE_HEADER,
        required=False,
        description="Twilio's signature of the URL and every posted field, with the tenant's auth token",
    ),
]


async def provide_receive_inbound_message(request: Request[Any, Any, Any]) -> ReceiveInboundMessage:
    return container_of(request).receive_inbound_message()


async def provide_record_status_callback(request: Request[Any, Any, Any]) -> RecordStatusCallback:
    return container_of(request).record_status_callback()


def posted_fields(request: Request[Any, Any, Any], body: bytes) -> dict[str, list[str]]:
    """Every posted field with all its values, in order, blank values included.

    A body that is not form-encoded has no fields: its signature cannot match.
    """
    if request.content_type[0] != RequestEncodingType.URL_ENCODED:
        return {}
    fields: dict[str, list[str]] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(name, []).append(value)
    return fields


def signed_url(request: Request[Any, Any, Any], public_base_url: str | None) -> str:
    """The URL Twilio called, as it signed it."""
    if not public_base_url:
        return str(request.url)
    path = quote(request.scope["path"], safe=_PATH_SAFE)
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{public_base_url.rstrip('/')}{path}" + (f"?{query}" if query else "")


def signed_webhook(kind: type[W], request: Request[Any, Any, Any], body: bytes, signature: str | None) -> W:
    """The command for a webhook use case: the URL as signed, every posted field, the signature, and
    the address it came from."""
    public_base_url = container_of(request).settings().public_base_url
    return kind(
        url=signed_url(request, public_base_url),
        params=posted_fields(request, body),
        signature=signature or "",
        client_address=client_address(request),
    )


def _form(description: str, fields: dict[str, tuple[str, str]]) -> RequestBody:
    """A form-encoded request body documenting ``fields`` (name: (description, example))."""
    properties: dict[str, Any] = {
        name: Schema(type=OpenAPIType.STRING, description=text, examples=[example])
        for name, (text, example) in fields.items()
    }
    return RequestBody(
        content={
            RequestEncodingType.URL_ENCODED.value: OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.OBJECT,
                    properties=properties,
                    additional_properties=True,
                    description="Every field Twilio posts is signed; only these are read.",
                )
            )
        },
        description=description,
        required=True,
    )


_ACCOUNT_EXAMPLE = "AC" + "0" * 32
_MESSAGE_SID_EXAMPLE = "SM" + "0" * 32
_INBOUND_FORM = _form(
    "An incoming WhatsApp message, form-encoded and signed by Twilio",
    {
        "AccountSid": ("The Twilio account the number belongs to", _ACCOUNT_EXAMPLE),
        "MessageSid": (
            "Twilio's id of the message; a repeated delivery is stored once",
            _MESSAGE_SID_EXAMPLE,
        ),
        "From": ("The customer", "whatsapp:+14155550123"),
        "To": ("The tenant's WhatsApp number", "whatsapp:+14155238886"),
        "Body": ("The text", "Hello, is my order on its way?"),
        "NumMedia": ("How many MediaUrlN fields follow", "0"),
        "MediaUrl0": ("The first media item (MediaUrl1, … for the next ones)", "https://example.com/a.jpg"),
        "ProfileName": ("The customer's WhatsApp profile name", "Ana"),
        "WaId": ("The customer's WhatsApp id", "14155550123"),
    },
)
_STATUS_FORM = _form(
    "A delivery status report, form-encoded and signed by Twilio",
    {
        "AccountSid": ("The Twilio account that sent the message", _ACCOUNT_EXAMPLE),
        "MessageSid": ("Twilio's id of the message", _MESSAGE_SID_EXAMPLE),
        "MessageStatus": ("queued, sending, sent, delivered, read, failed, undelivered, …", "delivered"),
        "From": ("The tenant's WhatsApp number the message was sent from", "whatsapp:+14155238886"),
        "To": ("The customer", "whatsapp:+14155550123"),
        "ErrorCode": ("Twilio's error code, for failed and undelivered messages", "30008"),
        "ErrorMessage": ("Twilio's description of the error, when it gives one", "Unknown error"),
    },
)


@dataclass
class _InboundOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _INBOUND_FORM


@dataclass
class _StatusOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _STATUS_FORM


_INBOUND_DESCRIPTION = (
    "Set this URL as the WhatsApp sender's incoming-message webhook in Twilio. The tenant is the one "
    "whose number is `To` and whose Twilio account is `AccountSid`; the `X-Twilio-Signature` must verify "
    "with that tenant's auth token, else 403 and nothing is stored (posts from one address that keep "
    "failing that check for one account and number get 429 for a while; Twilio's own never do). A "
    "message Twilio delivers twice (same `MessageSid`) is stored once. The reply is empty TwiML: nothing "
    "is sent back."
)


class TwilioWebhooksController(Controller):
    """Twilio's webhooks.

    They are exempt from the per-address request limit: Twilio posts every tenant's callbacks (several
    per message, repeats included) from a small pool of shared addresses, so a per-address limit would
    throttle Twilio itself, and a refused webhook is not posted again. What is limited is failed
    signature checks, by a rule under which a webhook Twilio signed for a configured number is never
    refused (application/inbound/callbacks.py): TWILIO_SIGNATURE_FAILURES_PER_MINUTE per client
    address, Twilio account and number, ten times that per client address. Each request is bounded by
    the body size limit; one that cannot be Twilio's (no signature, or not of Twilio's form) is refused
    before any lookup, one with a wrong signature after at most one indexed lookup and a few HMACs.
    """

    path = "/"
    tags = ["webhooks"]
    opt = {
        **public("Twilio's signature (X-Twilio-Signature), checked by the use case"),
        **never_rate_limited("Twilio posts every tenant's callbacks from a few shared addresses"),
    }
    dependencies = {
        "receive_inbound_message": Provide(provide_receive_inbound_message),
        "record_status_callback": Provide(provide_record_status_callback),
    }

    @post(
        "/webhooks/twilio/inbound",
        operation_id="receiveTwilioMessage",
        summary="Twilio webhook: an incoming WhatsApp message",
        description=_INBOUND_DESCRIPTION,
        status_code=HTTP_200_OK,
        media_type=TWIML_MEDIA_TYPE,
        operation_class=_InboundOperation,
        responses=problem_responses(400, 403, 413, 422, 429, 503),
    )
    async def inbound(
        self,
        request: Request[Any, Any, Any],
        body: RawBody,
        receive_inbound_message: NamedDependency[ReceiveInboundMessage],
        signature: Signature = None,
    ) -> Response[str]:
        return await _receive(request, body, signature, receive_inbound_message)

    @post(
        "/webhook/twilio",
        operation_id="receiveTwilioMessageLegacy",
        summary="Twilio webhook: an incoming WhatsApp message (former address)",
        description="The address of earlier versions, kept for senders configured with it. "
        + _INBOUND_DESCRIPTION,
        status_code=HTTP_200_OK,
        media_type=TWIML_MEDIA_TYPE,
        operation_class=_InboundOperation,
        deprecated=True,
        responses=problem_responses(400, 403, 413, 422, 429, 503),
    )
    async def inbound_legacy(
        self,
        request: Request[Any, Any, Any],
        body: RawBody,
        receive_inbound_message: NamedDependency[ReceiveInboundMessage],
        signature: Signature = None,
    ) -> Response[str]:
        return await _receive(request, body, signature, receive_inbound_message)

    @post(
        "/webhooks/twilio/status",
        operation_id="recordTwilioStatus",
        summary="Twilio webhook: a message's delivery status",
        description=(
            "The StatusCallback of every message sent through Twilio. Signed like the inbound webhook "
            "(the tenant's number is `From`). A status only moves forward; every distinct report, "
            "applied or not, is kept in the message's timeline, and a repeat of one kept already "
            "(same MessageSid, status and error code) changes nothing. Reports about unknown messages "
            "are acknowledged and dropped."
        ),
        status_code=HTTP_204_NO_CONTENT,
        operation_class=_StatusOperation,
        responses=problem_responses(400, 403, 413, 422, 429, 503),
    )
    async def status(
        self,
        request: Request[Any, Any, Any],
        body: RawBody,
        record_status_callback: NamedDependency[RecordStatusCallback],
        signature: Signature = None,
    ) -> None:
        await record_status_callback(signed_webhook(StatusCallbackWebhook, request, body, signature))


async def _receive(
    request: Request[Any, Any, Any],
    body: bytes,
    signature: str | None,
    receive_inbound_message: ReceiveInboundMessage,
) -> Response[str]:
    await receive_inbound_message(signed_webhook(InboundMessageWebhook, request, body, signature))
    return Response(EMPTY_TWIML, status_code=HTTP_200_OK, media_type=TWIML_MEDIA_TYPE)
