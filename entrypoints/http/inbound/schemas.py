"""What Twilio and Meta post to the provider-callback routes, as the OpenAPI schema documents it.

The bodies are read by the providers' adapters, not decoded here (``adapters/twilio/form.py``,
``adapters/meta/webhooks.py``): these schemas only document them.
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


# -- Meta ------------------------------------------------------------------------------------------

_META_DELIVERY_EXAMPLE: dict[str, Any] = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "102290129340398",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "15550783881",
                            "phone_number_id": "106540352242922",
                        },
                        "contacts": [{"profile": {"name": "Ana"}, "wa_id": "14155550123"}],
                        "messages": [
                            {
                                "from": "14155550123",
                                "id": "wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQTdCNTg5RjY1MjMxQzRFMkU4NwA=",
                                "timestamp": "1750000000",
                                "type": "text",
                                "text": {"body": "Hello, is my order on its way?"},
                            }
                        ],
                    },
                }
            ],
        }
    ],
}

_META_DELIVERY = RequestBody(
    content={
        "application/json": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                required=["object", "entry"],
                properties={
                    "object": Schema(
                        type=OpenAPIType.STRING,
                        enum=["whatsapp_business_account"],
                        description="What changed: a WhatsApp Business Account",
                    ),
                    "entry": Schema(
                        type=OpenAPIType.ARRAY,
                        description=(
                            "One entry per WhatsApp Business Account (`id`), each with its `changes`: "
                            "a `messages` change holds one phone number's (`value.metadata."
                            "phone_number_id`) `messages`, `statuses` and `contacts`"
                        ),
                        items=Schema(type=OpenAPIType.OBJECT, additional_properties=True),
                    ),
                },
                # Meta adds fields without notice: every byte is signed, only these are read.
                additional_properties=True,
                description="Meta's webhook delivery, as signed: read only once the signature is checked",
            ),
            example=_META_DELIVERY_EXAMPLE,
        )
    },
    description="Changes at the WhatsApp Business Accounts of a Meta app, signed with the app secret",
    required=True,
)


@dataclass
class MetaDeliveryOperation(Operation):
    """The operation of the route Meta posts its webhooks to: documents the JSON it posts."""

    def __post_init__(self) -> None:
        self.request_body = _META_DELIVERY
