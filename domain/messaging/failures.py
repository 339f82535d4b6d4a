"""Why a message failed, in the gateway's own words: one stable code whichever provider refused it.

Each provider numbers its errors its own way (Twilio's 63016 is Meta's 131047: the 24-hour window has
closed); each provider's adapter maps its numbers to a ``FailureCode``, and a failed message keeps both:
our code, and the provider's own code and words (``Failure``).

``retryable`` answers one question: would sending the same message again later succeed without anyone
changing anything (the message, the recipient's consent, the account)? ``advice`` says what to do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from domain.administration.tenancy import ProviderName


class FailureCode(enum.StrEnum):
    SESSION_WINDOW_CLOSED = "session-window-closed"
    RECIPIENT_INVALID = "recipient-invalid"
    RECIPIENT_UNAVAILABLE = "recipient-unavailable"
    RECIPIENT_OPTED_OUT = "recipient-opted-out"
    MARKETING_LIMITED = "marketing-limited"
    RATE_LIMITED = "rate-limited"
    SENDER_AT_LIMIT = "sender-at-limit"
    ACCOUNT_SUSPENDED = "account-suspended"
    ACCOUNT_MISCONFIGURED = "account-misconfigured"
    TEMPLATE_REJECTED = "template-rejected"
    CONTENT_INVALID = "content-invalid"
    MEDIA_INVALID = "media-invalid"
    UNSUPPORTED_CONTENT = "unsupported-content"
    PROVIDER_ERROR = "provider-error"
    OUTCOME_UNCONFIRMED = "outcome-unconfirmed"
    UNKNOWN = "unknown"

    @property
    def meaning(self) -> str:
        """What happened, in a few words."""
        return _TRAITS[self].meaning

    @property
    def retryable(self) -> bool:
        """Whether the same message sent again later can succeed with nothing changed."""
        return _TRAITS[self].retryable

    @property
    def advice(self) -> str:
        """What a person can do about it."""
        return _TRAITS[self].advice


@dataclass(frozen=True, slots=True)
class _Traits:
    meaning: str
    retryable: bool
    advice: str


_TRAITS: dict[FailureCode, _Traits] = {
    FailureCode.SESSION_WINDOW_CLOSED: _Traits(
        "more than 24 hours have passed since the customer last wrote",
        False,
        "Send an approved template instead, or wait until the customer writes again.",
    ),
    FailureCode.RECIPIENT_INVALID: _Traits(
        "the recipient's number is not a valid number that can receive this message",
        False,
        "Check the number (country code, no typos) and that it is a mobile number.",
    ),
    FailureCode.RECIPIENT_UNAVAILABLE: _Traits(
        "the recipient cannot be reached on WhatsApp",
        False,
        "Make sure the number has WhatsApp (an up-to-date app, WhatsApp's terms accepted), or reach the "
        "customer another way.",
    ),
    FailureCode.RECIPIENT_OPTED_OUT: _Traits(
        "the recipient has opted out of messages from this sender",
        False,
        "Do not send again until the customer opts in again.",
    ),
    FailureCode.MARKETING_LIMITED: _Traits(
        "WhatsApp held back a marketing message: the person received many of late",
        True,
        "Try again in a day or more; do not resend at once.",
    ),
    FailureCode.RATE_LIMITED: _Traits(
        "the provider's rate limit was reached",
        True,
        "Send again later, and more slowly.",
    ),
    FailureCode.SENDER_AT_LIMIT: _Traits(
        "the sender's number reached a WhatsApp messaging limit",
        True,
        "Wait for the limit to lift (the gateway pauses the sender meanwhile); check the number's "
        "quality rating and messaging limit in WhatsApp Manager.",
    ),
    FailureCode.ACCOUNT_SUSPENDED: _Traits(
        "the provider locked or blocked the WhatsApp Business Account",
        False,
        "Review the account's policy notices in the provider's console and appeal or fix them there.",
    ),
    FailureCode.ACCOUNT_MISCONFIGURED: _Traits(
        "the provider account cannot send as set up: credentials, sender registration, permissions or "
        "billing",
        False,
        "Fix the provider account: its credentials, the sender's registration, the token's permissions, "
        "its payment method.",
    ),
    FailureCode.TEMPLATE_REJECTED: _Traits(
        "the template is missing, not approved, paused or disabled, or its variables do not fit it",
        False,
        "Check the template's name, language and status, and send exactly the variables it expects.",
    ),
    FailureCode.CONTENT_INVALID: _Traits(
        "the provider refused the message's content",
        False,
        "Change the message: its length, its parameters, what it says.",
    ),
    FailureCode.MEDIA_INVALID: _Traits(
        "the media could not be fetched or is not accepted",
        False,
        "Check that the media URL is public and that its type and size are ones WhatsApp accepts.",
    ),
    FailureCode.UNSUPPORTED_CONTENT: _Traits(
        "this kind of message cannot be sent through this provider",
        False,
        "Send another kind of message, or send it through a provider that supports it.",
    ),
    FailureCode.PROVIDER_ERROR: _Traits(
        "the provider failed, or could not be reached, for a reason of its own",
        True,
        "Send the message again later.",
    ),
    FailureCode.OUTCOME_UNCONFIRMED: _Traits(
        "the provider never confirmed the message: it may or may not have reached the recipient",
        False,
        "Check with the recipient before sending again: a resend may reach them twice.",
    ),
    FailureCode.UNKNOWN: _Traits(
        "a failure the gateway does not classify",
        False,
        "Read the provider's code and words, and the provider's documentation for that code.",
    ),
}

MAX_PROVIDER_MESSAGE_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a message failed: our ``code``, the ``provider`` that handled it (None: not recorded), the
    provider's own ``provider_code`` and ``provider_message``, and ``reason``, our words for it."""

    code: FailureCode
    provider: ProviderName | None = None
    provider_code: int | None = None
    provider_message: str | None = None
    reason: str | None = None

    @property
    def retryable(self) -> bool:
        return self.code.retryable

    @property
    def advice(self) -> str:
        return self.code.advice


def provider_words(words: str | None) -> str | None:
    """A provider's own words as a message keeps them: bounded, None when there are none."""
    if words is None or not words.strip():
        return None
    return words.strip()[:MAX_PROVIDER_MESSAGE_LENGTH]
