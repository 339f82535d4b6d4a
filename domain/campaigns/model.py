"""Campaigns: one approved template sent to many recipients by one sender, at a pace.

A campaign's status moves scheduled → running → completed, and may be paused (by its tenant, or by
itself when the provider signals trouble) and resumed, or canceled, as the methods below allow; every
change is one conditional update on its row, so two concurrent changes cannot both win.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID, uuid4

from domain.campaigns.schedule import InvalidSchedule, Pace, QuietHours, ScheduleState
from domain.phone import PhoneNumber

MAX_NAME_LENGTH = 200
MAX_REASON_LENGTH = 500
MAX_VARIABLES = 20
MAX_ATTRIBUTE_NAME_LENGTH = 64
MAX_ATTRIBUTE_VALUE_LENGTH = 1024
MAX_FILTER_TAGS = 20


class CampaignStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # waits for its start_at
    RUNNING = "running"  # its messages leave at its pace
    PAUSED = "paused"  # nothing more leaves until resumed; pause_reason says why
    COMPLETED = "completed"  # every recipient was handed to the dispatch, or skipped
    CANCELED = "canceled"  # stopped for good; recipients not yet handed over are never sent

    @property
    def is_final(self) -> bool:
        return self in (CampaignStatus.COMPLETED, CampaignStatus.CANCELED)


class RecipientState(enum.StrEnum):
    PENDING = "pending"
    SKIPPED = "skipped"
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class SkipReason(enum.StrEnum):
    OPTED_OUT = "opted_out"
    DUPLICATE = "duplicate"
    INVALID = "invalid"


class AudienceKind(enum.StrEnum):
    LIST = "list"  # the recipients came with the create request
    CSV = "csv"  # uploaded as CSV after creation
    CONTACTS = "contacts"  # the tenant's contacts matching tags and attributes


class CampaignStateConflict(InvalidSchedule):
    """A change the campaign's status does not allow (resuming a running one, pausing a completed one)."""


@dataclass(frozen=True, slots=True)
class VariableBinding:
    """Where one template variable's value comes from: a recipient attribute (a CSV column) by name, or
    a ``constant`` for everyone."""

    variable: str
    attribute: str | None = None
    constant: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.variable) <= 64:
            raise InvalidSchedule("a template variable's name is 1 to 64 characters")
        if (self.attribute is None) == (self.constant is None):
            raise InvalidSchedule(
                f"variable {self.variable!r}: take it from an attribute or give a constant, one of the two"
            )
        if self.attribute is not None and not 1 <= len(self.attribute) <= MAX_ATTRIBUTE_NAME_LENGTH:
            raise InvalidSchedule(f"variable {self.variable!r}: an attribute name is 1 to 64 characters")
        if self.constant is not None and len(self.constant) > MAX_ATTRIBUTE_VALUE_LENGTH:
            raise InvalidSchedule(f"variable {self.variable!r}: a constant is at most 1024 characters")

    def value_for(self, attributes: Mapping[str, str]) -> str | None:
        if self.constant is not None:
            return self.constant
        assert self.attribute is not None
        value = attributes.get(self.attribute)
        return value if value else None


def variables_for(bindings: tuple[VariableBinding, ...], attributes: Mapping[str, str]) -> dict[str, str]:
    """The template's values for a recipient with ``attributes``; a variable with no value is left out
    (the template's check then names it)."""
    values = {binding.variable: binding.value_for(attributes) for binding in bindings}
    return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True)
class AudienceFilter:
    """The tenant's contacts a campaign goes to: those with every tag and every attribute value."""

    tags: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if len(self.tags) > MAX_FILTER_TAGS or len(self.attributes) > MAX_FILTER_TAGS:
            raise InvalidSchedule(f"an audience filter has at most {MAX_FILTER_TAGS} tags and attributes")


@dataclass(frozen=True, slots=True)
class Campaign:
    tenant_id: UUID
    name: str
    sender: PhoneNumber
    template_name: str
    template_language: str
    variables: tuple[VariableBinding, ...]
    audience: AudienceKind
    pace: Pace
    start_at: datetime
    created_at: datetime
    quiet_hours: QuietHours | None = None
    audience_filter: AudienceFilter | None = None
    status: CampaignStatus = CampaignStatus.SCHEDULED
    pause_reason: str | None = None
    # The schedule's state (see schedule.py): where the next slot is and the day's count.
    schedule: ScheduleState | None = None
    # Whether every recipient is stored (a contacts audience is walked batch by batch, a CSV uploaded).
    audience_complete: bool = True
    audience_cursor: str | None = None  # the last contact identity walked
    duplicates: int = 0  # recipients given twice (by any form of their number): stored once
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # Moved on by every stored change: a change is written only over the version it was made from.
    version: int = 0
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        if not 1 <= len(self.name.strip()) <= MAX_NAME_LENGTH:
            raise InvalidSchedule(f"a campaign's name is 1 to {MAX_NAME_LENGTH} characters")
        if len(self.variables) > MAX_VARIABLES:
            raise InvalidSchedule(f"a campaign binds at most {MAX_VARIABLES} template variables")
        names = [binding.variable for binding in self.variables]
        if len(set(names)) != len(names):
            raise InvalidSchedule("each template variable is bound once")

    def started(self, now: datetime) -> Campaign:
        """Running from now: its schedule starts at its start time."""
        return replace(
            self,
            status=CampaignStatus.RUNNING,
            schedule=self.schedule or ScheduleState(next_slot=max(self.start_at, now)),
            started_at=self.started_at or now,
            updated_at=now,
        )

    def paused(self, reason: str, now: datetime) -> Campaign:
        if self.status not in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING):
            raise CampaignStateConflict(
                f"only a scheduled or running campaign can be paused; this one is {self.status}"
            )
        return replace(
            self, status=CampaignStatus.PAUSED, pause_reason=reason[:MAX_REASON_LENGTH], updated_at=now
        )

    def resumed(self, now: datetime) -> Campaign:
        if self.status is not CampaignStatus.PAUSED:
            raise CampaignStateConflict(f"only a paused campaign can be resumed; this one is {self.status}")
        schedule = self.schedule
        if schedule is not None:
            # The time paused is not made up for in a burst: the schedule goes on from now.
            schedule = replace(schedule, next_slot=max(schedule.next_slot, now))
        return replace(
            self,
            status=CampaignStatus.RUNNING if self.started_at is not None else CampaignStatus.SCHEDULED,
            pause_reason=None,
            schedule=schedule,
            updated_at=now,
        )

    def canceled(self, now: datetime) -> Campaign:
        if self.status.is_final:
            raise CampaignStateConflict(f"a {self.status} campaign cannot be canceled")
        return replace(self, status=CampaignStatus.CANCELED, updated_at=now, finished_at=now)

    def completed(self, now: datetime) -> Campaign:
        return replace(self, status=CampaignStatus.COMPLETED, updated_at=now, finished_at=now)

    def scheduled_on(self, state: ScheduleState, now: datetime) -> Campaign:
        return replace(self, schedule=state, updated_at=now)

    def with_duplicates(self, more: int) -> Campaign:
        return replace(self, duplicates=self.duplicates + more)

    def next_version(self) -> Campaign:
        """As it reads once stored (each stored change moves the version on)."""
        return replace(self, version=self.version + 1)


@dataclass(frozen=True, slots=True)
class NewRecipient:
    """A recipient as materialised: valid ones with their identity, number and template values; invalid
    ones (a bad number, a missing value) with the line they came from and why."""

    position: int  # the recipient's place in its audience (a CSV line number, a list index + 1)
    number: str  # E.164 when valid; the text as given (cut to 32 characters) when not
    identity: str | None
    variables: Mapping[str, str]
    skip_reason: SkipReason | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class CampaignRecipient:
    id: UUID
    campaign_id: UUID
    tenant_id: UUID
    position: int
    number: str
    identity: str | None
    variables: Mapping[str, str]
    state: RecipientState
    skip_reason: SkipReason | None = None
    detail: str | None = None
    message_id: UUID | None = None
    accepted_at: datetime | None = None
    replied: bool = False
