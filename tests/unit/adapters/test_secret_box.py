from __future__ import annotations

import pytest

from adapters.security.secret_box import SecretBox, SecretDecryptionError, generate_key, parse_keys

OWNER = b"tenant:1"
OTHER_OWNER = b"tenant:2"


def box(*keys: str) -> SecretBox:
    return SecretBox(parse_keys(",".join(keys)))


def test_a_sealed_secret_opens_for_its_owner_and_hides_the_plaintext() -> None:
    secrets_box = box(generate_key())

    sealed = secrets_box.seal("auth-token-1234", OWNER)

    assert b"auth-token" not in sealed
    assert secrets_box.open(sealed, OWNER) == "auth-token-1234"


def test_a_secret_copied_to_another_owner_does_not_open() -> None:
    secrets_box = box(generate_key())
    sealed = secrets_box.seal("auth-token-1234", OWNER)

    with pytest.raises(SecretDecryptionError):
        secrets_box.open(sealed, OTHER_OWNER)


def test_a_tampered_secret_does_not_open() -> None:
    secrets_box = box(generate_key())
    sealed = bytearray(secrets_box.seal("auth-token-1234", OWNER))
    sealed[-1] ^= 1

    with pytest.raises(SecretDecryptionError):
        secrets_box.open(bytes(sealed), OWNER)


def test_rotation_new_key_first_old_secrets_still_open() -> None:
    old_key, new_key = generate_key(), generate_key()
    sealed_before = box(old_key).seal("token", OWNER)
    rotated = box(new_key, old_key)

    assert rotated.open(sealed_before, OWNER) == "token"
    assert not rotated.is_current(sealed_before)
    assert rotated.is_current(rotated.seal("token", OWNER))


def test_a_secret_sealed_with_an_unknown_key_does_not_open() -> None:
    sealed = box(generate_key()).seal("token", OWNER)

    with pytest.raises(SecretDecryptionError, match="not configured"):
        box(generate_key()).open(sealed, OWNER)


@pytest.mark.parametrize("bad", ["", "not base64 !!", "c2hvcnQ="])
def test_bad_keys_are_refused_at_start(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        box(bad)
