"""Read receipts: a customer sees that their message was read, and that a reply is being typed."""

from __future__ import annotations

from uuid import UUID

from application.errors import (
    InvalidInput,
    NotFound,
    ProviderRefused,
    ProviderUnavailable,
    UnsupportedByProvider,
)
from application.ports.providers import MessagingProvider, OutboundRequest, ReadReceiptOutcome
from application.ports.unit_of_work import UnitOfWork
from domain.messaging.messages import Direction


class MarkMessageRead:
    """Mark a customer's message read through the provider of the number it was sent to (Meta's Cloud
    API shows the blue ticks, and the typing indicator for up to 25 seconds or until the reply;
    Twilio has neither: UnsupportedByProvider). Nothing is stored: the provider's answer is the result."""

    def __init__(self, uow: UnitOfWork, provider: MessagingProvider) -> None:
        self._uow = uow
        self._provider = provider

    async def __call__(self, tenant_id: UUID, message_id: UUID, *, typing_indicator: bool = False) -> None:
        async with self._uow:
            message = await self._uow.messages.get(tenant_id, message_id)
            if message is None:
                raise NotFound("no such message")
            if message.direction is not Direction.INBOUND:
                raise InvalidInput("only a customer's message can be marked read; this one was sent by you")
            tenant = await self._uow.tenants.get(tenant_id)
            sender = await self._uow.senders.get_by_number(tenant_id, message.sender)
            if tenant is None or sender is None:
                raise InvalidInput(f"{message.sender} is no longer one of this tenant's senders")
            account = await self._uow.provider_accounts.of_sender(sender)
        request = OutboundRequest(
            tenant=tenant,
            message=message,
            account=account,
            provider_number_id=sender.provider_number_id,
            sender_has_account=sender.account_id is not None,
        )
        receipt = await self._provider.mark_read(request, typing_indicator=typing_indicator)
        reason = receipt.reason or f"{request.provider} did not mark the message read"
        if receipt.outcome is ReadReceiptOutcome.NOT_SUPPORTED:
            raise UnsupportedByProvider(reason)
        if receipt.outcome is ReadReceiptOutcome.REFUSED:
            raise ProviderRefused(reason)
        if receipt.outcome is ReadReceiptOutcome.UNAVAILABLE:
            raise ProviderUnavailable(reason)
