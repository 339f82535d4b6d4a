"""A tenant's template catalogue on SQLAlchemy Core: each template a row of ``templates`` (its components a
document of template_document.py), each of its listings a row of ``template_listings``.

A template is written whole: its row, then its listings as they are now (the old ones deleted, the
new ones inserted, in the one transaction). It reads back with its listings by account, the sandbox's
first, whatever order they were written in. The catalogue's pages go by name then language, compared
by code point on every database (PostgreSQL compares text by the database's collation otherwise: under
an English one ``Orders`` sorts after ``orders``, and glibc's puts ``orders`` before ``order_update``).
The periodic sync's claims are rows of ``template_sync_claims``, one per tenant (migration 0021).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.statements import upsert_for
from adapters.database.tables import template_listings, template_sync_claims, templates
from adapters.database.template_document import definition_document, definition_from_document
from application.errors import NotFound
from application.ports.templates import TemplateQuery
from domain.administration.tenancy import ProviderName
from domain.templates.catalogue import CatalogueTemplate, TemplateListing, TemplateQuality, TemplateStatus

_TEMPLATE_MISSING = "the tenant has no such template"
_ACCOUNT_MISSING = "the tenant has no such provider account"
_LISTED_ALREADY = "the template is listed already at that account, or the provider's template is"

# Built once, as those of statements.py are.
_TEMPLATE_BY_ID = sa.select(templates).where(
    templates.c.tenant_id == sa.bindparam("tenant_id"), templates.c.id == sa.bindparam("template_id")
)
# A template with its listings in one round trip (a send by template reads one): a row per listing, the
# listing's columns under a prefix (none for a template listed nowhere).
_LISTING_PREFIX = "listing_"
_TEMPLATE_WITH_LISTINGS_BY_KEY = (
    sa.select(templates, *(column.label(_LISTING_PREFIX + column.name) for column in template_listings.c))
    .outerjoin(
        template_listings,
        sa.and_(
            template_listings.c.tenant_id == templates.c.tenant_id,
            template_listings.c.template_id == templates.c.id,
        ),
    )
    .where(
        templates.c.tenant_id == sa.bindparam("tenant_id"),
        templates.c.name == sa.bindparam("name"),
        templates.c.language == sa.bindparam("language"),
    )
)
_LISTINGS_OF = sa.select(template_listings).where(
    template_listings.c.tenant_id == sa.bindparam("tenant_id"),
    template_listings.c.template_id.in_(sa.bindparam("template_ids", expanding=True)),
)
_LISTED_TEMPLATE = (
    sa.select(templates)
    .join(
        template_listings,
        sa.and_(
            template_listings.c.tenant_id == templates.c.tenant_id,
            template_listings.c.template_id == templates.c.id,
        ),
    )
    .where(
        template_listings.c.provider == sa.bindparam("provider"),
        template_listings.c.provider_template_id == sa.bindparam("provider_template_id"),
    )
)


class SqlAlchemyTemplateRepository(SqlAlchemyRepository):
    async def add(self, template: CatalogueTemplate) -> None:
        await self._scope.bind(template.tenant_id)
        await self._execute(
            sa.insert(templates).values(
                id=template.id,
                tenant_id=template.tenant_id,
                created_at=template.created_at,
                **_values(template),
            ),
            conflict=f"the template {template.definition.label} exists already",
        )
        await self._insert_listings(template)

    async def get(self, tenant_id: UUID, template_id: UUID) -> CatalogueTemplate | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(_TEMPLATE_BY_ID, {"tenant_id": tenant_id, "template_id": template_id})
        return (await self._with_listings([row]))[0] if row else None

    async def find(self, tenant_id: UUID, name: str, language: str) -> CatalogueTemplate | None:
        await self._scope.bind(tenant_id)
        parameters = {"tenant_id": tenant_id, "name": name, "language": language}
        rows = (await self._execute(_TEMPLATE_WITH_LISTINGS_BY_KEY, parameters)).mappings().all()
        if not rows:
            return None
        listings = [
            _listing_from_row({name[len(_LISTING_PREFIX) :]: row[name] for name in _LISTING_COLUMNS})
            for row in rows
            if row[_LISTING_PREFIX + "provider"] is not None
        ]
        return _template_from_row(rows[0], listings)

    async def list_page(self, query: TemplateQuery) -> list[CatalogueTemplate]:
        await self._scope.bind(query.tenant_id)
        name, language = self._by_code_point(templates.c.name), self._by_code_point(templates.c.language)
        statement = sa.select(templates).where(templates.c.tenant_id == query.tenant_id)
        if query.after is not None:
            after_name, after_language = query.after
            statement = statement.where(
                sa.or_(name > after_name, sa.and_(name == after_name, language > after_language))
            )
        if query.name is not None:
            statement = statement.where(templates.c.name == query.name)
        listing_filters = []
        if query.status is not None:
            listing_filters.append(template_listings.c.status == query.status.value)
        if query.listed_at is not None:
            listing_filters.append(template_listings.c.provider == query.listed_at.provider.value)
            account_id = query.listed_at.account_id
            listing_filters.append(
                template_listings.c.account_id.is_(None)
                if account_id is None
                else template_listings.c.account_id == account_id
            )
        if listing_filters:
            statement = statement.where(
                sa.exists().where(
                    template_listings.c.tenant_id == templates.c.tenant_id,
                    template_listings.c.template_id == templates.c.id,
                    *listing_filters,
                )
            )
        result = await self._execute(statement.order_by(name, language).limit(query.limit))
        return await self._with_listings(result.mappings().all())

    async def list_all(self, tenant_id: UUID) -> list[CatalogueTemplate]:
        await self._scope.bind(tenant_id)
        name, language = self._by_code_point(templates.c.name), self._by_code_point(templates.c.language)
        result = await self._execute(
            sa.select(templates).where(templates.c.tenant_id == tenant_id).order_by(name, language)
        )
        return await self._with_listings(result.mappings().all())

    async def update(self, template: CatalogueTemplate) -> None:
        await self._scope.bind(template.tenant_id)
        result = await self._execute(
            sa.update(templates)
            .where(templates.c.tenant_id == template.tenant_id, templates.c.id == template.id)
            .values(**_values(template)),
            conflict=f"the template {template.definition.label} exists already",
        )
        if result.rowcount == 0:
            raise NotFound(_TEMPLATE_MISSING)
        await self._execute(
            sa.delete(template_listings).where(
                template_listings.c.tenant_id == template.tenant_id,
                template_listings.c.template_id == template.id,
            )
        )
        await self._insert_listings(template)

    async def remove(self, tenant_id: UUID, template_id: UUID) -> bool:
        await self._scope.bind(tenant_id)
        # Its listings go with it (ON DELETE CASCADE).
        result = await self._execute(
            sa.delete(templates).where(templates.c.tenant_id == tenant_id, templates.c.id == template_id)
        )
        return result.rowcount == 1

    async def with_provider_id(
        self, provider: ProviderName, provider_template_id: str
    ) -> CatalogueTemplate | None:
        # A provider's webhook names no tenant: the listing's row tells whose template it is.
        await self._scope.cross_tenant()
        parameters = {"provider": provider.value, "provider_template_id": provider_template_id}
        row = await self._one_or_none(_LISTED_TEMPLATE, parameters)
        return (await self._with_listings([row]))[0] if row else None

    async def claim_sync(self, tenant_id: UUID, now: datetime, every: timedelta) -> bool:
        # One statement, so racing processes cannot both win: the first claim inserts the row; a later
        # one moves it only if it is old enough. A claim racing another waits for it (the row's key on
        # PostgreSQL, the database's write lock on SQLite), then sees it moved and writes nothing.
        await self._scope.bind(tenant_id)
        insert = upsert_for(self._connection.dialect.name)
        statement = insert(template_sync_claims).values(tenant_id=tenant_id, claimed_at=now)
        claim = statement.on_conflict_do_update(
            index_elements=[template_sync_claims.c.tenant_id],
            set_={"claimed_at": statement.excluded.claimed_at},
            where=template_sync_claims.c.claimed_at <= now - every,
        ).returning(template_sync_claims.c.tenant_id)
        return (await self._execute(claim)).first() is not None

    async def _insert_listings(self, template: CatalogueTemplate) -> None:
        if not template.listings:
            return
        try:
            await self._execute(
                sa.insert(template_listings).values(
                    [_listing_values(template, listing) for listing in template.listings]
                ),
                conflict=_LISTED_ALREADY,
            )
        except NotFound as error:  # the template's row was just written: the account is what is missing
            raise NotFound(_ACCOUNT_MISSING) from error

    async def _with_listings(self, rows: Sequence[RowMapping]) -> list[CatalogueTemplate]:
        """The templates of ``rows`` (all of one tenant), each with its listings."""
        if not rows:
            return []
        listed = await self._execute(
            _LISTINGS_OF, {"tenant_id": rows[0]["tenant_id"], "template_ids": [row["id"] for row in rows]}
        )
        listings: dict[UUID, list[TemplateListing]] = {row["id"]: [] for row in rows}
        for listing in listed.mappings():
            listings[listing["template_id"]].append(_listing_from_row(listing))
        return [_template_from_row(row, listings[row["id"]]) for row in rows]

    def _by_code_point(self, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        """``column`` compared by code point: SQLite's own way, PostgreSQL's with the "C" collation."""
        return column.collate("C") if self._connection.dialect.name == "postgresql" else column


def _values(template: CatalogueTemplate) -> dict[str, Any]:
    """The columns of a template's row that an update writes (all but its id, tenant and creation)."""
    definition = template.definition
    return {
        "name": definition.name,
        "language": definition.language,
        "category": definition.category.value,
        "definition": definition_document(definition),
        "updated_at": template.updated_at,
    }


def _listing_values(template: CatalogueTemplate, listing: TemplateListing) -> dict[str, Any]:
    return {
        "provider": listing.provider.value,
        "provider_template_id": listing.provider_template_id,
        "template_id": template.id,
        "tenant_id": template.tenant_id,
        "account_id": listing.account_id,
        "status": listing.status.value,
        "rejection_reason": listing.rejection_reason,
        "quality": listing.quality.value if listing.quality is not None else None,
        "status_changed_at": listing.status_changed_at,
    }


_LISTING_COLUMNS = tuple(_LISTING_PREFIX + column.name for column in template_listings.c)


def _listing_from_row(row: Mapping[Any, Any]) -> TemplateListing:
    return TemplateListing(
        provider=ProviderName(row["provider"]),
        account_id=row["account_id"],
        provider_template_id=row["provider_template_id"],
        status=TemplateStatus(row["status"]),
        status_changed_at=row["status_changed_at"],
        rejection_reason=row["rejection_reason"],
        quality=TemplateQuality(row["quality"]) if row["quality"] is not None else None,
    )


def _template_from_row(row: RowMapping, listings: Iterable[TemplateListing]) -> CatalogueTemplate:
    return CatalogueTemplate(
        id=row["id"],
        tenant_id=row["tenant_id"],
        definition=definition_from_document(
            name=row["name"], language=row["language"], category=row["category"], document=row["definition"]
        ),
        listings=tuple(sorted(listings, key=_by_account)),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _by_account(listing: TemplateListing) -> tuple[bool, UUID]:
    """Listings read back by account, the sandbox's (no account) first."""
    return (listing.account_id is not None, listing.account_id or UUID(int=0))
