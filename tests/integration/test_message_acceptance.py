"""Accepting an outbound message on PostgreSQL (one statement) and SQLite (one by one): the same outcome."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from application.errors import AlreadyExists, NotFound
from application.ports.consent import SendConsent
from application.ports.dispatch_queue import DispatchJob
from application.ports.messages import ConversationQuery, IdempotencyRecord, WriteRefused
from domain.administration.tenancy import Tenant
from domain.consent.model import ConsentChange, ConsentPolicy, ConsentSource, ConsentState
from domain.messaging.messages import Direction, Message, MessageContent
from domain.phone import PhoneNumber
from domain.templates.definition import TemplateCategory
from tests.support.databases import UowFactory
from tests.support.repositories import OUR_NUMBER, T0
from tests.support.repositories.dispatch import CONTACT, tenant_with_sender
from tests.support.repositories.messages import inbound

UNKNOWN_NUMBER = PhoneNumber.parse("+14155550123")


def new_message(tenant: Tenant, body: str = "hi") -> Message:
    return Message.new_outbound(
        tenant_id=tenant.id, sender=OUR_NUMBER, contact=CONTACT, content=MessageContent(body=body), now=T0
    )


def key_for(message: Message, *, at: datetime = T0) -> IdempotencyRecord:
    return IdempotencyRecord(
        tenant_id=message.tenant_id,
        key="order-1",
        request_fingerprint="f" * 64,
        created_at=at,
        expires_at=at + timedelta(hours=24),
        message_id=message.id,
        response_status=202,
    )


async def test_the_sending_profile_names_the_tenant_and_its_default_or_named_sender(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    async with uow_factory() as uow:
        by_default = await uow.acceptance.sending_profile(tenant.id, None)
        by_number = await uow.acceptance.sending_profile(tenant.id, OUR_NUMBER)
        unknown = await uow.acceptance.sending_profile(tenant.id, UNKNOWN_NUMBER)
        missing = await uow.acceptance.sending_profile(uuid4(), None)
    assert by_default is not None
    assert by_number is not None
    assert unknown is not None
    assert by_default.tenant == tenant
    assert by_default.sender is not None
    assert by_default.sender.phone_number == OUR_NUMBER
    assert by_default.sender.is_default
    assert by_default.provider is tenant.provider
    assert by_number.sender == by_default.sender
    assert (unknown.tenant, unknown.sender) == (tenant, None)
    assert missing is None


async def test_an_accepted_message_is_stored_with_its_conversation_job_and_key(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = new_message(tenant)
    async with uow_factory() as uow:
        await uow.acceptance.add(message, DispatchJob.due_now(message, T0), key_for(message))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, message.id) == message
        conversation = await uow.conversations.get(tenant.id, CONTACT)
        record = await uow.idempotency.get(tenant.id, "order-1", T0)
        jobs = await uow.jobs.claim_due(owner="w", now=T0, lease_seconds=30, limit=10)
    assert conversation is not None
    assert conversation.last_message_id == message.id
    assert record == key_for(message)
    assert [job.message_id for job in jobs] == [message.id]


async def test_a_held_key_refuses_the_second_message_and_stores_nothing_of_it(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    first, second = new_message(tenant, "first"), new_message(tenant, "second")
    async with uow_factory() as uow:
        await uow.acceptance.add(first, DispatchJob.due_now(first, T0), key_for(first))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.acceptance.add(
                second, DispatchJob.due_now(second, T0), key_for(second, at=T0 + timedelta(hours=1))
            )
    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, second.id) is None
        record = await uow.idempotency.get(tenant.id, "order-1", T0 + timedelta(hours=1))
        jobs = await uow.jobs.claim_due(owner="w", now=T0, lease_seconds=30, limit=10)
    assert record is not None
    assert record.message_id == first.id
    assert [job.message_id for job in jobs] == [first.id]


async def test_an_expired_key_is_taken_over_and_no_key_is_needed(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    first, later, unkeyed = new_message(tenant), new_message(tenant), new_message(tenant)
    a_day_later = T0 + timedelta(hours=25)
    async with uow_factory() as uow:
        await uow.acceptance.add(first, DispatchJob.due_now(first, T0), key_for(first))
        await uow.acceptance.add(later, DispatchJob.due_now(later, T0), key_for(later, at=a_day_later))
        await uow.acceptance.add(unkeyed, DispatchJob.due_now(unkeyed, T0), None)
        await uow.commit()
    async with uow_factory() as uow:
        record = await uow.idempotency.get(tenant.id, "order-1", a_day_later)
        stored = [await uow.messages.get(tenant.id, m.id) for m in (first, later, unkeyed)]
    assert record is not None
    assert record.message_id == later.id
    assert stored == [first, later, unkeyed]


async def test_a_message_accepted_in_another_form_of_the_customers_number_joins_their_conversation(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    whatsapp_form, plan_form = PhoneNumber.parse("+5215512345678"), PhoneNumber.parse("+525512345678")
    wrote = replace(
        new_message(tenant), direction=Direction.INBOUND, contact=whatsapp_form, provider_sid="SM1"
    )
    async with uow_factory() as uow:
        await uow.messages.add(wrote)
        await uow.conversations.record_message(wrote)
        await uow.commit()
    answer = Message.new_outbound(
        tenant_id=tenant.id,
        sender=OUR_NUMBER,
        contact=plan_form,
        content=MessageContent(body="answer"),
        now=T0 + timedelta(minutes=1),
    )

    async with uow_factory() as uow:
        await uow.acceptance.add(answer, DispatchJob.due_now(answer, answer.created_at), None)
        await uow.commit()

    async with uow_factory() as uow:
        conversation = await uow.conversations.get(tenant.id, plan_form)
        page = await uow.conversations.list_page(ConversationQuery(tenant_id=tenant.id, limit=10))
    assert page == [conversation]
    assert conversation is not None
    assert conversation.last_message_id == answer.id
    assert conversation.last_inbound_at == T0
    assert conversation.contact == whatsapp_form


async def test_an_accepted_message_to_a_new_number_creates_its_contact_and_leaves_an_existing_one(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    first = new_message(tenant)
    async with uow_factory() as uow:
        await uow.acceptance.add(first, DispatchJob.due_now(first, T0), None)
        await uow.commit()
    async with uow_factory() as uow:
        [created] = (await uow.contacts.get_many(tenant.id, [CONTACT.identity])).values()
        named = replace(created, name="Named by an agent", updated_at=T0 + timedelta(minutes=1))
        await uow.contacts.update(named)
        await uow.commit()

    second = replace(new_message(tenant, body="again"), created_at=T0 + timedelta(hours=1))
    async with uow_factory() as uow:
        await uow.acceptance.add(second, DispatchJob.due_now(second, T0), None)
        await uow.commit()

    async with uow_factory() as uow:
        contacts = await uow.contacts.get_many(tenant.id, [CONTACT.identity])
    assert (created.phone_number, created.profile_name, created.created_at) == (CONTACT.e164, None, T0)
    assert contacts == {CONTACT.identity: named}


# ------------------------------------------------------- the write committed with it (commit=True)


async def test_an_accept_committed_with_its_write_is_stored_with_its_conversation_job_and_key(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    message = new_message(tenant)
    async with uow_factory() as uow:
        await uow.acceptance.add(message, DispatchJob.due_now(message, T0), key_for(message), commit=True)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, message.id) == message
        conversation = await uow.conversations.get(tenant.id, CONTACT)
        record = await uow.idempotency.get(tenant.id, "order-1", T0)
        jobs = await uow.jobs.claim_due(owner="w", now=T0, lease_seconds=30, limit=10)
    assert conversation is not None
    assert conversation.last_message_id == message.id
    assert record == key_for(message)
    assert [job.message_id for job in jobs] == [message.id]


async def test_a_held_key_refuses_an_accept_committed_with_its_write_and_stores_nothing_of_it(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    first, second = new_message(tenant, "first"), new_message(tenant, "second")
    async with uow_factory() as uow:
        await uow.acceptance.add(first, DispatchJob.due_now(first, T0), key_for(first), commit=True)
        await uow.commit()
    later = T0 + timedelta(hours=1)
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.acceptance.add(
                second, DispatchJob.due_now(second, later), key_for(second, at=later), commit=True
            )
    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, second.id) is None
        conversation = await uow.conversations.get(tenant.id, CONTACT)
        record = await uow.idempotency.get(tenant.id, "order-1", later)
        jobs = await uow.jobs.claim_due(owner="w", now=later, lease_seconds=30, limit=10)
    assert conversation is not None
    assert conversation.last_message_id == first.id
    assert record is not None
    assert record.message_id == first.id
    assert [job.message_id for job in jobs] == [first.id]


async def test_a_failing_write_committed_with_it_leaves_nothing_behind(uow_factory: UowFactory) -> None:
    tenant = await tenant_with_sender(uow_factory)
    first = new_message(tenant, "first")
    async with uow_factory() as uow:
        await uow.acceptance.add(first, DispatchJob.due_now(first, T0), None, commit=True)
        await uow.commit()
    # The same message id again, under a new key and to another number: the message's insert fails.
    again = replace(first, contact=UNKNOWN_NUMBER, created_at=T0 + timedelta(minutes=1))
    key = replace(key_for(again, at=again.created_at), key="order-2")
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.acceptance.add(again, DispatchJob.due_now(again, again.created_at), key, commit=True)

    async with uow_factory() as uow:
        assert await uow.idempotency.get(tenant.id, "order-2", again.created_at) is None
        assert await uow.conversations.get(tenant.id, UNKNOWN_NUMBER) is None
        assert await uow.contacts.get_many(tenant.id, [UNKNOWN_NUMBER.identity]) == {}
        assert await uow.messages.get(tenant.id, first.id) == first
        # The connection goes on in transactions as before.
        other = new_message(tenant, "other")
        await uow.acceptance.add(other, DispatchJob.due_now(other, T0), None, commit=True)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, other.id) == other


async def test_an_accept_for_a_tenant_that_does_not_exist_is_not_found_and_stores_nothing(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    stray = replace(new_message(tenant), tenant_id=uuid4())
    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.acceptance.add(stray, DispatchJob.due_now(stray, T0), key_for(stray), commit=True)
    async with uow_factory() as uow:
        assert await uow.messages.get(stray.tenant_id, stray.id) is None
        assert await uow.idempotency.get(stray.tenant_id, "order-1", T0) is None


def opted_out(tenant: Tenant, number: PhoneNumber) -> ConsentChange:
    return ConsentChange(
        tenant_id=tenant.id,
        identity=number.identity,
        number=number.e164,
        state=ConsentState.OPTED_OUT,
        source=ConsentSource.API,
        actor="agent",
        at=T0,
        note="asked by phone",
    )


async def test_the_sending_profile_tells_a_recipient_who_opted_out_with_the_tenants_policy(
    uow_factory: UowFactory,
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    async with uow_factory() as uow:
        await uow.consent.record(opted_out(tenant, CONTACT))
        await uow.commit()

    async with uow_factory() as uow:
        with_defaults = await uow.acceptance.sending_profile(tenant.id, None, CONTACT.identity)
        someone_else = await uow.acceptance.sending_profile(tenant.id, OUR_NUMBER, UNKNOWN_NUMBER.identity)
        not_asked = await uow.acceptance.sending_profile(tenant.id, None)
    policy = ConsentPolicy(
        tenant_id=tenant.id, allowed_categories=frozenset({TemplateCategory.UTILITY}), updated_at=T0
    )
    async with uow_factory() as uow:
        await uow.consent.save_policy(policy)
        await uow.commit()
    async with uow_factory() as uow:
        with_its_policy = await uow.acceptance.sending_profile(tenant.id, OUR_NUMBER, CONTACT.identity)

    assert with_defaults is not None
    assert with_defaults.refusal == SendConsent(ConsentPolicy(tenant_id=tenant.id))
    assert with_defaults.sender is not None
    assert with_defaults.sender.phone_number == OUR_NUMBER
    assert someone_else is not None
    assert not_asked is not None
    assert (someone_else.refusal, not_asked.refusal) == (None, None)
    assert with_its_policy is not None
    assert with_its_policy.refusal == SendConsent(policy)


# -------------------------------- the checks the write makes itself (unless_opted_out, only_in_window_at)


async def add_checked(
    uow_factory: UowFactory,
    message: Message,
    *,
    commit: bool,
    keyed: bool = True,
    unless_opted_out: str | None = None,
    only_in_window_at: datetime | None = None,
) -> None:
    """``acceptance.add`` of ``message`` (due at its creation, with its key) and its checks, committed."""
    at = message.created_at
    async with uow_factory() as uow:
        await uow.acceptance.add(
            message,
            DispatchJob.due_now(message, at),
            key_for(message, at=at) if keyed else None,
            commit=commit,
            unless_opted_out=unless_opted_out,
            only_in_window_at=only_in_window_at,
        )
        await uow.commit()


@pytest.mark.parametrize("commit", [True, False], ids=["committed with it", "committed after"])
async def test_a_write_that_checks_the_opt_out_stores_nothing_for_a_person_who_opted_out(
    uow_factory: UowFactory, commit: bool
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    async with uow_factory() as uow:
        await uow.consent.record(opted_out(tenant, CONTACT))
        await uow.commit()
    refused = new_message(tenant, "refused")
    allowed = replace(new_message(tenant, "allowed"), contact=UNKNOWN_NUMBER)

    with pytest.raises(WriteRefused):
        await add_checked(uow_factory, refused, commit=commit, unless_opted_out=CONTACT.identity)
    await add_checked(uow_factory, allowed, commit=commit, unless_opted_out=UNKNOWN_NUMBER.identity)

    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, refused.id) is None
        assert await uow.conversations.get(tenant.id, CONTACT) is None
        assert await uow.messages.get(tenant.id, allowed.id) == allowed
        record = await uow.idempotency.get(tenant.id, "order-1", T0)
        jobs = await uow.jobs.claim_due(owner="w", now=T0, lease_seconds=30, limit=10)
    assert record is not None
    assert record.message_id == allowed.id
    assert [job.message_id for job in jobs] == [allowed.id]


@pytest.mark.parametrize("commit", [True, False], ids=["committed with it", "committed after"])
async def test_a_write_that_checks_the_opt_out_refuses_a_held_key_the_same_way(
    uow_factory: UowFactory, commit: bool
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    first, second = new_message(tenant, "first"), new_message(tenant, "second")
    await add_checked(uow_factory, first, commit=True)

    with pytest.raises(WriteRefused):
        await add_checked(uow_factory, second, commit=commit, unless_opted_out=CONTACT.identity)

    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, second.id) is None
        record = await uow.idempotency.get(tenant.id, "order-1", T0)
    assert record is not None
    assert record.message_id == first.id


async def a_customer_wrote(uow_factory: UowFactory, tenant: Tenant, at: datetime) -> None:
    message = inbound(tenant, at=at, contact=CONTACT)
    async with uow_factory() as uow:
        await uow.messages.add(message)
        await uow.conversations.record_message(message)
        await uow.commit()


@pytest.mark.parametrize("commit", [True, False], ids=["committed with it", "committed after"])
async def test_a_write_that_checks_the_window_stores_nothing_once_it_has_closed(
    uow_factory: UowFactory, commit: bool
) -> None:
    tenant = await tenant_with_sender(uow_factory)
    await a_customer_wrote(uow_factory, tenant, T0)
    in_window_at, closed_at = T0 + timedelta(hours=23, minutes=59), T0 + timedelta(hours=24)
    inside = replace(new_message(tenant, "inside"), created_at=in_window_at, updated_at=in_window_at)
    too_late = replace(new_message(tenant, "too late"), created_at=closed_at, updated_at=closed_at)
    stranger = replace(new_message(tenant, "stranger"), contact=UNKNOWN_NUMBER)

    await add_checked(uow_factory, inside, commit=commit, keyed=False, only_in_window_at=in_window_at)
    for refused in (too_late, stranger):
        with pytest.raises(WriteRefused):
            await add_checked(
                uow_factory, refused, commit=commit, keyed=False, only_in_window_at=refused.created_at
            )

    async with uow_factory() as uow:
        assert await uow.messages.get(tenant.id, inside.id) == inside
        assert await uow.messages.get(tenant.id, too_late.id) is None
        assert await uow.messages.get(tenant.id, stranger.id) is None
        assert await uow.conversations.get(tenant.id, UNKNOWN_NUMBER) is None
        conversation = await uow.conversations.get(tenant.id, CONTACT)
    assert conversation is not None
    assert conversation.last_message_id == inside.id
