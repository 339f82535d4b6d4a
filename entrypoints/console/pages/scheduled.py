"""Scheduled sends in the console: the tenant's messages waiting for their time, soonest first, each
moved to another time or called off (ListScheduled, RescheduleMessage, CancelScheduled, as on
``/api/scheduled`` and ``/api/messages/{id}/schedule|cancel``). The console shows UTC everywhere: a
time typed in the form is read as UTC, and the page says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Template
from litestar.types import ExceptionHandlersMap

from application.errors import InvalidInput, NotScheduled
from application.messaging.scheduling import (
    CancelScheduled,
    ListScheduled,
    RescheduleMessage,
    ScheduledPage,
)
from application.pagination import DEFAULT_PAGE_SIZE
from application.principal import Principal
from domain.administration.tenancy import Role
from domain.errors import DomainError
from entrypoints.console.errors import refusal_detail, refusal_status
from entrypoints.console.i18n import translatable
from entrypoints.console.pages.administration.common import done
from entrypoints.console.rendering import CONSOLE_PATH, render
from entrypoints.http.access import admitted_principal, in_console
from entrypoints.http.dependencies import provide

SCHEDULED_PATH = f"{CONSOLE_PATH}/scheduled"
MAX_CURSOR_LENGTH = 512
# What a datetime-local input sends: to the minute, sometimes with seconds.
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")

TENANT_USERS = in_console(Role.AGENT, Role.TENANT_ADMIN)

NOTICES = {
    "rescheduled": translatable("The message was moved to its new time."),
    "canceled": translatable("The message was called off: it will not be sent."),
}


@dataclass(frozen=True, slots=True)
class RescheduleForm:
    send_at: str = ""


def utc_moment(value: str) -> datetime:
    """A datetime-local input's value (``2026-01-31T12:00``), read as UTC."""
    text = value.strip()
    for layout in _LOCAL_FORMATS:
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise InvalidInput("the new time is a date and time, such as 2026-01-31T12:00 (UTC)")


def input_value(moment: datetime | None) -> str:
    """``moment`` as a datetime-local input shows it, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if moment is not None else ""


def _scheduled_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    page: ScheduledPage,
    *,
    error: str | None = None,
    failed_id: UUID | None = None,
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "messages/scheduled.html",
        principal=principal,
        status_code=status_code,
        page=page,
        input_value=input_value,
        error=error,
        failed_id=failed_id,
        notices=NOTICES,
    )


def _refused(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """The list again (as read before the change, which changed nothing), with why the change was
    refused beside the message it was for."""
    return _scheduled_page(
        request,
        admitted_principal(request),
        request.state.scheduled_page,
        error=refusal_detail(error),
        failed_id=request.state.message_id,
        status_code=refusal_status(error),
    )


async def _keep_for_refusal(
    request: Request[Any, Any, Any], principal: Principal, list_scheduled: ListScheduled, message_id: UUID
) -> None:
    request.state.scheduled_page = await list_scheduled(principal.tenant_id, limit=DEFAULT_PAGE_SIZE)
    request.state.message_id = message_id


_REFUSALS: ExceptionHandlersMap = {InvalidInput: _refused, DomainError: _refused, NotScheduled: _refused}


class ScheduledController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "list_scheduled": provide(lambda c: c.list_scheduled),
        "reschedule_message": provide(lambda c: c.reschedule_message),
        "cancel_scheduled": provide(lambda c: c.cancel_scheduled),
    }

    @get("/scheduled", opt=TENANT_USERS)
    async def scheduled(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_scheduled: NamedDependency[ListScheduled],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        wanted = (cursor or "").strip()[:MAX_CURSOR_LENGTH] or None
        page = await list_scheduled(principal.tenant_id, limit=DEFAULT_PAGE_SIZE, cursor=wanted)
        return _scheduled_page(request, principal, page)

    @post("/scheduled/{message_id:uuid}/reschedule", opt=TENANT_USERS, exception_handlers=_REFUSALS)
    async def reschedule(
        self,
        request: Request[Any, Any, Any],
        message_id: FromPath[UUID],
        data: Annotated[RescheduleForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        list_scheduled: NamedDependency[ListScheduled],
        reschedule_message: NamedDependency[RescheduleMessage],
    ) -> Response[Any]:
        await _keep_for_refusal(request, principal, list_scheduled, message_id)
        await reschedule_message(principal.tenant_id, message_id, utc_moment(data.send_at))
        return done(SCHEDULED_PATH, "rescheduled")

    @post("/scheduled/{message_id:uuid}/cancel", opt=TENANT_USERS, exception_handlers=_REFUSALS)
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        message_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        list_scheduled: NamedDependency[ListScheduled],
        cancel_scheduled: NamedDependency[CancelScheduled],
    ) -> Response[Any]:
        await _keep_for_refusal(request, principal, list_scheduled, message_id)
        await cancel_scheduled(principal.tenant_id, message_id)
        return done(SCHEDULED_PATH, "canceled")
