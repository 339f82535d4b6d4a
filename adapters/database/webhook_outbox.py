"""The tenant webhook outbox on SQLAlchemy Core: an event becomes one pending delivery per enabled
endpoint of its tenant that subscribes to it, in the transaction that records the event.

On PostgreSQL the deliveries are written by one statement that finds the endpoints itself, so a
recording costs one round trip, and none more for a tenant without endpoints; SQLite reads the
endpoints first, then writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.statements import DELIVERY_ID_SQL, delivery_id_parameters
from adapters.database.tables import webhook_deliveries, webhook_endpoints
from application.errors import AlreadyExists
from application.ports.tenant_webhooks import OutboxEvent
from domain.tenant_webhooks.model import DeliveryState, WebhookEventType, new_delivery_id

# PostgreSQL: each event (parallel arrays) joined to its tenant's enabled endpoints that subscribe to it,
# one delivery each, its id made by ``DELIVERY_ID_SQL`` from a random UUID per row.
_RECORD_BY_JOIN = sa.text(
    f"""
INSERT INTO webhook_deliveries
    (id, tenant_id, endpoint_id, event_type, payload, state, attempts, next_attempt_at, created_at)
SELECT
    {DELIVERY_ID_SQL},
    target.tenant_id, target.endpoint_id, target.event_type, target.payload, :pending, 0, :now, :now
FROM (
    SELECT event.tenant_id, endpoint.id AS endpoint_id, event.event_type, event.payload,
           uuid_send(gen_random_uuid()) AS random_bytes
    FROM unnest(CAST(:tenant_ids AS uuid[]), CAST(:event_types AS text[]), CAST(:payloads AS text[]))
        AS event(tenant_id, event_type, payload)
    JOIN webhook_endpoints AS endpoint
        ON endpoint.tenant_id = event.tenant_id AND endpoint.enabled
        AND CAST(endpoint.events AS jsonb) @> jsonb_build_array(event.event_type)
) AS target
RETURNING 1
"""  # noqa: S608 (DELIVERY_ID_SQL is a constant)
)


class SqlAlchemyWebhookOutbox(SqlAlchemyRepository):
    async def record(self, tenant_id: UUID, event_type: WebhookEventType, payload: str, now: datetime) -> int:
        await self._scope.bind(tenant_id)
        events = [OutboxEvent(tenant_id, event_type, payload)]
        if self._connection.dialect.name == "postgresql":
            return await self._record_by_join(events, now, tenant_id, commit=False)
        return await self._record(events, await self._subscriptions([tenant_id]), now)

    async def record_all(self, events: Sequence[OutboxEvent], now: datetime, *, commit: bool = False) -> int:
        tenant_ids = sorted({event.tenant_id for event in events})
        if not tenant_ids:
            return 0
        tenant_id = tenant_ids[0] if len(tenant_ids) == 1 else None
        if tenant_id is None:
            await self._scope.cross_tenant()  # each read and row below names its tenant
        if self._connection.dialect.name == "postgresql":
            return await self._record_by_join(events, now, tenant_id, commit=commit)
        if tenant_id is not None:
            await self._scope.bind(tenant_id)
        return await self._record(events, await self._subscriptions(tenant_ids), now)

    async def _record_by_join(
        self, events: Sequence[OutboxEvent], now: datetime, tenant_id: UUID | None, *, commit: bool
    ) -> int:
        parameters = {
            **delivery_id_parameters(now),
            "pending": DeliveryState.PENDING.value,
            "now": now,
            "tenant_ids": [event.tenant_id for event in events],
            "event_types": [event.event_type.value for event in events],
            "payloads": [event.payload for event in events],
        }
        if commit:  # the tenant's setting, when still to be sent, goes in the same round trip
            rows = await self._scope.write_and_commit(
                tenant_id,
                _RECORD_BY_JOIN,
                parameters,
                conflict="the delivery exists already",
                missing_reference="the endpoint is gone",
                aborted=AlreadyExists("the deliveries were not recorded"),
            )
            if rows is not None:
                return len(rows)
        if tenant_id is not None:
            await self._scope.bind(tenant_id)
        result = await self._execute(_RECORD_BY_JOIN, parameters)
        return result.rowcount

    async def _subscriptions(self, tenant_ids: Sequence[UUID]) -> dict[UUID, list[tuple[UUID, Any]]]:
        """The enabled endpoints of these tenants, with the events each subscribes to."""
        result = await self._execute(
            sa.select(
                webhook_endpoints.c.tenant_id, webhook_endpoints.c.id, webhook_endpoints.c.events
            ).where(webhook_endpoints.c.tenant_id.in_(tenant_ids), webhook_endpoints.c.enabled.is_(True))
        )
        endpoints: defaultdict[UUID, list[tuple[UUID, Any]]] = defaultdict(list)
        for row in result.mappings():
            endpoints[row["tenant_id"]].append((row["id"], row["events"]))
        return endpoints

    async def _record(
        self, events: Sequence[OutboxEvent], endpoints: dict[UUID, list[tuple[UUID, Any]]], now: datetime
    ) -> int:
        rows = [
            {
                "id": new_delivery_id(now),
                "tenant_id": event.tenant_id,
                "endpoint_id": endpoint_id,
                "event_type": event.event_type.value,
                "payload": event.payload,
                "state": DeliveryState.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for event in events
            for endpoint_id, subscribed in endpoints.get(event.tenant_id, ())
            if event.event_type.value in subscribed
        ]
        if rows:
            await self._execute(sa.insert(webhook_deliveries).values(rows))
        return len(rows)
