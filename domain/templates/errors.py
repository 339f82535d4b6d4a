"""What is wrong with a template or with the values given to one, field by field."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import DomainError


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One problem, and the field it is in, as a client names it (``body``, ``buttons[2].url``,
    ``template.variables.first_name``)."""

    field: str
    message: str


class InvalidTemplate(DomainError):
    """A template breaks WhatsApp's rules; ``problems`` name each field and what is wrong with it."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{problem.field}: {problem.message}" for problem in problems))


class InvalidTemplateValues(DomainError):
    """The values given to a template at a send or a preview do not fit it."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{problem.field}: {problem.message}" for problem in problems))
