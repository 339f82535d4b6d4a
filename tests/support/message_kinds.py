"""A message of every kind, as storage, the API and the providers' tests share them: ``CONTENTS`` in the
domain's words, and ``SENDS``, what ``POST /api/send`` takes for each kind a business sends."""

from __future__ import annotations

from typing import Any

from domain.messaging.content import (
    Choice,
    ContactCard,
    Interactive,
    InteractiveKind,
    ListSection,
    Location,
    Media,
    MediaKind,
    Reaction,
)
from domain.messaging.messages import MessageContent, Template

WAMID = "wamid.HBgLMTQxNTU1NTAxMDAVAgARGBI0RkE3QzE2QjVBNDFCQzYwMzcA"
CONTENT_SID = "HX" + "0123456789abcdef" * 2

# Every kind, and the variants of a kind that store differently.
CONTENTS: dict[str, MessageContent] = {
    "text": MessageContent(body="Your order has shipped"),
    "text with a link preview, answering a message": MessageContent(
        body="Track it at https://example.com/track/1042", preview_url=True, reply_to=WAMID
    ),
    "media by URL": MessageContent(body="Your receipt", media_urls=("https://example.com/receipt.png",)),
    "typed media": MessageContent(
        body="Invoice and photo",
        media=(
            Media(
                kind=MediaKind.DOCUMENT, url="https://example.com/invoice.pdf", filename="invoice-1042.pdf"
            ),
            Media(kind=MediaKind.IMAGE, provider_media_id="1234567890"),
        ),
    ),
    "inbound media": MessageContent(
        media=(
            Media(
                kind=MediaKind.STICKER,
                url="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
                content_type="image/webp",
                stored_media_id="f3b2a1c0d9e8",
            ),
        )
    ),
    "template by Content SID": MessageContent(template=Template.of(CONTENT_SID, {"1": "Alice", "2": "3pm"})),
    "template by name": MessageContent(template=Template.named("order_update", "pt_BR", {"1": "Alice"})),
    "reply buttons": MessageContent(
        interactive=Interactive(
            kind=InteractiveKind.BUTTONS,
            body="Shall we deliver tomorrow?",
            header="Delivery",
            footer="Reply any time",
            buttons=(Choice(id="yes", title="Yes"), Choice(id="no", title="No")),
        )
    ),
    "a list": MessageContent(
        interactive=Interactive(
            kind=InteractiveKind.LIST,
            body="Pick a size",
            button_label="Sizes",
            sections=(
                ListSection(
                    title="Shirts", rows=(Choice(id="m", title="Medium", description="Chest 96 cm"),)
                ),
                ListSection(title="Trousers", rows=(Choice(id="32", title="32"),)),
            ),
        )
    ),
    "a call-to-action URL": MessageContent(
        interactive=Interactive(
            kind=InteractiveKind.CTA_URL,
            body="See your order",
            button_label="Open",
            url="https://example.com/orders/1042",
        )
    ),
    "a location on the equator": MessageContent(
        location=Location(latitude=0.0, longitude=-78.4558, name="Mitad del Mundo", address="Quito")
    ),
    "contact cards": MessageContent(
        contacts=(
            ContactCard(name="Ana Souza", phones=("+5511987654321",), emails=("ana@example.com",)),
            ContactCard(name="Support", organization="Acme"),
        )
    ),
    "a reaction": MessageContent(reaction=Reaction(provider_message_id=WAMID, emoji="👍")),
    "a reaction taken back": MessageContent(reaction=Reaction(provider_message_id=WAMID, emoji="")),
    "a reply to a list": MessageContent(
        body="Medium", reply=Choice(id="m", title="Medium", description="Chest 96 cm"), reply_to=WAMID
    ),
    "an unsupported kind": MessageContent(unsupported="ephemeral"),
}

# What a send takes for each kind a business sends, by the kind it makes.
SENDS: dict[str, dict[str, Any]] = {
    "text": {"body": "Your order has shipped", "preview_url": True},
    "media": {
        "body": "Invoice and photo",
        "media": [
            {"type": "document", "url": "https://example.com/invoice.pdf", "filename": "invoice-1042.pdf"},
            {"type": "image", "id": "1234567890"},
        ],
    },
    "template": {"template": {"name": "order_update", "language": "pt_BR", "variables": {"1": "Alice"}}},
    "interactive": {
        "interactive": {
            "type": "list",
            "body": "Pick a size",
            "header": "Sizes",
            "footer": "Free returns",
            "button": "Sizes",
            "sections": [
                {"title": "Shirts", "rows": [{"id": "m", "title": "Medium", "description": "Chest 96 cm"}]},
                {"title": "Trousers", "rows": [{"id": "32", "title": "32"}]},
            ],
        }
    },
    "location": {"location": {"latitude": 0.0, "longitude": -78.4558, "name": "Mitad del Mundo"}},
    "contacts": {
        "contacts": [
            {"name": "Ana Souza", "phones": ["+5511987654321"], "emails": ["ana@example.com"]},
            {"name": "Support", "organization": "Acme"},
        ]
    },
    "reaction": {"reaction": {"message_id": WAMID, "emoji": "👍"}},
}
