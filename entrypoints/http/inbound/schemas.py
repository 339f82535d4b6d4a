"""What Twilio posts to the provider-callback routes, as the OpenAPI schema documents it.

The form is read by the Twilio adapter, not decoded here (``adapters/twilio/form.py``): these schemas
only document it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.enums import RequestEncodingType
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema


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
class TwilioInboundOperation(Operation):
    """The operation of a route Twilio posts incoming messages to: documents the form it posts."""

    def __post_init__(self) -> None:
        self.request_body = _INBOUND_FORM


@dataclass
class TwilioStatusOperation(Operation):
    """The operation of the route Twilio posts status reports to: documents the form it posts."""

    def __post_init__(self) -> None:
        self.request_body = _STATUS_FORM
