"""A tenant's dashboard: its messages and conversations, how its outbound messages fare, and what
needs looking after (the dispatch queue, failing webhook endpoints, templates awaiting approval).

Agents, tenant admins and their API keys read their own tenant's; platform admins read no tenant's
messages (they have ``ReadPlatformUsage``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from application.errors import AccessDenied
from application.ports.clock import Clock
from application.ports.dashboard import ActivityPeriods, DeliveryCounts, FailingEndpoint
from application.ports.messages import ConversationQuery
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from domain.administration.tenancy import Role
from domain.messaging.conversations import SESSION_WINDOW, Conversation

LATEST_CONVERSATIONS = 5
DELIVERY_PERIODS = (timedelta(hours=24), timedelta(days=7))


@dataclass(frozen=True, slots=True)
class DeliveryRates:
    """Outbound messages created in a period and how they fared; each rate is a share of ``total``
    (0..1), None when there were none."""

    period: timedelta
    counts: DeliveryCounts

    @property
    def delivered_rate(self) -> float | None:
        return self._share(self.counts.delivered)

    @property
    def read_rate(self) -> float | None:
        return self._share(self.counts.read)

    @property
    def failed_rate(self) -> float | None:
        return self._share(self.counts.failed)

    def _share(self, part: int) -> float | None:
        return part / self.counts.total if self.counts.total else None


@dataclass(frozen=True, slots=True)
class DispatchBacklog:
    waiting: int
    oldest_age_seconds: float | None  # None: nothing waits


@dataclass(frozen=True, slots=True)
class Dashboard:
    """``as_of`` is the moment it was read: today, the periods and the open windows are judged at it."""

    as_of: datetime
    active_conversations: int
    messages_today: int
    total_messages: int
    latest_conversations: list[Conversation]
    last_24_hours: DeliveryRates
    last_7_days: DeliveryRates
    dispatch_queue: DispatchBacklog
    failing_webhook_endpoints: list[FailingEndpoint]
    templates_pending: int


def start_of_day(moment: datetime) -> datetime:
    """00:00 UTC of ``moment``'s day."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class ReadDashboard:
    """The caller's tenant's dashboard: two aggregate statements and the latest conversations' page."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal) -> Dashboard:
        if principal.role is Role.PLATFORM_ADMIN:
            raise AccessDenied("platform admins read no tenant's messages: read the platform's usage")
        now = self._clock.now()
        short, long = DELIVERY_PERIODS
        periods = ActivityPeriods(
            now=now, day_start=start_of_day(now), last_24_hours=now - SESSION_WINDOW, last_7_days=now - long
        )
        async with self._uow:
            activity = await self._uow.dashboard.tenant_activity(principal.tenant_id, periods)
            latest = await self._uow.conversations.list_page(
                ConversationQuery(tenant_id=principal.tenant_id, limit=LATEST_CONVERSATIONS)
            )
        oldest = activity.queue_oldest_at
        return Dashboard(
            as_of=now,
            active_conversations=activity.active_conversations,
            messages_today=activity.messages_today,
            total_messages=activity.total_messages,
            latest_conversations=latest,
            last_24_hours=DeliveryRates(short, activity.last_24_hours),
            last_7_days=DeliveryRates(long, activity.last_7_days),
            dispatch_queue=DispatchBacklog(
                waiting=activity.queue_waiting,
                oldest_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest is not None else None,
            ),
            failing_webhook_endpoints=activity.failing_endpoints,
            templates_pending=activity.templates_pending,
        )
