"""The ``Metrics`` port on prometheus_client, and the text exposition ``/metrics`` serves.

Each instance has its own registry (so a test's app starts from zero). In one process that registry is
what a scrape sees. With ``PROMETHEUS_MULTIPROC_DIR`` set in the environment (before the process starts:
prometheus_client reads it at import), counters and histograms are written to files in that directory
instead, and a scrape of any process adds up every process's files: the way to run
``serve --workers N`` behind one port. The dispatch-queue gauges are measured by the process that is
scraped, at scrape time, and never go through the files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from uuid import UUID

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from domain.messaging.messages import MessageStatus

NAMESPACE = "wa_gateway"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER_TENANT = "other"
# The classic text format, which every Prometheus (and most other scrapers) reads. Our metric names are
# all plain ASCII, so the bytes are the same as in the newer 1.0.0 format prometheus_client defaults to.
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PROVIDER_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


# No "_created" series beside every counter and histogram: they double the series for little use.
disable_created_metrics()  # type: ignore[no-untyped-call]


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROCESS_ENV))


class TenantLabels:
    """Which tenants get their own ``tenant`` label value.

    ``false`` (or empty): no tenant label at all. ``true``: every tenant's id (only for deployments
    with a handful of tenants). A comma-separated list of tenant ids: those, and ``other`` for the rest.
    """

    def __init__(self, setting: str) -> None:
        value = setting.strip().lower()
        self.enabled = value not in {"", "false", "0", "no", "off"}
        self._all = value in {"true", "1", "yes", "on", "all"}
        self._allowed = (
            frozenset() if self._all or not self.enabled else frozenset(_tenant_ids(value.split(",")))
        )

    def label(self, tenant_id: UUID) -> str:
        if self._all or tenant_id in self._allowed:
            return str(tenant_id)
        return OTHER_TENANT


def _tenant_ids(items: Iterable[str]) -> Iterator[UUID]:
    for item in items:
        if item.strip():
            try:
                yield UUID(item.strip())
            except ValueError as error:
                raise ValueError(
                    f"METRICS_TENANT_LABELS: {item.strip()!r} is not a tenant id; "
                    "use false, true or a comma-separated list of tenant ids"
                ) from error


class _QueueGauges(Collector):
    """The dispatch queue as last measured (at scrape time): plain values, never multiprocess files."""

    def __init__(self) -> None:
        self.depth: int | None = None
        self.oldest_age_seconds: float | None = None

    def collect(self) -> Iterator[Metric]:
        if self.depth is None:
            return  # not measured (the database did not answer): absent rather than stale
        yield GaugeMetricFamily(
            f"{NAMESPACE}_dispatch_queue_depth",
            "Dispatch jobs waiting (due, scheduled for a retry, or leased), measured at scrape time",
            value=self.depth,
        )
        yield GaugeMetricFamily(
            f"{NAMESPACE}_dispatch_queue_oldest_job_age_seconds",
            "Age of the oldest waiting dispatch job (0 when the queue is empty), measured at scrape time",
            value=self.oldest_age_seconds or 0.0,
        )


class PrometheusMetrics:
    """Counters and histograms for the application's events and for HTTP requests."""

    def __init__(self, *, tenant_labels: str = "false", registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._tenants = TenantLabels(tenant_labels)
        tenant = ("tenant",) if self._tenants.enabled else ()
        self._queue = _QueueGauges()
        self.registry.register(self._queue)
        if not multiprocess_mode():
            from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, ProcessCollector

            ProcessCollector(registry=self.registry)
            for collector in (GC_COLLECTOR, PLATFORM_COLLECTOR):
                self.registry.register(collector)
        self._http_requests = Counter(
            "http_requests",
            "HTTP requests answered, by route template and status code",
            ("method", "route", "status"),
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self._http_duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ("method", "route"),
            namespace=NAMESPACE,
            registry=self.registry,
            buckets=HTTP_BUCKETS,
        )
        self._messages = Counter(
            "messages",
            "Outbound messages that reached each status (accepted when stored, then queued or failed "
            "when dispatched, then what the provider reported)",
            ("provider", "status", *tenant),
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self._provider_calls = Histogram(
            "provider_call_duration_seconds",
            "Calls to a messaging provider (send, lookup) by outcome, and how long they took",
            ("provider", "operation", "outcome"),
            namespace=NAMESPACE,
            registry=self.registry,
            buckets=PROVIDER_BUCKETS,
        )
        self._rate_limited = Counter(
            "rate_limited",
            "Requests refused by a rate limit, by limit",
            ("scope",),
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self._requests_shed = Counter(
            "requests_shed",
            "Requests answered 503 at once because the process was busy with others, by reason",
            ("reason",),
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self._webhook_deliveries = Counter(
            "webhook_deliveries",
            "Attempts to deliver an event to a tenant's webhook endpoint, by outcome",
            ("outcome", *tenant),
            namespace=NAMESPACE,
            registry=self.registry,
        )

    def _tenant(self, tenant_id: UUID) -> tuple[str, ...]:
        return (self._tenants.label(tenant_id),) if self._tenants.enabled else ()

    # The application's Metrics port.

    def message_accepted(self, provider: str, tenant_id: UUID) -> None:
        self._messages.labels(str(provider), MessageStatus.ACCEPTED.value, *self._tenant(tenant_id)).inc()

    def message_status(self, provider: str, status: MessageStatus, tenant_id: UUID) -> None:
        self._messages.labels(str(provider), status.value, *self._tenant(tenant_id)).inc()

    def provider_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        self._provider_calls.labels(str(provider), operation, outcome).observe(seconds)

    def rate_limited(self, scope: str) -> None:
        self._rate_limited.labels(scope).inc()

    def webhook_delivery(self, outcome: str, tenant_id: UUID) -> None:
        self._webhook_deliveries.labels(outcome, *self._tenant(tenant_id)).inc()

    def dispatch_queue(self, depth: int | None, oldest_age_seconds: float | None) -> None:
        self._queue.depth = depth
        self._queue.oldest_age_seconds = oldest_age_seconds

    # The HTTP edge.

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._http_requests.labels(method, route, str(status)).inc()
        self._http_duration.labels(method, route).observe(seconds)

    def request_shed(self, reason: str) -> None:
        self._requests_shed.labels(reason).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of every metric, and its content type."""
        if multiprocess_mode():
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(self._queue)
            return generate_latest(registry), TEXT_CONTENT_TYPE
        return generate_latest(self.registry), TEXT_CONTENT_TYPE


def clear_multiprocess_directory() -> str | None:
    """Remove the previous run's metric files (before any worker process starts); the directory, if set."""
    directory = os.environ.get(MULTIPROCESS_ENV)
    if not directory:
        return None
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))
    return directory
