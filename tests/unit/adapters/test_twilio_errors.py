"""Twilio's refusals in the core's words: retryable, unknown or rejected, and which of them pause a sender."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from adapters.twilio.errors import refused_send
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
