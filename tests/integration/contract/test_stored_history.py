"""The history as stored rows (``list_stored``), which the API encodes without a view per row: the same
page as ``list_views``, row for row, and the same JSON for the client; on the fakes, SQLite and
PostgreSQL alike (see conftest.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import msgspec

from application.messaging.history import HistoryRequest, ListHistory
from application.ports.messages import HistoryQuery, view_of_row
from domain.administration.tenancy import ProviderName
from domain.messaging.failures import Failure, FailureCode
from domain.messaging.messages import Direction, MessageStatus
from entrypoints.http.messaging.schemas import MessageResource
from tests.integration.contract.test_repositories import BOB, of_every_kind
from tests.support.databases import UowFactory
from tests.support.repositories import T0
from tests.support.repositories.messages import add_messages, add_tenant, inbound, outbound


async def test_stored_rows_are_the_views_page_row_for_row_and_encode_as_they_do(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    messages = of_every_kind(tenant)
    failed = outbound(tenant, at=T0 + timedelta(minutes=5)).failed(
        Failure(FailureCode.RECIPIENT_OPTED_OUT, provider=ProviderName.TWILIO, provider_code=21610),
        T0 + timedelta(minutes=5),
    )
    redacted = replace(outbound(tenant, at=T0 + timedelta(minutes=6)), redacted_at=T0 + timedelta(days=30))
    await add_messages(uow_factory, *messages, failed, redacted)

    query = HistoryQuery(tenant_id=tenant.id, limit=100)
    async with uow_factory() as uow:
        views = await uow.messages.list_views(query)
    async with uow_factory() as uow:
        rows = await uow.messages.list_stored(query)

    assert [view_of_row(row) for row in rows] == views
    assert len(rows) == len(messages) + 2
    encoded_from_rows = [msgspec.json.encode(MessageResource.of_stored(row)) for row in rows]
    encoded_from_views = [msgspec.json.encode(MessageResource.of_view(view)) for view in views]
    assert encoded_from_rows == encoded_from_views


async def test_stored_rows_keep_the_filters(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    sent = [outbound(tenant, at=T0 + timedelta(seconds=second)) for second in range(3)]
    received = [inbound(tenant, at=T0 + timedelta(seconds=10 + second)) for second in range(2)]
    to_bob = outbound(tenant, at=T0 + timedelta(seconds=20), contact=BOB)
    await add_messages(uow_factory, *sent, *received, to_bob)

    async def ids(**filters: object) -> list[object]:
        async with uow_factory() as uow:
            rows = await uow.messages.list_stored(HistoryQuery(tenant_id=tenant.id, limit=100, **filters))  # type: ignore[arg-type]
        return [row[0] for row in rows]

    assert await ids(direction=Direction.INBOUND) == [m.id for m in reversed(received)]
    assert await ids(status=MessageStatus.RECEIVED) == [m.id for m in reversed(received)]
    assert await ids(contact=BOB) == [to_bob.id]
    assert await ids(since=T0 + timedelta(seconds=10), until=T0 + timedelta(seconds=20)) == [
        m.id for m in reversed(received)
    ]


async def test_stored_pages_follow_the_cursor_to_the_end(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    messages = [outbound(tenant, at=T0 + timedelta(seconds=second)) for second in range(7)]
    # Two messages at the same moment: the id breaks the tie, and neither is lost between pages.
    messages.append(outbound(tenant, at=T0 + timedelta(seconds=3)))
    await add_messages(uow_factory, *messages)
    history = ListHistory(uow_factory())

    seen, cursor, pages = [], None, 0
    while True:
        page = await history.stored(HistoryRequest(tenant_id=tenant.id, limit=3, cursor=cursor))
        seen += [row[0] for row in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert pages == 3
    expected = [m.id for m in sorted(messages, key=lambda m: (m.created_at, m.id), reverse=True)]
    assert seen == expected
    first_views = await history(HistoryRequest(tenant_id=tenant.id, limit=3))
    first_rows = await history.stored(HistoryRequest(tenant_id=tenant.id, limit=3))
    assert first_rows.next_cursor == first_views.next_cursor


async def test_stored_rows_are_the_tenants_own(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    mine = outbound(acme)
    await add_messages(uow_factory, mine, outbound(globex), inbound(globex))

    async with uow_factory() as uow:
        rows = await uow.messages.list_stored(HistoryQuery(tenant_id=acme.id, limit=100))

    assert [row[0] for row in rows] == [mine.id]
