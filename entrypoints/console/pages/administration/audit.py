"""The tenant's audit trail (ListAuditTrail): newest first, a page at a time, narrowed by action,
actor and time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from application.administration.audit_trail import AuditTrailRequest, ListAuditTrail
from application.administration.tenant_admin import ListUsers
from application.errors import InvalidInput
from application.identity.api_keys import ListApiKeys
from application.principal import Principal
from domain.administration.audit import AuditAction
from entrypoints.console.pages.administration.common import TENANT_ADMINS_ONLY
from entrypoints.console.rendering import render
from entrypoints.http.dependencies import provide

ENTRIES_PER_PAGE = 50


def chosen_action(value: str | None) -> AuditAction | None:
    if not value:
        return None
    for action in AuditAction:
        if value == action.value:
            return action
    raise InvalidInput("choose one of the listed actions")


def chosen_actor(value: str | None) -> UUID | None:
    if not value or not value.strip():
        return None
    try:
        return UUID(value.strip())
    except ValueError:
        raise InvalidInput("an actor is a user's or an API key's id") from None


def chosen_moment(value: str | None, name: str) -> datetime | None:
    """A moment as a browser's date-time field sends it (no zone: UTC, as the page says)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
        # Bounded here: at the calendar's ends, an offset moves a moment out of Python's dates.
        return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{name} is a date and time, e.g. 2026-01-31T12:00") from None


class AuditController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "list_audit_trail": provide(lambda c: c.list_audit_trail),
        "list_users": provide(lambda c: c.list_users),
        "list_api_keys": provide(lambda c: c.list_api_keys),
    }

    @get("/admin/audit", opt=TENANT_ADMINS_ONLY)
    async def audit(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_audit_trail: NamedDependency[ListAuditTrail],
        list_users: NamedDependency[ListUsers],
        list_api_keys: NamedDependency[ListApiKeys],
        action: FromQuery[str | None] = None,
        actor: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        page = await list_audit_trail(
            AuditTrailRequest(
                principal=principal,
                limit=ENTRIES_PER_PAGE,
                cursor=cursor or None,
                action=chosen_action(action),
                actor_id=chosen_actor(actor),
                since=chosen_moment(since, "since"),
                until=chosen_moment(until, "until"),
            )
        )
        # Who an actor is, by name: the tenant's users and API keys (others show as their id).
        names: dict[UUID, str] = {user.id: user.username for user in await list_users(principal)}
        names.update({key.id: key.name for key in await list_api_keys(principal)})
        filters = {
            name: value
            for name, value in (("action", action), ("actor", actor), ("since", since), ("until", until))
            if value
        }
        return render(
            request,
            "administration/audit.html",
            principal=principal,
            entries=page.items,
            next_cursor=page.next_cursor,
            first_page=not cursor,
            names=names,
            actions=tuple(AuditAction),
            filters=filters,
        )
