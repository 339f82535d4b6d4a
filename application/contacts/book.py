"""The contact book: a tenant's contacts created, read, changed and deleted by its people and servers.

Messages keep it too: each inbound message creates its contact or gives it the number written from and
the profile name (application/inbound/receive_message.py), and a send to a new number creates one
(the accept's ``MessageAcceptance.add``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from application.audit_entries import audit_entry
from application.contacts.access import require_contact_admin, require_contact_editor
from application.errors import AlreadyExists, NotFound
from application.pagination import MAX_PAGE_SIZE, decode_contact_cursor, encode_contact_cursor
from application.ports.clock import Clock
from application.ports.contacts import ContactPosition, ContactQuery
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from domain.administration.audit import AuditAction, TargetKind
from domain.contacts.contact import Contact, ContactDetails, InvalidContact, details_problems
from domain.errors import InvalidPhoneNumber
from domain.phone import PhoneNumber
from domain.templates.errors import FieldProblem

_NO_SUCH_CONTACT = "the tenant has no such contact"


@dataclass(frozen=True, slots=True)
class ContactsRequest:
    principal: Principal
    limit: int
    cursor: str | None = None
    q: str | None = None
    tags: Sequence[str] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContactPage:
    items: list[Contact]
    next_cursor: str | None


class ListContacts:
    """A tenant's contacts, newest first, a keyset page at a time; ``q`` searches names and numbers,
    ``tags`` keeps the contacts with all of them, ``attributes`` those with each attribute equal."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, request: ContactsRequest) -> ContactPage:
        require_contact_editor(request.principal)
        _check_filters(request.tags, request.attributes)
        limit = max(1, min(request.limit, MAX_PAGE_SIZE))
        after = decode_contact_cursor(request.cursor) if request.cursor else None
        query = ContactQuery(
            tenant_id=request.principal.tenant_id,
            limit=limit + 1,
            after=after,
            q=request.q or None,
            tags=tuple(request.tags),
            attributes=dict(request.attributes),
        )
        async with self._uow:
            found = await self._uow.contacts.list_page(query)
        items = found[:limit]
        last = items[-1] if len(found) > limit else None
        return ContactPage(
            items=items,
            next_cursor=encode_contact_cursor(ContactPosition(last.created_at, last.id)) if last else None,
        )


def _check_filters(tags: Sequence[str], attributes: Mapping[str, str]) -> None:
    """The filters follow the contacts' own rules (a tag or key no contact can have is a mistake)."""
    problems = details_problems(ContactDetails(attributes=attributes, tags=frozenset(tags)))
    if problems:
        raise InvalidContact(problems)


@dataclass(frozen=True, slots=True)
class CreateContactCommand:
    phone_number: str
    details: ContactDetails


class CreateContact:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: CreateContactCommand) -> Contact:
        """The new contact; 409 (AlreadyExists) when the tenant has one of that person's number (in
        whichever form)."""
        require_contact_editor(principal)
        number = checked_number(command.phone_number, command.details)
        contact = Contact.new(principal.tenant_id, number, command.details, self._clock.now())
        async with self._uow:
            existing = await self._uow.contacts.get_many(principal.tenant_id, [contact.identity])
            if existing:
                raise AlreadyExists(
                    f"the tenant has a contact of that number already: {existing[contact.identity].id}"
                )
            await self._uow.contacts.add(contact)
            await self._uow.commit()
        return contact


def checked_number(raw: str, details: ContactDetails) -> PhoneNumber:
    """The number of a new contact; InvalidContact naming every problem of the number and details."""
    problems = details_problems(details)
    try:
        number = PhoneNumber.parse(raw)
    except InvalidPhoneNumber as error:
        problems.insert(0, FieldProblem("phone_number", str(error)))
    if problems:
        raise InvalidContact(problems)
    return number


class GetContact:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, contact_id: UUID) -> Contact:
        require_contact_editor(principal)
        async with self._uow:
            contact = await self._uow.contacts.get(principal.tenant_id, contact_id)
        if contact is None:
            raise NotFound(_NO_SUCH_CONTACT)
        return contact


@dataclass(frozen=True, slots=True)
class ContactChanges:
    """What a change sets; None leaves a field as it is. ``clear_name``/``clear_notes`` remove them.
    ``attributes`` are merged: each key given set to its value, or removed when its value is None
    (JSON Merge Patch, RFC 7396); ``replace_attributes`` makes them exactly the ones given instead.
    ``tags`` replace the contact's."""

    name: str | None = None
    clear_name: bool = False
    attributes: Mapping[str, str | None] | None = None
    replace_attributes: bool = False
    tags: frozenset[str] | None = None
    notes: str | None = None
    clear_notes: bool = False

    def applied_to(self, details: ContactDetails) -> ContactDetails:
        attributes = dict(details.attributes)
        if self.attributes is not None:
            if self.replace_attributes:
                attributes = {}
            for key, value in self.attributes.items():
                if value is None:
                    attributes.pop(key, None)
                else:
                    attributes[key] = value
        return ContactDetails(
            name=None if self.clear_name else (self.name if self.name is not None else details.name),
            attributes=attributes,
            tags=self.tags if self.tags is not None else details.tags,
            notes=None if self.clear_notes else (self.notes if self.notes is not None else details.notes),
        )


class UpdateContact:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, contact_id: UUID, changes: ContactChanges) -> Contact:
        require_contact_editor(principal)
        async with self._uow:
            contact = await self._uow.contacts.get(principal.tenant_id, contact_id)
            if contact is None:
                raise NotFound(_NO_SUCH_CONTACT)
            changed = contact.with_details(changes.applied_to(contact.details), self._clock.now())
            if changed is not contact:
                await self._uow.contacts.update(changed)
                await self._uow.commit()
        return changed


class DeleteContact:
    """Delete a contact (its messages and conversation stay); recorded in the audit trail."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, contact_id: UUID) -> None:
        require_contact_editor(principal)
        require_contact_admin(principal, "delete their tenant's contacts")
        async with self._uow:
            removed = await self._uow.contacts.remove(principal.tenant_id, contact_id)
            if removed is None:
                raise NotFound(_NO_SUCH_CONTACT)
            await self._uow.audit.record(
                audit_entry(
                    AuditAction.CONTACT_DELETED,
                    principal,
                    now=self._clock.now(),
                    tenant_id=principal.tenant_id,
                    target=(TargetKind.CONTACT, removed.id),
                )
            )
            await self._uow.commit()
