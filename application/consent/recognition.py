"""A customer's message that says STOP (or START), recognised in the transaction that stores it.

The change is ledgered with the message as its evidence. When it changes the person's state it raises
``consent.changed`` for the tenant's webhooks and, if the tenant's policy has one, queues the
confirmation reply as an ordinary outbound message (the customer just wrote: their window is open).
A repeated STOP is ledgered, and sends no event and no second confirmation.
"""

from __future__ import annotations

from datetime import datetime

from application.ports.dispatch_queue import DispatchJob
from application.ports.unit_of_work import UnitOfWork
from application.tenant_webhooks.events import record_consent_changed
from domain.consent.model import CONTACT_ACTOR, ConsentChange, ConsentPolicy, may_say_consent
from domain.messaging.messages import Message, MessageContent


async def recognise_consent(uow: UnitOfWork, message: Message, now: datetime) -> ConsentChange | None:
    """Inside the transaction that stored the inbound ``message``: the change it makes, if it says one."""
    if not may_say_consent(message.content):
        return None
    policy = await uow.consent.policy(message.tenant_id) or ConsentPolicy(tenant_id=message.tenant_id)
    recognised = policy.recognise(message.content)
    if recognised is None:
        return None
    state, source = recognised
    change = await uow.consent.record(
        ConsentChange(
            tenant_id=message.tenant_id,
            identity=message.contact.identity,
            number=message.contact.e164,
            state=state,
            source=source,
            actor=CONTACT_ACTOR,
            at=now,
            evidence_message_id=message.id,
        )
    )
    if not change.changed:
        return change
    await record_consent_changed(uow, change, now)
    reply = policy.reply_for(state)
    if reply is not None:
        confirmation = Message.new_outbound(
            tenant_id=message.tenant_id,
            sender=message.sender,
            contact=message.contact,
            content=MessageContent(body=reply),
            now=now,
        )
        await uow.acceptance.add(confirmation, DispatchJob.due_now(confirmation, now), None)
    return change
