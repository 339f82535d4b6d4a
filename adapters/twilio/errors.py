"""Twilio's errors in our words: which outcome a refused send is, and the reason a failed message keeps.

The readable reasons for known codes are shared with the send path of the core
(``domain/messaging/provider_errors.py``); what is Twilio's own (which codes may be retried, how the
SDK words an error, how to name a code it gave no words for) is here.
"""

from __future__ import annotations

from collections.abc import Callable

from twilio.base.exceptions import TwilioException

from application.ports.providers import OutcomeKind, SendOutcome
from domain.messaging.provider_errors import describe_error

RATE_LIMITED_CODE = 20429  # Twilio's rate limit: the request was never processed
MESSAGING_LIMIT_CODE = 63018  # the sender hit WhatsApp's messaging limit: nothing was sent
# The SDK prefixes Twilio's own message with what it was doing: "Unable to create record: ...".
_SDK_PREFIX = "Unable to create record: "


def refused_send(error: TwilioException, retry_after_seconds: Callable[[], float | None]) -> SendOutcome:
    """The outcome of a send the SDK raised ``error`` for: retryable (Twilio certainly did not take the
    message; ``retry_after_seconds`` reads how long Twilio asked to wait), unknown (a server error, after
    which Twilio may have it) or rejected (sending it again would fail the same way)."""
    status = int(getattr(error, "status", 0) or 0)
    code = getattr(error, "code", None)
    if code == status:  # the body was not a Twilio error: the SDK puts the HTTP status there
        code = None
    reason = str(
        getattr(error, "msg", None) or getattr(error, "detail", None) or "Twilio refused the message"
    ).removeprefix(_SDK_PREFIX)
    if status == 429 or code in (RATE_LIMITED_CODE, MESSAGING_LIMIT_CODE):
        return SendOutcome(
            kind=OutcomeKind.RETRYABLE,
            error_code=code,
            reason=reason,
            retry_after_seconds=retry_after_seconds(),
            sender_at_limit=code == MESSAGING_LIMIT_CODE,
        )
    if status >= 500 or status == 0:
        return SendOutcome(kind=OutcomeKind.UNKNOWN, error_code=code, reason=reason)
    return SendOutcome(kind=OutcomeKind.REJECTED, error_code=code, reason=reason)


def reported_error(code: int | None, twilio_words: str | None) -> str | None:
    """The reason a status callback's error is kept with: ours for a code we know, else what Twilio
    said, else the code itself."""
    if code is None:
        return twilio_words
    return describe_error(code, twilio_words or f"Twilio error {code}")
