"""The kinds Twilio sends beyond text, through TwilioMessagingProvider against the Twilio emulator over
real HTTP: a location and media of a declared type; and finding such a message again after an unknown
outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from adapters.twilio.provider import TwilioMessagingProvider
from application.ports.providers import LookupResult, OutboundRequest, OutcomeKind
from domain.administration.tenancy import ProviderAccount, ProviderName, Tenant, TwilioCredentials
from domain.messaging.content import Location, Media, MediaKind
from domain.messaging.messages import Message, MessageContent
from domain.phone import PhoneNumber
from emulators.twilio import CallbackSettings, EmulatorConfig, RunningEmulator, running_emulator

ACCOUNT = "AC" + "1f" * 16
TOKEN = "the-tenants-auth-token"
SENDER = "+14155238886"
CUSTOMER = "+14155550100"
CONFIG = EmulatorConfig(
    accounts={ACCOUNT: TOKEN},
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
    provider = TwilioMessagingProvider(timeout_seconds=2.0, api_base_url=emulator.base_url)
    try:
        yield provider
    finally:
        await provider.aclose()


def outbound(content: MessageContent) -> OutboundRequest:
    # Now, as the test runs: the lookup searches Twilio's messages created around the message's time.
    now = datetime.now(UTC)
    tenant = Tenant(name="acme", provider=ProviderName.TWILIO, created_at=now)
    message = Message.new_outbound(
        tenant_id=tenant.id,
        sender=PhoneNumber.parse(SENDER),
        contact=PhoneNumber.parse(CUSTOMER),
        content=content,
        now=now,
    )
    account = ProviderAccount(
        tenant_id=tenant.id,
        credentials=TwilioCredentials(account_sid=ACCOUNT, auth_token=TOKEN),
        created_at=now,
    )
    return OutboundRequest(tenant=tenant, message=message, account=account)


LOCATION = MessageContent(
    location=Location(latitude=52.520008, longitude=13.404954, name="Warehouse 7", address="Alexanderplatz 1")
)


async def test_a_location_reaches_twilio_as_a_named_pin(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    outcome = await provider.send(outbound(LOCATION))

    assert outcome.kind is OutcomeKind.ACCEPTED, outcome
    assert outcome.provider_sid is not None
    created = emulator.state.messages[outcome.provider_sid]
    assert created.body == "Warehouse 7"
    assert created.persistent_action == ("geo:52.520008,13.404954|Alexanderplatz 1",)


async def test_media_of_a_declared_type_reach_twilio_by_their_urls(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    content = MessageContent(
        body="Your invoice",
        media=(
            Media(kind=MediaKind.DOCUMENT, url="https://example.com/invoice.pdf", filename="invoice.pdf"),
        ),
    )

    outcome = await provider.send(outbound(content))

    assert outcome.kind is OutcomeKind.ACCEPTED, outcome
    assert outcome.provider_sid is not None
    created = emulator.state.messages[outcome.provider_sid]
    assert (created.body, created.media_urls) == ("Your invoice", ("https://example.com/invoice.pdf",))


async def test_a_location_whose_answer_was_lost_is_found_again(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    request = outbound(LOCATION)
    sent = await provider.send(request)

    found = await provider.lookup(request)

    assert (found.result, found.provider_sid) == (LookupResult.FOUND, sent.provider_sid)
