"""A contact: one person a tenant writes to or hears from, whichever WhatsApp form of their number is used.

A contact is keyed by the person's ``identity`` (domain/phone.py), as conversations are: ``+52 1 55 …``
and ``+52 55 …`` are one contact. ``phone_number`` is the form last written from (or, until the person
writes, the form the contact was created with). ``profile_name`` is the person's own WhatsApp profile
name, from their messages; ``name``, ``attributes``, ``tags`` and ``notes`` are the tenant's, set over
the API or by an import.

The rules (``details_problems`` gives every one broken at once, each named by its field):

- ``name``: at most 200 characters, not blank when given;
- ``attributes``: at most 50, a flat map of text to text; each key a lower-case letter, then up to 63
  lower-case letters, digits or underscores; each value at most 1,024 characters;
- ``tags``: at most 50, each a short slug: a lower-case letter or digit, then up to 31 lower-case letters,
  digits, hyphens or underscores;
- ``notes``: at most 10,000 characters;
- no text holds a NUL character (which PostgreSQL cannot store).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from uuid import UUID, uuid4

from domain.errors import DomainError
from domain.phone import PhoneNumber
from domain.templates.errors import FieldProblem

MAX_NAME_LENGTH = 200
MAX_ATTRIBUTES = 50
ATTRIBUTE_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_ATTRIBUTE_VALUE_LENGTH = 1024
MAX_TAGS = 50
TAG = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MAX_NOTES_LENGTH = 10_000
# The most a profile name is kept to (WhatsApp's are short; a provider's callback is not trusted to be).
MAX_PROFILE_NAME_LENGTH = 256


class InvalidContact(DomainError):
    """A contact's details break the rules; ``problems`` name each field and what is wrong with it."""

    def __init__(self, problems: Iterable[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{problem.field}: {problem.message}" for problem in self.problems))


@dataclass(frozen=True, slots=True)
class ContactDetails:
    """What the tenant says about a contact; checked by ``check_details``."""

    name: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    notes: str | None = None


def details_problems(details: ContactDetails, *, prefix: str = "") -> list[FieldProblem]:
    """Every rule ``details`` break, each with its field (after ``prefix``); empty when they keep them."""
    problems: list[FieldProblem] = []
    if details.name is not None:
        if not details.name.strip():
            problems.append(FieldProblem(prefix + "name", "is not blank (leave it out for no name)"))
        if len(details.name) > MAX_NAME_LENGTH:
            problems.append(FieldProblem(prefix + "name", f"is at most {MAX_NAME_LENGTH} characters"))
    if len(details.attributes) > MAX_ATTRIBUTES:
        problems.append(FieldProblem(prefix + "attributes", f"are at most {MAX_ATTRIBUTES}"))
    for key, value in details.attributes.items():
        where = f"{prefix}attributes.{key}"
        if not ATTRIBUTE_KEY.fullmatch(key):
            problems.append(
                FieldProblem(
                    where,
                    "a key is a lower-case letter, then up to 63 lower-case letters, digits or underscores",
                )
            )
        if len(value) > MAX_ATTRIBUTE_VALUE_LENGTH:
            problems.append(FieldProblem(where, f"is at most {MAX_ATTRIBUTE_VALUE_LENGTH} characters"))
    if len(details.tags) > MAX_TAGS:
        problems.append(FieldProblem(prefix + "tags", f"are at most {MAX_TAGS}"))
    for tag in sorted(details.tags):
        if not TAG.fullmatch(tag):
            problems.append(
                FieldProblem(
                    f"{prefix}tags",
                    f"{tag[:40]!r} is not a tag: a lower-case letter or digit, then up to 31 lower-case "
                    "letters, digits, hyphens or underscores",
                )
            )
    if details.notes is not None and len(details.notes) > MAX_NOTES_LENGTH:
        problems.append(FieldProblem(prefix + "notes", f"are at most {MAX_NOTES_LENGTH} characters"))
    texts = [details.name or "", details.notes or "", *details.attributes, *details.attributes.values()]
    if any("\x00" in text for text in texts):
        problems.append(FieldProblem(prefix.rstrip(".") or "contact", "no text holds the character U+0000"))
    return problems


def check_details(details: ContactDetails) -> None:
    problems = details_problems(details)
    if problems:
        raise InvalidContact(problems)


def profile_name_kept(profile_name: str | None) -> str | None:
    """A profile name as a contact keeps it: without NUL characters, bounded, None when blank."""
    if profile_name is None:
        return None
    kept = profile_name.replace("\x00", "\ufffd").strip()[:MAX_PROFILE_NAME_LENGTH]
    return kept or None


@dataclass(frozen=True, slots=True)
class Contact:
    tenant_id: UUID
    identity: str  # the person's number in the national plan's E.164 form (``PhoneNumber.identity``)
    phone_number: str  # the E.164 form last used
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    profile_name: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    notes: str | None = None
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        # Read-only, so that a contact handed out cannot be changed behind its repository's back.
        object.__setattr__(self, "attributes", MappingProxyType(dict(sorted(self.attributes.items()))))

    @classmethod
    def new(cls, tenant_id: UUID, number: PhoneNumber, details: ContactDetails, now: datetime) -> Contact:
        check_details(details)
        return cls(
            tenant_id=tenant_id,
            identity=number.identity,
            phone_number=number.e164,
            created_at=now,
            updated_at=now,
            name=details.name,
            attributes=details.attributes,
            tags=details.tags,
            notes=details.notes,
        )

    @property
    def details(self) -> ContactDetails:
        return ContactDetails(name=self.name, attributes=self.attributes, tags=self.tags, notes=self.notes)

    def with_details(self, details: ContactDetails, now: datetime) -> Contact:
        """The contact with ``details`` checked and set; itself, unchanged, when they are its own."""
        check_details(details)
        if details == self.details:
            return self
        return replace(
            self,
            name=details.name,
            attributes=details.attributes,
            tags=details.tags,
            notes=details.notes,
            updated_at=now,
        )
