"""What a provider says of one of the tenant's senders that a campaign must stop for: its quality rating
was flagged, or its messaging limit (WhatsApp's tier) was lowered.

A campaign sending from such a sender pauses itself with the reason; nothing resumes it but a person,
since a sender whose quality fell keeps falling if the same messages go on. A quality restored or a
limit raised pauses nothing and resumes nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from domain.phone import PhoneNumber


class SenderQualityEvent(enum.StrEnum):
    FLAGGED = "flagged"  # the quality rating went low: the limit is lowered next unless it recovers
    UNFLAGGED = "unflagged"
    LIMIT_LOWERED = "limit_lowered"
    LIMIT_RAISED = "limit_raised"


# The reasons a campaign pauses with; each begins with a word a program can match.
QUALITY_FLAGGED = "sender_quality_flagged"
TIER_LOWERED = "sender_tier_lowered"


@dataclass(frozen=True, slots=True)
class SenderQualityChange:
    """``number``'s quality or messaging limit changed. ``daily_limit``: how many people it may now
    start conversations with a day (None: unlimited, or not said); ``previous_daily_limit`` likewise."""

    number: PhoneNumber
    event: SenderQualityEvent
    daily_limit: int | None = None
    previous_daily_limit: int | None = None

    @property
    def pause_reason(self) -> str | None:
        """Why a campaign from this sender pauses; None when it goes on."""
        limit = f"; its messaging limit is {self.daily_limit:,} a day" if self.daily_limit else ""
        if self.event is SenderQualityEvent.FLAGGED:
            return (
                f"{QUALITY_FLAGGED}: WhatsApp flagged the quality of sender {self.number.e164} as low"
                f"{limit}. Resume once its quality is restored."
            )
        if self.event is SenderQualityEvent.LIMIT_LOWERED:
            before = f" from {self.previous_daily_limit:,}" if self.previous_daily_limit else ""
            now = f" to {self.daily_limit:,} a day" if self.daily_limit else ""
            return (
                f"{TIER_LOWERED}: WhatsApp lowered the messaging limit of sender {self.number.e164}"
                f"{before}{now}. Check the campaign's pace and daily cap, then resume."
            )
        return None
