"""A template from the catalogue sent through Meta: the ``template`` object of the send, each component's
parameters in the order the template's layout gives, a media header by link or by id, and URL buttons."""

from __future__ import annotations

from typing import Any

from adapters.meta.message_bodies import message_body, unsupported
from domain.messaging.content import Media, MediaKind
from domain.messaging.messages import MessageContent, Template

TO = "16505551234"
OUR_ID = "0b4f3c9e-8a51-4a8e-9d0c-6a6d2f0e9a11"

# The layout of: header "Order {{1}}", body "Hi {{2}}, it leaves with {{3}}", URL button 0 ".../{{4}}".
POSITIONAL_LAYOUT = (("header", ("1",)), ("body", ("2", "3")), ("button:0", ("4",)))


def template_of(content: MessageContent) -> dict[str, Any]:
    assert unsupported(content) is None
    body = message_body(content, to=TO, callback_data=OUR_ID)
    assert body["type"] == "template"
    template: dict[str, Any] = body["template"]
    return template


def test_each_component_takes_its_own_values_in_the_layouts_order() -> None:
    template = Template(
        name="order_shipped",
        language="en_US",
        variables=(("1", "A-42"), ("2", "Ana"), ("3", "DHL"), ("4", "A42XYZ")),
        layout=POSITIONAL_LAYOUT,
    )

    assert template_of(MessageContent(template=template)) == {
        "name": "order_shipped",
        "language": {"code": "en_US"},
        "components": [
            {"type": "header", "parameters": [{"type": "text", "text": "A-42"}]},
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "DHL"}],
            },
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": "A42XYZ"}],
            },
        ],
    }


def test_named_variables_carry_their_parameter_name() -> None:
    template = Template(
        name="welcome",
        language="en",
        variables=(("code", "X1"), ("first_name", "Ana")),
        layout=(("body", ("first_name", "code")),),
    )

    assert template_of(MessageContent(template=template))["components"] == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": "first_name", "text": "Ana"},
                {"type": "text", "parameter_name": "code", "text": "X1"},
            ],
        }
    ]


def test_a_media_header_goes_by_link_before_the_body() -> None:
    template = Template(
        name="menu",
        language="en",
        variables=(("1", "Ana"),),
        layout=(("body", ("1",)),),
        header_media=Media(kind=MediaKind.IMAGE, url="https://cdn.example.com/menu.png"),
    )

    assert template_of(MessageContent(template=template))["components"] == [
        {
            "type": "header",
            "parameters": [{"type": "image", "image": {"link": "https://cdn.example.com/menu.png"}}],
        },
        {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]},
    ]


def test_a_document_header_goes_by_uploaded_id_with_its_name() -> None:
    template = Template(
        name="invoice",
        language="en",
        header_media=Media(kind=MediaKind.DOCUMENT, provider_media_id="1013859600285441", filename="inv.pdf"),
    )

    assert template_of(MessageContent(template=template))["components"] == [
        {
            "type": "header",
            "parameters": [
                {"type": "document", "document": {"id": "1013859600285441", "filename": "inv.pdf"}}
            ],
        }
    ]


def test_a_laid_out_template_without_variables_sends_no_components() -> None:
    template = Template(name="hello", language="en", layout=())

    assert template_of(MessageContent(template=template)) == {"name": "hello", "language": {"code": "en"}}


def test_without_a_layout_the_variables_are_the_bodys_as_before() -> None:
    template = Template.named("order_shipped", "en_US", {"2": "A-42", "1": "Ana"})

    assert template_of(MessageContent(template=template))["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "A-42"}]}
    ]


def test_a_variable_the_layout_takes_without_a_value_is_refused_before_sending() -> None:
    template = Template(
        name="order_shipped", language="en_US", variables=(("2", "Ana"),), layout=POSITIONAL_LAYOUT
    )

    assert unsupported(MessageContent(template=template)) == "the template takes {{1}}: give its value"


def test_an_audio_header_is_refused() -> None:
    template = Template(
        name="jingle",
        language="en",
        header_media=Media(kind=MediaKind.AUDIO, url="https://cdn.example.com/a.ogg"),
    )

    reason = unsupported(MessageContent(template=template))

    assert reason is not None
    assert "image, a video or a document" in reason
