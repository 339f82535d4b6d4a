"""Phone numbers: the form a number is written in, and the one person (or line) it reaches.

WhatsApp does not always write a number as the national numbering plan does:

- Mexico: mobiles keep the 1 they carried after +52 until the plan dropped it in 2019
  (``+52 1 55 1234 5678`` for ``+52 55 1234 5678``);
- Argentina: a mobile is ``+54 9 <area> <number>`` internationally, and the same line is also written
  without the 9 (by people, and by systems that pass it on);
- Brazil: accounts older than the ninth mobile digit keep their eight-digit number
  (``+55 11 8765 4321`` for ``+55 11 98765 4321``).

A ``PhoneNumber`` keeps the form it was written in, which is what a message is sent to, and has an
``identity``, equal for every form of the same person: the form of the national plan, as operators
publish it. Mexico's without the 1; Brazil's with the ninth digit; Argentina's with the 9, the plan's
international form of a mobile and the one WhatsApp gives every Argentine account (without it the
digits also read as a fixed line, which WhatsApp accounts rarely are). Whatever is matched by
contact (conversations, the session window, the history filter, the routing of inbound messages)
compares identities.

A number is judged plausible, not assigned: a known country code, a length the country's plan allows,
and no more than E.164's 15 digits. libphonenumber's list of assigned ranges trails the operators by
months, and a customer's message must not be refused because a range is new.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers

from domain.errors import InvalidPhoneNumber

WHATSAPP_PREFIX = "whatsapp:"
_MAX_INPUT_LENGTH = 64
E164_MAX_DIGITS = 15  # after the "+": what every phone column of the database is sized for

_MEXICO, _ARGENTINA, _BRAZIL = "52", "54", "55"
# Argentina's geographic area codes begin with 1, 2 or 3; other ten-digit numbers (freephone 800,
# shared-cost 810 …) have no mobile form.
_ARGENTINE_AREA_FIRST_DIGITS = "123"
# Brazilian mobiles from before the ninth digit began with 6-9; fixed lines begin with 2-5 and never
# had a ninth digit (``+55 11 3333 4444`` and ``+55 11 9 3333 4444`` are two different lines).
_BRAZILIAN_OLD_MOBILE_FIRST_DIGITS = "6789"

_LENGTH_PROBLEMS = {
    phonenumbers.ValidationResult.TOO_LONG: "too many digits",
    phonenumbers.ValidationResult.TOO_SHORT: "too few digits",
    phonenumbers.ValidationResult.INVALID_LENGTH: "a number of digits no number has",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local number without its area code",
}


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A plausible international number, kept as written in E.164 (``+14155238886``).

    Two numbers are equal when written alike; ``is_same_contact_as`` tells whether two forms reach the
    same person.
    """

    e164: str

    @classmethod
    def parse(cls, raw: str) -> PhoneNumber:
        """Accept ``+E164`` or ``whatsapp:+E164``; reject national formats and anything else."""
        text = raw.strip()
        if len(text) > _MAX_INPUT_LENGTH:
            raise InvalidPhoneNumber("a phone number is at most 64 characters")
        if text.lower().startswith(WHATSAPP_PREFIX):
            text = text[len(WHATSAPP_PREFIX) :]
        if not text.startswith("+") or not text[1:].isdigit():
            raise InvalidPhoneNumber(
                f"{raw!r} is not an international number: use +<country code><number>, e.g. +14155238886"
            )
        return cls(_e164_of(text, raw))

    @property
    def identity(self) -> str:
        """The person's number in the national plan's E.164 form: the same for each form of it."""
        return _identity_of(self.e164)

    @property
    def forms(self) -> tuple[str, ...]:
        """Every E.164 form this number's person is written in, the identity first."""
        return _forms_of(self.identity)

    def is_same_contact_as(self, other: PhoneNumber) -> bool:
        return self.identity == other.identity

    @property
    def whatsapp_address(self) -> str:
        """The address Twilio expects for the WhatsApp channel."""
        return f"{WHATSAPP_PREFIX}{self.e164}"

    def __str__(self) -> str:
        return self.e164


# Parsing with the full metadata costs ~50 µs, on every message sent or received; the same contacts come
# back again and again. Only plausible numbers are kept (a refusal raises, and lru_cache keeps no
# exception).
@functools.lru_cache(maxsize=4096)
def _e164_of(digits: str, raw: str) -> str:
    try:
        e164, parsed = _settled(digits)
        identity = _identity_of(e164)
        if identity != e164:
            parsed = phonenumbers.parse(identity, None)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number") from error
    if len(max(e164, identity, key=len)) - 1 > E164_MAX_DIGITS:
        # The library deems some longer numbers possible (+49, +62, +81 …); E.164 ends at 15 digits.
        raise InvalidPhoneNumber(
            f"{raw!r} is not a phone number: more than {E164_MAX_DIGITS} digits, the most an "
            "international number (E.164) has"
        )
    verdict = phonenumbers.is_possible_number_with_reason(parsed)
    if verdict != phonenumbers.ValidationResult.IS_POSSIBLE:
        why = _LENGTH_PROBLEMS.get(verdict, "an unknown country code")
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number: {why} for +{parsed.country_code}")
    return e164


def _settled(digits: str) -> tuple[str, phonenumbers.PhoneNumber]:
    """``+digits`` in E.164 as libphonenumber formats it, and parsed.

    Formatting drops what the plan never writes after a country code (a national trunk 0, say) and
    keeps WhatsApp's forms as they are. It can take more than one round to settle ("+55 0 0…" loses
    one 0 per round): the form kept must read back as itself.
    """
    written, parsed = digits, phonenumbers.parse(digits, None)
    for _ in range(len(digits)):
        e164 = _formatted(parsed)
        if e164 == written:
            return e164, parsed
        written, parsed = e164, phonenumbers.parse(e164, None)
    raise phonenumbers.NumberParseException(phonenumbers.NumberParseException.NOT_A_NUMBER, "unsettled")


def _formatted(parsed: phonenumbers.PhoneNumber) -> str:
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def _identity_of(e164: str) -> str:
    """The national plan's form of a number WhatsApp may write otherwise (see the module's docstring)."""
    country_and_number = e164[1:]
    if country_and_number.startswith(_MEXICO + "1") and len(country_and_number) == 13:
        return f"+{_MEXICO}{country_and_number[3:]}"
    national = country_and_number[2:]
    if country_and_number.startswith(_ARGENTINA) and _is_argentine_line(national):
        return f"+{_ARGENTINA}9{national}"
    if country_and_number.startswith(_BRAZIL) and _is_brazilian_mobile_without_ninth_digit(national):
        return f"+{_BRAZIL}{national[:2]}9{national[2:]}"
    return e164


def _forms_of(identity: str) -> tuple[str, ...]:
    """The inverse of ``_identity_of``: the identity, then the form WhatsApp may write it in instead."""
    country_and_number = identity[1:]
    national = country_and_number[2:]
    if country_and_number.startswith(_MEXICO) and len(national) == 10:
        return identity, f"+{_MEXICO}1{national}"
    if (
        country_and_number.startswith(_ARGENTINA)
        and national.startswith("9")
        and _is_argentine_line(national[1:])
    ):
        return identity, f"+{_ARGENTINA}{national[1:]}"
    if (
        country_and_number.startswith(_BRAZIL)
        and len(national) == 11
        and national[2] == "9"
        and _is_brazilian_mobile_without_ninth_digit(national[:2] + national[3:])
    ):
        return identity, f"+{_BRAZIL}{national[:2]}{national[3:]}"
    return (identity,)


def _is_argentine_line(national: str) -> bool:
    """Ten digits of an Argentine area code and number, which may be a mobile written without its 9."""
    return len(national) == 10 and national[0] in _ARGENTINE_AREA_FIRST_DIGITS


def _is_brazilian_mobile_without_ninth_digit(national: str) -> bool:
    """A two-digit area code (no 0 in it) and an eight-digit number that began a mobile's."""
    return (
        len(national) == 10 and "0" not in national[:2] and national[2] in _BRAZILIAN_OLD_MOBILE_FIRST_DIGITS
    )
