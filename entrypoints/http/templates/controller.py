"""The template catalogue over HTTP: the tenant's message templates, where each is approved, previews,
the sync with the providers' catalogues, and templates as code (export, plan, apply).

Agents and tenant admins read (list, get, preview, export, plan); tenant admins change (create, delete,
sync, apply). Another tenant's template is a 404.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from application.pagination import DEFAULT_PAGE_SIZE, MAX_TEMPLATE_CURSOR_LENGTH
from application.principal import Principal
from application.templates.as_code import ApplyTemplates, ExportTemplates, PlanTemplates
from application.templates.catalogue import (
    CreateTemplate,
    CreateTemplateCommand,
    DeleteTemplate,
    GetTemplate,
    ListTemplates,
    PreviewTemplate,
    TemplatesRequest,
)
from application.templates.sync import SyncTemplates
from domain.templates.catalogue import TemplateStatus
from entrypoints.http.access import BEARER, SEND_AND_READ, TENANT_ADMINS
from entrypoints.http.dependencies import provide
from entrypoints.http.problems import problem_responses
from entrypoints.http.templates.schemas import (
    AppliedPlanResource,
    RenderedTemplateResource,
    TemplateCreate,
    TemplatePageResource,
    TemplatePlanResource,
    TemplatePreviewRequest,
    TemplateResource,
    TemplatesDocument,
    TemplatesFile,
    TemplateSyncResource,
    account_choices,
)
from entrypoints.http.wire_types import STORABLE_TEXT_PATTERN, PageLimit

TemplateCursor = Annotated[str | None, QueryParameter(max_length=MAX_TEMPLATE_CURSOR_LENGTH)]


class TemplatesController(Controller):
    path = "/api/templates"
    tags = ["templates"]
    security = BEARER
    opt = SEND_AND_READ
    dependencies = {
        "create_template": provide(lambda c: c.create_template),
        "list_templates": provide(lambda c: c.list_templates),
        "get_template": provide(lambda c: c.get_template),
        "delete_template": provide(lambda c: c.delete_template),
        "preview_template": provide(lambda c: c.preview_template),
        "sync_templates": provide(lambda c: c.sync_templates),
        "export_templates": provide(lambda c: c.export_templates),
        "plan_templates": provide(lambda c: c.plan_templates),
        "apply_templates": provide(lambda c: c.apply_templates),
    }

    @post(
        "/",
        operation_id="createTemplate",
        summary="Create a template and ask for its approval",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 409, 413, 422, 502, 503),
        opt=TENANT_ADMINS,
    )
    async def create(
        self,
        data: JSONBody[TemplateCreate],
        principal: NamedDependency[Principal],
        create_template: NamedDependency[CreateTemplate],
    ) -> Response[TemplateResource]:
        """The template is checked against WhatsApp's rules first (422 `invalid-template`, with each field
        that breaks one in `errors`), then created at the provider of each account in `accounts`: by
        default every provider account of the tenant, or the sandbox when it has none (the sandbox approves
        at once; Meta and Twilio review it, and its listing stays `pending` until they decide). A provider
        that refuses it is a 422 `provider-refused` with the provider's words, one that does not answer a
        502; either way nothing is kept anywhere. 409 when the tenant has a template of that name and
        language."""
        created = await create_template(
            principal, CreateTemplateCommand(data.to_domain(), account_choices(data.accounts))
        )
        return Response(
            TemplateResource.of(created),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/templates/{created.id}"},
        )

    @get(
        "/",
        operation_id="listTemplates",
        summary="The tenant's templates, by name then language",
        responses=problem_responses(400, 401, 403, 503),
    )
    async def list_templates(
        self,
        principal: NamedDependency[Principal],
        list_templates: NamedDependency[ListTemplates],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: TemplateCursor = None,
        name: Annotated[
            str | None,
            QueryParameter(
                max_length=512,
                pattern=STORABLE_TEXT_PATTERN,
                description="Only this template (each language)",
            ),
        ] = None,
        template_status: Annotated[
            TemplateStatus | None,
            QueryParameter(name="status", description="Only templates with a listing in this status"),
        ] = None,
    ) -> TemplatePageResource:
        """Each template with its listings: where it exists (a provider account, or the sandbox), under
        which id, its status there (`pending`, `approved`, `rejected` with the reason, `paused`,
        `disabled`) and its quality. Keyset pagination: pass `next_cursor` back as `cursor`."""
        page = await list_templates(
            TemplatesRequest(
                principal=principal,
                limit=limit,
                cursor=cursor,
                name=name,
                status=template_status,
            )
        )
        return TemplatePageResource.of(page)

    @get(
        "/export",
        operation_id="exportTemplates",
        summary="The tenant's templates as code: definitions only, sorted by name and language",
        responses=problem_responses(400, 401, 403, 503),
    )
    async def export(
        self, principal: NamedDependency[Principal], export_templates: NamedDependency[ExportTemplates]
    ) -> TemplatesDocument:
        """The document `plan` and `apply` take (and `wa-gateway templates export` writes): no ids, no
        statuses, so it diffs well in version control."""
        return TemplatesDocument.of(await export_templates(principal, principal.tenant_id))

    @post(
        "/plan",
        operation_id="planTemplates",
        summary="What applying a templates document would create, update and delete",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 413, 422, 503),
    )
    async def plan(
        self,
        data: JSONBody[TemplatesFile],
        principal: NamedDependency[Principal],
        plan_templates: NamedDependency[PlanTemplates],
    ) -> TemplatePlanResource:
        """Changes nothing. Templates are told apart by name and language; with `delete_missing` false, the
        tenant's templates the document leaves out stay. A template that breaks WhatsApp's rules is a 422
        `invalid-template` naming its place (`templates[3].body`)."""
        plan = await plan_templates(
            principal, principal.tenant_id, data.definitions(), delete_missing=data.delete_missing
        )
        return TemplatePlanResource.of(plan)

    @post(
        "/apply",
        operation_id="applyTemplates",
        summary="Make the catalogue what a templates document says",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 413, 422, 503),
        opt=TENANT_ADMINS,
    )
    async def apply(
        self,
        data: JSONBody[TemplatesFile],
        principal: NamedDependency[Principal],
        apply_templates: NamedDependency[ApplyTemplates],
    ) -> AppliedPlanResource:
        """Carries out the plan (see `planTemplates`): new templates are created on `accounts` (as
        `createTemplate` does), changed ones updated at each account they are listed on, missing ones
        deleted. Each template's outcome is in `outcomes`; one a provider refuses does not stop the others
        (`complete` is false then). Applying the same document again plans nothing."""
        applied = await apply_templates(
            principal,
            principal.tenant_id,
            data.definitions(),
            delete_missing=data.delete_missing,
            accounts=account_choices(data.accounts),
        )
        return AppliedPlanResource.of(applied)

    @post(
        "/sync",
        operation_id="syncTemplates",
        summary="Bring the catalogue in step with the providers' own catalogues now",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 503),
        opt=TENANT_ADMINS,
    )
    async def sync(
        self, principal: NamedDependency[Principal], sync_templates: NamedDependency[SyncTemplates]
    ) -> TemplateSyncResource:
        """For each provider account: statuses, reasons and quality as the provider has them now;
        templates made in the provider's console added, those deleted there removed. Each status change
        is a `template.status` event. An account whose provider cannot be reached is left as it was and
        reported with `reached: false`. The worker does this by itself every `TEMPLATE_SYNC_SECONDS`."""
        return TemplateSyncResource.of(await sync_templates(principal))

    @get(
        "/{template_id:uuid}",
        operation_id="getTemplate",
        summary="One template, with its listings",
        responses=problem_responses(400, 401, 403, 404, 503),
    )
    async def get_template(
        self,
        template_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_template: NamedDependency[GetTemplate],
    ) -> TemplateResource:
        return TemplateResource.of(await get_template(principal, template_id))

    @delete(
        "/{template_id:uuid}",
        operation_id="deleteTemplate",
        summary="Delete a template at every account it is listed on, then from the catalogue",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(400, 401, 403, 404, 422, 502, 503),
        opt=TENANT_ADMINS,
    )
    async def delete_template(
        self,
        template_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        delete_template: NamedDependency[DeleteTemplate],
    ) -> None:
        """When a provider refuses (422) or does not answer (502), the listings deleted so far are gone and
        the others stay: deleting again finishes it."""
        await delete_template(principal, template_id)

    @post(
        "/{template_id:uuid}/preview",
        operation_id="previewTemplate",
        summary="The template as the customer would see it with these values",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 404, 413, 422, 503),
    )
    async def preview(
        self,
        template_id: FromPath[UUID],
        data: JSONBody[TemplatePreviewRequest],
        principal: NamedDependency[Principal],
        preview_template: NamedDependency[PreviewTemplate],
    ) -> RenderedTemplateResource:
        """The values are checked as a send checks them: a variable without a value, a value for no
        variable, a media header without `header_media_url` are a 422 `invalid-template-values` naming
        each (`variables.first_name`)."""
        rendered = await preview_template(
            principal,
            template_id,
            data.variables,
            has_header_media=data.header_media_url is not None,
        )
        return RenderedTemplateResource.of(rendered)
