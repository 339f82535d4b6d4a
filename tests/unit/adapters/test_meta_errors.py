"""Meta's refusals in the core's words: which are final for the message, which pass, which stop the whole
account, and what a person reads about each."""

from __future__ import annotations

import pytest

from adapters.meta.errors import META_ERRORS, Treatment, readable_reason, refused_send, rule_for
from adapters.meta.graph import GraphError, read_error
from application.ports.providers import OutcomeKind
from domain.messaging.failures import FailureCode


def refusal(
    code: int | None,
    *,
    http_status: int = 400,
    subcode: int | None = None,
    details: str | None = None,
    retry_after_seconds: float | None = None,
) -> GraphError:
    return GraphError(
        http_status=http_status,
        code=code,
        subcode=subcode,
        type="OAuthException",
        message=f"(#{code}) something Meta said",
        details=details,
        fbtrace_id="AbCdEf123",
        retry_after_seconds=retry_after_seconds,
    )


REJECTED = [100, 131008, 131009, 131026, 131047, 131051, 131052, 131053, 131021, 133010]
TEMPLATE_PROBLEMS = [132000, 132001, 132005, 132007, 132012, 132015, 132016]
RETRYABLE = [130429, 131056, 131000, 131016, 1, 2, 4, 80007]
ACCOUNT_PROBLEMS = [190, 10, 200, 250, 299, 131031, 368, 131042, 0, 3]


@pytest.mark.parametrize("code", REJECTED + TEMPLATE_PROBLEMS)
def test_a_message_meta_will_never_take_as_it_is_is_rejected(code: int) -> None:
    outcome = refused_send(refusal(code))

    assert outcome.kind is OutcomeKind.REJECTED
    assert outcome.error_code == code
    assert outcome.account_problem is False


@pytest.mark.parametrize("code", TEMPLATE_PROBLEMS)
def test_template_problems_are_template_rejected(code: int) -> None:
    rule = rule_for(code)

    assert rule is not None
    assert rule.failure is FailureCode.TEMPLATE_REJECTED


def test_a_closed_session_window_says_only_a_template_can_be_sent() -> None:
    outcome = refused_send(refusal(131047))
    rule = rule_for(131047)

    assert rule is not None
    assert rule.failure is FailureCode.SESSION_WINDOW_CLOSED
    assert outcome.failure_code is FailureCode.SESSION_WINDOW_CLOSED
    assert outcome.reason is not None
    assert outcome.reason.startswith("more than 24 hours have passed since the customer last wrote")


@pytest.mark.parametrize("code", RETRYABLE)
def test_a_refusal_meta_says_will_pass_is_retryable_after_a_back_off(code: int) -> None:
    outcome = refused_send(refusal(code, http_status=429 if code in (130429, 131056, 4, 80007) else 400))

    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.retry_after_seconds is not None
    assert outcome.retry_after_seconds > 0
    assert outcome.account_problem is False


@pytest.mark.parametrize(("code", "http_status"), [(131000, 500), (131016, 503), (2, 503), (131057, 500)])
def test_a_passing_fault_answered_as_a_server_error_is_unknown_never_resent_blindly(
    code: int, http_status: int
) -> None:
    outcome = refused_send(refusal(code, http_status=http_status))

    assert outcome.kind is OutcomeKind.UNKNOWN
    assert outcome.error_code == code


@pytest.mark.parametrize("code", [130429, 131056])
def test_throughput_and_pair_rate_limits_are_rate_limited(code: int) -> None:
    rule = rule_for(code)

    assert rule is not None
    assert (rule.treatment, rule.failure) == (Treatment.RETRYABLE, FailureCode.RATE_LIMITED)


def test_meta_retry_after_wins_over_our_back_off() -> None:
    outcome = refused_send(refusal(131056, http_status=429, retry_after_seconds=42.0))

    assert (outcome.kind, outcome.retry_after_seconds) == (OutcomeKind.RETRYABLE, 42.0)


def test_the_spam_rate_limit_pauses_the_sender() -> None:
    outcome = refused_send(refusal(131048))

    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.sender_at_limit is True


@pytest.mark.parametrize("code", ACCOUNT_PROBLEMS)
def test_an_account_problem_is_marked_so_the_account_is_paused_not_the_message_failed(code: int) -> None:
    outcome = refused_send(refusal(code, http_status=401 if code == 190 else 403))
    rule = rule_for(code)

    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.account_problem is True
    assert rule is not None
    assert rule.failure in (FailureCode.ACCOUNT_MISCONFIGURED, FailureCode.ACCOUNT_SUSPENDED)
    assert outcome.failure_code is rule.failure


def test_an_expired_token_and_a_locked_account_read_differently() -> None:
    expired, locked = rule_for(190), rule_for(131031)

    assert expired is not None
    assert locked is not None
    assert (expired.failure, locked.failure) == (
        FailureCode.ACCOUNT_MISCONFIGURED,
        FailureCode.ACCOUNT_SUSPENDED,
    )
    assert "token" in expired.reason
    assert "locked" in locked.reason


def test_an_unknown_phone_number_id_is_an_account_problem_not_a_bad_message() -> None:
    outcome = refused_send(refusal(100, subcode=33))

    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.account_problem is True
    assert outcome.reason is not None
    assert "phone-number id" in outcome.reason


def test_meta_own_details_follow_our_reason() -> None:
    outcome = refused_send(refusal(131009, details="Parameter 'to' is not a valid phone number"))

    assert outcome.reason == (
        "a value in the message is not valid for Meta (Meta: Parameter 'to' is not a valid phone number)"
    )


@pytest.mark.parametrize(
    ("http_status", "kind"),
    [
        (429, OutcomeKind.RETRYABLE),
        (500, OutcomeKind.UNKNOWN),
        (503, OutcomeKind.UNKNOWN),
        (400, OutcomeKind.REJECTED),
    ],
)
def test_a_code_not_in_the_table_is_judged_by_the_http_status(http_status: int, kind: OutcomeKind) -> None:
    outcome = refused_send(refusal(999_999, http_status=http_status, details="Something new"))

    assert outcome.kind is kind
    assert outcome.error_code == 999_999
    assert outcome.reason == "Something new"


@pytest.mark.parametrize(
    ("http_status", "kind"),
    [(429, OutcomeKind.RETRYABLE), (502, OutcomeKind.UNKNOWN), (404, OutcomeKind.REJECTED)],
)
def test_a_body_that_is_not_metas_error_is_judged_by_the_http_status(
    http_status: int, kind: OutcomeKind
) -> None:
    error = read_error(http_status, b"<html>Bad gateway</html>", retry_after="7")
    outcome = refused_send(error)

    assert outcome.kind is kind
    assert outcome.error_code is None
    assert outcome.reason
    if kind is OutcomeKind.RETRYABLE:
        assert outcome.retry_after_seconds == 7.0


def test_metas_error_body_is_read_field_by_field() -> None:
    raw = (
        b'{"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,'
        b' "error_subcode": 2494010, "error_data": {"messaging_product": "whatsapp", "details": "Message'
        b' failed to send because more than 24 hours have passed"}, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}}'
    )

    error = read_error(400, raw, retry_after=None)

    assert error == GraphError(
        http_status=400,
        code=131047,
        subcode=2494010,
        type="OAuthException",
        message="(#131047) Re-engagement message",
        details="Message failed to send because more than 24 hours have passed",
        fbtrace_id="Az8or2yhqkZfEZ-_4Qn_Bam",
    )


def test_a_failed_status_keeps_our_reason_for_a_code_we_know_and_metas_words_otherwise() -> None:
    assert readable_reason(131026, None) == META_ERRORS[131026].reason
    assert readable_reason(555_555, "Brand new problem") == "Brand new problem"
    assert readable_reason(555_555, None) == "Meta error 555555"
    assert readable_reason(None, None) is None


def test_every_rule_has_a_reason() -> None:
    for code, rule in META_ERRORS.items():
        assert rule.reason
        if rule.treatment is not Treatment.REJECTED:
            assert rule.back_off_seconds, code
