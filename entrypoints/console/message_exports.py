"""The message history as a file: CSV for a spreadsheet, NDJSON (one JSON object a line, the API's
message resource) for a program. The file is written while the history is read, one keyset page at a
time, so an export takes the same memory whatever its size."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace

import msgspec

from application.messaging.history import HistoryPage, HistoryRequest, ListHistory
from application.ports.messages import MessageView
from application.spreadsheet_cells import neutralised
from entrypoints.http.messaging.schemas import MessageResource

# The columns of the CSV: the API's names for the fields of a message, flattened.
CSV_COLUMNS = (
    "id",
    "created_at",
    "direction",
    "status",
    "kind",
    "from_number",
    "to_number",
    "body",
    "media_urls",
    "profile_name",
    "provider",
    "provider_sid",
    "failure_code",
    "failure_reason",
    "error_code",
    "error_message",
    "updated_at",
)


def csv_row(view: MessageView) -> list[str]:
    failure = view.failure
    values: dict[str, object] = {
        "id": view.id,
        "created_at": view.created_at.isoformat(),
        "direction": view.direction,
        "status": view.status,
        "kind": view.kind,
        "from_number": view.from_number,
        "to_number": view.to_number,
        "body": view.body,
        "media_urls": " ".join(view.media_urls),
        "profile_name": view.profile_name,
        "provider": view.provider,
        "provider_sid": view.provider_sid,
        "failure_code": failure.code if failure else None,
        "failure_reason": (failure.reason or failure.advice) if failure else None,
        "error_code": view.error_code,
        "error_message": view.error_message,
        "updated_at": view.updated_at.isoformat(),
    }
    return [neutralised("" if values[column] is None else str(values[column])) for column in CSV_COLUMNS]


def csv_lines(views: Iterable[MessageView], *, header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_row(view) for view in views)
    return buffer.getvalue()


_ndjson_encoder = msgspec.json.Encoder()


def ndjson_lines(views: Iterable[MessageView]) -> bytes:
    return b"".join(_ndjson_encoder.encode(MessageResource.of_view(view)) + b"\n" for view in views)


async def pages_of(
    list_history: ListHistory, request: HistoryRequest, first: HistoryPage
) -> AsyncIterator[list[MessageView]]:
    """``first`` (the page of ``request``, read before the answer began, so that a bad filter is still
    an error page), then every page after it, newest first."""
    page = first
    yield page.items
    while page.next_cursor is not None:
        page = await list_history(replace(request, cursor=page.next_cursor))
        yield page.items


async def csv_export(pages: AsyncIterator[list[MessageView]]) -> AsyncIterator[bytes]:
    header = True
    async for views in pages:
        yield csv_lines(views, header=header).encode()
        header = False


async def ndjson_export(pages: AsyncIterator[list[MessageView]]) -> AsyncIterator[bytes]:
    async for views in pages:
        if views:
            yield ndjson_lines(views)
