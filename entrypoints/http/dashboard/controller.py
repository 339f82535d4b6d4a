"""The dashboards over HTTP: a tenant's (agents, tenant admins and their API keys) and the platform's
usage (platform admins)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from application.dashboard.platform_usage import ReadPlatformUsage
from application.dashboard.read_dashboard import ReadDashboard
from application.principal import Principal
from entrypoints.http.access import BEARER, BEARER_ERRORS, PLATFORM_ADMINS, SEND_AND_READ
from entrypoints.http.dashboard.schemas import DashboardResource, PlatformUsageResource
from entrypoints.http.dependencies import provide
from entrypoints.http.problems import problem_responses


class DashboardController(Controller):
    path = "/api/dashboard"
    tags = ["dashboard"]
    security = BEARER
    opt = SEND_AND_READ
    dependencies = {"read_dashboard": provide(lambda c: c.read_dashboard)}

    @get(
        "/",
        operation_id="readDashboard",
        summary="The tenant's activity: messages, open conversations, delivery rates, what needs care",
        cache=False,
        responses=problem_responses(*BEARER_ERRORS),
    )
    async def read_dashboard(
        self, principal: NamedDependency[Principal], read_dashboard: NamedDependency[ReadDashboard]
    ) -> DashboardResource:
        """Counted as of `as_of`: today begins at 00:00 UTC; the delivery rates are over the outbound
        messages created in the last 24 hours and 7 days; a webhook endpoint is failing when the
        gateway disabled it (it answered 410) or, enabled, the last attempt of its newest attempted
        delivery failed; a template awaits approval while one of its listings is pending."""
        return DashboardResource.of(await read_dashboard(principal))


class AdminUsageController(Controller):
    path = "/admin/usage"
    tags = ["admin"]
    security = BEARER
    opt = PLATFORM_ADMINS
    dependencies = {"read_platform_usage": provide(lambda c: c.read_platform_usage)}

    @get(
        "/",
        operation_id="adminReadUsage",
        summary="How many tenants there are, and each one's usage",
        cache=False,
        responses=problem_responses(*BEARER_ERRORS),
    )
    async def read_usage(
        self,
        principal: NamedDependency[Principal],
        read_platform_usage: NamedDependency[ReadPlatformUsage],
    ) -> PlatformUsageResource:
        """Counts only: no tenant's messages are read. Today begins at 00:00 UTC."""
        return PlatformUsageResource.of(await read_platform_usage(principal))
