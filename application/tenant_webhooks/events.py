"""The events tenants' webhooks receive, recorded in the transaction of the change that caused them.

A body is serialised once, when the event is recorded, and sent byte for byte on every attempt::

    {"type": "message.status", "timestamp": "2026-01-15T09:30:00.000000Z",
     "data": {"id": "…", "direction": "outbound", "status": "delivered", "from_number": "+1…", …}}

``data`` is the message as ``GET /api/messages/{id}`` shows it (without the timeline).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from application.ports.unit_of_work import UnitOfWork
from domain.messaging.messages import Message, MessageStatus
from domain.tenant_webhooks.model import WebhookEventType

FAILED_STATUSES = frozenset({MessageStatus.FAILED, MessageStatus.UNDELIVERED})


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def message_data(message: Message) -> dict[str, Any]:
    template = message.content.template
    return {
        "id": str(message.id),
        "direction": message.direction.value,
        "status": message.status.value,
        "from_number": message.from_number.e164,
        "to_number": message.to_number.e164,
        "body": message.content.body,
        "media_urls": list(message.content.media_urls),
        "content_sid": template.content_sid if template else None,
        "content_variables": template.variables_dict if template else None,
        "profile_name": message.profile_name,
        "provider_sid": message.provider_sid,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "created_at": iso(message.created_at),
        "updated_at": iso(message.updated_at),
    }


def event_body(event_type: WebhookEventType, data: dict[str, Any], now: datetime) -> str:
    """The JSON body of a delivery, in the Standard Webhooks shape: type, timestamp, data."""
    return json.dumps(
        {"type": event_type.value, "timestamp": iso(now), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


async def record_message_event(
    uow: UnitOfWork, event_type: WebhookEventType, message: Message, now: datetime
) -> int:
    return await uow.webhook_events.record(
        message.tenant_id, event_type, event_body(event_type, message_data(message), now), now
    )


async def record_message_received(uow: UnitOfWork, message: Message, now: datetime) -> None:
    """Inside the transaction that stored an inbound message."""
    await record_message_event(uow, WebhookEventType.MESSAGE_RECEIVED, message, now)


async def record_sender_paused(
    uow: UnitOfWork,
    message: Message,
    *,
    provider: str,
    until: datetime,
    reason: str,
    error_code: int | None,
    now: datetime,
) -> None:
    """Inside the transaction that paused the sender of ``message``."""
    data = {
        "sender": message.sender.e164,
        "provider": provider,
        "paused_until": iso(until),
        "reason": reason,
        "error_code": error_code,
        "message_id": str(message.id),
    }
    event = WebhookEventType.SENDER_PAUSED
    await uow.webhook_events.record(message.tenant_id, event, event_body(event, data, now), now)


async def record_status_changed(uow: UnitOfWork, message: Message, now: datetime) -> None:
    """Inside the transaction that moved ``message`` to its status: ``message.status``, and
    ``message.failed`` too when it ended failed or undelivered."""
    await record_message_event(uow, WebhookEventType.MESSAGE_STATUS, message, now)
    if message.status in FAILED_STATUSES:
        await record_message_event(uow, WebhookEventType.MESSAGE_FAILED, message, now)
