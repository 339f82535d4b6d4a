"""A template definition as Twilio's Content API holds it: the Content type picked for each shape, the
JSON written, what is read back, and the approval statuses in our words."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.twilio.content_types import (
    NotForTwilio,
    approval_request,
    content_request,
    definition_of,
    media_format,
    status_of,
)
from domain.templates.catalogue import TemplateStatus
from domain.templates.definition import (
    ButtonKind,
    HeaderFormat,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
)

ORDER_SHIPPED = TemplateDefinition(
    name="order_shipped",
    language="en",
    category=TemplateCategory.UTILITY,
    body="Hi {{1}}, order {{2}} has shipped.",
    examples=(("1", "Ana"), ("2", "A-1001")),
)
TRACK = TemplateButton(ButtonKind.URL, text="Track it", url="https://shop.example.com/track/{{3}}")
CALL = TemplateButton(ButtonKind.PHONE_NUMBER, text="Call us", phone_number="+14155550100")
CODE = TemplateButton(ButtonKind.COPY_CODE, text="Copy code", example="SAVE10")
YES = TemplateButton(ButtonKind.QUICK_REPLY, text="Yes")
NO = TemplateButton(ButtonKind.QUICK_REPLY, text="No")
PHOTO = TemplateHeader(HeaderFormat.IMAGE, example_url="https://cdn.example.com/box.jpg")


def shaped(**changes: Any) -> TemplateDefinition:
    fields = {
        "name": ORDER_SHIPPED.name,
        "language": ORDER_SHIPPED.language,
        "category": ORDER_SHIPPED.category,
        "body": ORDER_SHIPPED.body,
        "examples": ORDER_SHIPPED.examples,
        **changes,
    }
    return TemplateDefinition(**fields)


SHAPES = {
    "twilio/text": ORDER_SHIPPED,
    "twilio/media": shaped(header=PHOTO),
    "twilio/quick-reply": shaped(buttons=(YES, NO)),
    "twilio/call-to-action": shaped(
        buttons=(TRACK, CALL, CODE), examples=(*ORDER_SHIPPED.examples, ("3", "A-1001"))
    ),
    "whatsapp/card (text header, footer)": shaped(
        header=TemplateHeader(HeaderFormat.TEXT, text="Order {{1}}"), footer="Reply STOP to opt out"
    ),
    "whatsapp/card (media header, buttons)": shaped(
        header=TemplateHeader(HeaderFormat.DOCUMENT, example_url="https://cdn.example.com/invoice.pdf"),
        buttons=(YES, CALL),
    ),
    "whatsapp/card (quick replies beside a link)": shaped(
        buttons=(YES, TRACK), examples=(*ORDER_SHIPPED.examples, ("3", "A-1001"))
    ),
}


@pytest.mark.parametrize(("content_type", "definition"), list(SHAPES.items()), ids=list(SHAPES))
def test_each_shape_is_written_as_the_plainest_content_type_and_read_back_unchanged(
    content_type: str, definition: TemplateDefinition
) -> None:
    request = content_request(definition)

    assert list(request["types"]) == [content_type.split(" ", maxsplit=1)[0]]
    read = definition_of(
        name=definition.name,
        language=definition.language,
        category=approval_request(definition)["category"],
        types=request["types"],
        variables=request["variables"],
    )
    assert read == definition


def test_a_text_template_is_its_name_language_samples_and_body() -> None:
    assert content_request(ORDER_SHIPPED) == {
        "friendly_name": "order_shipped",
        "language": "en",
        "variables": {"1": "Ana", "2": "A-1001"},
        "types": {"twilio/text": {"body": "Hi {{1}}, order {{2}} has shipped."}},
    }
    assert approval_request(ORDER_SHIPPED) == {"name": "order_shipped", "category": "UTILITY"}


def test_buttons_are_twilios_actions() -> None:
    request = content_request(SHAPES["twilio/call-to-action"])
    assert request["types"] == {
        "twilio/call-to-action": {
            "body": ORDER_SHIPPED.body,
            "actions": [
                {"type": "URL", "title": "Track it", "url": "https://shop.example.com/track/{{3}}"},
                {"type": "PHONE_NUMBER", "title": "Call us", "phone": "+14155550100"},
                {"type": "COPY_CODE", "title": "Copy code", "code": "SAVE10"},
            ],
        }
    }


def test_a_quick_reply_answers_with_its_own_text() -> None:
    request = content_request(SHAPES["twilio/quick-reply"])
    assert request["types"] == {
        "twilio/quick-reply": {
            "body": ORDER_SHIPPED.body,
            "actions": [{"title": "Yes", "id": "Yes"}, {"title": "No", "id": "No"}],
        }
    }


def test_a_card_holds_the_header_text_and_footer() -> None:
    request = content_request(SHAPES["whatsapp/card (text header, footer)"])
    assert request["types"] == {
        "whatsapp/card": {
            "body": ORDER_SHIPPED.body,
            "header_text": "Order {{1}}",
            "footer": "Reply STOP to opt out",
        }
    }


def test_a_media_header_sends_its_sample() -> None:
    request = content_request(SHAPES["twilio/media"])
    assert request["types"] == {
        "twilio/media": {"body": ORDER_SHIPPED.body, "media": ["https://cdn.example.com/box.jpg"]}
    }


def test_named_variables_are_refused_because_twilio_numbers_them() -> None:
    named = shaped(body="Hi {{first_name}}", examples=(("first_name", "Ana"),))
    with pytest.raises(NotForTwilio, match="positional variables only"):
        content_request(named)


def test_a_media_header_without_a_sample_is_refused() -> None:
    with pytest.raises(NotForTwilio, match="example_url"):
        content_request(shaped(header=TemplateHeader(HeaderFormat.VIDEO)))


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://cdn.example.com/a.JPG", HeaderFormat.IMAGE),
        ("https://cdn.example.com/clip.mp4?v=2", HeaderFormat.VIDEO),
        ("https://cdn.example.com/invoice.pdf", HeaderFormat.DOCUMENT),
        ("https://cdn.example.com/picture", HeaderFormat.IMAGE),
    ],
)
def test_a_media_headers_kind_is_its_samples_file_type(url: str, kind: HeaderFormat) -> None:
    assert media_format(url) is kind


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("received", TemplateStatus.PENDING),
        ("pending", TemplateStatus.PENDING),
        ("approved", TemplateStatus.APPROVED),
        ("rejected", TemplateStatus.REJECTED),
        ("paused", TemplateStatus.PAUSED),
        ("disabled", TemplateStatus.DISABLED),
        ("in_appeal", TemplateStatus.PENDING),
        ("unsubmitted", None),
        (None, None),
    ],
)
def test_twilios_approval_statuses_in_our_words(word: str | None, status: TemplateStatus | None) -> None:
    assert status_of({"status": word} if word is not None else None) is status


def read(types: object, *, category: str = "UTILITY", variables: object = None) -> TemplateDefinition | None:
    return definition_of(
        name="order_shipped", language="en", category=category, types=types, variables=variables or {}
    )


def test_a_plain_text_beside_a_richer_type_is_its_fallback() -> None:
    definition = read(
        {
            "twilio/text": {"body": "Reply YES or NO"},
            "twilio/quick-reply": {"body": "Still coming?", "actions": [{"title": "Yes", "id": "yes"}]},
        }
    )
    assert definition is not None
    assert definition.body == "Still coming?"
    assert definition.buttons == (TemplateButton(ButtonKind.QUICK_REPLY, text="Yes"),)


@pytest.mark.parametrize(
    "types",
    [
        {"twilio/list-picker": {"body": "Pick one", "button": "Menu", "items": []}},
        {"twilio/quick-reply": {"body": "a"}, "twilio/list-picker": {"body": "b"}},
        {"twilio/text": {}},
        {"twilio/call-to-action": {"body": "Hi", "actions": [{"type": "VOICE_CALL", "title": "Call"}]}},
        {"twilio/call-to-action": {"body": "Hi", "actions": [{"type": "URL", "title": "Go"}]}},
        {"whatsapp/card": {"body": "Hi", "header_text": "A", "media": ["https://cdn.example.com/a.png"]}},
        {"twilio/media": {"body": "Hi", "media": ["https://a.example/1.png", "https://a.example/2.png"]}},
        [],
    ],
    ids=[
        "list-picker",
        "two-rich-types",
        "no-body",
        "voice-call",
        "url-without-url",
        "text-and-media-header",
        "two-media",
        "not-an-object",
    ],
)
def test_a_content_resource_the_gateway_cannot_read_has_no_definition(types: object) -> None:
    assert read(types) is None


def test_a_category_of_twilios_past_has_no_definition() -> None:
    assert read({"twilio/text": {"body": "Hi"}}, category="TRANSPORTATION_UPDATE") is None
