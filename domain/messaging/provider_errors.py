"""Readable reasons for the error codes providers report on WhatsApp messages.

A failed message keeps its provider's error code and a reason a person can act on: ours for the codes
below, else the provider's own words. The codes are the providers' own (Twilio's, five digits, today).
"""

from __future__ import annotations

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


def describe_error(code: int | None, fallback: str | None = None) -> str | None:
    """The reason to store with a failed message: ours for known codes, else the provider's own words
    (``fallback``), else the code itself."""
    if code is None:
        return fallback
    return _REASONS.get(code, fallback or f"provider error {code}")
