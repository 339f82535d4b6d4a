"""Encryption at rest for tenant secrets: AES-256-GCM with the owner's id as associated data."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12
_KEY_ID_BYTES = 4
_VERSION = b"\x01"


class SecretDecryptionError(Exception):
    """A ciphertext could not be opened: wrong key, wrong owner, or tampered with."""


def parse_keys(text: str) -> list[bytes]:
    """Keys are given as a comma-separated list of urlsafe-base64 32-byte values, newest first."""
    keys = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            key = base64.urlsafe_b64decode(item + "=" * (-len(item) % 4))
        except (binascii.Error, ValueError) as error:
            raise ValueError("an encryption key is not valid base64") from error
        if len(key) != 32:
            raise ValueError("an encryption key must be 32 bytes (44 characters of base64)")
        keys.append(key)
    return keys


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


class SecretBox:
    """Seals secrets with the first key; opens with any key, so keys can be rotated.

    The sealed form is ``version | key id | nonce | ciphertext+tag``: the key id (a hash prefix of the
    key) picks the key to open with, and the associated data binds the secret to its owner, so a value
    copied to another tenant's row does not open.
    """

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._keys = {self._key_id(key): AESGCM(key) for key in keys}
        self._current_id = self._key_id(keys[0])

    @staticmethod
    def _key_id(key: bytes) -> bytes:
        return hashlib.sha256(b"wa-gateway key id" + key).digest()[:_KEY_ID_BYTES]

    def seal(self, plaintext: str, associated_data: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._current_id].encrypt(nonce, plaintext.encode(), associated_data)
        return _VERSION + self._current_id + nonce + sealed

    def open(self, sealed: bytes, associated_data: bytes) -> str:
        header = 1 + _KEY_ID_BYTES
        if len(sealed) < header + _NONCE_BYTES or sealed[:1] != _VERSION:
            raise SecretDecryptionError("not a sealed secret")
        cipher = self._keys.get(sealed[1:header])
        if cipher is None:
            raise SecretDecryptionError("sealed with a key that is not configured")
        nonce = sealed[header : header + _NONCE_BYTES]
        try:
            return cipher.decrypt(nonce, sealed[header + _NONCE_BYTES :], associated_data).decode()
        except InvalidTag as error:
            raise SecretDecryptionError("the secret does not open for this owner with these keys") from error

    def is_current(self, sealed: bytes) -> bool:
        """Whether ``sealed`` is under the newest key (re-encryption skips those)."""
        return sealed[1 : 1 + _KEY_ID_BYTES] == self._current_id
