"""The tenant webhook outbox on SQLAlchemy Core: an event becomes one pending delivery per enabled
endpoint of its tenant that subscribes to it, in the transaction that records the event."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.tables import webhook_deliveries, webhook_endpoints
from application.ports.tenant_webhooks import OutboxEvent
from domain.tenant_webhooks.model import DeliveryState, WebhookEventType, new_delivery_id


class SqlAlchemyWebhookOutbox(SqlAlchemyRepository):
    async def record(self, tenant_id: UUID, event_type: WebhookEventType, payload: str, now: datetime) -> int:
        await self._scope.bind(tenant_id)
        return await self._record(
            [OutboxEvent(tenant_id, event_type, payload)], await self._subscriptions([tenant_id]), now
        )

    async def record_all(self, events: Sequence[OutboxEvent], now: datetime) -> int:
        tenant_ids = sorted({event.tenant_id for event in events})
        if not tenant_ids:
            return 0
        if len(tenant_ids) == 1:
            await self._scope.bind(tenant_ids[0])
        else:
            await self._scope.cross_tenant()  # each read and row below names its tenant
        return await self._record(events, await self._subscriptions(tenant_ids), now)

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
