"""The ``Metrics`` port counting nothing: for a process that has no one to report to."""

from __future__ import annotations

from uuid import UUID

from application.ports.metrics import Metrics
from domain.messaging.messages import MessageStatus


class NoMetrics:
    """Counts nothing."""

    def message_accepted(self, provider: str, tenant_id: UUID) -> None:
        pass

    def message_status(self, provider: str, status: MessageStatus, tenant_id: UUID) -> None:
        pass

    def provider_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        pass

    def rate_limited(self, scope: str) -> None:
        pass

    def webhook_delivery(self, outcome: str, tenant_id: UUID) -> None:
        pass

    def dispatch_queue(self, depth: int | None, oldest_age_seconds: float | None) -> None:
        pass


NO_METRICS: Metrics = NoMetrics()
