"""The contact book over HTTP: a tenant's contacts listed, searched, created, changed and deleted, and
the whole book exported and imported as CSV.

Agents and tenant admins read and edit (list, get, create, change, export); tenant admins also import
and delete. Another tenant's contact is a 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from application.contacts.book import (
    ContactsRequest,
    CreateContact,
    CreateContactCommand,
    DeleteContact,
    GetContact,
    ListContacts,
    UpdateContact,
)
from application.contacts.transfer import ExportContacts, ImportContacts
from application.errors import InvalidInput
from application.pagination import DEFAULT_PAGE_SIZE
from application.principal import Principal
from entrypoints.http.access import BEARER, SEND_AND_READ, TENANT_ADMINS
from entrypoints.http.contacts.schemas import (
    ContactCreate,
    ContactImportOperation,
    ContactPageResource,
    ContactResource,
    ContactUpdate,
    ImportReportResource,
)
from entrypoints.http.dependencies import provide
from entrypoints.http.problems import problem_responses
from entrypoints.http.wire_types import STORABLE_TEXT_PATTERN, PageCursor, PageLimit

# An import of 100,000 rows with a few attributes each is some 10 MB; room for notes besides.
CONTACT_IMPORT_MAX_BODY_BYTES = 64 * 1024 * 1024


def _attribute_filters(pairs: list[str]) -> dict[str, str]:
    """``key=value`` pairs by key; the keys and values are checked by the use case, as a contact's."""
    filters: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            raise InvalidInput(f"an attribute filter is key=value, not {pair[:80]!r}")
        if key in filters and filters[key] != value:
            raise InvalidInput(f"the attribute {key!r} is filtered on twice, with different values")
        filters[key] = value
    return filters


class ContactsController(Controller):
    path = "/api/contacts"
    tags = ["contacts"]
    security = BEARER
    opt = SEND_AND_READ
    dependencies = {
        "list_contacts": provide(lambda c: c.list_contacts),
        "get_contact": provide(lambda c: c.get_contact),
        "create_contact": provide(lambda c: c.create_contact),
        "update_contact": provide(lambda c: c.update_contact),
        "delete_contact": provide(lambda c: c.delete_contact),
        "import_contacts": provide(lambda c: c.import_contacts),
        "export_contacts": provide(lambda c: c.export_contacts),
    }

    @get(
        "/",
        operation_id="listContacts",
        summary="The tenant's contacts, newest first; searched and filtered",
        responses=problem_responses(400, 401, 403, 422, 503),
    )
    async def list_contacts(
        self,
        principal: NamedDependency[Principal],
        list_contacts: NamedDependency[ListContacts],
        limit: PageLimit = DEFAULT_PAGE_SIZE,
        cursor: PageCursor = None,
        q: Annotated[
            str | None,
            QueryParameter(
                max_length=200,
                pattern=STORABLE_TEXT_PATTERN,
                description="Contacts whose name or profile name holds this (any case), or whose number "
                "holds these digits",
            ),
        ] = None,
        tag: Annotated[
            list[str] | None,
            QueryParameter(max_items=50, description="Contacts with every tag given (repeat the parameter)"),
        ] = None,
        attribute: Annotated[
            list[str] | None,
            QueryParameter(
                max_items=50,
                description="`key=value`: contacts whose attribute `key` is `value` (repeat for several)",
            ),
        ] = None,
    ) -> ContactPageResource:
        """Keyset pagination: pass `next_cursor` back as `cursor`. A tag or attribute key that breaks a
        contact's rules is a 422 `invalid-contact`."""
        page = await list_contacts(
            ContactsRequest(
                principal=principal,
                limit=limit,
                cursor=cursor,
                q=q,
                tags=tag or (),
                attributes=_attribute_filters(attribute or []),
            )
        )
        return ContactPageResource.of(page)

    @post(
        "/",
        operation_id="createContact",
        summary="Add a contact",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 409, 413, 422, 503),
    )
    async def create(
        self,
        data: JSONBody[ContactCreate],
        principal: NamedDependency[Principal],
        create_contact: NamedDependency[CreateContact],
    ) -> Response[ContactResource]:
        """A 422 `invalid-contact` names every field that breaks a rule (`phone_number`,
        `attributes.city`, `tags` …); 409 when the tenant has a contact of that person's number, in
        whichever WhatsApp form (`+52 1 55 …` is `+52 55 …`)."""
        created = await create_contact(
            principal, CreateContactCommand(phone_number=data.phone_number, details=data.details())
        )
        return Response(
            ContactResource.of(created),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/contacts/{created.id}"},
        )

    @get(
        "/export",
        operation_id="exportContacts",
        summary="Every contact of the tenant as CSV, by number",
        media_type="text/csv; charset=utf-8",
        responses=problem_responses(401, 403, 503),
    )
    async def export(
        self, principal: NamedDependency[Principal], export_contacts: NamedDependency[ExportContacts]
    ) -> Stream:
        """Columns `id, phone, identity, name, profile_name, tags, notes, created_at, updated_at`, then
        `attr.<key>` for each attribute key any contact has. Written while it is read. Cells a
        spreadsheet would read as formulas start with an apostrophe. The file imports as it is."""
        export = await export_contacts(principal)
        return Stream(
            _encoded(export.chunks),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
        )

    @post(
        "/import",
        operation_id="importContacts",
        summary="Create and update contacts from a CSV file",
        status_code=HTTP_200_OK,
        operation_class=ContactImportOperation,
        request_max_body_size=CONTACT_IMPORT_MAX_BODY_BYTES,
        responses=problem_responses(400, 401, 403, 413, 422, 503),
        opt=TENANT_ADMINS,
    )
    async def import_contacts(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        import_contacts: NamedDependency[ImportContacts],
    ) -> ImportReportResource:
        """Up to 100,000 rows, read as they arrive and written in batches. Columns: `phone` (required),
        `name`, `tags` (semicolon-separated), `notes`, `attr.<key>`; the export's other columns are
        ignored. Each row is matched by its number's person: a new one is created, an existing one gets
        the file's values for the file's columns (an empty cell clears). A bad row is reported in
        `rejections` (the first 1,000, with its line) and the others go on; a bad header is a 422
        `invalid-contact-file` and changes nothing. Importing the same file again changes nothing."""
        report = await import_contacts(principal, request.stream())
        return ImportReportResource.of(report)

    @get(
        "/{contact_id:uuid}",
        operation_id="getContact",
        summary="One contact",
        responses=problem_responses(400, 401, 403, 404, 503),
    )
    async def get_contact(
        self,
        contact_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_contact: NamedDependency[GetContact],
    ) -> ContactResource:
        return ContactResource.of(await get_contact(principal, contact_id))

    @patch(
        "/{contact_id:uuid}",
        operation_id="updateContact",
        summary="Change a contact's name, attributes, tags or notes",
        responses=problem_responses(400, 401, 403, 404, 413, 422, 503),
    )
    async def update(
        self,
        contact_id: FromPath[UUID],
        data: JSONBody[ContactUpdate],
        principal: NamedDependency[Principal],
        update_contact: NamedDependency[UpdateContact],
    ) -> ContactResource:
        """Only the fields given change. `attributes` are merged (a key set to `null` is removed), or
        replaced with `attributes_mode: replace`; `tags` replace the contact's."""
        return ContactResource.of(await update_contact(principal, contact_id, data.changes()))

    @delete(
        "/{contact_id:uuid}",
        operation_id="deleteContact",
        summary="Delete a contact",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(400, 401, 403, 404, 503),
        opt=TENANT_ADMINS,
    )
    async def delete_contact(
        self,
        contact_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        delete_contact: NamedDependency[DeleteContact],
    ) -> None:
        """Its messages and conversation stay; a later message from or to the number creates the
        contact again."""
        await delete_contact(principal, contact_id)


async def _encoded(chunks: AsyncIterator[str]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield chunk.encode()
