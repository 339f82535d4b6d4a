"""The values a send or a preview gives a template, checked against it: every variable has a value
WhatsApp takes, no value is for a variable the template lacks, and header media comes exactly when the
template has a media header."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.templates.binding import check_values, value_problems
from domain.templates.definition import (
    ButtonKind,
    HeaderFormat,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
)
from domain.templates.errors import FieldProblem, InvalidTemplateValues

ORDER_UPDATE = TemplateDefinition(
    name="order_update",
    language="en_US",
    category=TemplateCategory.UTILITY,
    header=TemplateHeader(HeaderFormat.TEXT, text="Order {{1}}"),
    body="Hello {{2}}, your order {{1}} ships on {{3}}.",
    buttons=(TemplateButton(ButtonKind.URL, "Track it", url="https://shop.example.com/track/{{4}}"),),
    examples=(("1", "A-1001"), ("2", "Ada"), ("3", "1 March"), ("4", "A-1001")),
)
VALUES = {"1": "A-1001", "2": "Ada", "3": "1 March", "4": "A-1001"}
WELCOME = TemplateDefinition(
    name="welcome",
    language="pt_BR",
    category=TemplateCategory.MARKETING,
    header=TemplateHeader(HeaderFormat.IMAGE, example_url="https://cdn.example.com/welcome.jpg"),
    body="Olá {{first_name}}, bem-vinda!",
    examples=(("first_name", "Ana"),),
)


def problems(values: dict[str, str], definition: TemplateDefinition = ORDER_UPDATE) -> list[FieldProblem]:
    return value_problems(definition, values, has_header_media=definition.has_media_header)


def test_values_for_every_variable_fit() -> None:
    assert problems(VALUES) == []
    assert problems({"first_name": "Ana"}, WELCOME) == []
    check_values(ORDER_UPDATE, VALUES, has_header_media=False)


def test_a_template_without_variables_takes_no_values() -> None:
    plain = replace(ORDER_UPDATE, header=None, body="Your order shipped.", buttons=(), examples=())
    assert problems({}, plain) == []
    assert problems({"1": "x"}, plain) == [
        FieldProblem("template.variables.1", "is not a variable of this template")
    ]


def test_a_variable_without_a_value_is_missing() -> None:
    assert problems({"1": "A-1001", "3": "1 March"}) == [
        FieldProblem("template.variables.2", "is missing: the template needs a value for {{2}}"),
        FieldProblem("template.variables.4", "is missing: the template needs a value for {{4}}"),
    ]


def test_a_value_for_a_variable_the_template_lacks_is_refused() -> None:
    assert problems({"first_name": "Ana", "last_name": "Lima"}, WELCOME) == [
        FieldProblem("template.variables.last_name", "is not a variable of this template")
    ]


@pytest.mark.parametrize("value", ["", " ", "   "])
def test_a_blank_value_is_refused(value: str) -> None:
    assert problems({**VALUES, "3": value}) == [
        FieldProblem("template.variables.3", "is blank: WhatsApp refuses an empty value")
    ]


def test_a_value_holds_at_most_1024_characters() -> None:
    assert problems({**VALUES, "3": "x" * 1024}) == []
    assert problems({**VALUES, "3": "x" * 1025}) == [
        FieldProblem("template.variables.3", "is at most 1024 characters")
    ]


@pytest.mark.parametrize("name", ["1", "2"], ids=["header (and body)", "body"])
@pytest.mark.parametrize("value", ["Ada\nLovelace", "Ada\r\nLovelace", "Ada\tLovelace"])
def test_a_header_or_body_value_holds_no_line_break_nor_tab(name: str, value: str) -> None:
    found = problems({**VALUES, name: value})
    assert [problem.field for problem in found] == [f"template.variables.{name}"]
    assert "line break or a tab" in found[0].message


def test_a_header_or_body_value_holds_at_most_four_spaces_in_a_row() -> None:
    assert problems({**VALUES, "2": "Ada    Lovelace"}) == []
    found = problems({**VALUES, "2": "Ada     Lovelace"})
    assert [problem.field for problem in found] == ["template.variables.2"]
    assert "more than 4 spaces in a row" in found[0].message


@pytest.mark.parametrize("value", ["A 1001", "A-1001\n", "A\t1001"])
def test_a_link_value_holds_no_whitespace(value: str) -> None:
    assert problems({**VALUES, "4": value}) == [
        FieldProblem("template.variables.4", "goes into a link, which holds no spaces or line breaks")
    ]


def test_a_value_used_in_text_and_in_a_link_keeps_both_rules() -> None:
    shared = replace(
        ORDER_UPDATE,
        buttons=(TemplateButton(ButtonKind.URL, "Track it", url="https://shop.example.com/track/{{1}}"),),
    )
    found = problems({"1": "A 1001", "2": "Ada", "3": "1 March"}, shared)
    assert [problem.field for problem in found] == ["template.variables.1"]
    assert "link" in found[0].message


def test_a_value_holds_no_nul_character() -> None:
    assert problems({**VALUES, "3": "1\x00March"}) == [
        FieldProblem("template.variables.3", "holds a NUL character")
    ]


def test_a_media_header_needs_its_media_at_each_send() -> None:
    assert value_problems(WELCOME, {"first_name": "Ana"}, has_header_media=False) == [
        FieldProblem(
            "template.header_media", "is missing: the template's header is an image, given at each send"
        )
    ]


def test_media_for_a_template_without_a_media_header_is_refused() -> None:
    assert value_problems(ORDER_UPDATE, VALUES, has_header_media=True) == [
        FieldProblem("template.header_media", "is not wanted: the template has no media header")
    ]


def test_every_problem_is_named_at_once_under_the_field_the_client_wrote() -> None:
    found = value_problems(
        ORDER_UPDATE, {"1": "", "3": "x\ny", "9": "?"}, has_header_media=True, field="messages[2].template"
    )
    assert [problem.field for problem in found] == [
        "messages[2].template.variables.1",
        "messages[2].template.variables.2",
        "messages[2].template.variables.3",
        "messages[2].template.variables.4",
        "messages[2].template.variables.9",
        "messages[2].template.header_media",
    ]


def test_checking_values_raises_with_every_problem() -> None:
    with pytest.raises(InvalidTemplateValues) as raised:
        check_values(WELCOME, {}, has_header_media=False)
    assert [problem.field for problem in raised.value.problems] == [
        "template.variables.first_name",
        "template.header_media",
    ]
    assert "template.variables.first_name: is missing" in str(raised.value)
