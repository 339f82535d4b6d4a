"""The campaign runner: each tick, for each due campaign, hands the next stretch of its recipients to
the dispatch, one message per slot of its schedule.

One campaign per transaction: the campaign row is locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
another worker takes another campaign), its pending recipients claimed, a message and its dispatch job
accepted for each (the job due at the recipient's slot), the recipients marked accepted with their
message, and the schedule moved on over the version read: a crash leaves all of it or none, and the
dispatch then sends each message exactly once. Only a short stretch ahead is planned (``horizon``), so a
pause has little to hold back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from application.campaigns.audience import AudienceMaterialiser, AudienceRow
from application.campaigns.events import audit_campaign, record_campaign_event
from application.campaigns.management import ANY_TIME, HELD_UNTIL
from application.errors import ApplicationError, StorageUnavailable, TransactionConflict
from application.messaging.template_sends import approved_listing, resolved_template
from application.ports.clock import Clock
from application.ports.dispatch_queue import DispatchJob
from application.ports.unit_of_work import UnitOfWork
from domain.administration.audit import SYSTEM_ACTOR, AuditAction
from domain.campaigns.model import AudienceKind, Campaign, CampaignStatus, SkipReason
from domain.campaigns.schedule import ScheduleState, plan_slots
from domain.errors import DomainError
from domain.messaging.messages import Message, MessageContent, Template
from domain.phone import PhoneNumber
from domain.templates.catalogue import CatalogueTemplate, TemplateListing
from domain.tenant_webhooks.model import WebhookEventType

logger = logging.getLogger(__name__)

CONTACTS_BATCH = 500
_JUST_AFTER = timedelta(microseconds=1)
_PAUSE_TRIES = 5


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    tick_seconds: float = 0.5
    # How far ahead slots are planned (and jobs created): what a pause holds back, and what a dispatcher
    # that fell behind may send at once when it catches up.
    horizon_seconds: float = 1.0
    # A schedule that starts (or starts again) puts its first slot this far after the runner read the
    # clock: the hand-over's transaction commits before that slot comes, so no slot is already past when
    # the dispatch first sees it (past slots would all leave at once, faster than the pace).
    handover_lead_seconds: float = 0.5
    max_batch: int = 200  # recipients handed over per campaign per tick
    campaigns_per_tick: int = 20


class CampaignRunner:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        settings: RunnerSettings,
        notify_dispatch: Callable[[], None] = lambda: None,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._settings = settings
        self._notify = notify_dispatch

    async def run(self, stop: asyncio.Event) -> None:
        logger.info("campaign runner started")
        while not stop.is_set():
            try:
                await self.run_due()
            except StorageUnavailable:
                logger.warning("campaign runner: database unavailable, trying again")
            except TransactionConflict:
                logger.info("campaign runner conflicted with a concurrent transaction")
            except Exception:
                logger.exception("campaign runner tick failed; it will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._settings.tick_seconds)
        logger.info("campaign runner stopped")

    async def run_due(self) -> int:
        """Advance each due campaign once (one transaction each); how many recipients were handed over."""
        handed = 0
        for _ in range(self._settings.campaigns_per_tick):
            advanced = await self._advance_one()
            if advanced is None:
                break
            handed += advanced
        if handed:
            self._notify()
        return handed

    async def _advance_one(self) -> int | None:
        """None when no campaign was due."""
        uow = self._uow_factory()
        async with uow:
            now = self._clock.now()
            until = now + timedelta(seconds=self._settings.horizon_seconds)
            due = await uow.campaigns.due(until, 1)
            if not due:
                return None
            handed = await self._advance(uow, due[0], now, until)
            await uow.commit()
            return handed

    async def _advance(self, uow: UnitOfWork, campaign: Campaign, now: datetime, until: datetime) -> int:
        tenant = await uow.tenants.get(campaign.tenant_id)
        zone = ZoneInfo(tenant.time_zone if tenant is not None else "UTC")
        profile = await uow.acceptance.sending_profile(campaign.tenant_id, campaign.sender)
        if profile is None or profile.sender is None or not profile.tenant.is_active:
            await self._pause(
                uow, campaign, "its sender is no longer one of the tenant's, or the tenant is suspended", now
            )
            return 0
        try:
            template = await approved_listing(
                uow,
                profile.tenant,
                profile.sender,
                profile.provider,
                campaign.template_name,
                campaign.template_language,
            )
        except ApplicationError as error:
            await self._pause(uow, campaign, error.detail, now)
            return 0
        if campaign.status is CampaignStatus.SCHEDULED:
            campaign = campaign.started(now)
            await record_campaign_event(uow, WebhookEventType.CAMPAIGN_STARTED, campaign, now)
        if not campaign.audience_complete and campaign.audience is AudienceKind.CONTACTS:
            campaign = await self._walk_contacts(uow, campaign, template, now)
        schedule = campaign.schedule or ScheduleState(next_slot=now)
        handed = 0
        if schedule.next_slot <= until:
            handed, state = await self._hand_over(
                uow, campaign, schedule, profile.sender.phone_number, template, zone, now, until
            )
            if handed == 0:
                # Nothing left to hand over this time (it waits for its last messages to go, or skipped
                # the ones it claimed): not due again before the next tick.
                state = replace(state, next_slot=max(state.next_slot, until + _JUST_AFTER))
            campaign = campaign.scheduled_on(state, now)
            if campaign.audience_complete and await _all_sent(uow, campaign):
                campaign = campaign.completed(now)
                await record_campaign_event(uow, WebhookEventType.CAMPAIGN_COMPLETED, campaign, now)
        if not await uow.campaigns.save(campaign):
            raise TransactionConflict("the campaign changed meanwhile")
        return handed

    async def _hand_over(
        self,
        uow: UnitOfWork,
        campaign: Campaign,
        schedule: ScheduleState,
        sender: PhoneNumber,
        template: tuple[CatalogueTemplate, TemplateListing],
        zone: ZoneInfo,
        now: datetime,
        until: datetime,
    ) -> tuple[int, ScheduleState]:
        """Accept a message for each of the next pending recipients, one per slot up to ``until``: how
        many, and where the schedule stands after them."""
        wanted = min(
            self._settings.max_batch,
            math.ceil(campaign.pace.messages_per_second * self._settings.horizon_seconds) + 1,
        )
        pace, quiet_hours = campaign.pace, campaign.quiet_hours
        # No slot before the hand-over is visible to the dispatch (see ``handover_lead_seconds``).
        earliest = min(now + timedelta(seconds=self._settings.handover_lead_seconds), until)
        open_slots = plan_slots(
            schedule, now=earliest, count=wanted, pace=pace, zone=zone, quiet_hours=quiet_hours, until=until
        )
        if not open_slots.slots:
            return 0, open_slots.state  # quiet hours, or the day's cap: it waits for the next open slot
        recipients = await uow.campaigns.claim_pending(campaign.tenant_id, campaign.id, len(open_slots.slots))
        identities = [r.identity for r in recipients if r.identity]
        opted_out = (
            await uow.consent.opted_out_among(campaign.tenant_id, identities) if identities else frozenset()
        )
        entry, listing = template
        skipped: list[UUID] = []
        sending: list[tuple[UUID, Template, PhoneNumber]] = []
        for recipient in recipients:
            if recipient.identity in opted_out:
                skipped.append(recipient.id)
                continue
            try:
                named = Template.named(
                    campaign.template_name, campaign.template_language, recipient.variables
                )
                resolved = resolved_template(entry, named, None, listing, "variables")
                contact = PhoneNumber(recipient.number)
            except DomainError as error:
                await uow.campaigns.mark_skipped(
                    campaign.tenant_id, [recipient.id], SkipReason.INVALID.value, str(error)[:500]
                )
                continue
            sending.append((recipient.id, resolved, contact))
        await uow.campaigns.mark_skipped(
            campaign.tenant_id, skipped, SkipReason.OPTED_OUT.value, "the recipient opted out"
        )
        # The slots go to the recipients sent, in order; the schedule moves past the last one.
        plan = plan_slots(
            schedule,
            now=earliest,
            count=len(sending),
            pace=pace,
            zone=zone,
            quiet_hours=quiet_hours,
            until=until,
        )
        accepted: list[tuple[UUID, UUID]] = []
        for (recipient_id, resolved, contact), slot in zip(sending, plan.slots, strict=True):
            message = Message.new_outbound(
                tenant_id=campaign.tenant_id,
                sender=sender,
                contact=contact,
                content=MessageContent(template=resolved),
                now=now,
            )
            # Due at its slot: the dispatch sends it then, with its usual exactly-once guarantees.
            job = replace(DispatchJob.due_now(message, now), available_at=slot)
            await uow.acceptance.add(message, job, None)
            accepted.append((recipient_id, message.id))
        await uow.campaigns.mark_accepted(campaign.tenant_id, accepted, now)
        return len(accepted), plan.state

    async def _walk_contacts(
        self,
        uow: UnitOfWork,
        campaign: Campaign,
        template: tuple[CatalogueTemplate, TemplateListing],
        now: datetime,
    ) -> Campaign:
        audience_filter = campaign.audience_filter
        assert audience_filter is not None
        batch = await uow.contacts.audience_batch(
            campaign.tenant_id,
            tags=audience_filter.tags,
            attributes=dict(audience_filter.attributes),
            after_identity=campaign.audience_cursor,
            limit=CONTACTS_BATCH,
        )
        progress = await uow.campaigns.progress(campaign.tenant_id, campaign.id)
        start = progress.targeted + campaign.duplicates
        materialiser = AudienceMaterialiser(uow, campaign, template, now)
        await materialiser.add(
            AudienceRow(start + index, contact.phone_number, contact.attributes)
            for index, contact in enumerate(batch, start=1)
        )
        return replace(
            campaign,
            audience_cursor=batch[-1].identity if batch else campaign.audience_cursor,
            audience_complete=len(batch) < CONTACTS_BATCH,
            duplicates=campaign.duplicates + materialiser.totals.duplicates,
        )

    async def _pause(self, uow: UnitOfWork, campaign: Campaign, reason: str, now: datetime) -> None:
        paused = campaign.paused(reason, now)
        if not await uow.campaigns.save(paused):
            raise TransactionConflict("the campaign changed meanwhile")
        await uow.campaigns.hold_unsent(campaign.tenant_id, campaign.id, HELD_UNTIL)
        await record_campaign_event(uow, WebhookEventType.CAMPAIGN_PAUSED, paused, now)
        await audit_campaign(uow, AuditAction.CAMPAIGN_PAUSED, SYSTEM_ACTOR, paused, now)
        logger.warning("campaign %s of tenant %s paused: %s", campaign.id, campaign.tenant_id, reason)


async def _all_sent(uow: UnitOfWork, campaign: Campaign) -> bool:
    """Whether no recipient is pending and none of the campaign's messages waits in the dispatch queue
    (until then a provider's limit may still pause it)."""
    if await uow.campaigns.has_pending(campaign.tenant_id, campaign.id):
        return False
    return not await uow.campaigns.held_messages(campaign.tenant_id, campaign.id, ANY_TIME)


async def pause_campaign_of_message(
    uow: UnitOfWork, tenant_id: UUID, message_id: UUID, reason: str, now: datetime
) -> Campaign | None:
    """Inside a transaction: pause the running campaign ``message_id`` belongs to, with ``reason`` (the
    provider signalled a limit), holding back its messages not yet sent; None if there is none to pause."""
    campaign_id = await uow.campaigns.campaign_of_message(tenant_id, message_id)
    if campaign_id is None:
        return None
    campaign = await uow.campaigns.get(tenant_id, campaign_id)
    if campaign is None:
        return None
    return await pause_by_gateway(uow, campaign, reason, now)


async def pause_by_gateway(
    uow: UnitOfWork, campaign: Campaign, reason: str, now: datetime
) -> Campaign | None:
    """Inside a transaction: pause ``campaign`` if it is scheduled or running, with ``reason``, holding
    back its messages not yet sent, with its ``campaign.paused`` event and audit entry (by ``system``);
    None when it is not one to pause.

    The runner writes a running campaign every tick: a save that finds it moved on reads it again (a
    new statement sees what committed meanwhile) and tries again, rather than leave the pause to a
    next signal that a busy runner could beat every time."""
    for _ in range(_PAUSE_TRIES):
        if campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED):
            return None
        paused = campaign.paused(reason, now)
        if await uow.campaigns.save(paused):
            break
        fresh = await uow.campaigns.get(campaign.tenant_id, campaign.id)
        if fresh is None:
            return None
        campaign = fresh
    else:
        return None
    await uow.campaigns.hold_unsent(campaign.tenant_id, campaign.id, HELD_UNTIL)
    await record_campaign_event(uow, WebhookEventType.CAMPAIGN_PAUSED, paused, now)
    await audit_campaign(uow, AuditAction.CAMPAIGN_PAUSED, SYSTEM_ACTOR, paused, now)
    return paused
