"""A customer's message, as a provider's callback delivers it (once or more).

Nothing in a callback is believed before the provider's adapter proves whom it is for. A callback that
cannot be the provider's is refused before any lookup; authenticating the rest against the database
is counted as an attempt that fails with CallbackRejected, against the limits the adapter names, so
that what forgeries can cost is bounded while the provider's own callbacks are never held back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.consent.recognition import recognise_consent
from application.errors import AlreadyExists, CallbackRejected
from application.inbound.commands import InboundMessage
from application.ports.clock import Clock
from application.ports.media import MediaDownload
from application.ports.provider_callbacks import ProviderCallback, ProviderCallbackReader, ScreenedCallback
from application.ports.rate_limits import RateLimiter
from application.ports.unit_of_work import UnitOfWork
from application.rate_limits import attempt
from application.tenant_webhooks.events import record_message_received
from domain.messaging.messages import Message


@dataclass(frozen=True, slots=True)
class InboundReceipt:
    message: Message
    duplicate: bool  # the provider delivered this message before: nothing was stored this time


class ReceiveInboundMessage:
    """Store a customer's message once, however often the provider delivers it, and update the
    conversation.

    Duplicates are recognised by the provider's message id: looked up first, and a concurrent twin that
    still reaches the unique index is recognised after the fact. The message, its conversation and its
    ``message.received`` event for the tenant's webhooks are written in one transaction. A number that
    serves several tenants on one provider account gives the message to the oldest sender's tenant.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        callbacks: ProviderCallbackReader[InboundMessage],
        clock: Clock,
        *,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._uow = uow
        self._callbacks = callbacks
        self._clock = clock
        self._limiter = limiter

    async def __call__(self, callback: ProviderCallback) -> InboundReceipt:
        screened = await self._callbacks.screen(callback)
        async with attempt(self._limiter, screened.counted_against, failure=CallbackRejected):
            try:
                return await self._receive(screened)
            except AlreadyExists:
                twin = await stored_twin(self._uow, screened.command())
                if twin is None:
                    raise
                return twin

    async def _receive(self, screened: ScreenedCallback[InboundMessage]) -> InboundReceipt:
        async with self._uow:
            tenants = await screened.authenticate(self._uow)
            return await store_inbound(self._uow, tenants[0], screened.command(), self._clock.now())


async def store_inbound(
    uow: UnitOfWork, tenant_id: UUID, inbound: InboundMessage, now: datetime
) -> InboundReceipt:
    """Store ``inbound`` as ``tenant_id``'s in ``uow`` (open, and committed here), with its conversation,
    its contact (created, or given the number written from and the profile name), its
    ``message.received`` event, a download queued for each of its media items (the provider's copies
    need its credentials and expire: the gateway keeps its own), and the consent change it says (STOP,
    START: ``recognise_consent``); a duplicate when a message of that provider id is stored already.

    A concurrent twin that reaches the unique index first makes this raise AlreadyExists (its
    transaction is then spoilt): look the twin up in a transaction of its own.
    """
    existing = await uow.messages.get_by_provider_sid(inbound.provider_message_id)
    if existing is not None:
        return InboundReceipt(message=existing, duplicate=True)
    message = Message.new_inbound(
        tenant_id=tenant_id,
        sender=inbound.sender,
        contact=inbound.contact,
        content=inbound.content,
        provider_sid=inbound.provider_message_id,
        now=now,
        profile_name=inbound.profile_name,
        wa_id=inbound.wa_id,
    )
    await uow.messages.add(message)
    await uow.conversations.record_message(message)
    await uow.contacts.record_message(message)
    for download in MediaDownload.for_message(message, now):
        await uow.media_downloads.enqueue(download)
    await record_message_received(uow, message, message.created_at)
    await recognise_consent(uow, message, now)
    await uow.commit()
    return InboundReceipt(message=message, duplicate=False)


async def stored_twin(uow: UnitOfWork, inbound: InboundMessage) -> InboundReceipt | None:
    """After ``store_inbound`` raised AlreadyExists: the twin another request stored between our lookup
    and our insert, read in a transaction of its own; None if there is none (something else clashed)."""
    async with uow:
        existing = await uow.messages.get_by_provider_sid(inbound.provider_message_id)
    return InboundReceipt(message=existing, duplicate=True) if existing is not None else None
