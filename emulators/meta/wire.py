"""Meta's wire format: the answer to a send, a media object, and the webhook envelope.

A webhook POST is ``{"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes":
[{"field": "messages", "value": {"messaging_product": "whatsapp", "metadata": {...}, ...}}]}]}``; the
value holds ``contacts`` + ``messages`` (a customer wrote) or ``statuses`` (a sent message moved on).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from emulators.meta.errors import webhook_error
from emulators.meta.state import Line, MediaRecord, MessageRecord

WHATSAPP = "whatsapp"
BUSINESS_ACCOUNT = "whatsapp_business_account"
# Sent, and delivered, carry the conversation and pricing; read and failed do not.
PRICED_STATUSES = ("sent", "delivered")


def send_answer(message: MessageRecord) -> dict[str, object]:
    """Meta's answer to an accepted send; ``message_status`` is given for templates only."""
    sent: dict[str, object] = {"id": message.id}
    if message.type == "template":
        sent["message_status"] = "accepted"
    return {
        "messaging_product": WHATSAPP,
        "contacts": [{"input": message.to, "wa_id": message.wa_id}],
        "messages": [sent],
    }


def media_object(media: MediaRecord, url: str) -> dict[str, object]:
    """``GET /{media-id}``: where to download it, and what it is."""
    return {
        "url": url,
        "mime_type": media.mime_type,
        "sha256": media.sha256_hex,
        "file_size": len(media.content),
        "id": media.id,
        "messaging_product": WHATSAPP,
    }


@dataclass(frozen=True, slots=True)
class Event:
    """One thing a webhook reports: a status of a sent message, or a message a customer sent."""

    line: Line
    kind: str  # "status" or "inbound"
    item: dict[str, Any]  # the status object, or the message object
    contact: dict[str, Any] | None = None  # inbound: {"profile": {"name"}, "wa_id"}
    message_id: str = ""
    status: str = ""  # status events: sent, delivered, read, failed
    extra: dict[str, Any] = field(default_factory=dict)  # more keys of the change's value


def status_item(
    message: MessageRecord,
    status: str,
    timestamp: int,
    *,
    conversation: tuple[str, int] | None,
    billable: bool,
    pricing_type: str,
) -> dict[str, Any]:
    """A ``statuses[]`` object, as Meta posts it."""
    item: dict[str, Any] = {
        "id": message.id,
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": message.wa_id,
    }
    if message.biz_opaque_callback_data is not None:
        item["biz_opaque_callback_data"] = message.biz_opaque_callback_data
    if status in PRICED_STATUSES and conversation is not None:
        conversation_id, expires = conversation
        described: dict[str, Any] = {"id": conversation_id}
        if status == "sent":
            described["expiration_timestamp"] = str(expires)
        described["origin"] = {"type": message.category}
        item["conversation"] = described
        item["pricing"] = {
            "billable": billable,
            "pricing_model": "PMP",
            "category": message.category,
            "type": pricing_type,
        }
    if status == "failed" and message.error is not None:
        error = message.error
        item["errors"] = [webhook_error(error.code, error.title, error.details)]
    return item


def envelope(events: Sequence[Event], *, merge: bool) -> dict[str, Any]:
    """The webhook body for ``events``: one entry per business account, in order of first appearance;
    one change per event, or (``merge``) one per phone number and kind, holding all of them."""
    entries: dict[str, list[dict[str, Any]]] = {}
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for event in events:
        changes = entries.setdefault(event.line.waba_id, [])
        key = (event.line.waba_id, event.line.phone_number_id, event.kind)
        if merge and key in merged:
            _add(merged[key], event)
            continue
        value = _value(event)
        changes.append({"value": value, "field": "messages"})
        merged[key] = value
    return {
        "object": BUSINESS_ACCOUNT,
        "entry": [{"id": waba_id, "changes": changes} for waba_id, changes in entries.items()],
    }


def _value(event: Event) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": WHATSAPP,
        "metadata": {
            "display_phone_number": event.line.display_phone_number,
            "phone_number_id": event.line.phone_number_id,
        },
    }
    if event.kind == "inbound":
        value["contacts"] = [event.contact] if event.contact else []
        value["messages"] = [event.item]
    else:
        value["statuses"] = [event.item]
    value.update(event.extra)
    return value


def _add(value: dict[str, Any], event: Event) -> None:
    if event.kind == "inbound":
        if event.contact and event.contact not in value["contacts"]:
            value["contacts"].append(event.contact)
        value["messages"].append(event.item)
    else:
        value["statuses"].append(event.item)
