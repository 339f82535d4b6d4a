"""Phone numbers: clients write them as ``+E164`` or ``whatsapp:+E164``; the gateway keeps the form a
number is written in (what messages are sent to) and one identity per person, whichever form WhatsApp
writes them in."""

from __future__ import annotations

import random

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
        "+1415523888",  # one digit short
        "+141552388860",  # one digit too many
        "+14155238",  # a local number of seven digits: no area code
        "+1234567890123456",  # longer than E.164 allows
        "+999123456789",  # unassigned country code
        "+52155123456789",  # a Mexican number too long even without WhatsApp's 1
        "+5219",
        "+4479111234567890",
    ],
)
def test_numbers_that_cannot_exist_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match="not a phone number"):
        PhoneNumber.parse(raw)


@pytest.mark.parametrize(
    "raw",
    [
        # Lengths the phone-number library deems possible for these countries, and too long for E.164.
        "+4911111111111111",
        "+6211111111111111",
        "+8111111111111111",
        "+8211111111111111",
        "+2341111111111111",
        "+5981111111111111",
        "whatsapp:+4911111111111111",
    ],
)
def test_a_number_of_more_than_fifteen_digits_is_refused_though_its_country_allows_the_length(
    raw: str,
) -> None:
    # E.164 has 15 digits at most: the gateway stores and sends no longer number.
    with pytest.raises(InvalidPhoneNumber, match="more than 15 digits"):
        PhoneNumber.parse(raw)


def test_a_number_of_fifteen_digits_is_still_accepted() -> None:
    assert PhoneNumber.parse("+491111111111111").e164 == "+491111111111111"


def test_the_refusal_says_what_is_wrong_with_the_length() -> None:
    with pytest.raises(InvalidPhoneNumber, match=r"too many digits for \+52"):
        PhoneNumber.parse("+52155123456789")


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


# --- WhatsApp's own forms: one identity per person --------------------------------------------------

# (a form WhatsApp writes a customer in, the same person in the national plan's E.164 form)
WHATSAPP_FORMS = [
    # Mexico: WhatsApp keeps the 1 that mobiles carried after +52 until the plan dropped it in 2019.
    ("+5215512345678", "+525512345678"),  # Mexico City
    ("+5216641234567", "+526641234567"),  # Tijuana
    # Argentina: a mobile is +54 9 <area> <number> internationally; the same line without the 9 is
    # how it is written nationally and how some systems pass it on.
    ("+541123456789", "+5491123456789"),  # Buenos Aires
    ("+543414123456", "+5493414123456"),  # Rosario
    # Brazil: accounts older than the ninth mobile digit keep their eight-digit number.
    ("+551187654321", "+5511987654321"),  # São Paulo
    ("+552178765432", "+5521978765432"),  # Rio de Janeiro
]


@pytest.mark.parametrize(("whatsapp_form", "plan_form"), WHATSAPP_FORMS)
def test_every_form_whatsapp_writes_a_customer_in_is_accepted_as_written(
    whatsapp_form: str, plan_form: str
) -> None:
    assert PhoneNumber.parse(f"whatsapp:{whatsapp_form}").e164 == whatsapp_form
    assert PhoneNumber.parse(plan_form).e164 == plan_form


@pytest.mark.parametrize(("whatsapp_form", "plan_form"), WHATSAPP_FORMS)
def test_both_forms_of_a_customer_have_one_identity_the_national_plans_form(
    whatsapp_form: str, plan_form: str
) -> None:
    written_by_whatsapp, written_by_plan = PhoneNumber.parse(whatsapp_form), PhoneNumber.parse(plan_form)

    assert written_by_whatsapp.identity == written_by_plan.identity == plan_form
    assert written_by_whatsapp.is_same_contact_as(written_by_plan)
    assert written_by_whatsapp != written_by_plan  # each keeps the form it was written in


@pytest.mark.parametrize(("whatsapp_form", "plan_form"), WHATSAPP_FORMS)
def test_the_forms_of_a_customer_are_every_way_they_are_written_identity_first(
    whatsapp_form: str, plan_form: str
) -> None:
    assert PhoneNumber.parse(whatsapp_form).forms == (plan_form, whatsapp_form)
    assert PhoneNumber.parse(plan_form).forms == (plan_form, whatsapp_form)


@pytest.mark.parametrize(
    "raw",
    [
        "+14155238886",
        "+447911123456",
        "+4915112345678",
        "+919876543210",
        "+551133334444",  # a São Paulo fixed line: fixed lines never had a ninth digit
        "+5511933334444",  # ... and the mobile that begins like it is somebody else
        "+548001234567",  # an Argentine freephone number has no mobile form
        "+2250712345678",  # Côte d'Ivoire: a leading 0 that belongs to the number
    ],
)
def test_a_number_written_only_one_way_is_its_own_identity(raw: str) -> None:
    number = PhoneNumber.parse(raw)

    assert number.identity == raw
    assert number.forms == (raw,)


def test_a_fixed_line_and_a_mobile_that_look_alike_are_different_contacts() -> None:
    fixed, mobile = PhoneNumber.parse("+551133334444"), PhoneNumber.parse("+5511933334444")

    assert not fixed.is_same_contact_as(mobile)


@pytest.mark.parametrize(
    "raw",
    [
        "+13572345678",  # a North American area code the phone-number metadata does not list yet
        "+5492231234567",  # a Mar del Plata mobile in a block the metadata does not list
        "+551187654321",  # a Brazilian mobile without its ninth digit
        "+5215512345678",  # a Mexican mobile with WhatsApp's 1
    ],
)
def test_a_plausible_number_is_accepted_even_where_the_metadata_knows_no_such_range(raw: str) -> None:
    assert PhoneNumber.parse(raw).e164 == raw


def test_identity_and_forms_agree_for_every_number_of_the_three_plans() -> None:
    """Each form of a number has the number's identity, and the number is among its own forms."""
    rng = random.Random(12)
    checked = 0
    for _ in range(5_000):
        country = rng.choice(["52", "54", "55"])
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(9, 12)))
        try:
            number = PhoneNumber.parse(f"+{country}{digits}")
        except InvalidPhoneNumber:
            continue
        checked += 1
        assert number.e164 in number.forms
        assert number.forms[0] == number.identity
        assert {PhoneNumber.parse(form).identity for form in number.forms} == {number.identity}
    assert checked > 1_000
