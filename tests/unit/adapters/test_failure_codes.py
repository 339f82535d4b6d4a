"""One failure vocabulary for every provider: each provider's codes map to ours, and a message that fails
keeps our code, the provider's code and words, whether trying again can help, and what to do."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

import pytest
from twilio.base.exceptions import TwilioRestException

from adapters.meta import errors as meta_errors
from adapters.meta.graph import GraphError
from adapters.meta.webhooks import parse_delivery
from adapters.twilio import errors as twilio_errors
from application.inbound.commands import StatusReport
from application.inbound.record_status_report import RecordStatusReport, StatusReportOutcome
from application.messaging.dispatch_message import DispatchMessage, DispatchSettings
from application.ports.provider_callbacks import ProviderCallback
from application.ports.providers import OutcomeKind, SendOutcome
from application.ports.unit_of_work import UnitOfWork
from application.rate_limits import CountedLimit
from domain.administration.tenancy import ProviderName
from domain.messaging.failures import Failure, FailureCode
from domain.messaging.messages import Message, MessageStatus
from tests.support.fakes import (
    FakeMessagingProvider,
    FakeMetrics,
    FakePasswordHasher,
    FakeUnitOfWork,
    FixedClock,
    provision_account,
)
from tests.support.use_cases import OWNER, accept, sent_message, stored

F = FailureCode

# What each provider's code means in our words: the tables are held to this, code by code.
TWILIO_CODES: dict[int, FailureCode] = {
    63016: F.SESSION_WINDOW_CLOSED,
    21211: F.RECIPIENT_INVALID,
    21614: F.RECIPIENT_INVALID,
    63024: F.RECIPIENT_INVALID,
    30005: F.RECIPIENT_INVALID,
    63003: F.RECIPIENT_UNAVAILABLE,
    63032: F.RECIPIENT_UNAVAILABLE,
    30003: F.RECIPIENT_UNAVAILABLE,
    21610: F.RECIPIENT_OPTED_OUT,
    63049: F.MARKETING_LIMITED,
    20429: F.RATE_LIMITED,
    63038: F.RATE_LIMITED,
    63018: F.SENDER_AT_LIMIT,
    20003: F.ACCOUNT_MISCONFIGURED,
    63007: F.ACCOUNT_MISCONFIGURED,
    21408: F.ACCOUNT_MISCONFIGURED,
    21656: F.TEMPLATE_REJECTED,
    63027: F.TEMPLATE_REJECTED,
    63028: F.TEMPLATE_REJECTED,
    21617: F.CONTENT_INVALID,
    63021: F.CONTENT_INVALID,
    63019: F.MEDIA_INVALID,
    63012: F.PROVIDER_ERROR,
}
META_CODES: dict[int, FailureCode] = {
    131047: F.SESSION_WINDOW_CLOSED,
    131021: F.RECIPIENT_INVALID,
    131026: F.RECIPIENT_UNAVAILABLE,
    130472: F.RECIPIENT_UNAVAILABLE,
    131050: F.RECIPIENT_OPTED_OUT,
    131049: F.MARKETING_LIMITED,
    130429: F.RATE_LIMITED,
    131056: F.RATE_LIMITED,
    4: F.RATE_LIMITED,
    80007: F.RATE_LIMITED,
    131048: F.SENDER_AT_LIMIT,
    0: F.ACCOUNT_MISCONFIGURED,
    3: F.ACCOUNT_MISCONFIGURED,
    10: F.ACCOUNT_MISCONFIGURED,
    190: F.ACCOUNT_MISCONFIGURED,
    200: F.ACCOUNT_MISCONFIGURED,
    299: F.ACCOUNT_MISCONFIGURED,
    133010: F.ACCOUNT_MISCONFIGURED,
    131042: F.ACCOUNT_MISCONFIGURED,
    131031: F.ACCOUNT_SUSPENDED,
    368: F.ACCOUNT_SUSPENDED,
    132000: F.TEMPLATE_REJECTED,
    132001: F.TEMPLATE_REJECTED,
    132015: F.TEMPLATE_REJECTED,
    132016: F.TEMPLATE_REJECTED,
    100: F.CONTENT_INVALID,
    131009: F.CONTENT_INVALID,
    131051: F.UNSUPPORTED_CONTENT,
    131052: F.MEDIA_INVALID,
    131053: F.MEDIA_INVALID,
    131000: F.PROVIDER_ERROR,
    131016: F.PROVIDER_ERROR,
}
# The same failure at each provider: Twilio's code, Meta's code.
SAME_FAILURE = [(63016, 131047), (63003, 131026), (63032, 130472), (63049, 131049), (63018, 131048)]


def twilio_refusal(code: int, *, status: int = 400, words: str = "Twilio refused it") -> TwilioRestException:
    return TwilioRestException(
        status, "https://api.twilio.com/Messages.json", msg=f"Unable to create record: {words}", code=code
    )


def meta_refusal(code: int, *, http_status: int = 400, details: str = "Meta refused it") -> GraphError:
    return GraphError(http_status=http_status, code=code, message=f"(#{code}) refused", details=details)


# --------------------------------------------------------------------------------------- the codes


def test_our_codes_are_kebab_case_words_each_with_a_meaning_and_advice() -> None:
    for code in FailureCode:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", code.value), code
        assert code.meaning, code
        assert code.advice.endswith("."), code


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        (F.SESSION_WINDOW_CLOSED, False),
        (F.RECIPIENT_OPTED_OUT, False),
        (F.TEMPLATE_REJECTED, False),
        (F.ACCOUNT_SUSPENDED, False),
        (F.OUTCOME_UNCONFIRMED, False),  # it may have arrived: sending again may send it twice
        (F.RATE_LIMITED, True),
        (F.SENDER_AT_LIMIT, True),
        (F.PROVIDER_ERROR, True),
        (F.MARKETING_LIMITED, True),
    ],
)
def test_retryable_says_whether_the_same_message_can_succeed_later_unchanged(
    code: FailureCode, retryable: bool
) -> None:
    assert code.retryable is retryable
    assert Failure(code).retryable is retryable
    assert Failure(code).advice == code.advice


@pytest.mark.parametrize(("twilio", "meta"), SAME_FAILURE)
def test_the_same_failure_at_either_provider_is_the_same_code(twilio: int, meta: int) -> None:
    twilios = twilio_errors.failure_code_for(twilio)
    metas = meta_errors.failure_code_for(meta)

    assert twilios is metas is not None


@pytest.mark.parametrize(("code", "expected"), TWILIO_CODES.items())
def test_twilios_codes_map_to_ours(code: int, expected: FailureCode) -> None:
    assert twilio_errors.failure_code_for(code) is expected
    status = 429 if code in (20429, 63018) else 400
    assert (
        twilio_errors.refused_send(twilio_refusal(code, status=status), lambda: None).failure_code is expected
    )


@pytest.mark.parametrize(("code", "expected"), META_CODES.items())
def test_metas_codes_map_to_ours(code: int, expected: FailureCode) -> None:
    assert meta_errors.failure_code_for(code) is expected
    assert meta_errors.refused_send(meta_refusal(code)).failure_code is expected


def test_every_code_in_either_table_has_one_of_ours() -> None:
    assert {rule.failure for rule in twilio_errors.TWILIO_ERRORS.values()} <= set(FailureCode)
    assert {rule.failure for rule in meta_errors.META_ERRORS.values()} <= set(FailureCode)
    assert set(TWILIO_CODES) <= set(twilio_errors.TWILIO_ERRORS)


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (400, OutcomeKind.REJECTED, F.UNKNOWN),
        (429, OutcomeKind.RETRYABLE, F.RATE_LIMITED),
    ],
)
def test_a_twilio_code_we_do_not_know_is_judged_by_its_http_status(
    status: int, kind: OutcomeKind, expected: FailureCode
) -> None:
    outcome = twilio_errors.refused_send(
        twilio_refusal(21999, status=status, words="Brand new"), lambda: None
    )

    assert (outcome.kind, outcome.failure_code) == (kind, expected)
    assert outcome.provider_error_message == "Brand new"
    assert twilio_errors.failure_code_for(21999) is F.UNKNOWN
    assert twilio_errors.failure_code_for(None) is None


@pytest.mark.parametrize(
    ("http_status", "kind", "expected"),
    [
        (400, OutcomeKind.REJECTED, F.UNKNOWN),
        (429, OutcomeKind.RETRYABLE, F.RATE_LIMITED),
    ],
)
def test_a_meta_code_we_do_not_know_is_judged_by_its_http_status(
    http_status: int, kind: OutcomeKind, expected: FailureCode
) -> None:
    outcome = meta_errors.refused_send(meta_refusal(999_999, http_status=http_status, details="Brand new"))

    assert (outcome.kind, outcome.failure_code) == (kind, expected)
    assert outcome.provider_error_message == "Brand new"
    assert meta_errors.failure_code_for(999_999) is F.UNKNOWN


def test_a_refusal_keeps_the_providers_own_words_beside_our_reason() -> None:
    twilio = twilio_errors.refused_send(
        twilio_refusal(21610, words="Attempt to send to unsubscribed"), lambda: None
    )
    meta = meta_errors.refused_send(meta_refusal(131050, details="User has stopped marketing messages"))

    assert (twilio.reason, twilio.provider_error_message) == (
        "the recipient has opted out of messages from this sender",
        "Attempt to send to unsubscribed",
    )
    assert meta.provider_error_message == "User has stopped marketing messages"
    assert twilio.failure_code is meta.failure_code is F.RECIPIENT_OPTED_OUT


# ------------------------------------------------------------------ through dispatch, end to end


async def dispatch_refused_send(provider_name: ProviderName, outcome: SendOutcome) -> Message:
    """A message of a tenant on ``provider_name``, dispatched to a provider that answers ``outcome``."""
    uow, clock = FakeUnitOfWork(), FixedClock()
    account = await provision_account(uow, FakePasswordHasher(), clock, provider=provider_name)
    message = await accept(uow, account, clock)
    async with uow:
        (job,) = await uow.jobs.claim_due(owner=OWNER, now=clock.now(), lease_seconds=60, limit=1)
        await uow.commit()
    provider = FakeMessagingProvider(outcome)
    dispatch = DispatchMessage(
        lambda: FakeUnitOfWork(uow.database), provider, clock, DispatchSettings(), metrics=FakeMetrics()
    )
    await dispatch(job, OWNER)
    return await stored(uow, message)


TWILIO_WINDOW_WORDS = "Failed to send freeform message because you are outside the allowed window."
META_WINDOW_WORDS = "Message failed to send because more than 24 hours have passed"


@pytest.mark.parametrize(
    ("provider", "outcome", "provider_code", "words"),
    [
        pytest.param(
            ProviderName.TWILIO,
            twilio_errors.refused_send(twilio_refusal(63016, words=TWILIO_WINDOW_WORDS), lambda: None),
            63016,
            TWILIO_WINDOW_WORDS,
            id="twilio",
        ),
        pytest.param(
            ProviderName.META,
            meta_errors.refused_send(meta_refusal(131047, details=META_WINDOW_WORDS)),
            131047,
            META_WINDOW_WORDS,
            id="meta",
        ),
    ],
)
async def test_a_send_refused_outside_the_window_fails_the_same_way_at_either_provider(
    provider: ProviderName, outcome: SendOutcome, provider_code: int, words: str
) -> None:
    failed = await dispatch_refused_send(provider, outcome)

    assert failed.status is MessageStatus.FAILED
    assert failed.failure == Failure(
        F.SESSION_WINDOW_CLOSED,
        provider=provider,
        provider_code=provider_code,
        provider_message=words,
        reason=failed.error_message,
    )
    assert failed.error_code == provider_code
    assert failed.failure is not None
    assert failed.failure.retryable is False
    assert "template" in failed.failure.advice


# ------------------------------------------------------------- through status reports, end to end


class MetaStatuses:
    """Meta's status webhooks as the use case takes them: each delivery read by Meta's adapter (its
    signature check and routing by phone-number id are the controller's, not what this is about)."""

    provider = ProviderName.META
    counted_against: Sequence[CountedLimit] = ()

    def __init__(self, tenant_id: UUID) -> None:
        self._tenant_id = tenant_id
        self._report: StatusReport | None = None

    async def screen(self, callback: ProviderCallback) -> MetaStatuses:
        (change,) = parse_delivery(callback.body).changes
        (self._report,) = change.statuses
        return self

    async def authenticate(self, uow: UnitOfWork) -> list[UUID]:
        return [self._tenant_id]

    def command(self) -> StatusReport:
        assert self._report is not None
        return self._report


async def test_a_failed_status_webhook_of_meta_sets_the_failure() -> None:
    uow, clock = FakeUnitOfWork(), FixedClock()
    account = await provision_account(uow, FakePasswordHasher(), clock, provider=ProviderName.META)
    wamid = "wamid.HBgLMTQxNTU1NTAxMDAVAgARGBI"
    sent = await sent_message(uow, clock, account, wamid)
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "14155238886",
                                    "phone_number_id": "106540352242922",
                                },
                                "statuses": [
                                    {
                                        "id": wamid,
                                        "status": "failed",
                                        "timestamp": "1750263773",
                                        "recipient_id": "14155550100",
                                        "errors": [
                                            {
                                                "code": 131047,
                                                "title": "Re-engagement message",
                                                "message": "Re-engagement message",
                                                "error_data": {
                                                    "details": "Message failed to send because more than 24 "
                                                    "hours have passed since the customer last replied"
                                                },
                                            }
                                        ],
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    callback = ProviderCallback(
        url="https://gateway.example.com/webhooks/meta",
        content_type="application/json",
        body=body,
        headers={},
    )
    clock.advance(timedelta(seconds=5))

    result = await RecordStatusReport(uow, MetaStatuses(account.tenant.id), clock, FakeMetrics())(callback)

    assert result.outcome is StatusReportOutcome.APPLIED
    failure = (await stored(uow, sent)).failure
    assert failure is not None
    assert (failure.code, failure.provider, failure.provider_code) == (
        F.SESSION_WINDOW_CLOSED,
        ProviderName.META,
        131047,
    )
    assert failure.provider_message == (
        "Message failed to send because more than 24 hours have passed since the customer last replied"
    )
    assert failure.retryable is False
