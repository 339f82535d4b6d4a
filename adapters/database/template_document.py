"""The ``definition`` column of templates: a template's components and examples as a JSON document (its
name, language and category are columns of their own, which the catalogue is searched and paged by).

The document is versioned by its keys, as the content document of messages is (content_document.py):
each part under a key of its own, present only when the template has that part, and a key never
changes its meaning: a new part is a new key. A reader takes the keys it knows and ignores the others,
so a row written by a newer version still reads in an older one. ``examples`` are pairs, not an object:
their order is the template's. ::

    {"body": "Hi {{1}}, your order {{2}} ships today.",
     "header": {"format": "image", "example_url": "https://…/parcel.jpg"},
     "footer": "Reply STOP to opt out",
     "buttons": [{"kind": "url", "text": "Track it", "url": "https://example.com/track/{{3}}"},
                 {"kind": "phone_number", "text": "Call us", "phone_number": "+14155550100"},
                 {"kind": "copy_code", "text": "", "example": "SAVE10"}],
     "examples": [["1", "Ana"], ["2", "#1234"], ["3", "1234"]]}

What is None (or an empty list) is left out, and read back as None (or empty); a text is kept as it is,
empty or not, so every definition reads back equal to what was written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.templates.definition import (
    ButtonKind,
    HeaderFormat,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
)

Document = dict[str, Any]


def definition_document(definition: TemplateDefinition) -> Document:
    """The ``definition`` column of a template with this definition."""
    header = definition.header
    return _present(
        body=definition.body,
        header=_present(format=header.format.value, text=header.text, example_url=header.example_url)
        if header is not None
        else None,
        footer=definition.footer,
        buttons=[
            _present(
                kind=button.kind.value,
                text=button.text,
                url=button.url,
                phone_number=button.phone_number,
                example=button.example,
            )
            for button in definition.buttons
        ],
        examples=[[name, value] for name, value in definition.examples],
    )


def definition_from_document(
    *, name: str, language: str, category: str, document: Mapping[str, Any]
) -> TemplateDefinition:
    """The definition a template's row holds, ``document`` being its ``definition`` column."""
    header = document.get("header")
    return TemplateDefinition(
        name=name,
        language=language,
        category=TemplateCategory(category),
        body=document["body"],
        header=TemplateHeader(
            format=HeaderFormat(header["format"]),
            text=header.get("text"),
            example_url=header.get("example_url"),
        )
        if header
        else None,
        footer=document.get("footer"),
        buttons=tuple(
            TemplateButton(
                kind=ButtonKind(button["kind"]),
                text=button.get("text", ""),
                url=button.get("url"),
                phone_number=button.get("phone_number"),
                example=button.get("example"),
            )
            for button in document.get("buttons", ())
        ),
        examples=tuple((str(name), str(value)) for name, value in document.get("examples", ())),
    )


def _present(**parts: Any) -> Document:
    """``parts`` but the unset ones (an empty text is a text: it is kept)."""
    return {name: part for name, part in parts.items() if not (part is None or part == [])}
