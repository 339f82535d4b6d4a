"""A tenant's contacts on SQLAlchemy Core: a row of ``contacts`` each, keyed by tenant and identity.

Tags are stored as a sorted JSON array and attributes as a JSON object of text (JSONB on PostgreSQL).
The filters compare inside them: on PostgreSQL by JSONB containment (``@>``), on SQLite through
``json_each`` and ``json_extract``. The audience's order is the identity's, compared by code point on
both databases (the identity is ``+`` and digits).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import RowMapping

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.rows import contact_values
from adapters.database.statements import contact_upsert, upsert_for
from adapters.database.tables import UtcDateTime, contacts
from application.errors import NotFound
from application.ports.contacts import ContactQuery
from domain.contacts.contact import Contact
from domain.messaging.messages import Direction, Message

_CONTACT_MISSING = "the tenant has no such contact"
_EXISTS_ALREADY = "the tenant has a contact of that number already"
_ATTRIBUTE_KEYS = {
    "postgresql": sa.text(
        "SELECT DISTINCT jsonb_object_keys(attributes) AS key FROM contacts WHERE tenant_id = :tenant_id"
    ).bindparams(sa.bindparam("tenant_id", type_=sa.Uuid())),
    "sqlite": sa.text(
        "SELECT DISTINCT attribute.key AS key FROM contacts, json_each(contacts.attributes) AS attribute "
        "WHERE contacts.tenant_id = :tenant_id"
    ).bindparams(sa.bindparam("tenant_id", type_=sa.Uuid())),
}


@functools.cache
def _save_statement(dialect_name: str) -> Any:
    """Add a contact, or set the details of the tenant's contact of its identity (``save_many``)."""
    statement = upsert_for(dialect_name)(contacts)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[contacts.c.tenant_id, contacts.c.identity],
        set_={name: excluded[name] for name in ("name", "attributes", "tags", "notes", "updated_at")},
    )


class SqlAlchemyContactRepository(SqlAlchemyRepository):
    async def add(self, contact: Contact) -> None:
        await self._scope.bind(contact.tenant_id)
        await self._execute(sa.insert(contacts).values(_row(contact)), conflict=_EXISTS_ALREADY)

    async def get(self, tenant_id: UUID, contact_id: UUID) -> Contact | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(contacts).where(contacts.c.tenant_id == tenant_id, contacts.c.id == contact_id)
        )
        return _contact_from_row(row) if row else None

    async def get_many(self, tenant_id: UUID, identities: Collection[str]) -> dict[str, Contact]:
        if not identities:
            return {}
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(contacts).where(
                contacts.c.tenant_id == tenant_id, contacts.c.identity.in_(sorted(set(identities)))
            )
        )
        return {row["identity"]: _contact_from_row(row) for row in result.mappings()}

    async def update(self, contact: Contact) -> None:
        await self._scope.bind(contact.tenant_id)
        result = await self._execute(
            sa.update(contacts)
            .where(contacts.c.tenant_id == contact.tenant_id, contacts.c.id == contact.id)
            .values(**_details(contact), updated_at=contact.updated_at)
        )
        if result.rowcount == 0:
            raise NotFound(_CONTACT_MISSING)

    async def save_many(self, batch: Sequence[Contact]) -> None:
        if not batch:
            return
        await self._scope.bind(batch[0].tenant_id)
        # One statement, built once and run for every row (executemany): a multi-row VALUES built per
        # batch costs more CPU to compile than its rows cost to write.
        await self._execute(
            _save_statement(self._connection.dialect.name), [_row(contact) for contact in batch]
        )

    async def remove(self, tenant_id: UUID, contact_id: UUID) -> Contact | None:
        await self._scope.bind(tenant_id)
        contact = await self.get(tenant_id, contact_id)
        if contact is None:
            return None
        await self._execute(
            sa.delete(contacts).where(contacts.c.tenant_id == tenant_id, contacts.c.id == contact_id)
        )
        return contact

    async def list_page(self, query: ContactQuery) -> list[Contact]:
        await self._scope.bind(query.tenant_id)
        statement = sa.select(contacts).where(
            contacts.c.tenant_id == query.tenant_id, *self._filters(query.tags, query.attributes)
        )
        if query.after is not None:
            statement = statement.where(
                sa.tuple_(contacts.c.created_at, contacts.c.id)
                < sa.tuple_(
                    sa.literal(query.after.created_at, UtcDateTime()),
                    sa.literal(query.after.contact_id, sa.Uuid()),
                )
            )
        if query.q:
            statement = statement.where(_search(query.q))
        statement = statement.order_by(contacts.c.created_at.desc(), contacts.c.id.desc()).limit(query.limit)
        return [_contact_from_row(row) for row in (await self._execute(statement)).mappings()]

    async def audience_batch(
        self,
        tenant_id: UUID,
        *,
        tags: Sequence[str],
        attributes: Mapping[str, str],
        after_identity: str | None,
        limit: int,
    ) -> list[Contact]:
        await self._scope.bind(tenant_id)
        identity = self._by_code_point(contacts.c.identity)
        statement = sa.select(contacts).where(
            contacts.c.tenant_id == tenant_id, *self._filters(tags, attributes)
        )
        if after_identity is not None:
            statement = statement.where(identity > after_identity)
        statement = statement.order_by(identity).limit(limit)
        return [_contact_from_row(row) for row in (await self._execute(statement)).mappings()]

    async def attribute_keys(self, tenant_id: UUID) -> list[str]:
        await self._scope.bind(tenant_id)
        result = await self._execute(_ATTRIBUTE_KEYS[self._connection.dialect.name], {"tenant_id": tenant_id})
        return sorted(row.key for row in result)

    async def record_message(self, message: Message) -> None:
        await self._scope.bind(message.tenant_id)
        inbound = message.direction is Direction.INBOUND
        await self._execute(
            contact_upsert(contact_values(message), self._connection.dialect.name, inbound=inbound)
        )

    def _filters(self, tags: Sequence[str], attributes: Mapping[str, str]) -> list[sa.ColumnElement[bool]]:
        """Every one of ``tags``, and each of ``attributes`` equal to its value."""
        if self._connection.dialect.name == "postgresql":
            filters = []
            if tags:
                filters.append(sa.type_coerce(contacts.c.tags, JSONB).contains(sorted(set(tags))))
            if attributes:
                filters.append(sa.type_coerce(contacts.c.attributes, JSONB).contains(dict(attributes)))
            return filters
        filters = []
        for tag in sorted(set(tags)):
            each = sa.func.json_each(contacts.c.tags).table_valued("value")
            filters.append(sa.exists(sa.select(sa.literal(1)).select_from(each).where(each.c.value == tag)))
        for key, value in sorted(attributes.items()):
            # The key's syntax (letters, digits, underscores) is checked before: quoted, it is a plain path.
            filters.append(sa.func.json_extract(contacts.c.attributes, f'$."{key}"') == value)
        return filters

    def _by_code_point(self, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        return column.collate("C") if self._connection.dialect.name == "postgresql" else column


def _search(q: str) -> sa.ColumnElement[bool]:
    """The name or profile name holds ``q`` (any case), or the number or identity holds its digits."""
    text = q.lower()
    found = [
        sa.func.lower(contacts.c.name).contains(text, autoescape=True),
        sa.func.lower(contacts.c.profile_name).contains(text, autoescape=True),
    ]
    digits = "".join(character for character in q if character.isdigit() and character.isascii())
    if digits and len(digits) >= len(q.strip().lstrip("+").replace(" ", "").replace("-", "")):
        found += [contacts.c.phone_number.contains(digits), contacts.c.identity.contains(digits)]
    return sa.or_(*found)


def _details(contact: Contact) -> dict[str, Any]:
    return {
        "name": contact.name,
        "attributes": dict(contact.attributes),
        "tags": sorted(contact.tags),
        "notes": contact.notes,
    }


def _row(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "tenant_id": contact.tenant_id,
        "identity": contact.identity,
        "phone_number": contact.phone_number,
        "profile_name": contact.profile_name,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        **_details(contact),
    }


def _contact_from_row(row: RowMapping) -> Contact:
    return Contact(
        id=row["id"],
        tenant_id=row["tenant_id"],
        identity=row["identity"],
        phone_number=row["phone_number"],
        name=row["name"],
        profile_name=row["profile_name"],
        attributes=row["attributes"],
        tags=frozenset(row["tags"]),
        notes=row["notes"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
