"""Secrets sealed in their rows with the SecretBox: each bound to its row (a sealed value copied to
another row does not open), opened as it is read, sealed again under the newest key on request."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.engine import RowMapping

from adapters.security.secret_box import SecretBox, SecretDecryptionError
from application.errors import CredentialsUnreadable
from domain.administration.tenancy import TwilioCredentials


def credentials_owner(tenant_id: UUID) -> bytes:
    """The associated data that binds a sealed secret to its tenant's row."""
    return b"tenant:" + tenant_id.bytes


def open_credentials(secret_box: SecretBox, row: RowMapping) -> TwilioCredentials:
    """A ``tenant_credentials`` row with its secrets opened."""
    owner = credentials_owner(row["tenant_id"])
    try:
        auth_token = secret_box.open(row["auth_token_sealed"], owner)
        api_key_secret = (
            secret_box.open(row["api_key_secret_sealed"], owner) if row["api_key_secret_sealed"] else None
        )
    except SecretDecryptionError as error:
        raise CredentialsUnreadable() from error
    return TwilioCredentials(
        account_sid=row["account_sid"],
        auth_token=auth_token,
        api_key_sid=row["api_key_sid"],
        api_key_secret=api_key_secret,
    )


def resealed_columns(
    secret_box: SecretBox, row: RowMapping, columns: Sequence[str], owner: bytes
) -> dict[str, bytes]:
    """The sealed ``columns`` of ``row`` that are not under the newest key, sealed again under it."""
    changes: dict[str, bytes] = {}
    for column in columns:
        sealed = row[column]
        if sealed is None or secret_box.is_current(sealed):
            continue
        try:
            changes[column] = secret_box.seal(secret_box.open(sealed, owner), owner)
        except SecretDecryptionError as error:
            raise CredentialsUnreadable() from error
    return changes
