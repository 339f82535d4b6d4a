"""The dispatcher: claims due jobs and runs them, within per-sender and per-tenant limits.

One runs inside every ``serve`` process (unless disabled) and in every ``wa-gateway worker``; they
share the queue through the database, so any number can run side by side. The polling loop itself
(claim, run a bounded number, back off, stop) is ``application/polling_worker.py``'s.

It claims only what it can start soon: a job it holds while it waits for its sender's rate or its
tenant's in-flight cap takes a slot (``max_concurrent_sends``) that another tenant's job could use, so
a sender with a second's worth of jobs already waiting, and a tenant with as many jobs held as its cap,
are left out of the next claim until they catch up. One busy sender's backlog then cannot starve the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from application.log_context import log_context
from application.messaging.dispatch_message import DispatchMessage
from application.polling_worker import PollingWorker
from application.ports.clock import Clock
from application.ports.dispatch_queue import DispatchJob
from application.ports.unit_of_work import UnitOfWork
from domain.messaging.messages import Message
from domain.phone import PhoneNumber

logger = logging.getLogger(__name__)

_Key = TypeVar("_Key")


@dataclass(frozen=True, slots=True)
class DispatcherSettings:
    batch_size: int = 50
    poll_interval_seconds: float = 0.25
    max_concurrent_sends: int = 200
    max_in_flight_per_tenant: int = 50
    sender_messages_per_second: float = 80.0  # WhatsApp's default throughput per business number
    lease_seconds: float = 60.0


class SenderThrottle:
    """A token bucket per sender: at most ``rate`` messages a second, in bursts of at most ``rate``."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._clock = clock
        self._tokens: dict[str, float] = {}
        self._updated: dict[str, float] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def acquire(self, sender: PhoneNumber) -> None:
        key = sender.e164
        async with self._locks[key]:
            while True:
                now = self._clock()
                refill = (now - self._updated.get(key, now)) * self._rate
                tokens = min(self._rate, self._tokens.get(key, self._rate) + refill)
                self._updated[key] = now
                if tokens >= 1:
                    self._tokens[key] = tokens - 1
                    return
                self._tokens[key] = tokens
                await asyncio.sleep((1 - tokens) / self._rate)


class Dispatcher(PollingWorker[DispatchJob, UUID, Message]):
    name = "dispatcher"
    activity = "dispatching"
    drain_seconds = 15.0
    _logger = logger

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        dispatch: DispatchMessage,
        clock: Clock,
        settings: DispatcherSettings,
        *,
        owner: str | None = None,
        throttle: SenderThrottle | None = None,
    ) -> None:
        super().__init__(
            owner=owner,
            batch_size=settings.batch_size,
            poll_interval_seconds=settings.poll_interval_seconds,
            max_concurrent=settings.max_concurrent_sends,
        )
        self._uow_factory = uow_factory
        self._dispatch = dispatch
        self._clock = clock
        self._settings = settings
        self._tenant_slots: defaultdict[UUID, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.max_in_flight_per_tenant)
        )
        self._throttle = throttle or SenderThrottle(settings.sender_messages_per_second, _monotonic)
        # What this process holds, to claim only what it can start soon (see the module's docstring).
        self._held_per_tenant: Counter[UUID] = Counter()
        self._waiting_per_sender: Counter[PhoneNumber] = Counter()  # held, not yet let through its rate
        self._waiting_for_rate: set[UUID] = set()
        self._sender_backlog_cap = max(1, math.ceil(settings.sender_messages_per_second))

    async def claim(self, message_id: UUID) -> DispatchJob | None:
        """Lease one message's job (inline dispatch right after it was accepted)."""
        uow = self._uow_factory()
        async with uow:
            job = await uow.jobs.claim(
                message_id,
                owner=self.owner,
                now=self._clock.now(),
                lease_seconds=self._settings.lease_seconds,
            )
            await uow.commit()
        return job

    def _key(self, job: DispatchJob) -> UUID:
        return job.message_id

    def _started(self, job: DispatchJob) -> None:
        # Counted from here, not from when the task first runs: the next claim may come before that.
        self._held_per_tenant[job.tenant_id] += 1
        self._waiting_per_sender[job.sender] += 1
        self._waiting_for_rate.add(job.message_id)

    def _through_rate(self, job: DispatchJob) -> None:
        if job.message_id in self._waiting_for_rate:
            self._waiting_for_rate.discard(job.message_id)
            _decrement(self._waiting_per_sender, job.sender)

    def _ended(self, job: DispatchJob) -> None:
        self._through_rate(job)
        _decrement(self._held_per_tenant, job.tenant_id)

    def _saturated(self) -> tuple[list[PhoneNumber], list[UUID]]:
        """The senders and tenants whose jobs this process could not start soon if it claimed more."""
        senders = [s for s, n in self._waiting_per_sender.items() if n >= self._sender_backlog_cap]
        tenants = [
            t for t, n in self._held_per_tenant.items() if n >= self._settings.max_in_flight_per_tenant
        ]
        return senders, tenants

    def _log_context(self, job: DispatchJob) -> contextlib.AbstractContextManager[None]:
        # Every log line of this attempt names it (inline, it also keeps the request's id).
        return log_context(job_id=uuid.uuid4().hex[:16], message_id=str(job.message_id))

    async def _work(self, job: DispatchJob) -> Message | None:
        async with self._tenant_slots[job.tenant_id]:
            await self._throttle.acquire(job.sender)
            self._through_rate(job)
            return await self._dispatch(job, self.owner)

    async def _claim_due(self, limit: int) -> list[DispatchJob]:
        skip_senders, skip_tenants = self._saturated()
        uow = self._uow_factory()
        async with uow:
            jobs = await uow.jobs.claim_due(
                owner=self.owner,
                now=self._clock.now(),
                lease_seconds=self._settings.lease_seconds,
                limit=limit,
                skip_senders=skip_senders,
                skip_tenants=skip_tenants,
                load=True,  # each attempt starts with what its claim read (``DispatchMessage``)
            )
            await uow.commit()
        return jobs


def _decrement(counts: Counter[_Key], key: _Key) -> None:
    counts[key] -= 1
    if counts[key] <= 0:  # a long-running worker sees many senders and tenants come and go
        del counts[key]


def _monotonic() -> float:
    return asyncio.get_running_loop().time()
