"""Campaigns on the wire: what POST /api/campaigns takes, and what the campaign and recipient resources
show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar.openapi.spec import Operation

from application.campaigns.management import (
    MAX_LISTED_RECIPIENTS,
    CampaignReport,
    CreateCampaignCommand,
    RecipientInput,
    UploadedAudience,
)
from application.errors import InvalidInput
from domain.campaigns.model import (
    MAX_ATTRIBUTE_NAME_LENGTH,
    MAX_ATTRIBUTE_VALUE_LENGTH,
    MAX_FILTER_TAGS,
    MAX_NAME_LENGTH,
    MAX_VARIABLES,
    AudienceFilter,
    AudienceKind,
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    RecipientState,
    SkipReason,
    VariableBinding,
)
from domain.campaigns.progress import CampaignProgress
from domain.campaigns.schedule import MAX_DAILY_CAP, MAX_MESSAGES_PER_SECOND, MIN_MESSAGES_PER_SECOND
from entrypoints.http.contract import csv_file_body
from entrypoints.http.wire_types import Text

AttributeName = Annotated[Text, msgspec.Meta(min_length=1, max_length=MAX_ATTRIBUTE_NAME_LENGTH)]
AttributeValue = Annotated[Text, msgspec.Meta(max_length=MAX_ATTRIBUTE_VALUE_LENGTH)]
Attributes = Annotated[dict[AttributeName, AttributeValue], msgspec.Meta(max_length=50)]
ClockTime = Annotated[
    str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["21:00"], description="HH:MM")
]


StartAt = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})$",
        examples=["2026-04-01T09:00:00Z"],
        description="RFC 3339 with its offset",
    ),
]


class TemplateRef(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[Text, msgspec.Meta(min_length=1, max_length=512, examples=["spring_sale"])]
    language: Annotated[Text, msgspec.Meta(min_length=1, max_length=16, examples=["en"])]


class VariableSource(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Where a template variable's value comes from: a recipient attribute (a CSV column) by name, or a
    constant for everyone (one of the two)."""

    attribute: AttributeName | None = None
    constant: AttributeValue | None = None


class RecipientRequest(msgspec.Struct, forbid_unknown_fields=True):
    number: Annotated[Text, msgspec.Meta(min_length=1, max_length=64, examples=["+447911123456"])]
    attributes: Attributes = msgspec.field(default_factory=dict)


class ContactsFilter(msgspec.Struct, forbid_unknown_fields=True):
    """The tenant's contacts with every one of these tags and attribute values."""

    tags: Annotated[list[AttributeName], msgspec.Meta(max_length=MAX_FILTER_TAGS)] = msgspec.field(
        default_factory=list
    )
    attributes: Annotated[dict[AttributeName, AttributeValue], msgspec.Meta(max_length=MAX_FILTER_TAGS)] = (
        msgspec.field(default_factory=dict)
    )


class AudienceRequest(msgspec.Struct, forbid_unknown_fields=True):
    """One of: ``recipients`` (a list), ``contacts`` (a filter), or ``csv: true`` (uploaded afterwards to
    POST /api/campaigns/{id}/audience)."""

    recipients: Annotated[list[RecipientRequest], msgspec.Meta(max_length=MAX_LISTED_RECIPIENTS)] | None = (
        None
    )
    contacts: ContactsFilter | None = None
    csv: bool = False


class QuietHoursRequest(msgspec.Struct, forbid_unknown_fields=True):
    """No message leaves between ``start`` and ``end`` (across midnight when ``end`` is earlier), in the
    tenant's time zone."""

    start: ClockTime
    end: ClockTime


class PaceRequest(msgspec.Struct, forbid_unknown_fields=True):
    messages_per_second: Annotated[
        float, msgspec.Meta(ge=MIN_MESSAGES_PER_SECOND, le=MAX_MESSAGES_PER_SECOND, examples=[10.0])
    ]
    daily_cap: Annotated[int, msgspec.Meta(ge=1, le=MAX_DAILY_CAP)] | None = None


class CampaignCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[Text, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH, examples=["Spring sale"])]
    template: TemplateRef
    audience: AudienceRequest
    pace: PaceRequest
    sender_number: Annotated[Text, msgspec.Meta(min_length=1, max_length=64)] | None = None
    variables: Annotated[dict[AttributeName, VariableSource], msgspec.Meta(max_length=MAX_VARIABLES)] = (
        msgspec.field(default_factory=dict)
    )
    start_at: StartAt | None = None
    quiet_hours: QuietHoursRequest | None = None

    def command(self, idempotency_key: str | None) -> CreateCampaignCommand:
        audience = self.audience
        contacts = audience.contacts
        return CreateCampaignCommand(
            name=self.name,
            template_name=self.template.name,
            template_language=self.template.language,
            messages_per_second=self.pace.messages_per_second,
            daily_cap=self.pace.daily_cap,
            sender_number=self.sender_number,
            variables=tuple(
                VariableBinding(name, source.attribute, source.constant)
                for name, source in sorted(self.variables.items())
            ),
            recipients=(
                tuple(RecipientInput(r.number, r.attributes) for r in audience.recipients)
                if audience.recipients is not None
                else None
            ),
            audience_filter=(
                AudienceFilter(tuple(contacts.tags), tuple(sorted(contacts.attributes.items())))
                if contacts is not None
                else None
            ),
            csv_audience=audience.csv,
            quiet_hours=(self.quiet_hours.start, self.quiet_hours.end) if self.quiet_hours else None,
            start_at=_moment(self.start_at) if self.start_at else None,
            idempotency_key=idempotency_key,
        )


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        raise InvalidInput(f"start_at: {text!r} is not a moment of the calendar") from None
    except OverflowError:
        raise InvalidInput("start_at: a moment within the years 1 to 9999 in UTC") from None


class ProgressResource(msgspec.Struct):
    targeted: int
    pending: int
    skipped: dict[str, int]  # by reason: opted_out, duplicate, invalid
    accepted: int
    sent: int
    delivered: int
    read: int
    failed: int
    replied: int

    @classmethod
    def of(cls, progress: CampaignProgress) -> ProgressResource:
        return cls(
            targeted=progress.targeted + progress.skipped_duplicate,
            pending=progress.pending,
            skipped={
                SkipReason.OPTED_OUT.value: progress.skipped_opted_out,
                SkipReason.DUPLICATE.value: progress.skipped_duplicate,
                SkipReason.INVALID.value: progress.skipped_invalid,
            },
            accepted=progress.accepted,
            sent=progress.sent,
            delivered=progress.delivered,
            read=progress.read,
            failed=progress.failed,
            replied=progress.replied,
        )


class PaceResource(msgspec.Struct):
    messages_per_second: float
    daily_cap: int | None


class CampaignResource(msgspec.Struct):
    id: UUID
    name: str
    status: CampaignStatus
    pause_reason: str | None
    sender_number: str
    template: TemplateRef
    variables: dict[str, VariableSource]
    audience: AudienceKind
    audience_complete: bool
    pace: PaceResource
    quiet_hours: QuietHoursRequest | None
    start_at: datetime
    next_send_at: datetime | None
    created_at: datetime
    updated_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    progress: ProgressResource | None = None

    @classmethod
    def of(cls, campaign: Campaign, progress: CampaignProgress | None = None) -> CampaignResource:
        quiet = campaign.quiet_hours
        return cls(
            id=campaign.id,
            name=campaign.name,
            status=campaign.status,
            pause_reason=campaign.pause_reason,
            sender_number=campaign.sender.e164,
            template=TemplateRef(campaign.template_name, campaign.template_language),
            variables={b.variable: VariableSource(b.attribute, b.constant) for b in campaign.variables},
            audience=campaign.audience,
            audience_complete=campaign.audience_complete,
            pace=PaceResource(campaign.pace.messages_per_second, campaign.pace.daily_cap),
            quiet_hours=QuietHoursRequest(f"{quiet.start:%H:%M}", f"{quiet.end:%H:%M}") if quiet else None,
            start_at=campaign.start_at,
            next_send_at=campaign.schedule.next_slot if campaign.schedule else None,
            created_at=campaign.created_at,
            updated_at=campaign.updated_at,
            started_at=campaign.started_at,
            finished_at=campaign.finished_at,
            progress=ProgressResource.of(progress) if progress is not None else None,
        )

    @classmethod
    def of_report(cls, report: CampaignReport) -> CampaignResource:
        return cls.of(report.campaign, report.progress)


class CampaignPageResource(msgspec.Struct):
    items: list[CampaignResource]
    next_cursor: str | None


class RecipientResource(msgspec.Struct):
    line: int  # its place in the audience: a CSV line number, or a list index counted from 1
    number: str
    state: RecipientState
    skip_reason: SkipReason | None
    detail: str | None
    variables: dict[str, str]
    message_id: UUID | None
    accepted_at: datetime | None
    replied: bool

    @classmethod
    def of(cls, recipient: CampaignRecipient) -> RecipientResource:
        return cls(
            line=recipient.position,
            number=recipient.number,
            state=recipient.state,
            skip_reason=recipient.skip_reason,
            detail=recipient.detail,
            variables=dict(recipient.variables),
            message_id=recipient.message_id,
            accepted_at=recipient.accepted_at,
            replied=recipient.replied,
        )


class RecipientPageResource(msgspec.Struct):
    items: list[RecipientResource]
    next_cursor: str | None


class AudienceUploadResource(msgspec.Struct):
    campaign: CampaignResource
    stored: int  # rows stored as recipients (invalid and opted-out ones as skipped)
    duplicates: int  # rows naming a person already in the audience

    @classmethod
    def of(cls, uploaded: UploadedAudience) -> AudienceUploadResource:
        return cls(CampaignResource.of(uploaded.campaign), uploaded.stored, uploaded.duplicates)


_AUDIENCE_CSV_EXAMPLE = "phone,first_name\r\n+5215512345678,Ana\r\n+447911123456,Bruno\r\n"


@dataclass
class CampaignAudienceOperation(Operation):
    """The audience upload's operation: its body is a CSV file, read as it arrives."""

    def __post_init__(self) -> None:
        self.request_body = csv_file_body(
            _AUDIENCE_CSV_EXAMPLE, "A header row, a phone column and the attribute columns the variables name"
        )
