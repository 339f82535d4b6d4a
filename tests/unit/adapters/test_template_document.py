"""The definition document of the templates table (adapters/database/template_document.py): every
definition reads back as it was written, each part under its own key, and what a newer version adds is
ignored."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from adapters.database.template_document import definition_document, definition_from_document
from domain.templates.definition import (
    ButtonKind,
    HeaderFormat,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
)
from tests.support.repositories.templates import LOGIN_CODE, ORDER_UPDATE, WELCOME

DEFINITIONS = {
    "a media header, a footer, every button with a link": ORDER_UPDATE,
    "named variables in a text header": WELCOME,
    "a copy-code button": LOGIN_CODE,
    "a body alone": TemplateDefinition(
        name="thanks", language="en", category=TemplateCategory.MARKETING, body="Thank you!"
    ),
    "empty texts": replace(
        ORDER_UPDATE,
        footer="",
        header=TemplateHeader(format=HeaderFormat.TEXT, text=""),
        buttons=(TemplateButton(kind=ButtonKind.QUICK_REPLY),),
    ),
}


def read_back(definition: TemplateDefinition) -> TemplateDefinition:
    """``definition`` through its row: the document through JSON, as the database gives it back."""
    document = json.loads(json.dumps(definition_document(definition)))
    return definition_from_document(
        name=definition.name,
        language=definition.language,
        category=definition.category.value,
        document=document,
    )


@pytest.mark.parametrize("definition", DEFINITIONS.values(), ids=DEFINITIONS.keys())
def test_every_definition_reads_back_as_it_was_written(definition: TemplateDefinition) -> None:
    assert read_back(definition) == definition


def test_a_document_holds_each_part_under_its_own_key_and_leaves_out_what_is_unset() -> None:
    assert definition_document(ORDER_UPDATE) == {
        "body": "Olá {{1}}, o seu pedido {{2}} foi enviado hoje. Acompanhe: ",
        "header": {"format": "image", "example_url": "https://example.com/parcel.jpg"},
        "footer": "Responda SAIR para não receber mais",
        "buttons": [
            {"kind": "url", "text": "Acompanhar", "url": "https://example.com/track/{{3}}"},
            {"kind": "phone_number", "text": "Ligar", "phone_number": "+5511987654321"},
            {"kind": "quick_reply", "text": "Obrigado"},
        ],
        "examples": [["2", "#1234"], ["1", "Ana"], ["3", "1234"]],
    }
    # name, language and category are columns of their own
    assert definition_document(DEFINITIONS["a body alone"]) == {"body": "Thank you!"}


def test_what_a_newer_version_adds_is_ignored() -> None:
    document: dict[str, Any] = {
        **definition_document(LOGIN_CODE),
        "carousel": [{"body": "a card"}],
        "buttons": [{"kind": "copy_code", "text": "", "example": "123456", "otp_type": "one_tap"}],
    }

    read = definition_from_document(
        name="login_code", language="en_US", category="authentication", document=document
    )

    assert read == LOGIN_CODE
