"""TwilioMessagingProvider against the Twilio emulator, over real HTTP: what reaches Twilio, and how
every answer (or lack of one) becomes an outcome the use case can act on."""

from __future__ import annotations

import dataclasses
import re
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from adapters.twilio.http_client import GatewayTwilioHttpClient
from adapters.twilio.provider import TwilioMessagingProvider
from application.ports.providers import LookupResult, OutboundRequest, OutcomeKind
from domain.administration.tenancy import ProviderName, Tenant, TwilioCredentials
from domain.messaging.failures import FailureCode
from domain.messaging.messages import Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from emulators.twilio import (
    ApiKey,
    AuthKind,
    CallbackSettings,
    EmulatorConfig,
    FailureKind,
    ForcedError,
    RunningEmulator,
    running_emulator,
)
from tests.support.provider_accounts import twilio_account

ACCOUNT = "AC" + "1f" * 16
TOKEN = "the-tenants-auth-token"
KEY_SID = "SK" + "2e" * 16
KEY_SECRET = "the-tenants-api-key-secret"
SENDER = "+14155238886"
CUSTOMER = "+14155550100"
PUBLIC_BASE_URL = "https://gateway.example.com"
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

CONFIG = EmulatorConfig(
    accounts={ACCOUNT: TOKEN},
    api_keys={KEY_SID: ApiKey(account_sid=ACCOUNT, secret=KEY_SECRET)},
    senders={ACCOUNT: (SENDER,)},
    # Messages stay queued: no status callback is posted while a test runs.
    callbacks=CallbackSettings(step_delay_seconds=60),
)


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(CONFIG) as running:
        yield running


@pytest.fixture
async def provider(emulator: RunningEmulator) -> AsyncIterator[TwilioMessagingProvider]:
    provider = TwilioMessagingProvider(
        timeout_seconds=2.0, api_base_url=emulator.base_url, public_base_url=PUBLIC_BASE_URL
    )
    try:
        yield provider
    finally:
        await provider.aclose()


def outbound(
    *,
    body: str = "Your order has shipped",
    media_urls: tuple[str, ...] = (),
    to: str = CUSTOMER,
    sender: str = SENDER,
    credentials: TwilioCredentials | None = None,
) -> OutboundRequest:
    tenant = Tenant(name="acme", provider=ProviderName.TWILIO, created_at=NOW)
    message = Message.new_outbound(
        tenant_id=tenant.id,
        sender=PhoneNumber.parse(sender),
        contact=PhoneNumber.parse(to),
        content=MessageContent(body=body, media_urls=media_urls),
        now=NOW,
    )
    return OutboundRequest(
        tenant=tenant,
        message=message,
        account=twilio_account(
            tenant, credentials or TwilioCredentials(account_sid=ACCOUNT, auth_token=TOKEN)
        ),
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- what reaches Twilio ----------------------------------------------------------------------------


async def test_a_send_reaches_twilio_with_the_message_and_the_tenants_auth_token(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    request = outbound()

    outcome = await provider.send(request)

    assert outcome.kind is OutcomeKind.ACCEPTED
    assert outcome.provider_sid is not None
    assert re.fullmatch(r"SM[0-9a-f]{32}", outcome.provider_sid)
    assert outcome.status is MessageStatus.QUEUED
    (received,) = emulator.state.requests
    assert received.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert (received.auth.kind, received.auth.username) == (AuthKind.ACCOUNT, ACCOUNT)
    assert received.form == {
        "To": [f"whatsapp:{CUSTOMER}"],
        "From": [f"whatsapp:{SENDER}"],
        "Body": ["Your order has shipped"],
        "StatusCallback": [f"{PUBLIC_BASE_URL}/webhooks/twilio/status?message_id={request.message.id}"],
    }
    assert received.message_sid == outcome.provider_sid
    assert emulator.state.messages[outcome.provider_sid].status == "queued"


async def test_every_media_url_is_sent(emulator: RunningEmulator, provider: TwilioMessagingProvider) -> None:
    media = tuple(f"https://cdn.example.com/catalogue/{page}.jpg" for page in range(10))

    outcome = await provider.send(outbound(body="", media_urls=media))

    assert outcome.kind is OutcomeKind.ACCEPTED
    form = emulator.state.requests[-1].form
    assert form["MediaUrl"] == list(media)
    assert "Body" not in form


async def test_an_api_key_tenant_authenticates_with_its_key(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    credentials = TwilioCredentials(
        account_sid=ACCOUNT, auth_token=TOKEN, api_key_sid=KEY_SID, api_key_secret=KEY_SECRET
    )

    outcome = await provider.send(outbound(credentials=credentials))

    assert outcome.kind is OutcomeKind.ACCEPTED
    received = emulator.state.requests[-1]
    assert received.account_sid == ACCOUNT  # the account's resource, reached with the key
    assert (received.auth.kind, received.auth.username) == (AuthKind.API_KEY, KEY_SID)


async def test_without_a_public_base_url_no_status_callback_is_requested(emulator: RunningEmulator) -> None:
    provider = TwilioMessagingProvider(timeout_seconds=2.0, api_base_url=emulator.base_url)
    try:
        assert (await provider.send(outbound())).kind is OutcomeKind.ACCEPTED
    finally:
        await provider.aclose()
    assert "StatusCallback" not in emulator.state.requests[-1].form


async def test_a_tenant_without_credentials_is_rejected_without_calling_twilio(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    request = outbound()
    outcome = await provider.send(OutboundRequest(request.tenant, request.message, account=None))
    assert outcome.kind is OutcomeKind.REJECTED
    assert emulator.state.requests == []


# -- Twilio's answers ---------------------------------------------------------------------------------


async def test_invalid_to_number_is_rejected_with_twilios_code_and_our_reason(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    emulator.state.update_faults(to_errors={CUSTOMER: ForcedError(21211)})

    outcome = await provider.send(outbound())

    assert outcome.kind is OutcomeKind.REJECTED
    assert outcome.error_code == 21211
    assert outcome.reason == "the 'To' number is not a valid phone number"
    assert outcome.failure_code is FailureCode.RECIPIENT_INVALID
    assert outcome.provider_error_message  # Twilio's own words, beside ours


async def test_a_code_without_our_reason_is_rejected_with_twilios_own_words(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    emulator.state.update_faults(to_errors={CUSTOMER: ForcedError(21910)})

    outcome = await provider.send(outbound())

    assert outcome.kind is OutcomeKind.REJECTED
    assert outcome.error_code == 21910
    assert outcome.reason == "Invalid From and To pair. From and To should be of the same channel"
    assert outcome.failure_code is FailureCode.UNKNOWN
    assert outcome.provider_error_message == outcome.reason


async def test_a_sender_twilio_does_not_know_is_rejected_with_63007(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    outcome = await provider.send(outbound(sender="+14155550123"))

    assert outcome.kind is OutcomeKind.REJECTED
    assert outcome.error_code == 63007
    assert outcome.reason == "the sender number is not a WhatsApp sender of this Twilio account"
    assert outcome.failure_code is FailureCode.ACCOUNT_MISCONFIGURED


async def test_wrong_credentials_are_rejected_with_20003(provider: TwilioMessagingProvider) -> None:
    outcome = await provider.send(
        outbound(credentials=TwilioCredentials(account_sid=ACCOUNT, auth_token="wrong"))
    )
    assert outcome.kind is OutcomeKind.REJECTED
    assert outcome.error_code == 20003


async def test_rate_limited_is_retryable_after_twilios_retry_after(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    emulator.state.update_faults(
        failure_rate=1.0, failure_kinds=(FailureKind.RATE_LIMITED,), retry_after_seconds=3
    )

    outcome = await provider.send(outbound())

    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.error_code == 20429
    assert outcome.retry_after_seconds == 3
    assert emulator.state.messages == {}


async def test_a_later_rejection_does_not_inherit_an_earlier_retry_after(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    emulator.state.update_faults(
        failure_rate=1.0, failure_kinds=(FailureKind.RATE_LIMITED,), retry_after_seconds=3
    )
    assert (await provider.send(outbound())).retry_after_seconds == 3
    emulator.state.update_faults(failure_rate=0.0)
    outcome = await provider.send(outbound())
    assert outcome.kind is OutcomeKind.ACCEPTED
    assert outcome.retry_after_seconds is None


async def test_twilio_unreachable_is_retryable() -> None:
    provider = TwilioMessagingProvider(timeout_seconds=2.0, api_base_url=f"http://127.0.0.1:{closed_port()}")
    try:
        outcome = await provider.send(outbound())
    finally:
        await provider.aclose()
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.reason is not None
    assert "unreachable" in outcome.reason


@pytest.mark.parametrize("kind", [FailureKind.SERVER_ERROR, FailureKind.UNAVAILABLE])
async def test_a_server_error_has_an_unknown_outcome(
    emulator: RunningEmulator, provider: TwilioMessagingProvider, kind: FailureKind
) -> None:
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(kind,))

    outcome = await provider.send(outbound())

    assert outcome.kind is OutcomeKind.UNKNOWN
    assert outcome.error_code in (20500, 20503)


async def test_an_error_after_twilio_created_the_message_is_unknown_not_retryable(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    emulator.state.update_faults(
        failure_rate=1.0, failure_kinds=(FailureKind.SERVER_ERROR,), create_before_failing=True
    )

    outcome = await provider.send(outbound())

    assert outcome.kind is OutcomeKind.UNKNOWN
    assert len(emulator.state.messages) == 1  # resending would deliver it twice


def sent_now(body: str) -> OutboundRequest:
    """A request for a message created now (a lookup looks around the message's own creation time)."""
    request = outbound(body=body)
    return dataclasses.replace(
        request, message=dataclasses.replace(request.message, created_at=datetime.now(UTC))
    )


async def test_a_lookup_finds_the_message_whose_answer_was_lost(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    ours, other = sent_now("Your order has shipped"), sent_now("Your parcel is out for delivery")
    emulator.state.update_faults(
        failure_rate=1.0, failure_kinds=(FailureKind.DROP,), create_before_failing=True
    )
    assert (await provider.send(ours)).kind is OutcomeKind.UNKNOWN
    emulator.state.update_faults(failure_rate=0.0)
    await provider.send(other)
    missing = sent_now("Never sent")

    found = await provider.lookup(ours)
    not_found = await provider.lookup(missing)

    (created,) = [m for m in emulator.state.messages.values() if m.body == "Your order has shipped"]
    assert (found.result, found.provider_sid) == (LookupResult.FOUND, created.sid)
    assert not_found.result is LookupResult.NOT_FOUND


async def test_a_lookup_finds_the_message_behind_many_newer_ones_to_the_same_contact(
    provider: TwilioMessagingProvider,
) -> None:
    first = sent_now("message 0")
    await provider.send(first)
    for n in range(1, 250):  # more than a page of newer messages to the same contact
        await provider.send(sent_now(f"message {n}"))

    found = await provider.lookup(first)

    assert found.result is LookupResult.FOUND, "not found would send it a second time"


async def test_a_slow_twilio_gives_an_unknown_outcome_within_the_timeout(emulator: RunningEmulator) -> None:
    emulator.state.update_faults(latency_ms=5000)
    provider = TwilioMessagingProvider(timeout_seconds=0.5, api_base_url=emulator.base_url)
    started = time.monotonic()
    try:
        outcome = await provider.send(outbound())
    finally:
        await provider.aclose()
    elapsed = time.monotonic() - started

    assert outcome.kind is OutcomeKind.UNKNOWN
    assert elapsed < 0.5 + 1.0
    assert len(emulator.state.requests) == 1  # it was sent: Twilio may yet create the message


async def test_a_request_held_past_the_timeout_gives_an_unknown_outcome(emulator: RunningEmulator) -> None:
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(FailureKind.TIMEOUT,))
    provider = TwilioMessagingProvider(timeout_seconds=0.5, api_base_url=emulator.base_url)
    started = time.monotonic()
    try:
        outcome = await provider.send(outbound())
    finally:
        await provider.aclose()
    assert outcome.kind is OutcomeKind.UNKNOWN
    assert time.monotonic() - started < 1.5


async def test_a_dropped_connection_gives_an_unknown_outcome(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(FailureKind.DROP,))

    outcome = await provider.send(outbound())

    assert outcome.kind is OutcomeKind.UNKNOWN
    assert emulator.state.requests[-1].outcome == "dropped"


# -- the environment does not redirect requests -----------------------------------------------------


@pytest.fixture
def twilio_urls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs the SDK builds, before the client rewrites them to the emulator."""
    built: list[str] = []
    rewrite = GatewayTwilioHttpClient._rewrite

    def recording(self: GatewayTwilioHttpClient, url: str) -> str:
        built.append(url)
        return rewrite(self, url)

    monkeypatch.setattr(GatewayTwilioHttpClient, "_rewrite", recording)
    return built


async def test_twilio_region_and_edge_in_the_environment_do_not_redirect_requests(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, twilio_urls: list[str]
) -> None:
    monkeypatch.setenv("TWILIO_REGION", "au1")
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    provider = TwilioMessagingProvider(timeout_seconds=2.0, api_base_url=emulator.base_url)
    try:
        outcome = await provider.send(outbound())
    finally:
        await provider.aclose()

    assert outcome.kind is OutcomeKind.ACCEPTED
    assert twilio_urls == [f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"]


async def test_proxy_variables_do_not_affect_requests_to_127_0_0_1(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead_proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    provider = TwilioMessagingProvider(timeout_seconds=2.0, api_base_url=emulator.base_url)
    try:
        outcome = await provider.send(outbound())
    finally:
        await provider.aclose()

    assert outcome.kind is OutcomeKind.ACCEPTED
    assert len(emulator.state.requests) == 1
