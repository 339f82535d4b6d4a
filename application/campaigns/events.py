"""Campaign events for the tenant's webhooks and its audit trail, recorded in the change's transaction."""

from __future__ import annotations

from datetime import datetime

from application.audit_entries import audit_entry
from application.authorization import Actor
from application.ports.unit_of_work import UnitOfWork
from application.tenant_webhooks.events import event_body
from domain.administration.audit import AuditAction, AuditActor, TargetKind
from domain.campaigns.model import Campaign
from domain.tenant_webhooks.model import WebhookEventType


async def record_campaign_event(
    uow: UnitOfWork, event: WebhookEventType, campaign: Campaign, now: datetime
) -> None:
    data: dict[str, object] = {
        "id": str(campaign.id),
        "name": campaign.name,
        "status": campaign.status.value,
        "sender": campaign.sender.e164,
    }
    if event is WebhookEventType.CAMPAIGN_PAUSED:
        data["reason"] = campaign.pause_reason
    await uow.webhook_events.record(campaign.tenant_id, event, event_body(event, data, now), now)


async def audit_campaign(
    uow: UnitOfWork, action: AuditAction, actor: Actor | AuditActor, campaign: Campaign, now: datetime
) -> None:
    details: dict[str, object] = {"name": campaign.name}
    if action is AuditAction.CAMPAIGN_PAUSED and campaign.pause_reason:
        details["reason"] = campaign.pause_reason
    await uow.audit.record(
        audit_entry(
            action,
            actor,
            now=now,
            tenant_id=campaign.tenant_id,
            target=(TargetKind.CAMPAIGN, campaign.id),
            details=details,
        )
    )
