"""Meta's ``phone_number_quality_update`` webhooks read into ``SenderQualityChange``s.

They come in the same signed deliveries as messages (``webhooks.parse_delivery`` returns them among
``MetaDelivery.other_changes``), under the entry of the WhatsApp Business Account, naming the number
only by its display form: ``{display_phone_number, event, current_limit, old_limit?,
max_daily_conversations_per_business?}``.

- ``event``: FLAGGED (the quality rating went low), UNFLAGGED (it recovered), DOWNGRADE and UPGRADE
  (the messaging limit moved), THROUGHPUT_UPGRADE (more messages a second). Other words (ONBOARDING,
  what Meta adds later) are left alone and logged.
- ``current_limit``/``old_limit``: TIER_50, TIER_250, TIER_1K, TIER_2K, TIER_10K, TIER_100K,
  TIER_UNLIMITED, TIER_NOT_SET; ``max_daily_conversations_per_business``, which replaces
  ``current_limit`` in newer payloads, is the limit as a number (or such a tier word).

A limit that fell is a lowered limit whatever the event says. A change that cannot be read (no number,
an event of no known meaning) is left out and logged: Meta retries a refused delivery for days.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

from adapters.meta.webhooks import MetaOtherChange
from domain.campaigns.sender_quality import SenderQualityChange, SenderQualityEvent
from domain.errors import InvalidPhoneNumber
from domain.phone import PhoneNumber

logger = logging.getLogger(__name__)

QUALITY_FIELD = "phone_number_quality_update"

_EVENTS: Mapping[str, SenderQualityEvent] = {
    "FLAGGED": SenderQualityEvent.FLAGGED,
    "UNFLAGGED": SenderQualityEvent.UNFLAGGED,
    "DOWNGRADE": SenderQualityEvent.LIMIT_LOWERED,
    "UPGRADE": SenderQualityEvent.LIMIT_RAISED,
    "THROUGHPUT_UPGRADE": SenderQualityEvent.LIMIT_RAISED,
}
# Each tier's daily limit; None: no limit (or none set yet).
_TIERS: Mapping[str, int | None] = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1_000,
    "TIER_2K": 2_000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
    "TIER_UNLIMITED": None,
    "TIER_NOT_SET": None,
}
_DIGITS = re.compile(r"[0-9]{1,12}")
_MAX_WORD = 40


def sender_quality_changes(changes: Iterable[MetaOtherChange]) -> list[tuple[str, SenderQualityChange]]:
    """The quality changes among a delivery's other changes, each with the business account it came
    under."""
    found: list[tuple[str, SenderQualityChange]] = []
    for change in changes:
        if change.field != QUALITY_FIELD:
            continue
        read = sender_quality_change(change)
        if read is not None:
            found.append((change.business_account_id, read))
    return found


def sender_quality_change(change: MetaOtherChange) -> SenderQualityChange | None:
    """One ``phone_number_quality_update`` as our change; None when it cannot be read or says nothing
    a campaign acts on."""
    value = change.value
    number = _number(value.get("display_phone_number"))
    if number is None:
        logger.warning("Meta webhook: a %s change without a display_phone_number left out", change.field)
        return None
    word = value.get("event")
    word = word.strip().upper()[:_MAX_WORD] if isinstance(word, str) else ""
    current = _limit(value.get("max_daily_conversations_per_business"))
    if current is None:
        current = _limit(value.get("current_limit"))
    previous = _limit(value.get("old_limit"))
    event = _EVENTS.get(word)
    if previous is not None and current is not None and _lower(current, previous):
        event = SenderQualityEvent.LIMIT_LOWERED
    if event is None:
        logger.info("Meta webhook: sender %s had a quality event %r, left alone", number, word)
        return None
    return SenderQualityChange(
        number=number,
        event=event,
        daily_limit=current[0] if current else None,
        previous_daily_limit=previous[0] if previous else None,
    )


def _lower(current: tuple[int | None], previous: tuple[int | None]) -> bool:
    """Whether ``current`` is a lower limit than ``previous`` (None: unlimited)."""
    now, before = current[0], previous[0]
    return now is not None and (before is None or now < before)


def _limit(value: object) -> tuple[int | None] | None:
    """A limit as (daily count or None for unlimited,); None when not given or not readable."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return (value,)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().upper()
    if text in _TIERS:
        return (_TIERS[text],)
    return (int(text),) if _DIGITS.fullmatch(text) and int(text) > 0 else None


def _number(value: object) -> PhoneNumber | None:
    """The number as Meta displays it (``15550783881``, or ``+1 555-078-3881``)."""
    if not isinstance(value, str):
        return None
    digits = "".join(character for character in value[:64] if character.isdigit())
    try:
        return PhoneNumber.parse(f"+{digits}") if digits else None
    except InvalidPhoneNumber:
        return None
