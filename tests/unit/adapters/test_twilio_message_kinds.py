"""The kinds of message Twilio's Messages API sends, and the fields it sends them with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.twilio.provider import TwilioMessagingProvider
from application.ports.providers import OutboundRequest, OutcomeKind
from domain.administration.tenancy import ProviderAccount, ProviderName, Tenant, TwilioCredentials
from domain.messaging.content import Location, Media, MediaKind
from domain.messaging.messages import Message, MessageContent
from domain.phone import PhoneNumber
from tests.support.message_kinds import CONTENTS
from tests.support.twilio_callbacks import ACME_ACCOUNT, ACME_TOKEN

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TWILIO = ProviderName.TWILIO

SENDABLE = ["text", "media by URL", "template by Content SID"]
# The kinds Twilio sends only as Content templates, or not at all, and what the refusal points to.
REFUSED = {
    "text with a link preview, answering a message": "leave out reply_to",
    "typed media": "give each media item a url",
    "template by name": "send content_sid",
    "reply buttons": "Content Template Builder",
    "a list": "Content Template Builder",
    "a call-to-action URL": "Content Template Builder",
    "contact cards": "vCard",
    "a reaction": "cannot send reactions",
    "a reply to a list": "what a customer sends",
    "an unsupported kind": "what a customer sends",
}


def test_every_kind_is_either_sent_by_twilio_or_refused_with_what_to_do_instead() -> None:
    twilio = TwilioMessagingProvider()
    assert set(SENDABLE) | set(REFUSED) | {
        "a location on the equator",
        "inbound media",
        "a reaction taken back",
    } == set(CONTENTS)
    for name in SENDABLE:
        assert twilio.unsupported(TWILIO, CONTENTS[name]) is None, name
    for name, advice in REFUSED.items():
        reason = twilio.unsupported(TWILIO, CONTENTS[name])
        assert reason is not None, name
        assert advice in reason, (name, reason)


def test_twilio_sends_a_location_and_media_of_a_declared_type_by_url() -> None:
    twilio = TwilioMessagingProvider()
    typed_by_url = MessageContent(media=(Media(kind=MediaKind.DOCUMENT, url="https://example.com/a.pdf"),))

    assert twilio.unsupported(TWILIO, CONTENTS["a location on the equator"]) is None
    assert twilio.unsupported(TWILIO, typed_by_url) is None


# ------------------------------------------------------------------------------------- what is sent


@dataclass
class CreatedMessage:
    sid: str = "SM" + "2" * 32
    status: str = "queued"


@dataclass
class RecordingMessages:
    """The SDK's ``client.messages``: remembers what each create was given."""

    created: list[dict[str, Any]] = field(default_factory=list)

    async def create_async(self, **fields: Any) -> CreatedMessage:
        self.created.append(fields)
        return CreatedMessage()


@dataclass
class RecordingClient:
    messages: RecordingMessages = field(default_factory=RecordingMessages)


def request(content: MessageContent) -> OutboundRequest:
    tenant = Tenant(name="acme", provider=TWILIO, created_at=NOW)
    message = Message.new_outbound(
        tenant_id=tenant.id,
        sender=PhoneNumber.parse("+14155238886"),
        contact=PhoneNumber.parse("+14155550100"),
        content=content,
        now=NOW,
    )
    account = ProviderAccount(
        tenant_id=tenant.id, credentials=TwilioCredentials(ACME_ACCOUNT, ACME_TOKEN), created_at=NOW
    )
    return OutboundRequest(tenant=tenant, message=message, account=account)


@pytest.fixture
def client() -> RecordingClient:
    return RecordingClient()


@pytest.fixture
def twilio(client: RecordingClient, monkeypatch: pytest.MonkeyPatch) -> TwilioMessagingProvider:
    provider = TwilioMessagingProvider()
    monkeypatch.setattr(provider, "_client", lambda credentials: client)
    return provider


def sent_fields(client: RecordingClient) -> dict[str, Any]:
    """What the one create was given, but the fields left unset."""
    (created,) = client.messages.created
    return {name: value for name, value in created.items() if isinstance(value, str | list)}


@pytest.mark.parametrize(
    ("location", "body", "action"),
    [
        (
            Location(latitude=52.520008, longitude=13.404954, name="Warehouse 7", address="Alexanderplatz 1"),
            "Warehouse 7",
            "geo:52.520008,13.404954|Alexanderplatz 1",
        ),
        (
            Location(latitude=0.0, longitude=-0.00001, name="Null Island"),
            "Null Island",
            "geo:0,-0.00001|Null Island",
        ),
        (Location(latitude=-33.8568, longitude=151.2153), "-33.8568,151.2153", "geo:-33.8568,151.2153"),
        (
            Location(latitude=1.5, longitude=2.5, address="Rua A | Bloco B"),
            "Rua A | Bloco B",
            "geo:1.5,2.5|Rua A Bloco B",
        ),
    ],
)
async def test_a_location_goes_as_a_body_naming_the_place_and_a_geo_persistent_action(
    twilio: TwilioMessagingProvider, client: RecordingClient, location: Location, body: str, action: str
) -> None:
    outcome = await twilio.send(request(MessageContent(location=location)))

    assert outcome.kind is OutcomeKind.ACCEPTED
    fields = sent_fields(client)
    assert (fields["body"], fields["persistent_action"]) == (body, [action])
    assert "media_url" not in fields


async def test_media_by_url_of_either_form_go_as_media_urls(
    twilio: TwilioMessagingProvider, client: RecordingClient
) -> None:
    content = MessageContent(
        body="Your documents",
        media_urls=("https://example.com/a.png",),
        media=(
            Media(kind=MediaKind.DOCUMENT, url="https://example.com/b.pdf", filename="b.pdf"),
            Media(kind=MediaKind.VIDEO, url="https://example.com/c.mp4"),
        ),
    )

    await twilio.send(request(content))

    assert sent_fields(client)["media_url"] == [
        "https://example.com/a.png",
        "https://example.com/b.pdf",
        "https://example.com/c.mp4",
    ]


async def test_a_kind_twilio_cannot_send_is_refused_without_calling_twilio(
    twilio: TwilioMessagingProvider, client: RecordingClient
) -> None:
    # Accepted for another provider, then its tenant moved to Twilio: it fails with the reason.
    outcome = await twilio.send(request(CONTENTS["reply buttons"]))

    assert outcome.kind is OutcomeKind.REJECTED
    assert "Content Template Builder" in (outcome.reason or "")
    assert client.messages.created == []
