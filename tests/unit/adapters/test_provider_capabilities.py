"""What each provider can send: the sandbox everything, and the router asks the provider a message goes
through (adapters/provider_router.py). Twilio's own answers are in test_twilio_message_kinds.py."""

from __future__ import annotations

from adapters.provider_router import ProviderRouter
from adapters.sandbox.provider import SandboxMessagingProvider
from adapters.twilio.provider import TwilioMessagingProvider
from application.ports.providers import MessagingProvider
from domain.administration.tenancy import ProviderName
from tests.support.message_kinds import CONTENTS


async def _unused_listener(_: object) -> None:
    return None


def test_the_sandbox_sends_every_kind() -> None:
    sandbox = SandboxMessagingProvider(_unused_listener)

    assert [sandbox.unsupported(ProviderName.SANDBOX, content) for content in CONTENTS.values()] == [
        None
    ] * len(CONTENTS)


def test_the_router_asks_the_provider_the_message_goes_through() -> None:
    router = ProviderRouter(
        {
            ProviderName.SANDBOX: SandboxMessagingProvider(_unused_listener),
            ProviderName.TWILIO: TwilioMessagingProvider(),
        }
    )
    buttons = CONTENTS["reply buttons"]
    _: MessagingProvider = router

    assert router.unsupported(ProviderName.SANDBOX, buttons) is None
    assert "Content Template Builder" in (router.unsupported(ProviderName.TWILIO, buttons) or "")
    assert router.unsupported(ProviderName.META, buttons) == "provider meta is not enabled here"
