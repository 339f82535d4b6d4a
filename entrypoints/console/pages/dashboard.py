"""The dashboard: the console's first page. A tenant's users see their messages and conversations, how
their outbound messages fare and what needs looking after; platform admins see the tenants and their
usage (they read no tenant's messages). The figures are the API's (GET /api/dashboard, /admin/usage)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from application.dashboard.platform_usage import ReadPlatformUsage
from application.dashboard.read_dashboard import ReadDashboard
from application.principal import Principal
from domain.administration.tenancy import Role
from entrypoints.console.rendering import render
from entrypoints.http.access import in_console
from entrypoints.http.dependencies import provide


class DashboardController(Controller):
    path = "/"
    dependencies = {
        "read_dashboard": provide(lambda c: c.read_dashboard),
        "read_platform_usage": provide(lambda c: c.read_platform_usage),
    }

    @get("/", opt=in_console(*Role))
    async def dashboard(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        read_dashboard: NamedDependency[ReadDashboard],
        read_platform_usage: NamedDependency[ReadPlatformUsage],
    ) -> Template:
        if principal.role is Role.PLATFORM_ADMIN:
            return render(
                request,
                "platform_dashboard.html",
                principal=principal,
                usage=await read_platform_usage(principal),
            )
        return render(
            request, "dashboard.html", principal=principal, dashboard=await read_dashboard(principal)
        )
