"""Campaigns in the console: the tenant's campaigns newest first, one campaign with its progress and
its recipients, paused, resumed or canceled by a tenant admin, and its recipients exported as CSV
(ListCampaigns, GetCampaign, ListCampaignRecipients, PauseCampaign, ResumeCampaign, CancelCampaign, as
on ``/api/campaigns``). Campaigns are created through the API."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream, Template
from litestar.types import ExceptionHandlersMap

from application.campaigns.management import (
    CampaignReport,
    CancelCampaign,
    GetCampaign,
    ListCampaignRecipients,
    ListCampaigns,
    PauseCampaign,
    ResumeCampaign,
)
from application.errors import InvalidInput
from application.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_campaign_cursor,
    decode_recipient_cursor,
    encode_campaign_cursor,
    encode_recipient_cursor,
)
from application.ports.campaigns import CampaignPosition
from application.principal import Principal
from domain.administration.tenancy import Role
from domain.campaigns.model import CampaignRecipient, RecipientState
from domain.errors import DomainError
from entrypoints.console.errors import refusal_detail, refusal_status
from entrypoints.console.i18n import translatable
from entrypoints.console.pages.administration.common import done
from entrypoints.console.rendering import CONSOLE_PATH, render
from entrypoints.http.access import admitted_principal, in_console
from entrypoints.http.campaigns.controller import RecipientPages, recipients_csv
from entrypoints.http.dependencies import provide

CAMPAIGNS_PATH = f"{CONSOLE_PATH}/campaigns"
MAX_CURSOR_LENGTH = 512

TENANT_USERS = in_console(Role.AGENT, Role.TENANT_ADMIN)
TENANT_ADMINS = in_console(Role.TENANT_ADMIN)

NOTICES = {
    "paused": translatable("The campaign is paused: nothing more of it is sent until it resumes."),
    "resumed": translatable("The campaign resumed: its messages leave again at its pace."),
    "canceled": translatable("The campaign was canceled: recipients not yet handed over are never sent."),
}

STATES = tuple(RecipientState)
STATE_LABELS = {
    RecipientState.PENDING: translatable("Pending"),
    RecipientState.SKIPPED: translatable("Skipped"),
    RecipientState.ACCEPTED: translatable("Accepted"),
    RecipientState.SENT: translatable("Sent"),
    RecipientState.DELIVERED: translatable("Delivered"),
    RecipientState.READ: translatable("Read"),
    RecipientState.FAILED: translatable("Failed"),
}
STATUS_LABELS = {
    "scheduled": translatable("Scheduled"),
    "running": translatable("Running"),
    "paused": translatable("Paused"),
    "completed": translatable("Completed"),
    "canceled": translatable("Canceled"),
}


def _wanted(cursor: str | None) -> str | None:
    return (cursor or "").strip()[:MAX_CURSOR_LENGTH] or None


def _state(value: str | None) -> RecipientState | None:
    """The recipients' filter from the address: an unknown state shows every recipient."""
    with contextlib.suppress(ValueError):
        return RecipientState((value or "").strip())
    return None


@dataclass(frozen=True, slots=True)
class CampaignView:
    """One campaign as its page shows it: its report and a page of its recipients."""

    report: CampaignReport
    recipients: list[CampaignRecipient]
    next_cursor: str | None
    state: RecipientState | None


async def _campaign_view(
    principal: Principal,
    campaign_id: UUID,
    get_campaign: GetCampaign,
    list_recipients: ListCampaignRecipients,
    *,
    state: RecipientState | None = None,
    cursor: str | None = None,
) -> CampaignView:
    report = await get_campaign(principal, campaign_id)
    after = decode_recipient_cursor(cursor) if cursor else None
    recipients = await list_recipients(
        principal, campaign_id, limit=DEFAULT_PAGE_SIZE, state=state, after_position=after
    )
    last = recipients[-1] if len(recipients) == DEFAULT_PAGE_SIZE else None
    return CampaignView(report, recipients, encode_recipient_cursor(last.position) if last else None, state)


def _campaign_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    view: CampaignView,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "campaigns/campaign.html",
        principal=principal,
        status_code=status_code,
        notices=NOTICES,
        campaign=view.report.campaign,
        progress=view.report.progress,
        recipients=view.recipients,
        next_cursor=view.next_cursor,
        state=view.state,
        states=STATES,
        state_labels=STATE_LABELS,
        status_labels=STATUS_LABELS,
        can_administer=principal.role is Role.TENANT_ADMIN,
        error=error,
    )


def _refused(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """The campaign again (as read before the change, which changed nothing), with why the change was
    refused."""
    return _campaign_page(
        request,
        admitted_principal(request),
        request.state.campaign_view,
        error=refusal_detail(error),
        status_code=refusal_status(error),
    )


async def _keep_for_refusal(
    request: Request[Any, Any, Any],
    principal: Principal,
    campaign_id: UUID,
    get_campaign: GetCampaign,
    list_recipients: ListCampaignRecipients,
) -> None:
    request.state.campaign_view = await _campaign_view(principal, campaign_id, get_campaign, list_recipients)


_REFUSALS: ExceptionHandlersMap = {InvalidInput: _refused, DomainError: _refused}


class CampaignsController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "list_campaigns": provide(lambda c: c.list_campaigns),
        "get_campaign": provide(lambda c: c.get_campaign),
        "list_campaign_recipients": provide(lambda c: c.list_campaign_recipients),
        "pause_campaign": provide(lambda c: c.pause_campaign),
        "resume_campaign": provide(lambda c: c.resume_campaign),
        "cancel_campaign": provide(lambda c: c.cancel_campaign),
    }

    @get("/campaigns", opt=TENANT_USERS)
    async def campaigns(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_campaigns: NamedDependency[ListCampaigns],
        get_campaign: NamedDependency[GetCampaign],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        wanted = _wanted(cursor)
        after = decode_campaign_cursor(wanted) if wanted else None
        campaigns = await list_campaigns(principal, limit=DEFAULT_PAGE_SIZE, after=after)
        reports = [await get_campaign(principal, campaign.id) for campaign in campaigns]
        last = campaigns[-1] if len(campaigns) == DEFAULT_PAGE_SIZE else None
        return render(
            request,
            "campaigns/campaigns.html",
            principal=principal,
            reports=reports,
            status_labels=STATUS_LABELS,
            next_cursor=encode_campaign_cursor(CampaignPosition(last.created_at, last.id)) if last else None,
        )

    @get("/campaigns/{campaign_id:uuid}", opt=TENANT_USERS)
    async def campaign(
        self,
        request: Request[Any, Any, Any],
        campaign_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_campaign: NamedDependency[GetCampaign],
        list_campaign_recipients: NamedDependency[ListCampaignRecipients],
        recipient_state: Annotated[str | None, QueryParameter(name="state")] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        view = await _campaign_view(
            principal,
            campaign_id,
            get_campaign,
            list_campaign_recipients,
            state=_state(recipient_state),
            cursor=_wanted(cursor),
        )
        return _campaign_page(request, principal, view)

    @get("/campaigns/{campaign_id:uuid}/recipients.csv", opt=TENANT_USERS)
    async def export(
        self,
        campaign_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        list_campaign_recipients: NamedDependency[ListCampaignRecipients],
        recipient_state: Annotated[str | None, QueryParameter(name="state")] = None,
    ) -> Stream:
        pages = RecipientPages(list_campaign_recipients, principal, campaign_id, _state(recipient_state))
        first = await pages.read(None, MAX_PAGE_SIZE)  # a missing campaign is refused before any byte
        return Stream(
            recipients_csv(pages, first),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}-recipients.csv"'},
        )

    @post("/campaigns/{campaign_id:uuid}/pause", opt=TENANT_ADMINS, exception_handlers=_REFUSALS)
    async def pause(
        self,
        request: Request[Any, Any, Any],
        campaign_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_campaign: NamedDependency[GetCampaign],
        list_campaign_recipients: NamedDependency[ListCampaignRecipients],
        pause_campaign: NamedDependency[PauseCampaign],
    ) -> Response[Any]:
        await _keep_for_refusal(request, principal, campaign_id, get_campaign, list_campaign_recipients)
        await pause_campaign(principal, campaign_id)
        return done(f"{CAMPAIGNS_PATH}/{campaign_id}", "paused")

    @post("/campaigns/{campaign_id:uuid}/resume", opt=TENANT_ADMINS, exception_handlers=_REFUSALS)
    async def resume(
        self,
        request: Request[Any, Any, Any],
        campaign_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_campaign: NamedDependency[GetCampaign],
        list_campaign_recipients: NamedDependency[ListCampaignRecipients],
        resume_campaign: NamedDependency[ResumeCampaign],
    ) -> Response[Any]:
        await _keep_for_refusal(request, principal, campaign_id, get_campaign, list_campaign_recipients)
        await resume_campaign(principal, campaign_id)
        return done(f"{CAMPAIGNS_PATH}/{campaign_id}", "resumed")

    @post("/campaigns/{campaign_id:uuid}/cancel", opt=TENANT_ADMINS, exception_handlers=_REFUSALS)
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        campaign_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_campaign: NamedDependency[GetCampaign],
        list_campaign_recipients: NamedDependency[ListCampaignRecipients],
        cancel_campaign: NamedDependency[CancelCampaign],
    ) -> Response[Any]:
        await _keep_for_refusal(request, principal, campaign_id, get_campaign, list_campaign_recipients)
        await cancel_campaign(principal, campaign_id)
        return done(f"{CAMPAIGNS_PATH}/{campaign_id}", "canceled")
