"""Sending messages of every kind: what the provider cannot send is refused before anything is stored,
messages pointed at by our id are pointed at by the provider's, and idempotency keys tell every content
apart."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from uuid import uuid4

import pytest

from application.errors import UnknownMessageReference, UnsupportedByProvider
from application.messaging.send_message import SendMessage, SendMessageCommand
from domain.administration.tenancy import ProviderName
from domain.messaging.content import MessageKind, Reaction
from domain.messaging.messages import Message, MessageContent
from domain.phone import PhoneNumber
from tests.support.fakes import FakeMessagingProvider, FakeUnitOfWork, FixedClock, TenantAccount, open_window
from tests.support.message_kinds import CONTENTS, WAMID
from tests.support.templates import ORDER_UPDATE, as_sent, catalogue_template
from tests.support.use_cases import build_send_message

CUSTOMER = "+447911123456"

Send = Callable[[SendMessageCommand], Awaitable[Message]]


@pytest.fixture
def send_message(uow: FakeUnitOfWork, provider: FakeMessagingProvider, clock: FixedClock) -> SendMessage:
    return build_send_message(uow, provider, clock)


@pytest.fixture
def send(send_message: SendMessage) -> Send:
    async def send_and_return_message(command: SendMessageCommand) -> Message:
        return (await send_message(command)).message

    return send_and_return_message


@pytest.fixture(autouse=True)
async def customer_wrote_an_hour_ago(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> None:
    await open_window(uow, acme, CUSTOMER, clock.now() - timedelta(hours=1))


@pytest.fixture(autouse=True)
async def order_update_is_approved(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> None:
    await catalogue_template(uow, acme.tenant.id, ORDER_UPDATE, clock.now())


def command(account: TenantAccount, content: MessageContent) -> SendMessageCommand:
    """A send of ``content`` (a Content SID template by content_sid, as a client sends one)."""
    template = content.template
    by_sid = template is not None and template.content_sid is not None
    return SendMessageCommand(
        tenant_id=account.tenant.id,
        to_number=CUSTOMER,
        body=content.body,
        media_urls=content.media_urls,
        content_sid=template.content_sid if template and by_sid else None,
        content_variables=template.variables_dict if template and by_sid else None,
        media=content.media,
        preview_url=content.preview_url,
        template=None if by_sid else template,
        interactive=content.interactive,
        location=content.location,
        contacts=content.contacts,
        reaction=content.reaction,
        reply_to=content.reply_to,
    )


# Every kind a business sends (a reply and an unsupported kind are what customers send).
SENT_KINDS = {
    name: content for name, content in CONTENTS.items() if content.reply is None and not content.unsupported
}


@pytest.mark.parametrize("content", SENT_KINDS.values(), ids=SENT_KINDS.keys())
async def test_every_kind_is_stored_and_handed_to_the_provider_as_it_was_sent(
    send: Send,
    uow: FakeUnitOfWork,
    provider: FakeMessagingProvider,
    acme: TenantAccount,
    content: MessageContent,
) -> None:
    message = await send(command(acme, content))

    by_name = content.template is not None and content.template.name is not None
    sent = as_sent(content, ORDER_UPDATE) if by_name else content
    assert message.content == sent
    assert (await uow.messages.get(acme.tenant.id, message.id)) == message
    assert provider.requests[0].message.content == sent


async def test_a_kind_the_provider_cannot_send_is_refused_before_anything_is_stored(
    send: Send, uow: FakeUnitOfWork, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    provider.cannot_send[(acme.tenant.provider, MessageKind.LOCATION)] = (
        "no maps here: send the address as text"
    )
    stored_before = uow.messages.all()

    with pytest.raises(UnsupportedByProvider, match="send the address as text"):
        await send(command(acme, CONTENTS["a location on the equator"]))

    assert uow.messages.all() == stored_before
    assert uow.jobs.all() == []
    assert provider.requests == []


async def test_only_the_provider_the_tenant_sends_through_is_asked(
    send: Send, provider: FakeMessagingProvider, acme: TenantAccount
) -> None:
    provider.cannot_send[(ProviderName.TWILIO, MessageKind.LOCATION)] = "Twilio would refuse it"

    message = await send(command(acme, CONTENTS["a location on the equator"]))

    assert acme.tenant.provider is ProviderName.SANDBOX
    assert message.content.kind is MessageKind.LOCATION


async def test_a_message_pointed_at_by_our_id_is_pointed_at_by_the_providers(
    send: Send, acme: TenantAccount
) -> None:
    first = await send(command(acme, MessageContent(body="Your order shipped")))
    assert first.provider_sid is not None

    reaction = await send(command(acme, MessageContent(reaction=Reaction(str(first.id), "🎉"))))
    reply = await send(command(acme, MessageContent(body="Tomorrow", reply_to=str(first.id))))
    by_wamid = await send(command(acme, MessageContent(body="Again", reply_to=WAMID)))

    assert reaction.content.reaction == Reaction(first.provider_sid, "🎉")
    assert reply.content.reply_to == first.provider_sid
    assert by_wamid.content.reply_to == WAMID


async def test_a_message_not_yet_at_the_provider_or_of_another_tenant_cannot_be_pointed_at(
    send: Send, uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    unsent = Message.new_outbound(
        tenant_id=acme.tenant.id,
        sender=acme.sender.phone_number,
        contact=PhoneNumber.parse(CUSTOMER),
        content=MessageContent(body="still accepted"),
        now=clock.now(),
    )
    theirs = await open_window(uow, globex, CUSTOMER, clock.now())
    await uow.messages.add(unsent)
    stored_before = uow.messages.all()

    with pytest.raises(UnknownMessageReference, match=r"reply_to: message .* has not reached the provider"):
        await send(command(acme, MessageContent(body="hi", reply_to=str(unsent.id))))
    with pytest.raises(UnknownMessageReference, match=r"reaction\.message_id: this tenant has no message"):
        await send(command(acme, MessageContent(reaction=Reaction(str(theirs.id), "👍"))))
    with pytest.raises(UnknownMessageReference, match="this tenant has no message"):
        await send(command(acme, MessageContent(body="hi", reply_to=str(uuid4()))))

    assert uow.messages.all() == stored_before


# -------------------------------------------------------------------------------------- idempotency


def test_a_plain_request_keeps_the_fingerprint_it_always_had(acme: TenantAccount) -> None:
    sent = SendMessageCommand(
        tenant_id=acme.tenant.id,
        to_number=CUSTOMER,
        body="Your receipt",
        media_urls=("https://example.com/r.png",),
    )
    contact = PhoneNumber.parse(CUSTOMER)
    as_before = json.dumps(
        {
            "to": contact.identity,
            "from": None,
            "body": "Your receipt",
            "media": ["https://example.com/r.png"],
            "content_sid": None,
            "content_variables": {},
        },
        sort_keys=True,
        separators=(",", ":"),
    )

    assert sent.fingerprint(contact, None) == hashlib.sha256(as_before.encode()).hexdigest()


def test_every_content_has_a_fingerprint_of_its_own(acme: TenantAccount) -> None:
    contact = PhoneNumber.parse(CUSTOMER)
    fingerprints = {
        name: command(acme, content).fingerprint(contact, None) for name, content in SENT_KINDS.items()
    }
    emoji_changed = command(acme, MessageContent(reaction=Reaction(WAMID, "👎"))).fingerprint(contact, None)

    assert len(set(fingerprints.values())) == len(SENT_KINDS)
    assert emoji_changed not in fingerprints.values()
    again = command(acme, SENT_KINDS["a list"]).fingerprint(contact, None)
    assert again == fingerprints["a list"]
