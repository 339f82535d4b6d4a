"""The tenant's limits, read-only: what the gateway holds it to (GetTenantLimits)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from application.messaging.tenant_limits import GetTenantLimits
from application.principal import Principal
from entrypoints.console.pages.administration.common import TENANT_ADMINS_ONLY
from entrypoints.console.rendering import render
from entrypoints.http.dependencies import provide


class LimitsController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {"get_tenant_limits": provide(lambda c: c.get_tenant_limits)}

    @get("/admin/limits", opt=TENANT_ADMINS_ONLY)
    async def limits(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        get_tenant_limits: NamedDependency[GetTenantLimits],
    ) -> Template:
        return render(
            request,
            "administration/limits.html",
            principal=principal,
            limits=await get_tenant_limits(principal),
        )
