"""Meta's error codes in our words: how a refused send is treated, the reason a person can act on, and
the gateway's failure code for it (``FailureCode``, the same for every provider's equivalent).

The codes are Meta's (the Graph API's and the WhatsApp Cloud API's); Twilio's share some numbers and mean
other things, so each provider keeps its own table. One table serves a refused send (``refused_send``)
and a ``failed`` status webhook (``readable_reason``, ``failure_code_for``). Three treatments:

- rejected: this message as it is will never go: sending it again fails the same way;
- retryable: Meta did not take it and says so (a rate limit, a passing fault): try again later, after
  the back-off given here unless Meta's Retry-After says otherwise. A passing fault answered with a 5xx
  ("something went wrong" as HTTP 500) is unknown instead: Meta failed after it had the request and
  may have created the message, and Meta has no lookup to find out: the status webhooks, which carry
  our message id, settle it;
- account: the account or its number cannot send anything until someone fixes it (a token expired or
  revoked, a permission missing, the account locked or blocked, its payment failing). The message
  itself is not at fault and Meta did not take it: retryable, marked ``account_problem`` so that the
  account is paused and its people told instead of every message failing one by one.

A code not in the table is judged by the HTTP status, as Twilio's are: 429 retryable, a 5xx unknown
(Meta may have the message), any other refusal rejected with Meta's own words.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from adapters.meta.graph import GraphError
from application.ports.providers import OutcomeKind, SendOutcome
from domain.messaging.failures import FailureCode, provider_words

_MAX_REASON = 1000


class Treatment(enum.Enum):
    REJECTED = "rejected"
    RETRYABLE = "retryable"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class MetaErrorRule:
    treatment: Treatment
    failure: FailureCode  # the gateway's code for it, the same for every provider's equivalent
    reason: str  # what happened, in words a person can act on
    back_off_seconds: float | None = None  # how long to wait when Meta gives no Retry-After
    # The sender number reached a limit of WhatsApp's: nothing more goes out from it for a while.
    sender_at_limit: bool = False


def _rejected(failure: FailureCode, reason: str) -> MetaErrorRule:
    return MetaErrorRule(Treatment.REJECTED, failure, reason)


def _retryable(
    failure: FailureCode, reason: str, back_off_seconds: float, *, sender_at_limit: bool = False
) -> MetaErrorRule:
    return MetaErrorRule(Treatment.RETRYABLE, failure, reason, back_off_seconds, sender_at_limit)


def _account(failure: FailureCode, reason: str) -> MetaErrorRule:
    # Someone has to act before anything goes: no point trying again within minutes.
    return MetaErrorRule(Treatment.ACCOUNT, failure, reason, back_off_seconds=15 * 60)


_F = FailureCode
SESSION_WINDOW_CLOSED = 131047
_AUTHENTICATION_FAILED = "the Meta access token is not valid: it expired, was revoked, or lacks a permission"
_PERMISSION_PROBLEM = (
    "the Meta access token lacks a permission the WhatsApp Cloud API needs "
    "(whatsapp_business_messaging, whatsapp_business_management): give the account a token that has it"
)

META_ERRORS: Mapping[int, MetaErrorRule] = {
    # -- this message will not go as it is --------------------------------------------------------------
    100: _rejected(_F.CONTENT_INVALID, "Meta refused a parameter of the message"),
    131008: _rejected(_F.CONTENT_INVALID, "the message lacks a parameter Meta requires"),
    131009: _rejected(_F.CONTENT_INVALID, "a value in the message is not valid for Meta"),
    131026: _rejected(
        _F.RECIPIENT_UNAVAILABLE,
        "the recipient cannot receive this message: the number is not on WhatsApp, or its owner has not "
        "accepted WhatsApp's latest terms or runs an old version of WhatsApp",
    ),
    SESSION_WINDOW_CLOSED: _rejected(
        _F.SESSION_WINDOW_CLOSED,
        "more than 24 hours have passed since the customer last wrote: only a template can be sent",
    ),
    131051: _rejected(_F.UNSUPPORTED_CONTENT, "Meta does not support this type of message"),
    131052: _rejected(_F.MEDIA_INVALID, "the media could not be downloaded"),
    131053: _rejected(
        _F.MEDIA_INVALID,
        "Meta could not fetch or process the media: check that its URL is public and that its type and "
        "size are ones WhatsApp accepts",
    ),
    131021: _rejected(_F.RECIPIENT_INVALID, "the recipient is the sender's own number"),
    131030: _rejected(
        _F.ACCOUNT_MISCONFIGURED,
        "a test number only sends to the recipients added to its allowed list in Meta's app settings",
    ),
    131049: _rejected(
        _F.MARKETING_LIMITED,
        "WhatsApp chose not to deliver this marketing message (the person had many of late): try later",
    ),
    131050: _rejected(
        _F.RECIPIENT_OPTED_OUT, "the recipient has stopped marketing messages from this business"
    ),
    130472: _rejected(_F.RECIPIENT_UNAVAILABLE, "WhatsApp held the message back for one of its experiments"),
    133010: _rejected(
        _F.ACCOUNT_MISCONFIGURED,
        "the sender's number is not registered with WhatsApp's Cloud API: register it in WhatsApp Manager",
    ),
    135000: _rejected(_F.CONTENT_INVALID, "Meta refused the message for an error in it it did not name"),
    132000: _rejected(
        _F.TEMPLATE_REJECTED,
        "the number of template variables given differs from the number the template has",
    ),
    132001: _rejected(
        _F.TEMPLATE_REJECTED, "no approved template of this name exists in this language for the account"
    ),
    132005: _rejected(_F.TEMPLATE_REJECTED, "the template's text with its variables filled in is too long"),
    132007: _rejected(_F.TEMPLATE_REJECTED, "the template's content breaks a WhatsApp policy"),
    132012: _rejected(
        _F.TEMPLATE_REJECTED, "a template variable's value is not of the format the template expects"
    ),
    132015: _rejected(
        _F.TEMPLATE_REJECTED, "the template is paused for its low quality: it cannot be sent for now"
    ),
    132016: _rejected(
        _F.TEMPLATE_REJECTED, "the template was paused too often for its low quality and is now disabled"
    ),
    # -- Meta did not take it: try again later ----------------------------------------------------------
    130429: _retryable(
        _F.RATE_LIMITED, "the sender's number reached Meta's message throughput: sending again shortly", 1.0
    ),
    131056: _retryable(
        _F.RATE_LIMITED,
        "too many messages to this recipient from this number in a short time: sending again shortly",
        6.0,
    ),
    131048: _retryable(
        _F.SENDER_AT_LIMIT,
        "WhatsApp limits how many messages this number sends, as earlier ones were blocked or reported "
        "as spam: see its quality rating in WhatsApp Manager",
        60 * 60.0,
        sender_at_limit=True,
    ),
    4: _retryable(_F.RATE_LIMITED, "the Meta app reached its Graph API call rate limit", 60.0),
    80007: _retryable(_F.RATE_LIMITED, "the WhatsApp Business Account reached its API rate limit", 60.0),
    131000: _retryable(_F.PROVIDER_ERROR, "Meta failed to send the message for a reason of its own", 30.0),
    131016: _retryable(_F.PROVIDER_ERROR, "a WhatsApp service is temporarily unavailable", 30.0),
    131057: _retryable(_F.PROVIDER_ERROR, "the WhatsApp Business Account is in maintenance", 5 * 60.0),
    1: _retryable(_F.PROVIDER_ERROR, "Meta's Graph API failed for a reason of its own", 30.0),
    2: _retryable(_F.PROVIDER_ERROR, "Meta's Graph API is temporarily down or overloaded", 30.0),
    # -- nothing goes until someone fixes the account --------------------------------------------------
    0: _account(_F.ACCOUNT_MISCONFIGURED, _AUTHENTICATION_FAILED + ": give the account a new token"),
    190: _account(
        _F.ACCOUNT_MISCONFIGURED, "the Meta access token expired or was revoked: give the account a new one"
    ),
    3: _account(_F.ACCOUNT_MISCONFIGURED, _PERMISSION_PROBLEM),
    10: _account(_F.ACCOUNT_MISCONFIGURED, _PERMISSION_PROBLEM),
    131005: _account(_F.ACCOUNT_MISCONFIGURED, _PERMISSION_PROBLEM),
    33: _account(
        _F.ACCOUNT_MISCONFIGURED, "the sender's phone number was deleted from the WhatsApp Business Account"
    ),
    131045: _account(
        _F.ACCOUNT_MISCONFIGURED,
        "the sender's phone number is not fully registered (its certificate is wrong)",
    ),
    131042: _account(
        _F.ACCOUNT_MISCONFIGURED,
        "the WhatsApp Business Account has a payment problem: add or fix its payment method in Meta's "
        "Business Manager",
    ),
    131031: _account(
        _F.ACCOUNT_SUSPENDED,
        "Meta locked the WhatsApp Business Account (a policy violation or failed checks)",
    ),
    368: _account(
        _F.ACCOUNT_SUSPENDED, "Meta temporarily blocked the WhatsApp Business Account for a policy violation"
    ),
}

# Graph API permission errors take the whole range 200-299.
_PERMISSION_RULE = _account(_F.ACCOUNT_MISCONFIGURED, _PERMISSION_PROBLEM)
# Code 100 with subcode 33: the object named in the path (the sender's phone-number id) does not exist
# or the token cannot reach it, which no message can fix.
_UNKNOWN_NUMBER_RULE = _account(
    _F.ACCOUNT_MISCONFIGURED,
    "Meta does not know the sender's phone-number id, or the account's token cannot reach it: check the "
    "sender's phone-number id and the token's WhatsApp Business Account",
)


def rule_for(code: int | None, subcode: int | None = None) -> MetaErrorRule | None:
    """How Meta's error ``code`` (with ``subcode``) is treated; None for a code not in the table."""
    if code is None:
        return None
    if code == 100 and subcode == 33:
        return _UNKNOWN_NUMBER_RULE
    if 200 <= code <= 299:
        return _PERMISSION_RULE
    return META_ERRORS.get(code)


def refused_send(error: GraphError) -> SendOutcome:
    """The outcome of a send Meta answered with ``error``."""
    rule = rule_for(error.code, error.subcode)
    if rule is None:
        return _by_http_status(error)
    reason = _with_meta_words(rule.reason, error.meta_words)
    meta_words = provider_words(error.meta_words)
    if rule.treatment is Treatment.REJECTED:
        return SendOutcome(
            kind=OutcomeKind.REJECTED,
            error_code=error.code,
            reason=reason,
            failure_code=rule.failure,
            provider_error_message=meta_words,
        )
    if rule.treatment is Treatment.RETRYABLE and error.http_status >= 500:
        # "Something went wrong", "service unavailable" as a server error: Meta failed after it had the
        # request and may have created the message, which nothing can look up: never resent blindly.
        return SendOutcome(kind=OutcomeKind.UNKNOWN, error_code=error.code, reason=reason)
    return SendOutcome(
        kind=OutcomeKind.RETRYABLE,
        error_code=error.code,
        reason=reason,
        failure_code=rule.failure,
        provider_error_message=meta_words,
        retry_after_seconds=error.retry_after_seconds
        if error.retry_after_seconds is not None
        else rule.back_off_seconds,
        sender_at_limit=rule.sender_at_limit,
        account_problem=rule.treatment is Treatment.ACCOUNT,
    )


def _by_http_status(error: GraphError) -> SendOutcome:
    words = error.meta_words
    if error.http_status == 429:
        return SendOutcome(
            kind=OutcomeKind.RETRYABLE,
            error_code=error.code,
            reason=words or "Meta's rate limit was exceeded",
            failure_code=FailureCode.RATE_LIMITED,
            provider_error_message=provider_words(words),
            retry_after_seconds=error.retry_after_seconds,
        )
    if error.http_status >= 500:
        # Meta failed after it had the request: it may have the message, so it is never sent blindly.
        return SendOutcome(
            kind=OutcomeKind.UNKNOWN,
            error_code=error.code,
            reason=words or f"Meta answered HTTP {error.http_status}",
        )
    reason = words or (
        f"Meta refused the message (error {error.code})"
        if error.code is not None
        else f"Meta refused the message (HTTP {error.http_status})"
    )
    return SendOutcome(
        kind=OutcomeKind.REJECTED,
        error_code=error.code,
        reason=reason[:_MAX_REASON],
        failure_code=FailureCode.UNKNOWN,
        provider_error_message=provider_words(words),
    )


def failure_code_for(code: int | None) -> FailureCode | None:
    """Our code for the error ``code`` of a failed status webhook: unknown for a code not in the
    table, None for none."""
    if code is None:
        return None
    rule = rule_for(code)
    return rule.failure if rule is not None else FailureCode.UNKNOWN


def readable_reason(code: int | None, meta_words: str | None) -> str | None:
    """The reason a failed message keeps: ours for a code we know (with Meta's own words after it), else
    Meta's words, else the code itself."""
    if code is None:
        return meta_words[:_MAX_REASON] if meta_words else None
    rule = rule_for(code)
    if rule is None:
        return (meta_words or f"Meta error {code}")[:_MAX_REASON]
    return _with_meta_words(rule.reason, meta_words)


def _with_meta_words(reason: str, meta_words: str | None) -> str:
    if not meta_words or meta_words.lower() in reason.lower():
        return reason
    return f"{reason} (Meta: {meta_words})"[:_MAX_REASON]
