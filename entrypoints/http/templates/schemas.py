"""Templates on the wire, and the one JSON form of a template's definition: what ``POST /api/templates``
takes, what the catalogue shows, what ``GET /api/templates/export`` writes and what ``plan``, ``apply``
and the command line read back (``TemplatesDocument``), so a file moves between them unchanged.

A definition leaves out what it does not use (no ``header``, no ``footer``, no ``buttons``): an export
holds only what a person wrote, in a fixed order of fields, sorted by name and language.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from application.templates.as_code import AppliedPlan, TemplateAction, TemplateOutcome
from application.templates.catalogue import AccountChoice, TemplatePage
from application.templates.sync import AccountSync, SyncReport
from domain.administration.tenancy import ProviderName
from domain.templates.catalogue import CatalogueTemplate, TemplateListing, TemplateQuality, TemplateStatus
from domain.templates.definition import (
    ButtonKind,
    HeaderFormat,
    RenderedTemplate,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
)
from domain.templates.plan import TemplateChange, TemplatePlan
from entrypoints.http.wire_types import Text

# Bounds that keep a request small; WhatsApp's own (tighter) rules are checked by the catalogue, which
# names each field that breaks one.
TemplateName = Annotated[
    Text,
    msgspec.Meta(
        min_length=1,
        max_length=512,
        examples=["order_shipped"],
        description="Lower-case letters, digits and underscores; unique per language",
    ),
]
Language = Annotated[
    Text,
    msgspec.Meta(min_length=1, max_length=16, examples=["en_US"], description="WhatsApp's language code"),
]
ShortText = Annotated[Text, msgspec.Meta(max_length=2000)]
BodyText = Annotated[
    Text,
    msgspec.Meta(
        max_length=4096,
        examples=["Hi {{1}}, your order {{2}} has shipped."],
        description="Variables are all positional ({{1}}, {{2}} …) or all named ({{first_name}}), one set "
        "for the whole template (header, body, URL buttons)",
    ),
]
Examples = Annotated[
    dict[Annotated[Text, msgspec.Meta(max_length=64)], ShortText],
    msgspec.Meta(
        max_length=100,
        examples=[{"1": "Ana", "2": "A-1001"}],
        description="A sample value for each variable (providers review templates with them)",
    ),
]
AccountRef = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(sandbox|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$",
        examples=["sandbox"],
        description="A provider account's id, or `sandbox`",
    ),
]
Accounts = Annotated[
    list[AccountRef],
    msgspec.Meta(
        min_length=1,
        max_length=50,
        description="Where to create templates: provider account ids, or `sandbox`. Left out: every "
        "provider account of the tenant (the sandbox when it has none)",
    ),
]


Category = Literal["marketing", "utility", "authentication"]
HeaderFormatName = Literal["text", "image", "video", "document"]
ButtonType = Literal["quick_reply", "url", "phone_number", "copy_code"]


def account_choices(accounts: list[str] | None) -> tuple[AccountChoice, ...] | None:
    if accounts is None:
        return None
    return tuple(None if account == "sandbox" else UUID(account) for account in accounts)


class TemplateHeaderBody(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Text (which may hold one variable) or a media item (whose file each send gives)."""

    format: HeaderFormatName
    text: ShortText | None = None
    example_url: ShortText | None = None


class TemplateButtonBody(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A quick reply (``text``), a link (``text`` and ``url``, whose end may be a variable), a phone call
    (``text`` and ``phone_number``), or a copy-code button (``example``: a sample code)."""

    type: ButtonType
    text: ShortText = ""
    url: ShortText | None = None
    phone_number: ShortText | None = None
    example: ShortText | None = None


class TemplateDefinitionBody(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A template as a business writes it."""

    name: TemplateName
    language: Language
    category: Category
    body: BodyText
    header: TemplateHeaderBody | None = None
    footer: ShortText | None = None
    buttons: Annotated[list[TemplateButtonBody], msgspec.Meta(max_length=20)] = []
    examples: Examples = {}

    def to_domain(self) -> TemplateDefinition:
        header = self.header
        return TemplateDefinition(
            name=self.name,
            language=self.language,
            category=TemplateCategory(self.category),
            body=self.body,
            header=TemplateHeader(HeaderFormat(header.format), header.text, header.example_url)
            if header is not None
            else None,
            footer=self.footer,
            buttons=tuple(
                TemplateButton(
                    kind=ButtonKind(button.type),
                    text=button.text,
                    url=button.url,
                    phone_number=button.phone_number,
                    example=button.example,
                )
                for button in self.buttons
            ),
            examples=tuple(self.examples.items()),
        )

    @classmethod
    def of(cls, definition: TemplateDefinition) -> TemplateDefinitionBody:
        header = definition.header
        return cls(
            name=definition.name,
            language=definition.language,
            category=definition.category.value,
            body=definition.body,
            header=TemplateHeaderBody(
                format=header.format.value,
                text=header.text,
                example_url=header.example_url,
            )
            if header is not None
            else None,
            footer=definition.footer,
            buttons=[
                TemplateButtonBody(
                    type=button.kind.value,
                    text=button.text,
                    url=button.url,
                    phone_number=button.phone_number,
                    example=button.example,
                )
                for button in definition.buttons
            ],
            examples=dict(definition.examples),
        )


class TemplateCreate(TemplateDefinitionBody, forbid_unknown_fields=True, omit_defaults=True):
    accounts: Accounts | None = None


class TemplatesDocument(msgspec.Struct, forbid_unknown_fields=True):
    """A tenant's templates as code: what an export writes and plan, apply and the command line read."""

    templates: Annotated[list[TemplateDefinitionBody], msgspec.Meta(max_length=1000)]

    def definitions(self) -> list[TemplateDefinition]:
        return [template.to_domain() for template in self.templates]

    @classmethod
    def of(cls, definitions: list[TemplateDefinition]) -> TemplatesDocument:
        return cls(templates=[TemplateDefinitionBody.of(definition) for definition in definitions])


class TemplatesFile(TemplatesDocument, forbid_unknown_fields=True, kw_only=True):
    """A templates document (as an export writes it), and how to apply it."""

    delete_missing: bool = True
    accounts: Accounts | None = None


def encode_document(definitions: list[TemplateDefinition]) -> bytes:
    """The document a file holds: indented, one field a line, a newline at the end (diffs well)."""
    return msgspec.json.format(msgspec.json.encode(TemplatesDocument.of(definitions)), indent=2) + b"\n"


def decode_file(content: bytes) -> TemplatesFile:
    """A file's templates; msgspec.ValidationError (naming the field: ``$.templates[3].body``) or
    msgspec.DecodeError when it is not one."""
    return msgspec.json.decode(content, type=TemplatesFile)


# ------------------------------------------------------------------------------------------- answers


class TemplateListingResource(msgspec.Struct):
    """The template at one provider account (``account_id`` null: the sandbox)."""

    provider: ProviderName
    account_id: UUID | None
    provider_template_id: str
    status: TemplateStatus
    status_changed_at: datetime
    rejection_reason: str | None
    quality: TemplateQuality | None

    @classmethod
    def of(cls, listing: TemplateListing) -> TemplateListingResource:
        return cls(
            provider=listing.provider,
            account_id=listing.account_id,
            provider_template_id=listing.provider_template_id,
            status=listing.status,
            status_changed_at=listing.status_changed_at,
            rejection_reason=listing.rejection_reason,
            quality=listing.quality,
        )


class TemplateResource(msgspec.Struct):
    id: UUID
    template: TemplateDefinitionBody
    listings: list[TemplateListingResource]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, template: CatalogueTemplate) -> TemplateResource:
        return cls(
            id=template.id,
            template=TemplateDefinitionBody.of(template.definition),
            listings=[TemplateListingResource.of(listing) for listing in template.listings],
            created_at=template.created_at,
            updated_at=template.updated_at,
        )


class TemplatePageResource(msgspec.Struct):
    items: list[TemplateResource]
    next_cursor: str | None

    @classmethod
    def of(cls, page: TemplatePage) -> TemplatePageResource:
        return cls(items=[TemplateResource.of(item) for item in page.items], next_cursor=page.next_cursor)


class TemplatePreviewRequest(msgspec.Struct, forbid_unknown_fields=True):
    variables: Annotated[
        dict[Annotated[Text, msgspec.Meta(max_length=64)], ShortText],
        msgspec.Meta(max_length=100, examples=[{"1": "Ana", "2": "A-1001"}]),
    ] = {}
    header_media_url: ShortText | None = None


class RenderedTemplateResource(msgspec.Struct):
    """Each component as the customer sees it, and all of it as one text (as history shows it)."""

    header: str | None
    body: str
    footer: str | None
    buttons: list[str]
    text: str

    @classmethod
    def of(cls, rendered: RenderedTemplate) -> RenderedTemplateResource:
        return cls(
            header=rendered.header,
            body=rendered.body,
            footer=rendered.footer,
            buttons=list(rendered.buttons),
            text=rendered.text,
        )


class AccountSyncResource(msgspec.Struct):
    provider: ProviderName
    account_id: UUID
    reached: bool
    changed: int
    added: int
    removed: int
    error: str | None

    @classmethod
    def of(cls, account: AccountSync) -> AccountSyncResource:
        return cls(
            provider=account.provider,
            account_id=account.account_id,
            reached=account.reached,
            changed=account.changed,
            added=account.added,
            removed=account.removed,
            error=account.error,
        )


class TemplateSyncResource(msgspec.Struct):
    accounts: list[AccountSyncResource]

    @classmethod
    def of(cls, report: SyncReport) -> TemplateSyncResource:
        return cls(accounts=[AccountSyncResource.of(account) for account in report.accounts])


class TemplateChangeResource(msgspec.Struct):
    current: TemplateDefinitionBody
    wanted: TemplateDefinitionBody

    @classmethod
    def of(cls, change: TemplateChange) -> TemplateChangeResource:
        return cls(
            current=TemplateDefinitionBody.of(change.current), wanted=TemplateDefinitionBody.of(change.wanted)
        )


class TemplatePlanResource(msgspec.Struct):
    create: list[TemplateDefinitionBody]
    update: list[TemplateChangeResource]
    delete: list[TemplateDefinitionBody]
    unchanged: int
    empty: bool

    @classmethod
    def of(cls, plan: TemplatePlan) -> TemplatePlanResource:
        return cls(
            create=[TemplateDefinitionBody.of(definition) for definition in plan.create],
            update=[TemplateChangeResource.of(change) for change in plan.update],
            delete=[TemplateDefinitionBody.of(definition) for definition in plan.delete],
            unchanged=plan.unchanged,
            empty=plan.is_empty,
        )


class TemplateOutcomeResource(msgspec.Struct):
    action: TemplateAction
    name: str
    language: str
    done: bool
    error: str | None

    @classmethod
    def of(cls, outcome: TemplateOutcome) -> TemplateOutcomeResource:
        return cls(
            action=outcome.action,
            name=outcome.name,
            language=outcome.language,
            done=outcome.done,
            error=outcome.error,
        )


class AppliedPlanResource(msgspec.Struct):
    plan: TemplatePlanResource
    outcomes: list[TemplateOutcomeResource]
    complete: bool

    @classmethod
    def of(cls, applied: AppliedPlan) -> AppliedPlanResource:
        return cls(
            plan=TemplatePlanResource.of(applied.plan),
            outcomes=[TemplateOutcomeResource.of(outcome) for outcome in applied.outcomes],
            complete=applied.complete,
        )
