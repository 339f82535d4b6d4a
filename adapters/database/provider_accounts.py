"""A tenant's provider accounts (secrets sealed at rest), and which one each sender sends through, on
SQLAlchemy Core."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy import RowMapping

from adapters.database.repository import SqlAlchemyRepository, Transaction
from adapters.database.sealed_secrets import (
    SEALED_ACCOUNT_COLUMNS,
    account_columns,
    credentials_owner,
    open_account,
    resealed_columns,
)
from adapters.database.statements import account_of_sender
from adapters.database.tables import provider_accounts, senders, tenants
from adapters.security.secret_box import SecretDecryptionError
from application.errors import AccountInUse, CredentialsUnreadable, NotFound
from application.ports.tenancy import MetaApp, MetaNumber, TwilioSigner
from domain.administration.tenancy import ProviderAccount, ProviderName, Sender
from domain.phone import PhoneNumber

logger = logging.getLogger(__name__)

_ACCOUNT_MISSING = "the tenant has no such provider account"


_SENDER_ACCOUNT = account_of_sender(senders.c.tenant_id, senders.c.account_id)

# Built once, as those of statements.py are.
_TWILIO_SIGNERS = (
    sa.select(
        senders.c.tenant_id,
        senders.c.phone_number,
        provider_accounts.c.external_id,
        provider_accounts.c.secret_sealed,
    )
    .select_from(senders)
    .join(provider_accounts, provider_accounts.c.tenant_id == senders.c.tenant_id)
    .where(provider_accounts.c.provider == ProviderName.TWILIO.value)
    # Oldest sender first: the tenant an inbound message for a shared number goes to.
    .order_by(senders.c.created_at, senders.c.id, provider_accounts.c.created_at, provider_accounts.c.id)
)
_META_APPS = sa.select(
    provider_accounts.c.tenant_id,
    provider_accounts.c.id,
    provider_accounts.c.external_id,
    provider_accounts.c.second_secret_sealed,
    provider_accounts.c.verify_token_sealed,
).where(provider_accounts.c.provider == ProviderName.META.value)
# Every Meta sender with a phone-number id, and (below) the one with a given id.
_META_NUMBERS = (
    sa.select(
        senders.c.tenant_id,
        senders.c.phone_number,
        senders.c.provider_number_id,
        provider_accounts.c.external_id,
        provider_accounts.c.second_secret_sealed,
        provider_accounts.c.verify_token_sealed,
    )
    .select_from(senders)
    .join(provider_accounts, provider_accounts.c.id == senders.c.account_id)
    .where(provider_accounts.c.provider == ProviderName.META.value, senders.c.provider_number_id.is_not(None))
)
_META_NUMBER = _META_NUMBERS.where(senders.c.provider_number_id == sa.bindparam("provider_number_id"))


class SqlAlchemyProviderAccountRepository(SqlAlchemyRepository):
    def __init__(self, transaction: Transaction) -> None:
        super().__init__(transaction)
        self._secret_box = transaction.secret_box

    async def add(self, account: ProviderAccount) -> None:
        await self._scope.bind(account.tenant_id)
        await self._execute(
            sa.insert(provider_accounts).values(
                id=account.id,
                created_at=account.created_at,
                # bookkeeping for operators, not a domain fact: the adapter's own clock is good enough
                updated_at=datetime.now(UTC),
                **account_columns(self._secret_box, account),
            )
        )

    async def get(self, tenant_id: UUID, account_id: UUID) -> ProviderAccount | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(provider_accounts).where(
                provider_accounts.c.tenant_id == tenant_id, provider_accounts.c.id == account_id
            )
        )
        return open_account(self._secret_box, row) if row else None

    async def list_for_tenant(self, tenant_id: UUID) -> list[ProviderAccount]:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(provider_accounts)
            .where(provider_accounts.c.tenant_id == tenant_id)
            .order_by(provider_accounts.c.created_at, provider_accounts.c.id)
        )
        return [open_account(self._secret_box, row) for row in result.mappings()]

    async def first_of(self, tenant_id: UUID, provider: ProviderName) -> ProviderAccount | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(provider_accounts)
            .where(provider_accounts.c.tenant_id == tenant_id, provider_accounts.c.provider == provider.value)
            .order_by(provider_accounts.c.created_at, provider_accounts.c.id)
            .limit(1)
        )
        return open_account(self._secret_box, row) if row else None

    async def update(self, account: ProviderAccount) -> None:
        await self._scope.bind(account.tenant_id)
        result = await self._execute(
            sa.update(provider_accounts)
            .where(provider_accounts.c.tenant_id == account.tenant_id, provider_accounts.c.id == account.id)
            .values(updated_at=datetime.now(UTC), **account_columns(self._secret_box, account))
        )
        if result.rowcount == 0:
            raise NotFound(_ACCOUNT_MISSING)

    async def remove(self, tenant_id: UUID, account_id: UUID) -> bool:
        await self._scope.bind(tenant_id)
        users = senders.c.account_id == account_id
        if await self._is_twilio_tenants_own_twilio_account(tenant_id, account_id):
            users = sa.or_(users, senders.c.account_id.is_(None))  # they send through it too
        in_use = await self._execute(
            sa.select(sa.func.count()).select_from(senders).where(senders.c.tenant_id == tenant_id, users)
        )
        if in_use.scalar_one():
            raise AccountInUse("senders send through this account: move or remove them first")
        result = await self._execute(
            sa.delete(provider_accounts).where(
                provider_accounts.c.tenant_id == tenant_id, provider_accounts.c.id == account_id
            )
        )
        return result.rowcount == 1

    async def _is_twilio_tenants_own_twilio_account(self, tenant_id: UUID, account_id: UUID) -> bool:
        """Whether the account is the one a Twilio tenant's senders without an account send through."""
        provider = await self._execute(sa.select(tenants.c.provider).where(tenants.c.id == tenant_id))
        if provider.scalar_one_or_none() != ProviderName.TWILIO.value:
            return False
        first = await self._execute(
            sa.select(provider_accounts.c.id)
            .where(
                provider_accounts.c.tenant_id == tenant_id,
                provider_accounts.c.provider == ProviderName.TWILIO.value,
            )
            .order_by(provider_accounts.c.created_at, provider_accounts.c.id)
            .limit(1)
        )
        return first.scalar_one_or_none() == account_id

    async def of_sender(self, sender: Sender) -> ProviderAccount | None:
        await self._scope.bind(sender.tenant_id)
        row = await self._one_or_none(
            sa.select(provider_accounts)
            .select_from(senders)
            .join(provider_accounts, provider_accounts.c.id == _SENDER_ACCOUNT)
            .where(senders.c.tenant_id == sender.tenant_id, senders.c.id == sender.id)
        )
        return open_account(self._secret_box, row) if row else None

    async def reseal(self) -> int:
        """Open every sealed secret with whichever key sealed it and seal it again with the newest key."""
        await self._scope.cross_tenant()
        result = await self._execute(sa.select(provider_accounts))
        resealed = 0
        for row in result.mappings().all():
            changes = resealed_columns(
                self._secret_box, row, SEALED_ACCOUNT_COLUMNS, credentials_owner(row["tenant_id"])
            )
            if changes:
                await self._execute(
                    sa.update(provider_accounts).where(provider_accounts.c.id == row["id"]).values(**changes)
                )
                resealed += 1
        return resealed

    async def twilio_signers(self) -> list[TwilioSigner]:
        await self._scope.cross_tenant()
        result = await self._execute(_TWILIO_SIGNERS)
        signers: list[TwilioSigner] = []
        unreadable: set[UUID] = set()
        for row in result.mappings():
            tenant_id = row["tenant_id"]
            try:
                auth_token = self._secret_box.open(row["secret_sealed"], credentials_owner(tenant_id))
            except SecretDecryptionError:
                unreadable.add(tenant_id)
                continue
            signers.append(
                TwilioSigner(
                    tenant_id=tenant_id,
                    phone_number=PhoneNumber(row["phone_number"]),
                    account_sid=row["external_id"],
                    auth_token=auth_token,
                )
            )
        _log_unreadable(unreadable, "Twilio")
        return signers

    async def meta_apps(self) -> list[MetaApp]:
        await self._scope.cross_tenant()
        result = await self._execute(_META_APPS)
        apps: list[MetaApp] = []
        unreadable: set[UUID] = set()
        for row in result.mappings():
            tenant_id = row["tenant_id"]
            owner = credentials_owner(tenant_id)
            try:
                app_secret = self._secret_box.open(row["second_secret_sealed"], owner)
                verify_token = self._secret_box.open(row["verify_token_sealed"], owner)
            except SecretDecryptionError:
                unreadable.add(tenant_id)
                continue
            apps.append(
                MetaApp(
                    tenant_id=tenant_id,
                    account_id=row["id"],
                    app_secret=app_secret,
                    verify_token=verify_token,
                    business_account_id=row["external_id"],
                )
            )
        _log_unreadable(unreadable, "Meta")
        return apps

    async def meta_number(self, provider_number_id: str) -> MetaNumber | None:
        await self._scope.cross_tenant()
        row = await self._one_or_none(_META_NUMBER, {"provider_number_id": provider_number_id})
        if row is None:
            return None
        try:
            return self._meta_number(row)
        except SecretDecryptionError as error:
            raise CredentialsUnreadable() from error

    async def meta_numbers(self) -> list[MetaNumber]:
        await self._scope.cross_tenant()
        result = await self._execute(_META_NUMBERS)
        numbers: list[MetaNumber] = []
        unreadable: set[UUID] = set()
        for row in result.mappings():
            try:
                numbers.append(self._meta_number(row))
            except SecretDecryptionError:
                unreadable.add(row["tenant_id"])
        _log_unreadable(unreadable, "Meta")
        return numbers

    def _meta_number(self, row: RowMapping) -> MetaNumber:
        owner = credentials_owner(row["tenant_id"])
        return MetaNumber(
            tenant_id=row["tenant_id"],
            provider_number_id=row["provider_number_id"],
            phone_number=PhoneNumber(row["phone_number"]),
            business_account_id=row["external_id"],
            app_secret=self._secret_box.open(row["second_secret_sealed"], owner),
            verify_token=self._secret_box.open(row["verify_token_sealed"], owner),
        )


def _log_unreadable(tenant_ids: set[UUID], provider: str) -> None:
    for tenant_id in tenant_ids:
        logger.error("tenant %s: stored %s credentials do not open", tenant_id, provider)
