"""Twilio's callbacks as Twilio signs them: the URL it called, every posted field, and the signature.

The form is parsed here rather than by a web framework: Litestar's parser drops fields with blank
values (the ``Body=`` of a media-only message), which Twilio signs like any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from application.ports.provider_callbacks import ProviderCallback

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
SIGNATURE_HEADER = "x-twilio-signature"


def posted_fields(content_type: str, body: bytes) -> dict[str, list[str]]:
    """Every posted field with all its values, in order, blank values included.

    A body that is not form-encoded has no fields: its signature cannot match.
    """
    if content_type != FORM_MEDIA_TYPE:
        return {}
    fields: dict[str, list[str]] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(name, []).append(value)
    return fields


@dataclass(frozen=True, slots=True)
class SignedForm:
    """A Twilio callback as it arrived: what the signature covers, and the signature.

    ``url`` is the full URL as Twilio called it (the public one, query string included), ``params``
    every posted field with all its values, in the order posted, and ``signature`` the
    ``X-Twilio-Signature`` header ("" when there was none). ``client_address`` is where it came from:
    failed checks are counted against it.
    """

    url: str
    params: Mapping[str, Sequence[str]]
    signature: str
    client_address: str

    @classmethod
    def of(cls, callback: ProviderCallback) -> SignedForm:
        return cls(
            url=callback.url,
            params=posted_fields(callback.content_type, callback.body),
            signature=callback.headers.get(SIGNATURE_HEADER, ""),
            client_address=callback.client_address,
        )

    def field(self, name: str) -> str:
        """The first value of a posted field, "" if it was not posted.

        U+0000 comes back as U+FFFD: PostgreSQL text cannot hold it, and a customer's message is kept
        rather than lost over one character. The signature is checked over ``params``, as posted.
        """
        values = self.params.get(name)
        return values[0].replace("\x00", "\ufffd") if values else ""
