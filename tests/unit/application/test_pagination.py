"""History cursors: opaque to clients, and anything we did not hand out is refused cleanly."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest

from application.errors import InvalidCursor
from application.pagination import (
    decode_conversation_cursor,
    decode_cursor,
    encode_conversation_cursor,
    encode_cursor,
)
from application.ports.messages import ConversationPosition, HistoryPosition

POSITION = HistoryPosition(
    created_at=datetime(2026, 1, 15, 9, 30, 12, 345678, tzinfo=UTC),
    message_id=UUID("0b7e7b1c-34a4-4c4e-9d1e-6f0f4f3a2b10"),
)


def cursor_of(payload: object) -> str:
    """A cursor built the way ours are, around any JSON payload: what a curious client could forge."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_a_cursor_decodes_to_the_position_it_was_made_from() -> None:
    assert decode_cursor(encode_cursor(POSITION)) == POSITION


def test_a_position_in_another_timezone_keeps_its_instant() -> None:
    position = HistoryPosition(
        created_at=datetime(2026, 1, 15, 11, 30, tzinfo=timezone(timedelta(hours=2))),
        message_id=POSITION.message_id,
    )

    assert decode_cursor(encode_cursor(position)).created_at == datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def test_a_cursor_is_url_safe_and_unpadded() -> None:
    cursor = encode_cursor(POSITION)

    assert cursor.isascii()
    assert not set(cursor) & set("+/= ")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "x",
        "!!!!",
        "not a cursor",
        "ü",
        "=",
        base64.urlsafe_b64encode(b"\xff\xfe\x00garbage").decode(),
    ],
)
def test_garbage_is_an_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        5,
        "2026-01-15T09:30:00+00:00",
        {"created_at": "2026-01-15T09:30:00+00:00", "id": str(POSITION.message_id)},
        [],
        ["2026-01-15T09:30:00+00:00"],
        ["2026-01-15T09:30:00+00:00", str(POSITION.message_id), "extra"],
        ["yesterday", str(POSITION.message_id)],
        ["2026-01-15T09:30:00+00:00", "not-a-uuid"],
        ["2026-01-15T09:30:00+00:00", 42],
        ["2026-01-15T09:30:00+00:00", ["a"]],
        [1700000000, str(POSITION.message_id)],
        [None, None],
    ],
    ids=repr,
)
def test_a_forged_payload_is_an_invalid_cursor(payload: object) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor_of(payload))


def test_a_cursor_without_a_timezone_is_refused() -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor_of(["2026-01-15T09:30:00", str(POSITION.message_id)]))


@pytest.mark.parametrize("cut", [1, 4, 10])
def test_a_truncated_cursor_is_refused(cut: int) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(POSITION)[:-cut])


def test_an_overlong_cursor_is_refused_without_decoding() -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(POSITION) + "A" * 200)


def test_the_error_gives_nothing_away() -> None:
    with pytest.raises(InvalidCursor) as raised:
        decode_cursor(cursor_of(["2026-01-15T09:30:00+00:00", 42]))

    assert raised.value.detail == "the cursor is not one this API returned"


# ------------------------------------------------------------------------------ conversation cursors

CONVERSATION = ConversationPosition(
    last_message_at=datetime(2026, 1, 15, 9, 30, 12, 345678, tzinfo=UTC),
    conversation_id=UUID("5f0c6a7e-2b1d-4c3e-8a9f-0e1d2c3b4a59"),
)


def test_a_conversation_cursor_decodes_to_its_position() -> None:
    cursor = encode_conversation_cursor(CONVERSATION)

    assert decode_conversation_cursor(cursor) == CONVERSATION
    assert cursor.isascii()
    assert not set(cursor) & set("+/= ")


def test_history_and_conversation_cursors_are_not_interchangeable() -> None:
    with pytest.raises(InvalidCursor):
        decode_conversation_cursor(encode_cursor(POSITION))
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_conversation_cursor(CONVERSATION))


@pytest.mark.parametrize(
    "payload",
    [
        ["c", "2026-01-15T09:30:00", str(CONVERSATION.conversation_id)],
        ["x", "2026-01-15T09:30:00+00:00", str(CONVERSATION.conversation_id)],
        ["c", "2026-01-15T09:30:00+00:00", "not-a-uuid"],
        ["c", "2026-01-15T09:30:00+00:00", 7],
        ["c", "2026-01-15T09:30:00+00:00"],
        {"c": "2026-01-15T09:30:00+00:00"},
    ],
    ids=repr,
)
def test_a_forged_conversation_cursor_is_refused(payload: object) -> None:
    with pytest.raises(InvalidCursor, match="not one this API returned"):
        decode_conversation_cursor(cursor_of(payload))


def test_an_overlong_conversation_cursor_is_refused() -> None:
    with pytest.raises(InvalidCursor):
        decode_conversation_cursor(encode_conversation_cursor(CONVERSATION) + "A" * 200)


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_cursor_at_a_moment_with_no_utc_equivalent_is_refused(moment: str) -> None:
    message_id = str(POSITION.message_id)

    with pytest.raises(InvalidCursor):
        decode_cursor(cursor_of([moment, message_id]))
    with pytest.raises(InvalidCursor):
        decode_conversation_cursor(cursor_of(["c", moment, message_id]))
