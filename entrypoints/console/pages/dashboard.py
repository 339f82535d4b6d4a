"""The dashboard: the console's first page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from application.messaging.conversations import ConversationsRequest, ListConversations
from application.principal import Principal
from domain.administration.tenancy import Role
from entrypoints.console.rendering import render
from entrypoints.http.access import in_console
from entrypoints.http.dependencies import provide

LATEST_CONVERSATIONS = 5


class DashboardController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {"list_conversations": provide(lambda c: c.list_conversations)}

    @get("/", opt=in_console(*Role))
    async def dashboard(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_conversations: NamedDependency[ListConversations],
    ) -> Template:
        conversations = None
        if principal.role is not Role.PLATFORM_ADMIN:
            conversations = await list_conversations(
                ConversationsRequest(tenant_id=principal.tenant_id, limit=LATEST_CONVERSATIONS)
            )
        return render(request, "dashboard.html", principal=principal, conversations=conversations)
