"""Operations over HTTP: the liveness and readiness probes, and the Prometheus scrape.

None of them is rate limited (see rate_limits.py), and their requests are logged at DEBUG only: they
come every few seconds, all day.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from application.operations.readiness import CheckReadiness
from entrypoints.http.access import public
from entrypoints.http.dependencies import container_of, provide
from entrypoints.http.operations.schemas import HealthStatus
from entrypoints.http.problems import problem_response, problem_responses
from entrypoints.http.rate_limits import probe
from entrypoints.observability import may_read_metrics, scrape


class HealthController(Controller):
    path = "/"
    tags = ["operations"]
    opt = {
        **public("probes: they tell nothing but up or ready"),
        **probe("an orchestrator refused a probe restarts a healthy process"),
    }
    dependencies = {"check_readiness": provide(lambda c: c.check_readiness)}

    @get("/healthz", operation_id="health", summary="The process is up", cache=False)
    async def health(self) -> HealthStatus:
        return HealthStatus()

    @get(
        "/readyz",
        operation_id="readiness",
        summary="The database answers",
        cache=False,
        responses=problem_responses(503),
    )
    async def ready(self, check_readiness: NamedDependency[CheckReadiness]) -> HealthStatus:
        await check_readiness()
        return HealthStatus()


class MetricsController(Controller):
    path = "/metrics"
    tags = ["operations"]
    opt = {
        **public("METRICS_TOKEN, checked by the handler (open when unset, for an internal network)"),
        **probe("Prometheus scrapes on its own schedule; a refused scrape is a gap in every graph"),
    }
    include_in_schema = False

    @get("/", operation_id="metrics", cache=False)
    async def metrics(self, request: Request[Any, Any, Any]) -> Response[Any]:
        # The scrape reads the whole container (the queue measured at scrape time, every metric).
        container = container_of(request)
        if not may_read_metrics(container.settings().metrics_token, request.headers.get("authorization")):
            return problem_response(
                request,
                status=401,
                slug="unauthorized",
                title="Unauthorized",
                detail="send the metrics token: Authorization: Bearer <METRICS_TOKEN>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        body, content_type = await scrape(container)
        # As a header: Litestar would add a second charset to a media_type that has one.
        return Response(body, headers={"Content-Type": content_type})
