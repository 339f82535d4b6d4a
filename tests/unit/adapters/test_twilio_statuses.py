"""Twilio's message statuses in our words: one map, read alike by a status callback, a send's answer and
a lookup's find; only what an unknown word means differs (see adapters/twilio/statuses.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.twilio.callbacks import TwilioStatusCallbacks
from adapters.twilio.form import SignedForm
from adapters.twilio.provider import TwilioMessagingProvider
from adapters.twilio.statuses import TWILIO_STATUSES
from application.ports.providers import LookupResult, OutboundRequest, OutcomeKind
from domain.administration.tenancy import ProviderName, Tenant, TwilioCredentials
from domain.messaging.messages import Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.provider_accounts import twilio_account
from tests.support.twilio_callbacks import ACME_ACCOUNT, ACME_TOKEN, status_params, status_url

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
Q, F = MessageStatus.QUEUED, MessageStatus.FAILED

# Twilio's word: (what a status callback reports, what a send's answer or a lookup's find says).
STATUSES: dict[str, tuple[MessageStatus | None, MessageStatus]] = {
    "accepted": (Q, Q),  # Twilio has it (a Messaging Service's first word); our own accepted is not that
    "scheduled": (Q, Q),
    "queued": (Q, Q),
    "sending": (MessageStatus.SENDING, MessageStatus.SENDING),
    "sent": (MessageStatus.SENT, MessageStatus.SENT),
    "partially_delivered": (MessageStatus.SENT, MessageStatus.SENT),
    "delivered": (MessageStatus.DELIVERED, MessageStatus.DELIVERED),
    "read": (MessageStatus.READ, MessageStatus.READ),
    "failed": (F, F),
    "undelivered": (MessageStatus.UNDELIVERED, MessageStatus.UNDELIVERED),
    "canceled": (F, F),  # called off before it was sent: it never will be
    # Not a status of a message we sent, or one Twilio may add: a callback with it carries no news; a
    # message Twilio answered for exists there, so it is at least queued.
    "receiving": (None, Q),
    "received": (None, Q),
    "teleported": (None, Q),
}


def test_the_map_knows_every_status_of_an_outbound_message_twilio_documents() -> None:
    assert {word: ours for word, (ours, _) in STATUSES.items() if ours is not None} == TWILIO_STATUSES


@pytest.mark.parametrize(
    ("twilio_status", "expected"), [(word, ours) for word, (ours, _) in STATUSES.items()]
)
def test_a_status_callback_reports_the_mapped_status(
    twilio_status: str, expected: MessageStatus | None
) -> None:
    form = SignedForm(url=status_url(), params=status_params(twilio_status), signature="", client_address="")

    report = TwilioStatusCallbacks().read(form)

    assert report.status is expected
    assert report.reported == twilio_status
    uppercase = SignedForm(form.url, status_params(twilio_status.upper()), "", "")
    assert TwilioStatusCallbacks().read(uppercase).status is expected


@dataclass
class FakeTwilioMessage:
    """What the SDK gives back for a message (MessageInstance): the fields the provider reads."""

    sid: str
    status: str | None
    body: str = "Your order has shipped"
    num_media: str = "0"
    date_created: datetime = NOW


class FakeMessages:
    def __init__(self, found: FakeTwilioMessage) -> None:
        self._found = found

    async def create_async(self, **_: Any) -> FakeTwilioMessage:
        return self._found

    async def stream_async(self, **_: Any) -> AsyncIterator[FakeTwilioMessage]:
        async def one() -> AsyncIterator[FakeTwilioMessage]:
            yield self._found

        return one()


@dataclass
class FakeClient:
    messages: FakeMessages


def request() -> OutboundRequest:
    tenant = Tenant(name="acme", provider=ProviderName.TWILIO, created_at=NOW)
    message = Message.new_outbound(
        tenant_id=tenant.id,
        sender=PhoneNumber.parse("+14155238886"),
        contact=PhoneNumber.parse("+14155550100"),
        content=MessageContent(body="Your order has shipped"),
        now=NOW,
    )
    return OutboundRequest(
        tenant=tenant,
        message=message,
        account=twilio_account(tenant, TwilioCredentials(ACME_ACCOUNT, ACME_TOKEN)),
    )


def at_twilio(status: str | None, monkeypatch: pytest.MonkeyPatch) -> TwilioMessagingProvider:
    """A provider whose SDK client finds (and creates) one message, in ``status``."""
    provider = TwilioMessagingProvider()
    client = FakeClient(FakeMessages(FakeTwilioMessage(sid="SM" + "2" * 32, status=status)))
    monkeypatch.setattr(provider, "_client", lambda request: client)
    return provider


@pytest.mark.parametrize(
    ("twilio_status", "expected"), [(word, ours) for word, (_, ours) in STATUSES.items()]
)
async def test_a_lookup_finds_the_message_in_the_mapped_status(
    twilio_status: str, expected: MessageStatus, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = await at_twilio(twilio_status, monkeypatch).lookup(request())

    assert (found.result, found.status) == (LookupResult.FOUND, expected)


@pytest.mark.parametrize(
    ("twilio_status", "expected"), [(word, ours) for word, (_, ours) in STATUSES.items()]
)
async def test_a_send_is_accepted_in_the_mapped_status(
    twilio_status: str, expected: MessageStatus, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = await at_twilio(twilio_status, monkeypatch).send(request())

    assert (outcome.kind, outcome.status) == (OutcomeKind.ACCEPTED, expected)


async def test_a_message_twilio_answered_for_without_a_status_is_queued(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcome = await at_twilio(None, monkeypatch).send(request())

    assert (outcome.kind, outcome.status) == (OutcomeKind.ACCEPTED, Q)
