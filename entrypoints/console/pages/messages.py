"""Messages: the tenant's history with its filters, one message with its status timeline (and a retry
for a failed one), and the filtered history exported as CSV or NDJSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Stream, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.types import ExceptionHandlersMap

from application.errors import InvalidCursor, InvalidInput, MessageNotRetryable
from application.messaging.history import GetMessage, ListHistory
from application.messaging.send_message import RetryMessage
from application.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from application.ports.messages import MessageView
from application.principal import Principal
from domain.administration.tenancy import ProviderName, Role
from domain.errors import InvalidPhoneNumber
from domain.messaging.content import MessageKind
from domain.messaging.failures import FailureCode
from domain.messaging.messages import Direction, MessageStatus
from entrypoints.console.errors import refusal_status
from entrypoints.console.message_exports import csv_export, ndjson_export, pages_of
from entrypoints.console.message_filters import MessageFilters, form_values
from entrypoints.console.rendering import CONSOLE_PATH, render
from entrypoints.http.access import in_console, principal_of
from entrypoints.http.dependencies import provide

MESSAGES_PATH = f"{CONSOLE_PATH}/messages"
PAGE_SIZE = DEFAULT_PAGE_SIZE
EXPORT_PAGE_SIZE = MAX_PAGE_SIZE  # an export reads the history in the largest pages there are
PREVIEW_LENGTH = 80
_TENANT_USERS = in_console(Role.AGENT, Role.TENANT_ADMIN)

# What the pages call the values they show (in English; translated when shown).
STATUS_LABELS = {
    MessageStatus.SCHEDULED: "Scheduled",
    MessageStatus.ACCEPTED: "Accepted",
    MessageStatus.QUEUED: "Queued",
    MessageStatus.SENDING: "Sending",
    MessageStatus.SENT: "Sent",
    MessageStatus.DELIVERED: "Delivered",
    MessageStatus.READ: "Read",
    MessageStatus.FAILED: "Failed",
    MessageStatus.UNDELIVERED: "Undelivered",
    MessageStatus.RECEIVED: "Received",
    MessageStatus.CANCELED: "Canceled",
}
DIRECTION_LABELS = {Direction.OUTBOUND: "Sent to", Direction.INBOUND: "Received from"}
DIRECTION_CHOICES = {Direction.OUTBOUND: "Outbound", Direction.INBOUND: "Inbound"}
KIND_LABELS = {
    MessageKind.TEXT: "Text",
    MessageKind.MEDIA: "Media",
    MessageKind.TEMPLATE: "Template",
    MessageKind.INTERACTIVE: "Interactive",
    MessageKind.LOCATION: "Location",
    MessageKind.CONTACTS: "Contacts",
    MessageKind.REACTION: "Reaction",
    MessageKind.REPLY: "Reply",
    MessageKind.UNSUPPORTED: "Unsupported",
}
PROVIDER_LABELS = {ProviderName.SANDBOX: "Sandbox", ProviderName.TWILIO: "Twilio", ProviderName.META: "Meta"}
_NOTICES = {"retried": "The message was queued to be sent again."}
_LABELS: dict[str, Any] = {
    "status_labels": STATUS_LABELS,
    "direction_labels": DIRECTION_LABELS,
    "direction_choices": DIRECTION_CHOICES,
    "kind_labels": KIND_LABELS,
    "provider_labels": PROVIDER_LABELS,
    "failure_codes": [code.value for code in FailureCode],
}


@dataclass(frozen=True, slots=True)
class MediaLink:
    """A media item on the message page: ``href`` only for a web address (never a ``javascript:`` one)."""

    label: str
    href: str | None
    note: str | None = None


def _web_address(url: str | None) -> str | None:
    return url if url is not None and urlsplit(url).scheme in {"http", "https"} else None


def _query(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {name: request.query_params.get(name, "") for name in request.query_params}


def _history_page(
    request: Request[Any, Any, Any],
    principal: Principal | None,
    *,
    filters: MessageFilters | None,
    page: Any = None,
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "messages/list.html",
        principal=principal,
        status_code=status_code,
        form=form_values(_query(request)),
        filters=filters,
        page=page,
        error=error,
        cursor=request.query_params.get("cursor"),
        preview_length=PREVIEW_LENGTH,
        **_LABELS,
    )


def _history_refused(request: Request[Any, Any, Any], error: Exception) -> Template:
    """The page again, with the form as it was sent and what is wrong with it, and no messages."""
    if isinstance(error, InvalidCursor):
        detail = "The link to older messages is broken; start again from the newest."
    else:
        detail = error.detail if isinstance(error, InvalidInput) else str(error)
    return _history_page(
        request,
        principal_of(request),
        filters=None,
        error=detail,
        status_code=refusal_status(error, default=400),
    )


def _retry_refused(request: Request[Any, Any, Any], error: Exception) -> Template:
    """Why the message was not sent again, with the way back to it."""
    status = refusal_status(error, default=409)
    return render(
        request,
        "messages/retry_refused.html",
        principal=principal_of(request),
        status_code=status,
        detail=error.detail if isinstance(error, MessageNotRetryable | InvalidInput) else str(error),
        message_path=f"{MESSAGES_PATH}/{request.path_params['message_id']}",
    )


_REFUSED_FILTERS: ExceptionHandlersMap = {
    InvalidInput: _history_refused,
    InvalidCursor: _history_refused,
    InvalidPhoneNumber: _history_refused,
}


class MessagesController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "list_history": provide(lambda c: c.list_history),
        "get_message": provide(lambda c: c.get_message),
        "retry_message": provide(lambda c: c.retry_message),
    }

    @get("/messages", opt=_TENANT_USERS, exception_handlers=_REFUSED_FILTERS)
    async def history(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_history: NamedDependency[ListHistory],
    ) -> Template:
        filters = MessageFilters.from_query(_query(request))
        cursor = request.query_params.get("cursor") or None
        page = await list_history(
            filters.history_request(principal.tenant_id, limit=PAGE_SIZE, cursor=cursor)
        )
        return _history_page(request, principal, filters=filters, page=page)

    @get("/messages/export.csv", opt=_TENANT_USERS)
    async def export_csv(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_history: NamedDependency[ListHistory],
    ) -> Stream:
        pages = await _export_pages(request, principal, list_history)
        return Stream(
            csv_export(pages),
            media_type="text/csv; charset=utf-8",
            headers=_attachment("csv"),
        )

    @get("/messages/export.ndjson", opt=_TENANT_USERS)
    async def export_ndjson(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_history: NamedDependency[ListHistory],
    ) -> Stream:
        pages = await _export_pages(request, principal, list_history)
        return Stream(
            ndjson_export(pages),
            media_type="application/x-ndjson",
            headers=_attachment("ndjson"),
        )

    @get("/messages/{message_id:uuid}", opt=_TENANT_USERS)
    async def message(
        self,
        request: Request[Any, Any, Any],
        message_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_message: NamedDependency[GetMessage],
    ) -> Template:
        details = await get_message(principal.tenant_id, message_id)
        content = details.message.content
        media = [MediaLink(url, _web_address(url)) for url in content.media_urls]
        for item in content.media:
            label = item.filename or item.url or item.provider_media_id or str(item.kind)
            note = item.not_kept or (item.content_type if item.stored_media_id else None)
            media.append(MediaLink(label, _web_address(item.url), note))
        return render(
            request,
            "messages/detail.html",
            principal=principal,
            notices=_NOTICES,
            message=details.message,
            timeline=details.timeline,
            media=media,
            **_LABELS,
        )

    @post(
        "/messages/{message_id:uuid}/retry",
        opt=_TENANT_USERS,
        exception_handlers={MessageNotRetryable: _retry_refused, InvalidInput: _retry_refused},
    )
    async def retry(
        self,
        message_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        retry_message: NamedDependency[RetryMessage],
    ) -> Response[Any]:
        await retry_message(principal.tenant_id, message_id)
        return Redirect(f"{MESSAGES_PATH}/{message_id}?done=retried", status_code=HTTP_303_SEE_OTHER)


async def _export_pages(
    request: Request[Any, Any, Any], principal: Principal, list_history: ListHistory
) -> AsyncIterator[list[MessageView]]:
    """The pages of the export; its first is read now, so that a bad filter is an error page."""
    filters = MessageFilters.from_query(_query(request))
    history_request = filters.history_request(principal.tenant_id, limit=EXPORT_PAGE_SIZE)
    first = await list_history(history_request)
    return pages_of(list_history, history_request, first)


def _attachment(extension: str) -> dict[str, str]:
    moment = datetime.now(UTC).strftime("%Y%m%dT%H%MZ")
    return {"Content-Disposition": f'attachment; filename="messages-{moment}.{extension}"'}
