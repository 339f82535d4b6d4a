"""The console speaks English and Spanish: chosen by the browser's Accept-Language, or by the switch on
every page; and every text a page shows has its Spanish."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from entrypoints.console.i18n import negotiate, translator
from entrypoints.console.rendering import NAVIGATION, TEMPLATES_DIR
from entrypoints.console.texts import SPANISH
from tests.support.api import Api
from tests.support.console import ConsolePages, text_of

CONSOLE_PACKAGE = TEMPLATES_DIR.parent
# ``_("text")`` or ``_('text')`` in a template: the text is the catalogue's key.
_TEMPLATE_TEXT = re.compile(r"""\b_\(\s*(?P<quote>["'])(?P<text>(?:(?!(?P=quote)).)+)(?P=quote)""")


def template_texts() -> set[str]:
    return {
        match.group("text")
        for template in TEMPLATES_DIR.rglob("*.html")
        for match in _TEMPLATE_TEXT.finditer(template.read_text())
    }


def python_texts() -> set[str]:
    """The texts the console's modules mark ``translatable(...)``: what they hand templates to translate
    (navigation labels, notices, error messages)."""
    texts: set[str] = set()
    for module in CONSOLE_PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "translatable":
                texts.update(
                    arg.value
                    for arg in node.args
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                )
    return texts


@pytest.mark.parametrize(
    ("chosen", "accept_language", "expected"),
    [
        (None, None, "en"),
        (None, "es-MX,es;q=0.9,en;q=0.8", "es"),
        (None, "fr-FR, es;q=0.5", "es"),
        (None, "en-GB,es;q=0.9", "en"),
        (None, "es;q=0, en;q=0.1", "en"),
        (None, "de, fr", "en"),
        (None, "es;q=nonsense, en", "en"),
        ("es", "en", "es"),
        ("xx", "es", "es"),
    ],
)
def test_the_language_is_the_users_choice_else_the_browsers_else_english(
    chosen: str | None, accept_language: str | None, expected: str
) -> None:
    assert negotiate(chosen, accept_language) == expected


def test_every_text_the_templates_show_has_its_spanish() -> None:
    texts = template_texts()

    assert len(texts) > 10  # the scan found the templates' texts
    assert sorted(texts - SPANISH.keys()) == []


def test_every_text_the_pages_mark_translatable_has_its_spanish() -> None:
    texts = python_texts()

    assert {item.label for item in NAVIGATION} <= texts
    assert "The username or password is wrong." in texts
    assert sorted(texts - SPANISH.keys()) == []


def test_a_translation_fills_placeholders_after_translating() -> None:
    assert translator("es")("Sign in") == "Iniciar sesión"
    assert translator("en")("%(n)s sent", n=3) == "3 sent"


async def test_a_spanish_browser_gets_the_console_in_spanish(api: Api) -> None:
    page = await ConsolePages(api.client).get("/console/login")
    assert "Sign in" in text_of(page)

    api.client.headers["Accept-Language"] = "es-ES,es;q=0.9"
    page = await ConsolePages(api.client).get("/console/login")

    assert "Iniciar sesión" in text_of(page)
    assert '<html lang="es">' in page


async def test_the_switch_keeps_the_chosen_language_over_the_browsers(api: Api) -> None:
    api.client.headers["Accept-Language"] = "en"
    console = ConsolePages(api.client)

    response = await api.client.get(
        "/console/language/es", params={"next": "/console/login"}, follow_redirects=False
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"
    assert "Iniciar sesión" in text_of(await console.get("/console/login"))


async def test_the_switch_goes_back_only_within_the_console(api: Api) -> None:
    response = await api.client.get(
        "/console/language/es", params={"next": "https://evil.example/"}, follow_redirects=False
    )

    assert response.headers["location"] == "/console"


async def test_an_unknown_language_changes_nothing(api: Api) -> None:
    response = await api.client.get("/console/language/xx", follow_redirects=False)

    assert response.status_code == 303
    assert "wa_console_lang" not in response.headers.get("set-cookie", "")


def test_the_templates_live_where_the_scan_looks() -> None:
    assert Path(TEMPLATES_DIR / "base.html").is_file()
