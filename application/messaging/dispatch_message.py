"""Getting accepted messages to their provider: one attempt at a time, each from a leased job.

The same code runs inline (right after POST /api/send stored the message) and in workers.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from application.campaigns.runner import pause_campaign_of_message
from application.messaging.dispatch_completions import DispatchCompletions
from application.ports.clock import Clock
from application.ports.dispatch_queue import DispatchCompletion, DispatchJob, JobPhase, LeasedAttempt
from application.ports.metrics import Metrics
from application.ports.providers import (
    LookupResult,
    MessagingProvider,
    OutboundRequest,
    OutcomeKind,
    ProviderLookup,
    SendOutcome,
)
from application.ports.unit_of_work import UnitOfWork
from application.tenant_webhooks.events import record_sender_paused
from domain.administration.tenancy import ProviderName
from domain.messaging.failures import Failure, FailureCode
from domain.messaging.messages import Message, MessageStatus
from domain.retry_policy import RetryPolicy

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease_seconds: float = 60.0
    # After an unknown outcome, wait this long for a status callback before looking the message up.
    reconcile_after: timedelta = timedelta(seconds=30)
    # A provider that cannot look messages up (Meta's): how long a message whose send got no answer
    # waits for a status report, from that send, before it is failed (never sent again).
    unconfirmed_after: timedelta = timedelta(hours=1)
    # How long a sender stops sending when WhatsApp's limit is hit or its provider account has a problem.
    sender_pause: timedelta = timedelta(minutes=15)
    # An attempt sends with what its claim read and under the lease the claim took, neither renewed
    # first, while at least this share of ``lease_seconds`` is left of that lease (the lease must outlast
    # a provider call, with room to spare, either way); a later attempt renews the lease and reads again.
    claim_lease_reused_while_left: float = 0.9
    # How long a send's outcome waits for those of other sends, to be written with them in one
    # transaction (``DispatchCompletions``).
    completion_linger_seconds: float = 0.005


class DispatchMessage:
    """Run one leased job: send (or reconcile) its message, then settle the job.

    Never sends a message twice on purpose: a message that is no longer ``accepted`` (a status callback
    or another worker settled it) is left alone, and an unknown outcome is reconciled before any resend.
    """

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        provider: MessagingProvider,
        clock: Clock,
        settings: DispatchSettings,
        *,
        metrics: Metrics,
    ) -> None:
        self._uow_factory = uow_factory
        self._provider = provider
        self._clock = clock
        self._settings = settings
        self._metrics = metrics
        self._completions = DispatchCompletions(
            uow_factory, linger_seconds=settings.completion_linger_seconds
        )

    async def __call__(self, job: DispatchJob, owner: str) -> Message | None:
        leased = self._freshly_claimed(job)
        if leased is None:
            leased = await self._extend_lease_and_load(job, owner)
            if leased is None:
                logger.warning(
                    "lost the lease on message %s before sending; left to its new owner", job.message_id
                )
                return None
        message, tenant = leased.message, leased.tenant
        if message is None or tenant is None:
            await self._finish(job, owner)
            return None
        request = OutboundRequest(
            tenant=tenant,
            message=message,
            account=leased.account,
            provider_number_id=leased.provider_number_id,
            sender_has_account=leased.sender_has_account,
        )
        if message.status is MessageStatus.SCHEDULED:
            taken = await self._take_scheduled(job, owner, request)
            if taken is None or taken.status is not MessageStatus.ACCEPTED:
                return taken
            # Scheduled until this moment, it never reached a provider: nothing to reconcile.
            message, job = taken, dataclasses.replace(job, phase=JobPhase.SEND)
            request = dataclasses.replace(request, message=message)
        elif message.status is not MessageStatus.ACCEPTED:
            await self._finish(job, owner)  # settled elsewhere (a status callback, a reconcile)
            return message
        if job.phase is JobPhase.RECONCILE:
            return await self._reconcile(job, owner, request)
        started = time.perf_counter()
        try:
            outcome = await self._provider.send(request)
        except Exception:
            # Our own adapter failed mid-call: whether the provider got the message is unknown.
            logger.exception("provider call for message %s raised", message.id)
            outcome = SendOutcome(kind=OutcomeKind.UNKNOWN, reason="the provider call failed unexpectedly")
        self._metrics.provider_call(
            request.provider, "send", outcome.kind.value, time.perf_counter() - started
        )
        logger.info(
            "provider answered %s for message %s (attempt %d)",
            outcome.kind.value,
            message.id,
            job.attempts + 1,
            extra={"provider": request.provider.value, "error_code": outcome.error_code},
        )
        return await self._settle(job, owner, message, outcome, request.provider)

    def _freshly_claimed(self, job: DispatchJob) -> LeasedAttempt | None:
        """What the claim read, if the attempt starts soon enough after it that its lease covers the
        attempt nearly as a renewed one would (``DispatchSettings.claim_lease_reused_while_left``)."""
        if job.loaded is None or job.leased_until is None:
            return None
        left = (job.leased_until - self._clock.now()).total_seconds()
        if left < self._settings.lease_seconds * self._settings.claim_lease_reused_while_left:
            return None
        return job.loaded

    async def _extend_lease_and_load(self, job: DispatchJob, owner: str) -> LeasedAttempt | None:
        uow = self._uow_factory()
        async with uow:
            # The job may have waited in this process since it was claimed (for a tenant slot, for the
            # sender's throttle): go on only if the lease is still ours, and make it last this attempt.
            # Otherwise its new owner may be sending it right now.
            until = self._clock.now() + timedelta(seconds=self._settings.lease_seconds)
            leased = await uow.jobs.extend_lease_and_load(
                job.message_id, job.tenant_id, owner=owner, until=until
            )
            if leased is not None:
                await uow.commit()
        return leased

    async def _take_scheduled(self, job: DispatchJob, owner: str, request: OutboundRequest) -> Message | None:
        """A scheduled message whose time has come: accepted, to be sent now; None if it was canceled or
        rescheduled meanwhile (the job's lease decides who was first).

        A free-form one is judged against the contact's 24-hour window now, not when it was scheduled
        (the window may have closed since): if it is closed, the message fails as
        ``session-window-closed`` and is not sent."""
        message, tenant = request.message, request.tenant
        now = self._clock.now()
        uow = self._uow_factory()
        async with uow:
            window_closed = False
            if message.is_free_form and tenant.enforces_session_window:
                conversation = await uow.conversations.get(tenant.id, message.contact)
                window_closed = conversation is None or not conversation.window_open(now)
            if not await uow.jobs.start_scheduled(message.id, message.tenant_id, owner=owner, now=now):
                logger.info("scheduled message %s was changed or taken meanwhile; left alone", message.id)
                return None
            await uow.commit()
        accepted = message.due(now)
        if not window_closed:
            return accepted
        failure = Failure(
            FailureCode.SESSION_WINDOW_CLOSED,
            reason="the contact's 24-hour session window was closed at the scheduled time, and only a "
            "template reaches a contact outside it; the message was not sent",
        )
        return await self._store(job, owner, accepted.failed(failure, now), request.provider)

    async def _settle(
        self, job: DispatchJob, owner: str, message: Message, outcome: SendOutcome, provider: ProviderName
    ) -> Message:
        now = self._clock.now()
        attempts = job.attempts + 1
        if outcome.kind is OutcomeKind.ACCEPTED and outcome.provider_sid:
            settled = message.handed_to_provider(
                outcome.provider_sid, outcome.status or MessageStatus.QUEUED, now, provider=provider
            )
            return await self._store(job, owner, settled, provider)
        if outcome.kind is OutcomeKind.REJECTED:
            failure = _failure(
                outcome,
                provider,
                reason=outcome.reason or "the provider refused the message",
                otherwise=FailureCode.UNKNOWN,
            )
            return await self._store(job, owner, message.failed(failure, now), provider)
        if outcome.kind is OutcomeKind.UNKNOWN:
            await self._reschedule(
                job,
                owner,
                attempts,
                JobPhase.RECONCILE,
                now + self._settings.reconcile_after,
                outcome.reason,
                unconfirmed_since=now,
            )
            return message
        # Retryable: the provider certainly does not have it.
        if outcome.sender_at_limit or outcome.account_problem:
            await self._pause_sender(message, outcome, provider, now)
        if self._settings.retry.exhausted(attempts):
            # The failure is what kept the message from going (a rate limit, an account problem), not
            # that the attempts ran out; without a code of the provider's, the provider was unavailable.
            reason = f"attempts exhausted ({attempts}): {outcome.reason or 'the provider was unavailable'}"
            failure = _failure(outcome, provider, reason=reason, otherwise=FailureCode.PROVIDER_ERROR)
            return await self._store(job, owner, message.failed(failure, now), provider)
        retry_after = timedelta(seconds=outcome.retry_after_seconds) if outcome.retry_after_seconds else None
        delay = self._settings.retry.delay_after(attempts, retry_after=retry_after)
        await self._reschedule(job, owner, attempts, JobPhase.SEND, now + delay, outcome.reason)
        if outcome.failure_code in _THROTTLING:
            await self._pause_campaign(message, outcome, now)
        return message

    async def _pause_campaign(self, message: Message, outcome: SendOutcome, now: datetime) -> None:
        """A campaign's message met the provider's rate or messaging limit: its campaign pauses with the
        reason (its unsent messages, this one included, held back) rather than push on into the limit."""
        reason = f"the provider signalled a limit ({outcome.failure_code}): {outcome.reason or 'no details'}"
        uow = self._uow_factory()
        async with uow:
            paused = await pause_campaign_of_message(uow, message.tenant_id, message.id, reason, now)
            if paused is None:
                return
            await uow.commit()
        logger.warning("campaign %s of tenant %s paused: %s", paused.id, paused.tenant_id, reason)

    async def _pause_sender(
        self, message: Message, outcome: SendOutcome, provider: ProviderName, now: datetime
    ) -> None:
        """Stop the sender for a while, rather than failing each of its messages one by one (they wait,
        unclaimed, and go once it may send again), and tell the tenant: ``sender.paused``."""
        until = now + self._settings.sender_pause
        uow = self._uow_factory()
        async with uow:
            if not await uow.senders.pause(message.tenant_id, message.sender, until, now=now):
                return  # paused already, by another of its messages: the tenant was told then
            await record_sender_paused(
                uow,
                message,
                provider=provider,
                until=until,
                reason=outcome.reason or "the provider refused to send from this number for now",
                failure_code=outcome.failure_code,
                error_code=outcome.error_code,
                now=now,
            )
            await uow.commit()
        logger.warning(
            "sender %s of tenant %s paused until %s: %s",
            message.sender,
            message.tenant_id,
            until.isoformat(),
            outcome.reason,
        )

    async def _reconcile(self, job: DispatchJob, owner: str, request: OutboundRequest) -> Message:
        message = request.message
        now = self._clock.now()
        started = time.perf_counter()
        found = await self._provider.lookup(request)
        provider = request.provider
        self._metrics.provider_call(provider, "lookup", found.result.value, time.perf_counter() - started)
        if found.result is LookupResult.NOT_SUPPORTED:
            return await self._await_status_report(job, owner, message, provider, now)
        if found.result is LookupResult.FOUND and found.provider_sid:
            uow = self._uow_factory()
            async with uow:
                owner_of_sid = await uow.messages.get_by_provider_sid(found.provider_sid)
            if owner_of_sid is not None and owner_of_sid.id != message.id:
                found = ProviderLookup(result=LookupResult.NOT_FOUND)  # that one is another message of ours
        if found.result is LookupResult.FOUND and found.provider_sid:
            settled = message.handed_to_provider(
                found.provider_sid, found.status or MessageStatus.QUEUED, now, provider=provider
            )
            return await self._store(job, owner, settled, provider)
        if found.result is LookupResult.NOT_FOUND:
            # The provider has no such message: sending it now cannot make a duplicate.
            if self._settings.retry.exhausted(job.attempts):
                reason = f"attempts exhausted ({job.attempts}): the provider never confirmed the message"
                # The provider looked and has no such message: it kept failing to answer, nothing more.
                failure = Failure(FailureCode.PROVIDER_ERROR, provider=provider, reason=reason)
                return await self._store(job, owner, message.failed(failure, now), provider)
            await self._reschedule(job, owner, job.attempts, JobPhase.SEND, now, job.last_error)
            return message
        delay = self._settings.retry.delay_after(job.attempts)
        await self._reschedule(
            job,
            owner,
            job.attempts,
            JobPhase.RECONCILE,
            now + delay,
            "lookup unavailable",
            unconfirmed_since=job.unconfirmed_since or now,
        )
        return message

    async def _await_status_report(
        self, job: DispatchJob, owner: str, message: Message, provider: ProviderName, now: datetime
    ) -> Message:
        """The provider cannot be asked whether it has the message: only a status report (which carries
        our id back) settles it, and settles the job with it. Until ``unconfirmed_after`` has passed since
        the send that got no answer, look again later; then fail it as unconfirmed. It is never sent
        again: a message that did reach the provider would reach the customer twice.

        The wait runs from that send, not from the message's acceptance: a message sent late (after
        back-offs, a paused sender, or retried long after it failed) waits as long as any other."""
        since = job.unconfirmed_since or now  # a job queued before the moment was kept starts its wait now
        deadline = since + self._settings.unconfirmed_after
        if now >= deadline:
            reason = (
                "the provider never confirmed the message: its send got no answer and no status report came "
                f"within {_duration(self._settings.unconfirmed_after)}; it was not sent again"
            )
            failure = Failure(FailureCode.OUTCOME_UNCONFIRMED, provider=provider, reason=reason)
            return await self._store(job, owner, message.failed(failure, now), provider)
        await self._reschedule(
            job,
            owner,
            job.attempts,
            JobPhase.RECONCILE,
            min(now + self._settings.reconcile_after, deadline),
            job.last_error,
            unconfirmed_since=since,
        )
        return message

    async def _store(self, job: DispatchJob, owner: str, message: Message, provider: str) -> Message:
        """The message's outcome and the job's end in one transaction (with those of other sends that
        ended about the same time): a crash leaves both or neither."""
        completion = await self._completions.complete(message, owner)
        if completion is DispatchCompletion.LEASE_LOST:
            # Our lease ran out and another worker holds the job now: its answer will count.
            logger.warning("lost the lease on message %s; leaving it to its new owner", message.id)
        elif completion is DispatchCompletion.RECORDED:
            self._metrics.message_status(provider, message.status, message.tenant_id)
        return message

    async def _reschedule(
        self,
        job: DispatchJob,
        owner: str,
        attempts: int,
        phase: JobPhase,
        available_at: datetime,
        last_error: str | None,
        *,
        unconfirmed_since: datetime | None = None,
    ) -> None:
        """``unconfirmed_since``: when the last send's outcome became unknown, for the ``RECONCILE``
        phase; a job due to be sent has none."""
        uow = self._uow_factory()
        async with uow:
            await uow.jobs.reschedule(
                job.message_id,
                owner=owner,
                attempts=attempts,
                phase=phase,
                available_at=available_at,
                last_error=last_error,
                unconfirmed_since=unconfirmed_since,
            )
            await uow.commit()

    async def _finish(self, job: DispatchJob, owner: str) -> None:
        uow = self._uow_factory()
        async with uow:
            await uow.jobs.complete(job.message_id, owner=owner)
            await uow.commit()


# Provider signals that sending on at this pace would only meet more refusals.
_THROTTLING = frozenset({FailureCode.RATE_LIMITED, FailureCode.SENDER_AT_LIMIT})


def _failure(outcome: SendOutcome, provider: ProviderName, *, reason: str, otherwise: FailureCode) -> Failure:
    """The failure of a send that ended with ``outcome``: the adapter's code, else ``otherwise``."""
    return Failure(
        code=outcome.failure_code or otherwise,
        provider=provider,
        provider_code=outcome.error_code,
        provider_message=outcome.provider_error_message,
        reason=reason,
    )


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
