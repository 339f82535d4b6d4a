"""Campaigns and their recipients on SQLAlchemy Core.

A campaign is written whole, over the version it was read at (``save``): two workers, or a worker and a
pause, cannot both move one campaign on. Recipients are inserted many rows per statement, a duplicate
identity left out by ``ON CONFLICT DO NOTHING``; claims take pending rows ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite has one writer at a time). A recipient's state past ``accepted`` is its message's
status, read through a join: nothing has to be written to the campaign as statuses arrive.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.database.errors import translated_errors
from adapters.database.repository import TENANT_MISSING, SqlAlchemyRepository
from adapters.database.statements import upsert_for
from adapters.database.tables import campaign_recipients, campaigns, conversations, dispatch_jobs, messages
from application.ports.campaigns import CampaignPosition, RecipientQuery
from domain.campaigns.model import (
    AudienceFilter,
    AudienceKind,
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    NewRecipient,
    RecipientState,
    SkipReason,
    VariableBinding,
)
from domain.campaigns.progress import CampaignProgress
from domain.campaigns.schedule import Pace, QuietHours, ScheduleState
from domain.phone import PhoneNumber

_KEY_TAKEN = "a campaign was created with this Idempotency-Key already"

# A message's status as its recipient's state.
_STATE_OF_STATUS = {
    "accepted": RecipientState.ACCEPTED,
    "queued": RecipientState.SENT,
    "sending": RecipientState.SENT,
    "sent": RecipientState.SENT,
    "delivered": RecipientState.DELIVERED,
    "read": RecipientState.READ,
    "failed": RecipientState.FAILED,
    "undelivered": RecipientState.FAILED,
}
_STATUSES_OF_STATE: dict[RecipientState, list[str]] = {}
for _status, _state in _STATE_OF_STATUS.items():
    _STATUSES_OF_STATE.setdefault(_state, []).append(_status)

_replied = sa.and_(
    conversations.c.last_inbound_at.is_not(None),
    campaign_recipients.c.accepted_at.is_not(None),
    conversations.c.last_inbound_at > campaign_recipients.c.accepted_at,
)
_WITH_MESSAGE_AND_CONVERSATION = campaign_recipients.outerjoin(
    messages, messages.c.id == campaign_recipients.c.message_id
).outerjoin(
    conversations,
    sa.and_(
        conversations.c.tenant_id == campaign_recipients.c.tenant_id,
        conversations.c.contact_identity == campaign_recipients.c.identity,
    ),
)


def _campaign_values(campaign: Campaign) -> dict[str, Any]:
    schedule = campaign.schedule
    audience_filter = campaign.audience_filter
    return {
        "name": campaign.name,
        "sender_number": campaign.sender.e164,
        "template_name": campaign.template_name,
        "template_language": campaign.template_language,
        "variables": [[b.variable, b.attribute, b.constant] for b in campaign.variables],
        "audience": campaign.audience.value,
        "audience_filter": (
            {"tags": list(audience_filter.tags), "attributes": dict(audience_filter.attributes)}
            if audience_filter is not None
            else None
        ),
        "audience_complete": campaign.audience_complete,
        "audience_cursor": campaign.audience_cursor,
        "messages_per_second": campaign.pace.messages_per_second,
        "daily_cap": campaign.pace.daily_cap,
        "quiet_start": f"{campaign.quiet_hours.start:%H:%M}" if campaign.quiet_hours else None,
        "quiet_end": f"{campaign.quiet_hours.end:%H:%M}" if campaign.quiet_hours else None,
        "start_at": campaign.start_at,
        "status": campaign.status.value,
        "pause_reason": campaign.pause_reason,
        "next_send_at": schedule.next_slot if schedule else None,
        "schedule_day": schedule.day.isoformat() if schedule and schedule.day else None,
        "sent_on_day": schedule.sent_on_day if schedule else 0,
        "duplicates": campaign.duplicates,
        "updated_at": campaign.updated_at or campaign.created_at,
        "started_at": campaign.started_at,
        "finished_at": campaign.finished_at,
    }


def _campaign_from_row(row: RowMapping) -> Campaign:
    audience_filter = row["audience_filter"]
    next_send_at = row["next_send_at"]
    day = row["schedule_day"]
    return Campaign(
        id=row["id"],
        tenant_id=row["tenant_id"],
        name=row["name"],
        sender=PhoneNumber(row["sender_number"]),
        template_name=row["template_name"],
        template_language=row["template_language"],
        variables=tuple(
            VariableBinding(variable, attribute, constant)
            for variable, attribute, constant in row["variables"]
        ),
        audience=AudienceKind(row["audience"]),
        audience_filter=(
            AudienceFilter(
                tags=tuple(audience_filter["tags"]),
                attributes=tuple(sorted(audience_filter["attributes"].items())),
            )
            if audience_filter is not None
            else None
        ),
        audience_complete=row["audience_complete"],
        audience_cursor=row["audience_cursor"],
        pace=Pace(row["messages_per_second"], row["daily_cap"]),
        quiet_hours=(
            QuietHours.parse(row["quiet_start"], row["quiet_end"]) if row["quiet_start"] is not None else None
        ),
        start_at=row["start_at"],
        status=CampaignStatus(row["status"]),
        pause_reason=row["pause_reason"],
        schedule=(
            ScheduleState(next_send_at, date.fromisoformat(day) if day else None, row["sent_on_day"])
            if next_send_at is not None
            else None
        ),
        duplicates=row["duplicates"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        version=row["version"],
    )


def _recipient_from_row(row: RowMapping) -> CampaignRecipient:
    state = RecipientState(row["state"])
    status = row.get("message_status")
    if state is RecipientState.ACCEPTED and status is not None:
        state = _STATE_OF_STATUS.get(status, state)
    reason = row["skip_reason"]
    return CampaignRecipient(
        id=row["id"],
        campaign_id=row["campaign_id"],
        tenant_id=row["tenant_id"],
        position=row["position"],
        number=row["number"],
        identity=row["identity"],
        variables=dict(row["variables"]),
        state=state,
        skip_reason=SkipReason(reason) if reason else None,
        detail=row["detail"],
        message_id=row["message_id"],
        accepted_at=row["accepted_at"],
        replied=bool(row.get("replied", False)),
    )


class SqlAlchemyCampaignRepository(SqlAlchemyRepository):
    async def _execute_many(self, statement: sa.Update, rows: list[dict[str, Any]]) -> None:
        """One statement for many rows (executemany)."""
        with translated_errors(conflict="the record exists already", missing_reference=TENANT_MISSING):
            await self._connection.execute(statement, rows)

    async def add(self, campaign: Campaign, idempotency: tuple[str, str] | None = None) -> None:
        await self._scope.bind(campaign.tenant_id)
        key, fingerprint = idempotency if idempotency is not None else (None, None)
        await self._execute(
            sa.insert(campaigns).values(
                id=campaign.id,
                tenant_id=campaign.tenant_id,
                version=campaign.version,
                created_at=campaign.created_at,
                idempotency_key=key,
                request_fingerprint=fingerprint,
                **_campaign_values(campaign),
            ),
            conflict=_KEY_TAKEN,
        )

    async def by_idempotency_key(self, tenant_id: UUID, key: str) -> tuple[Campaign, str] | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(campaigns).where(campaigns.c.tenant_id == tenant_id, campaigns.c.idempotency_key == key)
        )
        return (_campaign_from_row(row), row["request_fingerprint"]) if row else None

    async def get(self, tenant_id: UUID, campaign_id: UUID) -> Campaign | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(campaigns).where(campaigns.c.tenant_id == tenant_id, campaigns.c.id == campaign_id)
        )
        return _campaign_from_row(row) if row else None

    async def active_of_sender(self, tenant_id: UUID, sender: PhoneNumber) -> list[Campaign]:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(campaigns).where(
                campaigns.c.tenant_id == tenant_id,
                campaigns.c.sender_number == sender.e164,
                campaigns.c.status.in_([CampaignStatus.SCHEDULED.value, CampaignStatus.RUNNING.value]),
            )
        )
        return [_campaign_from_row(row) for row in result.mappings()]

    async def list_page(
        self, tenant_id: UUID, *, limit: int, after: CampaignPosition | None = None
    ) -> list[Campaign]:
        await self._scope.bind(tenant_id)
        statement = sa.select(campaigns).where(campaigns.c.tenant_id == tenant_id)
        if after is not None:
            statement = statement.where(
                sa.tuple_(campaigns.c.created_at, campaigns.c.id) < (after.created_at, after.campaign_id)
            )
        result = await self._execute(
            statement.order_by(campaigns.c.created_at.desc(), campaigns.c.id.desc()).limit(limit)
        )
        return [_campaign_from_row(row) for row in result.mappings()]

    async def save(self, campaign: Campaign) -> bool:
        await self._scope.bind(campaign.tenant_id)
        result = await self._execute(
            sa.update(campaigns)
            .where(
                campaigns.c.tenant_id == campaign.tenant_id,
                campaigns.c.id == campaign.id,
                campaigns.c.version == campaign.version,
            )
            .values(version=campaign.version + 1, **_campaign_values(campaign))
        )
        return bool(result.rowcount == 1)

    async def due(self, until: datetime, limit: int) -> list[Campaign]:
        await self._scope.cross_tenant()
        statement = (
            sa.select(campaigns)
            .where(
                sa.or_(
                    sa.and_(
                        campaigns.c.status == CampaignStatus.SCHEDULED.value,
                        campaigns.c.start_at <= until,
                        # A CSV audience starts once uploaded.
                        sa.or_(
                            campaigns.c.audience_complete.is_(True),
                            campaigns.c.audience != AudienceKind.CSV.value,
                        ),
                    ),
                    sa.and_(
                        campaigns.c.status == CampaignStatus.RUNNING.value,
                        sa.or_(
                            campaigns.c.next_send_at <= until,
                            sa.and_(
                                campaigns.c.audience_complete.is_(False),
                                campaigns.c.audience == AudienceKind.CONTACTS.value,
                            ),
                        ),
                    ),
                )
            )
            .order_by(campaigns.c.next_send_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self._execute(statement)
        return [_campaign_from_row(row) for row in result.mappings()]

    async def add_recipients(
        self, tenant_id: UUID, campaign_id: UUID, recipients: Sequence[NewRecipient], now: datetime
    ) -> int:
        if not recipients:
            return 0
        await self._scope.bind(tenant_id)
        rows = [
            {
                "id": uuid4(),
                "campaign_id": campaign_id,
                "tenant_id": tenant_id,
                "position": recipient.position,
                "number": recipient.number[:32],
                "identity": recipient.identity,
                "variables": dict(recipient.variables),
                "state": (
                    RecipientState.SKIPPED.value
                    if recipient.skip_reason is not None
                    else RecipientState.PENDING.value
                ),
                "skip_reason": recipient.skip_reason.value if recipient.skip_reason else None,
                "detail": recipient.detail,
                "message_id": None,
                "accepted_at": None,
                "created_at": now,
            }
            for recipient in recipients
        ]
        insert = upsert_for(self._connection.dialect.name)
        statement = (
            insert(campaign_recipients)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(campaign_recipients.c.id)
        )
        result = await self._execute(statement)
        return len(result.all())

    async def claim_pending(self, tenant_id: UUID, campaign_id: UUID, limit: int) -> list[CampaignRecipient]:
        await self._scope.bind(tenant_id)
        # One UPDATE takes the rows: on SQLite it holds the write lock from its first step, on PostgreSQL
        # the locked rows of a concurrent claim are skipped. A rollback gives them back as pending.
        pending = (
            sa.select(campaign_recipients.c.id)
            .where(
                campaign_recipients.c.tenant_id == tenant_id,
                campaign_recipients.c.campaign_id == campaign_id,
                campaign_recipients.c.state == RecipientState.PENDING.value,
            )
            .order_by(campaign_recipients.c.position, campaign_recipients.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            # A CTE is run once: as a plain IN subquery PostgreSQL may run it again per row, and its
            # LIMIT then bounds nothing.
            .cte("picked")
        )
        result = await self._execute(
            sa.update(campaign_recipients)
            .where(
                campaign_recipients.c.tenant_id == tenant_id,
                campaign_recipients.c.id.in_(sa.select(pending.c.id)),
            )
            .values(state=RecipientState.ACCEPTED.value)
            .returning(*campaign_recipients.c)
        )
        claimed = [_recipient_from_row(row) for row in result.mappings()]
        return sorted(claimed, key=lambda recipient: (recipient.position, recipient.id))

    async def mark_accepted(
        self, tenant_id: UUID, accepted: Sequence[tuple[UUID, UUID]], now: datetime
    ) -> None:
        if not accepted:
            return
        await self._scope.bind(tenant_id)
        statement = (
            sa.update(campaign_recipients)
            .where(
                campaign_recipients.c.tenant_id == sa.bindparam("t_id"),
                campaign_recipients.c.id == sa.bindparam("r_id"),
                campaign_recipients.c.message_id.is_(None),
            )
            .values(state=RecipientState.ACCEPTED.value, message_id=sa.bindparam("m_id"), accepted_at=now)
        )
        await self._execute_many(statement, [{"t_id": tenant_id, "r_id": r, "m_id": m} for r, m in accepted])

    async def mark_skipped(
        self, tenant_id: UUID, recipient_ids: Collection[UUID], reason: str, detail: str | None
    ) -> None:
        if not recipient_ids:
            return
        await self._scope.bind(tenant_id)
        await self._execute(
            sa.update(campaign_recipients)
            .where(
                campaign_recipients.c.tenant_id == tenant_id,
                campaign_recipients.c.id.in_(list(recipient_ids)),
                campaign_recipients.c.message_id.is_(None),
            )
            .values(state=RecipientState.SKIPPED.value, skip_reason=reason, detail=detail)
        )

    async def has_pending(self, tenant_id: UUID, campaign_id: UUID) -> bool:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(campaign_recipients.c.id)
            .where(
                campaign_recipients.c.tenant_id == tenant_id,
                campaign_recipients.c.campaign_id == campaign_id,
                campaign_recipients.c.state == RecipientState.PENDING.value,
            )
            .limit(1)
        )
        return row is not None

    async def progress(self, tenant_id: UUID, campaign_id: UUID) -> CampaignProgress:
        await self._scope.bind(tenant_id)
        replied = sa.func.sum(sa.case((_replied, 1), else_=0))
        result = await self._execute(
            sa.select(
                campaign_recipients.c.state,
                campaign_recipients.c.skip_reason,
                messages.c.status,
                sa.func.count().label("n"),
                replied.label("replied"),
            )
            .select_from(_WITH_MESSAGE_AND_CONVERSATION)
            .where(
                campaign_recipients.c.tenant_id == tenant_id,
                campaign_recipients.c.campaign_id == campaign_id,
            )
            .group_by(campaign_recipients.c.state, campaign_recipients.c.skip_reason, messages.c.status)
        )
        counts: dict[str, int] = {}
        for row in result.mappings():
            state, reason, status = row["state"], row["skip_reason"], row["status"]
            n, replied_count = row["n"], row["replied"]
            recipient_state = RecipientState(state)
            if recipient_state is RecipientState.ACCEPTED and status is not None:
                recipient_state = _STATE_OF_STATUS.get(status, recipient_state)
            key = f"skipped_{reason}" if recipient_state is RecipientState.SKIPPED else recipient_state.value
            counts[key] = counts.get(key, 0) + int(n)
            counts["targeted"] = counts.get("targeted", 0) + int(n)
            counts["replied"] = counts.get("replied", 0) + int(replied_count or 0)
        return CampaignProgress(**counts)

    async def recipients_page(self, query: RecipientQuery) -> list[CampaignRecipient]:
        await self._scope.bind(query.tenant_id)
        statement = (
            sa.select(
                campaign_recipients,
                messages.c.status.label("message_status"),
                sa.case((_replied, True), else_=False).label("replied"),
            )
            .select_from(_WITH_MESSAGE_AND_CONVERSATION)
            .where(
                campaign_recipients.c.tenant_id == query.tenant_id,
                campaign_recipients.c.campaign_id == query.campaign_id,
            )
        )
        if query.state in (RecipientState.PENDING, RecipientState.SKIPPED):
            statement = statement.where(campaign_recipients.c.state == query.state.value)
        elif query.state is not None:
            statement = statement.where(
                campaign_recipients.c.state == RecipientState.ACCEPTED.value,
                messages.c.status.in_(_STATUSES_OF_STATE[query.state]),
            )
        if query.after_position is not None:
            statement = statement.where(campaign_recipients.c.position > query.after_position)
        result = await self._execute(
            statement.order_by(campaign_recipients.c.position, campaign_recipients.c.id).limit(query.limit)
        )
        return [_recipient_from_row(row) for row in result.mappings()]

    def _unsent_jobs_of(self, tenant_id: UUID, campaign_id: UUID) -> sa.ColumnElement[bool]:
        return dispatch_jobs.c.message_id.in_(
            sa.select(campaign_recipients.c.message_id).where(
                campaign_recipients.c.tenant_id == tenant_id,
                campaign_recipients.c.campaign_id == campaign_id,
                campaign_recipients.c.message_id.is_not(None),
            )
        )

    async def hold_unsent(self, tenant_id: UUID, campaign_id: UUID, hold_until: datetime) -> int:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.update(dispatch_jobs)
            .where(
                dispatch_jobs.c.tenant_id == tenant_id,
                self._unsent_jobs_of(tenant_id, campaign_id),
                dispatch_jobs.c.lease_owner.is_(None),
                dispatch_jobs.c.phase == "send",
            )
            .values(available_at=hold_until)
        )
        return int(result.rowcount)

    async def held_messages(self, tenant_id: UUID, campaign_id: UUID, held_since: datetime) -> list[UUID]:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(dispatch_jobs.c.message_id)
            .join(campaign_recipients, campaign_recipients.c.message_id == dispatch_jobs.c.message_id)
            .where(
                dispatch_jobs.c.tenant_id == tenant_id,
                campaign_recipients.c.tenant_id == tenant_id,
                campaign_recipients.c.campaign_id == campaign_id,
                dispatch_jobs.c.available_at >= held_since,
            )
            .order_by(campaign_recipients.c.position)
        )
        return list(result.scalars())

    async def reschedule_jobs(self, tenant_id: UUID, slots: Sequence[tuple[UUID, datetime]]) -> None:
        if not slots:
            return
        await self._scope.bind(tenant_id)
        statement = (
            sa.update(dispatch_jobs)
            .where(
                dispatch_jobs.c.tenant_id == sa.bindparam("t_id"),
                dispatch_jobs.c.message_id == sa.bindparam("m_id"),
                dispatch_jobs.c.lease_owner.is_(None),
            )
            .values(available_at=sa.bindparam("at", type_=dispatch_jobs.c.available_at.type))
        )
        await self._execute_many(statement, [{"t_id": tenant_id, "m_id": m, "at": at} for m, at in slots])

    async def campaign_of_message(self, tenant_id: UUID, message_id: UUID) -> UUID | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(campaign_recipients.c.campaign_id).where(
                campaign_recipients.c.tenant_id == tenant_id, campaign_recipients.c.message_id == message_id
            )
        )
        return row["campaign_id"] if row else None
