"""The content document of the messages table (adapters/database/content_document.py): every kind reads
back as it was written, plain messages need none, and what a newer version adds is ignored."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest

from adapters.database.content_document import content_document, content_from_columns
from adapters.database.rows import message_values
from domain.messaging.messages import Message, MessageContent
from domain.phone import PhoneNumber
from tests.support.message_kinds import CONTENT_SID, CONTENTS, WAMID
from tests.support.repositories import T0


def message_with(content: MessageContent) -> Message:
    return Message.new_outbound(
        tenant_id=uuid4(),
        sender=PhoneNumber.parse("+14155238886"),
        contact=PhoneNumber.parse("+14155550100"),
        content=content,
        now=T0,
    )


def stored(content: MessageContent) -> dict[str, Any]:
    """The columns that hold the content, as a message's row holds them (the document through JSON, as the
    database gives it back)."""
    values = message_values(message_with(content))
    return {
        "body": values["body"],
        "media_urls": values["media_urls"],
        "content_sid": values["content_sid"],
        "content_variables": values["content_variables"],
        "document": json.loads(json.dumps(values["content"])),
    }


@pytest.mark.parametrize("content", CONTENTS.values(), ids=CONTENTS.keys())
def test_every_kind_reads_back_as_it_was_written(content: MessageContent) -> None:
    assert content_from_columns(**stored(content)) == content


@pytest.mark.parametrize("name", ["text", "media by URL", "template by Content SID"])
def test_text_media_urls_and_content_sid_templates_need_no_document(name: str) -> None:
    assert content_document(CONTENTS[name]) is None


def test_the_kind_is_stored_beside_the_content() -> None:
    for content in CONTENTS.values():
        assert message_values(message_with(content))["kind"] == content.kind.value


def test_a_document_holds_each_part_under_its_own_key_and_leaves_out_what_is_unset() -> None:
    assert content_document(CONTENTS["a list"]) == {
        "interactive": {
            "kind": "list",
            "body": "Pick a size",
            "button_label": "Sizes",
            "sections": [
                {"title": "Shirts", "rows": [{"id": "m", "title": "Medium", "description": "Chest 96 cm"}]},
                {"title": "Trousers", "rows": [{"id": "32", "title": "32"}]},
            ],
        }
    }
    assert content_document(CONTENTS["a location on the equator"]) == {
        "location": {"latitude": 0.0, "longitude": -78.4558, "name": "Mitad del Mundo", "address": "Quito"}
    }
    assert content_document(CONTENTS["a reaction taken back"]) == {
        "reaction": {"message_id": WAMID, "emoji": ""}
    }
    # A template by name: its name and language in the document, its values in content_variables.
    named = stored(CONTENTS["template by name"])
    assert named["document"] == {"template": {"name": "order_update", "language": "pt_BR"}}
    assert (named["content_sid"], named["content_variables"]) == (None, {"1": "Alice"})
    by_sid = stored(CONTENTS["template by Content SID"])
    assert (by_sid["content_sid"], by_sid["document"]) == (CONTENT_SID, None)


def test_keys_a_newer_version_wrote_are_ignored() -> None:
    columns = stored(CONTENTS["typed media"])
    document = columns["document"]
    document["stickers_pack"] = {"id": "p1"}
    document["media"][0]["thumbnail"] = "https://example.com/t.png"

    assert content_from_columns(**columns) == CONTENTS["typed media"]
