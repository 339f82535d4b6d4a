"""Twilio's refusals in the core's words: retryable, unknown or rejected, and which of them pause a sender."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from adapters.twilio.errors import readable_reason, refused_send
from application.ports.providers import OutcomeKind


def refusal(status: int, code: int | None) -> TwilioRestException:
    return TwilioRestException(status, "https://api.twilio.com/Messages.json", msg="refused", code=code)


def test_whatsapps_messaging_limit_is_retryable_and_pauses_the_sender() -> None:
    outcome = refused_send(refusal(429, 63018), lambda: 60.0)

    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.sender_at_limit is True
    assert outcome.retry_after_seconds == 60.0


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, 20429, OutcomeKind.RETRYABLE),
        (500, 20500, OutcomeKind.UNKNOWN),
        (400, 21211, OutcomeKind.REJECTED),
    ],
)
def test_other_refusals_leave_the_sender_alone(status: int, code: int, kind: OutcomeKind) -> None:
    outcome = refused_send(refusal(status, code), lambda: None)

    assert outcome.kind is kind
    assert outcome.sender_at_limit is False


def test_a_rejection_is_kept_with_our_reason_for_a_code_we_know() -> None:
    outcome = refused_send(refusal(400, 21610), lambda: None)

    assert outcome.reason == "the recipient has opted out of messages from this sender"


def test_a_rejection_with_a_code_we_do_not_know_keeps_twilios_words_without_the_sdks_prefix() -> None:
    outcome = refused_send(
        TwilioRestException(
            400, "https://api.twilio.com/Messages.json", msg="Unable to create record: Nope", code=21999
        ),
        lambda: None,
    )

    assert (outcome.kind, outcome.reason) == (OutcomeKind.REJECTED, "Nope")


def test_a_retryable_refusal_keeps_twilios_words() -> None:
    outcome = refused_send(refusal(429, 20429), lambda: None)

    assert outcome.reason == "refused"


def test_a_status_callbacks_error_is_ours_for_a_known_code_else_twilios_words_else_the_code() -> None:
    assert readable_reason(63016, "Failed to send freeform message") == (
        "outside the 24-hour window after the contact's last message only templates can be sent"
    )
    assert readable_reason(12345, "Carrier said no") == "Carrier said no"
    assert readable_reason(12345, None) == "Twilio error 12345"
    assert readable_reason(None, "Carrier said no") == "Carrier said no"
