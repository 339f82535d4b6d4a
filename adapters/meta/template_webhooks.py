"""Meta's webhooks about message templates read into ``TemplateStatusUpdate``s.

They come in the same signed deliveries as messages and statuses (``webhooks.parse_delivery`` returns
them among ``MetaDelivery.other_changes``), under the entry of the WhatsApp Business Account:

- ``message_template_status_update``: ``{event, message_template_id, message_template_name,
  message_template_language, reason, …}``. APPROVED, PENDING (and IN_APPEAL), REJECTED (with its
  reason), PAUSED and DISABLED are statuses; REINSTATED is a paused template approved again; FLAGGED
  changes no status: the template's quality went low and a pause may follow. Events of a template on
  its way out (PENDING_DELETION, DELETED, ARCHIVED …) or of a lock are left alone.
- ``message_template_quality_update``: ``{new_quality_score, previous_quality_score,
  message_template_id, …}``: GREEN, YELLOW, RED, UNKNOWN as high, medium, low, unknown.

A change that cannot be read (no template id, an event of no known meaning) is left out and logged,
as ``parse_delivery`` does with messages: Meta retries a refused delivery for days.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from adapters.meta.templates import QUALITY_AT_META
from adapters.meta.webhooks import MetaOtherChange, parse_delivery
from application.ports.templates import TemplateStatusUpdate
from domain.administration.tenancy import ProviderName
from domain.templates.catalogue import TemplateQuality, TemplateStatus

logger = logging.getLogger(__name__)

STATUS_FIELD = "message_template_status_update"
QUALITY_FIELD = "message_template_quality_update"
TEMPLATE_FIELDS = frozenset({STATUS_FIELD, QUALITY_FIELD})

# Each event's status; None: the status stays (a flag lowers the quality only).
_EVENTS: Mapping[str, TemplateStatus | None] = {
    "APPROVED": TemplateStatus.APPROVED,
    "REINSTATED": TemplateStatus.APPROVED,
    "PENDING": TemplateStatus.PENDING,
    "IN_APPEAL": TemplateStatus.PENDING,
    "REJECTED": TemplateStatus.REJECTED,
    "PAUSED": TemplateStatus.PAUSED,
    "DISABLED": TemplateStatus.DISABLED,
    "FLAGGED": None,
}
# Events that say nothing the catalogue keeps (the template is going away, or is locked for edits).
_IGNORED_EVENTS = frozenset(
    {"PENDING_DELETION", "DELETED", "ARCHIVED", "LIMIT_EXCEEDED", "LOCKED", "UNLOCKED"}
)
_META_ID = re.compile(r"[0-9]{1,32}")
_MAX_NAME = 512
_MAX_LANGUAGE = 20
_MAX_REASON = 1000


def template_updates(changes: Iterable[MetaOtherChange], *, at: datetime) -> list[TemplateStatusUpdate]:
    """The template updates among a delivery's other changes (``MetaDelivery.other_changes``), each
    stamped ``at`` (when the delivery was received)."""
    updates: list[TemplateStatusUpdate] = []
    for change in changes:
        if change.field not in TEMPLATE_FIELDS:
            continue
        update = template_update(change, at=at)
        if update is not None:
            updates.append(update)
    return updates


def template_updates_of(body: bytes, *, at: datetime) -> list[TemplateStatusUpdate]:
    """The template updates of a verified delivery's raw body (InvalidInput when it is not one)."""
    return template_updates(parse_delivery(body).other_changes, at=at)


def template_update(change: MetaOtherChange, *, at: datetime) -> TemplateStatusUpdate | None:
    """One template change as an update; None when it says nothing the catalogue keeps, or cannot be
    read."""
    value = change.value
    template_id = _meta_id(value.get("message_template_id"))
    if template_id is None or not _META_ID.fullmatch(change.business_account_id):
        logger.warning(
            "Meta webhook: a %s change without a template id or business account left out", change.field
        )
        return None
    if change.field == QUALITY_FIELD:
        quality = _quality(value.get("new_quality_score"))
        if quality is None:
            logger.warning(
                "Meta webhook: a quality update of template %s without its score left out", template_id
            )
            return None
        return _update(change, value, template_id, status=None, reason=None, quality=quality, at=at)
    event = value.get("event")
    event = event.upper() if isinstance(event, str) else ""
    if event in _IGNORED_EVENTS:
        logger.info("Meta webhook: template %s %s, left alone", template_id, event)
        return None
    if event not in _EVENTS:
        logger.warning(
            "Meta webhook: template %s had an event %r of no known meaning", template_id, event[:40]
        )
        return None
    status = _EVENTS[event]
    return _update(
        change,
        value,
        template_id,
        status=status,
        reason=_reason(value.get("reason")),
        quality=TemplateQuality.LOW if event == "FLAGGED" else None,
        at=at,
    )


def _update(
    change: MetaOtherChange,
    value: Mapping[str, Any],
    template_id: str,
    *,
    status: TemplateStatus | None,
    reason: str | None,
    quality: TemplateQuality | None,
    at: datetime,
) -> TemplateStatusUpdate:
    return TemplateStatusUpdate(
        provider=ProviderName.META,
        business_account_id=change.business_account_id,
        provider_template_id=template_id,
        name=_text(value.get("message_template_name"), _MAX_NAME),
        language=_text(value.get("message_template_language"), _MAX_LANGUAGE),
        status=status,
        reason=reason,
        quality=quality,
        at=at,
    )


def _meta_id(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and _META_ID.fullmatch(value) else None


def _quality(value: object) -> TemplateQuality | None:
    return QUALITY_AT_META.get(value.upper()) if isinstance(value, str) else None


def _reason(value: object) -> str | None:
    """Meta's reason, which is the word ``NONE`` when there is none."""
    text = _text(value, _MAX_REASON)
    return None if text is None or text.upper() == "NONE" else text


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]
