"""Secrets sealed in their rows with the SecretBox: each bound to its row (a sealed value copied to
another row does not open), opened as it is read, sealed again under the newest key on request."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.engine import RowMapping

from adapters.security.secret_box import SecretBox, SecretDecryptionError
from application.errors import CredentialsUnreadable
from domain.administration.tenancy import (
    MetaCredentials,
    ProviderAccount,
    ProviderCredentials,
    ProviderName,
    TwilioCredentials,
)


def credentials_owner(tenant_id: UUID) -> bytes:
    """The associated data that binds a sealed secret to its tenant's row."""
    return b"tenant:" + tenant_id.bytes


# The sealed columns of a provider account (see tables.provider_accounts).
SEALED_ACCOUNT_COLUMNS = ("secret_sealed", "second_secret_sealed", "verify_token_sealed")


def account_columns(secret_box: SecretBox, account: ProviderAccount) -> dict[str, object]:
    """The columns of a ``provider_accounts`` row but its id and times, its secrets sealed."""
    owner = credentials_owner(account.tenant_id)

    def sealed(secret: str | None) -> bytes | None:
        return secret_box.seal(secret, owner) if secret is not None else None

    credentials = account.credentials
    common = {"tenant_id": account.tenant_id, "provider": account.provider.value, "label": account.label}
    if isinstance(credentials, TwilioCredentials):
        return common | {
            "external_id": credentials.account_sid,
            "api_key_sid": credentials.api_key_sid,
            "graph_api_version": None,
            "secret_sealed": sealed(credentials.auth_token),
            "second_secret_sealed": sealed(credentials.api_key_secret),
            "verify_token_sealed": None,
        }
    return common | {
        "external_id": credentials.business_account_id,
        "api_key_sid": None,
        "graph_api_version": credentials.graph_api_version,
        "secret_sealed": sealed(credentials.access_token),
        "second_secret_sealed": sealed(credentials.app_secret),
        "verify_token_sealed": sealed(credentials.verify_token),
    }


def open_account(secret_box: SecretBox, row: RowMapping, prefix: str = "") -> ProviderAccount:
    """A ``provider_accounts`` row (its columns under ``prefix``) with its secrets opened."""
    tenant_id = row[prefix + "tenant_id"]
    owner = credentials_owner(tenant_id)
    try:
        secret, second, verify_token = (
            secret_box.open(row[prefix + column], owner) if row[prefix + column] is not None else None
            for column in SEALED_ACCOUNT_COLUMNS
        )
    except SecretDecryptionError as error:
        raise CredentialsUnreadable() from error
    credentials: ProviderCredentials
    if row[prefix + "provider"] == ProviderName.TWILIO.value:
        credentials = TwilioCredentials(
            account_sid=row[prefix + "external_id"],
            auth_token=secret or "",
            api_key_sid=row[prefix + "api_key_sid"],
            api_key_secret=second,
        )
    else:
        credentials = MetaCredentials(
            business_account_id=row[prefix + "external_id"],
            access_token=secret or "",
            app_secret=second or "",
            verify_token=verify_token or "",
            graph_api_version=row[prefix + "graph_api_version"],
        )
    return ProviderAccount(
        id=row[prefix + "id"],
        tenant_id=tenant_id,
        credentials=credentials,
        label=row[prefix + "label"],
        created_at=row[prefix + "created_at"],
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
