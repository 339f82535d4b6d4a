"""The administration section's first page: what a tenant admin may manage, one link each."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from application.principal import Principal
from entrypoints.console.pages.administration.common import TENANT_ADMINS_ONLY
from entrypoints.console.rendering import render


class AdministrationController(Controller):
    path = "/"
    include_in_schema = False

    @get("/admin", opt=TENANT_ADMINS_ONLY)
    async def index(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]) -> Template:
        return render(request, "administration/index.html", principal=principal)
