"""One tenant on two providers for real: a Twilio number and a Meta number side by side, the gateway
served by uvicorn on PostgreSQL, the Twilio emulator and the Meta emulator over HTTP, each posting its
signed webhooks to the gateway.

A customer writes to each number and gets each reply from the number written to, through that number's
provider, its statuses coming back. Then the Twilio number moves to the tenant's Meta account (as a
number migrated to the Cloud API does) and the conversation goes on where it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.two_providers import (
    CUSTOMER,
    META_NUMBER,
    TWILIO_NUMBER,
    World,
    at_meta,
    at_twilio,
    statuses,
    two_provider_world,
)

# The Twilio SDK's own async client passes aiohttp's deprecated BasicAuth; that is the SDK's business.
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated.*:DeprecationWarning:twilio")


@pytest.fixture
async def world(postgres_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async with two_provider_world(postgres_url, tmp_path) as world:
        yield world


async def test_one_tenant_talks_through_twilio_and_meta_and_a_number_moved_to_meta_keeps_its_conversation(
    world: World,
) -> None:
    # The customer writes to each number; each reply goes out from the number written to, through its
    # provider, and its statuses come back from that provider.
    await world.customer_writes_to_twilio_number("Hi, is my order on its way?")
    await world.customer_writes_to_meta(world.business.phone_number_id, "And my other one?")
    by_twilio = await world.reply(TWILIO_NUMBER, "Yes, it left this morning")
    by_meta = await world.reply(META_NUMBER, "That one ships tomorrow")

    (at_twilio_record,) = at_twilio(world, "Yes, it left this morning")
    assert (at_twilio_record.from_, at_twilio_record.to) == (
        f"whatsapp:{TWILIO_NUMBER}",
        f"whatsapp:{CUSTOMER}",
    )
    assert at_meta(world, "Yes, it left this morning") == []
    assert by_twilio["provider_sid"] == at_twilio_record.sid
    assert (by_twilio["status"], statuses(by_twilio)) == ("read", ["queued", "sent", "delivered", "read"])

    (at_meta_record,) = at_meta(world, "That one ships tomorrow")
    assert at_meta_record.phone_number_id == world.business.phone_number_id
    assert at_meta_record.biz_opaque_callback_data == by_meta["id"]
    assert at_twilio(world, "That one ships tomorrow") == []
    assert by_meta["provider_sid"] == at_meta_record.id
    assert (by_meta["status"], statuses(by_meta)) == ("read", ["sent", "delivered", "read"])

    before = await world.conversation()
    assert before["window_open"]
    assert before["last_inbound_at"] is not None
    history_before = await world.history()
    assert [m["body"] for m in history_before] == [
        "That one ships tomorrow",
        "Yes, it left this morning",
        "And my other one?",
        "Hi, is my order on its way?",
    ]

    # The Twilio number moves to the tenant's Meta account: Meta now serves it under an id of its own.
    await world.meta_serves(META_NUMBER, TWILIO_NUMBER)
    moved = await world.api(
        "PATCH",
        f"/api/senders/{world.senders[TWILIO_NUMBER]['id']}",
        {"account_id": world.meta_account_id, "provider_number_id": world.business.moved_number_id},
    )
    assert (moved["phone_number"], moved["account_id"], moved["provider_number_id"]) == (
        TWILIO_NUMBER,
        world.meta_account_id,
        world.business.moved_number_id,
    )
    assert await world.conversation() == before

    # The same conversation goes on: its window is still open, so a free-form reply is accepted without
    # a template, and it goes out through Meta from the moved number.
    twilio_messages_before = len(world.twilio.state.messages)
    after_move = await world.reply(TWILIO_NUMBER, "Here is its tracking link")

    (moved_record,) = at_meta(world, "Here is its tracking link")
    assert moved_record.phone_number_id == world.business.moved_number_id
    assert moved_record.biz_opaque_callback_data == after_move["id"]
    assert len(world.twilio.state.messages) == twilio_messages_before
    assert (after_move["from_number"], after_move["provider_sid"]) == (TWILIO_NUMBER, moved_record.id)
    assert (after_move["status"], statuses(after_move)) == ("read", ["sent", "delivered", "read"])

    # The customer answers the moved number, now through Meta: the same conversation again.
    await world.customer_writes_to_meta(world.business.moved_number_id, "Thanks!")
    after = await world.conversation()
    assert after["window_open"]
    assert after["sender"] == TWILIO_NUMBER
    assert datetime.fromisoformat(after["last_inbound_at"]) > datetime.fromisoformat(
        before["last_inbound_at"]
    )
    history = await world.history()
    assert [m["body"] for m in history] == [
        "Thanks!",
        "Here is its tracking link",
        *[m["body"] for m in history_before],
    ]
    assert [m["id"] for m in history[2:]] == [m["id"] for m in history_before]
    assert {m["body"]: m["provider_sid"] for m in history if m["direction"] == "outbound"} == {
        "Here is its tracking link": moved_record.id,  # through Meta
        "That one ships tomorrow": at_meta_record.id,
        "Yes, it left this morning": at_twilio_record.sid,  # through Twilio, before the move
    }
    assert history[0]["to_number"] == TWILIO_NUMBER
    assert after["last_message"]["id"] == history[0]["id"]
