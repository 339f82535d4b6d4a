"""The repository contract of retention and a person's data: the policies, the bounded batches that
redact or delete what outlived them, and erasing and exporting one person's records in every form of
their number, on the fakes, SQLite and PostgreSQL alike (see conftest.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from application.ports.campaigns import RecipientQuery
from application.ports.consent import LedgerQuery
from application.ports.dispatch_queue import DispatchJob
from application.ports.media import KeptMedia
from application.ports.messages import HistoryQuery, StatusChange
from application.transactions import ConflictRetry
from domain.administration.tenancy import Tenant
from domain.consent.model import ConsentChange, ConsentSource, ConsentState
from domain.contacts.contact import Contact, ContactDetails
from domain.messaging.messages import Message, MessageStatus
from domain.messaging.retention import RemovedData, RetentionMode, RetentionPolicy
from domain.phone import PhoneNumber
from tests.support.databases import UowFactory
from tests.support.repositories import T0
from tests.support.repositories.campaigns import a_campaign, add_campaign, add_people, person
from tests.support.repositories.dispatch import tenant_with_sender
from tests.support.repositories.messages import inbound, outbound

NOW = T0 + timedelta(days=100)
OLD = T0  # 100 days before NOW: past a 30-day horizon
RECENT = NOW - timedelta(days=5)
# One Mexican person, in the two forms WhatsApp writes their number in.
ROSA_NATIONAL = PhoneNumber.parse("+525512345678")
ROSA_WHATSAPP = PhoneNumber.parse("+5215512345678")
BRUNO = PhoneNumber.parse("+4915112345678")


def policy(tenant: Tenant, mode: RetentionMode = RetentionMode.REDACT, days: int = 30) -> RetentionPolicy:
    return RetentionPolicy(tenant_id=tenant.id, days=days, mode=mode, updated_at=T0)


async def delivered(
    uow_factory: UowFactory, tenant: Tenant, *, at: datetime = OLD, contact: PhoneNumber = BRUNO
) -> Message:
    """An outbound message its provider took, then reported read: two status events, a conversation,
    and a dispatch job left over."""
    message = replace(
        outbound(tenant, at=at, contact=contact, body="your order shipped"),
        status=MessageStatus.SENT,
        provider_sid=f"SM{uuid4().hex}",
    )
    async with uow_factory() as uow:
        await uow.messages.add(message)
        await uow.conversations.record_message(message)
        await uow.jobs.enqueue(DispatchJob.due_now(message, at))
        await uow.commit()
    async with uow_factory() as uow:
        assert message.provider_sid is not None
        await uow.messages.advance_status(StatusChange(message.provider_sid, MessageStatus.DELIVERED), at)
        await uow.messages.advance_status(StatusChange(message.provider_sid, MessageStatus.READ), at)
        await uow.commit()
    return message


async def received_with_media(
    uow_factory: UowFactory, tenant: Tenant, *, at: datetime = OLD, contact: PhoneNumber = BRUNO
) -> tuple[Message, KeptMedia]:
    message = inbound(tenant, at=at, contact=contact)
    kept = KeptMedia(
        id=uuid4(),
        tenant_id=tenant.id,
        message_id=message.id,
        content_type="image/jpeg",
        size=1024,
        sha256="ab" * 32,
        created_at=at,
    )
    async with uow_factory() as uow:
        await uow.messages.add(message)
        await uow.conversations.record_message(message)
        await uow.media.add(kept)
        await uow.commit()
    return message, kept


async def queued(uow_factory: UowFactory, tenant: Tenant, *, at: datetime = OLD) -> Message:
    message = outbound(tenant, at=at)
    async with uow_factory() as uow:
        await uow.messages.add(message)
        await uow.commit()
    return message


async def redact(uow_factory: UowFactory, rule: RetentionPolicy, limit: int = 100) -> dict[str, int]:
    async with uow_factory() as uow:
        batch = await uow.retention.redact_expired(rule, NOW, limit)
        await uow.commit()
    return batch.counts


async def delete(uow_factory: UowFactory, rule: RetentionPolicy, limit: int = 100) -> dict[str, int]:
    async with uow_factory() as uow:
        batch = await uow.retention.delete_expired(rule, NOW, limit)
        await uow.commit()
    return batch.counts


async def with_contact_and_consent(
    uow_factory: UowFactory, tenant: Tenant, number: PhoneNumber, *states: ConsentState
) -> Contact:
    """The person in the tenant's contacts, and the changes of their consent ``states``, in order (the
    last is their state)."""
    contact = Contact.new(
        tenant.id, number, ContactDetails(name="Rosa", tags=frozenset({"vip"}), notes="calls mornings"), OLD
    )
    async with uow_factory() as uow:
        await uow.contacts.add(contact)
        for minutes, state in enumerate(states):
            await uow.consent.record(
                ConsentChange(
                    tenant_id=tenant.id,
                    identity=number.identity,
                    number=number.e164,
                    state=state,
                    source=ConsentSource.KEYWORD,
                    actor="contact",
                    at=OLD + timedelta(minutes=minutes),
                    evidence_message_id=uuid4(),
                    note="said it twice",
                )
            )
        await uow.commit()
    return contact


async def erase(uow_factory: UowFactory, tenant: Tenant, number: PhoneNumber) -> RemovedData:
    async with uow_factory() as uow:
        removed = await uow.contact_data.erase(tenant.id, number)
        await uow.commit()
    return removed


async def ledger_of(uow_factory: UowFactory, tenant: Tenant, number: PhoneNumber) -> list[ConsentChange]:
    async with uow_factory() as uow:
        return await uow.consent.ledger_page(
            LedgerQuery(tenant_id=tenant.id, limit=100, identity=number.identity)
        )


async def message(uow_factory: UowFactory, original: Message) -> Message | None:
    async with uow_factory() as uow:
        return await uow.messages.get(original.tenant_id, original.id)


# ------------------------------------------------------------------------------------------ policies


async def test_a_tenant_without_a_policy_keeps_everything_and_one_set_is_read_back(
    uow_factory: UowFactory,
) -> None:
    acme, globex = await tenant_with_sender(uow_factory), await tenant_with_sender(uow_factory)
    async with uow_factory() as uow:
        assert await uow.retention.get_policy(acme.id) is None
        await uow.retention.save_policy(policy(acme, days=90))
        await uow.retention.save_policy(policy(acme, RetentionMode.DELETE, days=30))
        await uow.retention.save_policy(policy(globex))
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.retention.get_policy(acme.id) == policy(acme, RetentionMode.DELETE, days=30)
        assert {p.tenant_id for p in await uow.retention.policies()} >= {acme.id, globex.id}
        assert await uow.retention.remove_policy(acme.id) is True
        assert await uow.retention.remove_policy(acme.id) is False
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.retention.get_policy(acme.id) is None
        assert await uow.retention.get_policy(globex.id) == policy(globex)


# ------------------------------------------------------------------------------------------- redaction


async def test_redaction_empties_old_settled_messages_and_keeps_their_metadata(
    uow_factory: UowFactory,
) -> None:
    acme = await tenant_with_sender(uow_factory)
    sent = await delivered(uow_factory, acme)
    photo, kept = await received_with_media(uow_factory, acme, contact=ROSA_WHATSAPP)

    counts = await redact(uow_factory, policy(acme))

    assert counts == {"messages": 2, "media": 1}
    redacted = await message(uow_factory, sent)
    assert redacted is not None
    assert redacted.content.body == ""
    assert redacted.content.redacted
    assert redacted.redacted_at == NOW
    assert (redacted.status, redacted.contact, redacted.created_at) == (MessageStatus.READ, BRUNO, OLD)
    async with uow_factory() as uow:
        assert [e.status for e in await uow.messages.list_status_events(acme.id, sent.id)] == [
            MessageStatus.DELIVERED,
            MessageStatus.READ,
        ]
        assert await uow.media.get(acme.id, kept.id) is None
        page = await uow.messages.list_views(HistoryQuery(tenant_id=acme.id, limit=10))
        assert {(view.id, view.body, view.redacted_at) for view in page} == {
            (sent.id, "", NOW),
            (photo.id, "", NOW),
        }
        conversation = await uow.conversations.get(acme.id, ROSA_NATIONAL)
        assert conversation is not None
        assert conversation.last_message_preview == ""


async def test_redaction_leaves_recent_and_unsettled_messages_and_other_tenants_alone(
    uow_factory: UowFactory,
) -> None:
    acme, globex = await tenant_with_sender(uow_factory), await tenant_with_sender(uow_factory)
    recent = await delivered(uow_factory, acme, at=RECENT)
    still_queued = await queued(uow_factory, acme)
    elsewhere = await delivered(uow_factory, globex)

    assert await redact(uow_factory, policy(acme)) == {}

    for untouched in (recent, still_queued, elsewhere):
        stored = await message(uow_factory, untouched)
        assert stored is not None
        assert stored.content.body == untouched.content.body
        assert stored.redacted_at is None


async def test_a_redaction_batch_takes_at_most_its_limit_oldest_first_and_a_second_run_changes_nothing(
    uow_factory: UowFactory,
) -> None:
    acme = await tenant_with_sender(uow_factory)
    messages = [await delivered(uow_factory, acme, at=OLD + timedelta(minutes=i)) for i in range(3)]

    assert await redact(uow_factory, policy(acme), limit=2) == {"messages": 2, "media": 0}
    assert [(await message(uow_factory, m)).redacted_at for m in messages] == [NOW, NOW, None]  # type: ignore[union-attr]
    assert await redact(uow_factory, policy(acme), limit=2) == {"messages": 1, "media": 0}
    assert await redact(uow_factory, policy(acme), limit=2) == {}


# -------------------------------------------------------------------------------------------- deletion


async def test_deletion_removes_old_settled_messages_with_everything_attached(
    uow_factory: UowFactory,
) -> None:
    acme = await tenant_with_sender(uow_factory)
    sent = await delivered(uow_factory, acme)
    photo, kept = await received_with_media(uow_factory, acme)
    recent = await delivered(uow_factory, acme, at=RECENT)
    still_queued = await queued(uow_factory, acme)

    counts = await delete(uow_factory, policy(acme, RetentionMode.DELETE))

    assert counts == {"messages": 2, "status_events": 2, "dispatch_jobs": 1, "media": 1}
    assert await message(uow_factory, sent) is None
    assert await message(uow_factory, photo) is None
    assert await message(uow_factory, recent) is not None
    assert await message(uow_factory, still_queued) is not None
    async with uow_factory() as uow:
        assert await uow.messages.list_status_events(acme.id, sent.id) == []
        assert len(await uow.messages.list_status_events(acme.id, recent.id)) == 2
        assert await uow.media.get(acme.id, kept.id) is None
    assert await delete(uow_factory, policy(acme, RetentionMode.DELETE)) == {}


async def test_a_deletion_batch_takes_at_most_its_limit(uow_factory: UowFactory) -> None:
    acme = await tenant_with_sender(uow_factory)
    for i in range(3):
        await delivered(uow_factory, acme, at=OLD + timedelta(minutes=i))

    first = await delete(uow_factory, policy(acme, RetentionMode.DELETE), limit=2)
    second = await delete(uow_factory, policy(acme, RetentionMode.DELETE), limit=2)

    assert (first["messages"], second["messages"]) == (2, 1)
    assert await delete(uow_factory, policy(acme, RetentionMode.DELETE), limit=2) == {}


# --------------------------------------------------------------------------------- a person's records


async def test_erasure_removes_the_person_in_every_form_and_nobody_else(uow_factory: UowFactory) -> None:
    acme, globex = await tenant_with_sender(uow_factory), await tenant_with_sender(uow_factory)
    to_rosa = await delivered(uow_factory, acme, contact=ROSA_NATIONAL)
    from_rosa, kept = await received_with_media(uow_factory, acme, contact=ROSA_WHATSAPP)
    to_bruno = await delivered(uow_factory, acme, contact=BRUNO)
    rosa_at_globex = await delivered(uow_factory, globex, contact=ROSA_NATIONAL)

    async with uow_factory() as uow:
        removed = await uow.contact_data.erase(acme.id, ROSA_WHATSAPP)
        await uow.commit()

    assert removed.counts == {
        "media_downloads": 0,
        "media": 1,
        "status_events": 2,
        "dispatch_jobs": 1,
        "idempotency_keys": 0,
        "messages": 2,
        "conversations": 1,
        "contacts": 0,
        "consent_ledger": 0,
        "consent_states": 0,
        "campaign_recipients": 0,
    }
    assert removed.kept == {"consent_opt_out": 0}
    assert removed.media_keys == (kept.key,)
    assert await message(uow_factory, to_rosa) is None
    assert await message(uow_factory, from_rosa) is None
    assert await message(uow_factory, to_bruno) is not None
    assert await message(uow_factory, rosa_at_globex) is not None
    async with uow_factory() as uow:
        assert await uow.conversations.get(acme.id, ROSA_NATIONAL) is None
        assert await uow.conversations.get(acme.id, BRUNO) is not None
        assert await uow.conversations.get(globex.id, ROSA_NATIONAL) is not None
        assert len(await uow.messages.list_status_events(acme.id, to_bruno.id)) == 2


async def test_erasure_removes_the_contact_and_consent_ledger_and_keeps_an_opt_out_alone(
    uow_factory: UowFactory,
) -> None:
    acme, globex = await tenant_with_sender(uow_factory), await tenant_with_sender(uow_factory)
    await with_contact_and_consent(
        uow_factory, acme, ROSA_NATIONAL, ConsentState.OPTED_IN, ConsentState.OPTED_OUT
    )
    bruno = await with_contact_and_consent(uow_factory, acme, BRUNO, ConsentState.OPTED_IN)
    elsewhere = await with_contact_and_consent(uow_factory, globex, ROSA_NATIONAL, ConsentState.OPTED_IN)

    removed = await erase(uow_factory, acme, ROSA_WHATSAPP)

    assert (
        removed.counts["contacts"],
        removed.counts["consent_ledger"],
        removed.counts["consent_states"],
    ) == (1, 2, 0)
    assert removed.kept == {"consent_opt_out": 1}
    async with uow_factory() as uow:
        assert await uow.contacts.get_many(acme.id, [ROSA_NATIONAL.identity]) == {}
        opt_out = await uow.consent.current(acme.id, ROSA_NATIONAL.identity)
        assert opt_out is not None
        assert (opt_out.state, opt_out.number, opt_out.changed_at) == (
            ConsentState.OPTED_OUT,
            ROSA_NATIONAL.e164,
            OLD + timedelta(minutes=1),
        )
        assert await uow.consent.refusal_for(acme.id, ROSA_WHATSAPP.identity) is not None
        assert await uow.contacts.get_many(acme.id, [BRUNO.identity]) == {BRUNO.identity: bruno}
        assert await uow.contacts.get_many(globex.id, [ROSA_NATIONAL.identity]) == {
            ROSA_NATIONAL.identity: elsewhere
        }
        assert await uow.consent.current(acme.id, BRUNO.identity) is not None
        assert await uow.consent.current(globex.id, ROSA_NATIONAL.identity) is not None
    assert await ledger_of(uow_factory, acme, ROSA_NATIONAL) == []
    assert len(await ledger_of(uow_factory, acme, BRUNO)) == 1
    assert len(await ledger_of(uow_factory, globex, ROSA_NATIONAL)) == 1

    again = await erase(uow_factory, acme, ROSA_NATIONAL)
    assert (again.counts["contacts"], again.counts["consent_ledger"], again.kept) == (
        0,
        0,
        {"consent_opt_out": 1},
    )


async def test_erasure_removes_a_consent_state_that_is_not_an_opt_out(uow_factory: UowFactory) -> None:
    acme = await tenant_with_sender(uow_factory)
    await with_contact_and_consent(
        uow_factory, acme, ROSA_NATIONAL, ConsentState.OPTED_OUT, ConsentState.OPTED_IN
    )

    removed = await erase(uow_factory, acme, ROSA_NATIONAL)

    assert (removed.counts["consent_ledger"], removed.counts["consent_states"]) == (2, 1)
    assert removed.kept == {"consent_opt_out": 0}
    async with uow_factory() as uow:
        assert await uow.consent.current(acme.id, ROSA_NATIONAL.identity) is None
    assert await ledger_of(uow_factory, acme, ROSA_NATIONAL) == []


async def test_erasure_takes_the_person_off_every_campaign_of_the_tenant_and_nobody_else(
    uow_factory: UowFactory,
) -> None:
    acme, globex = await tenant_with_sender(uow_factory), await tenant_with_sender(uow_factory)
    rosa = replace(person(1), number=ROSA_WHATSAPP.e164, identity=ROSA_WHATSAPP.identity)
    spring, autumn = (
        await add_campaign(uow_factory, a_campaign(acme)),
        await add_campaign(uow_factory, a_campaign(acme)),
    )
    at_globex = await add_campaign(uow_factory, a_campaign(globex))
    for campaign in (spring, autumn, at_globex):
        await add_people(uow_factory, campaign, rosa, person(2))

    removed = await erase(uow_factory, acme, ROSA_NATIONAL)

    assert removed.counts["campaign_recipients"] == 2
    async with uow_factory() as uow:
        for campaign, left in ((spring, [2]), (autumn, [2]), (at_globex, [1, 2])):
            page = await uow.campaigns.recipients_page(RecipientQuery(campaign.tenant_id, campaign.id, 10))
            assert [recipient.position for recipient in page] == left


async def test_the_export_holds_the_persons_messages_events_conversation_and_media(
    uow_factory: UowFactory,
) -> None:
    acme, globex = await tenant_with_sender(uow_factory), await tenant_with_sender(uow_factory)
    to_rosa = await delivered(uow_factory, acme, contact=ROSA_NATIONAL)
    from_rosa, kept = await received_with_media(
        uow_factory, acme, contact=ROSA_WHATSAPP, at=OLD + timedelta(hours=1)
    )
    await delivered(uow_factory, acme, contact=BRUNO)
    await delivered(uow_factory, globex, contact=ROSA_NATIONAL)

    async with uow_factory() as uow:
        records = await uow.contact_data.export(acme.id, ROSA_NATIONAL, max_messages=100)

    assert [(row["id"], row["body"], row["contact_number"]) for row in records["messages"]] == [
        (to_rosa.id, "your order shipped", ROSA_NATIONAL.e164),
        (from_rosa.id, "hi there", ROSA_WHATSAPP.e164),
    ]
    assert [(row["message_id"], row["status"]) for row in records["status_events"]] == [
        (to_rosa.id, "delivered"),
        (to_rosa.id, "read"),
    ]
    assert [row["id"] for row in records["media"]] == [kept.id]
    assert [row["contact_identity"] for row in records["conversations"]] == [ROSA_NATIONAL.identity]

    assert (records["contact"], records["consent"], records["consent_ledger"]) == ([], [], [])

    async with uow_factory() as uow:
        newest = await uow.contact_data.export(acme.id, ROSA_NATIONAL, max_messages=1)
    assert [row["id"] for row in newest["messages"]] == [from_rosa.id]
    assert newest["status_events"] == []


async def test_the_export_holds_the_persons_contact_consent_and_ledger_in_order(
    uow_factory: UowFactory,
) -> None:
    acme, globex = await tenant_with_sender(uow_factory), await tenant_with_sender(uow_factory)
    rosa = await with_contact_and_consent(
        uow_factory, acme, ROSA_WHATSAPP, ConsentState.OPTED_IN, ConsentState.OPTED_OUT
    )
    await with_contact_and_consent(uow_factory, acme, BRUNO, ConsentState.OPTED_IN)
    await with_contact_and_consent(uow_factory, globex, ROSA_NATIONAL, ConsentState.OPTED_IN)

    async with uow_factory() as uow:
        records = await uow.contact_data.export(acme.id, ROSA_NATIONAL, max_messages=100)

    [contact] = records["contact"]
    assert {key: contact[key] for key in ("id", "identity", "phone_number", "name", "tags", "notes")} == {
        "id": rosa.id,
        "identity": ROSA_NATIONAL.identity,
        "phone_number": ROSA_WHATSAPP.e164,
        "name": "Rosa",
        "tags": ["vip"],
        "notes": "calls mornings",
    }
    assert "tenant_id" not in contact
    assert [(row["identity"], row["number"], row["state"], row["source"]) for row in records["consent"]] == [
        (ROSA_NATIONAL.identity, ROSA_WHATSAPP.e164, "opted_out", "keyword")
    ]
    ledger = records["consent_ledger"]
    assert [(row["state"], row["actor"], row["note"], row["changed"]) for row in ledger] == [
        ("opted_in", "contact", "said it twice", True),
        ("opted_out", "contact", "said it twice", True),
    ]
    assert ledger[0]["sequence"] < ledger[1]["sequence"]  # type: ignore[operator]
    assert all(row["evidence_message_id"] is not None and "tenant_id" not in row for row in ledger)


@pytest.mark.sql_only("concurrency between connections; the fake runs one block at a time")
@pytest.mark.parametrize("mode", list(RetentionMode))
async def test_concurrent_batches_of_one_tenant_never_count_a_message_twice(
    uow_factory: UowFactory, mode: RetentionMode
) -> None:
    acme = await tenant_with_sender(uow_factory)
    for i in range(12):
        await delivered(uow_factory, acme, at=OLD + timedelta(minutes=i))
    run = redact if mode is RetentionMode.REDACT else delete

    async def worker() -> int:
        # As the workers run a batch: again when SQLite gave it up for a concurrent one.
        total = 0
        while counts := await ConflictRetry(attempts=20).run(lambda: run(uow_factory, policy(acme, mode), 4)):
            total += counts["messages"]
        return total

    assert sum(await asyncio.gather(*(worker() for _ in range(3)))) == 12
