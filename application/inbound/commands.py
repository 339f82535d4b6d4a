"""What a provider's callback says, in our words: the commands the inbound use cases take.

A provider's adapter builds them from its own fields (``adapters/twilio/callbacks.py``), once the
callback is authenticated.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.messaging.failures import FailureCode
from domain.messaging.messages import MessageContent, MessageStatus
from domain.phone import PhoneNumber


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A customer wrote to one of a tenant's numbers."""

    provider_message_id: str  # the provider's id: a repeated delivery carries the same one
    sender: PhoneNumber  # the tenant's number the customer wrote to
    contact: PhoneNumber  # the customer
    content: MessageContent
    profile_name: str | None = None  # the customer's WhatsApp profile name
    wa_id: str | None = None  # the customer's WhatsApp id, as WhatsApp writes it


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A provider reports what became of a message we sent: it moved on, or failed."""

    provider_message_id: str
    # None: not a status of an outbound message, or one we do not know; the report is ignored.
    status: MessageStatus | None
    reported: str  # the provider's own word for the status, for the log
    error_code: int | None = None  # the provider's error code
    error_message: str | None = None  # a reason a person can act on
    # Our id of the message, when the provider hands it back: a report can overtake the send's own
    # record of the provider's id, and is tied to its message by ours.
    message_id: UUID | None = None
    # The provider's pricing category of the message (Meta's pricing.category), kept for cost reports.
    pricing_category: str | None = None
    # Why it failed, as our code (the adapter maps its provider's error code); the provider's own words.
    failure_code: FailureCode | None = None
    provider_error_message: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionChallenge:
    """A provider checks that a callback URL is ours before it sends anything there (Meta's webhook
    subscription handshake): the URL proves it by echoing ``challenge``."""

    challenge: str
