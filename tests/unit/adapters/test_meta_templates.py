"""Our template definitions written as Meta's message-template components, and Meta's templates read back:
variables numbered across the template here and per component at Meta, examples where Meta reviews them,
statuses and qualities in our words, and what the gateway cannot create or read."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.meta.templates import definition_of, meta_components, remote_template
from application.ports.templates import TemplateProviderRefused
from domain.templates.catalogue import TemplateQuality, TemplateStatus
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
    language="en_US",
    category=TemplateCategory.UTILITY,
    header=TemplateHeader(format=HeaderFormat.TEXT, text="Order {{1}}"),
    body="Hi {{2}}, your parcel leaves today with {{3}}.",
    footer="Reply STOP to opt out",
    buttons=(
        TemplateButton(kind=ButtonKind.URL, text="Track it", url="https://track.example.com/{{4}}"),
        TemplateButton(kind=ButtonKind.QUICK_REPLY, text="Thanks"),
        TemplateButton(kind=ButtonKind.PHONE_NUMBER, text="Call us", phone_number="+15550100001"),
        TemplateButton(kind=ButtonKind.COPY_CODE, example="SHIP10"),
    ),
    examples=(("1", "A-42"), ("2", "Ana"), ("3", "DHL"), ("4", "A42XYZ")),
)

NAMED = TemplateDefinition(
    name="welcome",
    language="en",
    category=TemplateCategory.MARKETING,
    header=TemplateHeader(format=HeaderFormat.TEXT, text="Welcome {{first_name}}"),
    body="Hello {{first_name}}, your code is {{code}} today.",
    buttons=(TemplateButton(kind=ButtonKind.URL, text="Shop", url="https://shop.example.com/{{campaign}}"),),
    examples=(("first_name", "Ana"), ("code", "X1"), ("campaign", "spring")),
)


def listed(definition_components: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "id": "1234567890123456",
        "name": "order_shipped",
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": definition_components,
        "quality_score": {"score": "GREEN", "date": 1735787045},
        "rejected_reason": "NONE",
        **fields,
    }


def test_positional_variables_are_numbered_from_one_in_each_component_with_their_examples() -> None:
    assert meta_components(ORDER_SHIPPED) == [
        {
            "type": "HEADER",
            "format": "TEXT",
            "text": "Order {{1}}",
            "example": {"header_text": ["A-42"]},
        },
        {
            "type": "BODY",
            "text": "Hi {{1}}, your parcel leaves today with {{2}}.",
            "example": {"body_text": [["Ana", "DHL"]]},
        },
        {"type": "FOOTER", "text": "Reply STOP to opt out"},
        {
            "type": "BUTTONS",
            "buttons": [
                {
                    "type": "URL",
                    "text": "Track it",
                    "url": "https://track.example.com/{{1}}",
                    "example": ["https://track.example.com/A42XYZ"],
                },
                {"type": "QUICK_REPLY", "text": "Thanks"},
                {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550100001"},
                {"type": "COPY_CODE", "example": "SHIP10"},
            ],
        },
    ]


def test_named_variables_keep_their_names_and_give_named_examples() -> None:
    header, body, buttons = meta_components(NAMED)

    assert header["text"] == "Welcome {{first_name}}"
    assert header["example"] == {"header_text_named_params": [{"param_name": "first_name", "example": "Ana"}]}
    assert body == {
        "type": "BODY",
        "text": "Hello {{first_name}}, your code is {{code}} today.",
        "example": {
            "body_text_named_params": [
                {"param_name": "first_name", "example": "Ana"},
                {"param_name": "code", "example": "X1"},
            ]
        },
    }
    assert buttons["buttons"][0]["example"] == ["https://shop.example.com/spring"]


def test_a_template_without_variables_is_its_body_alone() -> None:
    plain = TemplateDefinition(
        name="hello", language="en", category=TemplateCategory.UTILITY, body="Your order is on its way."
    )

    assert meta_components(plain) == [{"type": "BODY", "text": "Your order is on its way."}]


def test_a_media_header_cannot_be_created_and_the_refusal_says_why() -> None:
    with_image = TemplateDefinition(
        name="menu",
        language="en",
        category=TemplateCategory.MARKETING,
        header=TemplateHeader(format=HeaderFormat.IMAGE, example_url="https://cdn.example.com/menu.png"),
        body="Our new menu is here.",
    )

    with pytest.raises(TemplateProviderRefused, match="Resumable Upload"):
        meta_components(with_image)


def test_a_variable_without_an_example_is_refused_before_meta_is_asked() -> None:
    without = TemplateDefinition(
        name="hello", language="en", category=TemplateCategory.UTILITY, body="Hi {{1}}, welcome aboard."
    )

    with pytest.raises(TemplateProviderRefused, match=r"\{\{1\}\}"):
        meta_components(without)


@pytest.mark.parametrize("definition", [ORDER_SHIPPED, NAMED], ids=["positional", "named"])
def test_a_definition_reads_back_as_it_was_written(definition: TemplateDefinition) -> None:
    named = definition is NAMED
    item = listed(
        meta_components(definition),
        name=definition.name,
        language=definition.language,
        category=definition.category.value.upper(),
        parameter_format="NAMED" if named else "POSITIONAL",
    )

    assert definition_of(item) == definition


def test_metas_per_component_numbers_are_numbered_on_across_the_template() -> None:
    item = listed(
        [
            {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["A-42"]}},
            {"type": "BODY", "text": "Hi {{1}}, see {{2}}.", "example": {"body_text": [["Ana", "B"]]}},
            {
                "type": "BUTTONS",
                "buttons": [
                    {
                        "type": "URL",
                        "text": "Go",
                        "url": "https://x.example/{{1}}",
                        "example": ["https://x.example/z9"],
                    }
                ],
            },
        ]
    )

    definition = definition_of(item)

    assert definition is not None
    assert definition.header == TemplateHeader(format=HeaderFormat.TEXT, text="Order {{1}}")
    assert definition.body == "Hi {{2}}, see {{3}}."
    assert definition.buttons[0].url == "https://x.example/{{4}}"
    assert definition.examples == (("1", "A-42"), ("2", "Ana"), ("3", "B"), ("4", "z9"))
    assert definition.layout == (
        ("header", ("1",)),
        ("body", ("2", "3")),
        ("button:0", ("4",)),
    )


def test_a_media_header_made_in_metas_console_is_read_with_its_sample() -> None:
    item = listed(
        [
            {
                "type": "HEADER",
                "format": "IMAGE",
                "example": {"header_handle": ["https://scontent.whatsapp.net/v/sample.jpg"]},
            },
            {"type": "BODY", "text": "Our new menu is here."},
        ]
    )

    definition = definition_of(item)

    assert definition is not None
    assert definition.header == TemplateHeader(
        format=HeaderFormat.IMAGE, example_url="https://scontent.whatsapp.net/v/sample.jpg"
    )


@pytest.mark.parametrize(
    "components",
    [
        [{"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "We are here."}],
        [{"type": "BODY", "text": "Pick"}, {"type": "BUTTONS", "buttons": [{"type": "FLOW", "text": "Go"}]}],
        [{"type": "CAROUSEL", "cards": []}, {"type": "BODY", "text": "Look"}],
        [{"type": "FOOTER", "text": "no body"}],
    ],
    ids=["location header", "flow button", "carousel", "no body"],
)
def test_a_template_the_gateway_cannot_hold_is_listed_without_a_definition(
    components: list[dict[str, Any]],
) -> None:
    remote = remote_template(listed(components))

    assert remote is not None
    assert remote.definition is None
    assert remote.status is TemplateStatus.APPROVED


@pytest.mark.parametrize(
    ("at_meta", "ours"),
    [
        ("APPROVED", TemplateStatus.APPROVED),
        ("PENDING", TemplateStatus.PENDING),
        ("IN_APPEAL", TemplateStatus.PENDING),
        ("REJECTED", TemplateStatus.REJECTED),
        ("PAUSED", TemplateStatus.PAUSED),
        ("DISABLED", TemplateStatus.DISABLED),
    ],
)
def test_metas_statuses_in_ours(at_meta: str, ours: TemplateStatus) -> None:
    remote = remote_template(listed([{"type": "BODY", "text": "Hi"}], status=at_meta))

    assert remote is not None
    assert remote.status is ours


@pytest.mark.parametrize("at_meta", ["PENDING_DELETION", "DELETED", "LIMIT_EXCEEDED", "ARCHIVED", None])
def test_templates_on_their_way_out_are_left_out(at_meta: str | None) -> None:
    assert remote_template(listed([{"type": "BODY", "text": "Hi"}], status=at_meta)) is None


def test_a_rejected_template_carries_metas_reason_and_others_none() -> None:
    rejected = remote_template(
        listed([{"type": "BODY", "text": "Hi"}], status="REJECTED", rejected_reason="INVALID_FORMAT")
    )
    approved = remote_template(listed([{"type": "BODY", "text": "Hi"}]))

    assert rejected is not None
    assert approved is not None
    assert rejected.rejection_reason == "INVALID_FORMAT"
    assert approved.rejection_reason is None


@pytest.mark.parametrize(
    ("score", "quality"),
    [
        ("GREEN", TemplateQuality.HIGH),
        ("YELLOW", TemplateQuality.MEDIUM),
        ("RED", TemplateQuality.LOW),
        ("UNKNOWN", TemplateQuality.UNKNOWN),
    ],
)
def test_metas_quality_scores_in_ours(score: str, quality: TemplateQuality) -> None:
    remote = remote_template(listed([{"type": "BODY", "text": "Hi"}], quality_score={"score": score}))

    assert remote is not None
    assert remote.quality is quality


@pytest.mark.parametrize(
    "item",
    [
        "not an object",
        {"name": "x", "language": "en", "status": "APPROVED"},
        {"id": "../etc", "name": "x", "language": "en", "status": "APPROVED"},
        {"id": "123", "name": None, "language": "en", "status": "APPROVED"},
    ],
    ids=["not an object", "no id", "an id that is no Meta id", "no name"],
)
def test_an_item_that_names_no_template_is_left_out(item: object) -> None:
    assert remote_template(item) is None
