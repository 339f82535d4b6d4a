"""How far a campaign got: counted from its recipients and their messages when asked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    targeted: int = 0  # recipients stored, skipped ones included (duplicates are not stored)
    pending: int = 0
    skipped_opted_out: int = 0
    skipped_duplicate: int = 0
    skipped_invalid: int = 0
    accepted: int = 0  # handed to the dispatch, not yet at the provider
    sent: int = 0  # at the provider, not yet delivered
    delivered: int = 0  # delivered, not yet read
    read: int = 0
    failed: int = 0
    replied: int = 0  # recipients who wrote after their message was accepted
