"""The API guide's table of failure codes is the one the code gives: our codes, whether each is
retryable, what to do, and the Twilio and Meta codes each provider's adapter maps to it."""

from __future__ import annotations

from domain.messaging.failures import FailureCode
from tests.support.failure_codes_doc import API_GUIDE, REGENERATE, failure_codes_table, with_table


def test_the_guides_table_of_failure_codes_matches_the_code() -> None:
    guide = API_GUIDE.read_text(encoding="utf-8")

    assert guide == with_table(guide), f"docs/api.md's failure codes are out of date: run `{REGENERATE}`"


def test_the_table_has_a_row_for_each_code() -> None:
    rows = failure_codes_table().splitlines()[2:]

    assert [row.split("|")[1].strip() for row in rows] == [f"`{code.value}`" for code in FailureCode]
