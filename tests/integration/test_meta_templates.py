"""MetaTemplateProvider against the Meta emulator over real HTTP: a template created, reviewed on the
emulator's clock and approved or rejected, with the signed webhook that says so read back into an update;
listings that find what was made in Meta's console; edits, deletes, a definition's round trip, and every
failure in the port's words."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from adapters.meta.provider import MetaMessagingProvider
from adapters.meta.signature import MetaSignatureVerifier
from adapters.meta.template_webhooks import template_updates_of
from adapters.meta.templates import MetaTemplateProvider
from adapters.meta.webhooks import parse_delivery
from application.ports.providers import OutcomeKind
from application.ports.templates import (
    RemoteTemplate,
    TemplateProviderRefused,
    TemplateProviderUnavailable,
    TemplateStatusUpdate,
)
from domain.administration.tenancy import MetaCredentials, ProviderAccount, ProviderName
from domain.messaging.messages import MessageContent, Template
from domain.templates.catalogue import TemplateQuality, TemplateStatus
from domain.templates.definition import (
    ButtonKind,
    HeaderFormat,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
)
from emulators.meta import AuthKind, RunningEmulator, running_emulator
from tests.support.meta import ACME, outbound
from tests.support.meta_emulator import (
    API_VERSION,
    APP_SECRET,
    EXPIRED_TOKEN,
    OTHER_WABA_ID,
    PHONE_NUMBER_ID,
    TOKEN,
    VERIFY_TOKEN,
    WABA_ID,
    WebhookReceiver,
    emulator_config,
    webhook_receiver,
)

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
REVIEW = 10.0  # seconds of the emulator's clock past any review

ORDER_SHIPPED = TemplateDefinition(
    name="order_shipped",
    language="en_US",
    category=TemplateCategory.UTILITY,
    header=TemplateHeader(format=HeaderFormat.TEXT, text="Order {{1}}"),
    body="Hi {{2}}, your parcel leaves today with {{3}}.",
    footer="Reply STOP to opt out",
    buttons=(
        TemplateButton(kind=ButtonKind.URL, text="Track it", url="https://track.example.com/{{4}}"),
        TemplateButton(kind=ButtonKind.QUICK_REPLY, text="Thanks"),
    ),
    examples=(("1", "A-42"), ("2", "Ana"), ("3", "DHL"), ("4", "A42XYZ")),
)
WELCOME = TemplateDefinition(
    name="welcome",
    language="en",
    category=TemplateCategory.MARKETING,
    body="Hello {{first_name}}, your code is {{code}} today.",
    examples=(("first_name", "Ana"), ("code", "X1")),
)


def account(*, access_token: str = TOKEN, business_account_id: str = WABA_ID) -> ProviderAccount:
    credentials = MetaCredentials(
        business_account_id=business_account_id,
        access_token=access_token,
        app_secret=APP_SECRET,
        verify_token=VERIFY_TOKEN,
        graph_api_version=API_VERSION,
    )
    return ProviderAccount(tenant_id=ACME.id, credentials=credentials, created_at=NOW, label="acme")


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as running:
        yield running


@pytest.fixture
async def emulator(receiver: WebhookReceiver) -> AsyncIterator[RunningEmulator]:
    async with running_emulator(emulator_config(receiver.url())) as running:
        yield running


@pytest.fixture
async def provider(emulator: RunningEmulator) -> AsyncIterator[MetaTemplateProvider]:
    provider = MetaTemplateProvider(timeout_seconds=2.0, api_base_url=emulator.base_url)
    try:
        yield provider
    finally:
        await provider.aclose()


def template_webhook_updates(receiver: WebhookReceiver) -> list[TemplateStatusUpdate]:
    """What the gateway reads of every webhook posted so far, each checked for Meta's signature first."""
    verifier = MetaSignatureVerifier()
    updates = []
    for webhook in receiver.received:
        assert verifier.is_valid(body=webhook.body, header=webhook.signature, app_secret=APP_SECRET)
        assert parse_delivery(webhook.body).changes == ()
        updates.extend(template_updates_of(webhook.body, at=NOW))
    return updates


async def listed(provider: MetaTemplateProvider, name: str, language: str = "en_US") -> RemoteTemplate:
    found = [t for t in await provider.list(account()) if (t.name, t.language) == (name, language)]
    assert len(found) == 1, found
    return found[0]


# -- create, review, webhook ------------------------------------------------------------------------


async def test_a_created_template_is_pending_until_reviewed_then_approved_with_a_signed_webhook(
    emulator: RunningEmulator, receiver: WebhookReceiver, provider: MetaTemplateProvider
) -> None:
    created = await provider.create(account(), ORDER_SHIPPED)

    assert created.status is TemplateStatus.PENDING
    assert created.definition == ORDER_SHIPPED
    (request,) = emulator.state.requests
    assert (request.method, request.path) == ("POST", f"/{API_VERSION}/{WABA_ID}/message_templates")
    assert request.auth.kind is AuthKind.VALID
    assert request.body["parameter_format"] == "POSITIONAL"
    assert request.body["category"] == "UTILITY"
    assert (await listed(provider, "order_shipped")).status is TemplateStatus.PENDING
    assert receiver.received == []

    await emulator.advance_clock(REVIEW)

    assert template_webhook_updates(receiver) == [
        TemplateStatusUpdate(
            provider=ProviderName.META,
            business_account_id=WABA_ID,
            provider_template_id=created.provider_template_id,
            name="order_shipped",
            language="en_US",
            status=TemplateStatus.APPROVED,
            reason=None,
            quality=None,
            at=NOW,
        )
    ]
    assert (await listed(provider, "order_shipped")).status is TemplateStatus.APPROVED


async def test_a_template_meta_rejects_says_why_in_the_webhook_and_the_listing(
    emulator: RunningEmulator, receiver: WebhookReceiver, provider: MetaTemplateProvider
) -> None:
    spam = TemplateDefinition(
        name="spam_blast",
        language="en_US",
        category=TemplateCategory.MARKETING,
        body="Reject this offer at your peril, {{1}}!",
        examples=(("1", "Ana"),),
    )
    created = await provider.create(account(), spam)

    await emulator.advance_clock(REVIEW)

    (update,) = template_webhook_updates(receiver)
    assert (update.provider_template_id, update.status, update.reason) == (
        created.provider_template_id,
        TemplateStatus.REJECTED,
        "INVALID_FORMAT",
    )
    listing = await listed(provider, "spam_blast")
    assert (listing.status, listing.rejection_reason) == (TemplateStatus.REJECTED, "INVALID_FORMAT")


async def test_a_paused_template_is_told_by_webhook_and_listed_paused(
    emulator: RunningEmulator, receiver: WebhookReceiver, provider: MetaTemplateProvider
) -> None:
    created = await provider.create(account(), ORDER_SHIPPED)
    await emulator.advance_clock(REVIEW)

    await emulator.template_event(created.provider_template_id, "PAUSED", "Low quality")
    await emulator.template_quality(created.provider_template_id, "RED")

    *_, paused, quality = template_webhook_updates(receiver)
    assert (paused.status, paused.reason) == (TemplateStatus.PAUSED, "Low quality")
    assert (quality.status, quality.quality) == (None, TemplateQuality.LOW)
    listing = await listed(provider, "order_shipped")
    assert (listing.status, listing.quality) == (TemplateStatus.PAUSED, TemplateQuality.LOW)


# -- listing ----------------------------------------------------------------------------------------


async def test_the_listing_finds_templates_made_in_metas_console_including_media_headers(
    emulator: RunningEmulator, provider: MetaTemplateProvider
) -> None:
    emulator.console_template(
        waba_id=WABA_ID,
        name="menu_of_the_week",
        language="en_US",
        category="MARKETING",
        components=[
            {
                "type": "HEADER",
                "format": "IMAGE",
                "example": {"header_handle": ["https://scontent.whatsapp.net/v/menu.jpg"]},
            },
            {"type": "BODY", "text": "This week's menu is here, {{1}}.", "example": {"body_text": [["Ana"]]}},
        ],
        quality_score="GREEN",
    )

    listing = await listed(provider, "menu_of_the_week")

    assert (listing.status, listing.quality) == (TemplateStatus.APPROVED, TemplateQuality.HIGH)
    assert listing.definition == TemplateDefinition(
        name="menu_of_the_week",
        language="en_US",
        category=TemplateCategory.MARKETING,
        header=TemplateHeader(
            format=HeaderFormat.IMAGE, example_url="https://scontent.whatsapp.net/v/menu.jpg"
        ),
        body="This week's menu is here, {{1}}.",
        examples=(("1", "Ana"),),
    )


async def test_the_listing_follows_metas_pages_to_the_end(
    emulator: RunningEmulator, provider: MetaTemplateProvider
) -> None:
    for number in range(230):
        emulator.console_template(
            waba_id=WABA_ID,
            name=f"notice_{number:03d}",
            language="en_US",
            category="UTILITY",
            components=[{"type": "BODY", "text": f"Notice number {number}."}],
        )

    listing = await provider.list(account())

    assert sorted(t.name for t in listing) == [f"notice_{number:03d}" for number in range(230)]
    pages = [r for r in emulator.state.requests if r.path.endswith("/message_templates")]
    assert len(pages) == 3


async def test_another_business_accounts_templates_are_not_listed(
    emulator: RunningEmulator, provider: MetaTemplateProvider
) -> None:
    emulator.console_template(
        waba_id=OTHER_WABA_ID,
        name="globex_only",
        language="en_US",
        category="UTILITY",
        components=[{"type": "BODY", "text": "Globex news."}],
    )

    assert await provider.list(account()) == []


# -- edits and deletes ------------------------------------------------------------------------------


async def test_an_edited_template_is_reviewed_again_and_reads_back_changed(
    emulator: RunningEmulator, receiver: WebhookReceiver, provider: MetaTemplateProvider
) -> None:
    created = await provider.create(account(), ORDER_SHIPPED)
    await emulator.advance_clock(REVIEW)
    changed = TemplateDefinition(
        name="order_shipped",
        language="en_US",
        category=TemplateCategory.UTILITY,
        body="Hello {{1}}, {{2}} brings your parcel today.",
        examples=(("1", "Ana"), ("2", "DHL")),
    )

    updated = await provider.update(account(), created.provider_template_id, changed)

    assert (updated.provider_template_id, updated.status) == (
        created.provider_template_id,
        TemplateStatus.PENDING,
    )
    await emulator.advance_clock(REVIEW)
    listing = await listed(provider, "order_shipped")
    assert (listing.status, listing.definition) == (TemplateStatus.APPROVED, changed)
    assert [u.status for u in template_webhook_updates(receiver)] == [
        TemplateStatus.APPROVED,
        TemplateStatus.PENDING,
        TemplateStatus.APPROVED,
    ]


async def test_a_deleted_template_leaves_the_listing_and_deleting_it_again_succeeds(
    emulator: RunningEmulator, provider: MetaTemplateProvider
) -> None:
    created = await provider.create(account(), WELCOME)
    kept = await provider.create(account(), ORDER_SHIPPED)

    await provider.delete(account(), created)
    await provider.delete(account(), created)

    assert [t.provider_template_id for t in await provider.list(account())] == [kept.provider_template_id]
    deletes = [r for r in emulator.state.requests if r.method == "DELETE"]
    assert [r.outcome for r in deletes] == ["templates_deleted", "rejected"]
    assert emulator.state.templates[created.provider_template_id].status == "PENDING_DELETION"


async def test_deleting_a_template_that_never_existed_succeeds(provider: MetaTemplateProvider) -> None:
    never = RemoteTemplate(
        provider_template_id="1234567890123456",
        name="never_made",
        language="en_US",
        status=TemplateStatus.APPROVED,
        definition=None,
    )

    await provider.delete(account(), never)


# -- a definition's round trip ----------------------------------------------------------------------


@pytest.mark.parametrize("definition", [ORDER_SHIPPED, WELCOME], ids=["positional", "named"])
async def test_a_definition_reads_back_from_meta_as_it_was_written(
    emulator: RunningEmulator, provider: MetaTemplateProvider, definition: TemplateDefinition
) -> None:
    await provider.create(account(), definition)
    await emulator.advance_clock(REVIEW)

    listing = await listed(provider, definition.name, definition.language)

    assert listing.definition == definition


# -- sending what was created ----------------------------------------------------------------------


@pytest.fixture
async def messaging(emulator: RunningEmulator) -> AsyncIterator[MetaMessagingProvider]:
    provider = MetaMessagingProvider(timeout_seconds=2.0, api_base_url=emulator.base_url)
    try:
        yield provider
    finally:
        await provider.aclose()


def order_shipped_message(values: dict[str, str]) -> MessageContent:
    template = Template(
        name="order_shipped",
        language="en_US",
        variables=tuple(sorted(values.items())),
        layout=ORDER_SHIPPED.layout,
    )
    return MessageContent(template=template)


ORDER_VALUES = {"1": "A-42", "2": "Ana", "3": "DHL", "4": "A42XYZ"}


async def test_an_approved_template_is_sent_with_each_components_parameters(
    emulator: RunningEmulator, provider: MetaTemplateProvider, messaging: MetaMessagingProvider
) -> None:
    await provider.create(account(), ORDER_SHIPPED)
    await emulator.advance_clock(REVIEW)

    outcome = await messaging.send(
        outbound(order_shipped_message(ORDER_VALUES), account=account(), provider_number_id=PHONE_NUMBER_ID)
    )

    assert outcome.kind is OutcomeKind.ACCEPTED
    sent = emulator.state.messages[outcome.provider_sid or ""]
    assert sent.category == "utility"
    assert [c["type"] for c in sent.request["template"]["components"]] == ["header", "body", "button"]


async def test_a_template_still_in_review_cannot_be_sent(
    provider: MetaTemplateProvider, messaging: MetaMessagingProvider
) -> None:
    await provider.create(account(), ORDER_SHIPPED)

    outcome = await messaging.send(
        outbound(order_shipped_message(ORDER_VALUES), account=account(), provider_number_id=PHONE_NUMBER_ID)
    )

    assert outcome.kind is OutcomeKind.REJECTED


async def test_a_paused_template_cannot_be_sent(
    emulator: RunningEmulator, provider: MetaTemplateProvider, messaging: MetaMessagingProvider
) -> None:
    created = await provider.create(account(), ORDER_SHIPPED)
    await emulator.advance_clock(REVIEW)
    await emulator.template_event(created.provider_template_id, "PAUSED")

    outcome = await messaging.send(
        outbound(order_shipped_message(ORDER_VALUES), account=account(), provider_number_id=PHONE_NUMBER_ID)
    )

    assert outcome.kind is OutcomeKind.REJECTED
    assert emulator.state.requests[-1].error_code == 132015


# -- failures in the port's words -------------------------------------------------------------------


async def test_a_template_that_exists_already_is_refused_in_metas_words(
    provider: MetaTemplateProvider,
) -> None:
    await provider.create(account(), WELCOME)

    with pytest.raises(TemplateProviderRefused, match="already exists"):
        await provider.create(account(), WELCOME)


async def test_a_template_meta_finds_malformed_is_refused_with_its_reason(
    emulator: RunningEmulator, provider: MetaTemplateProvider
) -> None:
    ends_with_a_variable = TemplateDefinition(
        name="code",
        language="en",
        category=TemplateCategory.UTILITY,
        body="Your code is {{1}}",
        examples=(("1", "7"),),
    )

    with pytest.raises(TemplateProviderRefused, match="start or end"):
        await provider.create(account(), ends_with_a_variable)
    assert emulator.state.templates == {}


async def test_a_name_deleted_recently_cannot_be_used_again(provider: MetaTemplateProvider) -> None:
    created = await provider.create(account(), WELCOME)
    await provider.delete(account(), created)

    with pytest.raises(TemplateProviderRefused, match="being deleted"):
        await provider.create(account(), WELCOME)


async def test_a_media_header_is_refused_without_asking_meta(
    emulator: RunningEmulator, provider: MetaTemplateProvider
) -> None:
    with_image = TemplateDefinition(
        name="menu",
        language="en",
        category=TemplateCategory.MARKETING,
        header=TemplateHeader(format=HeaderFormat.IMAGE, example_url="https://cdn.example.com/menu.png"),
        body="Our new menu is here.",
    )

    with pytest.raises(TemplateProviderRefused, match="WhatsApp Manager"):
        await provider.create(account(), with_image)
    assert emulator.state.requests == []


async def test_an_expired_token_is_refused_saying_the_account_needs_a_new_one(
    provider: MetaTemplateProvider,
) -> None:
    with pytest.raises(TemplateProviderRefused, match="access token"):
        await provider.list(account(access_token=EXPIRED_TOKEN))


async def test_a_business_account_the_token_cannot_see_is_refused(provider: MetaTemplateProvider) -> None:
    with pytest.raises(TemplateProviderRefused, match="does not exist"):
        await provider.create(account(business_account_id=OTHER_WABA_ID), WELCOME)


async def test_an_edit_while_meta_reviews_is_refused(provider: MetaTemplateProvider) -> None:
    created = await provider.create(account(), WELCOME)

    with pytest.raises(TemplateProviderRefused, match="can't be edited"):
        await provider.update(account(), created.provider_template_id, WELCOME)


async def test_meta_out_of_reach_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = MetaTemplateProvider(timeout_seconds=2.0, api_base_url=f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(TemplateProviderUnavailable):
            await provider.list(account())
    finally:
        await provider.aclose()
