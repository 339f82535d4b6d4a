"""What a contract test reads straight from storage, past the repositories: whether a report was
logged, whether a purge took the rows that hang off what it deleted. From the tables on SQL, from
the fake's own records in memory, so the same assertion holds both to the same contract."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.database.tables import message_status_events, webhook_deliveries, webhook_delivery_attempts
from tests.support.cross_tenant import cross_tenant_connection
from tests.support.fakes import FakeDatabase


class StoredRows(Protocol):
    async def status_events(self, message_id: UUID) -> list[tuple[str, bool]]:
        """(status, applied) of each report logged about the message, in the order logged."""
        ...

    async def status_event_count(self) -> int:
        """How many reports are logged, about any message of any tenant."""
        ...

    async def webhook_delivery_ids(self) -> list[str]:
        """Every tenant's webhook deliveries."""
        ...

    async def webhook_attempt_delivery_ids(self) -> list[str]:
        """The delivery of each logged delivery attempt, any tenant's."""
        ...


class SqlStoredRows:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def status_events(self, message_id: UUID) -> list[tuple[str, bool]]:
        async with cross_tenant_connection(self._engine) as connection:
            rows = await connection.execute(
                sa.select(message_status_events.c.status, message_status_events.c.applied)
                .where(message_status_events.c.message_id == message_id)
                .order_by(message_status_events.c.id)
            )
            return [(row.status, row.applied) for row in rows]

    async def status_event_count(self) -> int:
        async with cross_tenant_connection(self._engine) as connection:
            count = (
                await connection.execute(sa.select(sa.func.count()).select_from(message_status_events))
            ).scalar_one()
        return int(count)

    async def webhook_delivery_ids(self) -> list[str]:
        async with cross_tenant_connection(self._engine) as connection:
            return list((await connection.execute(sa.select(webhook_deliveries.c.id))).scalars())

    async def webhook_attempt_delivery_ids(self) -> list[str]:
        async with cross_tenant_connection(self._engine) as connection:
            return list(
                (await connection.execute(sa.select(webhook_delivery_attempts.c.delivery_id))).scalars()
            )


class FakeStoredRows:
    def __init__(self, database: FakeDatabase) -> None:
        self._database = database

    async def status_events(self, message_id: UUID) -> list[tuple[str, bool]]:
        logged = self._database.messages.status_events()
        return [(event.status.value, event.applied) for event in logged if event.message_id == message_id]

    async def status_event_count(self) -> int:
        return len(self._database.messages.status_events())

    async def webhook_delivery_ids(self) -> list[str]:
        return [delivery.id for delivery in self._database.webhook_deliveries.all()]

    async def webhook_attempt_delivery_ids(self) -> list[str]:
        return [attempt.delivery_id for attempt in self._database.webhook_deliveries.all_attempts()]
