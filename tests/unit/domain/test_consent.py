"""Consent keywords: what a customer's message must say to opt out or back in, in each default language,
and what a tenant's own keywords change."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.consent.model import (
    DEFAULT_OPT_IN_KEYWORDS,
    DEFAULT_OPT_OUT_KEYWORDS,
    ConsentPolicy,
    ConsentSource,
    ConsentState,
    InvalidConsentPolicy,
    KeywordMode,
    normalise,
)
from domain.messaging.content import Choice
from domain.messaging.messages import MessageContent
from domain.templates.definition import TemplateCategory

DEFAULTS = ConsentPolicy(tenant_id=uuid4())


def said(text: str) -> tuple[ConsentState, ConsentSource] | None:
    return DEFAULTS.recognise(MessageContent(body=text))


@pytest.mark.parametrize(
    ("language", "word"),
    [(language, word) for language, words in DEFAULT_OPT_OUT_KEYWORDS.items() for word in words],
)
def test_every_default_opt_out_keyword_opts_out(language: str, word: str) -> None:
    assert said(word) == (ConsentState.OPTED_OUT, ConsentSource.KEYWORD)


@pytest.mark.parametrize(
    ("language", "word"),
    [(language, word) for language, words in DEFAULT_OPT_IN_KEYWORDS.items() for word in words],
)
def test_every_default_opt_in_keyword_opts_in(language: str, word: str) -> None:
    assert said(word) == (ConsentState.OPTED_IN, ConsentSource.KEYWORD)


@pytest.mark.parametrize(
    "text", ["  stop ", "Stop!", "STOP.", "¡Baja!", "báJA", "¿Parar?", "opt   out", "Sair…"]
)
def test_case_accents_spaces_and_punctuation_around_a_keyword_do_not_matter(text: str) -> None:
    recognised = said(text)
    assert recognised is not None
    assert recognised[0] is ConsentState.OPTED_OUT


@pytest.mark.parametrize("text", ["please stop", "stop it", "non-stop", "STOP 2", "st op", "🛑"])
def test_a_keyword_within_a_longer_message_is_not_a_consent_change(text: str) -> None:
    assert said(text) is None


def test_no_word_opts_both_out_and_in_by_default() -> None:
    assert DEFAULTS.opt_out_words.isdisjoint(DEFAULTS.opt_in_words)


@pytest.mark.parametrize("label", ["Stop promotions", "Detener promociones", "Parar promoções"])
def test_metas_marketing_opt_out_button_opts_out_as_a_provider_button(label: str) -> None:
    content = MessageContent(body=label, reply=Choice(id=label, title=label))

    assert DEFAULTS.recognise(content) == (ConsentState.OPTED_OUT, ConsentSource.PROVIDER_BUTTON)


def test_a_reply_button_titled_stop_is_a_keyword_like_the_typed_word() -> None:
    content = MessageContent(body="STOP", reply=Choice(id="unsubscribe-me", title="STOP"))

    assert DEFAULTS.recognise(content) == (ConsentState.OPTED_OUT, ConsentSource.KEYWORD)


def test_a_tenants_keywords_count_beside_the_defaults_unless_they_replace_them() -> None:
    added = ConsentPolicy(tenant_id=uuid4(), opt_out_keywords=("Basta",), opt_in_keywords=("Volví",))
    replaced = ConsentPolicy(tenant_id=uuid4(), opt_out_keywords=("Basta",), keyword_mode=KeywordMode.REPLACE)

    assert added.recognise(MessageContent(body="BASTA!")) == (ConsentState.OPTED_OUT, ConsentSource.KEYWORD)
    assert added.recognise(MessageContent(body="volvi")) == (ConsentState.OPTED_IN, ConsentSource.KEYWORD)
    assert added.recognise(MessageContent(body="stop")) is not None
    assert replaced.recognise(MessageContent(body="stop")) is None
    assert replaced.recognise(MessageContent(body="start")) is None
    assert replaced.opt_out_keywords == ("basta",)


def test_a_keyword_in_both_lists_is_refused_counting_the_defaults() -> None:
    with pytest.raises(InvalidConsentPolicy, match="stop"):
        ConsentPolicy(tenant_id=uuid4(), opt_in_keywords=("Stop",))
    # Replacing the defaults frees their words.
    assert ConsentPolicy(tenant_id=uuid4(), opt_in_keywords=("Stop",), keyword_mode=KeywordMode.REPLACE)


@pytest.mark.parametrize("keyword", ["!!!", "   ", "x" * 65])
def test_a_keyword_that_is_empty_once_normalised_or_too_long_is_refused(keyword: str) -> None:
    with pytest.raises(InvalidConsentPolicy):
        ConsentPolicy(tenant_id=uuid4(), opt_out_keywords=(keyword,))


def test_only_authentication_templates_reach_a_person_who_opted_out_by_default() -> None:
    assert DEFAULTS.allows(TemplateCategory.AUTHENTICATION)
    assert not DEFAULTS.allows(TemplateCategory.MARKETING)
    assert not DEFAULTS.allows(TemplateCategory.UTILITY)
    assert not DEFAULTS.allows(None)  # free-form, or a template the catalogue does not know


def test_normalising_folds_case_and_accents_and_trims_punctuation() -> None:
    assert normalise("  ¡DESCADASTRAR!  ") == "descadastrar"
    assert normalise("Inscrever-se") == "inscrever-se"
