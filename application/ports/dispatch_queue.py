"""The dispatch queue: one leased job per message until it reaches a terminal state."""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.administration.tenancy import ProviderAccount, Tenant
from domain.messaging.messages import Message
from domain.phone import PhoneNumber


class JobPhase(enum.StrEnum):
    SEND = "send"  # call the provider
    RECONCILE = "reconcile"  # the last call's outcome is unknown: find out before sending again


@dataclass(frozen=True, slots=True)
class DispatchJob:
    """The durable promise to get one accepted message to its provider."""

    message_id: UUID
    tenant_id: UUID
    sender: PhoneNumber
    available_at: datetime
    created_at: datetime
    attempts: int = 0
    phase: JobPhase = JobPhase.SEND
    last_error: str | None = None
    # When its last send's outcome became unknown (the answer was lost, or its worker vanished
    # mid-attempt); None while its next step is a send. A provider that cannot look messages up waits
    # for a status report from then.
    unconfirmed_since: datetime | None = None
    # What a claim read for the attempt with the lease it took (``claim_due(load=True)``), and when that
    # lease ends: an attempt that starts soon after needs neither renewed nor read again.
    loaded: LeasedAttempt | None = field(default=None, compare=False, repr=False)
    leased_until: datetime | None = field(default=None, compare=False)

    @classmethod
    def due_now(cls, message: Message, now: datetime) -> DispatchJob:
        """The job for a message just accepted (or accepted again): due at once."""
        return cls(
            message_id=message.id,
            tenant_id=message.tenant_id,
            sender=message.sender,
            available_at=now,
            created_at=now,
        )

    @classmethod
    def scheduled(cls, message: Message, send_at: datetime) -> DispatchJob:
        """The job for a message scheduled for ``send_at``: due then. It counts as waiting in the queue
        from then on too (``created_at``), so a send scheduled weeks ahead does not look like a stuck
        queue."""
        return cls(
            message_id=message.id,
            tenant_id=message.tenant_id,
            sender=message.sender,
            available_at=send_at,
            created_at=send_at,
        )


@dataclass(frozen=True, slots=True)
class LeasedAttempt:
    """What one attempt at a leased job needs, read as its lease is renewed; None where missing."""

    message: Message | None
    tenant: Tenant | None
    # The account of the message's sender (see ``OutboundRequest.account``), its secrets opened.
    account: ProviderAccount | None = None
    provider_number_id: str | None = None  # the sender's id at its provider (Meta's)
    sender_has_account: bool = False  # ``account`` is the sender's own, not its tenant's first Twilio one


class DispatchCompletion(enum.Enum):
    """How completing a job with its message's outcome went."""

    LEASE_LOST = "lease_lost"  # another worker holds the job now: nothing was written
    RECORDED = "recorded"  # the job is gone and the message moved from accepted to its outcome
    # The job is gone; the message had been settled elsewhere and kept its status (its provider SID
    # was attached if it had none).
    SETTLED_ELSEWHERE = "settled_elsewhere"


class DispatchQueue(Protocol):
    """Jobs are leased, not locked: a worker that dies loses its lease and the job becomes due again."""

    async def enqueue(self, job: DispatchJob) -> None: ...
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
        """Lease up to ``limit`` due jobs whose sender is not paused, oldest first, skipping leased ones.

        ``load``: read what each attempt needs in the same statement (``DispatchJob.loaded``, with
        ``leased_until``), where the queue can; a job without it is read when its attempt starts.

        Jobs of ``skip_senders`` and ``skip_tenants`` stay queued: the claimer could not start them soon
        (their sender's rate or their tenant's in-flight cap is used up), and holding them would keep
        other tenants' jobs waiting behind them.

        A job whose lease ran out comes back in the ``RECONCILE`` phase: its owner vanished mid-attempt
        and may have reached the provider. Its send is unconfirmed since that lease ended, unless it was
        already (``unconfirmed_since``).
        """
        ...

    async def claim(
        self, message_id: UUID, *, owner: str, now: datetime, lease_seconds: float
    ) -> DispatchJob | None:
        """Lease this message's job if it is due and free."""
        ...

    async def extend_lease_and_load(
        self, message_id: UUID, tenant_id: UUID, *, owner: str, until: datetime
    ) -> LeasedAttempt | None:
        """Keep the lease until ``until``, and read the message, its tenant and the provider account its
        sender sends through (see ``Sender.account_id``) in the same step; None if ``owner`` no longer
        holds the lease (it must not send, and nothing is read)."""
        ...

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
        """Release the lease and set when the job is due next, its phase, and since when its last send
        is unconfirmed (None: its next step is a send); False if ``owner`` no longer holds it."""
        ...

    async def complete(self, message_id: UUID, *, owner: str | None) -> bool:
        """Remove the job (``owner`` None: whoever holds it); False if ``owner`` no longer holds it."""
        ...

    async def in_flight_from(self, tenant_id: UUID, sender: PhoneNumber) -> int:
        """How many of the sender's jobs are being sent right now (leased) or wait to learn whether
        their last attempt reached the provider (``unconfirmed_since``)."""
        ...

    async def complete_dispatch(self, message: Message, *, owner: str) -> DispatchCompletion:
        """Remove the message's job and record its outcome (the provider's answer: sid, status, error)
        together, only if ``owner`` still holds the lease. The outcome is written on a message still
        ``accepted``; one that a status callback moved on keeps its status, and gets the SID if it had
        none (``SETTLED_ELSEWHERE``).

        Written in the caller's transaction, so a crash leaves both or neither.
        """
        ...

    async def complete_dispatches(self, outcomes: Sequence[tuple[Message, str]]) -> list[DispatchCompletion]:
        """``complete_dispatch`` for each (message, owner), in one step where the queue can; the
        completions in the same order. An ``AlreadyExists`` (a provider id another message has) fails
        them all: the caller completes them one by one then."""
        ...

    async def depth(self, now: datetime) -> tuple[int, datetime | None]:
        """How many jobs wait, and when the oldest was created; a scheduled send's job waits from its
        time on (``DispatchJob.scheduled``), not before."""
        ...

    # Scheduled sends: each step is one conditional change of the message and its job together, so a
    # worker claiming the job at the same moment either takes it first (the step is refused) or finds
    # it gone or moved.

    async def start_scheduled(self, message_id: UUID, tenant_id: UUID, *, owner: str, now: datetime) -> bool:
        """Move a scheduled message to accepted (its time has come), only while ``owner`` holds its job;
        False if it is not scheduled or the lease is not ``owner``'s."""
        ...

    async def reschedule_scheduled(
        self, tenant_id: UUID, message_id: UUID, *, send_at: datetime, now: datetime
    ) -> bool:
        """Move a scheduled message and its job to ``send_at``, only while it is scheduled and no worker
        holds its job; False otherwise (nothing changes)."""
        ...

    async def cancel_scheduled(self, tenant_id: UUID, message_id: UUID, *, now: datetime) -> bool:
        """Mark a scheduled message canceled and remove its job, only while it is scheduled and no worker
        holds its job; False otherwise (nothing changes)."""
        ...
