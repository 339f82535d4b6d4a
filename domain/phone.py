"""The phone number value object: one canonical E.164 form for every number the gateway handles."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers

from domain.errors import InvalidPhoneNumber

WHATSAPP_PREFIX = "whatsapp:"
_MAX_INPUT_LENGTH = 64


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A valid international number, kept as E.164 (``+14155238886``)."""

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
    def whatsapp_address(self) -> str:
        """The address Twilio expects for the WhatsApp channel."""
        return f"{WHATSAPP_PREFIX}{self.e164}"

    def __str__(self) -> str:
        return self.e164


# Parsing with the full metadata costs ~50 µs, on every message sent or received; the same contacts come
# back again and again. Only valid numbers are kept (a refusal raises, and lru_cache keeps no exception).
@functools.lru_cache(maxsize=4096)
def _e164_of(digits: str, raw: str) -> str:
    try:
        parsed = phonenumbers.parse(digits, None)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number") from error
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"{raw!r} is not a valid phone number")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
