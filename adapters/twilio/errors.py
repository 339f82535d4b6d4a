"""Twilio's errors in our words: which outcome a refused send is, and the reason a failed message keeps.

The error codes are Twilio's own (another provider's share the same numbers and mean other things), so
the readable reason for each is chosen here and the core stores it as given: the reason of a refused
send (``SendOutcome.reason``) and the error message of a status callback (``StatusReport``).
"""

from __future__ import annotations

from collections.abc import Callable

from twilio.base.exceptions import TwilioException

from application.ports.providers import OutcomeKind, SendOutcome

RATE_LIMITED_CODE = 20429  # Twilio's rate limit: the request was never processed
MESSAGING_LIMIT_CODE = 63018  # the sender hit WhatsApp's messaging limit: nothing was sent
# The SDK prefixes Twilio's own message with what it was doing: "Unable to create record: ...".
_SDK_PREFIX = "Unable to create record: "

# A reason a person can act on for each code we know; any other keeps Twilio's own words.
_REASONS: dict[int, str] = {
    20003: "Twilio refused the account credentials",
    20429: "Twilio's rate limit was exceeded; the message was not processed",
    21211: "the 'To' number is not a valid phone number",
    21408: "sending to this region is not enabled on the Twilio account",
    21610: "the recipient has opted out of messages from this sender",
    21612: "Twilio cannot route a message to this number",
    21614: "the 'To' number is not a mobile number",
    21617: "the message body is too long",
    21656: "the template's content variables are not valid",
    30003: "the recipient's phone is unreachable",
    30004: "the message was blocked",
    30005: "the recipient's number is unknown or no longer exists",
    30006: "the number cannot receive this message (landline or unreachable carrier)",
    30007: "the message was filtered as spam or by carrier rules",
    30008: "the message could not be delivered (unknown error)",
    63003: "the recipient's number is not a WhatsApp user",
    63007: "the sender number is not a WhatsApp sender of this Twilio account",
    63016: "outside the 24-hour window after the contact's last message only templates can be sent",
    63018: "the sender has reached WhatsApp's messaging rate limit",
    63024: "the recipient is not a valid WhatsApp user",
    63032: "the recipient cannot receive this message (WhatsApp restrictions)",
    63049: "WhatsApp chose not to deliver this marketing message",
}


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
    # Only a rejection fails the message; the other outcomes keep Twilio's words for the next attempt.
    return SendOutcome(kind=OutcomeKind.REJECTED, error_code=code, reason=readable_reason(code, reason))


def readable_reason(code: int | None, twilio_words: str | None) -> str | None:
    """The reason a failed message keeps: ours for a code we know, else what Twilio said, else the
    code itself."""
    if code is None:
        return twilio_words
    return _REASONS.get(code) or twilio_words or f"Twilio error {code}"
