"""Templates as code: what it takes to turn a tenant's catalogue into the one a file describes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from domain.templates.definition import TemplateDefinition
from domain.templates.errors import FieldProblem, InvalidTemplate


@dataclass(frozen=True, slots=True)
class TemplateChange:
    """A template to update: as the catalogue has it, and as the file wants it."""

    current: TemplateDefinition
    wanted: TemplateDefinition


@dataclass(frozen=True, slots=True)
class TemplatePlan:
    """Templates to create, to update and to delete (by name and language, each list in that order);
    ``unchanged`` counts the ones the file and the catalogue agree on. An empty plan changes nothing."""

    create: tuple[TemplateDefinition, ...]
    update: tuple[TemplateChange, ...]
    delete: tuple[TemplateDefinition, ...]
    unchanged: int

    @property
    def is_empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def plan_templates(
    current: Iterable[TemplateDefinition],
    wanted: Iterable[TemplateDefinition],
    *,
    delete_missing: bool = True,
) -> TemplatePlan:
    """The plan that makes ``current`` into ``wanted``. Templates are told apart by name and language;
    one in ``wanted`` twice is refused. With ``delete_missing`` off, templates the file leaves out stay."""
    wanted_by_key: dict[tuple[str, str], TemplateDefinition] = {}
    problems = []
    for index, definition in enumerate(wanted):
        if definition.key in wanted_by_key:
            problems.append(
                FieldProblem(f"templates[{index}]", f"{definition.label} is in the file more than once")
            )
        wanted_by_key[definition.key] = definition
    if problems:
        raise InvalidTemplate(problems)
    current_by_key = {definition.key: definition for definition in current}
    create = [wanted_by_key[key] for key in sorted(wanted_by_key.keys() - current_by_key.keys())]
    delete = (
        [current_by_key[key] for key in sorted(current_by_key.keys() - wanted_by_key.keys())]
        if delete_missing
        else []
    )
    both = sorted(current_by_key.keys() & wanted_by_key.keys())
    update = [
        TemplateChange(current_by_key[key], wanted_by_key[key])
        for key in both
        if _differ(current_by_key[key], wanted_by_key[key])
    ]
    return TemplatePlan(
        create=tuple(create), update=tuple(update), delete=tuple(delete), unchanged=len(both) - len(update)
    )


def _differ(current: TemplateDefinition, wanted: TemplateDefinition) -> bool:
    """Whether the catalogue's template says something else than the file's. Examples are one per
    variable, so their order means nothing (a file and a database may well keep them in different ones):
    a template whose examples only come in another order is unchanged, not resubmitted for review."""
    return replace(current, examples=tuple(sorted(current.examples))) != replace(
        wanted, examples=tuple(sorted(wanted.examples))
    )
