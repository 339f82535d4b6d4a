"""Retention and erasure: each tenant's retention policy, the batches that remove what outlived it, and
everything held about one contact (to hand over, or to erase)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.messaging.retention import RemovedData, RetentionPolicy
from domain.phone import PhoneNumber

# What is held about a contact, one section per kind of record (``contact``, ``consent``,
# ``consent_ledger``, ``conversations``, ``messages``, ``status_events``, ``media``), each a list of
# records of plain values (text, numbers, booleans, timestamps, ids, lists and mappings of them) as
# stored.
ContactRecords = dict[str, list[dict[str, object]]]


class RetentionRepository(Protocol):
    async def get_policy(self, tenant_id: UUID) -> RetentionPolicy | None: ...
    async def save_policy(self, policy: RetentionPolicy) -> None:
        """Keep ``policy`` as its tenant's, replacing the one it had."""
        ...

    async def remove_policy(self, tenant_id: UUID) -> bool:
        """The tenant keeps everything again; False if it had no policy."""
        ...

    async def policies(self) -> list[RetentionPolicy]:
        """Every tenant's policy (for the workers' batches)."""
        ...

    async def redact_expired(self, policy: RetentionPolicy, now: datetime, limit: int) -> RemovedData:
        """Remove the body, media and personal content of up to ``limit`` of the tenant's settled messages
        older than the policy's horizon that still have them, keeping their metadata, and mark them
        redacted; clear the preview of conversations whose last message it was. Batches running at
        once take different messages; a message redacted already is not counted again."""
        ...

    async def delete_expired(self, policy: RetentionPolicy, now: datetime, limit: int) -> RemovedData:
        """Delete up to ``limit`` of the tenant's settled messages older than the policy's horizon, with
        their status events, dispatch jobs, media downloads and media records."""
        ...


class ContactDataRepository(Protocol):
    """What a tenant holds about one person, in every form WhatsApp writes their number in."""

    async def erase(self, tenant_id: UUID, contact: PhoneNumber) -> RemovedData:
        """Delete every record of the person: their messages (both ways) with everything attached to
        them, their conversation, their contact, their consent ledger entries and their consent state;
        counted per kind. An opt-out state is kept (and counted in ``kept`` as ``consent_opt_out``):
        without it the person would be written to again."""
        ...

    async def export(self, tenant_id: UUID, contact: PhoneNumber, max_messages: int) -> ContactRecords:
        """Every record of the person: their contact, consent state and consent ledger (in order), their
        conversation, and the newest ``max_messages`` messages (and what is attached to them) at most."""
        ...
