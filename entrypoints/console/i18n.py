"""The console's languages: English (the texts as written in the templates and pages) and Spanish.

The language is the one the user chose with the switch (a cookie), else the best of the browser's
``Accept-Language`` that the console speaks, else English. Each area of the console keeps its Spanish
texts in a module of ``texts/``; a test checks that every text a template or page shows has one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from entrypoints.console.texts import SPANISH

ENGLISH = "en"
LANGUAGES: Mapping[str, str] = {"en": "English", "es": "Español"}
LANGUAGE_COOKIE = "wa_console_lang"
_CATALOGUES: Mapping[str, Mapping[str, str]] = {"en": {}, "es": SPANISH}

Translate = Callable[..., str]


def negotiate(chosen: str | None, accept_language: str | None) -> str:
    """The language to answer in: the user's choice, else the browser's preference, else English."""
    if chosen is not None and chosen in LANGUAGES:
        return chosen
    preferences: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")[:20]):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        parameter = parameters.strip()
        if parameter.startswith("q="):
            try:
                quality = float(parameter[2:])
            except ValueError:
                continue
        language = tag.strip().lower().partition("-")[0]
        if language in LANGUAGES and quality > 0:
            preferences.append((-quality, position, language))
    return min(preferences)[2] if preferences else ENGLISH


def translatable(text: str) -> str:
    """Mark a text a page hands to a template (a notice, an error, a label) as one to translate there:
    it returns ``text`` as is; the catalogue test finds every text so marked."""
    return text


def translator(language: str) -> Translate:
    """``_("Messages today")`` in ``language``; ``_("%(n)s sent", n=3)`` fills the placeholders after
    translating. A text with no translation shows as written (English)."""
    catalogue = _CATALOGUES.get(language, {})

    def translate(text: str, **values: Any) -> str:
        translated = catalogue.get(text, text)
        return translated % values if values else translated

    return translate
