"""What the API and the worker share for operators: the metrics scrape and who may read it."""

from __future__ import annotations

import hmac
from typing import Protocol

from entrypoints.container import Container


class MetricsExposition(Protocol):
    def exposition(self) -> tuple[bytes, str]:
        """Every metric in Prometheus' text format, and its content type."""
        ...


def may_read_metrics(token: str | None, authorization: str | None) -> bool:
    """Open when no METRICS_TOKEN is set; otherwise ``Authorization: Bearer <METRICS_TOKEN>``."""
    if not token:
        return True
    scheme, _, presented = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


async def scrape(container: Container) -> tuple[bytes, str]:
    """Measure what is measured at scrape time (the dispatch queue), then render every metric."""
    await container.measure_dispatch_queue()()
    metrics: MetricsExposition = container.metrics()
    return metrics.exposition()
