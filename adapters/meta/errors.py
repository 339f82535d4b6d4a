"""Meta's error codes in our words: how a refused send is treated, the reason a person can act on, and a
stable code word of the gateway's.

The codes are Meta's (the Graph API's and the WhatsApp Cloud API's); Twilio's share some numbers and mean
other things, so each provider keeps its own table. One table serves a refused send (``refused_send``)
and a ``failed`` status webhook (``readable_reason``). Three treatments:

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

_MAX_REASON = 1000


class Treatment(enum.Enum):
    REJECTED = "rejected"
    RETRYABLE = "retryable"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class MetaErrorRule:
    treatment: Treatment
    word: str  # the gateway's own code word for it, stable whatever Meta's wording
    reason: str  # what happened, in words a person can act on
    back_off_seconds: float | None = None  # how long to wait when Meta gives no Retry-After
    # The sender number reached a limit of WhatsApp's: nothing more goes out from it for a while.
    sender_at_limit: bool = False


def _rejected(word: str, reason: str) -> MetaErrorRule:
    return MetaErrorRule(Treatment.REJECTED, word, reason)


def _retryable(
    word: str, reason: str, back_off_seconds: float, *, sender_at_limit: bool = False
) -> MetaErrorRule:
    return MetaErrorRule(Treatment.RETRYABLE, word, reason, back_off_seconds, sender_at_limit)


def _account(word: str, reason: str) -> MetaErrorRule:
    # Someone has to act before anything goes: no point trying again within minutes.
    return MetaErrorRule(Treatment.ACCOUNT, word, reason, back_off_seconds=15 * 60)


SESSION_WINDOW_CLOSED = 131047
ACCOUNT_MISCONFIGURED = "account-misconfigured"
ACCOUNT_SUSPENDED = "account-suspended"
_AUTHENTICATION_FAILED = "the Meta access token is not valid: it expired, was revoked, or lacks a permission"
_PERMISSION_PROBLEM = (
    "the Meta access token lacks a permission the WhatsApp Cloud API needs "
    "(whatsapp_business_messaging, whatsapp_business_management): give the account a token that has it"
)
_TEMPLATE_PARAMETERS = "template-parameters-mismatch"

META_ERRORS: Mapping[int, MetaErrorRule] = {
    # -- this message will not go as it is --------------------------------------------------------------
    100: _rejected("invalid-request", "Meta refused a parameter of the message"),
    131008: _rejected("invalid-request", "the message lacks a parameter Meta requires"),
    131009: _rejected("invalid-request", "a value in the message is not valid for Meta"),
    131026: _rejected(
        "recipient-unavailable",
        "the recipient cannot receive this message: the number is not on WhatsApp, or its owner has not "
        "accepted WhatsApp's latest terms or runs an old version of WhatsApp",
    ),
    SESSION_WINDOW_CLOSED: _rejected(
        "session-window-closed",
        "more than 24 hours have passed since the customer last wrote: only a template can be sent",
    ),
    131051: _rejected("unsupported-message-type", "Meta does not support this type of message"),
    131052: _rejected("media-unavailable", "the media could not be downloaded"),
    131053: _rejected(
        "media-unavailable",
        "Meta could not fetch or process the media: check that its URL is public and that its type and "
        "size are ones WhatsApp accepts",
    ),
    131021: _rejected("recipient-is-sender", "the recipient is the sender's own number"),
    131030: _rejected(
        "recipient-not-allowed",
        "a test number only sends to the recipients added to its allowed list in Meta's app settings",
    ),
    131049: _rejected(
        "marketing-limited",
        "WhatsApp chose not to deliver this marketing message (the person had many of late): try later",
    ),
    131050: _rejected(
        "recipient-opted-out", "the recipient has stopped marketing messages from this business"
    ),
    130472: _rejected("recipient-in-experiment", "WhatsApp held the message back for one of its experiments"),
    133010: _rejected(
        "sender-not-registered",
        "the sender's number is not registered with WhatsApp's Cloud API: register it in WhatsApp Manager",
    ),
    135000: _rejected("invalid-request", "Meta refused the message for an error in it it did not name"),
    132000: _rejected(
        _TEMPLATE_PARAMETERS,
        "the number of template variables given differs from the number the template has",
    ),
    132001: _rejected(
        "template-not-found", "no approved template of this name exists in this language for the account"
    ),
    132005: _rejected(
        "template-text-too-long", "the template's text with its variables filled in is too long"
    ),
    132007: _rejected("template-policy-violation", "the template's content breaks a WhatsApp policy"),
    132012: _rejected(
        "template-parameter-format", "a template variable's value is not of the format the template expects"
    ),
    132015: _rejected(
        "template-paused", "the template is paused for its low quality: it cannot be sent for now"
    ),
    132016: _rejected(
        "template-disabled", "the template was paused too often for its low quality and is now disabled"
    ),
    # -- Meta did not take it: try again later ----------------------------------------------------------
    130429: _retryable(
        "rate-limited", "the sender's number reached Meta's message throughput: sending again shortly", 1.0
    ),
    131056: _retryable(
        "rate-limited",
        "too many messages to this recipient from this number in a short time: sending again shortly",
        6.0,
    ),
    131048: _retryable(
        "sender-rate-limited",
        "WhatsApp limits how many messages this number sends, as earlier ones were blocked or reported "
        "as spam: see its quality rating in WhatsApp Manager",
        60 * 60.0,
        sender_at_limit=True,
    ),
    4: _retryable("rate-limited", "the Meta app reached its Graph API call rate limit", 60.0),
    80007: _retryable("rate-limited", "the WhatsApp Business Account reached its API rate limit", 60.0),
    131000: _retryable("provider-error", "Meta failed to send the message for a reason of its own", 30.0),
    131016: _retryable("provider-unavailable", "a WhatsApp service is temporarily unavailable", 30.0),
    131057: _retryable("provider-unavailable", "the WhatsApp Business Account is in maintenance", 5 * 60.0),
    1: _retryable("provider-error", "Meta's Graph API failed for a reason of its own", 30.0),
    2: _retryable("provider-unavailable", "Meta's Graph API is temporarily down or overloaded", 30.0),
    # -- nothing goes until someone fixes the account --------------------------------------------------
    0: _account(ACCOUNT_MISCONFIGURED, _AUTHENTICATION_FAILED + ": give the account a new token"),
    190: _account(
        ACCOUNT_MISCONFIGURED, "the Meta access token expired or was revoked: give the account a new one"
    ),
    3: _account(ACCOUNT_MISCONFIGURED, _PERMISSION_PROBLEM),
    10: _account(ACCOUNT_MISCONFIGURED, _PERMISSION_PROBLEM),
    131005: _account(ACCOUNT_MISCONFIGURED, _PERMISSION_PROBLEM),
    33: _account(
        ACCOUNT_MISCONFIGURED, "the sender's phone number was deleted from the WhatsApp Business Account"
    ),
    131045: _account(
        ACCOUNT_MISCONFIGURED, "the sender's phone number is not fully registered (its certificate is wrong)"
    ),
    131042: _account(
        ACCOUNT_MISCONFIGURED,
        "the WhatsApp Business Account has a payment problem: add or fix its payment method in Meta's "
        "Business Manager",
    ),
    131031: _account(
        ACCOUNT_SUSPENDED, "Meta locked the WhatsApp Business Account (a policy violation or failed checks)"
    ),
    368: _account(
        ACCOUNT_SUSPENDED, "Meta temporarily blocked the WhatsApp Business Account for a policy violation"
    ),
}

# Graph API permission errors take the whole range 200-299.
_PERMISSION_RULE = _account(ACCOUNT_MISCONFIGURED, _PERMISSION_PROBLEM)
# Code 100 with subcode 33: the object named in the path (the sender's phone-number id) does not exist
# or the token cannot reach it, which no message can fix.
_UNKNOWN_NUMBER_RULE = _account(
    ACCOUNT_MISCONFIGURED,
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
    if rule.treatment is Treatment.REJECTED:
        return SendOutcome(kind=OutcomeKind.REJECTED, error_code=error.code, reason=reason)
    if rule.treatment is Treatment.RETRYABLE and error.http_status >= 500:
        # "Something went wrong", "service unavailable" as a server error: Meta failed after it had the
        # request and may have created the message, which nothing can look up: never resent blindly.
        return SendOutcome(kind=OutcomeKind.UNKNOWN, error_code=error.code, reason=reason)
    return SendOutcome(
        kind=OutcomeKind.RETRYABLE,
        error_code=error.code,
        reason=reason,
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
    return SendOutcome(kind=OutcomeKind.REJECTED, error_code=error.code, reason=reason[:_MAX_REASON])


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
