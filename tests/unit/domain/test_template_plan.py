"""Templates as code: the plan that turns a tenant's catalogue into the one a file describes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.templates.definition import TemplateCategory, TemplateDefinition
from domain.templates.errors import FieldProblem, InvalidTemplate
from domain.templates.plan import TemplateChange, plan_templates

WELCOME_EN = TemplateDefinition(
    name="welcome",
    language="en",
    category=TemplateCategory.MARKETING,
    body="Hi {{first_name}}, welcome to {{shop}}!",
    examples=(("first_name", "Ada"), ("shop", "Acme")),
)
WELCOME_PT = replace(WELCOME_EN, language="pt_BR", body="Olá {{first_name}}, bem-vinda à {{shop}}!")
SHIPPED = TemplateDefinition(
    name="order_shipped", language="en", category=TemplateCategory.UTILITY, body="Order {{1}} shipped."
)
RECEIPT = TemplateDefinition(
    name="receipt", language="en", category=TemplateCategory.UTILITY, body="Your receipt is attached."
)


def test_templates_only_in_the_file_are_created_in_name_and_language_order() -> None:
    plan = plan_templates([], [WELCOME_PT, SHIPPED, WELCOME_EN])
    assert plan.create == (SHIPPED, WELCOME_EN, WELCOME_PT)
    assert plan.update == ()
    assert plan.delete == ()
    assert plan.unchanged == 0
    assert not plan.is_empty


def test_templates_only_in_the_catalogue_are_deleted() -> None:
    plan = plan_templates([RECEIPT, WELCOME_EN], [WELCOME_EN])
    assert plan.delete == (RECEIPT,)
    assert plan.unchanged == 1


def test_templates_the_file_leaves_out_can_be_kept() -> None:
    plan = plan_templates([RECEIPT, WELCOME_EN], [WELCOME_EN], delete_missing=False)
    assert plan.delete == ()
    assert plan.is_empty


def test_a_template_that_says_something_else_is_updated() -> None:
    reworded = replace(WELCOME_EN, body="Hello {{first_name}}, welcome to {{shop}}!")
    plan = plan_templates([WELCOME_EN, SHIPPED], [reworded, SHIPPED])
    assert plan.update == (TemplateChange(current=WELCOME_EN, wanted=reworded),)
    assert plan.create == ()
    assert plan.unchanged == 1


def test_the_same_name_in_another_language_is_another_template() -> None:
    plan = plan_templates([WELCOME_EN], [WELCOME_EN, WELCOME_PT])
    assert plan.create == (WELCOME_PT,)
    assert plan.update == ()


def test_a_file_that_matches_the_catalogue_changes_nothing() -> None:
    plan = plan_templates([WELCOME_EN, SHIPPED], [SHIPPED, WELCOME_EN])
    assert plan.is_empty
    assert plan.unchanged == 2


def test_examples_in_another_order_change_nothing() -> None:
    """A file and a database may keep a template's examples in different orders; resubmitting the
    template for review because of it would be wrong."""
    reordered = replace(WELCOME_EN, examples=(("shop", "Acme"), ("first_name", "Ada")))
    assert plan_templates([WELCOME_EN], [reordered]).is_empty


def test_another_example_value_is_a_change() -> None:
    other = replace(WELCOME_EN, examples=(("shop", "Globex"), ("first_name", "Ada")))
    assert plan_templates([WELCOME_EN], [other]).update == (TemplateChange(WELCOME_EN, other),)


def test_a_template_in_the_file_twice_is_refused() -> None:
    with pytest.raises(InvalidTemplate) as raised:
        plan_templates([], [WELCOME_EN, SHIPPED, replace(WELCOME_EN, body="Hey {{first_name}} of {{shop}}!")])
    assert raised.value.problems == (
        FieldProblem("templates[2]", "welcome (en) is in the file more than once"),
    )


def test_an_empty_file_deletes_everything_unless_told_to_keep() -> None:
    assert plan_templates([WELCOME_EN, SHIPPED], []).delete == (SHIPPED, WELCOME_EN)
    assert plan_templates([WELCOME_EN, SHIPPED], [], delete_missing=False).is_empty
