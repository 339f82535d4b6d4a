"""Twilio's errors in our words: which outcome a refused send is, our failure code for each of Twilio's
codes, and the reason a failed message keeps.

The error codes are Twilio's own (another provider's share the same numbers and mean other things), so
the failure code and readable reason for each are chosen here and the core stores them as given: those
of a refused send (``SendOutcome``) and those of a status callback (``StatusReport``), beside Twilio's
own code and words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from twilio.base.exceptions import TwilioException

from application.ports.providers import OutcomeKind, SendOutcome
from domain.messaging.failures import FailureCode, provider_words

RATE_LIMITED_CODE = 20429  # Twilio's rate limit: the request was never processed
MESSAGING_LIMIT_CODE = 63018  # the sender hit WhatsApp's messaging limit: nothing was sent
# The SDK prefixes Twilio's own message with what it was doing: "Unable to create record: ...".
_SDK_PREFIX = "Unable to create record: "


@dataclass(frozen=True, slots=True)
class TwilioErrorRule:
    failure: FailureCode  # the gateway's code for it, the same for every provider's equivalent
    reason: str  # what happened, in words a person can act on


def _rule(failure: FailureCode, reason: str) -> TwilioErrorRule:
    return TwilioErrorRule(failure, reason)


_F = FailureCode

# Our code and a reason a person can act on for each of Twilio's codes we know; any other keeps
# Twilio's own words, and is ``unknown`` (or judged by the HTTP status of a refused send).
TWILIO_ERRORS: Mapping[int, TwilioErrorRule] = {
    20003: _rule(_F.ACCOUNT_MISCONFIGURED, "Twilio refused the account credentials"),
    20429: _rule(_F.RATE_LIMITED, "Twilio's rate limit was exceeded; the message was not processed"),
    21211: _rule(_F.RECIPIENT_INVALID, "the 'To' number is not a valid phone number"),
    21408: _rule(_F.ACCOUNT_MISCONFIGURED, "sending to this region is not enabled on the Twilio account"),
    21610: _rule(_F.RECIPIENT_OPTED_OUT, "the recipient has opted out of messages from this sender"),
    21612: _rule(_F.RECIPIENT_UNAVAILABLE, "Twilio cannot route a message to this number"),
    21614: _rule(_F.RECIPIENT_INVALID, "the 'To' number is not a mobile number"),
    21617: _rule(_F.CONTENT_INVALID, "the message body is too long"),
    21656: _rule(_F.TEMPLATE_REJECTED, "the template's content variables are not valid"),
    30003: _rule(_F.RECIPIENT_UNAVAILABLE, "the recipient's phone is unreachable"),
    30004: _rule(_F.RECIPIENT_UNAVAILABLE, "the message was blocked"),
    30005: _rule(_F.RECIPIENT_INVALID, "the recipient's number is unknown or no longer exists"),
    30006: _rule(
        _F.RECIPIENT_INVALID, "the number cannot receive this message (landline or unreachable carrier)"
    ),
    30007: _rule(_F.CONTENT_INVALID, "the message was filtered as spam or by carrier rules"),
    30008: _rule(_F.PROVIDER_ERROR, "the message could not be delivered (unknown error)"),
    63001: _rule(_F.ACCOUNT_MISCONFIGURED, "WhatsApp could not authenticate the sender's request"),
    63003: _rule(_F.RECIPIENT_UNAVAILABLE, "the recipient's number is not a WhatsApp user"),
    63005: _rule(_F.CONTENT_INVALID, "WhatsApp did not accept the message's content"),
    63007: _rule(
        _F.ACCOUNT_MISCONFIGURED, "the sender number is not a WhatsApp sender of this Twilio account"
    ),
    63012: _rule(_F.PROVIDER_ERROR, "WhatsApp answered Twilio with an internal error"),
    63013: _rule(_F.CONTENT_INVALID, "WhatsApp refused the message as against its policy"),
    63016: _rule(
        _F.SESSION_WINDOW_CLOSED,
        "outside the 24-hour window after the contact's last message only templates can be sent",
    ),
    63018: _rule(_F.SENDER_AT_LIMIT, "the sender has reached WhatsApp's messaging rate limit"),
    63019: _rule(_F.MEDIA_INVALID, "the media could not be downloaded"),
    63020: _rule(
        _F.ACCOUNT_MISCONFIGURED, "the WhatsApp Business Account is not approved to send (or not paid for)"
    ),
    63021: _rule(_F.CONTENT_INVALID, "WhatsApp refused the message's content (unsupported or too long)"),
    63022: _rule(_F.ACCOUNT_MISCONFIGURED, "the sender's WhatsApp certificate (display name) is not valid"),
    63023: _rule(_F.PROVIDER_ERROR, "WhatsApp failed the message with a generic error"),
    63024: _rule(_F.RECIPIENT_INVALID, "the recipient is not a valid WhatsApp user"),
    63027: _rule(_F.TEMPLATE_REJECTED, "the template does not exist in this language"),
    63028: _rule(
        _F.TEMPLATE_REJECTED, "the number of template variables given differs from the number it has"
    ),
    63030: _rule(_F.CONTENT_INVALID, "a parameter is not supported for this type of WhatsApp message"),
    63032: _rule(
        _F.RECIPIENT_UNAVAILABLE, "the recipient cannot receive this message (WhatsApp restrictions)"
    ),
    63038: _rule(_F.RATE_LIMITED, "the Twilio account reached its daily message limit"),
    63049: _rule(_F.MARKETING_LIMITED, "WhatsApp chose not to deliver this marketing message"),
}


def failure_code_for(code: int | None, http_status: int = 0) -> FailureCode | None:
    """Our code for Twilio's ``code`` (None for none); one not in the table is judged by the HTTP status
    of a refused send when there is one: 429 rate-limited, a 5xx provider-error, else unknown."""
    rule = TWILIO_ERRORS.get(code) if code is not None else None
    if rule is not None:
        return rule.failure
    if http_status == 429:
        return FailureCode.RATE_LIMITED
    if http_status >= 500:
        return FailureCode.PROVIDER_ERROR
    return FailureCode.UNKNOWN if code is not None or http_status else None


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
    failure_code = failure_code_for(code, status) or FailureCode.UNKNOWN
    twilio_words = provider_words(reason)
    if status == 429 or code in (RATE_LIMITED_CODE, MESSAGING_LIMIT_CODE):
        return SendOutcome(
            kind=OutcomeKind.RETRYABLE,
            error_code=code,
            reason=reason,
            failure_code=failure_code,
            provider_error_message=twilio_words,
            retry_after_seconds=retry_after_seconds(),
            sender_at_limit=code == MESSAGING_LIMIT_CODE,
        )
    if status >= 500 or status == 0:
        return SendOutcome(kind=OutcomeKind.UNKNOWN, error_code=code, reason=reason)
    # Only a rejection fails the message; the other outcomes keep Twilio's words for the next attempt.
    return SendOutcome(
        kind=OutcomeKind.REJECTED,
        error_code=code,
        reason=readable_reason(code, reason),
        failure_code=failure_code,
        provider_error_message=twilio_words,
    )


def readable_reason(code: int | None, twilio_words: str | None) -> str | None:
    """The reason a failed message keeps: ours for a code we know, else what Twilio said, else the
    code itself."""
    if code is None:
        return twilio_words
    rule = TWILIO_ERRORS.get(code)
    return (rule.reason if rule else None) or twilio_words or f"Twilio error {code}"
