"""Routes each message to the provider its sender sends through."""

from __future__ import annotations

from application.ports.providers import (
    LookupResult,
    MessagingProvider,
    OutboundRequest,
    OutcomeKind,
    ProviderLookup,
    ReadReceipt,
    ReadReceiptOutcome,
    SendOutcome,
)
from domain.administration.tenancy import ProviderName
from domain.messaging.failures import FailureCode
from domain.messaging.messages import MessageContent


class ProviderRouter:
    def __init__(self, providers: dict[ProviderName, MessagingProvider]) -> None:
        self._providers = providers

    def unsupported(self, provider: ProviderName, content: MessageContent) -> str | None:
        adapter = self._providers.get(provider)
        if adapter is None:
            return f"provider {provider} is not enabled here"
        return adapter.unsupported(provider, content)

    async def send(self, request: OutboundRequest) -> SendOutcome:
        provider = self._providers.get(request.provider)
        if provider is None:
            return SendOutcome(
                kind=OutcomeKind.REJECTED,
                reason=f"provider {request.provider} is not enabled here",
                failure_code=FailureCode.ACCOUNT_MISCONFIGURED,
            )
        return await provider.send(request)

    async def mark_read(self, request: OutboundRequest, *, typing_indicator: bool) -> ReadReceipt:
        provider = self._providers.get(request.provider)
        if provider is None:
            return ReadReceipt(ReadReceiptOutcome.REFUSED, f"provider {request.provider} is not enabled here")
        return await provider.mark_read(request, typing_indicator=typing_indicator)

    async def lookup(self, request: OutboundRequest) -> ProviderLookup:
        provider = self._providers.get(request.provider)
        if provider is None:
            return ProviderLookup(result=LookupResult.NOT_FOUND)
        return await provider.lookup(request)
