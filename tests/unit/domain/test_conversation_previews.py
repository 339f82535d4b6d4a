"""What a conversation list shows of its last message, of every kind."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from domain.messaging.content import ContactCard, Reaction
from domain.messaging.conversations import PREVIEW_LENGTH, preview_of
from domain.messaging.messages import Message, MessageContent
from domain.phone import PhoneNumber
from tests.support.message_kinds import CONTENT_SID, CONTENTS, WAMID


def preview(content: MessageContent) -> str:
    message = Message.new_outbound(
        tenant_id=uuid4(),
        sender=PhoneNumber.parse("+14155238886"),
        contact=PhoneNumber.parse("+14155550100"),
        content=content,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return preview_of(message)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("text", "Your order has shipped"),
        ("media by URL", "Your receipt"),
        ("inbound media", "[1 media]"),
        ("template by Content SID", f"[template {CONTENT_SID}]"),
        ("template by name", "[template order_update (pt_BR)]"),
        ("reply buttons", "Shall we deliver tomorrow?"),
        ("a location on the equator", "[location] Mitad del Mundo"),
        ("contact cards", "[contact] Ana Souza, Support"),
        ("a reaction", "[reaction 👍]"),
        ("a reaction taken back", "[reaction removed]"),
        ("a reply to a list", "Medium"),
        ("an unsupported kind", "[ephemeral message]"),
    ],
)
def test_a_message_shows_its_text_or_else_what_it_was(name: str, shown: str) -> None:
    assert preview(CONTENTS[name]) == shown


def test_a_preview_is_cut_to_its_length() -> None:
    many = tuple(ContactCard(name="x" * 200) for _ in range(2))

    assert len(preview(MessageContent(contacts=many))) == PREVIEW_LENGTH
    assert preview(MessageContent(reaction=Reaction(WAMID, "❤️"))) == "[reaction ❤️]"
