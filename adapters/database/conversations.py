"""Conversations on SQLAlchemy Core: one per tenant and customer, moved forward by each message."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from adapters.database.repository import SqlAlchemyRepository
from adapters.database.rows import conversation_values
from adapters.database.statements import conversation_upsert
from adapters.database.tables import UtcDateTime, conversations
from application.ports.messages import ConversationQuery
from domain.messaging.conversations import Conversation
from domain.messaging.messages import Direction, Message
from domain.phone import PhoneNumber


class SqlAlchemyConversationRepository(SqlAlchemyRepository):
    async def record_message(self, message: Message) -> None:
        """One upsert: create the conversation, or move it forward if ``message`` is newer than its last."""
        await self._scope.bind(message.tenant_id)
        statement = conversation_upsert(conversation_values(message), self._connection.dialect.name)
        await self._execute(statement)

    async def get(self, tenant_id: UUID, contact: PhoneNumber) -> Conversation | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(conversations).where(
                conversations.c.tenant_id == tenant_id,
                conversations.c.contact_identity == contact.identity,
            )
        )
        return _conversation_from_row(row) if row else None

    async def get_by_id(self, tenant_id: UUID, conversation_id: UUID) -> Conversation | None:
        await self._scope.bind(tenant_id)
        row = await self._one_or_none(
            sa.select(conversations).where(
                conversations.c.tenant_id == tenant_id, conversations.c.id == conversation_id
            )
        )
        return _conversation_from_row(row) if row else None

    async def mark_seen(self, tenant_id: UUID, conversation_id: UUID) -> bool:
        await self._scope.bind(tenant_id)
        result = await self._execute(
            sa.update(conversations)
            .where(conversations.c.tenant_id == tenant_id, conversations.c.id == conversation_id)
            .values(unread_count=0)
        )
        return bool(result.rowcount)

    async def list_page(self, query: ConversationQuery) -> list[Conversation]:
        await self._scope.bind(query.tenant_id)
        statement = sa.select(conversations).where(conversations.c.tenant_id == query.tenant_id)
        if query.after is not None:
            statement = statement.where(
                sa.tuple_(conversations.c.last_message_at, conversations.c.id)
                < sa.tuple_(
                    sa.literal(query.after.last_message_at, UtcDateTime()),
                    sa.literal(query.after.conversation_id, sa.Uuid()),
                )
            )
        statement = statement.order_by(
            conversations.c.last_message_at.desc(), conversations.c.id.desc()
        ).limit(query.limit)
        result = await self._execute(statement)
        return [_conversation_from_row(row) for row in result.mappings()]


def _conversation_from_row(row: RowMapping) -> Conversation:
    return Conversation(
        id=row["id"],
        tenant_id=row["tenant_id"],
        contact=PhoneNumber(row["contact_number"]),
        sender=PhoneNumber(row["sender_number"]),
        last_message_id=row["last_message_id"],
        last_message_at=row["last_message_at"],
        last_direction=Direction(row["last_direction"]),
        last_message_preview=row["last_message_preview"],
        last_inbound_at=row["last_inbound_at"],
        profile_name=row["profile_name"],
        created_at=row["created_at"],
        unread_count=row["unread_count"],
    )
