"""A history page that is all its unit of work reads goes to PostgreSQL as one query (BEGIN READ ONLY,
the tenant setting, the SELECT, ROLLBACK; tenant_scope.py). What must hold, whichever way it went:
the tenant's rows only, timestamps in UTC, and the connection as usable afterwards as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.engine import create_database_engine
from adapters.database.tables import messages
from adapters.database.unit_of_work import SqlAlchemyUnitOfWork
from adapters.security.secret_box import SecretBox
from application.ports.messages import HistoryQuery, MessageView
from tests.support.databases import UowFactory, empty_all_tables
from tests.support.repositories import T0
from tests.support.repositories.messages import add_messages, add_tenant, inbound, outbound

pytestmark = pytest.mark.postgres


@pytest.fixture
async def kolkata_engine(postgres_url: str, postgres_admin_url: str) -> AsyncIterator[AsyncEngine]:
    """Sessions in a time zone that is not UTC (+05:30), as a server configured so would give."""
    empty_all_tables(postgres_admin_url)
    engine = create_database_engine(postgres_url, pool_size=1, max_overflow=0)

    def in_kolkata(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET TimeZone = 'Asia/Kolkata'")
        cursor.close()

    sa.event.listen(engine.sync_engine, "connect", in_kolkata)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def reads(kolkata_engine: AsyncEngine, secret_box: SecretBox) -> UowFactory:
    return lambda: SqlAlchemyUnitOfWork(kolkata_engine, secret_box, read_only=True)


@pytest.fixture
def writes(kolkata_engine: AsyncEngine, secret_box: SecretBox) -> UowFactory:
    return lambda: SqlAlchemyUnitOfWork(kolkata_engine, secret_box)


async def test_a_page_read_alone_shows_the_tenants_messages_in_utc(
    reads: UowFactory, writes: UowFactory
) -> None:
    tenant, other = await add_tenant(writes), await add_tenant(writes)
    mine = [outbound(tenant, at=T0 + timedelta(minutes=minute)) for minute in range(3)]
    await add_messages(writes, *mine, outbound(other), inbound(other))

    async with reads() as uow:
        views = await uow.messages.list_views(HistoryQuery(tenant_id=tenant.id, limit=10))

    assert views == [MessageView.of(message) for message in reversed(mine)]
    assert {view.created_at.utcoffset() for view in views} == {timedelta(0)}
    assert all(view.created_at.tzinfo is UTC for view in views)


async def test_a_page_after_other_reads_in_the_same_unit_of_work_is_the_same_page(
    reads: UowFactory, writes: UowFactory
) -> None:
    tenant = await add_tenant(writes)
    mine = [outbound(tenant, at=T0 + timedelta(minutes=minute)) for minute in range(3)]
    await add_messages(writes, *mine)
    query = HistoryQuery(tenant_id=tenant.id, limit=2)

    async with reads() as uow:
        alone = await uow.messages.list_views(query)
    async with reads() as uow:
        assert await uow.messages.get(tenant.id, mine[0].id) == mine[0]  # binds the tenant first
        after_a_read = await uow.messages.list_views(query)

    assert alone == after_a_read == [MessageView.of(mine[2]), MessageView.of(mine[1])]
    assert {view.created_at.tzinfo for view in alone + after_a_read} == {UTC}


async def test_the_connection_goes_on_in_transactions_after_a_page_read_alone(writes: UowFactory) -> None:
    tenant = await add_tenant(writes)
    first, second = outbound(tenant), outbound(tenant, at=T0 + timedelta(seconds=1))
    await add_messages(writes, first)

    async with writes() as uow:
        assert len(await uow.messages.list_views(HistoryQuery(tenant_id=tenant.id, limit=10))) == 1
        await uow.messages.add(second)
        # not committed: if the page had left the connection in autocommit, this would stay stored
    async with writes() as uow:
        await uow.messages.list_views(HistoryQuery(tenant_id=tenant.id, limit=10))
        await uow.messages.add(second)
        await uow.commit()

    async with writes() as uow:
        views = await uow.messages.list_views(HistoryQuery(tenant_id=tenant.id, limit=10))
    assert [view.id for view in views] == [second.id, first.id]


async def test_rows_of_other_tenants_stay_hidden_even_from_a_statement_without_a_tenant_filter(
    reads: UowFactory, writes: UowFactory
) -> None:
    tenant, other = await add_tenant(writes), await add_tenant(writes)
    mine = outbound(tenant)
    await add_messages(writes, mine, outbound(other), outbound(other))

    async with reads() as uow:
        assert isinstance(uow, SqlAlchemyUnitOfWork)
        scope = uow._active().scope
        rows = await scope.read_alone(tenant.id, sa.select(messages.c.id), {})

    assert rows is not None
    assert [row[0] for row in rows] == [mine.id]


async def test_a_connection_goes_back_to_the_pool_as_psycopg_hands_it_out(
    kolkata_engine: AsyncEngine, reads: UowFactory, writes: UowFactory
) -> None:
    tenant = await add_tenant(writes)  # a write: BEGIN sent by the scope, with autocommit on
    async with reads() as uow:
        await uow.messages.list_views(HistoryQuery(tenant_id=tenant.id, limit=10))

    # The pool holds one connection: the one both units of work used.
    async with kolkata_engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        assert driver.autocommit is False
        assert driver.info.transaction_status is TransactionStatus.IDLE
