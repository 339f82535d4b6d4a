"""What the service counts for its operators."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from domain.messaging.messages import MessageStatus


class Metrics(Protocol):
    """What the service counts for its operators (Prometheus, in production).

    Every label comes from a small fixed set: provider names, statuses, outcomes, scopes. A tenant id is
    passed along where it is known; whether it becomes a label is the adapter's choice, made by
    configuration, so that the number of series stays bounded.
    """

    def message_accepted(self, provider: str, tenant_id: UUID) -> None:
        """An outbound message was stored with its dispatch job."""
        ...

    def message_status(self, provider: str, status: MessageStatus, tenant_id: UUID) -> None:
        """An outbound message moved to ``status`` (``queued`` or ``failed`` when dispatched, then the
        statuses the provider reports that moved it forward)."""
        ...

    def provider_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        """One call to a provider (``send`` or ``lookup``) ended with ``outcome`` after ``seconds``."""
        ...

    def rate_limited(self, scope: str) -> None:
        """A rate limit refused a request (``scope``: which limit, e.g. ``address`` or ``login``)."""
        ...

    def webhook_delivery(self, outcome: str, tenant_id: UUID) -> None:
        """One attempt to POST an event to a tenant's webhook endpoint ended with ``outcome``
        (``delivered``, ``retrying`` or ``dead``)."""
        ...

    def dispatch_queue(self, depth: int | None, oldest_age_seconds: float | None) -> None:
        """The dispatch queue as just measured: jobs waiting and the age of the oldest (None: unknown)."""
        ...
