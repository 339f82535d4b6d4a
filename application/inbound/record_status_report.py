"""A provider's report on a message we sent, as its status callback delivers it.

Authenticated like an inbound message (``receive_message.py``): nothing in it is believed before the
provider's adapter proves whom it is for.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.errors import CallbackRejected
from application.inbound.commands import StatusReport
from application.inbound.delivery_status import commit_status_change
from application.ports.clock import Clock
from application.ports.messages import StatusChange
from application.ports.metrics import Metrics
from application.ports.provider_callbacks import ProviderCallback, ProviderCallbackReader, ScreenedCallback
from application.ports.rate_limits import RateLimiter
from application.ports.unit_of_work import UnitOfWork
from application.rate_limits import attempt
from domain.administration.tenancy import ProviderName
from domain.messaging.messages import Message

logger = logging.getLogger(__name__)


class StatusReportOutcome(enum.StrEnum):
    APPLIED = "applied"  # the message moved forward
    # Stale (logged in the timeline) or a repeat (logged already): the status stays.
    NOT_APPLIED = "not_applied"
    UNKNOWN_MESSAGE = "unknown_message"  # no message of the tenant has this provider message id
    IGNORED_STATUS = "ignored_status"  # not a status of an outbound message (or one we do not know)


@dataclass(frozen=True, slots=True)
class StatusReportResult:
    outcome: StatusReportOutcome
    message: Message | None = None  # the advanced message, when APPLIED


class RecordStatusReport:
    """Apply an authenticated status report: forward only, every distinct report kept in the message's
    timeline.

    Reports arrive out of order and more than once; the repository's conditional update decides whether
    one moves the message. A report can also overtake the send's own record of the provider's message
    id: when it carries our message id, the provider's is attached to the message from it.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        callbacks: ProviderCallbackReader[StatusReport],
        clock: Clock,
        metrics: Metrics,
        *,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._uow = uow
        self._callbacks = callbacks
        self._clock = clock
        self._metrics = metrics
        self._limiter = limiter

    async def __call__(self, callback: ProviderCallback) -> StatusReportResult:
        screened = await self._callbacks.screen(callback)
        async with attempt(self._limiter, screened.counted_against, failure=CallbackRejected):
            return await self._record(screened)

    async def _record(self, screened: ScreenedCallback[StatusReport]) -> StatusReportResult:
        async with self._uow:
            tenants = await screened.authenticate(self._uow)
            return await record_report(
                self._uow,
                screened.command(),
                tenants,
                self._clock.now(),
                metrics=self._metrics,
                provider=self._callbacks.provider,
            )


async def record_report(
    uow: UnitOfWork,
    report: StatusReport,
    tenants: Sequence[UUID],
    now: datetime,
    *,
    metrics: Metrics,
    provider: ProviderName,
) -> StatusReportResult:
    """Apply ``report`` on the message of one of ``tenants`` it is about, in ``uow`` (open, and committed
    here when the report is kept): forward only, every distinct report kept in the timeline."""
    sid = report.provider_message_id
    if report.status is None:
        logger.info("status callback for %s ignored: status %r", sid, report.reported[:40])
        return StatusReportResult(StatusReportOutcome.IGNORED_STATUS)
    change = StatusChange(
        provider_sid=sid,
        status=report.status,
        error_code=report.error_code,
        error_message=report.error_message,
        failure_code=report.failure_code,
        provider_error_message=report.provider_error_message,
        provider=provider,
        pricing_category=report.pricing_category,
    )
    # Found and applied in one statement, with the webhook events and the commit where the database can.
    advance = await uow.messages.advance_status_of(tenants, change, now, commit=True)
    if not advance.found and report.message_id is not None:
        # The report overtook the send's own record of the provider's id: attach it from our id. The
        # send's update, or a concurrent report, may have attached it meanwhile: apply again either way.
        for tenant_id in tenants:
            if await uow.messages.attach_provider_sid(tenant_id, report.message_id, sid):
                break
        advance = await uow.messages.advance_status_of(tenants, change, now, commit=True)
    if not advance.found:
        logger.info("status callback %r for unknown message %s ignored", report.reported, sid)
        return StatusReportResult(StatusReportOutcome.UNKNOWN_MESSAGE)
    await commit_status_change(
        uow, advance.moved, metrics=metrics, provider=provider, committed=advance.committed
    )
    if advance.moved is None:
        return StatusReportResult(StatusReportOutcome.NOT_APPLIED)
    return StatusReportResult(StatusReportOutcome.APPLIED, advance.moved)
