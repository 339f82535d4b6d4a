"""The events tenants' webhooks receive, recorded in the transaction of the change that caused them.

A body is serialised once, when the event is recorded, and sent byte for byte on every attempt. A status
event recorded by the status report's own statement (PostgreSQL) keeps the moved message instead, and
its body is ``status_event_body`` of it, built when the delivery is read: the same bytes every time::

    {"type": "message.status", "timestamp": "2026-01-15T09:30:00.000000Z",
     "data": {"id": "…", "direction": "outbound", "status": "delivered", "from_number": "+1…", …}}

``data`` is the message as ``GET /api/messages/{id}`` shows it (without the timeline): its ``kind`` and
its content in the shape ``POST /api/send`` takes, and its ``failure`` (``entrypoints/http/messaging/
schemas.py``; a test holds the two to the same shape).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from application.ports.media import served_at
from application.ports.tenant_webhooks import OutboxEvent
from application.ports.unit_of_work import UnitOfWork
from domain.consent.model import ConsentChange
from domain.messaging.content import ContactCard, Interactive, Media
from domain.messaging.failures import Failure, FailureCode
from domain.messaging.messages import Message, MessageContent
from domain.tenant_webhooks.model import WebhookEventType


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def message_data(message: Message) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "direction": message.direction.value,
        "status": message.status.value,
        "from_number": message.from_number.e164,
        "to_number": message.to_number.e164,
        **content_data(message.content),
        "profile_name": message.profile_name,
        "provider_sid": message.provider_sid,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "failure": failure_data(message.failure),
        "created_at": iso(message.created_at),
        "updated_at": iso(message.updated_at),
        "send_at": iso(message.send_at) if message.send_at is not None else None,
        "redacted": message.redacted_at is not None,
        "redacted_at": iso(message.redacted_at) if message.redacted_at is not None else None,
    }


def failure_data(failure: Failure | None) -> dict[str, Any] | None:
    """Why the message failed, as the message resource shows it; None when it did not."""
    if failure is None:
        return None
    return {
        "code": failure.code.value,
        "provider": failure.provider.value if failure.provider else None,
        "provider_code": failure.provider_code,
        "provider_message": failure.provider_message,
        "reason": failure.reason,
        "retryable": failure.retryable,
        "advice": failure.advice,
    }


def content_data(content: MessageContent) -> dict[str, Any]:
    """The content's fields, each present (null or empty when unused); within them, what is unset is left
    out, as a client leaves it out of a send."""
    template = content.template
    by_sid = template if template is not None and template.content_sid is not None else None
    by_name = template if template is not None and template.content_sid is None else None
    location, reaction, reply = content.location, content.reaction, content.reply
    return {
        "kind": content.kind.value,
        "body": content.body,
        "media_urls": list(content.media_urls),
        "media": [_media(item) for item in content.media],
        "preview_url": content.preview_url,
        "content_sid": by_sid.content_sid if by_sid else None,
        "content_variables": by_sid.variables_dict if by_sid else None,
        "template": _set(name=by_name.name, language=by_name.language, variables=by_name.variables_dict)
        if by_name
        else None,
        "interactive": _interactive(content.interactive) if content.interactive else None,
        "location": _set(
            latitude=location.latitude,
            longitude=location.longitude,
            name=location.name,
            address=location.address,
        )
        if location
        else None,
        "contacts": [_card(card) for card in content.contacts],
        "reaction": {"message_id": reaction.provider_message_id, "emoji": reaction.emoji}
        if reaction
        else None,
        "reply": _set(id=reply.id, title=reply.title, description=reply.description) if reply else None,
        "reply_to": content.reply_to,
        "unsupported": content.unsupported,
    }


def _set(**values: Any) -> dict[str, Any]:
    """``values`` but the unset ones (None, empty)."""
    return {name: value for name, value in values.items() if value is not None and value not in ("", [], {})}


def _media(item: Media) -> dict[str, Any]:
    return _set(
        type=item.kind.value,
        url=item.url,
        id=item.provider_media_id,
        filename=item.filename,
        content_type=item.content_type,
        stored_media_id=item.stored_media_id,
        stored_media_url=served_at(item.stored_media_id) if item.stored_media_id else None,
        not_kept=item.not_kept,
    )


def _interactive(interactive: Interactive) -> dict[str, Any]:
    return _set(
        type=interactive.kind.value,
        body=interactive.body,
        header=interactive.header,
        footer=interactive.footer,
        buttons=[_set(id=button.id, title=button.title) for button in interactive.buttons],
        button=interactive.button_label,
        sections=[
            _set(
                title=section.title,
                rows=[_set(id=row.id, title=row.title, description=row.description) for row in section.rows],
            )
            for section in interactive.sections
        ],
        url=interactive.url,
    )


def _card(card: ContactCard) -> dict[str, Any]:
    return _set(
        name=card.name, phones=list(card.phones), emails=list(card.emails), organization=card.organization
    )


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


async def record_media_settled(uow: UnitOfWork, message: Message, media: Media, now: datetime) -> None:
    """Inside the transaction that settled one of ``message``'s media items (``media``, now part of it):
    ``message.media_stored`` when it is kept, ``message.media_not_kept`` when it was given up on."""
    kept = media.stored_media_id is not None
    event = WebhookEventType.MESSAGE_MEDIA_STORED if kept else WebhookEventType.MESSAGE_MEDIA_NOT_KEPT
    await record_message_event(uow, event, message, now)


async def record_sender_paused(
    uow: UnitOfWork,
    message: Message,
    *,
    provider: str,
    until: datetime,
    reason: str,
    failure_code: FailureCode | None,
    error_code: int | None,
    now: datetime,
) -> None:
    """Inside the transaction that paused the sender of ``message``."""
    data = {
        "sender": message.sender.e164,
        "provider": provider,
        "paused_until": iso(until),
        "reason": reason,
        "failure_code": failure_code.value if failure_code is not None else None,
        "error_code": error_code,
        "message_id": str(message.id),
    }
    event = WebhookEventType.SENDER_PAUSED
    await uow.webhook_events.record(message.tenant_id, event, event_body(event, data, now), now)


async def record_status_changed(
    uow: UnitOfWork, message: Message, now: datetime, *, commit: bool = False
) -> None:
    """Inside the transaction that moved ``message`` to its status: ``message.status``, and
    ``message.failed`` too when it ended failed or undelivered (written together). ``commit``: as the
    outbox's (the transaction's last write; the caller commits next)."""
    await uow.webhook_events.record_all(status_events(message, now), now, commit=commit)


def status_events(message: Message, now: datetime) -> list[OutboxEvent]:
    """The events ``record_status_changed`` records for ``message``, their bodies stamped ``now``."""
    types = [WebhookEventType.MESSAGE_STATUS]
    if message.status.is_failure:
        types.append(WebhookEventType.MESSAGE_FAILED)
    data = message_data(message)
    return [OutboxEvent(message.tenant_id, kind, event_body(kind, data, now)) for kind in types]


def status_event_body(event_type: WebhookEventType, moved: Message) -> str:
    """The body of a status event of ``moved`` (the message as its change left it), stamped with the
    change's time: the bytes ``status_events`` gives it, for a delivery that keeps the message rather
    than the body (a status change recorded by the database's own statement, ``advance_status_of``)."""
    return event_body(event_type, message_data(moved), moved.updated_at)


async def record_statuses_changed(uow: UnitOfWork, changed: Sequence[Message]) -> None:
    """``record_status_changed`` for each of ``changed`` (each stamped with its own change), the events
    of all of them written together."""
    if changed:
        events = [event for message in changed for event in status_events(message, message.updated_at)]
        await uow.webhook_events.record_all(events, max(message.updated_at for message in changed))


def consent_data(change: ConsentChange) -> dict[str, Any]:
    return {
        "identity": change.identity,
        "number": change.number,
        "state": change.state.value,
        "source": change.source.value,
        "actor": change.actor,
        "evidence_message_id": str(change.evidence_message_id) if change.evidence_message_id else None,
        "note": change.note,
        "changed_at": iso(change.at),
    }


async def record_consent_changed(uow: UnitOfWork, change: ConsentChange, now: datetime) -> None:
    """Inside the transaction that recorded ``change``, when it changed the person's state."""
    event = WebhookEventType.CONSENT_CHANGED
    await uow.webhook_events.record(
        change.tenant_id, event, event_body(event, consent_data(change), now), now
    )
