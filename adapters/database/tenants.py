"""Tenants and their provider credentials (sealed at rest) on SQLAlchemy Core."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa

from adapters.database.repository import TENANT_MISSING, SqlAlchemyRepository, Transaction
from adapters.database.rows import tenant_from_row
from adapters.database.sealed_secrets import credentials_owner, open_credentials, resealed_columns
from adapters.database.statements import CREDENTIALS_OF_TENANT, TENANT_BY_ID, upsert_for
from adapters.database.tables import senders, tenant_credentials, tenants
from adapters.security.secret_box import SecretDecryptionError
from application.errors import NotFound
from application.ports.tenancy import TwilioSigner
from domain.administration.tenancy import Tenant, TwilioCredentials
from domain.phone import PhoneNumber

logger = logging.getLogger(__name__)

# Built once, as those of statements.py are.
_TWILIO_SIGNERS = sa.select(
    senders.c.tenant_id,
    senders.c.phone_number,
    tenant_credentials.c.account_sid,
    tenant_credentials.c.auth_token_sealed,
).join(tenant_credentials, tenant_credentials.c.tenant_id == senders.c.tenant_id)


class SqlAlchemyTenantRepository(SqlAlchemyRepository):
    def __init__(self, transaction: Transaction) -> None:
        super().__init__(transaction)
        self._secret_box = transaction.secret_box

    async def add(self, tenant: Tenant) -> None:
        await self._execute(
            sa.insert(tenants).values(
                id=tenant.id,
                name=tenant.name,
                provider=tenant.provider.value,
                status=tenant.status.value,
                session_window_check=tenant.session_window_check,
                sends_per_minute=tenant.sends_per_minute,
                sends_per_day=tenant.sends_per_day,
                created_at=tenant.created_at,
            ),
            conflict=f"a tenant named {tenant.name!r} exists already",
        )

    async def get(self, tenant_id: UUID) -> Tenant | None:
        row = await self._one_or_none(TENANT_BY_ID, {"tenant_id": tenant_id})
        return tenant_from_row(row) if row else None

    async def get_by_name(self, name: str) -> Tenant | None:
        row = await self._one_or_none(sa.select(tenants).where(tenants.c.name == name))
        return tenant_from_row(row) if row else None

    async def count(self) -> int:
        result = await self._execute(sa.select(sa.func.count()).select_from(tenants))
        return int(result.scalar_one())

    async def update(self, tenant: Tenant) -> None:
        result = await self._execute(
            sa.update(tenants)
            .where(tenants.c.id == tenant.id)
            .values(
                name=tenant.name,
                provider=tenant.provider.value,
                status=tenant.status.value,
                session_window_check=tenant.session_window_check,
                sends_per_minute=tenant.sends_per_minute,
                sends_per_day=tenant.sends_per_day,
            ),
            conflict=f"a tenant named {tenant.name!r} exists already",
        )
        if result.rowcount == 0:
            raise NotFound(TENANT_MISSING)

    async def list_page(self, limit: int, after_name: str | None = None) -> list[Tenant]:
        statement = sa.select(tenants)
        if after_name is not None:
            statement = statement.where(tenants.c.name > after_name)
        result = await self._execute(statement.order_by(tenants.c.name).limit(limit))
        return [tenant_from_row(row) for row in result.mappings()]

    async def set_twilio_credentials(self, tenant_id: UUID, credentials: TwilioCredentials) -> None:
        await self._scope.bind(tenant_id)
        owner = credentials_owner(tenant_id)
        values = {
            "tenant_id": tenant_id,
            "account_sid": credentials.account_sid,
            "auth_token_sealed": self._secret_box.seal(credentials.auth_token, owner),
            "api_key_sid": credentials.api_key_sid,
            "api_key_secret_sealed": (
                self._secret_box.seal(credentials.api_key_secret, owner)
                if credentials.api_key_secret
                else None
            ),
            # bookkeeping for operators, not a domain fact: the adapter's own clock is good enough
            "updated_at": datetime.now(UTC),
        }
        insert = upsert_for(self._connection.dialect.name)
        statement = insert(tenant_credentials).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[tenant_credentials.c.tenant_id],
            set_={name: statement.excluded[name] for name in values if name != "tenant_id"},
        )
        await self._execute(statement)

    async def get_twilio_credentials(self, tenant_id: UUID) -> TwilioCredentials | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(CREDENTIALS_OF_TENANT, {"tenant_id": tenant_id})
        return open_credentials(self._secret_box, row) if row else None

    async def twilio_signers(self) -> list[TwilioSigner]:
        await self._scope.cross_tenant()
        result = await self._execute(_TWILIO_SIGNERS)
        signers: list[TwilioSigner] = []
        unreadable: set[UUID] = set()
        for row in result.mappings():
            tenant_id = row["tenant_id"]
            try:
                auth_token = self._secret_box.open(row["auth_token_sealed"], credentials_owner(tenant_id))
            except SecretDecryptionError:
                unreadable.add(tenant_id)
                continue
            signers.append(
                TwilioSigner(
                    tenant_id=tenant_id,
                    phone_number=PhoneNumber(row["phone_number"]),
                    account_sid=row["account_sid"],
                    auth_token=auth_token,
                )
            )
        for tenant_id in unreadable:
            logger.error("tenant %s: stored Twilio credentials do not open", tenant_id)
        return signers

    async def reseal_credentials(self) -> int:
        """Open every sealed secret with whichever key sealed it and seal it again with the newest key."""
        await self._scope.cross_tenant()
        result = await self._execute(sa.select(tenant_credentials))
        resealed = 0
        for row in result.mappings().all():
            changes = resealed_columns(
                self._secret_box,
                row,
                ("auth_token_sealed", "api_key_secret_sealed"),
                credentials_owner(row["tenant_id"]),
            )
            if changes:
                await self._execute(
                    sa.update(tenant_credentials)
                    .where(tenant_credentials.c.tenant_id == row["tenant_id"])
                    .values(**changes)
                )
                resealed += 1
        return resealed
