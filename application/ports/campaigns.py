"""Campaigns' storage."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.campaigns.model import Campaign, CampaignRecipient, NewRecipient, RecipientState
from domain.campaigns.progress import CampaignProgress
from domain.phone import PhoneNumber


@dataclass(frozen=True, slots=True)
class CampaignPosition:
    """A campaign page's last campaign: the next page starts after it (newest first)."""

    created_at: datetime
    campaign_id: UUID


@dataclass(frozen=True, slots=True)
class RecipientQuery:
    tenant_id: UUID
    campaign_id: UUID
    limit: int
    state: RecipientState | None = None
    after_position: int | None = None


class CampaignRepository(Protocol):
    async def add(self, campaign: Campaign, idempotency: tuple[str, str] | None = None) -> None:
        """Store a new campaign, with the request's (Idempotency-Key, fingerprint) if it had one;
        AlreadyExists if the tenant has a campaign with that key."""
        ...

    async def by_idempotency_key(self, tenant_id: UUID, key: str) -> tuple[Campaign, str] | None:
        """The campaign created with ``key``, and the fingerprint of the request that created it."""
        ...

    async def get(self, tenant_id: UUID, campaign_id: UUID) -> Campaign | None: ...

    async def list_page(
        self, tenant_id: UUID, *, limit: int, after: CampaignPosition | None = None
    ) -> list[Campaign]:
        """The tenant's campaigns, newest first."""
        ...

    async def active_of_sender(self, tenant_id: UUID, sender: PhoneNumber) -> list[Campaign]:
        """The tenant's scheduled and running campaigns that send from ``sender``."""
        ...

    async def save(self, campaign: Campaign) -> bool:
        """Write ``campaign`` (status, schedule, audience walk) only if its stored version is still
        ``campaign.version``, moving the version on; False if a concurrent change came first (nothing
        written)."""
        ...

    async def due(self, until: datetime, limit: int) -> list[Campaign]:
        """Across tenants: campaigns scheduled to start by ``until``, and running ones
        whose next slot comes by ``until`` or whose audience is still being walked. Locked for the
        transaction where the database can (others skip them)."""
        ...

    async def add_recipients(
        self, tenant_id: UUID, campaign_id: UUID, recipients: Sequence[NewRecipient], now: datetime
    ) -> int:
        """Store the recipients (pending, or skipped with their reason); one whose identity the campaign
        has already is left out. How many were stored."""
        ...

    async def claim_pending(self, tenant_id: UUID, campaign_id: UUID, limit: int) -> list[CampaignRecipient]:
        """Take up to ``limit`` pending recipients in audience order for this transaction (a concurrent
        claim skips them; a rollback gives them back): each is then marked accepted with its message, or
        skipped."""
        ...

    async def mark_accepted(
        self, tenant_id: UUID, accepted: Sequence[tuple[UUID, UUID]], now: datetime
    ) -> None:
        """Claimed recipients (by id) handed to the dispatch with their message (id)."""
        ...

    async def mark_skipped(
        self, tenant_id: UUID, recipient_ids: Collection[UUID], reason: str, detail: str | None
    ) -> None: ...

    async def has_pending(self, tenant_id: UUID, campaign_id: UUID) -> bool: ...

    async def progress(self, tenant_id: UUID, campaign_id: UUID) -> CampaignProgress: ...

    async def recipients_page(self, query: RecipientQuery) -> list[CampaignRecipient]:
        """Recipients in audience order, each with its state as its message's status tells it."""
        ...

    async def hold_unsent(self, tenant_id: UUID, campaign_id: UUID, hold_until: datetime) -> int:
        """Move the dispatch jobs of the campaign's messages that wait to be sent (not leased, not waiting
        to learn an earlier attempt's outcome) to ``hold_until``; how many."""
        ...

    async def held_messages(self, tenant_id: UUID, campaign_id: UUID, held_since: datetime) -> list[UUID]:
        """The campaign's messages whose jobs wait to be sent at or after ``held_since`` (``HELD_UNTIL``:
        the held ones), in audience order."""
        ...

    async def reschedule_jobs(self, tenant_id: UUID, slots: Sequence[tuple[UUID, datetime]]) -> None:
        """Each message's job due at its slot (jobs nobody leased only)."""
        ...

    async def campaign_of_message(self, tenant_id: UUID, message_id: UUID) -> UUID | None: ...
