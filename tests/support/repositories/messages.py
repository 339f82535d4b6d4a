"""Tenants and messages, as the repository contract tests write them (contract/test_repositories.py, and the
tests that build on it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID, uuid4

from domain.administration.tenancy import ProviderName, Tenant
from domain.messaging.messages import Direction, Message, MessageContent, MessageStatus
from domain.phone import PhoneNumber
from tests.support.databases import UowFactory
from tests.support.repositories import OUR_NUMBER, T0

ALICE = PhoneNumber.parse("+4915112345678")


async def add_tenant(uow_factory: UowFactory, name: str | None = None) -> Tenant:
    tenant = Tenant(name=name or f"tenant {uuid4().hex[:8]}", provider=ProviderName.TWILIO, created_at=T0)
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    return tenant


def outbound(
    tenant: Tenant,
    *,
    at: datetime = T0,
    contact: PhoneNumber = ALICE,
    body: str = "hello",
    message_id: UUID | None = None,
) -> Message:
    message = Message.new_outbound(
        tenant_id=tenant.id, sender=OUR_NUMBER, contact=contact, content=MessageContent(body=body), now=at
    )
    return replace(message, id=message_id) if message_id else message


def inbound(tenant: Tenant, *, at: datetime = T0, contact: PhoneNumber = ALICE) -> Message:
    return Message(
        tenant_id=tenant.id,
        direction=Direction.INBOUND,
        sender=OUR_NUMBER,
        contact=contact,
        content=MessageContent(body="hi there"),
        status=MessageStatus.RECEIVED,
        created_at=at,
        updated_at=at,
        provider_sid=f"SM{uuid4().hex}",
    )


async def add_messages(uow_factory: UowFactory, *messages: Message) -> None:
    async with uow_factory() as uow:
        for message in messages:
            await uow.messages.add(message)
        await uow.commit()
