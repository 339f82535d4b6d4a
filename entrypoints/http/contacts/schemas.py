"""Contacts on the wire. The bounds here keep a request small; a contact's own rules (50 attributes,
the key and tag syntax …) are checked by the domain, which names each field that breaks one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar.openapi.spec import Operation

from application.contacts.book import ContactChanges, ContactPage
from application.contacts.transfer import ImportReport
from domain.contacts.contact import Contact, ContactDetails
from entrypoints.http.contract import csv_file_body
from entrypoints.http.wire_types import Text

Name = Annotated[Text, msgspec.Meta(max_length=400, examples=["Ana García"])]
Notes = Annotated[Text, msgspec.Meta(max_length=20_000)]
AttributeKey = Annotated[
    Text,
    msgspec.Meta(
        max_length=128, description="A lower-case letter, then up to 63 lower-case letters, digits or _"
    ),
]
AttributeValue = Annotated[Text, msgspec.Meta(max_length=2048, description="At most 1,024 characters")]
Attributes = Annotated[
    dict[AttributeKey, AttributeValue],
    msgspec.Meta(max_length=100, examples=[{"city": "Monterrey", "plan": "gold"}], description="At most 50"),
]
Tag = Annotated[Text, msgspec.Meta(max_length=64, description="A slug: [a-z0-9][a-z0-9_-]{0,31}")]
Tags = Annotated[
    list[Tag], msgspec.Meta(max_length=100, examples=[["vip", "newsletter"]], description="At most 50")
]
PhoneNumberText = Annotated[
    Text, msgspec.Meta(min_length=1, max_length=64, examples=["+5215512345678"], description="E.164")
]


class ContactCreate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    phone_number: PhoneNumberText
    name: Name | None = None
    attributes: Attributes = msgspec.field(default_factory=dict)
    tags: Tags = msgspec.field(default_factory=list)
    notes: Notes | None = None

    def details(self) -> ContactDetails:
        return ContactDetails(
            name=self.name, attributes=dict(self.attributes), tags=frozenset(self.tags), notes=self.notes
        )


class ContactUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields given change; `null` clears `name` or `notes`."""

    name: Name | msgspec.UnsetType | None = msgspec.UNSET
    attributes: (
        Annotated[
            dict[AttributeKey, AttributeValue | None],
            msgspec.Meta(
                max_length=100,
                description="Merged into the contact's (JSON Merge Patch): each key given is set, or removed "
                "when `null`; with `attributes_mode: replace` they become exactly these",
            ),
        ]
        | msgspec.UnsetType
    ) = msgspec.UNSET
    attributes_mode: Literal["merge", "replace"] = "merge"
    tags: Tags | msgspec.UnsetType = msgspec.UNSET
    notes: Notes | msgspec.UnsetType | None = msgspec.UNSET

    def changes(self) -> ContactChanges:
        name, notes, tags = self.name, self.notes, self.tags
        return ContactChanges(
            name=name if isinstance(name, str) else None,
            clear_name=name is None,
            attributes=None if isinstance(self.attributes, msgspec.UnsetType) else dict(self.attributes),
            replace_attributes=self.attributes_mode == "replace",
            tags=None if isinstance(tags, msgspec.UnsetType) else frozenset(tags),
            notes=notes if isinstance(notes, str) else None,
            clear_notes=notes is None,
        )


class ContactResource(msgspec.Struct):
    id: UUID
    phone_number: str
    identity: str
    name: str | None
    profile_name: str | None
    attributes: dict[str, str]
    tags: list[str]
    notes: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, contact: Contact) -> ContactResource:
        return cls(
            id=contact.id,
            phone_number=contact.phone_number,
            identity=contact.identity,
            name=contact.name,
            profile_name=contact.profile_name,
            attributes=dict(contact.attributes),
            tags=sorted(contact.tags),
            notes=contact.notes,
            created_at=contact.created_at,
            updated_at=contact.updated_at,
        )


class ContactPageResource(msgspec.Struct):
    items: list[ContactResource]
    next_cursor: str | None

    @classmethod
    def of(cls, page: ContactPage) -> ContactPageResource:
        return cls(items=[ContactResource.of(item) for item in page.items], next_cursor=page.next_cursor)


class ImportRejectionResource(msgspec.Struct):
    line: int
    reason: str


class ImportReportResource(msgspec.Struct):
    rows: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    rejections: list[ImportRejectionResource]

    @classmethod
    def of(cls, report: ImportReport) -> ImportReportResource:
        return cls(
            rows=report.rows,
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            rejected=report.rejected,
            rejections=[ImportRejectionResource(r.line, r.reason) for r in report.rejections],
        )


_CSV_EXAMPLE = "phone,name,tags,attr.city\r\n+5215512345678,Ana García,vip;newsletter,Monterrey\r\n"


@dataclass
class ContactImportOperation(Operation):
    """The import's operation: its body is a CSV file, read as it arrives."""

    def __post_init__(self) -> None:
        self.request_body = csv_file_body(
            _CSV_EXAMPLE, "Columns: phone (required), name, tags (semicolon-separated), notes, attr.<key>"
        )
