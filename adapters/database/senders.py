"""A tenant's sending numbers on SQLAlchemy Core."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.rows import sender_from_row
from adapters.database.tables import senders
from application.errors import AlreadyExists, TransactionConflict
from domain.administration.tenancy import Sender
from domain.phone import PhoneNumber


class SqlAlchemySenderRepository(SqlAlchemyRepository):
    async def add(self, sender: Sender) -> None:
        await self._scope.bind(sender.tenant_id)
        await self._execute(
            sa.insert(senders).values(
                id=sender.id,
                tenant_id=sender.tenant_id,
                phone_number=sender.phone_number.e164,
                is_default=sender.is_default,
                label=sender.label,
                created_at=sender.created_at,
                account_id=sender.account_id,
                provider_number_id=sender.provider_number_id,
            ),
            conflict=(
                f"{sender.phone_number} is already a sender of this tenant, or its phone number id is "
                "another sender's"
            ),
        )

    async def get_default(self, tenant_id: UUID) -> Sender | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(senders).where(senders.c.tenant_id == tenant_id, senders.c.is_default.is_(True))
        )
        return sender_from_row(row) if row else None

    async def get_by_number(self, tenant_id: UUID, phone_number: PhoneNumber) -> Sender | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(senders)
            .where(senders.c.tenant_id == tenant_id, senders.c.phone_number.in_(phone_number.forms))
            # Two forms added at once get past the use case's check (see AddSender): the oldest counts.
            .order_by(senders.c.created_at)
            .limit(1)
        )
        return sender_from_row(row) if row else None

    async def pause(
        self, tenant_id: UUID, phone_number: PhoneNumber, until: datetime, *, now: datetime | None = None
    ) -> bool:
        await self._scope.bind(tenant_id)
        statement = sa.update(senders).where(
            senders.c.tenant_id == tenant_id, senders.c.phone_number == phone_number.e164
        )
        if now is not None:
            statement = statement.where(
                sa.or_(senders.c.paused_until.is_(None), senders.c.paused_until <= now)
            )
        result = await self._execute(statement.values(paused_until=until), signers_unchanged=True)
        return result.rowcount == 1

    async def find_all_by_number(self, phone_number: PhoneNumber) -> list[Sender]:
        await self._scope.cross_tenant()
        result = await self._execute(
            sa.select(senders)
            .where(senders.c.phone_number.in_(phone_number.forms))
            .order_by(senders.c.created_at)
        )
        return [sender_from_row(row) for row in result.mappings()]

    async def list_for_tenant(self, tenant_id: UUID) -> list[Sender]:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.select(senders)
            .where(senders.c.tenant_id == tenant_id)
            .order_by(senders.c.created_at, senders.c.phone_number)
        )
        return [sender_from_row(row) for row in result.mappings()]

    async def get(self, tenant_id: UUID, sender_id: UUID) -> Sender | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(senders).where(senders.c.tenant_id == tenant_id, senders.c.id == sender_id)
        )
        return sender_from_row(row) if row else None

    async def update_label(self, tenant_id: UUID, sender_id: UUID, label: str) -> None:
        await self._scope.bind(tenant_id)
        await self._execute(
            sa.update(senders)
            .where(senders.c.tenant_id == tenant_id, senders.c.id == sender_id)
            .values(label=label),
            signers_unchanged=True,
        )

    async def move(
        self, tenant_id: UUID, sender_id: UUID, account_id: UUID | None, provider_number_id: str | None
    ) -> None:
        await self._scope.bind(tenant_id)
        await self._execute(
            sa.update(senders)
            .where(senders.c.tenant_id == tenant_id, senders.c.id == sender_id)
            .values(account_id=account_id, provider_number_id=provider_number_id),
            conflict="this phone number id is another sender's",
        )

    async def make_default(self, tenant_id: UUID, sender_id: UUID) -> None:
        await self._scope.bind(tenant_id)
        # The old default first: the partial unique index allows one default per tenant at any moment.
        await self._execute(
            sa.update(senders)
            .where(
                senders.c.tenant_id == tenant_id, senders.c.is_default.is_(True), senders.c.id != sender_id
            )
            .values(is_default=False),
        )
        try:
            await self._execute(
                sa.update(senders)
                .where(senders.c.tenant_id == tenant_id, senders.c.id == sender_id)
                .values(is_default=True),
            )
        except AlreadyExists as error:
            # Only the one-default index can refuse this row: another transaction made another sender
            # the default after the first UPDATE looked (read committed), and committed first.
            raise TransactionConflict() from error

    async def remove(self, tenant_id: UUID, sender_id: UUID) -> bool:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.delete(senders).where(senders.c.tenant_id == tenant_id, senders.c.id == sender_id)
        )
        return result.rowcount == 1
