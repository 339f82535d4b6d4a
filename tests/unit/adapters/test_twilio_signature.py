"""The Twilio signature check against signatures computed by hand from Twilio's documented recipe."""

from __future__ import annotations

import base64
import hashlib
import hmac

from adapters.twilio.signature import TwilioSignatureVerifier

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": ["CA1234567890ABCDE"],
    "Caller": ["+14158675310"],
    "Digits": ["1234"],
    "From": ["+14158675310"],
    "To": ["+18005551212"],
}
verifier = TwilioSignatureVerifier()


def by_hand(token: str, url: str, pairs: list[tuple[str, str]]) -> str:
    """base64(HMAC-SHA1(token, url + name + value ...)), pairs sorted by name (then value)."""
    text = url + "".join(name + value for name, value in sorted(pairs))
    return base64.b64encode(hmac.new(token.encode(), text.encode(), hashlib.sha1).digest()).decode()


def pairs(params: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, values in params.items() for value in values]


def test_twilios_documented_example_verifies() -> None:
    # The example of Twilio's "Webhooks security" page, with its published signature.
    assert verifier.is_valid(
        url=URL, params=PARAMS, signature="GvWf1cFY/Q7PnoempGyD5oXAezc=", auth_token=TOKEN
    )
    assert by_hand(TOKEN, URL, pairs(PARAMS)) == "GvWf1cFY/Q7PnoempGyD5oXAezc="


def test_every_value_of_a_repeated_field_is_signed() -> None:
    params = {**PARAMS, "MediaUrl": ["https://example.com/b.png", "https://example.com/a.png"]}
    signature = by_hand(TOKEN, URL, pairs(params))

    assert verifier.is_valid(url=URL, params=params, signature=signature, auth_token=TOKEN)
    only_first = {**PARAMS, "MediaUrl": ["https://example.com/b.png"]}
    assert not verifier.is_valid(url=URL, params=only_first, signature=signature, auth_token=TOKEN)


def test_blank_values_are_signed_too() -> None:
    params = {**PARAMS, "Body": [""]}
    signature = by_hand(TOKEN, URL, pairs(params))

    assert verifier.is_valid(url=URL, params=params, signature=signature, auth_token=TOKEN)
    assert not verifier.is_valid(url=URL, params=PARAMS, signature=signature, auth_token=TOKEN)


def test_the_url_is_signed_with_or_without_its_default_port() -> None:
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    signature = by_hand(TOKEN, with_port, pairs(PARAMS))

    assert verifier.is_valid(url=URL, params=PARAMS, signature=signature, auth_token=TOKEN)


def test_anything_else_is_refused() -> None:
    signature = by_hand(TOKEN, URL, pairs(PARAMS))

    assert not verifier.is_valid(url=URL, params=PARAMS, signature=signature, auth_token="54321")
    assert not verifier.is_valid(url=URL + "&baz=3", params=PARAMS, signature=signature, auth_token=TOKEN)
    assert not verifier.is_valid(
        url=URL, params={**PARAMS, "Digits": ["9"]}, signature=signature, auth_token=TOKEN
    )
    assert not verifier.is_valid(url=URL, params=PARAMS, signature="", auth_token=TOKEN)
    assert not verifier.is_valid(url=URL, params=PARAMS, signature=signature, auth_token="")
    assert not verifier.is_valid(url=URL, params=PARAMS, signature="not base64 at all", auth_token=TOKEN)


def test_only_base64_of_an_hmac_sha1_is_of_twilios_form() -> None:
    assert verifier.is_well_formed("GvWf1cFY/Q7PnoempGyD5oXAezc=")
    assert verifier.is_well_formed(by_hand("another token", URL, pairs(PARAMS)))
    for malformed in ("", "GvWf1cFY/Q7PnoempGyD5oXAezc", "not base64!", "bm90IGEgc2lnbmF0dXJl", "é" * 28):
        assert not verifier.is_well_formed(malformed)
    sha256 = base64.b64encode(hmac.new(b"t", b"x", hashlib.sha256).digest()).decode()
    assert not verifier.is_well_formed(sha256)
