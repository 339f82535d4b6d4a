"""A WhatsApp message template as a business writes it: its name, language and category, and its
components (a header of text or media, a body with variables, a footer, buttons).

Variables are one set for the whole template, as Twilio's Content API has them: all positional
(``{{1}}``, ``{{2}}`` … numbered without gaps) or all named (``{{first_name}}``), wherever they appear
(the header's text, the body, a URL button's address). A provider that numbers them per component
(Meta's Cloud API) is given them renumbered by its adapter; ``layout`` says which variables each
component takes, in the order its provider wants their values.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# ``{{ name }}``: what a template's text holds a variable as (the name without the spaces around it).
# Anything else between double braces is a malformed variable (the validation names it). Possessive
# quantifiers only: a client's text of spaces after an unclosed ``{{`` is matched in linear time.
VARIABLE = re.compile(r"\{\{\s*+((?:[^{}\s]++|\s++(?=[^{}\s]))*+)\s*+\}\}")
POSITIONAL_NAME = re.compile(r"[1-9][0-9]{0,2}")
NAMED_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


class TemplateCategory(enum.StrEnum):
    MARKETING = "marketing"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"


class HeaderFormat(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    DOCUMENT = "document"

    @property
    def is_media(self) -> bool:
        return self is not HeaderFormat.TEXT


class ButtonKind(enum.StrEnum):
    QUICK_REPLY = "quick_reply"
    URL = "url"
    PHONE_NUMBER = "phone_number"
    COPY_CODE = "copy_code"


class VariableStyle(enum.StrEnum):
    POSITIONAL = "positional"
    NAMED = "named"


@dataclass(frozen=True, slots=True)
class TemplateHeader:
    """Text (which may hold one variable) or a media item whose file is given at each send.

    ``example_url`` is a sample of the media, which providers ask for when they review a template."""

    format: HeaderFormat
    text: str | None = None
    example_url: str | None = None


@dataclass(frozen=True, slots=True)
class TemplateButton:
    """One button: a quick reply (``text``), a link (``text`` and ``url``, whose end may be a variable),
    a phone call (``text`` and ``phone_number``) or a copy-code button (``example`` is a sample code)."""

    kind: ButtonKind
    text: str = ""
    url: str | None = None
    phone_number: str | None = None
    example: str | None = None


@dataclass(frozen=True, slots=True)
class TemplateDefinition:
    """What a template says, independent of where it is approved. ``examples`` give each variable a
    sample value (providers review a template with them; Meta refuses one without)."""

    name: str
    language: str
    category: TemplateCategory
    body: str
    header: TemplateHeader | None = None
    footer: str | None = None
    buttons: tuple[TemplateButton, ...] = ()
    examples: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        """What names a template within a tenant: its name and language."""
        return (self.name, self.language)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.language})"

    @property
    def examples_dict(self) -> dict[str, str]:
        return dict(self.examples)

    def texts(self) -> list[tuple[str, str]]:
        """Each text that may hold variables, with the component it belongs to, in the template's order:
        ``header``, ``body``, ``button:<index>`` (a URL button's address)."""
        found: list[tuple[str, str]] = []
        if self.header is not None and self.header.format is HeaderFormat.TEXT and self.header.text:
            found.append(("header", self.header.text))
        found.append(("body", self.body))
        for index, button in enumerate(self.buttons):
            if button.kind is ButtonKind.URL and button.url:
                found.append((f"button:{index}", button.url))
        return found

    @property
    def layout(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """For each component that takes variables, their names in the order its values are given:
        by position for positional variables, by first appearance for named ones."""
        result = []
        for component, text in self.texts():
            names = variables_in(text)
            if names:
                result.append((component, tuple(_ordered(names))))
        return tuple(result)

    @property
    def variables(self) -> tuple[str, ...]:
        """Every variable the template takes, each once, in the order of ``layout``."""
        seen: dict[str, None] = {}
        for _, names in self.layout:
            for name in names:
                seen.setdefault(name)
        return tuple(_ordered(list(seen)))

    @property
    def variable_style(self) -> VariableStyle | None:
        names = self.variables
        if not names:
            return None
        return VariableStyle.POSITIONAL if all(is_position(name) for name in names) else VariableStyle.NAMED

    @property
    def has_media_header(self) -> bool:
        return self.header is not None and self.header.format.is_media


def is_position(name: str) -> bool:
    """Whether a variable's name is a position ("1", "2" …): ASCII digits only ("²" is a digit too)."""
    return name.isascii() and name.isdigit()


def variables_in(text: str) -> list[str]:
    """The variables ``text`` holds, in order of appearance, each once."""
    seen: dict[str, None] = {}
    for match in VARIABLE.finditer(text):
        seen.setdefault(match.group(1))
    return list(seen)


def _ordered(names: list[str]) -> list[str]:
    if names and all(is_position(name) for name in names):
        return sorted(names, key=int)
    return names


def render(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each variable replaced by its value (a variable without one stays as it is)."""
    return VARIABLE.sub(lambda match: values.get(match.group(1), match.group(0)), text)


@dataclass(frozen=True, slots=True)
class RenderedTemplate:
    """A template as the customer sees it with given values: each component's text, and all of it as
    one text (header, body and footer, each on its own paragraph) for history."""

    body: str
    header: str | None = None
    footer: str | None = None
    buttons: tuple[str, ...] = field(default=())

    @property
    def text(self) -> str:
        return "\n\n".join(part for part in (self.header, self.body, self.footer) if part)


def render_template(definition: TemplateDefinition, values: Mapping[str, str]) -> RenderedTemplate:
    header = definition.header
    # Only a text header shows text: a media header's is no part of the template (``texts`` skips it).
    header_text = header.text if header is not None and header.format is HeaderFormat.TEXT else None
    return RenderedTemplate(
        header=render(header_text, values) if header_text else None,
        body=render(definition.body, values),
        footer=definition.footer,
        buttons=tuple(
            f"{button.text} ({render(button.url, values)})"
            if button.kind is ButtonKind.URL and button.url
            else f"{button.text} ({button.phone_number})"
            if button.kind is ButtonKind.PHONE_NUMBER
            else button.text or "Copy code"
            for button in definition.buttons
        ),
    )
