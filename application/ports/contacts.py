"""Port of a tenant's contacts: where they are stored, found, and walked through."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.contacts.contact import Contact
from domain.messaging.messages import Message


@dataclass(frozen=True, slots=True)
class ContactPosition:
    """Where a page of contacts ended: its last contact's creation time and id (newest first)."""

    created_at: datetime
    contact_id: UUID


@dataclass(frozen=True, slots=True)
class ContactQuery:
    """A page of a tenant's contacts, newest first, after ``after``. ``q`` keeps the contacts whose name
    or profile name holds it (any case), or whose number or identity holds its digits; ``tags`` those
    with every one of them; ``attributes`` those with each of those attributes equal to its value."""

    tenant_id: UUID
    limit: int
    after: ContactPosition | None = None
    q: str | None = None
    tags: Sequence[str] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)


class ContactRepository(Protocol):
    async def add(self, contact: Contact) -> None:
        """Store a new contact; AlreadyExists if the tenant has one of that identity."""
        ...

    async def get(self, tenant_id: UUID, contact_id: UUID) -> Contact | None: ...

    async def get_many(self, tenant_id: UUID, identities: Collection[str]) -> dict[str, Contact]:
        """The tenant's contacts of those identities, by identity (those it has)."""
        ...

    async def update(self, contact: Contact) -> None:
        """Store the contact's name, attributes, tags and notes as they are now; NotFound if it is gone."""
        ...

    async def save_many(self, contacts: Sequence[Contact]) -> None:
        """Store each contact (of one tenant, each identity once) in one statement: new ones added, and
        for those whose identity the tenant has, the name, attributes, tags and notes set (the stored
        contact's id, number, profile name and creation stay)."""
        ...

    async def remove(self, tenant_id: UUID, contact_id: UUID) -> Contact | None:
        """Delete the contact; the one deleted, or None if the tenant has no such contact."""
        ...

    async def list_page(self, query: ContactQuery) -> list[Contact]: ...

    async def audience_batch(
        self,
        tenant_id: UUID,
        *,
        tags: Sequence[str],
        attributes: Mapping[str, str],
        after_identity: str | None,
        limit: int,
    ) -> list[Contact]:
        """The next ``limit`` contacts by identity after ``after_identity`` (from the first when None)
        with every one of ``tags`` and each of ``attributes`` equal to its value: an audience (or the
        whole book, with no filters) walked in keyset batches."""
        ...

    async def attribute_keys(self, tenant_id: UUID) -> list[str]:
        """Every attribute key any of the tenant's contacts has, sorted."""
        ...

    async def record_message(self, message: Message) -> None:
        """One upsert as a message is stored: an inbound message creates its contact or sets the number
        it came from and the profile name it carries; an outbound one creates its contact if new."""
        ...
