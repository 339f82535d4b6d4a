"""The contact import on PostgreSQL and SQLite: rows generated as they are sent (the file never exists
whole), written in batches of the import's size; exported again and imported into another tenant as
the same contacts; imported again, every row unchanged. (The full 100,000 rows take minutes on a
loaded machine: their timing belongs to bench/, not here.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

from application.contacts.transfer import IMPORT_BATCH_SIZE, ExportContacts, ImportContacts
from application.principal import Principal
from domain.administration.tenancy import Role, Tenant
from tests.support.databases import UowFactory
from tests.support.fakes import FixedClock
from tests.support.repositories.access import add_tenant

ROWS = IMPORT_BATCH_SIZE * 6 + 123  # several batches, the last one partly filled


def admin_of(tenant: Tenant) -> Principal:
    return Principal(user_id=uuid4(), tenant_id=tenant.id, role=Role.TENANT_ADMIN)


async def generated_file(rows: int) -> AsyncIterator[bytes]:
    """A CSV of ``rows`` German mobile numbers, in chunks of about 64 KiB, each made when asked for."""
    yield b"phone,name,tags,attr.segment,attr.region\r\n"
    chunk: list[str] = []
    for n in range(rows):
        chunk.append(f"+491511{n:07d},Customer {n},{'vip;' if n % 10 == 0 else ''}news,s{n % 7},r{n % 3}\r\n")
        if len(chunk) == 1000:
            yield "".join(chunk).encode()
            chunk = []
    yield "".join(chunk).encode()


async def text_chunks(chunks: AsyncIterator[str]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield chunk.encode()


async def test_an_import_of_several_batches_round_trips_through_the_export(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory, "acme"), await add_tenant(uow_factory, "globex")
    clock = FixedClock()

    imported = await ImportContacts(uow_factory(), clock)(admin_of(acme), generated_file(ROWS))

    assert (imported.rows, imported.created, imported.rejected) == (ROWS, ROWS, 0)
    async with uow_factory() as uow:
        vip = await uow.contacts.audience_batch(
            acme.id, tags=["vip", "news"], attributes={"region": "r0"}, after_identity=None, limit=ROWS
        )
    assert len(vip) == len([n for n in range(ROWS) if n % 10 == 0 and n % 3 == 0])

    export = await ExportContacts(uow_factory())(admin_of(acme))
    into_globex = await ImportContacts(uow_factory(), clock)(admin_of(globex), text_chunks(export.chunks))
    export = await ExportContacts(uow_factory())(admin_of(acme))
    again = await ImportContacts(uow_factory(), clock)(admin_of(acme), text_chunks(export.chunks))

    assert (into_globex.created, into_globex.rejected) == (ROWS, 0)
    assert (again.unchanged, again.created, again.updated, again.rejected) == (ROWS, 0, 0, 0)
    async with uow_factory() as uow:
        acme_first = await uow.contacts.audience_batch(
            acme.id, tags=[], attributes={}, after_identity=None, limit=50
        )
        globex_first = await uow.contacts.audience_batch(
            globex.id, tags=[], attributes={}, after_identity=None, limit=50
        )
    assert [(c.identity, c.name, c.tags, dict(c.attributes)) for c in acme_first] == [
        (c.identity, c.name, c.tags, dict(c.attributes)) for c in globex_first
    ]
