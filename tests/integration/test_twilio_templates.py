"""Template messages through TwilioMessagingProvider, against the Twilio emulator over real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from adapters.twilio.provider import TwilioMessagingProvider
from application.ports.providers import OutboundRequest, OutcomeKind
from domain.administration.tenancy import ProviderName, Tenant, TwilioCredentials
from domain.messaging.messages import Message, MessageContent, Template
from domain.phone import PhoneNumber
from emulators.twilio import CallbackSettings, EmulatorConfig, RunningEmulator, running_emulator
from tests.support.provider_accounts import twilio_account

ACCOUNT = "AC" + "3c" * 16
TOKEN = "the-tenants-auth-token"
SENDER = "+14155238886"
CUSTOMER = "+14155550100"
CONTENT_SID = "HX" + "0123456789abcdef" * 2
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

CONFIG = EmulatorConfig(
    accounts={ACCOUNT: TOKEN},
    senders={ACCOUNT: (SENDER,)},
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


def template_request(variables: dict[str, str]) -> OutboundRequest:
    tenant = Tenant(name="acme", provider=ProviderName.TWILIO, created_at=NOW)
    message = Message.new_outbound(
        tenant_id=tenant.id,
        sender=PhoneNumber.parse(SENDER),
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(template=Template.of(CONTENT_SID, variables)),
        now=NOW,
    )
    credentials = TwilioCredentials(account_sid=ACCOUNT, auth_token=TOKEN)
    return OutboundRequest(tenant=tenant, message=message, account=twilio_account(tenant, credentials))


async def test_a_template_goes_as_content_sid_and_json_variables_without_body_or_media(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    outcome = await provider.send(template_request({"1": "12/1", "2": "3pm", "name": "Zoë"}))

    assert outcome.kind is OutcomeKind.ACCEPTED, outcome
    form = emulator.state.requests[-1].form
    assert form["ContentSid"] == [CONTENT_SID]
    assert json.loads(form["ContentVariables"][0]) == {"1": "12/1", "2": "3pm", "name": "Zoë"}
    assert "Body" not in form
    assert "MediaUrl" not in form
    assert outcome.provider_sid is not None
    stored = emulator.state.messages[outcome.provider_sid]
    assert stored.content_sid == CONTENT_SID


async def test_a_template_without_variables_sends_no_content_variables(
    emulator: RunningEmulator, provider: TwilioMessagingProvider
) -> None:
    outcome = await provider.send(template_request({}))

    assert outcome.kind is OutcomeKind.ACCEPTED, outcome
    form = emulator.state.requests[-1].form
    assert form["ContentSid"] == [CONTENT_SID]
    assert "ContentVariables" not in form
