"""Checking Twilio's ``X-Twilio-Signature`` with the SDK's own ``RequestValidator``.

The signature is base64(HMAC-SHA1(auth token, URL + every posted name and value, sorted by name)); the
SDK also tries the URL with and without its default port, as Twilio signs either. It is computed here
by the SDK rather than by hand, so a change in Twilio's scheme is a dependency upgrade, not a rewrite.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping, Sequence

from twilio.request_validator import RequestValidator

_HMAC_SHA1_BYTES = 20


class _MultiValuedParams:
    """The posted fields as the SDK reads a multi-valued form (``getall``, as in Flask's MultiDict).

    With a plain dict the SDK would sign one value per name; Twilio signs every value of a repeated
    field, so each must be handed over.
    """

    def __init__(self, params: Mapping[str, Sequence[str]]) -> None:
        self._params = params

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def getall(self, name: str) -> list[str]:
        return list(self._params[name])


class TwilioSignatureVerifier:
    """Checks the signature of Twilio's form-encoded callbacks (see callback_authentication.py)."""

    def is_well_formed(self, signature: str) -> bool:
        """Base64 of an HMAC-SHA1: the only signature the SDK's validator can ever accept."""
        try:
            return len(base64.b64decode(signature, validate=True)) == _HMAC_SHA1_BYTES
        except (binascii.Error, ValueError):
            return False

    def is_valid(
        self, *, url: str, params: Mapping[str, Sequence[str]], signature: str, auth_token: str
    ) -> bool:
        if not signature or not auth_token:
            return False
        validator = RequestValidator(auth_token)
        return bool(validator.validate(url, _MultiValuedParams(params), signature))
