"""Everything a tenant holds about one person, on SQLAlchemy Core: exported for an access request, or
erased for an erasure request.

Both are lists of steps, one per table: another table that holds something about a person joins the
export or the erasure with one line here (its statement given the ``Contact``). An erasure step is a
DELETE whose row count is the report's figure for its kind; the steps run in order, so a table comes
before the table its rows reference. What an erasure keeps on purpose (a person's opt-out) is counted
after the steps, per kind, beside them. An export step is a SELECT whose rows become the document's
section of its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.tables import (
    campaign_recipients,
    consent_ledger,
    consent_states,
    contacts,
    conversations,
    dispatch_jobs,
    idempotency_keys,
    media,
    media_downloads,
    message_status_events,
    messages,
)
from application.ports.media import media_key
from application.ports.retention import ContactRecords
from domain.consent.model import ConsentState
from domain.messaging.retention import RemovedData
from domain.phone import PhoneNumber


@dataclass(frozen=True, slots=True)
class Contact:
    """Whose records a step names: a tenant's person, by their identity and every form of their number."""

    tenant_id: UUID
    identity: str
    forms: tuple[str, ...]

    @property
    def message_ids(self) -> sa.Select[Any]:
        """The ids of the person's messages, both ways (messages keep the form they were sent in)."""
        return sa.select(messages.c.id).where(
            messages.c.tenant_id == self.tenant_id, messages.c.contact_number.in_(self.forms)
        )


def _of_person(table: sa.Table) -> Callable[[Contact], sa.ColumnElement[bool]]:
    """The rows of ``table`` held under the person's identity."""
    return lambda contact: sa.and_(
        table.c.tenant_id == contact.tenant_id, table.c.identity == contact.identity
    )


def _of_messages(table: sa.Table) -> Callable[[Contact], sa.ColumnElement[bool]]:
    """The rows of ``table`` attached to the person's messages."""
    return lambda contact: sa.and_(
        table.c.tenant_id == contact.tenant_id, table.c.message_id.in_(contact.message_ids)
    )


def _consent_state(*, opted_out: bool) -> Callable[[Contact], sa.ColumnElement[bool]]:
    """The person's consent state, if it is an opt-out (or if it is not)."""
    opt_out = consent_states.c.state == ConsentState.OPTED_OUT.value
    return lambda contact: sa.and_(
        _of_person(consent_states)(contact), opt_out if opted_out else sa.not_(opt_out)
    )


# (kind, which rows of the table are the person's), in the order an erasure deletes them.
_ERASURE_STEPS: tuple[tuple[str, sa.Table, Callable[[Contact], sa.ColumnElement[bool]]], ...] = (
    ("media_downloads", media_downloads, _of_messages(media_downloads)),
    ("media", media, _of_messages(media)),
    ("status_events", message_status_events, _of_messages(message_status_events)),
    ("dispatch_jobs", dispatch_jobs, _of_messages(dispatch_jobs)),
    ("idempotency_keys", idempotency_keys, _of_messages(idempotency_keys)),
    (
        "messages",
        messages,
        lambda contact: sa.and_(
            messages.c.tenant_id == contact.tenant_id, messages.c.contact_number.in_(contact.forms)
        ),
    ),
    (
        "conversations",
        conversations,
        lambda contact: sa.and_(
            conversations.c.tenant_id == contact.tenant_id,
            conversations.c.contact_identity == contact.identity,
        ),
    ),
    ("contacts", contacts, _of_person(contacts)),
    ("consent_ledger", consent_ledger, _of_person(consent_ledger)),
    ("consent_states", consent_states, _consent_state(opted_out=False)),
    # The campaigns' lists they were on: the number and the values their messages were written with.
    ("campaign_recipients", campaign_recipients, _of_person(campaign_recipients)),
)
# (kind, which rows of the table an erasure keeps on purpose), counted once the steps above have run.
# An opt-out outlives the erasure: without it the next campaign or send would write to someone who asked
# to hear no more. The state row stays as it is (identity, number, state, source word and since when);
# the ledger entries that told how it came about (who, the customer's message, the note) go.
_KEPT: tuple[tuple[str, sa.Table, Callable[[Contact], sa.ColumnElement[bool]]], ...] = (
    ("consent_opt_out", consent_states, _consent_state(opted_out=True)),
)


def _export_steps(contact: Contact, max_messages: int) -> tuple[tuple[str, sa.Select[Any]], ...]:
    """(section, its rows), in the document's order: the person's contact, consent state and consent
    ledger (oldest entry first), their conversation, and the newest ``max_messages`` messages and what
    is attached to them."""
    exported = (
        sa.select(messages.c.id)
        .where(messages.c.tenant_id == contact.tenant_id, messages.c.contact_number.in_(contact.forms))
        .order_by(messages.c.created_at.desc(), messages.c.id.desc())
        .limit(max_messages)
        .scalar_subquery()
    )

    def attached(table: sa.Table, *order: sa.ColumnElement[Any]) -> sa.Select[Any]:
        return (
            sa.select(*(column for column in table.c if column.name != "tenant_id"))
            .where(table.c.tenant_id == contact.tenant_id, table.c.message_id.in_(exported))
            .order_by(*order)
        )

    def of_person(table: sa.Table, *order: sa.ColumnElement[Any]) -> sa.Select[Any]:
        return (
            sa.select(*(column for column in table.c if column.name != "tenant_id"))
            .where(_of_person(table)(contact))
            .order_by(*order)
        )

    return (
        ("contact", of_person(contacts)),
        ("consent", of_person(consent_states)),
        ("consent_ledger", of_person(consent_ledger, consent_ledger.c.sequence)),
        (
            "conversations",
            sa.select(*(column for column in conversations.c if column.name != "tenant_id")).where(
                conversations.c.tenant_id == contact.tenant_id,
                conversations.c.contact_identity == contact.identity,
            ),
        ),
        (
            "messages",
            sa.select(*(column for column in messages.c if column.name != "tenant_id"))
            .where(messages.c.tenant_id == contact.tenant_id, messages.c.id.in_(exported))
            .order_by(messages.c.created_at, messages.c.id),
        ),
        ("status_events", attached(message_status_events, message_status_events.c.id)),
        ("media", attached(media, media.c.created_at, media.c.id)),
        (
            "campaign_recipients",
            of_person(campaign_recipients, campaign_recipients.c.created_at, campaign_recipients.c.id),
        ),
    )


class SqlAlchemyContactDataRepository(SqlAlchemyRepository):
    async def erase(self, tenant_id: UUID, contact: PhoneNumber) -> RemovedData:
        await self._scope.bind(tenant_id)
        person = _contact(tenant_id, contact)
        kept = await self._execute(sa.select(media.c.id).where(_of_messages(media)(person)))
        keys = tuple(media_key(tenant_id, media_id) for media_id in kept.scalars())
        counts: dict[str, int] = {}
        for kind, table, rows in _ERASURE_STEPS:
            counts[kind] = int((await self._execute(sa.delete(table).where(rows(person)))).rowcount)
        left: dict[str, int] = {}
        for kind, table, rows in _KEPT:
            statement = sa.select(sa.func.count()).select_from(table).where(rows(person))
            left[kind] = int((await self._execute(statement)).scalar_one())
        return RemovedData(counts=counts, media_keys=keys, kept=left)

    async def export(self, tenant_id: UUID, contact: PhoneNumber, max_messages: int) -> ContactRecords:
        await self._scope.bind(tenant_id)
        person = _contact(tenant_id, contact)
        records: ContactRecords = {}
        for section, statement in _export_steps(person, max_messages):
            records[section] = [dict(row) for row in (await self._execute(statement)).mappings()]
        return records


def _contact(tenant_id: UUID, contact: PhoneNumber) -> Contact:
    return Contact(tenant_id=tenant_id, identity=contact.identity, forms=contact.forms)
