"""Accepted messages with their dispatch jobs, claims, and idempotency keys held as sending holds them,
as the dispatch queue's tests write them (contract/test_dispatch_queue.py, and the tests that build on
it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from application.ports.dispatch_queue import DispatchJob
from application.ports.messages import IdempotencyRecord
from application.ports.unit_of_work import UnitOfWork
from domain.administration.tenancy import ProviderName, Sender, Tenant
from domain.messaging.messages import Message, MessageContent
from domain.phone import PhoneNumber
from tests.support.databases import UowFactory
from tests.support.repositories import OUR_NUMBER, T0

CONTACT = PhoneNumber.parse("+4915112345678")


async def tenant_with_sender(uow_factory: UowFactory, *, numbers: tuple[PhoneNumber, ...] = ()) -> Tenant:
    tenant = Tenant(name=f"tenant {uuid4().hex[:8]}", provider=ProviderName.SANDBOX, created_at=T0)
    async with uow_factory() as uow:
        await uow.tenants.add(tenant)
        for number in (OUR_NUMBER, *numbers):
            await uow.senders.add(
                Sender(
                    tenant_id=tenant.id, phone_number=number, created_at=T0, is_default=number == OUR_NUMBER
                )
            )
        await uow.commit()
    return tenant


async def accepted_with_job(
    uow_factory: UowFactory, tenant: Tenant, *, due: datetime = T0, sender: PhoneNumber = OUR_NUMBER
) -> Message:
    message = Message.new_outbound(
        tenant_id=tenant.id, sender=sender, contact=CONTACT, content=MessageContent(body="hi"), now=T0
    )
    async with uow_factory() as uow:
        await uow.messages.add(message)
        await uow.jobs.enqueue(
            DispatchJob(
                message_id=message.id, tenant_id=tenant.id, sender=sender, available_at=due, created_at=T0
            )
        )
        await uow.commit()
    return message


async def claim(
    uow_factory: UowFactory,
    owner: str,
    now: datetime,
    limit: int = 10,
    *,
    skip_senders: tuple[PhoneNumber, ...] = (),
    skip_tenants: tuple[UUID, ...] = (),
) -> list[DispatchJob]:
    async with uow_factory() as uow:
        jobs = await uow.jobs.claim_due(
            owner=owner,
            now=now,
            lease_seconds=30,
            limit=limit,
            skip_senders=skip_senders,
            skip_tenants=skip_tenants,
        )
        await uow.commit()
    return jobs


def key_record(
    tenant: Tenant, key: str, *, at: datetime = T0, fingerprint: str = "f" * 64
) -> IdempotencyRecord:
    return IdempotencyRecord(
        tenant_id=tenant.id,
        key=key,
        request_fingerprint=fingerprint,
        created_at=at,
        expires_at=at + timedelta(hours=24),
    )


async def accept_holding(uow: UnitOfWork, record: IdempotencyRecord) -> Message:
    """Accept a message that holds ``record``'s key, as sending one does: the way a key is held."""
    message = Message.new_outbound(
        tenant_id=record.tenant_id,
        sender=OUR_NUMBER,
        contact=CONTACT,
        content=MessageContent(body="hi"),
        now=record.created_at,
    )
    held = replace(record, message_id=message.id)
    await uow.acceptance.add(message, DispatchJob.due_now(message, record.created_at), held)
    return message
