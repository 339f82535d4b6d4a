"""Keyset pages: their size, and opaque cursors holding a page's last sort key (base64url-encoded JSON).

A history cursor is ``[created_at, message_id]``; a conversation cursor is ``["c", last_message_at,
conversation_id]``; a webhook delivery cursor is ``["d", delivery_id]``; an audit trail cursor is
``["a", occurred_at, entry_id]``; a scheduled messages cursor is ``["s", send_at, message_id]``; a
tenant cursor is ``["t", name]``; a template cursor is ``["tp", name, language]``; a contact cursor is
``["ct", created_at, contact_id]``; a consent ledger cursor is ``["cl", sequence]``; a campaign cursor
is ``["cp", created_at, campaign_id]``, a campaign recipient cursor ``["cr", position]``. The tag keeps
one kind from being accepted where another is expected.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from uuid import UUID

from application.errors import InvalidCursor
from application.ports.audit import AuditPosition
from application.ports.campaigns import CampaignPosition
from application.ports.contacts import ContactPosition
from application.ports.messages import ConversationPosition, HistoryPosition, ScheduledPosition
from domain.tenant_webhooks.model import is_delivery_id

# Every paged list: a larger page asked for is capped (one page is one bounded query).
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50

# Room for every cursor handed out, but a tenant's (whose name may run to 200 characters).
MAX_CURSOR_LENGTH = 200
_CONVERSATION_TAG = "c"
_DELIVERY_TAG = "d"
_AUDIT_TAG = "a"
_TENANT_TAG = "t"
_SCHEDULED_TAG = "s"
MAX_TEMPLATE_CURSOR_LENGTH = 1000
_TEMPLATE_TAG = "tp"
_CONTACT_TAG = "ct"
_LEDGER_TAG = "cl"
_REFUSED = "the cursor is not one this API returned"


def encode_cursor(position: HistoryPosition) -> str:
    return _encode([position.created_at.isoformat(), str(position.message_id)])


def decode_cursor(cursor: str) -> HistoryPosition:
    created_at_text, message_id_text = _decode(cursor, length=2)
    created_at, message_id = _position(created_at_text, message_id_text)
    return HistoryPosition(created_at=created_at, message_id=message_id)


def encode_conversation_cursor(position: ConversationPosition) -> str:
    return _encode([_CONVERSATION_TAG, position.last_message_at.isoformat(), str(position.conversation_id)])


def decode_conversation_cursor(cursor: str) -> ConversationPosition:
    tag, last_message_at_text, conversation_id_text = _decode(cursor, length=3)
    if tag != _CONVERSATION_TAG:
        raise InvalidCursor(_REFUSED)
    last_message_at, conversation_id = _position(last_message_at_text, conversation_id_text)
    return ConversationPosition(last_message_at=last_message_at, conversation_id=conversation_id)


def encode_delivery_cursor(delivery_id: str) -> str:
    return _encode([_DELIVERY_TAG, delivery_id])


def decode_delivery_cursor(cursor: str) -> str:
    """The id of the last webhook delivery of the page before (ids sort by creation time)."""
    tag, delivery_id = _decode(cursor, length=2)
    if tag != _DELIVERY_TAG or not is_delivery_id(delivery_id):
        raise InvalidCursor(_REFUSED)
    return delivery_id


def encode_audit_cursor(position: AuditPosition) -> str:
    return _encode([_AUDIT_TAG, position.occurred_at.isoformat(), str(position.entry_id)])


def decode_audit_cursor(cursor: str) -> AuditPosition:
    tag, occurred_at_text, entry_id_text = _decode(cursor, length=3)
    if tag != _AUDIT_TAG:
        raise InvalidCursor(_REFUSED)
    occurred_at, entry_id = _position(occurred_at_text, entry_id_text)
    return AuditPosition(occurred_at=occurred_at, entry_id=entry_id)


def encode_scheduled_cursor(position: ScheduledPosition) -> str:
    return _encode([_SCHEDULED_TAG, position.send_at.isoformat(), str(position.message_id)])


def decode_scheduled_cursor(cursor: str) -> ScheduledPosition:
    tag, send_at_text, message_id_text = _decode(cursor, length=3)
    if tag != _SCHEDULED_TAG:
        raise InvalidCursor(_REFUSED)
    send_at, message_id = _position(send_at_text, message_id_text)
    return ScheduledPosition(send_at=send_at, message_id=message_id)


def encode_tenant_cursor(name: str) -> str:
    return _encode([_TENANT_TAG, name])


def decode_tenant_cursor(cursor: str) -> str:
    """The name of the last tenant of the page before (tenants are listed by their unique name)."""
    # A tenant's name is up to 200 characters: its cursor may be longer than the others.
    tag, name = _decode(cursor, length=2, max_length=None)
    # No tenant is named with U+0000 (the database could not store it): not a cursor we handed out.
    if tag != _TENANT_TAG or "\x00" in name:
        raise InvalidCursor(_REFUSED)
    return name


def encode_template_cursor(key: tuple[str, str]) -> str:
    return _encode([_TEMPLATE_TAG, *key])


def decode_template_cursor(cursor: str) -> tuple[str, str]:
    """The name and language of the last template of the page before (templates are listed by them)."""
    # A template's name runs to 512 characters: its cursor may be longer than the others.
    tag, name, language = _decode(cursor, length=3, max_length=MAX_TEMPLATE_CURSOR_LENGTH)
    if tag != _TEMPLATE_TAG or "\x00" in name or "\x00" in language:
        raise InvalidCursor(_REFUSED)
    return name, language


def encode_contact_cursor(position: ContactPosition) -> str:
    return _encode([_CONTACT_TAG, position.created_at.isoformat(), str(position.contact_id)])


def decode_contact_cursor(cursor: str) -> ContactPosition:
    tag, created_at_text, contact_id_text = _decode(cursor, length=3)
    if tag != _CONTACT_TAG:
        raise InvalidCursor(_REFUSED)
    created_at, contact_id = _position(created_at_text, contact_id_text)
    return ContactPosition(created_at=created_at, contact_id=contact_id)


def encode_ledger_cursor(sequence: int) -> str:
    return _encode([_LEDGER_TAG, str(sequence)])


def decode_ledger_cursor(cursor: str) -> int:
    """The sequence of the last consent ledger entry of the page before."""
    tag, sequence = _decode(cursor, length=2)
    if tag != _LEDGER_TAG or not sequence.isascii() or not sequence.isdigit() or len(sequence) > 19:
        raise InvalidCursor(_REFUSED)
    return int(sequence)


# One encoder for every cursor: json.dumps with its own separators builds a new one on each call.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def _encode(parts: list[str]) -> str:
    raw = _COMPACT_JSON.encode(parts)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, *, length: int, max_length: int | None = MAX_CURSOR_LENGTH) -> list[str]:
    """The cursor's parts: exactly ``length`` strings, or InvalidCursor."""
    if max_length is not None and len(cursor) > max_length:
        raise InvalidCursor(_REFUSED)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
        raise InvalidCursor(_REFUSED) from error
    if not isinstance(parts, list) or len(parts) != length or not all(isinstance(p, str) for p in parts):
        raise InvalidCursor(_REFUSED)
    return parts


def _position(moment_text: str, id_text: str) -> tuple[datetime, UUID]:
    """The moment, in UTC as stored times are compared, and the id of a page's last row."""
    try:
        moment = datetime.fromisoformat(moment_text)
        identifier = UUID(id_text)
    except (ValueError, TypeError) as error:
        raise InvalidCursor(_REFUSED) from error
    if moment.tzinfo is None:
        raise InvalidCursor(_REFUSED)
    try:
        # Year 1 at +14:00 has no UTC equivalent: no row was ever stored at such a moment.
        return moment.astimezone(UTC), identifier
    except OverflowError as error:
        raise InvalidCursor(_REFUSED) from error


_CAMPAIGN_TAG = "cp"
_RECIPIENT_TAG = "cr"


def encode_campaign_cursor(position: CampaignPosition) -> str:
    return _encode([_CAMPAIGN_TAG, position.created_at.isoformat(), str(position.campaign_id)])


def decode_campaign_cursor(cursor: str) -> CampaignPosition:
    tag, created_at_text, campaign_id_text = _decode(cursor, length=3)
    if tag != _CAMPAIGN_TAG:
        raise InvalidCursor(_REFUSED)
    created_at, campaign_id = _position(created_at_text, campaign_id_text)
    return CampaignPosition(created_at=created_at, campaign_id=campaign_id)


def encode_recipient_cursor(position: int) -> str:
    return _encode([_RECIPIENT_TAG, str(position)])


def decode_recipient_cursor(cursor: str) -> int:
    """The place in its audience of the last recipient of the page before."""
    tag, position_text = _decode(cursor, length=2)
    if tag != _RECIPIENT_TAG or not position_text.isdigit() or len(position_text) > 9:
        raise InvalidCursor(_REFUSED)
    return int(position_text)
