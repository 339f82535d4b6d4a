"""Types for what clients send, shared by every route, so that no value a client chooses can fail below
the edge: text a database can store, moments that exist in UTC, phone numbers typed into a query string.

- ``Text``: every string of a JSON request body is one. PostgreSQL text cannot hold U+0000 (SQLite can,
  so it would pass there and fail in production); the pattern refuses it with a 400 naming the field,
  and the schema carries the pattern. Lone surrogates never get this far: the JSON decoder refuses them.
- ``Moment``: a date-time query parameter, read in UTC. Python cannot turn year 1 at +14:00 or
  9999-12-31 at -14:00 into UTC; such a moment is a 400 naming the parameter instead of an overflow at
  the database.
- ``phone_number_from_query``: a "+" typed unencoded into a query string arrives as a space.
- ``PageLimit``, ``PageCursor``: the keyset pagination parameters of every list.
- ``TenantRole``: the roles a tenant's users and API keys can have.
- ``idempotency_key_header``: the ``Idempotency-Key`` header of the routes that create something.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema
from litestar.params import HeaderParameter, QueryParameter
from litestar.plugins import OpenAPISchemaPlugin

from application.pagination import MAX_CURSOR_LENGTH, MAX_PAGE_SIZE

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.types import TypeDecodersSequence
    from litestar.typing import FieldDefinition

# Any text without U+0000. JSON Schema patterns are ECMA-262 regular expressions; Python reads this one
# the same way.
STORABLE_TEXT_PATTERN = r"^[^\u0000]*$"

Text = Annotated[str, msgspec.Meta(pattern=STORABLE_TEXT_PATTERN)]


class Moment(datetime):
    """A date-time from a query string that has a UTC equivalent (RFC 3339, as msgspec reads it)."""


_MOMENT_DESCRIPTION = "RFC 3339 with its offset, e.g. 2026-01-31T12:00:00Z; within the years 1 to 9999 in UTC"


def decode_moment(_: type, value: Any) -> Moment:
    """Litestar's type decoder for ``Moment``: a ValueError becomes a 400 naming the parameter."""
    try:
        moment = msgspec.convert(value, datetime)
    except msgspec.ValidationError as error:
        raise ValueError(f"{str(value)[:40]!r} is not a date-time: {error}") from None
    if moment.tzinfo is not None:
        # In UTC from here on: RFC 3339 allows offsets up to ±23:59, PostgreSQL only up to ±15:59.
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"{moment.isoformat()} is outside the years 1 to 9999 in UTC") from None
    return Moment.combine(moment.date(), moment.timetz())


class MomentSchemaPlugin(OpenAPISchemaPlugin):
    """Documents ``Moment`` as the date-time string it is read from."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Moment

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        return Schema(
            type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME, description=_MOMENT_DESCRIPTION
        )


MOMENT_DECODERS: TypeDecodersSequence = [(lambda kind: kind is Moment, decode_moment)]

# "+14155550123" typed into a query string unencoded: its "+" arrives as a space.
_PLUS_AS_SPACE = re.compile(r"^(whatsapp:)? (?=\d)", re.IGNORECASE)


def phone_number_from_query(value: str | None) -> str | None:
    """A phone number from a query parameter, with the "+" that arrived as a space put back."""
    return _PLUS_AS_SPACE.sub(r"\1+", value, count=1) if value else value


PageLimit = Annotated[
    int,
    QueryParameter(ge=1, description=f"1 to {MAX_PAGE_SIZE}; larger values are capped at {MAX_PAGE_SIZE}"),
]
PageCursor = Annotated[str | None, QueryParameter(max_length=MAX_CURSOR_LENGTH)]

# Roles a tenant's users and API keys can have; platform admins are created with the CLI.
TenantRole = Literal["agent", "tenant_admin"]


def idempotency_key_header(description: str) -> HeaderParameter:
    """The ``Idempotency-Key`` header: printable ASCII without spaces, as a client's UUID or token is."""
    return HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description=description,
    )
