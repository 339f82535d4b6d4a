"""The filters of the console's message history, as a GET form puts them in the address: read from the
query string (an empty field is no filter), turned into a history request, and written back into links
(the next page, the exports) so that a filtered view can be bookmarked and shared."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from urllib.parse import urlencode
from uuid import UUID

from application.errors import InvalidInput
from application.messaging.history import HistoryRequest
from application.pagination import MAX_CURSOR_LENGTH
from domain.messaging.content import MessageKind
from domain.messaging.failures import FailureCode
from domain.messaging.messages import Direction, MessageStatus
from entrypoints.http.wire_types import phone_number_from_query

MAX_CONTACT_LENGTH = 64
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The query parameters the form fills, in the order links carry them.
FILTER_NAMES = ("status", "direction", "contact", "from", "to", "kind", "failure_code", "failed")


_Choice = TypeVar("_Choice", MessageStatus, Direction, MessageKind, FailureCode)


class InvalidFilter(InvalidInput):
    """A filter the history cannot be read by: the page says which, in words shown to the user."""


@dataclass(frozen=True, slots=True)
class MessageFilters:
    """What the user filters the history by. ``date_from`` and ``date_to`` are whole days in UTC (the
    console shows times in UTC), both included; ``failed``: only failed and undelivered messages."""

    status: MessageStatus | None = None
    direction: Direction | None = None
    contact: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    kind: MessageKind | None = None
    failure_code: FailureCode | None = None
    failed: bool = False

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> MessageFilters:
        """The filters in ``query``; InvalidFilter names the first that is not a value the form offers."""
        contact = _field(query, "contact")
        if contact is not None and len(contact) > MAX_CONTACT_LENGTH:
            raise InvalidFilter("The contact is too long to be a phone number.")
        filters = cls(
            status=_choice(query, "status", MessageStatus, "The status is not one of the listed ones."),
            direction=_choice(query, "direction", Direction, "The direction is not one of the listed ones."),
            contact=phone_number_from_query(contact),
            date_from=_day(query, "from", "The from date is not a date (YYYY-MM-DD)."),
            date_to=_day(query, "to", "The to date is not a date (YYYY-MM-DD)."),
            kind=_choice(query, "kind", MessageKind, "The kind is not one of the listed ones."),
            failure_code=_choice(
                query, "failure_code", FailureCode, "The failure reason is not one of the listed ones."
            ),
            failed=_field(query, "failed") is not None,
        )
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            raise InvalidFilter("The from date is after the to date.")
        return filters

    def history_request(self, tenant_id: UUID, *, limit: int, cursor: str | None = None) -> HistoryRequest:
        if cursor is not None and len(cursor) > MAX_CURSOR_LENGTH:
            raise InvalidFilter("The link to older messages is broken; start again from the newest.")
        return HistoryRequest(
            tenant_id=tenant_id,
            limit=limit,
            cursor=cursor,
            direction=self.direction,
            status=self.status,
            contact=self.contact,
            since=_start_of(self.date_from),
            until=_start_of(self.date_to + timedelta(days=1))
            if self.date_to and self.date_to < date.max
            else None,
            kind=self.kind,
            failure_code=self.failure_code,
            failures_only=self.failed,
        )

    def query_pairs(self) -> list[tuple[str, str]]:
        """The filters as the form sends them (only those set)."""
        values = {
            "status": self.status,
            "direction": self.direction,
            "contact": self.contact,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "kind": self.kind,
            "failure_code": self.failure_code,
            "failed": "1" if self.failed else None,
        }
        return [(name, str(values[name])) for name in FILTER_NAMES if values[name]]

    def query_string(self, **more: str) -> str:
        """``?…`` with the filters and ``more`` (say, a cursor), or "" when there is nothing to carry."""
        pairs = self.query_pairs() + list(more.items())
        return f"?{urlencode(pairs)}" if pairs else ""

    @property
    def any(self) -> bool:
        return bool(self.query_pairs())


def form_values(query: Mapping[str, str]) -> dict[str, str]:
    """The fields as the user typed them, to show the form again as it was (even when one is wrong)."""
    return {name: query.get(name, "")[:200] for name in FILTER_NAMES}


def _field(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name, "").strip()
    return value or None


def _choice(query: Mapping[str, str], name: str, kind: type[_Choice], refusal: str) -> _Choice | None:
    value = _field(query, name)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise InvalidFilter(refusal) from None


def _day(query: Mapping[str, str], name: str, refusal: str) -> date | None:
    value = _field(query, name)
    if value is None:
        return None
    if not _DAY.match(value):
        raise InvalidFilter(refusal)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidFilter(refusal) from None


def _start_of(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), UTC) if day is not None else None
