"""A provider's delivery that batches customers' messages and status reports for many numbers of many
tenants (Meta's webhooks), received as the single-callback paths receive them.

The delivery is proven as a whole first (``receive_message.py`` says how what forgeries can cost is
bounded), then each part is routed to the tenant whose number it is about, and each message and report
in it is applied exactly as a provider callback about that one thing would be: a customer's message
stored once however often it comes (``store_inbound``), a report applied only if it moves its message
forward and kept in the timeline (``record_report``). Proving the delivery and routing a part read
the database only when the adapter cannot answer from what it knows to be current (``needs_lookup``):
then a status costs no query before it is recorded.

Each item has a transaction of its own, so one that cannot be applied holds back none of the others:
it is logged and the rest goes on, since a provider that is refused delivers the whole batch again,
for days. Only what may succeed on a later delivery makes the whole delivery fail: the database being
unavailable (StorageUnavailable) or giving a transaction up for a concurrent one; what was applied
before then is recognised as a repeat when the provider delivers the batch again.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field, replace

from application.errors import AlreadyExists, CallbackRejected, StorageUnavailable, TransactionConflict
from application.inbound.commands import InboundMessage, StatusReport
from application.inbound.receive_message import InboundReceipt, store_inbound, stored_twin
from application.inbound.record_status_report import StatusReportResult, record_report
from application.ports.clock import Clock
from application.ports.metrics import Metrics
from application.ports.provider_callbacks import (
    DeliveryPart,
    ProviderCallback,
    ProviderDeliveryReader,
    Recipient,
    SenderQualityPart,
    SenderQualitySink,
    TemplateStatusSink,
    TemplateUpdatesPart,
)
from application.ports.rate_limits import RateLimiter
from application.ports.unit_of_work import UnitOfWork
from application.rate_limits import attempt

logger = logging.getLogger(__name__)

# What makes the whole delivery fail, for the provider to deliver it again later.
_WORTH_A_REDELIVERY = (StorageUnavailable, TransactionConflict)


@dataclass(slots=True)
class DeliveryReceipt:
    """What became of a delivery's items."""

    inbound: list[InboundReceipt] = field(default_factory=list)  # customers' messages, stored or repeats
    reports: list[StatusReportResult] = field(default_factory=list)
    unrouted: int = 0  # items of parts no tenant has (an unknown number, another account's)
    failed: int = 0  # items that could not be applied (each logged)
    template_updates: int = 0  # template status or quality changes applied to a tenant's catalogue
    campaigns_paused: int = 0  # campaigns paused because their sender's quality or limit fell


class ReceiveProviderDelivery:
    """Receive a provider's delivery: prove it, then store its customers' messages and apply its status
    reports, each for the tenant whose number it is about."""

    def __init__(
        self,
        uow: UnitOfWork,
        deliveries: ProviderDeliveryReader,
        clock: Clock,
        metrics: Metrics,
        *,
        limiter: RateLimiter | None = None,
        template_updates: TemplateStatusSink | None = None,
        sender_quality: SenderQualitySink | None = None,
    ) -> None:
        self._uow = uow
        self._deliveries = deliveries
        self._clock = clock
        self._metrics = metrics
        self._limiter = limiter
        self._template_updates = template_updates
        self._sender_quality = sender_quality

    async def __call__(self, callback: ProviderCallback) -> DeliveryReceipt:
        screened = await self._deliveries.screen(callback)
        counted = attempt(self._limiter, screened.counted_against, failure=CallbackRejected)
        async with counted, self._transaction_if(screened.needs_lookup):
            await screened.authenticate(self._uow)
        receipt = DeliveryReceipt()
        for part in screened.parts():
            await self._receive_part(part, receipt)
        if self._template_updates is not None:
            for template_part in screened.template_parts():
                await self._apply_template_updates(self._template_updates, template_part, receipt)
        if self._sender_quality is not None:
            for quality_part in screened.sender_quality_parts():
                await self._apply_sender_quality(self._sender_quality, quality_part, receipt)
        return receipt

    async def _apply_sender_quality(
        self, sink: SenderQualitySink, part: SenderQualityPart, receipt: DeliveryReceipt
    ) -> None:
        async with self._uow:
            accounts = await part.proven_accounts(self._uow)
        for change in part.changes:
            try:
                receipt.campaigns_paused += await sink(change, accounts)
            except _WORTH_A_REDELIVERY:
                raise
            except Exception:
                logger.exception(
                    "%s sender %s: its quality change could not be applied; the rest of the delivery goes on",
                    self._deliveries.provider,
                    change.number,
                )
                receipt.failed += 1

    async def _apply_template_updates(
        self, sink: TemplateStatusSink, part: TemplateUpdatesPart, receipt: DeliveryReceipt
    ) -> None:
        async with self._uow:
            accounts = await part.proven_accounts(self._uow)
        for update in part.updates:
            try:
                receipt.template_updates += await sink(update, accounts)
            except _WORTH_A_REDELIVERY:
                raise
            except Exception:
                logger.exception(
                    "%s template %s: its update could not be applied; the rest of the delivery goes on",
                    self._deliveries.provider,
                    update.provider_template_id[:80],
                )
                receipt.failed += 1

    async def _receive_part(self, part: DeliveryPart, receipt: DeliveryReceipt) -> None:
        items = len(part.inbound) + len(part.statuses)
        try:
            async with self._transaction_if(part.needs_lookup):
                recipient = await part.recipient(self._uow)
        except _WORTH_A_REDELIVERY:
            raise
        except Exception:
            logger.exception(
                "%s delivery: the tenant of number %s could not be found; its %d items are skipped",
                self._deliveries.provider,
                part.number[:80],
                items,
            )
            receipt.failed += items
            return
        if recipient is None:
            receipt.unrouted += items
            return
        for inbound in part.inbound:
            try:
                receipt.inbound.append(await self._store(recipient, inbound))
            except _WORTH_A_REDELIVERY:
                raise
            except Exception:
                logger.exception(
                    "%s message %s for tenant %s could not be stored; the rest of the delivery goes on",
                    self._deliveries.provider,
                    inbound.provider_message_id[:80],
                    recipient.tenant_id,
                )
                receipt.failed += 1
        for report in part.statuses:
            try:
                receipt.reports.append(await self._record(recipient, report))
            except _WORTH_A_REDELIVERY:
                raise
            except Exception:
                logger.exception(
                    "%s status %r of message %s for tenant %s could not be applied; the rest of the "
                    "delivery goes on",
                    self._deliveries.provider,
                    report.reported[:40],
                    report.provider_message_id[:80],
                    recipient.tenant_id,
                )
                receipt.failed += 1

    def _transaction_if(self, needed: bool) -> AbstractAsyncContextManager[object]:
        # What the adapter answers from memory needs no connection: none is taken from the pool.
        return self._uow if needed else nullcontext()

    async def _store(self, recipient: Recipient, inbound: InboundMessage) -> InboundReceipt:
        # The tenant's number as the tenant has it: its conversations and history then hold one number.
        inbound = replace(inbound, sender=recipient.number)
        try:
            async with self._uow:
                return await store_inbound(self._uow, recipient.tenant_id, inbound, self._clock.now())
        except AlreadyExists:
            twin = await stored_twin(self._uow, inbound)
            if twin is None:
                raise
            return twin

    async def _record(self, recipient: Recipient, report: StatusReport) -> StatusReportResult:
        async with self._uow:
            return await record_report(
                self._uow,
                report,
                [recipient.tenant_id],
                self._clock.now(),
                metrics=self._metrics,
                provider=self._deliveries.provider,
            )
