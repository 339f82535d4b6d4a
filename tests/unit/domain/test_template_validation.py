"""A template's definition against WhatsApp's rules: every problem at once, each under the field a
client's JSON names it, so a client fixes a template in one go before any provider reviews it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.templates.definition import (
    ButtonKind,
    HeaderFormat,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
)
from domain.templates.errors import FieldProblem, InvalidTemplate
from domain.templates.validation import check_definition, definition_problems

TRACK = TemplateButton(ButtonKind.URL, "Track it", url="https://shop.example.com/track/{{4}}")
CALL = TemplateButton(ButtonKind.PHONE_NUMBER, "Call us", phone_number="+14155238886")
STOP = TemplateButton(ButtonKind.QUICK_REPLY, "Stop")
COPY = TemplateButton(ButtonKind.COPY_CODE, example="123456")

ORDER_UPDATE = TemplateDefinition(
    name="order_update",
    language="en_US",
    category=TemplateCategory.UTILITY,
    header=TemplateHeader(HeaderFormat.TEXT, text="Order {{1}}"),
    body="Hello {{2}}, your order {{1}} ships on {{3}}.",
    footer="Reply STOP to opt out",
    buttons=(TRACK, CALL, STOP),
    examples=(("1", "A-1001"), ("2", "Ada"), ("3", "1 March"), ("4", "A-1001")),
)
WELCOME = TemplateDefinition(
    name="welcome",
    language="pt_BR",
    category=TemplateCategory.MARKETING,
    body="Olá {{first_name}}, bem-vinda à {{shop}}!",
    examples=(("first_name", "Ana"), ("shop", "Loja Azul")),
)
SALE = TemplateDefinition(
    name="summer_sale",
    language="es_MX",
    category=TemplateCategory.MARKETING,
    header=TemplateHeader(HeaderFormat.IMAGE, example_url="https://cdn.example.com/sale.jpg"),
    body="Todo con 20% de descuento hasta el domingo.",
    buttons=(STOP, TemplateButton(ButtonKind.QUICK_REPLY, "Más tarde"), COPY),
)
LOGIN_CODE = TemplateDefinition(
    name="login_code",
    language="en",
    category=TemplateCategory.AUTHENTICATION,
    body="Your code is {{1}}. Do not share it.",
    buttons=(COPY,),
    examples=(("1", "123456"),),
)


def fields(definition: TemplateDefinition) -> list[str]:
    return [problem.field for problem in definition_problems(definition)]


def only_problem(definition: TemplateDefinition) -> FieldProblem:
    problems = definition_problems(definition)
    assert len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize("definition", [ORDER_UPDATE, WELCOME, SALE, LOGIN_CODE], ids=lambda d: d.name)
def test_templates_that_keep_every_rule_have_no_problem(definition: TemplateDefinition) -> None:
    assert definition_problems(definition) == []
    check_definition(definition)


def test_checking_a_template_raises_with_every_problem() -> None:
    broken = replace(WELCOME, name="Welcome!", language="portuguese", body="")
    with pytest.raises(InvalidTemplate) as raised:
        check_definition(broken)
    assert [problem.field for problem in raised.value.problems] == [
        "name",
        "language",
        "body",
        "examples.first_name",
        "examples.shop",
    ]
    assert "name: holds only lower-case letters" in str(raised.value)


def test_every_problem_is_named_not_only_the_first() -> None:
    broken = TemplateDefinition(
        name="Order Update",
        language="en-us",
        category=TemplateCategory.UTILITY,
        header=TemplateHeader(HeaderFormat.TEXT, text="x" * 61, example_url="https://cdn.example.com/a.jpg"),
        body="Hi {{1}}, your order {{3}} is ready",
        footer="f" * 61,
        buttons=(
            TemplateButton(ButtonKind.QUICK_REPLY, "Yes"),
            TemplateButton(ButtonKind.URL, "Open", url="http://shop.example.com/{{1}}"),
            TemplateButton(ButtonKind.QUICK_REPLY, "Yes"),
            TemplateButton(ButtonKind.PHONE_NUMBER, "Call", phone_number="4155238886"),
        ),
        examples=(("1", "Ada"), ("2", "A-1")),
    )
    assert sorted(fields(broken)) == sorted(
        [
            "name",
            "language",
            "header.text",
            "header.example_url",
            "footer",
            "body",  # {{3}} skips {{2}}
            "examples.3",
            "examples.2",
            "buttons",  # quick replies between call-to-action buttons
            "buttons[1].url",
            "buttons[2].text",  # the same text as buttons[0]
            "buttons[3].phone_number",
        ]
    )


# ------------------------------------------------------------------------- name, language, category


@pytest.mark.parametrize("name", ["a", "order_update", "order_update_2", "2fa_code", "x" * 512])
def test_a_name_is_lower_case_letters_digits_and_underscores(name: str) -> None:
    assert definition_problems(replace(WELCOME, name=name)) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "is required"),
        ("Welcome", "lower-case letters, digits and underscores"),
        ("order-update", "lower-case letters, digits and underscores"),
        ("order update", "lower-case letters, digits and underscores"),
        ("pedido_número", "lower-case letters, digits and underscores"),
        ("x" * 513, "at most 512 characters"),
    ],
)
def test_a_name_outside_the_rule_is_refused(name: str, message: str) -> None:
    problem = only_problem(replace(WELCOME, name=name))
    assert problem.field == "name"
    assert message in problem.message


@pytest.mark.parametrize("language", ["en", "en_US", "pt_BR", "es_MX", "zh_CN", "fil", "zh_HANT"])
def test_a_language_is_a_code_with_an_optional_region(language: str) -> None:
    assert definition_problems(replace(WELCOME, language=language)) == []


@pytest.mark.parametrize("language", ["", "e", "EN", "en-US", "en_us", "english", "en_US_POSIX", "pt_B"])
def test_a_language_that_is_not_such_a_code_is_refused(language: str) -> None:
    problem = only_problem(replace(WELCOME, language=language))
    assert problem.field == "language"
    assert "'en_US'" in problem.message


# --------------------------------------------------------------------------------------------- body


@pytest.mark.parametrize("body", ["", "   ", "\n\t"])
def test_a_body_is_required(body: str) -> None:
    assert only_problem(replace(SALE, body=body)) == FieldProblem("body", "is required")


def test_a_body_holds_at_most_1024_characters() -> None:
    assert definition_problems(replace(SALE, body="x" * 1024)) == []
    assert only_problem(replace(SALE, body="x" * 1025)) == FieldProblem("body", "is at most 1024 characters")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{{1}}, your order is ready.", "starts with a variable"),
        ("  {{1}}, your order is ready.", "starts with a variable"),
        ("Your order is ready, {{1}}", "ends with a variable"),
        ("Your order is ready, {{1}}\n", "ends with a variable"),
    ],
)
def test_a_body_neither_starts_nor_ends_with_a_variable(body: str, message: str) -> None:
    problem = only_problem(replace(SALE, body=body, examples=(("1", "Ada"),)))
    assert problem.field == "body"
    assert message in problem.message


def test_a_body_that_is_only_a_variable_both_starts_and_ends_with_it() -> None:
    assert fields(replace(SALE, body="{{1}}", examples=(("1", "Ada"),))) == ["body", "body"]


# ------------------------------------------------------------------------------------------- header


@pytest.mark.parametrize("text", [None, "", "  "])
def test_a_text_header_needs_its_text(text: str | None) -> None:
    header = TemplateHeader(HeaderFormat.TEXT, text=text)
    assert only_problem(replace(WELCOME, header=header)) == FieldProblem(
        "header.text", "is required in a text header"
    )


def test_a_text_header_holds_at_most_60_characters() -> None:
    assert definition_problems(replace(WELCOME, header=TemplateHeader(HeaderFormat.TEXT, "x" * 60))) == []
    problem = only_problem(replace(WELCOME, header=TemplateHeader(HeaderFormat.TEXT, "x" * 61)))
    assert problem == FieldProblem("header.text", "is at most 60 characters")


def test_a_text_header_holds_at_most_one_variable() -> None:
    header = TemplateHeader(HeaderFormat.TEXT, "Hi {{first_name}} from {{shop}}")
    assert only_problem(replace(WELCOME, header=header)) == FieldProblem(
        "header.text", "a header holds one variable at most"
    )


def test_a_text_header_may_repeat_its_one_variable() -> None:
    header = TemplateHeader(HeaderFormat.TEXT, "{{shop}} / {{shop}}")
    assert definition_problems(replace(WELCOME, header=header)) == []


def test_a_text_header_has_no_example_url() -> None:
    header = TemplateHeader(HeaderFormat.TEXT, "News", example_url="https://cdn.example.com/a.jpg")
    problem = only_problem(replace(WELCOME, header=header))
    assert problem.field == "header.example_url"
    assert "only a media header" in problem.message


@pytest.mark.parametrize("media", [HeaderFormat.IMAGE, HeaderFormat.VIDEO, HeaderFormat.DOCUMENT])
def test_a_media_header_has_no_text(media: HeaderFormat) -> None:
    header = TemplateHeader(media, text="Look", example_url="https://cdn.example.com/sample")
    problem = only_problem(replace(SALE, header=header))
    assert problem.field == "header.text"
    assert f"{media} header has no text" in problem.message


def test_a_media_header_needs_a_sample_for_review() -> None:
    problem = only_problem(replace(SALE, header=TemplateHeader(HeaderFormat.VIDEO)))
    assert problem == FieldProblem(
        "header.example_url", "is required in a video header: the https URL of a sample file for review"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example.com/sale.jpg",
        "cdn.example.com/sale.jpg",
        "/sale.jpg",
        "https://",
        "https://cdn.example.com/summer sale.jpg",
        "https://[::1/sale.jpg",
    ],
)
def test_a_media_header_sample_is_an_absolute_https_url(url: str) -> None:
    header = TemplateHeader(HeaderFormat.IMAGE, example_url=url)
    assert only_problem(replace(SALE, header=header)) == FieldProblem(
        "header.example_url", "is an absolute https URL"
    )


# ------------------------------------------------------------------------------------------- footer


def test_a_footer_holds_at_most_60_characters() -> None:
    assert definition_problems(replace(SALE, footer="x" * 60)) == []
    assert only_problem(replace(SALE, footer="x" * 61)) == FieldProblem("footer", "is at most 60 characters")


@pytest.mark.parametrize("footer", ["Sent to {{1}}", "Sent to {{first_name}}", "Sent to {{"])
def test_a_footer_holds_no_variables(footer: str) -> None:
    assert only_problem(replace(SALE, footer=footer)) == FieldProblem("footer", "holds no variables")


def test_a_blank_footer_is_left_out_rather_than_sent() -> None:
    problem = only_problem(replace(SALE, footer=" "))
    assert problem.field == "footer"
    assert "leave it out" in problem.message


# ---------------------------------------------------------------------------------------- variables


@pytest.mark.parametrize(
    "variable",
    ["{{}}", "{{ }}", "{{1.5}}", "{{First}}", "{{0}}", "{{01}}", "{{first-name}}", "{{_x}}", "{{1000}}"],
)
def test_a_malformed_variable_is_named(variable: str) -> None:
    problem = only_problem(replace(SALE, body=f"Hello {variable}, welcome."))
    assert problem.field == "body"
    assert problem.message.startswith(f"{variable} is not a variable")


def test_a_variable_name_is_at_most_64_characters() -> None:
    longest = "v" * 64
    assert definition_problems(replace(SALE, body=f"Hi {{{{{longest}}}}}.", examples=((longest, "x"),))) == []
    assert fields(replace(SALE, body=f"Hi {{{{{longest}x}}}}.")) == ["body"]


def test_spaces_inside_the_braces_are_tolerated() -> None:
    assert definition_problems(replace(SALE, body="Hi {{ 1 }}, welcome.", examples=(("1", "Ada"),))) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Hello {{1, welcome.", "has a '{{' without its '}}'"),
        ("Hello 1}}, welcome.", "has a '}}' without its '{{'"),
        ("Hello {{first_name}, welcome.", "has a '{{' without its '}}'"),
    ],
)
def test_unbalanced_braces_are_refused(body: str, message: str) -> None:
    assert only_problem(replace(SALE, body=body)) == FieldProblem("body", message)


def test_positional_and_named_variables_are_not_mixed() -> None:
    definition = replace(
        WELCOME,
        body="Olá {{first_name}}, pedido {{1}} pronto.",
        examples=(("first_name", "Ana"), ("1", "A-1")),
    )
    problem = only_problem(definition)
    assert problem.field == "body"
    assert problem.message.startswith("{{1}} mixes named and positional variables")


def test_the_mix_is_named_where_the_other_kind_appears() -> None:
    definition = replace(
        WELCOME,
        header=TemplateHeader(HeaderFormat.TEXT, "Pedido {{1}}"),
        examples=(*WELCOME.examples, ("1", "A-1")),
    )
    problem = only_problem(definition)
    assert problem.field == "body"
    assert "{{first_name}} mixes" in problem.message


def test_positional_variables_are_numbered_without_gaps() -> None:
    definition = replace(
        SALE, body="Hi {{1}}, order {{3}} ships {{5}}.", examples=(("1", "a"), ("3", "b"), ("5", "c"))
    )
    problem = only_problem(definition)
    assert problem.field == "body"
    assert problem.message.startswith("{{3}} skips {{2}}, {{4}}")


def test_positions_are_counted_across_the_whole_template() -> None:
    header = TemplateHeader(HeaderFormat.TEXT, "Order {{1}}")
    one_set = replace(
        WELCOME, header=header, body="Hi {{2}}, welcome.", examples=(("1", "A-1"), ("2", "Ana"))
    )
    assert definition_problems(one_set) == []
    numbered_per_component = replace(
        one_set, body="Hi {{1}} and {{3}}.", examples=(("1", "A-1"), ("3", "Ana"))
    )
    problem = only_problem(numbered_per_component)
    assert problem.field == "body"
    assert "{{3}} skips {{2}}" in problem.message


def test_the_gap_is_named_in_the_component_after_it() -> None:
    definition = replace(
        ORDER_UPDATE,
        body="Hello {{2}}, your order {{1}} is ready.",
        examples=(("1", "A-1001"), ("2", "Ada"), ("4", "A-1001")),
    )
    assert only_problem(definition).field == "buttons[0].url"


def test_positions_need_not_appear_in_order() -> None:
    definition = replace(
        SALE, body="Order {{2}} for {{1}} ships today.", examples=(("1", "Ada"), ("2", "A-1"))
    )
    assert definition_problems(definition) == []


def test_two_variables_side_by_side_are_refused() -> None:
    definition = replace(SALE, body="Hi {{1}}{{2}}, welcome.", examples=(("1", "Ada"), ("2", "Lovelace")))
    problem = only_problem(definition)
    assert problem.field == "body"
    assert problem.message.startswith("{{1}}{{2}}: two variables side by side")


def test_two_variables_with_text_between_are_fine() -> None:
    definition = replace(SALE, body="Hi {{1}} {{2}}, welcome.", examples=(("1", "Ada"), ("2", "Lovelace")))
    assert definition_problems(definition) == []


def _with_variables(count: int) -> TemplateDefinition:
    names = [f"v{index}" for index in range(count)]
    return replace(
        SALE,
        body="Values: " + ", ".join(f"{{{{{name}}}}}" for name in names) + ".",
        examples=tuple((name, "x") for name in names),
    )


def test_a_template_holds_at_most_100_variables() -> None:
    assert definition_problems(_with_variables(100)) == []
    assert only_problem(_with_variables(101)) == FieldProblem(
        "body", "a template holds at most 100 variables"
    )


# ----------------------------------------------------------------------------------------- examples


def test_every_variable_needs_an_example() -> None:
    definition = replace(ORDER_UPDATE, examples=(("1", "A-1001"), ("3", "1 March")))
    assert fields(definition) == ["examples.2", "examples.4"]
    assert definition_problems(definition)[0].message == "is missing: {{2}} needs a sample value for review"


def test_an_example_for_a_variable_the_template_lacks_is_refused() -> None:
    definition = replace(WELCOME, examples=(*WELCOME.examples, ("nickname", "Nani")))
    assert only_problem(definition) == FieldProblem("examples.nickname", "is not a variable of this template")


@pytest.mark.parametrize(
    ("value", "message"), [("", "is blank"), ("  ", "is blank"), ("x" * 1025, "is at most 1024 characters")]
)
def test_an_example_is_not_blank_nor_too_long(value: str, message: str) -> None:
    definition = replace(WELCOME, examples=(("first_name", value), ("shop", "Loja")))
    assert only_problem(definition) == FieldProblem("examples.first_name", message)


def test_an_example_given_twice_is_refused() -> None:
    definition = replace(WELCOME, examples=(*WELCOME.examples, ("shop", "Outra loja")))
    assert only_problem(definition) == FieldProblem("examples.shop", "is given more than once")


def test_a_malformed_variable_asks_for_no_example() -> None:
    assert fields(replace(SALE, body="Hi {{First}}, welcome.", examples=(("First", "Ada"),))) == ["body"]


# ------------------------------------------------------------------------------------------ buttons


def test_a_template_has_at_most_ten_buttons() -> None:
    ten = tuple(TemplateButton(ButtonKind.QUICK_REPLY, f"Choice {index}") for index in range(10))
    assert definition_problems(replace(WELCOME, buttons=ten)) == []
    eleven = (*ten, TemplateButton(ButtonKind.QUICK_REPLY, "One more"))
    assert fields(replace(WELCOME, buttons=eleven)) == ["buttons", "buttons"]  # in all, and quick replies
    assert (
        definition_problems(replace(WELCOME, buttons=eleven))[0].message
        == "a template has at most 10 buttons"
    )


@pytest.mark.parametrize(
    ("buttons", "message"),
    [
        (
            (
                TemplateButton(ButtonKind.URL, "One", url="https://a.example.com"),
                TemplateButton(ButtonKind.URL, "Two", url="https://b.example.com"),
                TemplateButton(ButtonKind.URL, "Three", url="https://c.example.com"),
            ),
            "a template has at most 2 URL buttons",
        ),
        (
            (CALL, TemplateButton(ButtonKind.PHONE_NUMBER, "Call shop", phone_number="+447911123456")),
            "a template has at most 1 phone-number button",
        ),
        (
            (COPY, TemplateButton(ButtonKind.COPY_CODE, example="654321")),
            "a template has at most 1 copy-code button",
        ),
    ],
)
def test_each_kind_of_call_to_action_has_its_limit(buttons: tuple[TemplateButton, ...], message: str) -> None:
    assert only_problem(replace(WELCOME, buttons=buttons)) == FieldProblem("buttons", message)


@pytest.mark.parametrize(
    "buttons",
    [
        (STOP, CALL, TRACK),
        (CALL, TRACK, STOP),
        (STOP, TemplateButton(ButtonKind.QUICK_REPLY, "More"), CALL, TRACK),
    ],
)
def test_quick_replies_grouped_before_or_after_the_other_buttons_are_fine(
    buttons: tuple[TemplateButton, ...],
) -> None:
    assert definition_problems(replace(ORDER_UPDATE, buttons=buttons)) == []


@pytest.mark.parametrize(
    "buttons",
    [(CALL, STOP, TRACK), (STOP, CALL, TemplateButton(ButtonKind.QUICK_REPLY, "More"), TRACK)],
)
def test_quick_replies_between_call_to_action_buttons_are_refused(
    buttons: tuple[TemplateButton, ...],
) -> None:
    problem = only_problem(replace(ORDER_UPDATE, buttons=buttons))
    assert problem.field == "buttons"
    assert problem.message.startswith("quick replies are grouped together")


def test_button_texts_differ() -> None:
    buttons = (
        STOP,
        TemplateButton(ButtonKind.QUICK_REPLY, "Later"),
        TemplateButton(ButtonKind.QUICK_REPLY, "Stop"),
    )
    assert only_problem(replace(WELCOME, buttons=buttons)) == FieldProblem(
        "buttons[2].text", "is the text of buttons[0] too: each button's text differs"
    )


@pytest.mark.parametrize("button", [STOP, TRACK, CALL], ids=lambda button: str(button.kind))
def test_a_button_needs_its_text(button: TemplateButton) -> None:
    problem = only_problem(replace(ORDER_UPDATE, buttons=(TRACK, replace(button, text=" "))))
    assert problem == FieldProblem("buttons[1].text", f"is required in a {button.kind} button")


@pytest.mark.parametrize("button", [STOP, TRACK, CALL, COPY], ids=lambda button: str(button.kind))
def test_a_button_text_holds_at_most_25_characters(button: TemplateButton) -> None:
    assert definition_problems(replace(ORDER_UPDATE, buttons=(TRACK, replace(button, text="x" * 25)))) == []
    problem = only_problem(replace(ORDER_UPDATE, buttons=(TRACK, replace(button, text="x" * 26))))
    assert problem == FieldProblem("buttons[1].text", "is at most 25 characters")


def test_a_url_button_needs_its_url() -> None:
    button = TemplateButton(ButtonKind.URL, "Open")
    assert only_problem(replace(WELCOME, buttons=(button,))) == FieldProblem(
        "buttons[0].url", "is required in a url button"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example.com",
        "shop.example.com/track",
        "/track",
        "https://",
        "https://{{1}}",
        "ftp://shop.example.com",
    ],
)
def test_a_url_button_links_to_an_absolute_https_url(url: str) -> None:
    examples = (("1", "x"),) if "{{1}}" in url else ()
    button = TemplateButton(ButtonKind.URL, "Open", url=url)
    definition = replace(SALE, buttons=(button,), examples=examples)
    assert only_problem(definition) == FieldProblem("buttons[0].url", "is an absolute https URL")


def test_a_url_holds_at_most_2000_characters() -> None:
    start = "https://shop.example.com/"
    fits = TemplateButton(ButtonKind.URL, "Open", url=start + "x" * (2000 - len(start)))
    assert definition_problems(replace(SALE, buttons=(fits,))) == []
    too_long = replace(fits, url=start + "x" * (2001 - len(start)))
    assert only_problem(replace(SALE, buttons=(too_long,))) == FieldProblem(
        "buttons[0].url", "is at most 2000 characters"
    )


def test_a_url_variable_goes_at_its_very_end() -> None:
    button = TemplateButton(ButtonKind.URL, "Track", url="https://shop.example.com/{{1}}/track")
    assert only_problem(replace(SALE, buttons=(button,), examples=(("1", "A-1"),))) == FieldProblem(
        "buttons[0].url", "a URL's variable goes at its very end"
    )


def test_a_url_holds_at_most_one_variable() -> None:
    button = TemplateButton(ButtonKind.URL, "Track", url="https://shop.example.com/{{1}}/{{2}}")
    definition = replace(SALE, buttons=(button,), examples=(("1", "A-1"), ("2", "x")))
    assert fields(definition) == ["buttons[0].url", "buttons[0].url"]
    assert definition_problems(definition)[0].message == "a URL holds one variable at most"


def test_a_url_variable_counts_with_the_templates_other_variables() -> None:
    assert "{{4}}" in (TRACK.url or "")
    definition = replace(ORDER_UPDATE, examples=ORDER_UPDATE.examples[:3])
    assert only_problem(definition).field == "examples.4"


@pytest.mark.parametrize("number", ["+14155238886", "+447911123456", "+1234567", "+123456789012345"])
def test_a_phone_number_button_calls_an_international_number(number: str) -> None:
    button = TemplateButton(ButtonKind.PHONE_NUMBER, "Call", phone_number=number)
    assert definition_problems(replace(WELCOME, buttons=(button,))) == []


@pytest.mark.parametrize(
    "number",
    ["14155238886", "+1 415 523 8886", "+1-415-523-8886", "+123456", "+1234567890123456", "+1415abc8886"],
)
def test_a_phone_number_outside_e164_is_refused(number: str) -> None:
    button = TemplateButton(ButtonKind.PHONE_NUMBER, "Call", phone_number=number)
    problem = only_problem(replace(WELCOME, buttons=(button,)))
    assert problem.field == "buttons[0].phone_number"
    assert "+14155238886" in problem.message


def test_a_phone_number_button_needs_its_number() -> None:
    button = TemplateButton(ButtonKind.PHONE_NUMBER, "Call")
    assert only_problem(replace(WELCOME, buttons=(button,))) == FieldProblem(
        "buttons[0].phone_number", "is required in a phone_number button"
    )


def test_a_copy_code_button_needs_no_text_but_a_sample_code() -> None:
    assert only_problem(replace(WELCOME, buttons=(TemplateButton(ButtonKind.COPY_CODE),))) == FieldProblem(
        "buttons[0].example", "is required in a copy_code button: a sample code"
    )


def test_a_copy_code_sample_holds_at_most_15_characters() -> None:
    assert definition_problems(replace(WELCOME, buttons=(replace(COPY, example="x" * 15),))) == []
    assert only_problem(replace(WELCOME, buttons=(replace(COPY, example="x" * 16),))) == FieldProblem(
        "buttons[0].example", "is at most 15 characters"
    )


@pytest.mark.parametrize(
    ("button", "field"),
    [
        (replace(STOP, url="https://shop.example.com"), "buttons[0].url"),
        (
            TemplateButton(
                ButtonKind.URL, "Open", url="https://shop.example.com", phone_number="+14155238886"
            ),
            "buttons[0].phone_number",
        ),
        (replace(CALL, example="123456"), "buttons[0].example"),
        (replace(COPY, url="https://shop.example.com"), "buttons[0].url"),
    ],
)
def test_a_field_of_another_kind_of_button_is_refused_not_ignored(button: TemplateButton, field: str) -> None:
    assert fields(replace(WELCOME, buttons=(button,))) == [field]


# ------------------------------------------------------------------------------------ authentication


def test_an_authentication_template_has_no_media_header() -> None:
    definition = replace(LOGIN_CODE, header=SALE.header)
    assert only_problem(definition) == FieldProblem(
        "header.format", "an authentication template has no media header"
    )


def test_an_authentication_template_has_only_copy_code_buttons() -> None:
    definition = replace(LOGIN_CODE, buttons=(COPY, STOP))
    assert only_problem(definition) == FieldProblem(
        "buttons[1]", "an authentication template has only copy_code buttons"
    )


def test_an_authentication_body_holds_one_variable_at_most() -> None:
    definition = replace(
        LOGIN_CODE, body="Hi {{1}}, your code is {{2}}.", examples=(("1", "Ada"), ("2", "123456"))
    )
    assert only_problem(definition).field == "body"


def test_a_utility_template_may_have_what_an_authentication_one_may_not() -> None:
    definition = replace(
        LOGIN_CODE, category=TemplateCategory.UTILITY, header=SALE.header, buttons=(COPY, STOP)
    )
    assert definition_problems(definition) == []


# ----------------------------------------------------------------------------------------- any text


def test_a_nul_character_is_refused_wherever_it_is() -> None:
    definition = replace(WELCOME, body="Olá {{first_name}},\x00 bem-vinda à {{shop}}!", footer="\x00")
    assert [problem for problem in definition_problems(definition) if "NUL" in problem.message] == [
        FieldProblem("body", "holds a NUL character"),
        FieldProblem("footer", "holds a NUL character"),
    ]


def test_a_long_run_of_spaces_after_an_unclosed_brace_is_read_as_text() -> None:
    # A backtracking pattern took minutes over such a text (cubic in its length); any client may send one.
    body = "Hi {{" + " " * 4090 + "x"
    definition = TemplateDefinition(
        name="spaces", language="en", category=TemplateCategory.UTILITY, body=body
    )

    assert {problem.field for problem in definition_problems(definition)} == {"body"}
