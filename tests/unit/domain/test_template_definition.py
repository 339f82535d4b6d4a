"""A template's definition: one set of variables for the whole template, which variables each component
takes and in what order (what a provider is given), and the text a customer sees with given values."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.templates.definition import (
    ButtonKind,
    HeaderFormat,
    RenderedTemplate,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
    VariableStyle,
    is_position,
    render,
    render_template,
    variables_in,
)

ORDER_UPDATE = TemplateDefinition(
    name="order_update",
    language="en_US",
    category=TemplateCategory.UTILITY,
    header=TemplateHeader(HeaderFormat.TEXT, text="Order {{1}}"),
    body="Hello {{3}}, your order {{1}} ships on {{2}}.",
    footer="Reply STOP to opt out",
    buttons=(
        TemplateButton(ButtonKind.QUICK_REPLY, "Stop"),
        TemplateButton(ButtonKind.URL, "Track it", url="https://shop.example.com/track/{{4}}"),
        TemplateButton(ButtonKind.PHONE_NUMBER, "Call us", phone_number="+14155238886"),
        TemplateButton(ButtonKind.COPY_CODE, example="SPRING10"),
    ),
    examples=(("1", "A-1001"), ("2", "1 March"), ("3", "Ada"), ("4", "A-1001")),
)
WELCOME = TemplateDefinition(
    name="welcome",
    language="pt_BR",
    category=TemplateCategory.MARKETING,
    header=TemplateHeader(HeaderFormat.TEXT, text="Bem-vinda à {{shop}}"),
    body="Olá {{first_name}}! A {{shop}} guardou {{offer}} para si, {{first_name}}.",
    examples=(("shop", "Loja Azul"), ("first_name", "Ana"), ("offer", "10%")),
)


def test_a_template_is_named_by_its_name_and_language() -> None:
    assert ORDER_UPDATE.key == ("order_update", "en_US")
    assert ORDER_UPDATE.label == "order_update (en_US)"
    assert ORDER_UPDATE.examples_dict == {"1": "A-1001", "2": "1 March", "3": "Ada", "4": "A-1001"}


def test_the_texts_that_hold_variables_are_the_text_header_the_body_and_url_buttons() -> None:
    assert ORDER_UPDATE.texts() == [
        ("header", "Order {{1}}"),
        ("body", "Hello {{3}}, your order {{1}} ships on {{2}}."),
        ("button:1", "https://shop.example.com/track/{{4}}"),
    ]


def test_a_media_header_and_the_footer_hold_no_variables() -> None:
    media = replace(
        ORDER_UPDATE,
        header=TemplateHeader(HeaderFormat.IMAGE, text="{{9}}", example_url="https://cdn.example.com/a.jpg"),
        footer="{{8}}",
    )
    assert [component for component, _ in media.texts()] == ["body", "button:1"]
    assert media.variables == ("1", "2", "3", "4")
    assert media.has_media_header
    assert not ORDER_UPDATE.has_media_header


def test_positional_variables_are_laid_out_by_position_in_each_component() -> None:
    assert ORDER_UPDATE.layout == (
        ("header", ("1",)),
        ("body", ("1", "2", "3")),
        ("button:1", ("4",)),
    )


def test_positions_sort_as_numbers() -> None:
    definition = replace(
        ORDER_UPDATE, body=" ".join(f"x {{{{{n}}}}}" for n in (10, 2, 1, 3, 9, 4, 5, 6, 7, 8))
    )
    assert dict(definition.layout)["body"] == ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10")


def test_named_variables_are_laid_out_by_first_appearance_in_each_component() -> None:
    assert WELCOME.layout == (("header", ("shop",)), ("body", ("first_name", "shop", "offer")))


def test_a_template_has_one_set_of_variables_each_once() -> None:
    assert ORDER_UPDATE.variables == ("1", "2", "3", "4")
    assert WELCOME.variables == ("shop", "first_name", "offer")


def test_the_variable_style_is_the_templates_kind_of_variables() -> None:
    assert ORDER_UPDATE.variable_style is VariableStyle.POSITIONAL
    assert WELCOME.variable_style is VariableStyle.NAMED
    plain = replace(WELCOME, header=None, body="Olá!", examples=())
    assert plain.variable_style is None
    assert plain.layout == ()
    assert plain.variables == ()


def test_spaces_inside_the_braces_name_the_same_variable() -> None:
    assert variables_in("Hi {{ first_name }}, {{first_name}} and {{  1  }}") == ["first_name", "1"]


def test_only_ascii_digits_are_positions() -> None:
    assert is_position("12")
    assert not is_position("²")
    assert not is_position("\u0661")  # Arabic-Indic one
    assert not is_position("first_name")
    assert not is_position("")


def test_render_fills_each_variable_and_leaves_one_without_a_value() -> None:
    assert render("Hi {{1}}, order {{ 2 }} for {{1}}; {{3}}", {"1": "Ada", "2": "A-1"}) == (
        "Hi Ada, order A-1 for Ada; {{3}}"
    )


def test_a_value_is_put_in_as_it_is_never_read_as_a_template() -> None:
    assert (
        render("Hi {{1}} and {{2}}", {"1": "{{2}} \\1 \\g<0>", "2": "Bob"}) == "Hi {{2}} \\1 \\g<0> and Bob"
    )


def test_a_rendered_template_is_what_the_customer_sees() -> None:
    rendered = render_template(ORDER_UPDATE, {"1": "A-1001", "2": "1 March", "3": "Ada", "4": "A-1001"})
    assert rendered == RenderedTemplate(
        header="Order A-1001",
        body="Hello Ada, your order A-1001 ships on 1 March.",
        footer="Reply STOP to opt out",
        buttons=(
            "Stop",
            "Track it (https://shop.example.com/track/A-1001)",
            "Call us (+14155238886)",
            "Copy code",
        ),
    )
    assert rendered.text == (
        "Order A-1001\n\nHello Ada, your order A-1001 ships on 1 March.\n\nReply STOP to opt out"
    )


def test_a_rendered_template_without_header_or_footer_is_its_body() -> None:
    plain = TemplateDefinition(
        name="shipped", language="en", category=TemplateCategory.UTILITY, body="Your order {{1}} shipped."
    )
    rendered = render_template(plain, {"1": "A-1"})
    assert rendered == RenderedTemplate(body="Your order A-1 shipped.")
    assert rendered.text == "Your order A-1 shipped."


@pytest.mark.parametrize("media", [HeaderFormat.IMAGE, HeaderFormat.VIDEO, HeaderFormat.DOCUMENT])
def test_a_media_header_shows_no_text(media: HeaderFormat) -> None:
    definition = replace(ORDER_UPDATE, header=TemplateHeader(media, text="Order {{1}}"))
    assert render_template(definition, {"1": "A-1001"}).header is None


def test_a_copy_code_button_with_its_own_text_shows_it() -> None:
    definition = replace(
        ORDER_UPDATE, buttons=(TemplateButton(ButtonKind.COPY_CODE, "Copy offer", example="X"),)
    )
    assert render_template(definition, {}).buttons == ("Copy offer",)
