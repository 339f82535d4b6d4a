"""Retention and a person's data over HTTP (tenant admins): the tenant's retention policy, and a
person's access and erasure requests (``/api/contacts/{contact}/data``)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_200_OK

from application.principal import Principal
from application.privacy.contact_data import EraseContactData, ExportContactData
from application.privacy.retention import GetRetentionPolicy, SetRetention, SetRetentionPolicy
from entrypoints.http.access import BEARER, BEARER_ERRORS, TENANT_ADMINS
from entrypoints.http.dependencies import provide
from entrypoints.http.privacy.schemas import (
    ContactExportResource,
    ErasureResource,
    RetentionRequest,
    RetentionResource,
)
from entrypoints.http.problems import problem_responses

ContactNumber = Annotated[
    str, PathParameter(max_length=64, description="The person's number, +E.164 (any of its WhatsApp forms)")
]


class RetentionController(Controller):
    """Tenant admins set how long their tenant keeps what its messages said."""

    path = "/api/retention"
    tags = ["retention"]
    security = BEARER
    opt = TENANT_ADMINS
    dependencies = {
        "get_retention_policy": provide(lambda c: c.get_retention_policy),
        "set_retention_policy": provide(lambda c: c.set_retention_policy),
    }

    @get(
        "/",
        operation_id="getRetention",
        summary="The tenant's retention policy",
        responses=problem_responses(*BEARER_ERRORS),
    )
    async def get_policy(
        self, principal: NamedDependency[Principal], get_retention_policy: NamedDependency[GetRetentionPolicy]
    ) -> RetentionResource:
        """`days` null: the tenant keeps everything."""
        return RetentionResource.of(await get_retention_policy(principal))

    @put(
        "/",
        operation_id="setRetention",
        summary="Set, change or remove the tenant's retention policy",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 413, 422, *BEARER_ERRORS),
    )
    async def set_policy(
        self,
        data: JSONBody[RetentionRequest],
        principal: NamedDependency[Principal],
        set_retention_policy: NamedDependency[SetRetentionPolicy],
    ) -> RetentionResource:
        """The workers apply it in bounded batches from their next housekeeping round on: settled messages
        (never one still queued or sending) older than `days` lose their body and media (`redact`: the
        history shows them with `"body": ""` and `"redacted": true`) or are deleted (`delete`). See
        docs/retention.md."""
        policy = await set_retention_policy(SetRetention(principal=principal, days=data.days, mode=data.mode))
        return RetentionResource.of(policy)


class ContactDataController(Controller):
    """Tenant admins answer a person's requests over what the tenant holds about them."""

    path = "/api/contacts/{contact:str}/data"
    tags = ["contacts"]
    security = BEARER
    opt = TENANT_ADMINS
    dependencies = {
        "export_contact_data": provide(lambda c: c.export_contact_data),
        "erase_contact_data": provide(lambda c: c.erase_contact_data),
    }

    @get(
        "/",
        operation_id="exportContactData",
        summary="Everything the tenant holds about a person (an access request)",
        responses=problem_responses(400, 422, *BEARER_ERRORS),
    )
    async def export(
        self,
        contact: ContactNumber,
        principal: NamedDependency[Principal],
        export_contact_data: NamedDependency[ExportContactData],
    ) -> ContactExportResource:
        """Their contact, consent state and consent ledger, their conversation, their messages both ways
        in every WhatsApp form of the number (with bodies and status timelines) and the media kept of
        them. Audited as `contact.exported`."""
        return ContactExportResource.of(await export_contact_data(principal, contact))

    @delete(
        "/",
        operation_id="eraseContactData",
        summary="Erase everything the tenant holds about a person (an erasure request)",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 422, *BEARER_ERRORS),
    )
    async def erase(
        self,
        contact: ContactNumber,
        principal: NamedDependency[Principal],
        erase_contact_data: NamedDependency[EraseContactData],
    ) -> ErasureResource:
        """Deletes their messages both ways in every WhatsApp form of the number (rows, status events,
        dispatch jobs, media records and files), their conversation, their contact, their consent ledger
        and their consent state, and answers what was removed, per kind. An opt-out is kept (`kept`,
        `consent_opt_out`), so that they are not written to again. Audited as `contact.erased`, without
        the number or any content."""
        return ErasureResource.of(await erase_contact_data(principal, contact))
