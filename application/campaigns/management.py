"""Creating campaigns, reading them, and pausing, resuming and canceling them.

Every change is written over the version it was read at (``CampaignRepository.save``): a pause that
races the runner (or another pause) either wins whole or is tried again on the campaign as it now is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import BinaryIO
from uuid import UUID
from zoneinfo import ZoneInfo

from application.campaigns.access import require_campaign_admin, require_campaign_reader
from application.campaigns.audience import AudienceMaterialiser, AudienceRow
from application.campaigns.csv_audience import csv_rows
from application.campaigns.events import audit_campaign, record_campaign_event
from application.errors import (
    AccessDenied,
    AlreadyExists,
    IdempotencyKeyReused,
    InvalidInput,
    NoDefaultSender,
    NotFound,
    TransactionConflict,
    UnknownSender,
)
from application.messaging.template_sends import approved_listing
from application.pagination import MAX_PAGE_SIZE
from application.ports.campaigns import CampaignPosition, RecipientQuery
from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from domain.administration.audit import AuditAction
from domain.campaigns.model import (
    AudienceFilter,
    AudienceKind,
    Campaign,
    CampaignRecipient,
    CampaignStateConflict,
    CampaignStatus,
    RecipientState,
    VariableBinding,
)
from domain.campaigns.progress import CampaignProgress
from domain.campaigns.schedule import Pace, QuietHours, ScheduleState, plan_slots
from domain.messaging.failures import Failure, FailureCode
from domain.phone import PhoneNumber
from domain.tenant_webhooks.model import WebhookEventType

MAX_LISTED_RECIPIENTS = 10_000
MAX_START_AHEAD = timedelta(days=366)
# Jobs of a paused campaign wait here until it resumes (far beyond any real slot).
HELD_UNTIL = datetime(9000, 1, 1, tzinfo=UTC)
ANY_TIME = datetime(2000, 1, 1, tzinfo=UTC)  # before every job: "waiting at or after" it means waiting
_SAVE_TRIES = 3


@dataclass(frozen=True, slots=True)
class RecipientInput:
    number: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CreateCampaignCommand:
    name: str
    template_name: str
    template_language: str
    messages_per_second: float
    sender_number: str | None = None  # None: the tenant's default sender
    variables: tuple[VariableBinding, ...] = ()
    recipients: tuple[RecipientInput, ...] | None = None  # an explicit list …
    audience_filter: AudienceFilter | None = None  # … or the contacts matching this …
    csv_audience: bool = False  # … or a CSV uploaded afterwards (POST /api/campaigns/{id}/audience)
    daily_cap: int | None = None
    quiet_hours: tuple[str, str] | None = None  # ("21:00", "08:00"), in the tenant's time zone
    start_at: datetime | None = None  # None: now
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        fields = {
            "name": self.name,
            "template": [self.template_name, self.template_language],
            "rate": self.messages_per_second,
            "sender": self.sender_number,
            "variables": [[b.variable, b.attribute, b.constant] for b in self.variables],
            "recipients": [[r.number, dict(sorted(r.attributes.items()))] for r in self.recipients or ()],
            "filter": (
                [list(self.audience_filter.tags), list(self.audience_filter.attributes)]
                if self.audience_filter
                else None
            ),
            "csv": self.csv_audience,
            "cap": self.daily_cap,
            "quiet": list(self.quiet_hours) if self.quiet_hours else None,
            "start": self.start_at.isoformat() if self.start_at else None,
        }
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def audience(self) -> AudienceKind:
        given = [self.recipients is not None, self.audience_filter is not None, self.csv_audience]
        if sum(given) != 1:
            raise InvalidInput(
                "give the audience one way: recipients (a list), contacts (tags and attributes), "
                "or csv (then upload it to POST /api/campaigns/{id}/audience)"
            )
        if self.recipients is not None:
            if not 1 <= len(self.recipients) <= MAX_LISTED_RECIPIENTS:
                raise InvalidInput(f"recipients: 1 to {MAX_LISTED_RECIPIENTS} (upload a CSV for more)")
            return AudienceKind.LIST
        return AudienceKind.CONTACTS if self.audience_filter is not None else AudienceKind.CSV


@dataclass(frozen=True, slots=True)
class CreatedCampaign:
    campaign: Campaign
    replayed: bool = False


class CreateCampaign:
    """Store a campaign and, for a listed audience, its recipients, in one transaction: a retry with the
    same Idempotency-Key answers with the campaign the first request created."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: CreateCampaignCommand) -> CreatedCampaign:
        require_campaign_admin(principal)
        tenant_id = principal.tenant_id
        fingerprint = command.fingerprint()
        if command.idempotency_key is not None:
            replay = await self._replay(tenant_id, command.idempotency_key, fingerprint)
            if replay is not None:
                return replay
        audience = command.audience()
        pace = Pace(command.messages_per_second, command.daily_cap)
        quiet_hours = QuietHours.parse(*command.quiet_hours) if command.quiet_hours else None
        sender_number = PhoneNumber.parse(command.sender_number) if command.sender_number else None
        now = self._clock.now()
        start_at = command.start_at or now
        if start_at - now > MAX_START_AHEAD:
            raise InvalidInput("start_at: at most a year ahead")
        try:
            async with self._uow:
                profile = await self._uow.acceptance.sending_profile(tenant_id, sender_number)
                if profile is None:
                    raise NotFound("the tenant does not exist")
                if not profile.tenant.is_active:
                    raise AccessDenied("the tenant is suspended")
                if profile.sender is None:
                    if sender_number is not None:
                        raise UnknownSender(f"{sender_number} is not one of this tenant's WhatsApp senders")
                    raise NoDefaultSender("the tenant has no default sender: pass sender_number")
                template = await approved_listing(
                    self._uow,
                    profile.tenant,
                    profile.sender,
                    profile.provider,
                    command.template_name,
                    command.template_language,
                )
                campaign = Campaign(
                    tenant_id=tenant_id,
                    name=command.name.strip(),
                    sender=profile.sender.phone_number,
                    template_name=command.template_name,
                    template_language=command.template_language,
                    variables=command.variables,
                    audience=audience,
                    audience_filter=command.audience_filter,
                    audience_complete=audience is AudienceKind.LIST,
                    pace=pace,
                    quiet_hours=quiet_hours,
                    start_at=max(start_at, now),
                    created_at=now,
                    updated_at=now,
                )
                key = (command.idempotency_key, fingerprint) if command.idempotency_key else None
                await self._uow.campaigns.add(campaign, key)
                if command.recipients is not None:
                    materialiser = AudienceMaterialiser(self._uow, campaign, template, now)
                    await materialiser.add(
                        AudienceRow(index, recipient.number, recipient.attributes)
                        for index, recipient in enumerate(command.recipients, start=1)
                    )
                    if materialiser.totals.duplicates:
                        campaign = await _saved(
                            self._uow, campaign.with_duplicates(materialiser.totals.duplicates)
                        )
                await audit_campaign(self._uow, AuditAction.CAMPAIGN_CREATED, principal, campaign, now)
                await self._uow.commit()
        except AlreadyExists:
            if command.idempotency_key is None:
                raise
            replay = await self._replay(tenant_id, command.idempotency_key, fingerprint)
            if replay is None:
                raise
            return replay
        return CreatedCampaign(campaign)

    async def _replay(self, tenant_id: UUID, key: str, fingerprint: str) -> CreatedCampaign | None:
        async with self._uow:
            found = await self._uow.campaigns.by_idempotency_key(tenant_id, key)
        if found is None:
            return None
        campaign, first_fingerprint = found
        if first_fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different campaign; use a new key for a new campaign"
            )
        return CreatedCampaign(campaign, replayed=True)


async def _saved(uow: UnitOfWork, campaign: Campaign) -> Campaign:
    """``campaign`` written over its version, as it now reads; TransactionConflict if a concurrent change
    came first."""
    if not await uow.campaigns.save(campaign):
        raise TransactionConflict()
    return campaign.next_version()


@dataclass(frozen=True, slots=True)
class CampaignReport:
    campaign: Campaign
    progress: CampaignProgress


class GetCampaign:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, campaign_id: UUID) -> CampaignReport:
        require_campaign_reader(principal)
        async with self._uow:
            campaign = await _campaign(self._uow, principal.tenant_id, campaign_id)
            progress = await self._uow.campaigns.progress(principal.tenant_id, campaign_id)
        return CampaignReport(campaign, _with_duplicates(progress, campaign))


def _with_duplicates(progress: CampaignProgress, campaign: Campaign) -> CampaignProgress:
    return replace(progress, skipped_duplicate=progress.skipped_duplicate + campaign.duplicates)


class ListCampaigns:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(
        self, principal: Principal, *, limit: int, after: CampaignPosition | None
    ) -> list[Campaign]:
        require_campaign_reader(principal)
        async with self._uow:
            return await self._uow.campaigns.list_page(
                principal.tenant_id, limit=min(limit, MAX_PAGE_SIZE), after=after
            )


class ListCampaignRecipients:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(
        self,
        principal: Principal,
        campaign_id: UUID,
        *,
        limit: int,
        state: RecipientState | None = None,
        after_position: int | None = None,
    ) -> list[CampaignRecipient]:
        require_campaign_reader(principal)
        async with self._uow:
            await _campaign(self._uow, principal.tenant_id, campaign_id)
            return await self._uow.campaigns.recipients_page(
                RecipientQuery(principal.tenant_id, campaign_id, limit, state, after_position)
            )


async def _campaign(uow: UnitOfWork, tenant_id: UUID, campaign_id: UUID) -> Campaign:
    campaign = await uow.campaigns.get(tenant_id, campaign_id)
    if campaign is None:
        raise NotFound("this tenant has no such campaign")
    return campaign


class PauseCampaign:
    """Nothing more of the campaign leaves: pending recipients stay pending, and its messages already
    handed to the dispatch but not yet sent are held back until it resumes."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, campaign_id: UUID, reason: str | None = None) -> Campaign:
        require_campaign_admin(principal)
        for _ in range(_SAVE_TRIES):
            async with self._uow:
                now = self._clock.now()
                campaign = await _campaign(self._uow, principal.tenant_id, campaign_id)
                if campaign.status is CampaignStatus.PAUSED:
                    return campaign
                paused = campaign.paused(reason or "paused by a tenant admin", now)
                if not await self._uow.campaigns.save(paused):
                    continue
                await self._uow.campaigns.hold_unsent(campaign.tenant_id, campaign.id, HELD_UNTIL)
                paused = paused.next_version()
                await record_campaign_event(self._uow, WebhookEventType.CAMPAIGN_PAUSED, paused, now)
                await audit_campaign(self._uow, AuditAction.CAMPAIGN_PAUSED, principal, paused, now)
                await self._uow.commit()
                return paused
        raise TransactionConflict()


class ResumeCampaign:
    """The campaign goes on from now at its pace: its held messages first, then its pending recipients."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, campaign_id: UUID) -> Campaign:
        require_campaign_admin(principal)
        for _ in range(_SAVE_TRIES):
            async with self._uow:
                now = self._clock.now()
                campaign = await _campaign(self._uow, principal.tenant_id, campaign_id)
                if campaign.status in (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED):
                    return campaign
                zone = await _tenant_zone(self._uow, campaign)
                resumed = await reslot_held(self._uow, zone, campaign.resumed(now), now)
                if not await self._uow.campaigns.save(resumed):
                    continue
                resumed = resumed.next_version()
                await audit_campaign(self._uow, AuditAction.CAMPAIGN_RESUMED, principal, resumed, now)
                await self._uow.commit()
                return resumed
        raise TransactionConflict()


async def _tenant_zone(uow: UnitOfWork, campaign: Campaign) -> str:
    tenant = await uow.tenants.get(campaign.tenant_id)
    return tenant.time_zone if tenant is not None else "UTC"


async def reslot_held(uow: UnitOfWork, zone_name: str, campaign: Campaign, now: datetime) -> Campaign:
    """Give the campaign's held messages fresh slots from its schedule; the campaign with its schedule
    moved past them."""
    held = await uow.campaigns.held_messages(campaign.tenant_id, campaign.id, HELD_UNTIL)
    if not held:
        return campaign
    state = campaign.schedule or ScheduleState(next_slot=now)
    plan = plan_slots(
        state,
        now=now,
        count=len(held),
        pace=campaign.pace,
        zone=ZoneInfo(zone_name),
        quiet_hours=campaign.quiet_hours,
    )
    await uow.campaigns.reschedule_jobs(campaign.tenant_id, list(zip(held, plan.slots, strict=True)))
    return campaign.scheduled_on(plan.state, now)


@dataclass(frozen=True, slots=True)
class UploadedAudience:
    campaign: Campaign
    stored: int  # recipients stored (invalid and opted-out ones included, as skipped)
    duplicates: int


class UploadCampaignAudience:
    """Store a CSV audience's recipients (one upload per campaign, before it starts sending); the
    campaign sends from its start time once they are in."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self, principal: Principal, campaign_id: UUID, upload: BinaryIO, *, phone_column: str = "phone"
    ) -> UploadedAudience:
        require_campaign_admin(principal)
        async with self._uow:
            now = self._clock.now()
            campaign = await _campaign(self._uow, principal.tenant_id, campaign_id)
            if campaign.audience is not AudienceKind.CSV:
                raise CampaignStateConflict("this campaign's audience is not a CSV upload")
            if campaign.audience_complete or campaign.status.is_final:
                raise CampaignStateConflict("this campaign's audience was uploaded already")
            profile = await self._uow.acceptance.sending_profile(campaign.tenant_id, campaign.sender)
            if profile is None or profile.sender is None:
                raise UnknownSender(f"{campaign.sender} is no longer one of this tenant's WhatsApp senders")
            template = await approved_listing(
                self._uow,
                profile.tenant,
                profile.sender,
                profile.provider,
                campaign.template_name,
                campaign.template_language,
            )
            materialiser = AudienceMaterialiser(self._uow, campaign, template, now)
            await materialiser.add(csv_rows(upload, phone_column=phone_column))
            totals = materialiser.totals
            if totals.stored == 0:
                raise InvalidInput("the CSV file has no recipients")
            completed = replace(
                campaign.with_duplicates(totals.duplicates), audience_complete=True, updated_at=now
            )
            completed = await _saved(self._uow, completed)
            await self._uow.commit()
        return UploadedAudience(completed, totals.stored, totals.duplicates)


class CancelCampaign:
    """Stopped for good: pending recipients are never sent, and its messages not yet sent are failed."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, campaign_id: UUID) -> Campaign:
        require_campaign_admin(principal)
        for _ in range(_SAVE_TRIES):
            async with self._uow:
                now = self._clock.now()
                campaign = await _campaign(self._uow, principal.tenant_id, campaign_id)
                if campaign.status is CampaignStatus.CANCELED:
                    return campaign
                canceled = campaign.canceled(now)
                if not await self._uow.campaigns.save(canceled):
                    continue
                canceled = canceled.next_version()
                await drop_unsent(self._uow, canceled, now)
                await record_campaign_event(self._uow, WebhookEventType.CAMPAIGN_CANCELED, canceled, now)
                await audit_campaign(self._uow, AuditAction.CAMPAIGN_CANCELED, principal, canceled, now)
                await self._uow.commit()
                return canceled
        raise TransactionConflict()


async def drop_unsent(uow: UnitOfWork, campaign: Campaign, now: datetime) -> None:
    """Fail the campaign's messages that wait to be sent, and remove their jobs."""
    await uow.campaigns.hold_unsent(campaign.tenant_id, campaign.id, HELD_UNTIL)
    for message_id in await uow.campaigns.held_messages(campaign.tenant_id, campaign.id, HELD_UNTIL):
        message = await uow.messages.get(campaign.tenant_id, message_id)
        if message is None:
            continue
        failure = Failure(FailureCode.UNKNOWN, reason="its campaign was canceled before it was sent")
        await uow.messages.update(message.failed(failure, now))
        await uow.jobs.complete(message_id, owner=None)
