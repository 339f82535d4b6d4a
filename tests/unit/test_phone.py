"""Phone numbers: clients write them as ``+E164`` or ``whatsapp:+E164``; the gateway keeps one form."""

from __future__ import annotations

import pytest

from domain.errors import InvalidPhoneNumber
from domain.phone import PhoneNumber


@pytest.mark.parametrize(
    "raw",
    [
        "+14155238886",
        "whatsapp:+14155238886",
        "WhatsApp:+14155238886",
        "WHATSAPP:+14155238886",
        "  +14155238886  ",
        "\twhatsapp:+14155238886\n",
    ],
)
def test_both_written_forms_normalise_to_e164(raw: str) -> None:
    assert PhoneNumber.parse(raw).e164 == "+14155238886"


@pytest.mark.parametrize("raw", ["+447911123456", "+4915112345678", "+5511987654321", "+919876543210"])
def test_valid_numbers_of_other_countries_are_kept_as_written(raw: str) -> None:
    assert PhoneNumber.parse(raw).e164 == raw


def test_the_same_number_written_two_ways_is_equal() -> None:
    assert PhoneNumber.parse("whatsapp:+447911123456") == PhoneNumber.parse("+447911123456")


@pytest.mark.parametrize(
    "raw",
    [
        "4155238886",  # national format, no country code
        "(415) 523-8886",
        "07911 123456",
        "0044 7911 123456",  # international prefix instead of +
        "+44 7911 123456",  # spaces inside the number
        "+1-415-523-8886",
        "whatsapp:4155238886",
        "whatsapp: +14155238886",  # space after the prefix
        "sms:+14155238886",  # another channel's prefix
    ],
)
def test_anything_but_plus_and_digits_is_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match="international number"):
        PhoneNumber.parse(raw)


@pytest.mark.parametrize("raw", ["+1415abc8886", "+one", "hello", "+", "whatsapp:", "whatsapp:+"])
def test_letters_and_bare_prefixes_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        PhoneNumber.parse(raw)


@pytest.mark.parametrize("raw", ["", "   "])
def test_an_empty_number_is_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        PhoneNumber.parse(raw)


def test_an_overlong_input_is_refused_before_any_parsing() -> None:
    with pytest.raises(InvalidPhoneNumber, match="at most 64 characters"):
        PhoneNumber.parse("+1" + "4" * 80)


@pytest.mark.parametrize(
    "raw",
    [
        "+10000000000",  # well-formed, but no such number plan
        "+1415523888",  # one digit short
        "+1234567890123456",  # longer than E.164 allows
        "+999123456789",  # unassigned country code
    ],
)
def test_numbers_that_cannot_exist_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=r"not a (valid )?phone number"):
        PhoneNumber.parse(raw)


def test_the_error_quotes_what_the_client_sent() -> None:
    with pytest.raises(InvalidPhoneNumber, match="4155238886"):
        PhoneNumber.parse("4155238886")


def test_whatsapp_address_is_what_twilio_expects() -> None:
    number = PhoneNumber.parse("+14155238886")

    assert number.whatsapp_address == "whatsapp:+14155238886"
    assert str(number) == "+14155238886"


def test_whatsapp_address_round_trips() -> None:
    number = PhoneNumber.parse("+447911123456")

    assert PhoneNumber.parse(number.whatsapp_address) == number
