"""Meta's X-Hub-Signature-256 check, against signatures computed by hand from Meta's documented recipe:
``sha256=`` and the hex HMAC-SHA256 of the raw body with the app secret."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from adapters.meta.signature import MetaSignatureVerifier, signature_of

SECRET = "the-apps-secret-0123456789abcdef"
BODY = b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[]}]}'
verifier = MetaSignatureVerifier()


def by_hand(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_the_signature_of_the_raw_body_with_the_app_secret_is_valid() -> None:
    header = by_hand(SECRET, BODY)

    assert signature_of(BODY, SECRET) == header
    assert verifier.is_valid(body=BODY, header=header, app_secret=SECRET)


def test_upper_case_hex_digits_are_the_same_digest() -> None:
    digest = by_hand(SECRET, BODY).removeprefix("sha256=")

    assert verifier.is_valid(body=BODY, header="sha256=" + digest.upper(), app_secret=SECRET)


def test_the_same_json_with_other_whitespace_is_not_what_meta_signed() -> None:
    respaced = BODY.replace(b",", b", ")

    assert not verifier.is_valid(body=respaced, header=by_hand(SECRET, BODY), app_secret=SECRET)


def test_another_apps_secret_does_not_verify() -> None:
    assert not verifier.is_valid(body=BODY, header=by_hand("another-secret", BODY), app_secret=SECRET)


def test_no_app_secret_verifies_nothing() -> None:
    assert not verifier.is_valid(body=BODY, header=by_hand("", BODY), app_secret="")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=" + "0" * 40,
        by_hand(SECRET, BODY).removeprefix("sha256="),  # the digest without its scheme
        "sha256=" + "g" * 64,
        "sha256=" + "0" * 63,
        by_hand(SECRET, BODY) + "00",
        " " + by_hand(SECRET, BODY),
        "SHA256=" + by_hand(SECRET, BODY).removeprefix("sha256="),
    ],
)
def test_a_malformed_header_is_invalid(header: str | None) -> None:
    assert not verifier.is_well_formed(header)
    assert not verifier.is_valid(body=BODY, header=header, app_secret=SECRET)
