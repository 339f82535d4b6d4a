"""The tenant webhook outbox on SQLAlchemy Core: an event becomes one pending delivery per enabled
endpoint of its tenant that subscribes to it, in the transaction that records the event."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.tables import webhook_deliveries, webhook_endpoints
from domain.tenant_webhooks.model import DeliveryState, WebhookEventType, new_delivery_id


class SqlAlchemyWebhookOutbox(SqlAlchemyRepository):
    async def record(self, tenant_id: UUID, event_type: WebhookEventType, payload: str, now: datetime) -> int:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(webhook_endpoints.c.id, webhook_endpoints.c.events).where(
                webhook_endpoints.c.tenant_id == tenant_id, webhook_endpoints.c.enabled.is_(True)
            )
        )
        targets = [row["id"] for row in result.mappings() if event_type.value in row["events"]]
        if not targets:
            return 0
        await self._execute(
            sa.insert(webhook_deliveries).values(
                [
                    {
                        "id": new_delivery_id(now),
                        "tenant_id": tenant_id,
                        "endpoint_id": endpoint_id,
                        "event_type": event_type.value,
                        "payload": payload,
                        "state": DeliveryState.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for endpoint_id in targets
                ]
            )
        )
        return len(targets)
