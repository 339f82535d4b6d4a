"""The contact book in the console: the tenant's contacts searched and filtered by tag, one contact with
its consent and the latest changes of it, its details changed, the person opted out or back in.

Agents and tenant admins read, edit and set consent, as on ``/api/contacts`` and ``/api/consent``;
tenant admins also delete a contact, import and export the book as CSV, and answer a person's requests
over their data: everything held downloaded, or erased (after a confirmation step).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Stream, Template
from litestar.types import ExceptionHandlersMap

from application.consent.management import ConsentView, GetConsent, SetConsent, SetConsentCommand
from application.contacts.book import (
    ContactChanges,
    ContactsRequest,
    DeleteContact,
    GetContact,
    ListContacts,
    UpdateContact,
)
from application.contacts.transfer import ExportContacts, ImportContacts
from application.errors import InvalidInput
from application.pagination import DEFAULT_PAGE_SIZE
from application.principal import Principal
from application.privacy.contact_data import EraseContactData, ExportContactData
from domain.administration.tenancy import Role
from domain.consent.model import ConsentSource, ConsentState
from domain.contacts.contact import Contact, InvalidContact
from domain.errors import DomainError
from entrypoints.console.errors import refusal_detail, refusal_status
from entrypoints.console.i18n import translatable
from entrypoints.console.pages.administration.common import done
from entrypoints.console.rendering import CONSOLE_PATH, render
from entrypoints.http.access import admitted_principal, in_console
from entrypoints.http.contacts.controller import CONTACT_IMPORT_MAX_BODY_BYTES
from entrypoints.http.dependencies import provide
from entrypoints.http.privacy.schemas import ContactExportResource

CONTACTS_PATH = f"{CONSOLE_PATH}/contacts"
MAX_SEARCH_LENGTH = 200
MAX_CURSOR_LENGTH = 512
UPLOAD_CHUNK_BYTES = 64 * 1024

READERS = in_console(Role.AGENT, Role.TENANT_ADMIN)
ADMINS = in_console(Role.TENANT_ADMIN)

NOTICES = {
    "saved": translatable("The contact was saved."),
    "opted-out": translatable(
        "The person is opted out: they get no messages but those the consent policy allows."
    ),
    "opted-in": translatable("The person is opted in again."),
    "deleted": translatable("The contact was deleted. Its messages, conversation and consent stay."),
}


def contact_path(contact_id: UUID) -> str:
    return f"{CONTACTS_PATH}/{contact_id}"


# --------------------------------------------------------------------------------------- the forms


@dataclass(frozen=True, slots=True)
class ContactForm:
    """The edit form as posted: every field text, so that what was typed can be shown again."""

    name: str = ""
    tags: str = ""  # comma-separated
    attributes: str = ""  # key=value lines
    notes: str = ""


@dataclass(frozen=True, slots=True)
class ConsentForm:
    state: str = ""


def tags_of(text: str) -> frozenset[str]:
    """Comma-separated tags (blank ones skipped); the contact's rules check each."""
    return frozenset(tag.strip() for tag in text.split(",") if tag.strip())


def attributes_of(text: str) -> dict[str, str]:
    """``key=value`` lines (blank lines skipped) as attributes; a line that is not one is refused."""
    attributes: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            raise InvalidInput(f"attributes: line {number} is not written key=value")
        if key.strip() in attributes:
            raise InvalidInput(f"attributes: the key {key.strip()[:80]!r} is given twice")
        attributes[key.strip()] = value.strip()
    return attributes


def changes_of(form: ContactForm) -> ContactChanges:
    """The form's fields replace the contact's: an empty name or notes clears it, the attributes are
    exactly the lines given."""
    name = form.name.strip()
    notes = form.notes.strip()
    return ContactChanges(
        name=name or None,
        clear_name=not name,
        tags=tags_of(form.tags),
        attributes=attributes_of(form.attributes),
        replace_attributes=True,
        notes=notes or None,
        clear_notes=not notes,
    )


def form_of(contact: Contact) -> ContactForm:
    return ContactForm(
        name=contact.name or "",
        tags=", ".join(sorted(contact.tags)),
        attributes="\n".join(f"{key}={value}" for key, value in sorted(contact.attributes.items())),
        notes=contact.notes or "",
    )


def consent_state_of(value: str) -> ConsentState:
    for state in ConsentState:
        if value == state.value:
            return state
    raise InvalidInput("the person is to be opted_out or opted_in")


def problems_of(error: Exception) -> list[str]:
    """What to show beside the form: each of a contact's problems with its field, or the refusal."""
    if isinstance(error, InvalidContact):
        return [f"{problem.field}: {problem.message}" for problem in error.problems]
    return [refusal_detail(error)]


# --------------------------------------------------------------------------------------- the pages


def _contact_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    contact: Contact,
    consent: ConsentView,
    *,
    form: ContactForm | None = None,
    problems: Sequence[str] = (),
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "contacts/contact.html",
        principal=principal,
        status_code=status_code,
        contact=contact,
        consent=consent,
        form=form or form_of(contact),
        problems=problems,
        can_administer=principal.role is Role.TENANT_ADMIN,
        notices=NOTICES,
    )


def _refused_edit(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """The contact's page again with the problems beside the form and what was typed kept."""
    state = request.state
    return _contact_page(
        request,
        admitted_principal(request),
        state.contact,
        state.consent,
        form=state.contact_form,
        problems=problems_of(error),
        status_code=refusal_status(error),
    )


_REFUSED_EDIT: ExceptionHandlersMap = {InvalidInput: _refused_edit, DomainError: _refused_edit}


def _refused_import(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """The import form again, with why the file was refused (a wrong header: nothing was imported)."""
    return render(
        request,
        "contacts/import.html",
        principal=admitted_principal(request),
        status_code=refusal_status(error),
        error=refusal_detail(error),
        report=None,
    )


async def _chunks_of(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(UPLOAD_CHUNK_BYTES):
        yield chunk


async def _encoded(chunks: AsyncIterator[str]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield chunk.encode()


def _bounded(value: str | None, length: int) -> str | None:
    stripped = (value or "").strip()
    return stripped[:length] if stripped else None


class ContactsController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "list_contacts": provide(lambda c: c.list_contacts),
        "get_contact": provide(lambda c: c.get_contact),
        "update_contact": provide(lambda c: c.update_contact),
        "delete_contact": provide(lambda c: c.delete_contact),
        "import_contacts": provide(lambda c: c.import_contacts),
        "export_contacts": provide(lambda c: c.export_contacts),
        "get_consent": provide(lambda c: c.get_consent),
        "set_consent": provide(lambda c: c.set_consent),
        "erase_contact_data": provide(lambda c: c.erase_contact_data),
        "export_contact_data": provide(lambda c: c.export_contact_data),
    }

    @get("/contacts", opt=READERS)
    async def contacts(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_contacts: NamedDependency[ListContacts],
        q: FromQuery[str | None] = None,
        tag: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        search = _bounded(q, MAX_SEARCH_LENGTH)
        wanted_tag = _bounded(tag, MAX_SEARCH_LENGTH)
        page = await list_contacts(
            ContactsRequest(
                principal=principal,
                limit=DEFAULT_PAGE_SIZE,
                cursor=_bounded(cursor, MAX_CURSOR_LENGTH),
                q=search,
                tags=(wanted_tag,) if wanted_tag else (),
            )
        )
        return render(
            request,
            "contacts/list.html",
            principal=principal,
            page=page,
            q=search or "",
            tag=wanted_tag or "",
            can_administer=principal.role is Role.TENANT_ADMIN,
            notices=NOTICES,
        )

    @get("/contacts/export.csv", opt=ADMINS)
    async def export(
        self, principal: NamedDependency[Principal], export_contacts: NamedDependency[ExportContacts]
    ) -> Stream:
        """The book as the API's export writes it (it imports as it is)."""
        export = await export_contacts(principal)
        return Stream(
            _encoded(export.chunks),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
        )

    @get("/contacts/import", opt=ADMINS)
    async def import_form(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]
    ) -> Template:
        return render(request, "contacts/import.html", principal=principal, error=None, report=None)

    @post(
        "/contacts/import",
        opt=ADMINS,
        request_max_body_size=CONTACT_IMPORT_MAX_BODY_BYTES,
        exception_handlers={InvalidInput: _refused_import, DomainError: _refused_import},
    )
    async def import_file(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        import_contacts: NamedDependency[ImportContacts],
    ) -> Template:
        """The report is the answer (shown once): what was created, updated, left, and each refused
        row with its line and reason."""
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("choose a CSV file to import")
        report = await import_contacts(principal, _chunks_of(upload))
        return render(request, "contacts/import.html", principal=principal, error=None, report=report)

    @get("/contacts/{contact_id:uuid}", opt=READERS)
    async def contact(
        self,
        request: Request[Any, Any, Any],
        contact_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_contact: NamedDependency[GetContact],
        get_consent: NamedDependency[GetConsent],
    ) -> Template:
        contact = await get_contact(principal, contact_id)
        consent = await get_consent(principal, contact.phone_number)
        return _contact_page(request, principal, contact, consent)

    @post("/contacts/{contact_id:uuid}", opt=READERS, exception_handlers=_REFUSED_EDIT)
    async def edit(
        self,
        request: Request[Any, Any, Any],
        contact_id: FromPath[UUID],
        data: Annotated[ContactForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        get_contact: NamedDependency[GetContact],
        get_consent: NamedDependency[GetConsent],
        update_contact: NamedDependency[UpdateContact],
    ) -> Response[Any]:
        # What the page is shown again with, should the change be refused.
        contact = await get_contact(principal, contact_id)
        request.state.contact = contact
        request.state.consent = await get_consent(principal, contact.phone_number)
        request.state.contact_form = data
        await update_contact(principal, contact_id, changes_of(data))
        return done(contact_path(contact_id), "saved")

    @post("/contacts/{contact_id:uuid}/consent", opt=READERS)
    async def set_consent_state(
        self,
        contact_id: FromPath[UUID],
        data: Annotated[ConsentForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        get_contact: NamedDependency[GetContact],
        set_consent: NamedDependency[SetConsent],
    ) -> Response[Any]:
        state = consent_state_of(data.state)
        contact = await get_contact(principal, contact_id)
        await set_consent(
            principal,
            SetConsentCommand(phone=contact.phone_number, state=state, source=ConsentSource.CONSOLE),
        )
        return done(contact_path(contact_id), "opted-out" if state is ConsentState.OPTED_OUT else "opted-in")

    @post("/contacts/{contact_id:uuid}/delete", opt=ADMINS)
    async def delete(
        self,
        contact_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        delete_contact: NamedDependency[DeleteContact],
    ) -> Response[Any]:
        await delete_contact(principal, contact_id)
        return done(CONTACTS_PATH, "deleted")

    @get("/contacts/{contact_id:uuid}/data.json", opt=ADMINS)
    async def data(
        self,
        contact_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_contact: NamedDependency[GetContact],
        export_contact_data: NamedDependency[ExportContactData],
    ) -> Response[bytes]:
        """Everything held about the person, as the API's access request answers it, to download."""
        contact = await get_contact(principal, contact_id)
        export = await export_contact_data(principal, contact.phone_number)
        return Response(
            msgspec.json.encode(ContactExportResource.of(export)),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="contact-{contact.id}.json"',
                "Cache-Control": "no-store",
            },
        )

    @get("/contacts/{contact_id:uuid}/erase", opt=ADMINS)
    async def erase_confirmation(
        self,
        request: Request[Any, Any, Any],
        contact_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_contact: NamedDependency[GetContact],
    ) -> Template:
        contact = await get_contact(principal, contact_id)
        return render(request, "contacts/erase.html", principal=principal, contact=contact, report=None)

    @post("/contacts/{contact_id:uuid}/erase", opt=ADMINS)
    async def erase(
        self,
        request: Request[Any, Any, Any],
        contact_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        get_contact: NamedDependency[GetContact],
        erase_contact_data: NamedDependency[EraseContactData],
    ) -> Template:
        """The report is the answer: what was removed, per kind (shown once; erasing again removes
        nothing more)."""
        contact = await get_contact(principal, contact_id)
        report = await erase_contact_data(principal, contact.phone_number)
        return render(
            request,
            "contacts/erase.html",
            principal=principal,
            contact=contact,
            report=report,
            removed=_removed_rows(report.removed),
        )


def _removed_rows(removed: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(removed.items())
