"""What a send asks Meta for, kind by kind: the JSON body of ``POST /{version}/{phone-number-id}/messages``
as Meta's Cloud API documents it, and the messages Meta cannot take, refused with a reason."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from adapters.meta.message_bodies import media_kind_of_url, message_body, unsupported
from adapters.meta.provider import MetaMessagingProvider
from domain.administration.tenancy import ProviderName
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
from domain.messaging.messages import MessageContent, Template

TO = "16505551234"
OUR_ID = "0b4f3c9e-8a51-4a8e-9d0c-6a6d2f0e9a11"
WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdBQ0M2RTVFRkFBNTlDQTk0NAA="
ENVELOPE = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": TO,
    "biz_opaque_callback_data": OUR_ID,
}


def body_of(content: MessageContent) -> dict[str, Any]:
    assert unsupported(content) is None
    return message_body(content, to=TO, callback_data=OUR_ID)


def test_a_text_message_carries_its_body_and_whether_links_are_previewed() -> None:
    assert body_of(MessageContent(body="See https://example.com/track", preview_url=True)) == {
        **ENVELOPE,
        "type": "text",
        "text": {"body": "See https://example.com/track", "preview_url": True},
    }


def test_our_message_id_travels_as_the_callback_data_that_status_webhooks_carry_back() -> None:
    body = body_of(MessageContent(body="hi"))

    assert UUID(body["biz_opaque_callback_data"]) == UUID(OUR_ID)
    assert (body["messaging_product"], body["recipient_type"], body["to"]) == ("whatsapp", "individual", TO)


def test_an_answer_to_a_customers_message_names_it_as_its_context() -> None:
    body = body_of(MessageContent(body="Yes, it ships today", reply_to=WAMID))

    assert body["context"] == {"message_id": WAMID}


@pytest.mark.parametrize("kind", [MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.DOCUMENT])
def test_typed_media_by_link_is_captioned_by_the_body(kind: MediaKind) -> None:
    media = Media(kind=kind, url="https://cdn.example.com/files/item")

    body = body_of(MessageContent(body="Here it is", media=(media,)))

    assert body["type"] == kind.value
    assert body[kind.value] == {"link": "https://cdn.example.com/files/item", "caption": "Here it is"}


@pytest.mark.parametrize("kind", [MediaKind.AUDIO, MediaKind.STICKER])
def test_audio_and_stickers_go_without_a_caption(kind: MediaKind) -> None:
    body = body_of(MessageContent(media=(Media(kind=kind, provider_media_id="1013859600285441"),)))

    assert body["type"] == kind.value
    assert body[kind.value] == {"id": "1013859600285441"}


def test_an_uploaded_document_goes_by_its_media_id_with_the_filename_the_customer_sees() -> None:
    document = Media(kind=MediaKind.DOCUMENT, provider_media_id="1013859600285441", filename="invoice-42.pdf")

    body = body_of(MessageContent(body="Your invoice", media=(document,)))

    assert body["document"] == {
        "id": "1013859600285441",
        "caption": "Your invoice",
        "filename": "invoice-42.pdf",
    }


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://cdn.example.com/a/photo.JPG", MediaKind.IMAGE),
        ("https://cdn.example.com/a/photo.jpeg?size=large", MediaKind.IMAGE),
        ("https://cdn.example.com/a/chart.png", MediaKind.IMAGE),
        ("https://cdn.example.com/a/clip.mp4", MediaKind.VIDEO),
        ("https://cdn.example.com/a/clip.3gp", MediaKind.VIDEO),
        ("https://cdn.example.com/a/note.ogg", MediaKind.AUDIO),
        ("https://cdn.example.com/a/song.mp3", MediaKind.AUDIO),
        ("https://cdn.example.com/a/wave.webp", MediaKind.STICKER),
        ("https://cdn.example.com/a/report.pdf", MediaKind.DOCUMENT),
        ("https://cdn.example.com/a/download", MediaKind.DOCUMENT),
        ("https://cdn.example.com/photo.jpg/view", MediaKind.DOCUMENT),
    ],
)
def test_a_media_url_without_a_declared_kind_is_sent_as_the_kind_its_extension_names(
    url: str, kind: MediaKind
) -> None:
    assert media_kind_of_url(url) is kind


def test_a_media_url_is_sent_by_link_captioned_by_the_body() -> None:
    body = body_of(MessageContent(body="Our new menu", media_urls=("https://cdn.example.com/menu.png",)))

    assert body["type"] == "image"
    assert body["image"] == {"link": "https://cdn.example.com/menu.png", "caption": "Our new menu"}


def test_a_media_url_of_no_known_kind_is_a_document_named_after_its_last_path_segment() -> None:
    body = body_of(MessageContent(media_urls=("https://cdn.example.com/files/Price%20list.xlsx?v=3",)))

    assert body["type"] == "document"
    assert body["document"] == {
        "link": "https://cdn.example.com/files/Price%20list.xlsx?v=3",
        "filename": "Price list.xlsx",
    }


def test_a_template_with_positional_variables_fills_the_body_parameters_in_their_order() -> None:
    template = Template.named(
        "order_shipped", "pt_BR", {str(n): f"value {n}" for n in (2, 10, 1, 3, 4, 5, 6, 7, 8, 9)}
    )

    body = body_of(MessageContent(template=template))

    assert body["type"] == "template"
    assert body["template"] == {
        "name": "order_shipped",
        "language": {"code": "pt_BR"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": f"value {n}"} for n in range(1, 11)]}
        ],
    }


def test_a_template_with_named_variables_names_each_parameter() -> None:
    template = Template.named("order_shipped", "en", {"first_name": "Ana", "order_id": "A-42"})

    body = body_of(MessageContent(template=template))

    assert body["template"]["components"] == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": "first_name", "text": "Ana"},
                {"type": "text", "parameter_name": "order_id", "text": "A-42"},
            ],
        }
    ]


def test_a_template_without_variables_has_no_components() -> None:
    body = body_of(MessageContent(template=Template.named("hello_world", "en_US")))

    assert body["template"] == {"name": "hello_world", "language": {"code": "en_US"}}


def test_reply_buttons_with_header_and_footer() -> None:
    interactive = Interactive(
        kind=InteractiveKind.BUTTONS,
        body="Did the parcel arrive?",
        header="Delivery",
        footer="Acme Logistics",
        buttons=(Choice("yes", "Yes"), Choice("no", "Not yet")),
    )

    body = body_of(MessageContent(interactive=interactive))

    assert body["type"] == "interactive"
    assert body["interactive"] == {
        "type": "button",
        "header": {"type": "text", "text": "Delivery"},
        "body": {"text": "Did the parcel arrive?"},
        "footer": {"text": "Acme Logistics"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                {"type": "reply", "reply": {"id": "no", "title": "Not yet"}},
            ]
        },
    }


def test_a_list_opens_with_its_button_and_shows_its_sections_and_rows() -> None:
    interactive = Interactive(
        kind=InteractiveKind.LIST,
        body="Pick a delivery slot",
        button_label="Slots",
        sections=(
            ListSection("Morning", (Choice("m1", "8-10", "Before work"), Choice("m2", "10-12"))),
            ListSection("Afternoon", (Choice("a1", "14-16"),)),
        ),
    )

    body = body_of(MessageContent(interactive=interactive))

    assert body["interactive"] == {
        "type": "list",
        "body": {"text": "Pick a delivery slot"},
        "action": {
            "button": "Slots",
            "sections": [
                {
                    "title": "Morning",
                    "rows": [
                        {"id": "m1", "title": "8-10", "description": "Before work"},
                        {"id": "m2", "title": "10-12"},
                    ],
                },
                {"title": "Afternoon", "rows": [{"id": "a1", "title": "14-16"}]},
            ],
        },
    }


def test_a_single_untitled_section_goes_without_a_title() -> None:
    interactive = Interactive(
        kind=InteractiveKind.LIST,
        body="Pick one",
        button_label="Options",
        sections=(ListSection("", (Choice("a", "A"), Choice("b", "B"))),),
    )

    sections = body_of(MessageContent(interactive=interactive))["interactive"]["action"]["sections"]

    assert sections == [{"rows": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]}]


def test_a_call_to_action_url_button() -> None:
    interactive = Interactive(
        kind=InteractiveKind.CTA_URL,
        body="Track your parcel",
        button_label="Track",
        url="https://track.example.com/A-42",
    )

    assert body_of(MessageContent(interactive=interactive))["interactive"] == {
        "type": "cta_url",
        "body": {"text": "Track your parcel"},
        "action": {
            "name": "cta_url",
            "parameters": {"display_text": "Track", "url": "https://track.example.com/A-42"},
        },
    }


def test_a_location_with_and_without_its_name_and_address() -> None:
    named = Location(latitude=-23.5505, longitude=-46.6333, name="Acme store", address="Av. Paulista 1000")

    assert body_of(MessageContent(location=named))["location"] == {
        "latitude": -23.5505,
        "longitude": -46.6333,
        "name": "Acme store",
        "address": "Av. Paulista 1000",
    }
    assert body_of(MessageContent(location=Location(latitude=1.5, longitude=2.5)))["location"] == {
        "latitude": 1.5,
        "longitude": 2.5,
    }


def test_contact_cards_carry_the_name_phones_emails_and_organization() -> None:
    cards = (
        ContactCard(
            name="Ana Souza",
            phones=("+5511987654321",),
            emails=("ana@example.com",),
            organization="Acme",
        ),
        ContactCard(name="Support"),
    )

    body = body_of(MessageContent(contacts=cards))

    assert body["type"] == "contacts"
    assert body["contacts"] == [
        {
            "name": {"formatted_name": "Ana Souza", "first_name": "Ana Souza"},
            "phones": [{"phone": "+5511987654321"}],
            "emails": [{"email": "ana@example.com"}],
            "org": {"company": "Acme"},
        },
        {"name": {"formatted_name": "Support", "first_name": "Support"}},
    ]


def test_a_reaction_and_taking_it_back() -> None:
    added = body_of(MessageContent(reaction=Reaction(provider_message_id=WAMID, emoji="\U0001f44d")))
    removed = body_of(MessageContent(reaction=Reaction(provider_message_id=WAMID, emoji="")))

    assert added["type"] == "reaction"
    assert added["reaction"] == {"message_id": WAMID, "emoji": "\U0001f44d"}
    assert removed["reaction"] == {"message_id": WAMID, "emoji": ""}
    assert "context" not in added


# -- what Meta cannot take --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            MessageContent(media_urls=("https://cdn.example.com/a.jpg", "https://cdn.example.com/b.jpg")),
            "one media item per message",
        ),
        (
            MessageContent(
                media=(Media(kind=MediaKind.IMAGE, url="https://cdn.example.com/a.jpg"),),
                media_urls=("https://cdn.example.com/b.pdf",),
            ),
            "one media item per message",
        ),
        (MessageContent(template=Template.of("HX" + "a" * 32)), "Twilio Content template"),
        (
            MessageContent(
                body="listen", media=(Media(kind=MediaKind.AUDIO, url="https://cdn.example.com/a.ogg"),)
            ),
            "no caption on audio",
        ),
        (
            MessageContent(body="hi", media_urls=("https://cdn.example.com/wave.webp",)),
            "no caption on sticker",
        ),
        (
            MessageContent(body="x" * 1025, media_urls=("https://cdn.example.com/a.jpg",)),
            "at most 1024 characters",
        ),
        (MessageContent(template=Template.named("t", "en", {"1": "a", "3": "c"})), "without gaps"),
        (MessageContent(template=Template.named("t", "en", {"1": "a", "name": "b"})), "not both"),
        # "²" is a digit to str.isdigit, but no position
        (MessageContent(template=Template.named("t", "en", {"1": "a", "²": "b"})), "not both"),
        (
            MessageContent(reaction=Reaction(provider_message_id=WAMID, emoji="x"), reply_to=WAMID),
            "cannot reply",
        ),
        (MessageContent(body="Yes", reply=Choice("yes", "Yes")), "cannot be sent"),
        (MessageContent(unsupported="order"), "cannot be sent"),
    ],
)
def test_a_message_meta_cannot_take_is_refused_with_a_reason(content: MessageContent, words: str) -> None:
    reason = unsupported(content)

    assert reason is not None
    assert words in reason
    assert MetaMessagingProvider().unsupported(ProviderName.META, content) == reason


def test_a_named_variable_that_looks_like_a_digit_is_sent_by_its_name() -> None:
    body = body_of(MessageContent(template=Template.named("t", "en", {"²": "squared"})))

    assert body["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "parameter_name": "²", "text": "squared"}]}
    ]
