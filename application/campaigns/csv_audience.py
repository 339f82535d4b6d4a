"""A campaign's audience as a CSV file: a header row naming the columns, one of them the phone number's,
the others attributes template variables can be taken from by name.

The file is read row by row from a spooled copy of the upload, never whole into memory. A row that
cannot be read (more or fewer cells than the header) is kept as invalid with its line number, as is one
whose number is not a phone number; at most ``MAX_CSV_ROWS`` rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

from application.campaigns.audience import AudienceRow
from application.errors import InvalidInput

MAX_CSV_ROWS = 100_000
MAX_CSV_COLUMNS = 50
_MAX_CELL = 1024


def csv_rows(upload: BinaryIO, *, phone_column: str) -> Iterator[AudienceRow]:
    """The rows of ``upload`` (UTF-8, a byte-order mark allowed); InvalidInput for a file without the phone
    column, not UTF-8, or over ``MAX_CSV_ROWS`` rows (then nothing of it is kept: the caller's transaction
    rolls back)."""
    text = io.TextIOWrapper(upload, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("the CSV file is empty: it needs a header row naming its columns")
        header = [name.strip() for name in header]
        if len(header) > MAX_CSV_COLUMNS:
            raise InvalidInput(f"a CSV audience has at most {MAX_CSV_COLUMNS} columns")
        if phone_column not in header:
            raise InvalidInput(
                f"the CSV header has no column {phone_column!r} for the phone numbers "
                "(name it with phone_column)"
            )
        phone_at = header.index(phone_column)
        rows = 0
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            rows += 1
            if rows > MAX_CSV_ROWS:
                raise InvalidInput(f"a CSV audience has at most {MAX_CSV_ROWS} rows")
            line = reader.line_num
            if len(cells) != len(header):
                number = cells[phone_at] if phone_at < len(cells) else ""
                yield AudienceRow(
                    line, number, {}, f"line {line}: {len(cells)} cells where the header has {len(header)}"
                )
                continue
            attributes = {
                name: value.strip()[:_MAX_CELL]
                for name, value in zip(header, cells, strict=True)
                if name != phone_column
            }
            yield AudienceRow(line, cells[phone_at].strip(), attributes)
    except UnicodeDecodeError as error:
        raise InvalidInput("the CSV file is not UTF-8 text") from error
    except csv.Error as error:
        raise InvalidInput(f"the CSV file cannot be read: {error}") from error
