"""The dispatch queue on SQLAlchemy Core.

Workers on any number of machines share the queue: a claim leases due jobs with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite, one writer at a time, needs no skipping), and a
lease that runs out makes the job claimable again, so a crashed worker loses nothing; its next owner
reconciles it (looks it up at the provider) before sending, so it is not sent twice either.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.selectable import LateralFromClause

from adapters.database.repository import SqlAlchemyRepository, Transaction
from adapters.database.rows import job_values, labelled, message_from_row, tenant_from_row, unprefixed
from adapters.database.sealed_secrets import open_account
from adapters.database.statements import (
    ATTACH_PROVIDER_SID,
    MESSAGE_BY_ID,
    TENANT_BY_ID,
    THE_MESSAGE,
    account_of_sender,
)
from adapters.database.tables import dispatch_jobs, messages, provider_accounts, senders, tenants
from adapters.security.secret_box import SecretBox
from application.errors import CredentialsUnreadable
from application.ports.dispatch_queue import DispatchCompletion, DispatchJob, JobPhase, LeasedAttempt
from domain.messaging.messages import Message, MessageStatus
from domain.phone import PhoneNumber

# Built once: a worker runs them for every message it sends.
# The outcome of a message's dispatch, written if it is still accepted (``_record_dispatch_parameters``).
_RECORD_DISPATCH = (
    sa.update(messages)
    .where(*THE_MESSAGE, messages.c.status == sa.bindparam("accepted"))
    .values(
        status=sa.bindparam("new_status"),
        provider_sid=sa.func.coalesce(
            messages.c.provider_sid, sa.bindparam("new_provider_sid", type_=messages.c.provider_sid.type)
        ),
        error_code=sa.bindparam("new_error_code", type_=messages.c.error_code.type),
        error_message=sa.bindparam("new_error_message", type_=messages.c.error_message.type),
        failure_code=sa.bindparam("new_failure_code", type_=messages.c.failure_code.type),
        provider=sa.bindparam("new_provider", type_=messages.c.provider.type),
        provider_error_message=sa.bindparam(
            "new_provider_error_message", type_=messages.c.provider_error_message.type
        ),
        updated_at=sa.bindparam("new_updated_at", type_=messages.c.updated_at.type),
    )
)
# Not named after a column: UPDATE reserves those names for its SET clause.
_JOB = dispatch_jobs.c.message_id == sa.bindparam("job_message_id")
_LEASED_BY = dispatch_jobs.c.lease_owner == sa.bindparam("owner")
_EXTEND_LEASE = (
    sa.update(dispatch_jobs)
    .where(_JOB, _LEASED_BY)
    .values(lease_expires_at=sa.bindparam("until", type_=dispatch_jobs.c.lease_expires_at.type))
)
_COMPLETE = sa.delete(dispatch_jobs).where(_JOB)
_COMPLETE_OWNED = sa.delete(dispatch_jobs).where(_JOB, _LEASED_BY)

_MESSAGE, _TENANT, _ACCOUNT = "m_", "t_", "a_"


def _extend_lease_and_load() -> sa.Select[Any]:
    """PostgreSQL: the lease renewed and what the attempt needs read, in one statement (one round trip
    instead of four)."""
    job_tenant = sa.bindparam("job_tenant_id", type_=dispatch_jobs.c.tenant_id.type)
    leased = (
        sa.update(dispatch_jobs)
        .where(_JOB, _LEASED_BY, dispatch_jobs.c.tenant_id == job_tenant)
        .values(lease_expires_at=sa.bindparam("until", type_=dispatch_jobs.c.lease_expires_at.type))
        .returning(dispatch_jobs.c.message_id, dispatch_jobs.c.tenant_id)
        .cte("leased")
    )
    return _with_attempts(leased)


def _with_attempts(leased: sa.CTE, *leased_columns: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """Each leased job's row (``leased_columns`` of it) with what its attempt needs: its message, its
    tenant, its sender's provider account and number id. The outer joins keep the leased row when the
    message or tenant is gone."""
    return sa.select(
        *leased_columns,
        *labelled(messages, _MESSAGE),
        *labelled(tenants, _TENANT),
        *labelled(provider_accounts, _ACCOUNT),
        senders.c.provider_number_id,
        senders.c.account_id.is_not(None).label("sender_has_account"),
    ).select_from(
        leased.outerjoin(
            messages,
            sa.and_(messages.c.tenant_id == leased.c.tenant_id, messages.c.id == leased.c.message_id),
        )
        .outerjoin(tenants, tenants.c.id == leased.c.tenant_id)
        .outerjoin(
            senders,
            sa.and_(
                senders.c.tenant_id == leased.c.tenant_id, senders.c.phone_number == messages.c.sender_number
            ),
        )
        .outerjoin(
            provider_accounts,
            provider_accounts.c.id == account_of_sender(leased.c.tenant_id, senders.c.account_id),
        )
    )


def _complete_dispatch() -> sa.Select[Any]:
    """PostgreSQL: the job removed and the message's outcome recorded, in one statement, the message
    only if the job was still ours (``_RECORD_DISPATCH``'s change, which attaches the SID too)."""
    completed = (
        sa.delete(dispatch_jobs)
        .where(_JOB, _LEASED_BY, dispatch_jobs.c.tenant_id == sa.bindparam("of_tenant_id"))
        .returning(dispatch_jobs.c.message_id)
        .cte("completed")
    )
    recorded = (
        _RECORD_DISPATCH.where(messages.c.id.in_(sa.select(completed.c.message_id)))
        .returning(messages.c.id)
        .cte("recorded")
    )
    return sa.select(
        sa.select(sa.func.count()).select_from(completed).scalar_subquery().label("completed"),
        sa.select(sa.func.count()).select_from(recorded).scalar_subquery().label("recorded"),
    )


# PostgreSQL: many jobs' ``_complete_dispatch`` in one statement, their outcomes as parallel arrays
# (``_complete_dispatches_parameters``): each job removed if still leased by its owner, its message's
# outcome written if that message is still accepted, else its provider id attached if it had none. The
# two updates of ``messages`` take disjoint rows (accepted, not accepted), as one statement must.
_COMPLETE_DISPATCHES = sa.text(
    """
WITH outcome AS (
    SELECT * FROM unnest(
        CAST(:message_ids AS uuid[]), CAST(:tenant_ids AS uuid[]), CAST(:owners AS text[]),
        CAST(:statuses AS text[]), CAST(:provider_sids AS text[]), CAST(:error_codes AS integer[]),
        CAST(:error_messages AS text[]), CAST(:failure_codes AS text[]), CAST(:providers AS text[]),
        CAST(:provider_error_messages AS text[]), CAST(:updated_ats AS timestamptz[])
    ) AS o(message_id, tenant_id, owner, status, provider_sid, error_code, error_message, failure_code,
           provider, provider_error_message, updated_at)
),
completed AS (
    DELETE FROM dispatch_jobs AS j USING outcome AS o
    WHERE j.message_id = o.message_id AND j.tenant_id = o.tenant_id AND j.lease_owner = o.owner
    RETURNING j.message_id
),
recorded AS (
    UPDATE messages AS m
    SET status = o.status, provider_sid = coalesce(m.provider_sid, o.provider_sid),
        error_code = o.error_code, error_message = o.error_message, failure_code = o.failure_code,
        provider = o.provider, provider_error_message = o.provider_error_message,
        updated_at = o.updated_at
    FROM outcome AS o JOIN completed AS c ON c.message_id = o.message_id
    WHERE m.tenant_id = o.tenant_id AND m.id = o.message_id AND m.status = :accepted
    RETURNING m.id
),
attached AS (
    UPDATE messages AS m SET provider_sid = o.provider_sid
    FROM outcome AS o JOIN completed AS c ON c.message_id = o.message_id
    WHERE m.tenant_id = o.tenant_id AND m.id = o.message_id AND m.status <> :accepted
      AND m.provider_sid IS NULL AND o.provider_sid IS NOT NULL
    RETURNING m.id
)
SELECT o.message_id, c.message_id IS NOT NULL AS completed, r.id IS NOT NULL AS recorded
FROM outcome AS o
LEFT JOIN completed AS c ON c.message_id = o.message_id
LEFT JOIN recorded AS r ON r.id = o.message_id
"""
)
_SID_CONFLICT = "another message has this provider id"

# Built once: a worker runs them for every message it sends.
_EXTEND_LEASE_AND_LOAD = _extend_lease_and_load()
_COMPLETE_DISPATCH = _complete_dispatch()


def _complete_dispatches_parameters(outcomes: Sequence[tuple[Message, str]]) -> dict[str, Any]:
    messages_ = [message for message, _ in outcomes]
    return {
        "accepted": MessageStatus.ACCEPTED.value,
        "message_ids": [m.id for m in messages_],
        "tenant_ids": [m.tenant_id for m in messages_],
        "owners": [owner for _, owner in outcomes],
        "statuses": [m.status.value for m in messages_],
        "provider_sids": [m.provider_sid for m in messages_],
        "error_codes": [m.error_code for m in messages_],
        "error_messages": [m.error_message for m in messages_],
        "failure_codes": [m.failure_code.value if m.failure_code else None for m in messages_],
        "providers": [m.provider.value if m.provider else None for m in messages_],
        "provider_error_messages": [m.provider_error_message for m in messages_],
        "updated_ats": [m.updated_at for m in messages_],
    }


def _attempt_from_row(row: RowMapping, secret_box: SecretBox) -> LeasedAttempt:
    """A row of ``_with_attempts`` as the attempt it is for."""
    return LeasedAttempt(
        message=message_from_row(unprefixed(row, _MESSAGE)) if row[_MESSAGE + "id"] is not None else None,
        tenant=tenant_from_row(unprefixed(row, _TENANT)) if row[_TENANT + "id"] is not None else None,
        account=open_account(secret_box, row, _ACCOUNT) if row[_ACCOUNT + "id"] is not None else None,
        provider_number_id=row["provider_number_id"],
        sender_has_account=bool(row["sender_has_account"]),
    )


def _record_dispatch_parameters(message: Message) -> dict[str, Any]:
    """``_RECORD_DISPATCH``'s change: the message's outcome, written if it is still accepted."""
    return {
        "accepted": MessageStatus.ACCEPTED.value,
        "new_status": message.status.value,
        "new_provider_sid": message.provider_sid,
        "new_error_code": message.error_code,
        "new_error_message": message.error_message,
        "new_failure_code": message.failure_code.value if message.failure_code else None,
        "new_provider": message.provider.value if message.provider else None,
        "new_provider_error_message": message.provider_error_message,
        "new_updated_at": message.updated_at,
    }


class SqlAlchemyDispatchQueue(SqlAlchemyRepository):
    def __init__(self, transaction: Transaction) -> None:
        super().__init__(transaction)
        self._secret_box = transaction.secret_box  # to open the credentials read with a lease

    async def enqueue(self, job: DispatchJob) -> None:
        await self._scope.bind(job.tenant_id)
        await self._execute(
            sa.insert(dispatch_jobs).values(job_values(job)),
            conflict="the message has a dispatch job already",
        )

    async def claim_due(
        self,
        *,
        owner: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        skip_senders: Collection[PhoneNumber] = (),
        skip_tenants: Collection[UUID] = (),
        load: bool = False,
    ) -> list[DispatchJob]:
        await self._scope.cross_tenant()
        due = _due_jobs(now, limit, skip_senders, skip_tenants, self._connection.dialect.name)
        if not load or self._connection.dialect.name != "postgresql":
            return await self._lease(due, owner, now, lease_seconds)
        leased = _lease_statement(due, owner, now, lease_seconds).cte("leased")
        result = await self._execute(_with_attempts(leased, *leased.c))
        leased_until = now + timedelta(seconds=lease_seconds)
        jobs = [
            replace(_job_from_row(row), loaded=self._attempt_from_row(row), leased_until=leased_until)
            for row in result.mappings()
        ]
        return sorted(jobs, key=lambda job: job.available_at)

    async def claim(
        self, message_id: UUID, *, owner: str, now: datetime, lease_seconds: float
    ) -> DispatchJob | None:
        await self._scope.by_key()
        leased = await self._lease(
            sa.and_(dispatch_jobs.c.message_id == message_id, _claimable(now)), owner, now, lease_seconds
        )
        return leased[0] if leased else None

    async def _lease(
        self, which: sa.ColumnElement[bool], owner: str, now: datetime, lease_seconds: float
    ) -> list[DispatchJob]:
        result = await self._execute(_lease_statement(which, owner, now, lease_seconds))
        jobs = [_job_from_row(row) for row in result.mappings()]
        return sorted(jobs, key=lambda job: job.available_at)

    async def extend_lease_and_load(
        self, message_id: UUID, tenant_id: UUID, *, owner: str, until: datetime
    ) -> LeasedAttempt | None:
        # The job's tenant is known: the transaction sees that tenant's rows only, not every tenant's.
        if self._connection.dialect.name != "postgresql":
            await self._scope.bind(tenant_id)
            return await self._extend_lease_and_load_one_by_one(
                message_id, tenant_id, owner=owner, until=until
            )
        parameters = {
            "job_message_id": message_id,
            "job_tenant_id": tenant_id,
            "owner": owner,
            "until": until,
        }
        row = await self._bound_one_or_none(tenant_id, _EXTEND_LEASE_AND_LOAD, parameters)
        if row is None:
            return None
        return _attempt_from_row(row, self._secret_box)

    def _attempt_from_row(self, row: RowMapping) -> LeasedAttempt | None:
        """A claimed job's attempt; None when its account's secrets cannot be opened, so that its
        attempt reads them again itself and fails alone, not the whole claim."""
        try:
            return _attempt_from_row(row, self._secret_box)
        except CredentialsUnreadable:
            return None

    async def _extend_lease_and_load_one_by_one(
        self, message_id: UUID, tenant_id: UUID, *, owner: str, until: datetime
    ) -> LeasedAttempt | None:
        """SQLite: the same reads, one statement each (it has no data-modifying CTE)."""
        extended = await self._execute(
            _EXTEND_LEASE.where(dispatch_jobs.c.tenant_id == tenant_id),
            {"job_message_id": message_id, "owner": owner, "until": until},
        )
        if extended.rowcount != 1:
            return None
        message = await self._one_or_none(
            MESSAGE_BY_ID, {"of_tenant_id": tenant_id, "of_message_id": message_id}
        )
        tenant = await self._one_or_none(TENANT_BY_ID, {"tenant_id": tenant_id})
        account = sender = None
        if message is not None and tenant is not None:
            sender = await self._one_or_none(
                sa.select(senders.c.account_id, senders.c.provider_number_id).where(
                    senders.c.tenant_id == tenant_id, senders.c.phone_number == message["sender_number"]
                )
            )
            account = await self._one_or_none(
                sa.select(provider_accounts).where(
                    provider_accounts.c.id
                    == account_of_sender(
                        sa.literal(tenant_id, sa.Uuid()),
                        sa.literal(sender["account_id"] if sender else None, sa.Uuid()),
                    )
                )
            )
        return LeasedAttempt(
            message=message_from_row(message) if message else None,
            tenant=tenant_from_row(tenant) if tenant else None,
            account=open_account(self._secret_box, account) if account else None,
            provider_number_id=sender["provider_number_id"] if sender else None,
            sender_has_account=sender is not None and sender["account_id"] is not None,
        )

    async def reschedule(
        self,
        message_id: UUID,
        *,
        owner: str,
        attempts: int,
        phase: JobPhase,
        available_at: datetime,
        last_error: str | None,
        unconfirmed_since: datetime | None,
    ) -> bool:
        await self._scope.by_key()
        result = await self._execute(
            sa.update(dispatch_jobs)
            .where(dispatch_jobs.c.message_id == message_id, dispatch_jobs.c.lease_owner == owner)
            .values(
                attempts=attempts,
                phase=phase.value,
                available_at=available_at,
                last_error=last_error,
                unconfirmed_since=unconfirmed_since,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        return result.rowcount == 1

    async def complete(self, message_id: UUID, *, owner: str | None) -> bool:
        await self._scope.by_key()
        if owner is None:
            result = await self._execute(_COMPLETE, {"job_message_id": message_id})
        else:
            parameters = {"job_message_id": message_id, "owner": owner}
            result = await self._execute(_COMPLETE_OWNED, parameters)
        return result.rowcount == 1

    async def in_flight_from(self, tenant_id: UUID, sender: PhoneNumber) -> int:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(sa.func.count())
            .select_from(dispatch_jobs)
            .where(
                dispatch_jobs.c.tenant_id == tenant_id,
                dispatch_jobs.c.sender_number == sender.e164,
                sa.or_(
                    dispatch_jobs.c.lease_owner.is_not(None), dispatch_jobs.c.unconfirmed_since.is_not(None)
                ),
            )
        )
        return int(result.scalar_one())

    async def complete_dispatch(self, message: Message, *, owner: str) -> DispatchCompletion:
        conflict = _SID_CONFLICT
        the_job = {"job_message_id": message.id, "owner": owner}
        the_message = {"of_tenant_id": message.tenant_id, "of_message_id": message.id}
        if self._connection.dialect.name == "postgresql":
            parameters = {**the_job, **the_message, **_record_dispatch_parameters(message)}
            row = await self._bound_one_or_none(message.tenant_id, _COMPLETE_DISPATCH, parameters, conflict)
            if row is None or not row["completed"]:
                return DispatchCompletion.LEASE_LOST
            if row["recorded"]:
                return DispatchCompletion.RECORDED
        else:
            await self._scope.bind(message.tenant_id)
            if (await self._execute(_COMPLETE_OWNED, the_job)).rowcount != 1:
                return DispatchCompletion.LEASE_LOST
            recorded = await self._execute(
                _RECORD_DISPATCH, {**the_message, **_record_dispatch_parameters(message)}, conflict=conflict
            )
            if recorded.rowcount == 1:
                return DispatchCompletion.RECORDED
        # Settled elsewhere while we sent: it keeps its status, and learns its SID if it had none.
        if message.provider_sid:
            await self._execute(
                ATTACH_PROVIDER_SID,
                {**the_message, "new_provider_sid": message.provider_sid},
                conflict=conflict,
            )
        return DispatchCompletion.SETTLED_ELSEWHERE

    async def complete_dispatches(self, outcomes: Sequence[tuple[Message, str]]) -> list[DispatchCompletion]:
        if len(outcomes) == 1 or self._connection.dialect.name != "postgresql":
            return [await self.complete_dispatch(message, owner=owner) for message, owner in outcomes]
        await self._scope.cross_tenant()  # the statement names each job's and message's tenant
        result = await self._execute(
            _COMPLETE_DISPATCHES, _complete_dispatches_parameters(outcomes), conflict=_SID_CONFLICT
        )
        by_message = {row["message_id"]: row for row in result.mappings()}
        completions = []
        for message, _ in outcomes:
            row = by_message[message.id]
            if not row["completed"]:
                completions.append(DispatchCompletion.LEASE_LOST)
            elif row["recorded"]:
                completions.append(DispatchCompletion.RECORDED)
            else:
                completions.append(DispatchCompletion.SETTLED_ELSEWHERE)
        return completions

    async def depth(self, now: datetime) -> tuple[int, datetime | None]:
        await self._scope.cross_tenant()
        result = await self._execute(
            sa.select(
                sa.func.count().label("waiting"), sa.func.min(dispatch_jobs.c.created_at).label("oldest")
            )
            .select_from(dispatch_jobs)
            # A scheduled send's job joins the queue at its time (``DispatchJob.scheduled``).
            .where(dispatch_jobs.c.created_at <= now)
        )
        row = result.mappings().one()
        oldest: datetime | None = row["oldest"]
        return int(row["waiting"]), oldest

    async def start_scheduled(self, message_id: UUID, tenant_id: UUID, *, owner: str, now: datetime) -> bool:
        await self._scope.bind(tenant_id)
        held = (
            sa.select(sa.literal(1))
            .where(
                dispatch_jobs.c.message_id == message_id,
                dispatch_jobs.c.lease_owner == owner,
                dispatch_jobs.c.lease_expires_at > now,
            )
            .exists()
        )
        result = await self._execute(
            sa.update(messages)
            .where(*_scheduled_message(tenant_id, message_id), held)
            .values(status=MessageStatus.ACCEPTED.value, updated_at=now)
        )
        return result.rowcount == 1

    async def reschedule_scheduled(
        self, tenant_id: UUID, message_id: UUID, *, send_at: datetime, now: datetime
    ) -> bool:
        await self._scope.bind(tenant_id)
        # The job first: on PostgreSQL its row stays locked to the end of the transaction, so a worker's
        # claim waits for it, then finds the job moved (no longer due); once the job changed, nothing
        # else moves the message off scheduled (that takes the job's lease).
        moved = await self._execute(
            sa.update(dispatch_jobs)
            .where(*_free_job_of_scheduled(tenant_id, message_id, now))
            .values(
                available_at=send_at,
                created_at=send_at,
                # A lease that ran out before the message was taken off scheduled: it was never sent.
                lease_owner=None,
                lease_expires_at=None,
                phase=JobPhase.SEND.value,
                unconfirmed_since=None,
            )
        )
        if moved.rowcount != 1:
            return False
        await self._execute(
            sa.update(messages)
            .where(*_scheduled_message(tenant_id, message_id))
            .values(send_at=send_at, updated_at=now)
        )
        return True

    async def cancel_scheduled(self, tenant_id: UUID, message_id: UUID, *, now: datetime) -> bool:
        await self._scope.bind(tenant_id)
        # As in ``reschedule_scheduled``: the job first, whose row lock keeps workers off the message.
        removed = await self._execute(
            sa.delete(dispatch_jobs).where(*_free_job_of_scheduled(tenant_id, message_id, now))
        )
        if removed.rowcount != 1:
            return False
        await self._execute(
            sa.update(messages)
            .where(*_scheduled_message(tenant_id, message_id))
            .values(status=MessageStatus.CANCELED.value, updated_at=now)
        )
        return True


def _scheduled_message(tenant_id: UUID, message_id: UUID) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        messages.c.tenant_id == tenant_id,
        messages.c.id == message_id,
        messages.c.status == MessageStatus.SCHEDULED.value,
    )


def _free_job_of_scheduled(
    tenant_id: UUID, message_id: UUID, now: datetime
) -> tuple[sa.ColumnElement[bool], ...]:
    """The job of a message still scheduled, when no worker holds it."""
    return (
        dispatch_jobs.c.tenant_id == tenant_id,
        dispatch_jobs.c.message_id == message_id,
        _lease_free(dispatch_jobs, now),
        sa.select(sa.literal(1)).where(*_scheduled_message(tenant_id, message_id)).exists(),
    )


_NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # before any job's due time


def _lease_statement(
    which: sa.ColumnElement[bool], owner: str, now: datetime, lease_seconds: float
) -> sa.Update:
    return (
        sa.update(dispatch_jobs)
        .where(which)
        .values(
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            # A job still leased when it is claimed is one whose lease ran out: its owner vanished
            # mid-attempt (killed, or cut off from the database) and may have reached the provider
            # before. The new owner looks the message up before it sends anything. Its send is
            # unconfirmed from the end of that lease at the latest (unless it was already).
            phase=sa.case(
                (dispatch_jobs.c.lease_owner.is_not(None), JobPhase.RECONCILE.value),
                else_=dispatch_jobs.c.phase,
            ),
            unconfirmed_since=sa.case(
                (
                    dispatch_jobs.c.lease_owner.is_not(None),
                    sa.func.coalesce(dispatch_jobs.c.unconfirmed_since, dispatch_jobs.c.lease_expires_at),
                ),
                else_=dispatch_jobs.c.unconfirmed_since,
            ),
        )
        .returning(*dispatch_jobs.c)
    )


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        dispatch_jobs.c.available_at <= now,
        _lease_free(dispatch_jobs, now),
        ~_sender_paused(dispatch_jobs.c.tenant_id, dispatch_jobs.c.sender_number, now),
    )


def _due_jobs(
    now: datetime,
    limit: int,
    skip_senders: Collection[PhoneNumber],
    skip_tenants: Collection[UUID],
    dialect_name: str,
) -> sa.ColumnElement[bool]:
    """The jobs ``claim_due`` leases: the ``limit`` oldest claimable ones, locked, skipping some."""
    if (skip_senders or skip_tenants) and dialect_name == "postgresql":
        due = _due_skipping(now, limit, sorted(s.e164 for s in skip_senders), sorted(skip_tenants))
    else:
        wanted = [_claimable(now)]
        if skip_senders:
            wanted.append(dispatch_jobs.c.sender_number.not_in(sorted(s.e164 for s in skip_senders)))
        if skip_tenants:
            wanted.append(dispatch_jobs.c.tenant_id.not_in(sorted(skip_tenants)))
        due = (
            sa.select(dispatch_jobs.c.message_id)
            .where(*wanted)
            .order_by(dispatch_jobs.c.available_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    if dialect_name != "postgresql":
        return dispatch_jobs.c.message_id.in_(due.scalar_subquery())
    # As an array, the locked jobs are updated by key: ``IN (subquery)`` is planned as a hash join
    # over a sequential scan of the whole queue (row-level security's check on every row of it).
    return dispatch_jobs.c.message_id == sa.any_(_array_of(due.subquery("due")))


def _array_of(ids: sa.Subquery) -> sa.ColumnElement[Any]:
    """The ``message_id``s of ``ids`` as one array (the cast makes ANY take it as one value)."""
    return sa.cast(sa.select(sa.func.array_agg(ids.c.message_id)).scalar_subquery(), sa.ARRAY(sa.Uuid()))


def _lease_free(jobs: sa.FromClause, now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(jobs.c.lease_expires_at.is_(None), jobs.c.lease_expires_at <= now)


def _sender_paused(
    tenant_id: sa.ColumnElement[Any], sender_number: sa.ColumnElement[Any], now: datetime
) -> sa.ColumnElement[bool]:
    """The sender of these jobs is paused (it reached WhatsApp's messaging limit)."""
    return (
        sa.select(sa.literal(1))
        .where(
            senders.c.tenant_id == tenant_id,
            senders.c.phone_number == sender_number,
            senders.c.paused_until > now,
        )
        .exists()
    )


def _due_skipping(
    now: datetime, limit: int, skip_senders: list[str], skip_tenants: list[UUID]
) -> sa.Select[Any]:
    """The oldest due jobs, leaving out some senders and tenants, read sender by sender (PostgreSQL).

    Ordered by due time alone, the claim would read every job of a skipped sender that is older than
    the first one it may take: a busy sender's whole backlog, on every poll. Instead it walks the
    distinct (tenant, sender) pairs in the queue (a skip scan of ix_dispatch_jobs_sender_due, one
    index probe per pair), drops the skipped and paused ones, finds each remaining pair's oldest due
    job, takes the oldest due jobs of the ``limit`` pairs whose oldest are oldest from the same index,
    and locks the oldest of those: the cost follows the number of senders with queued jobs (one probe
    each) and ``limit``, not the backlog.
    """
    pairs = dispatch_jobs.alias("pairs")
    first = sa.select(pairs.c.tenant_id, pairs.c.sender_number).order_by(
        pairs.c.tenant_id, pairs.c.sender_number
    )
    queued = first.limit(1).cte("queued", recursive=True)
    following = dispatch_jobs.alias("following")
    next_pair = (
        sa.select(following.c.tenant_id, following.c.sender_number)
        .where(
            sa.tuple_(following.c.tenant_id, following.c.sender_number)
            > sa.tuple_(queued.c.tenant_id, queued.c.sender_number)
        )
        .order_by(following.c.tenant_id, following.c.sender_number)
        .limit(1)
        .lateral("next_pair")
    )
    queued = queued.union_all(
        sa.select(next_pair.c.tenant_id, next_pair.c.sender_number).select_from(
            queued.join(next_pair, sa.true())
        )
    )
    wanted = [~_sender_paused(queued.c.tenant_id, queued.c.sender_number, now)]
    if skip_senders:
        wanted.append(queued.c.sender_number.not_in(skip_senders))
    if skip_tenants:
        wanted.append(queued.c.tenant_id.not_in(skip_tenants))
    # Only a pair whose oldest due job is among the ``limit`` oldest such can hold one of the ``limit``
    # oldest due jobs: a probe per pair, then at most ``limit`` jobs from each of at most ``limit`` pairs.
    head = _oldest_due_of(queued, now, 1, "head")
    leading = (
        sa.select(queued.c.tenant_id, queued.c.sender_number)
        .select_from(queued.join(head, sa.true()))
        .where(*wanted)
        .order_by(head.c.available_at)
        .limit(limit)
        .cte("leading")
    )
    oldest_of_pair = _oldest_due_of(leading, now, limit, "oldest_of_pair")
    # More candidates than wanted: a worker claiming at the same time locks some of them first.
    candidates = (
        sa.select(oldest_of_pair.c.message_id)
        .select_from(leading.join(oldest_of_pair, sa.true()))
        .order_by(oldest_of_pair.c.available_at)
        .limit(limit * 4)
        .subquery("candidates")
    )
    # Checked again as they are locked: another worker may have leased one since. As an array, the
    # candidates are looked up by key (``IN (subquery)`` may be planned as a hash join over the queue).
    candidate_ids = _array_of(candidates)
    return (
        sa.select(dispatch_jobs.c.message_id)
        .where(
            dispatch_jobs.c.message_id == sa.any_(candidate_ids),
            dispatch_jobs.c.available_at <= now,
            _lease_free(dispatch_jobs, now),
        )
        .order_by(dispatch_jobs.c.available_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _oldest_due_of(pairs: sa.CTE, now: datetime, limit: int, name: str) -> LateralFromClause:
    """The oldest due jobs with a free lease of each (tenant_id, sender_number) row of ``pairs``."""
    jobs = dispatch_jobs.alias(f"{name}_jobs")
    in_index_order = sa.tuple_(jobs.c.tenant_id, jobs.c.sender_number, jobs.c.available_at)
    # The pair's due jobs as a range of the index, not as ``tenant_id = … AND sender_number = …``: with
    # those equalities the planner may read the due-time index instead, a skipped sender's backlog first.
    return (
        sa.select(jobs.c.message_id, jobs.c.available_at)
        .where(
            in_index_order > sa.tuple_(pairs.c.tenant_id, pairs.c.sender_number, _NEVER),
            in_index_order <= sa.tuple_(pairs.c.tenant_id, pairs.c.sender_number, now),
            _lease_free(jobs, now),
        )
        .order_by(jobs.c.tenant_id, jobs.c.sender_number, jobs.c.available_at)
        .limit(limit)
        .lateral(name)
    )


def _job_from_row(row: RowMapping) -> DispatchJob:
    return DispatchJob(
        message_id=row["message_id"],
        tenant_id=row["tenant_id"],
        sender=PhoneNumber(row["sender_number"]),
        available_at=row["available_at"],
        created_at=row["created_at"],
        attempts=row["attempts"],
        phase=JobPhase(row["phase"]),
        last_error=row["last_error"],
        unconfirmed_since=row["unconfirmed_since"],
    )
