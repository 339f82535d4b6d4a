"""The values a send or a preview gives a template's variables, checked against the template before any
provider sees them: see ``value_problems``, which names every problem at once, each under the field a
client wrote (``template.variables.first_name``, ``template.header_media``).

- Each of the template's variables has a value, and there is no value for a variable it does not have.
- A value is not blank and is at most 1024 characters; it holds no NUL character.
- A value that goes into the header or the body holds no line break or tab and never more than four
  spaces in a row (Meta refuses such parameters: error 132018).
- A value that goes into a URL button's address holds no whitespace.
- Header media is given exactly when the template has a media header (image, video, document): its
  file is what each send supplies, and a template without one has nowhere to put it.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.templates.definition import HeaderFormat, TemplateDefinition
from domain.templates.errors import FieldProblem, InvalidTemplateValues

MAX_VALUE_LENGTH = 1024
MAX_SPACES_IN_A_ROW = 4

_MEDIA_NAMES = {
    HeaderFormat.IMAGE: "an image",
    HeaderFormat.VIDEO: "a video",
    HeaderFormat.DOCUMENT: "a document",
}


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
    variables = definition.variables
    in_text = {
        name for component, names in definition.layout if component in ("header", "body") for name in names
    }
    in_url = {
        name for component, names in definition.layout if component.startswith("button:") for name in names
    }
    problems = []
    for name in variables:
        where = f"{field}.variables.{name}"
        value = values.get(name)
        if value is None:
            problems.append(FieldProblem(where, f"is missing: the template needs a value for {{{{{name}}}}}"))
            continue
        problems.extend(_value_problems(where, value, in_text=name in in_text, in_url=name in in_url))
    problems.extend(
        FieldProblem(f"{field}.variables.{name}", "is not a variable of this template")
        for name in values
        if name not in variables
    )
    problems.extend(_header_media_problems(definition, has_header_media, f"{field}.header_media"))
    return problems


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


def _value_problems(where: str, value: str, *, in_text: bool, in_url: bool) -> list[FieldProblem]:
    if not value.strip():
        return [FieldProblem(where, "is blank: WhatsApp refuses an empty value")]
    problems = []
    if len(value) > MAX_VALUE_LENGTH:
        problems.append(FieldProblem(where, f"is at most {MAX_VALUE_LENGTH} characters"))
    if "\x00" in value:
        problems.append(FieldProblem(where, "holds a NUL character"))
    if in_text and any(character in value for character in "\n\r\t"):
        problems.append(
            FieldProblem(where, "holds a line break or a tab, which WhatsApp refuses in a template's text")
        )
    if in_text and " " * (MAX_SPACES_IN_A_ROW + 1) in value:
        problems.append(
            FieldProblem(
                where,
                f"holds more than {MAX_SPACES_IN_A_ROW} spaces in a row, which WhatsApp refuses "
                "in a template's text",
            )
        )
    if in_url and any(character.isspace() for character in value):
        problems.append(FieldProblem(where, "goes into a link, which holds no spaces or line breaks"))
    return problems


def _header_media_problems(
    definition: TemplateDefinition, has_header_media: bool, where: str
) -> list[FieldProblem]:
    header = definition.header
    if header is not None and header.format.is_media:
        if has_header_media:
            return []
        media = _MEDIA_NAMES[header.format]
        return [FieldProblem(where, f"is missing: the template's header is {media}, given at each send")]
    if has_header_media:
        return [FieldProblem(where, "is not wanted: the template has no media header")]
    return []
