"""Contacts as CSV: the file the export writes and the import reads.

Columns: ``phone`` (required on import), ``name``, ``tags`` (semicolon-separated), ``notes``, and one
``attr.<key>`` column per attribute key. The export also writes ``id``, ``identity``, ``profile_name``,
``created_at`` and ``updated_at``, which the import accepts and ignores, so that an exported file
imports as it is. Any other column is refused.

A cell a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@`` …) is exported with a leading
apostrophe, as the console's message export writes it; a cell that begins with an apostrophe gets one
more. The import drops one leading apostrophe from every cell, as a spreadsheet does with its text
marker, so numbers (``'+5215512345678``) and formulas read back as they were.

The import reads its file as it arrives, a row at a time (a row's quoted cells may span lines): memory
does not grow with the file.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field

from application.errors import InvalidInput
from application.spreadsheet_cells import neutralised
from domain.contacts.contact import ATTRIBUTE_KEY, Contact

PHONE, NAME, TAGS, NOTES = "phone", "name", "tags", "notes"
ATTRIBUTE_PREFIX = "attr."
TAG_SEPARATOR = ";"
# Written by the export, accepted and ignored by the import: what the gateway sets itself.
EXPORT_ONLY = ("id", "identity", "profile_name", "created_at", "updated_at")
EXPORT_COLUMNS = ("id", PHONE, "identity", NAME, "profile_name", TAGS, NOTES, "created_at", "updated_at")
# A contact's row at its largest (10,000 characters of notes, 50 attributes of 1,024) fits with room.
MAX_ROW_CHARACTERS = 96 * 1024
MAX_HEADER_CHARACTERS = 16 * 1024

_TEXT_MARKER = "'"


class InvalidContactFile(InvalidInput):
    """The file cannot be imported at all (its header, or a row too long to read): nothing was changed
    by its rows after the problem; the detail says what and where."""


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as text a spreadsheet will not evaluate, and the import reads back as it was."""
    # Unlike ``neutralised``, a cell already starting with the marker gets one more: the import drops one.
    return _TEXT_MARKER + cell if cell.startswith(_TEXT_MARKER) else neutralised(cell)


def unmarked(cell: str) -> str:
    return cell[1:] if cell.startswith(_TEXT_MARKER) else cell


# ------------------------------------------------------------------------------------------- export


def export_header(attribute_keys: Sequence[str]) -> list[str]:
    return [*EXPORT_COLUMNS, *(ATTRIBUTE_PREFIX + key for key in attribute_keys)]


def export_row(contact: Contact, attribute_keys: Sequence[str]) -> list[str]:
    cells = [
        str(contact.id),
        contact.phone_number,
        contact.identity,
        contact.name or "",
        contact.profile_name or "",
        TAG_SEPARATOR.join(sorted(contact.tags)),
        contact.notes or "",
        contact.created_at.isoformat(),
        contact.updated_at.isoformat(),
        *(contact.attributes.get(key, "") for key in attribute_keys),
    ]
    return [spreadsheet_safe(cell) for cell in cells]


def csv_text(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------- import


@dataclass(frozen=True, slots=True)
class ImportColumns:
    """Where each column the import reads is in a row."""

    phone: int
    name: int | None = None
    tags: int | None = None
    notes: int | None = None
    attributes: dict[str, int] = field(default_factory=dict)
    width: int = 1


def import_columns(header: Sequence[str]) -> ImportColumns:
    """The columns named by the file's first row; InvalidContactFile naming every problem with them."""
    names = [unmarked(name.strip()) for name in header]
    problems = []
    positions: dict[str, int] = {}
    attributes: dict[str, int] = {}
    for position, name in enumerate(names):
        if name in positions or (
            name.startswith(ATTRIBUTE_PREFIX) and name[len(ATTRIBUTE_PREFIX) :] in attributes
        ):
            problems.append(f"the column {name[:80]!r} is named twice")
        elif name.startswith(ATTRIBUTE_PREFIX):
            key = name[len(ATTRIBUTE_PREFIX) :]
            if ATTRIBUTE_KEY.fullmatch(key):
                attributes[key] = position
            else:
                problems.append(
                    f"{name[:80]!r}: an attribute's key is a lower-case letter, then up to 63 lower-case "
                    "letters, digits or underscores"
                )
        elif name in (PHONE, NAME, TAGS, NOTES, *EXPORT_ONLY):
            positions[name] = position
        else:
            problems.append(
                f"the column {name[:80]!r} is not one a contact has (phone, name, tags, notes, attr.<key>)"
            )
    if PHONE not in positions:
        problems.insert(0, "the first line names the columns, and one of them is 'phone'")
    if problems:
        raise InvalidContactFile("; ".join(problems))
    return ImportColumns(
        phone=positions[PHONE],
        name=positions.get(NAME),
        tags=positions.get(TAGS),
        notes=positions.get(NOTES),
        attributes=attributes,
        width=len(names),
    )


@dataclass(frozen=True, slots=True)
class CsvRecord:
    line: int  # the file's line the row begins on (the header is line 1)
    cells: list[str] | None  # None: the row could not be read (``problem`` says why)
    problem: str | None = None


async def csv_records(chunks: AsyncIterator[bytes]) -> AsyncIterator[CsvRecord]:
    """The rows of a UTF-8 CSV file arriving in ``chunks``, each with its line; blank lines skipped.

    A row is complete once its lines hold an even number of quotes (a quoted cell may span lines).
    Bytes that are not UTF-8 read as U+FFFD (the row is then refused, not the file). A row longer than
    ``MAX_ROW_CHARACTERS`` ends the import with InvalidContactFile."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    pending = ""  # text after the last line break
    record: list[str] = []
    record_size = quotes = 0
    line = next_line = 1

    def complete() -> CsvRecord | None:
        nonlocal record, record_size, quotes, line
        text = "".join(record)
        record, record_size, quotes, start = [], 0, 0, line
        line = next_line
        if not text.strip():
            return None
        try:
            cells = next(csv.reader([text]))
        except (csv.Error, StopIteration) as error:
            return CsvRecord(start, None, f"is not a CSV row ({error})")
        return CsvRecord(start, cells)

    async def lines() -> AsyncIterator[str]:
        nonlocal pending
        async for chunk in chunks:
            pending += decoder.decode(chunk)
            *ended, pending = pending.split("\n")
            for text in ended:
                yield text + "\n"
            if len(pending) > MAX_ROW_CHARACTERS:
                raise InvalidContactFile(
                    f"line {next_line}: a row is longer than {MAX_ROW_CHARACTERS} characters"
                )
        pending += decoder.decode(b"", final=True)
        for text in pending.split("\n"):
            if text:
                yield text

    async for text in lines():
        record.append(text)
        record_size += len(text)
        quotes += text.count('"')
        next_line += 1
        if record_size > MAX_ROW_CHARACTERS:
            raise InvalidContactFile(f"line {line}: a row is longer than {MAX_ROW_CHARACTERS} characters")
        if quotes % 2 == 0:
            found = complete()
            if found is not None:
                yield found
    if record:
        unterminated = quotes % 2 == 1
        found = complete()
        if found is not None:
            yield CsvRecord(found.line, None, "ends inside a quoted cell") if unterminated else found
