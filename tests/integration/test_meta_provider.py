"""MetaMessagingProvider against the Meta emulator, over real HTTP: what reaches Meta for each kind of
message, how every answer (or lack of one) becomes an outcome the use case can act on, media both ways,
read receipts, and the webhooks that come back, verified and read."""

from __future__ import annotations

import base64
import dataclasses
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
from aiohttp import web

from adapters.meta.provider import MetaMessagingProvider
from adapters.meta.signature import SIGNATURE_HEADER, MetaSignatureVerifier
from adapters.meta.webhooks import MetaChange, parse_delivery
from application.errors import MediaTooLarge as FileTooLarge
from application.inbound.commands import StatusReport
from application.ports.media import MediaFetchFailed
from application.ports.providers import LookupResult, OutboundRequest, OutcomeKind, ReadReceiptOutcome
from domain.administration.tenancy import ProviderAccount, TwilioCredentials
from domain.messaging.content import (
    Choice,
    ContactCard,
    Interactive,
    InteractiveKind,
    ListSection,
    Location,
    Media,
    MediaKind,
    Reaction,
)
from domain.messaging.failures import FailureCode
from domain.messaging.messages import Message, MessageContent, MessageStatus, Template
from emulators.meta import (
    App,
    AuthKind,
    Business,
    EmulatorConfig,
    FailureKind,
    ForcedError,
    InboundMessage,
    PhoneNumber,
    RunningEmulator,
    Stage,
    WebhookSettings,
    running_emulator,
)
from tests.support.meta import (
    ACCESS_TOKEN,
    ACME,
    APP_SECRET,
    BUSINESS_ACCOUNT_ID,
    CUSTOMER,
    NOW,
    PHONE_NUMBER_ID,
    SENDER,
    VERIFY_TOKEN,
    meta_account,
    meta_credentials,
    outbound,
)

APP_ID = "1234567890123456"
EXPIRED_TOKEN = "EAAG-a-token-that-has-expired"
OTHER_BUSINESS = "102290129340399"
OTHER_TOKEN = "EAAG-another-business-token"
CUSTOMER_WA_ID = CUSTOMER.removeprefix("+")


@dataclass
class WebhookReceiver:
    """Where the emulator posts its webhooks: every POST kept with its raw body and headers."""

    url: str
    posts: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    received = WebhookReceiver(url="")

    async def webhook(request: web.Request) -> web.Response:
        received.posts.append((await request.read(), dict(request.headers)))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/webhooks/meta", webhook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    received.url = f"http://{host}:{port}/webhooks/meta"
    try:
        yield received
    finally:
        await runner.cleanup()


@pytest.fixture
async def emulator(receiver: WebhookReceiver) -> AsyncIterator[RunningEmulator]:
    config = EmulatorConfig(
        apps={APP_ID: App(secret=APP_SECRET, callback_url=receiver.url, verify_token=VERIFY_TOKEN)},
        businesses={
            BUSINESS_ACCOUNT_ID: Business(
                app_id=APP_ID,
                phone_numbers={PHONE_NUMBER_ID: PhoneNumber(display_phone_number=SENDER.removeprefix("+"))},
                access_tokens=(ACCESS_TOKEN,),
                expired_tokens=(EXPIRED_TOKEN,),
            ),
            OTHER_BUSINESS: Business(app_id=APP_ID, access_tokens=(OTHER_TOKEN,)),
        },
        # Messages stay accepted: no status webhook is posted while a test runs, unless it asks.
        webhooks=WebhookSettings(step_delay_seconds=60),
    )
    async with running_emulator(config) as running:
        yield running


@pytest.fixture
async def provider(emulator: RunningEmulator) -> AsyncIterator[MetaMessagingProvider]:
    provider = MetaMessagingProvider(timeout_seconds=2.0, api_base_url=emulator.base_url)
    try:
        yield provider
    finally:
        await provider.aclose()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def customer_writes(emulator: RunningEmulator, **message: Any) -> str:
    """A customer's message to our number, posted by the emulator; its wamid."""
    delivery = await emulator.send_inbound(
        InboundMessage(
            from_=CUSTOMER, phone_number_id=PHONE_NUMBER_ID, profile_name="Kerry Fisher", **message
        )
    )
    (wamid,) = delivery.message_ids
    return wamid


# -- what reaches Meta ------------------------------------------------------------------------------


async def test_a_send_reaches_meta_with_the_accounts_token_and_our_message_id(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    request = outbound()

    outcome = await provider.send(request)

    assert outcome.kind is OutcomeKind.ACCEPTED
    assert outcome.status is MessageStatus.QUEUED
    (received,) = emulator.state.requests
    assert (received.method, received.path) == ("POST", f"/v23.0/{PHONE_NUMBER_ID}/messages")
    assert received.auth.kind is AuthKind.VALID
    assert received.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER_WA_ID,
        "biz_opaque_callback_data": str(request.message.id),
        "type": "text",
        "text": {"body": "Your order has shipped", "preview_url": False},
    }
    assert received.message_id is not None
    assert outcome.provider_sid == received.message_id
    created = emulator.state.messages[received.message_id]
    assert created.biz_opaque_callback_data == str(request.message.id)


async def test_the_accounts_graph_api_version_is_the_one_called(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    account = meta_account(meta_credentials(graph_api_version="v21.0"))

    outcome = await provider.send(outbound(account=account))

    assert outcome.kind is OutcomeKind.ACCEPTED
    assert emulator.state.requests[-1].path == f"/v21.0/{PHONE_NUMBER_ID}/messages"


KINDS: dict[str, MessageContent] = {
    "text with a link preview": MessageContent(body="Track it: https://track.example.com", preview_url=True),
    "image by link, captioned": MessageContent(
        body="The menu", media=(Media(kind=MediaKind.IMAGE, url="https://cdn.example.com/menu.png"),)
    ),
    "video by link": MessageContent(
        media=(Media(kind=MediaKind.VIDEO, url="https://cdn.example.com/a.mp4"),)
    ),
    "audio by link": MessageContent(
        media=(Media(kind=MediaKind.AUDIO, url="https://cdn.example.com/a.ogg"),)
    ),
    "sticker by link": MessageContent(
        media=(Media(kind=MediaKind.STICKER, url="https://cdn.example.com/a.webp"),)
    ),
    "document by link, named": MessageContent(
        body="Your invoice",
        media=(Media(kind=MediaKind.DOCUMENT, url="https://cdn.example.com/x", filename="invoice.pdf"),),
    ),
    "media URL of no declared kind": MessageContent(media_urls=("https://cdn.example.com/files/report.pdf",)),
    "template with positional variables": MessageContent(
        template=Template.named("order_shipped", "en_US", {"1": "Ana", "2": "A-42"})
    ),
    "template with named variables": MessageContent(
        template=Template.named("order_shipped", "en_US", {"first_name": "Ana"})
    ),
    "reply buttons": MessageContent(
        interactive=Interactive(
            kind=InteractiveKind.BUTTONS,
            body="Did it arrive?",
            header="Delivery",
            footer="Acme",
            buttons=(Choice("yes", "Yes"), Choice("no", "No")),
        )
    ),
    "list": MessageContent(
        interactive=Interactive(
            kind=InteractiveKind.LIST,
            body="Pick a slot",
            button_label="Slots",
            sections=(
                ListSection("Morning", (Choice("m1", "8-10", "Before work"),)),
                ListSection("Afternoon", (Choice("a1", "14-16"),)),
            ),
        )
    ),
    "call-to-action URL": MessageContent(
        interactive=Interactive(
            kind=InteractiveKind.CTA_URL,
            body="Track it",
            button_label="Track",
            url="https://track.example.com/1",
        )
    ),
    "location": MessageContent(
        location=Location(latitude=-23.55, longitude=-46.63, name="Store", address="Av. 1")
    ),
    "contacts": MessageContent(
        contacts=(ContactCard(name="Ana Souza", phones=("+5511987654321",), emails=("ana@example.com",)),)
    ),
}


@pytest.mark.parametrize("content", KINDS.values(), ids=KINDS.keys())
async def test_each_kind_of_message_is_taken_by_meta(
    emulator: RunningEmulator, provider: MetaMessagingProvider, content: MessageContent
) -> None:
    outcome = await provider.send(outbound(content))

    assert outcome.kind is OutcomeKind.ACCEPTED, outcome.reason
    received = emulator.state.requests[-1]
    assert emulator.state.messages[received.message_id or ""].type == received.body["type"]


async def test_an_uploaded_file_is_sent_by_its_media_id(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    media_id = await provider.upload(
        meta_account(), PHONE_NUMBER_ID, b"%PDF-1.4 the invoice", "application/pdf", "invoice-42.pdf"
    )
    document = Media(kind=MediaKind.DOCUMENT, provider_media_id=media_id, filename="invoice-42.pdf")

    outcome = await provider.send(outbound(MessageContent(body="Your invoice", media=(document,))))

    assert outcome.kind is OutcomeKind.ACCEPTED, outcome.reason
    stored = emulator.state.media[media_id]
    assert (stored.content, stored.mime_type, stored.filename) == (
        b"%PDF-1.4 the invoice",
        "application/pdf",
        "invoice-42.pdf",
    )
    assert emulator.state.requests[-1].body["document"] == {
        "id": media_id,
        "caption": "Your invoice",
        "filename": "invoice-42.pdf",
    }


async def test_an_answer_and_a_reaction_name_the_customers_message(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    wamid = await customer_writes(emulator, text={"body": "Where is my parcel?"})

    answered = await provider.send(outbound(MessageContent(body="On its way", reply_to=wamid)))
    reacted = await provider.send(
        outbound(MessageContent(reaction=Reaction(provider_message_id=wamid, emoji="👍")))
    )

    assert (answered.kind, reacted.kind) == (OutcomeKind.ACCEPTED, OutcomeKind.ACCEPTED)
    answer, reaction = emulator.state.requests[-2:]
    assert answer.body["context"] == {"message_id": wamid}
    assert emulator.state.messages[answer.message_id or ""].context_message_id == wamid
    assert reaction.body["reaction"] == {"message_id": wamid, "emoji": "👍"}


async def test_a_message_meta_cannot_take_is_rejected_without_calling_meta(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    several = MessageContent(media_urls=("https://cdn.example.com/a.jpg", "https://cdn.example.com/b.jpg"))

    outcome = await provider.send(outbound(several))

    assert outcome.kind is OutcomeKind.REJECTED
    assert outcome.reason is not None
    assert "one media item per message" in outcome.reason
    assert emulator.state.requests == []


async def test_a_sender_without_a_meta_account_or_number_id_is_rejected_without_calling_meta(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    request = outbound()

    no_account = await provider.send(dataclasses.replace(request, account=None))
    no_number = await provider.send(outbound(provider_number_id=None))

    assert (no_account.kind, no_number.kind) == (OutcomeKind.REJECTED, OutcomeKind.REJECTED)
    assert no_account.reason == "the sender has no Meta (WhatsApp Cloud API) account configured"
    assert no_number.reason == "the sender has no Meta phone-number id: set it on the sender"
    assert emulator.state.requests == []


async def test_meta_cannot_look_a_message_up_and_is_not_asked(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    assert (await provider.lookup(outbound())).result is LookupResult.NOT_SUPPORTED
    assert emulator.state.requests == []


# -- Meta's refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind", "word_in_reason", "failure_code"),
    [
        (131047, OutcomeKind.REJECTED, "24 hours", FailureCode.SESSION_WINDOW_CLOSED),
        (131026, OutcomeKind.REJECTED, "not on WhatsApp", FailureCode.RECIPIENT_UNAVAILABLE),
        (132001, OutcomeKind.REJECTED, "no approved template", FailureCode.TEMPLATE_REJECTED),
        (132000, OutcomeKind.REJECTED, "number of template variables", FailureCode.TEMPLATE_REJECTED),
        (131021, OutcomeKind.REJECTED, "sender's own number", FailureCode.RECIPIENT_INVALID),
        (133010, OutcomeKind.REJECTED, "not registered", FailureCode.ACCOUNT_MISCONFIGURED),
        (130429, OutcomeKind.RETRYABLE, "throughput", FailureCode.RATE_LIMITED),
        (131056, OutcomeKind.RETRYABLE, "this recipient", FailureCode.RATE_LIMITED),
        # a 500: Meta may have it, so it is no failure (yet)
        (131000, OutcomeKind.UNKNOWN, "for a reason of its own", None),
        (368, OutcomeKind.RETRYABLE, "blocked", FailureCode.ACCOUNT_SUSPENDED),
        (131031, OutcomeKind.RETRYABLE, "locked", FailureCode.ACCOUNT_SUSPENDED),
    ],
)
async def test_each_error_meta_answers_becomes_its_outcome_with_our_reason(
    emulator: RunningEmulator,
    provider: MetaMessagingProvider,
    code: int,
    kind: OutcomeKind,
    word_in_reason: str,
    failure_code: FailureCode | None,
) -> None:
    emulator.state.update_faults(next_errors=(ForcedError(code, stage=Stage.REQUEST),))

    outcome = await provider.send(outbound())

    assert outcome.kind is kind
    assert outcome.error_code == code
    assert outcome.reason is not None
    assert word_in_reason in outcome.reason
    assert outcome.account_problem is (code in (368, 131031))
    assert outcome.failure_code is failure_code
    assert emulator.state.messages == {}


async def test_an_error_for_one_recipient_leaves_the_others_alone(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    emulator.state.update_faults(recipient_errors={CUSTOMER: ForcedError(131026, stage=Stage.REQUEST)})

    refused = await provider.send(outbound())
    taken = await provider.send(outbound(to="+16505550199"))

    assert (refused.kind, taken.kind) == (OutcomeKind.REJECTED, OutcomeKind.ACCEPTED)


async def test_rate_limits_are_retryable_after_metas_retry_after_when_it_gives_one(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(FailureKind.RATE_LIMITED,))

    outcome = await provider.send(outbound())

    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.error_code == 130429
    assert outcome.retry_after_seconds == 1.0  # our back-off: Meta sent no Retry-After
    assert emulator.state.messages == {}


async def test_an_expired_token_is_an_account_problem(provider: MetaMessagingProvider) -> None:
    account = meta_account(meta_credentials(access_token=EXPIRED_TOKEN))

    outcome = await provider.send(outbound(account=account))

    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.account_problem is True
    assert outcome.error_code == 190
    assert outcome.reason is not None
    assert outcome.reason.startswith("the Meta access token expired or was revoked")


async def test_a_phone_number_id_the_token_cannot_reach_is_an_account_problem(
    provider: MetaMessagingProvider,
) -> None:
    foreign = meta_account(meta_credentials(access_token=OTHER_TOKEN))

    unknown_number = await provider.send(outbound(provider_number_id="999999999999999"))
    not_its_number = await provider.send(outbound(account=foreign))

    for outcome in (unknown_number, not_its_number):
        assert outcome.kind is OutcomeKind.RETRYABLE
        assert outcome.account_problem is True
        assert outcome.error_code == 100


async def test_a_delivery_stage_error_is_accepted_then_reported_failed_by_webhook(
    emulator: RunningEmulator, provider: MetaMessagingProvider, receiver: WebhookReceiver
) -> None:
    emulator.state.update_webhooks(step_delay_seconds=0.01)
    emulator.state.update_faults(next_errors=(ForcedError(131026),))  # Meta's own stage: delivery
    request = outbound()

    outcome = await provider.send(request)
    await emulator.state.settle()

    assert outcome.kind is OutcomeKind.ACCEPTED
    (change,) = [change for body, _ in receiver.posts for change in parse_delivery(body).changes]
    (report,) = change.statuses
    assert (report.provider_message_id, report.status, report.error_code) == (
        outcome.provider_sid,
        MessageStatus.FAILED,
        131026,
    )
    assert report.message_id == request.message.id
    assert report.error_message is not None
    assert "not on WhatsApp" in report.error_message
    assert report.failure_code is FailureCode.RECIPIENT_UNAVAILABLE


# -- no answer --------------------------------------------------------------------------------------


async def test_meta_unreachable_is_retryable() -> None:
    provider = MetaMessagingProvider(timeout_seconds=2.0, api_base_url=f"http://127.0.0.1:{closed_port()}")
    try:
        outcome = await provider.send(outbound())
    finally:
        await provider.aclose()

    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.reason is not None
    assert "unreachable" in outcome.reason


@pytest.mark.parametrize("failure", [FailureKind.SERVER_ERROR, FailureKind.UNAVAILABLE])
async def test_a_server_error_has_an_unknown_outcome(
    emulator: RunningEmulator, provider: MetaMessagingProvider, failure: FailureKind
) -> None:
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(failure,))

    outcome = await provider.send(outbound())

    assert outcome.kind is OutcomeKind.UNKNOWN
    assert outcome.error_code in (131000, 2)


@pytest.mark.parametrize("failure", [FailureKind.SERVER_ERROR, FailureKind.DROP])
async def test_a_failure_after_meta_created_the_message_is_unknown_and_its_webhooks_tie_it_back(
    emulator: RunningEmulator,
    provider: MetaMessagingProvider,
    receiver: WebhookReceiver,
    failure: FailureKind,
) -> None:
    emulator.state.update_webhooks(step_delay_seconds=0.01, statuses=("sent",))
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(failure,), create_before_failing=True)
    request = outbound()

    outcome = await provider.send(request)
    await emulator.state.settle()

    assert outcome.kind is OutcomeKind.UNKNOWN
    (created,) = emulator.state.messages.values()  # resending would deliver it twice
    (body, _), *_ = receiver.posts
    (report,) = only(parse_delivery(body).changes).statuses
    assert (report.message_id, report.provider_message_id) == (request.message.id, created.id)


def only(changes: tuple[MetaChange, ...]) -> MetaChange:
    (change,) = changes
    return change


async def test_a_request_held_past_the_timeout_gives_an_unknown_outcome_within_the_timeout(
    emulator: RunningEmulator,
) -> None:
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(FailureKind.TIMEOUT,), hold_seconds=30)
    provider = MetaMessagingProvider(timeout_seconds=0.5, api_base_url=emulator.base_url)
    started = time.monotonic()
    try:
        outcome = await provider.send(outbound())
    finally:
        await provider.aclose()

    assert outcome.kind is OutcomeKind.UNKNOWN
    assert time.monotonic() - started < 0.5 + 1.0
    assert len(emulator.state.requests) == 1  # it was sent: Meta may yet create the message


async def test_a_dropped_connection_gives_an_unknown_outcome(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    emulator.state.update_faults(failure_rate=1.0, failure_kinds=(FailureKind.DROP,))

    outcome = await provider.send(outbound())

    assert outcome.kind is OutcomeKind.UNKNOWN
    assert emulator.state.requests[-1].outcome == "dropped"


async def test_proxy_variables_do_not_affect_requests_to_127_0_0_1(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead_proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    provider = MetaMessagingProvider(timeout_seconds=2.0, api_base_url=emulator.base_url)
    try:
        outcome = await provider.send(outbound())
    finally:
        await provider.aclose()

    assert outcome.kind is OutcomeKind.ACCEPTED


# -- media, read receipts ---------------------------------------------------------------------------


async def downloaded(
    provider: MetaMessagingProvider, account: ProviderAccount, media_id: str, max_bytes: int
) -> tuple[bytes, str | None]:
    """A customer's media item, fetched as the gateway's media worker fetches it."""
    media = Media(kind=MediaKind.DOCUMENT, provider_media_id=media_id)
    async with provider.fetch(account, media, max_bytes) as fetched:
        data = b"".join([chunk async for chunk in fetched.chunks])
    return data, fetched.content_type


async def test_a_customers_media_is_downloaded_with_the_accounts_token(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    photo = b"\xff\xd8\xff\xe0 a customer's photo"
    await customer_writes(
        emulator,
        image={"caption": "My receipt", "mime_type": "image/jpeg"},
        media_content_base64=base64.b64encode(photo).decode(),
    )
    (media_id,) = emulator.state.media

    data, content_type = await downloaded(provider, meta_account(), media_id, max_bytes=1024)

    assert (data, content_type) == (photo, "image/jpeg")
    described, fetched = emulator.state.requests[-2:]
    assert (described.path, described.auth.kind) == (f"/v23.0/{media_id}", AuthKind.VALID)
    assert (fetched.outcome, fetched.auth.kind) == ("downloaded", AuthKind.VALID)


async def test_a_download_larger_than_allowed_is_refused(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    await customer_writes(
        emulator,
        document={"filename": "big.pdf"},
        media_content_base64=base64.b64encode(b"x" * 5000).decode(),
    )
    (media_id,) = emulator.state.media

    with pytest.raises(FileTooLarge):  # the media worker gives such a file up
        await downloaded(provider, meta_account(), media_id, max_bytes=4999)


async def test_another_businesss_media_cannot_be_downloaded(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    await customer_writes(emulator, image={})
    (media_id,) = emulator.state.media

    with pytest.raises(MediaFetchFailed) as refused:
        await downloaded(provider, meta_account(meta_credentials(access_token=OTHER_TOKEN)), media_id, 1024)

    assert refused.value.permanent


async def fetched(
    provider: MetaMessagingProvider, account: ProviderAccount, media: Media, max_bytes: int
) -> tuple[bytes, str | None]:
    async with provider.fetch(account, media, max_bytes) as file:
        return b"".join([chunk async for chunk in file.chunks]), file.content_type


async def test_a_customers_media_is_fetched_as_a_stream_of_its_described_type(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    document = b"%PDF-1.7 " + b"an invoice " * 2000
    await customer_writes(
        emulator,
        document={"filename": "invoice.pdf", "mime_type": "application/pdf"},
        media_content_base64=base64.b64encode(document).decode(),
    )
    (media_id,) = emulator.state.media
    media = Media(kind=MediaKind.DOCUMENT, provider_media_id=media_id, filename="invoice.pdf")

    assert await fetched(provider, meta_account(), media, max_bytes=len(document)) == (
        document,
        "application/pdf",
    )
    described, downloaded = emulator.state.requests[-2:]
    assert (described.auth.kind, downloaded.auth.kind) == (AuthKind.VALID, AuthKind.VALID)


async def test_media_larger_than_allowed_is_refused_before_it_is_downloaded(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    await customer_writes(emulator, image={}, media_content_base64=base64.b64encode(b"x" * 5000).decode())
    (media_id,) = emulator.state.media

    with pytest.raises(FileTooLarge):
        await fetched(provider, meta_account(), Media(kind=MediaKind.IMAGE, provider_media_id=media_id), 4999)
    assert emulator.state.requests[-1].path == f"/v23.0/{media_id}", "the file itself was never asked for"


async def test_media_meta_refuses_is_a_permanent_failure(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    await customer_writes(emulator, image={})
    (media_id,) = emulator.state.media
    media = Media(kind=MediaKind.IMAGE, provider_media_id=media_id)
    other = meta_account(meta_credentials(access_token=OTHER_TOKEN))

    with pytest.raises(MediaFetchFailed) as refused:
        await fetched(provider, other, media, 1024)

    assert refused.value.permanent
    assert "HTTP 400" in refused.value.reason


async def test_media_meta_cannot_be_reached_for_is_tried_again(emulator: RunningEmulator) -> None:
    unreachable = MetaMessagingProvider(timeout_seconds=2.0, api_base_url=f"http://127.0.0.1:{closed_port()}")
    try:
        with pytest.raises(MediaFetchFailed) as failed:
            await fetched(
                unreachable, meta_account(), Media(kind=MediaKind.IMAGE, provider_media_id="123"), 1024
            )
    finally:
        await unreachable.aclose()

    assert not failed.value.permanent


async def test_media_of_another_provider_is_not_fetched_from_meta(provider: MetaMessagingProvider) -> None:
    twilio = dataclasses.replace(
        meta_account(), credentials=TwilioCredentials("AC" + "1" * 32, "token-0123456789")
    )
    by_url = Media(kind=MediaKind.IMAGE, url="https://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME1")

    with pytest.raises(MediaFetchFailed) as not_meta:
        await fetched(provider, twilio, Media(kind=MediaKind.IMAGE, provider_media_id="123"), 1024)
    with pytest.raises(MediaFetchFailed) as no_id:
        await fetched(provider, meta_account(), by_url, 1024)

    assert not_meta.value.permanent
    assert no_id.value.permanent


def customers_message(wamid: str) -> OutboundRequest:
    """The customer's message ``wamid``, as the gateway asks for it to be marked read."""
    request = outbound()
    inbound = Message.new_inbound(
        tenant_id=request.tenant.id,
        sender=request.message.sender,
        contact=request.message.contact,
        content=MessageContent(body="Hello?"),
        provider_sid=wamid,
        now=NOW,
    )
    return OutboundRequest(
        tenant=request.tenant,
        message=inbound,
        account=request.account,
        provider_number_id=request.provider_number_id,
        sender_has_account=True,
    )


async def test_a_customers_message_is_marked_read_with_the_typing_indicator(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    wamid = await customer_writes(emulator, text={"body": "Hello?"})

    typing = await provider.mark_read(customers_message(wamid), typing_indicator=True)
    plain = await provider.mark_read(customers_message(wamid), typing_indicator=False)

    assert (typing.outcome, plain.outcome) == (ReadReceiptOutcome.MARKED, ReadReceiptOutcome.MARKED)
    first, second = emulator.state.reads
    assert (first.message_id, first.typing_indicator) == (wamid, "text")
    assert (second.message_id, second.typing_indicator) == (wamid, None)


async def test_marking_a_message_meta_does_not_know_is_refused_with_a_reason(
    provider: MetaMessagingProvider,
) -> None:
    receipt = await provider.mark_read(customers_message("wamid.unknown"), typing_indicator=False)

    assert receipt.outcome is ReadReceiptOutcome.REFUSED
    assert receipt.reason


async def test_marking_read_with_meta_unreachable_is_unavailable() -> None:
    unreachable = MetaMessagingProvider(api_base_url=f"http://127.0.0.1:{closed_port()}", timeout_seconds=2)
    try:
        receipt = await unreachable.mark_read(customers_message("wamid.any"), typing_indicator=False)
    finally:
        await unreachable.aclose()

    assert receipt.outcome is ReadReceiptOutcome.UNAVAILABLE


# -- the webhooks that come back --------------------------------------------------------------------


async def test_status_webhooks_verify_and_carry_our_message_id_and_pricing(
    emulator: RunningEmulator, provider: MetaMessagingProvider, receiver: WebhookReceiver
) -> None:
    emulator.state.update_webhooks(step_delay_seconds=0.01)
    request = outbound()

    outcome = await provider.send(request)
    await emulator.state.settle()

    verifier = MetaSignatureVerifier()
    reports: list[StatusReport] = []
    for body, headers in receiver.posts:
        assert verifier.is_valid(body=body, header=headers.get(SIGNATURE_HEADER), app_secret=APP_SECRET)
        change = only(parse_delivery(body).changes)
        assert change.phone_number_id == PHONE_NUMBER_ID
        reports.extend(change.statuses)
    assert [report.status for report in reports] == [
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
        MessageStatus.READ,
    ]
    assert {report.provider_message_id for report in reports} == {outcome.provider_sid}
    assert {report.message_id for report in reports} == {UUID(str(request.message.id))}
    assert reports[0].pricing_category == "service"


async def test_a_customers_media_message_reads_into_a_command_whose_media_can_be_fetched(
    emulator: RunningEmulator, provider: MetaMessagingProvider, receiver: WebhookReceiver
) -> None:
    wamid = await customer_writes(
        emulator,
        document={"caption": "Signed", "filename": "contract.pdf"},
        media_content_base64=base64.b64encode(b"%PDF-1.4 signed").decode(),
    )

    ((body, headers),) = receiver.posts
    assert MetaSignatureVerifier().is_valid(
        body=body, header=headers[SIGNATURE_HEADER], app_secret=APP_SECRET
    )
    (message,) = only(parse_delivery(body).changes).inbound
    assert (message.provider_message_id, message.contact.e164, message.sender.e164) == (
        wamid,
        CUSTOMER,
        SENDER,
    )
    assert message.profile_name == "Kerry Fisher"
    assert message.content.body == "Signed"
    (document,) = message.content.media
    assert (document.kind, document.filename, document.content_type) == (
        MediaKind.DOCUMENT,
        "contract.pdf",
        "application/pdf",
    )
    assert document.provider_media_id is not None

    data, content_type = await downloaded(provider, meta_account(), document.provider_media_id, 1024)

    assert (data, content_type) == (b"%PDF-1.4 signed", "application/pdf")


async def test_a_batch_of_customers_messages_reads_into_one_command_each(
    emulator: RunningEmulator, receiver: WebhookReceiver
) -> None:
    await emulator.send_inbound_batch(
        [
            InboundMessage(from_=CUSTOMER, phone_number_id=PHONE_NUMBER_ID, text={"body": "one"}),
            InboundMessage(
                from_="+16505550199",
                phone_number_id=PHONE_NUMBER_ID,
                interactive={"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}},
            ),
            InboundMessage(
                from_=CUSTOMER, phone_number_id=PHONE_NUMBER_ID, location={"latitude": 1.5, "longitude": 2.5}
            ),
        ],
        merge=True,
    )

    ((body, _),) = receiver.posts
    (message_one, message_two, message_three) = only(parse_delivery(body).changes).inbound
    assert message_one.content == MessageContent(body="one")
    assert message_two.content == MessageContent(body="Yes", reply=Choice("yes", "Yes"))
    assert message_two.contact.e164 == "+16505550199"
    assert message_three.content == MessageContent(location=Location(latitude=1.5, longitude=2.5))


# -- answers the emulator never gives ---------------------------------------------------------------


@pytest.fixture
async def odd_graph() -> AsyncIterator[tuple[str, list[web.Response]]]:
    """A server on a free port that answers each send with the next of the responses a test queues."""
    answers: list[web.Response] = []

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return answers.pop(0)

    app = web.Application()
    app.router.add_post("/{version}/{number}/messages", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", answers
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (web.json_response({"messaging_product": "whatsapp", "messages": []}), OutcomeKind.UNKNOWN),
        (web.Response(text="<html>ok</html>", content_type="text/html"), OutcomeKind.UNKNOWN),
        (
            web.Response(status=502, text="<html>Bad gateway</html>", content_type="text/html"),
            OutcomeKind.UNKNOWN,
        ),
        (web.Response(status=404, text="Not Found"), OutcomeKind.REJECTED),
    ],
    ids=["success without a wamid", "success that is not JSON", "a proxy's 502", "a 404 without Meta's body"],
)
async def test_an_answer_that_is_not_metas_is_judged_by_what_it_can_mean(
    odd_graph: tuple[str, list[web.Response]], response: web.Response, kind: OutcomeKind
) -> None:
    base_url, answers = odd_graph
    answers.append(response)
    provider = MetaMessagingProvider(timeout_seconds=2.0, api_base_url=base_url)
    try:
        outcome = await provider.send(outbound())
    finally:
        await provider.aclose()

    assert outcome.kind is kind
    assert outcome.reason


async def test_metas_retry_after_is_honoured(odd_graph: tuple[str, list[web.Response]]) -> None:
    base_url, answers = odd_graph
    error = {"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429}}
    answers.append(web.json_response(error, status=429, headers={"Retry-After": "17"}))
    provider = MetaMessagingProvider(timeout_seconds=2.0, api_base_url=base_url)
    try:
        outcome = await provider.send(outbound())
    finally:
        await provider.aclose()

    assert (outcome.kind, outcome.error_code, outcome.retry_after_seconds) == (
        OutcomeKind.RETRYABLE,
        130429,
        17.0,
    )


async def test_a_sender_of_another_providers_account_is_rejected_with_the_reason(
    emulator: RunningEmulator, provider: MetaMessagingProvider
) -> None:
    twilio = ProviderAccount(
        tenant_id=ACME.id,
        credentials=TwilioCredentials(account_sid="AC" + "1f" * 16, auth_token="the-tenants-auth-token"),
        created_at=NOW,
    )

    outcome = await provider.send(outbound(account=twilio))

    assert outcome.kind is OutcomeKind.REJECTED
    assert outcome.reason == "the sender's account is a twilio account, not a Meta one"
    assert emulator.state.requests == []
