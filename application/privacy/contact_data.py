"""A person's rights over what a tenant holds about them: to have it handed over (an access request) and
to have it erased (an erasure request). Tenant admins act on them; each is in the audit trail, which
names no number and holds no message content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from application.audit_entries import audit_entry
from application.authorization import require_tenant_admin
from application.ports.clock import Clock
from application.ports.media import served_at
from application.ports.media_store import MediaStore
from application.ports.retention import ContactRecords
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from application.privacy.retention import remove_files
from domain.administration.audit import AuditAction, TargetKind
from domain.phone import PhoneNumber

# The most messages an export holds (the newest): the document is built in memory, so it is bounded.
MAX_EXPORTED_MESSAGES = 10_000


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What was removed, counted per kind (``messages``, ``status_events``, ``media``, ``contacts``,
    ``consent_ledger``, …); what was kept on purpose, per kind (``consent_opt_out``: the person's
    opt-out stays, so that nobody writes to them again); ``media_files_left``: files the media store
    could not delete now (their records are gone)."""

    contact: PhoneNumber
    removed: dict[str, int]
    kept: dict[str, int]
    media_files_left: int


@dataclass(frozen=True, slots=True)
class ContactExport:
    """Everything held about the person, one section per kind of record (each message with its status
    events as its ``timeline``; each media record with the ``url`` it is served at). ``truncated``: they
    have more than ``MAX_EXPORTED_MESSAGES`` messages and only the newest are here."""

    contact: PhoneNumber
    forms: tuple[str, ...]
    exported_at: datetime
    records: ContactRecords
    truncated: bool


class EraseContactData:
    def __init__(self, uow: UnitOfWork, store: MediaStore, clock: Clock) -> None:
        self._uow = uow
        self._store = store
        self._clock = clock

    async def __call__(self, principal: Principal, number: str) -> ErasureReport:
        require_tenant_admin(principal, "only tenant admins erase what their tenant holds about a person")
        contact = PhoneNumber.parse(number)
        async with self._uow:
            removed = await self._uow.contact_data.erase(principal.tenant_id, contact)
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.CONTACT_ERASED,
                    principal,
                    now=self._clock.now(),
                    tenant_id=principal.tenant_id,
                    target=(TargetKind.CONTACT, None),
                    details={"removed": _counts(removed.counts), "kept": _counts(removed.kept)},
                )
            )
            await self._uow.commit()
        left = await remove_files(self._store, removed.media_keys)
        return ErasureReport(
            contact=contact, removed=dict(removed.counts), kept=dict(removed.kept), media_files_left=left
        )


class ExportContactData:
    def __init__(self, uow: UnitOfWork, clock: Clock, *, max_messages: int = MAX_EXPORTED_MESSAGES) -> None:
        self._uow = uow
        self._clock = clock
        self._max_messages = max_messages

    async def __call__(self, principal: Principal, number: str) -> ContactExport:
        require_tenant_admin(principal, "only tenant admins export what their tenant holds about a person")
        contact = PhoneNumber.parse(number)
        now = self._clock.now()
        async with self._uow:
            # One more than the bound tells whether the person has more.
            records = await self._uow.contact_data.export(
                principal.tenant_id, contact, self._max_messages + 1
            )
            truncated = _trim(records, self._max_messages)
            counts = {kind: len(rows) for kind, rows in records.items()}
            _nest_timelines(records)
            for kept in records.get("media", []):
                kept["url"] = served_at(str(kept["id"]))
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.CONTACT_EXPORTED,
                    principal,
                    now=now,
                    tenant_id=principal.tenant_id,
                    target=(TargetKind.CONTACT, None),
                    details={"exported": _counts(counts)},
                )
            )
            await self._uow.commit()
        return ContactExport(
            contact=contact, forms=contact.forms, exported_at=now, records=records, truncated=truncated
        )


def _trim(records: ContactRecords, max_messages: int) -> bool:
    """Keep the newest ``max_messages`` messages (records come oldest first) and what is attached to
    them; whether any was left out."""
    messages = records.get("messages", [])
    if len(messages) <= max_messages:
        return False
    dropped = {row["id"] for row in messages[: len(messages) - max_messages]}
    records["messages"] = messages[len(messages) - max_messages :]
    for section in ("status_events", "media"):
        records[section] = [row for row in records.get(section, []) if row.get("message_id") not in dropped]
    return True


def _nest_timelines(records: ContactRecords) -> None:
    """Each message's status events under it as its ``timeline`` (oldest first), instead of a section
    of their own."""
    timelines: dict[object, list[dict[str, object]]] = {}
    for event in records.pop("status_events", []):
        timelines.setdefault(event.pop("message_id"), []).append(event)
    for message in records.get("messages", []):
        message["timeline"] = timelines.get(message["id"], [])


def _counts(counts: dict[str, int]) -> str:
    """``kind=count`` of the kinds with any (an entry's detail is short), or ``nothing``."""
    return ",".join(f"{kind}={count}" for kind, count in sorted(counts.items()) if count) or "nothing"
