"""Messaging providers: what each can send, sending one message, and looking up what became of one."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from application.ports.messages import StatusChange
from domain.administration.tenancy import ProviderAccount, ProviderName, Tenant
from domain.messaging.failures import FailureCode
from domain.messaging.messages import Message, MessageContent, MessageStatus


class OutcomeKind(enum.StrEnum):
    ACCEPTED = "accepted"  # the provider took the message and gave it an id
    REJECTED = "rejected"  # permanent: sending it again would fail the same way
    RETRYABLE = "retryable"  # the provider certainly did not take it; safe to try again
    UNKNOWN = "unknown"  # the request may have been processed; never resend blindly


@dataclass(frozen=True, slots=True)
class SendOutcome:
    kind: OutcomeKind
    provider_sid: str | None = None
    status: MessageStatus | None = None
    error_code: int | None = None  # the provider's own code
    # Why, in words a person can act on (the adapter chooses them): a rejected message keeps them.
    reason: str | None = None
    # Why, as our code (the adapter maps its provider's codes): a message that fails keeps it.
    failure_code: FailureCode | None = None
    provider_error_message: str | None = None  # the provider's own words, as it gave them
    retry_after_seconds: float | None = None
    # The sender reached WhatsApp's messaging limit (the provider says which of its errors means that):
    # nothing more goes out from it for a while.
    sender_at_limit: bool = False
    # The account itself is at fault (token revoked, account locked): nothing goes until someone fixes it.
    account_problem: bool = False


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    tenant: Tenant
    message: Message
    # The provider account of the message's sender: its own, or else its tenant's first Twilio account
    # (None: there is neither; a provider that needs one refuses the message).
    account: ProviderAccount | None = None
    # The sender's own id at its provider (Meta's phone-number id), when the provider has one.
    provider_number_id: str | None = None
    # Whether ``account`` is the sender's own; if not, the sender sends through its tenant's provider.
    sender_has_account: bool = False

    @property
    def provider(self) -> ProviderName:
        """Who sends it: the provider of the sender's own account, or else the tenant's provider."""
        if self.sender_has_account and self.account is not None:
            return self.account.provider
        return self.tenant.provider


class LookupResult(enum.StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"  # the lookup failed this time: try again later
    # The provider cannot look a message up (Meta's Cloud API): only its status reports settle it.
    NOT_SUPPORTED = "not_supported"


@dataclass(frozen=True, slots=True)
class ProviderLookup:
    result: LookupResult
    provider_sid: str | None = None
    status: MessageStatus | None = None


class ReadReceiptOutcome(enum.StrEnum):
    MARKED = "marked"  # the customer sees the message read (blue ticks)
    NOT_SUPPORTED = "not_supported"  # the provider has no way to mark a message read (Twilio)
    REFUSED = "refused"  # the provider refused: ``reason`` says why
    UNAVAILABLE = "unavailable"  # no answer from the provider: it may or may not be marked


@dataclass(frozen=True, slots=True)
class ReadReceipt:
    outcome: ReadReceiptOutcome
    reason: str | None = None


class MessagingProvider(Protocol):
    """A provider's adapter (Twilio's, the sandbox's, …), or the router that hands each message to the
    provider it goes through (``adapters/provider_router.py``)."""

    def unsupported(self, provider: ProviderName, content: MessageContent) -> str | None:
        """Why ``content`` cannot go out through ``provider``, in words a person can act on (what to send
        instead), or None when it can. The router asks the adapter of ``provider``; an adapter is only
        asked about its own. Sending asks before anything is stored, and refuses the message then."""
        ...

    async def send(self, request: OutboundRequest) -> SendOutcome: ...
    async def lookup(self, request: OutboundRequest) -> ProviderLookup:
        """Find a message the provider may have created although we never heard its answer."""
        ...

    async def mark_read(self, request: OutboundRequest, *, typing_indicator: bool) -> ReadReceipt:
        """Show the customer that their message (``request.message``, an inbound one, through the
        number it was sent to) was read, and that a reply is being typed when ``typing_indicator``."""
        ...


StatusListener = Callable[[StatusChange], Awaitable[None]]
