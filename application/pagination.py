"""Opaque keyset cursors: a page's last (created_at, id), base64url-encoded."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from uuid import UUID

from application.errors import InvalidCursor
from application.ports import HistoryPosition

_MAX_CURSOR_LENGTH = 200


def encode_cursor(position: HistoryPosition) -> str:
    raw = json.dumps([position.created_at.isoformat(), str(position.message_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> HistoryPosition:
    if len(cursor) > _MAX_CURSOR_LENGTH:
        raise InvalidCursor("the cursor is not one this API returned")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at_text, message_id_text = json.loads(raw)
        if not isinstance(created_at_text, str) or not isinstance(message_id_text, str):
            raise InvalidCursor("the cursor is not one this API returned")
        created_at = datetime.fromisoformat(created_at_text)
        message_id = UUID(message_id_text)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
        raise InvalidCursor("the cursor is not one this API returned") from error
    if created_at.tzinfo is None:
        raise InvalidCursor("the cursor is not one this API returned")
    return HistoryPosition(created_at=created_at, message_id=message_id)
