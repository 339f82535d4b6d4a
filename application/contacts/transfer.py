"""A tenant's contact book in and out as CSV (application/contacts/csv_files.py has the format).

The import reads the file as it arrives and writes it in batches of ``IMPORT_BATCH_SIZE`` rows: one
read of the batch's contacts, one upsert of those it creates or changes, one commit. Each row is
matched to a contact by the identity of its number (so ``+52 1 55 …`` and ``+52 55 …`` are one
contact); the columns the file has set the contact's fields: an empty cell clears a name, notes or an
attribute, and a ``tags`` cell replaces the contact's tags. Columns the file does not have leave their
fields as they are. Importing a file again therefore changes nothing: every row counts as unchanged.

A row that cannot be imported (a bad number, a value breaking a contact's rules) is refused and
reported with its line; the others go on. A file whose header is wrong is refused before any row is
read. Rows past ``MAX_IMPORT_ROWS`` are refused, each counted.

The export writes every contact by identity, a batch (one read of its own) at a time, so it takes the
same memory whatever the book's size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from uuid import UUID

from application.audit_entries import audit_entry
from application.contacts.access import require_contact_admin, require_contact_editor
from application.contacts.book import ContactChanges
from application.contacts.csv_files import (
    TAG_SEPARATOR,
    CsvRecord,
    ImportColumns,
    InvalidContactFile,
    csv_records,
    csv_text,
    export_header,
    export_row,
    import_columns,
    unmarked,
)
from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from domain.administration.audit import AuditAction
from domain.contacts.contact import Contact, ContactDetails, details_problems
from domain.errors import InvalidPhoneNumber
from domain.phone import PhoneNumber
from domain.templates.errors import FieldProblem

MAX_IMPORT_ROWS = 100_000
IMPORT_BATCH_SIZE = 500
MAX_REJECTIONS_LISTED = 1000
EXPORT_BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)  # the first MAX_REJECTIONS_LISTED

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REJECTIONS_LISTED:
            self.rejections.append(Rejection(line, reason))


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    number: PhoneNumber
    changes: ContactChanges


class ImportContacts:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, chunks: AsyncIterator[bytes]) -> ImportReport:
        require_contact_editor(principal)
        require_contact_admin(principal, "import contacts")
        report = ImportReport()
        records = csv_records(chunks)
        columns = await _header(records)
        batch: list[_Row] = []
        async for record in records:
            report.rows += 1
            if report.rows > MAX_IMPORT_ROWS:
                report.reject(record.line, f"beyond the {MAX_IMPORT_ROWS:,} rows one import takes")
                continue
            row = _row_of(record, columns, report)
            if row is not None:
                batch.append(row)
            if len(batch) >= IMPORT_BATCH_SIZE:
                await self._write(principal.tenant_id, batch, report)
                batch = []
        await self._write(principal.tenant_id, batch, report)
        async with self._uow:
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.CONTACTS_IMPORTED,
                    principal,
                    now=self._clock.now(),
                    tenant_id=principal.tenant_id,
                    details={
                        "rows": report.rows,
                        "created": report.created,
                        "updated": report.updated,
                        "unchanged": report.unchanged,
                        "rejected": report.rejected,
                    },
                )
            )
            await self._uow.commit()
        return report

    async def _write(self, tenant_id: UUID, batch: list[_Row], report: ImportReport) -> None:
        if not batch:
            return
        now = self._clock.now()
        async with self._uow:
            state = await self._uow.contacts.get_many(tenant_id, {row.number.identity for row in batch})
            written: dict[str, Contact] = {}
            for row in batch:
                identity = row.number.identity
                current = state.get(identity)
                details = row.changes.applied_to(current.details if current else ContactDetails())
                problems = details_problems(details)
                if problems:
                    report.reject(row.line, _reason(problems))
                    continue
                if current is None:
                    contact = Contact.new(tenant_id, row.number, details, now)
                    report.created += 1
                else:
                    contact = current.with_details(details, now)
                    if contact is current:
                        report.unchanged += 1
                        continue
                    report.updated += 1
                state[identity] = written[identity] = contact
            await self._uow.contacts.save_many(list(written.values()))
            await self._uow.commit()


async def _header(records: AsyncIterator[CsvRecord]) -> ImportColumns:
    async for record in records:
        if record.cells is None:
            raise InvalidContactFile(f"line {record.line}: the header {record.problem}")
        return import_columns(record.cells)
    raise InvalidContactFile("the file is empty: its first line names the columns, one of them 'phone'")


def _reason(problems: list[FieldProblem]) -> str:
    return "; ".join(f"{problem.field}: {problem.message}" for problem in problems)


def _row_of(record: CsvRecord, columns: ImportColumns, report: ImportReport) -> _Row | None:
    """The row's number and changes; None, and the row rejected, when it cannot be imported."""
    if record.cells is None:
        report.reject(record.line, f"the row {record.problem}")
        return None
    cells = [unmarked(cell) for cell in record.cells]
    if len(cells) != columns.width:
        report.reject(
            record.line, f"the row has {len(cells)} cells; the header names {columns.width} columns"
        )
        return None
    if any("\ufffd" in cell for cell in cells):
        report.reject(record.line, "the row is not UTF-8 text")
        return None
    try:
        number = PhoneNumber.parse(cells[columns.phone])
    except InvalidPhoneNumber as error:
        report.reject(record.line, f"phone: {error}")
        return None

    def cell(position: int | None) -> str | None:
        return None if position is None else cells[position]

    name, notes, tags = cell(columns.name), cell(columns.notes), cell(columns.tags)
    changes = ContactChanges(
        name=name or None,
        clear_name=name == "",
        notes=notes or None,
        clear_notes=notes == "",
        tags=(
            frozenset(tag.strip() for tag in tags.split(TAG_SEPARATOR) if tag.strip())
            if tags is not None
            else None
        ),
        attributes={key: cells[position] or None for key, position in columns.attributes.items()} or None,
    )
    return _Row(record.line, number, changes)


@dataclass(frozen=True, slots=True)
class ContactExport:
    """The CSV, written as it is read: its header first, then a batch of rows at a time."""

    attribute_keys: list[str]
    chunks: AsyncIterator[str]


class ExportContacts:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal) -> ContactExport:
        """Checks the caller and reads the attribute keys (the columns) before the first row is written,
        so that a refusal or an unavailable database is still an error answer, not a broken file."""
        require_contact_editor(principal)
        async with self._uow:
            keys = await self._uow.contacts.attribute_keys(principal.tenant_id)
        return ContactExport(keys, self._chunks(principal.tenant_id, keys))

    async def _chunks(self, tenant_id: UUID, keys: list[str]) -> AsyncIterator[str]:
        yield csv_text([export_header(keys)])
        after: str | None = None
        while True:
            async with self._uow:
                batch = await self._uow.contacts.audience_batch(
                    tenant_id, tags=(), attributes={}, after_identity=after, limit=EXPORT_BATCH_SIZE
                )
            if not batch:
                return
            yield csv_text(export_row(contact, keys) for contact in batch)
            if len(batch) < EXPORT_BATCH_SIZE:
                return
            after = batch[-1].identity
