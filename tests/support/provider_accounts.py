"""A tenant's Twilio credentials, as tests set and read them: its first Twilio account."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from application.ports.tenancy import ProviderAccountRepository
from domain.administration.tenancy import ProviderAccount, ProviderName, Tenant, TwilioCredentials

_CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)


class HasProviderAccounts(Protocol):
    @property
    def provider_accounts(self) -> ProviderAccountRepository: ...


async def set_twilio_credentials(
    where: HasProviderAccounts, tenant_id: UUID, credentials: TwilioCredentials
) -> ProviderAccount:
    """Give the tenant's first Twilio account ``credentials`` (creating it if there is none)."""
    accounts = where.provider_accounts
    account = await accounts.first_of(tenant_id, ProviderName.TWILIO)
    if account is None:
        account = ProviderAccount(
            tenant_id=tenant_id, credentials=credentials, created_at=_CREATED_AT, label="Twilio"
        )
        await accounts.add(account)
        return account
    account = account.with_credentials(credentials)
    await accounts.update(account)
    return account


async def twilio_credentials(where: HasProviderAccounts, tenant_id: UUID) -> TwilioCredentials | None:
    account = await where.provider_accounts.first_of(tenant_id, ProviderName.TWILIO)
    if account is None:
        return None
    assert isinstance(account.credentials, TwilioCredentials)
    return account.credentials


def twilio_account(tenant: Tenant, credentials: TwilioCredentials) -> ProviderAccount:
    """An account of ``tenant``'s, as a provider is handed it to send through."""
    return ProviderAccount(
        tenant_id=tenant.id, credentials=credentials, created_at=_CREATED_AT, label="Twilio"
    )
