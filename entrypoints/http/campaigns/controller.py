"""Campaigns over HTTP: create one (Idempotency-Key), list them, read one with its progress, pause,
resume or cancel it, upload its CSV audience, and page or export its recipients.

Agents and tenant admins read; tenant admins create and control. Another tenant's campaign is a 404.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from application.campaigns.management import (
    CancelCampaign,
    CreateCampaign,
    GetCampaign,
    ListCampaignRecipients,
    ListCampaigns,
    PauseCampaign,
    ResumeCampaign,
    UploadCampaignAudience,
)
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
from application.spreadsheet_cells import neutralised
from domain.campaigns.model import CampaignRecipient, RecipientState
from entrypoints.http.access import BEARER, SEND_AND_READ, TENANT_ADMINS
from entrypoints.http.campaigns.schemas import (
    AudienceUploadResource,
    CampaignAudienceOperation,
    CampaignCreate,
    CampaignPageResource,
    CampaignResource,
    RecipientPageResource,
    RecipientResource,
)
from entrypoints.http.dependencies import provide
from entrypoints.http.problems import problem_responses
from entrypoints.http.wire_types import PageCursor, PageLimit, idempotency_key_header

# A listed audience of 10,000 recipients with a few attributes each; a CSV of 100,000 rows.
CREATE_MAX_BODY_BYTES = 4 * 1024 * 1024
CSV_MAX_BODY_BYTES = 32 * 1024 * 1024
_SPOOL_IN_MEMORY_BYTES = 1024 * 1024
_EXPORT_COLUMNS = (
    "line",
    "number",
    "state",
    "skip_reason",
    "detail",
    "message_id",
    "accepted_at",
    "replied",
)
_E164 = re.compile(r"\+[0-9]{1,15}")


class CampaignsController(Controller):
    path = "/api/campaigns"
    tags = ["campaigns"]
    security = BEARER
    opt = SEND_AND_READ
    dependencies = {
        "create_campaign": provide(lambda c: c.create_campaign),
        "list_campaigns": provide(lambda c: c.list_campaigns),
        "get_campaign": provide(lambda c: c.get_campaign),
        "pause_campaign": provide(lambda c: c.pause_campaign),
        "resume_campaign": provide(lambda c: c.resume_campaign),
        "cancel_campaign": provide(lambda c: c.cancel_campaign),
        "list_campaign_recipients": provide(lambda c: c.list_campaign_recipients),
        "upload_campaign_audience": provide(lambda c: c.upload_campaign_audience),
    }

    @post(
        "/",
        operation_id="createCampaign",
        summary="Create a campaign: an approved template sent to an audience at a pace",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 503),
        opt=TENANT_ADMINS,
        request_max_body_size=CREATE_MAX_BODY_BYTES,
    )
    async def create(
        self,
        data: JSONBody[CampaignCreate],
        principal: NamedDependency[Principal],
        create_campaign: NamedDependency[CreateCampaign],
        idempotency_key: Annotated[
            str | None,
            idempotency_key_header("A unique key per campaign: a retry with it never creates a second one"),
        ] = None,
    ) -> Response[CampaignResource]:
        """The template must be approved at the sender's provider account (422 `unknown-template`,
        `template-not-approved`). A listed audience is stored at once: each person once (a second form of
        the same number is a duplicate), a row with a bad number or a missing template value skipped as
        `invalid`, a person who opted out as `opted_out`. The campaign starts at `start_at` (default: now);
        a CSV audience once uploaded. A retry with the same `Idempotency-Key` answers 200 with the first
        campaign; the same key with a different request is a 422 `idempotency-key-reused`."""
        created = await create_campaign(principal, data.command(idempotency_key))
        return Response(
            CampaignResource.of(created.campaign),
            status_code=HTTP_200_OK if created.replayed else HTTP_201_CREATED,
            headers={"Location": f"/api/campaigns/{created.campaign.id}"},
        )

    @get(
        "/",
        operation_id="listCampaigns",
        summary="The tenant's campaigns, newest first",
        responses=problem_responses(400, 401, 403, 503),
    )
    async def list_campaigns(
        self,
        principal: NamedDependency[Principal],
        list_campaigns: NamedDependency[ListCampaigns],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: PageCursor = None,
    ) -> CampaignPageResource:
        """Keyset pagination: pass `next_cursor` back as `cursor`. Progress is on each campaign's own
        resource."""
        after = decode_campaign_cursor(cursor) if cursor else None
        limit = min(limit, MAX_PAGE_SIZE)
        campaigns = await list_campaigns(principal, limit=limit, after=after)
        last = campaigns[-1] if len(campaigns) == limit else None
        return CampaignPageResource(
            items=[CampaignResource.of(campaign) for campaign in campaigns],
            next_cursor=encode_campaign_cursor(CampaignPosition(last.created_at, last.id)) if last else None,
        )

    @get(
        "/{campaign_id:uuid}",
        operation_id="getCampaign",
        summary="A campaign with its progress",
        responses=problem_responses(400, 401, 403, 404, 503),
    )
    async def get_one(
        self,
        campaign_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_campaign: NamedDependency[GetCampaign],
    ) -> CampaignResource:
        """`progress` counts its recipients as they are now: `targeted` (every recipient given),
        `pending`, `skipped` by reason, and those handed over by their message's status (`accepted`,
        `sent`, `delivered`, `read`, `failed`), and `replied` (wrote after their message was accepted)."""
        return CampaignResource.of_report(await get_campaign(principal, campaign_id))

    @post(
        "/{campaign_id:uuid}/pause",
        operation_id="pauseCampaign",
        summary="Pause a campaign: nothing more of it is sent until it resumes",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 404, 409, 503),
        opt=TENANT_ADMINS,
    )
    async def pause(
        self,
        campaign_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        pause_campaign: NamedDependency[PauseCampaign],
    ) -> CampaignResource:
        """Pending recipients stay pending; its messages handed to the dispatch but not yet sent are held
        back. Pausing a paused campaign changes nothing; a completed or canceled one is a 409
        `campaign-state-conflict`."""
        return CampaignResource.of(await pause_campaign(principal, campaign_id))

    @post(
        "/{campaign_id:uuid}/resume",
        operation_id="resumeCampaign",
        summary="Resume a paused campaign at its pace, from now",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 404, 409, 503),
        opt=TENANT_ADMINS,
    )
    async def resume(
        self,
        campaign_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        resume_campaign: NamedDependency[ResumeCampaign],
    ) -> CampaignResource:
        """Its held messages get fresh slots first, then its pending recipients; the time paused is not
        made up for in a burst. A completed or canceled campaign is a 409."""
        return CampaignResource.of(await resume_campaign(principal, campaign_id))

    @post(
        "/{campaign_id:uuid}/cancel",
        operation_id="cancelCampaign",
        summary="Cancel a campaign for good",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 404, 409, 503),
        opt=TENANT_ADMINS,
    )
    async def cancel(
        self,
        campaign_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        cancel_campaign: NamedDependency[CancelCampaign],
    ) -> CampaignResource:
        """Pending recipients are never sent; its messages not yet sent fail (their jobs are removed);
        messages already at the provider go on. A completed campaign is a 409."""
        return CampaignResource.of(await cancel_campaign(principal, campaign_id))

    @post(
        "/{campaign_id:uuid}/audience",
        operation_id="uploadCampaignAudience",
        summary="Upload a campaign's audience as CSV",
        status_code=HTTP_200_OK,
        operation_class=CampaignAudienceOperation,
        responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 503),
        opt=TENANT_ADMINS,
        request_max_body_size=CSV_MAX_BODY_BYTES,
    )
    async def upload_audience(
        self,
        request: Request[Any, Any, Any],
        campaign_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        upload_campaign_audience: NamedDependency[UploadCampaignAudience],
        phone_column: Annotated[
            str,
            QueryParameter(
                min_length=1, max_length=64, pattern=r"^[^\x00]*$", description="The phone column"
            ),
        ] = "phone",
    ) -> AudienceUploadResource:
        """The body is the CSV file itself (`Content-Type: text/csv`, UTF-8): a header row, a column of
        phone numbers (`phone`, or as `phone_column` names it) and attribute columns the campaign's
        `variables` take values from by name. At most 100,000 rows; a row that cannot be read or whose
        number is not one is kept as skipped `invalid` with its line number (list them with
        `GET /api/campaigns/{id}/recipients?state=skipped`). One upload per campaign of `csv: true`
        audience, before it starts (409 otherwise); a file without the phone column, not UTF-8 or over
        the limit is a 422 and keeps nothing."""
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY_BYTES) as spooled:
            async for chunk in request.stream():
                spooled.write(chunk)
            spooled.seek(0)
            uploaded = await upload_campaign_audience(
                principal,
                campaign_id,
                spooled,  # type: ignore[arg-type]
                phone_column=phone_column,
            )
        return AudienceUploadResource.of(uploaded)

    @get(
        "/{campaign_id:uuid}/recipients",
        operation_id="listCampaignRecipients",
        summary="A campaign's recipients in audience order, with their state",
        responses=problem_responses(400, 401, 403, 404, 503),
    )
    async def recipients(
        self,
        campaign_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        list_campaign_recipients: NamedDependency[ListCampaignRecipients],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: PageCursor = None,
        recipient_state: Annotated[
            RecipientState | None, QueryParameter(name="state", description="Only recipients in this state")
        ] = None,
    ) -> RecipientPageResource:
        """Each recipient's `state` is its message's status once handed over (`accepted`, `sent`,
        `delivered`, `read`, `failed`), else `pending` or `skipped` with `skip_reason` and `detail`.
        `line` is its place in the audience (a CSV line number). Keyset pagination."""
        page = RecipientPages(list_campaign_recipients, principal, campaign_id, recipient_state)
        items = await page.read(
            decode_recipient_cursor(cursor) if cursor else None, min(limit, MAX_PAGE_SIZE)
        )
        last = items[-1] if len(items) == min(limit, MAX_PAGE_SIZE) else None
        return RecipientPageResource(
            items=[RecipientResource.of(recipient) for recipient in items],
            next_cursor=encode_recipient_cursor(last.position) if last else None,
        )

    @get(
        "/{campaign_id:uuid}/recipients/export",
        operation_id="exportCampaignRecipients",
        summary="A campaign's recipients as CSV, streamed",
        media_type="text/csv",
        responses=problem_responses(400, 401, 403, 404, 503),
    )
    async def export(
        self,
        campaign_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        list_campaign_recipients: NamedDependency[ListCampaignRecipients],
        recipient_state: Annotated[
            RecipientState | None, QueryParameter(name="state", description="Only recipients in this state")
        ] = None,
    ) -> Stream:
        """Every recipient (or those in `state`), read page by page as the answer is written. Cells a
        spreadsheet would read as a formula start with an apostrophe."""
        pages = RecipientPages(list_campaign_recipients, principal, campaign_id, recipient_state)
        first = await pages.read(None, MAX_PAGE_SIZE)  # a missing campaign is a 404, before any byte
        return Stream(
            recipients_csv(pages, first),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}-recipients.csv"'},
        )


@dataclass(frozen=True, slots=True)
class RecipientPages:
    list_recipients: ListCampaignRecipients
    principal: Principal
    campaign_id: UUID
    state: RecipientState | None

    async def read(self, after: int | None, limit: int) -> list[CampaignRecipient]:
        return await self.list_recipients(
            self.principal, self.campaign_id, limit=limit, state=self.state, after_position=after
        )


async def recipients_csv(pages: RecipientPages, first: list[CampaignRecipient]) -> AsyncIterator[bytes]:
    yield _csv_lines([list(_EXPORT_COLUMNS)])
    page = first
    while page:
        yield _csv_lines([_csv_row(recipient) for recipient in page])
        if len(page) < MAX_PAGE_SIZE:
            return
        page = await pages.read(page[-1].position, MAX_PAGE_SIZE)


def _csv_row(recipient: CampaignRecipient) -> list[str]:
    values = (
        str(recipient.position),
        recipient.number,
        recipient.state.value,
        recipient.skip_reason.value if recipient.skip_reason else "",
        recipient.detail or "",
        str(recipient.message_id) if recipient.message_id else "",
        recipient.accepted_at.isoformat() if recipient.accepted_at else "",
        "true" if recipient.replied else "false",
    )
    return [_neutralised(value) for value in values]


def _neutralised(cell: str) -> str:
    """``cell`` as text a spreadsheet will not evaluate (a phone number as it is)."""
    return cell if _E164.fullmatch(cell) else neutralised(cell)


def _csv_lines(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()
