"""The consent repository's contract: each person's current state by identity, the append-only ledger
(a change that repeats the state is kept, marked unchanged), the tenant's policy, and the reads the send
path and campaigns make; on the fakes, SQLite and PostgreSQL alike (see conftest.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta, timezone
from uuid import uuid4

from application.ports.consent import LedgerQuery
from domain.administration.tenancy import Tenant
from domain.consent.model import (
    ConsentChange,
    ConsentPolicy,
    ConsentSource,
    ConsentState,
    KeywordMode,
)
from domain.phone import PhoneNumber
from domain.templates.definition import TemplateCategory
from tests.support.databases import UowFactory
from tests.support.repositories import T0
from tests.support.repositories.access import add_tenant

ANA = PhoneNumber.parse("+5215512345678")  # WhatsApp's form of a Mexican mobile
ANA_AS_PLANNED = PhoneNumber.parse("+525512345678")
BEA = PhoneNumber.parse("+14155550100")


def change(
    tenant: Tenant,
    number: PhoneNumber,
    state: ConsentState,
    *,
    minutes: int = 0,
    source: ConsentSource = ConsentSource.KEYWORD,
) -> ConsentChange:
    return ConsentChange(
        tenant_id=tenant.id,
        identity=number.identity,
        number=number.e164,
        state=state,
        source=source,
        actor="contact",
        at=T0 + timedelta(minutes=minutes),
        evidence_message_id=uuid4() if source is ConsentSource.KEYWORD else None,
        note="asked by phone" if source is ConsentSource.API else None,
    )


async def record(uow_factory: UowFactory, *changes: ConsentChange) -> list[ConsentChange]:
    stored = []
    async with uow_factory() as uow:
        for each in changes:
            stored.append(await uow.consent.record(each))
        await uow.commit()
    return stored


async def test_a_change_becomes_the_persons_state_whichever_form_of_their_number_asks(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    [stored] = await record(uow_factory, change(tenant, ANA, ConsentState.OPTED_OUT))

    async with uow_factory() as uow:
        current = await uow.consent.current(tenant.id, ANA_AS_PLANNED.identity)
        nobody = await uow.consent.current(tenant.id, BEA.identity)

    assert current == stored.as_record()
    assert current is not None
    assert current.number == ANA.e164
    assert stored.changed
    assert stored.sequence is not None
    assert nobody is None


async def test_every_change_is_ledgered_in_order_and_a_repeat_is_marked_unchanged(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    changes = [
        change(tenant, ANA, ConsentState.OPTED_OUT),
        change(tenant, ANA, ConsentState.OPTED_OUT, minutes=1),
        change(tenant, BEA, ConsentState.OPTED_OUT, minutes=2, source=ConsentSource.API),
        change(tenant, ANA_AS_PLANNED, ConsentState.OPTED_IN, minutes=3),
    ]
    stored = await record(uow_factory, *changes)

    async with uow_factory() as uow:
        everything = await uow.consent.ledger_page(LedgerQuery(tenant_id=tenant.id, limit=10))
        anas = await uow.consent.ledger_page(
            LedgerQuery(tenant_id=tenant.id, limit=10, identity=ANA.identity)
        )
        after_first = await uow.consent.ledger_page(
            LedgerQuery(tenant_id=tenant.id, limit=2, after=everything[0].sequence)
        )
        latest = await uow.consent.ledger_page(
            LedgerQuery(tenant_id=tenant.id, limit=2, identity=ANA.identity, newest_first=True)
        )
        current = await uow.consent.current(tenant.id, ANA.identity)

    assert everything == stored
    assert [entry.changed for entry in everything] == [True, False, True, True]
    assert [entry.id for entry in anas] == [stored[0].id, stored[1].id, stored[3].id]
    assert [entry.id for entry in after_first] == [stored[1].id, stored[2].id]
    assert [entry.id for entry in latest] == [stored[3].id, stored[1].id]
    assert everything[2].note == "asked by phone"
    assert everything[0].evidence_message_id == changes[0].evidence_message_id
    assert current is not None
    assert current.state is ConsentState.OPTED_IN
    assert current.changed_at == T0 + timedelta(minutes=3)


async def test_of_stops_racing_for_one_person_exactly_one_changes_the_state(uow_factory: UowFactory) -> None:
    """A customer taps STOP twice and the provider delivers both at once: on SQL they race between
    connections (the fake runs their blocks one after the other)."""
    tenant = await add_tenant(uow_factory)

    racing = await asyncio.gather(
        *(record(uow_factory, change(tenant, ANA, ConsentState.OPTED_OUT, minutes=n)) for n in range(4))
    )

    assert sorted(stored.changed for [stored] in racing) == [False, False, False, True]
    async with uow_factory() as uow:
        ledger = await uow.consent.ledger_page(LedgerQuery(tenant_id=tenant.id, limit=10))
    assert len(ledger) == 4


async def test_a_repeat_leaves_the_state_as_the_change_that_set_it(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    await record(
        uow_factory,
        change(tenant, ANA, ConsentState.OPTED_OUT),
        change(tenant, ANA_AS_PLANNED, ConsentState.OPTED_OUT, minutes=5, source=ConsentSource.API),
    )

    async with uow_factory() as uow:
        current = await uow.consent.current(tenant.id, ANA.identity)

    assert current is not None
    assert (current.source, current.changed_at, current.number) == (ConsentSource.KEYWORD, T0, ANA.e164)


async def test_times_read_back_in_utc(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    sao_paulo = timezone(timedelta(hours=-3))
    written = change(tenant, ANA, ConsentState.OPTED_OUT)
    await record(uow_factory, replace(written, at=T0.astimezone(sao_paulo)))

    async with uow_factory() as uow:
        [entry] = await uow.consent.ledger_page(LedgerQuery(tenant_id=tenant.id, limit=1))
        current = await uow.consent.current(tenant.id, ANA.identity)

    assert entry.at == T0
    assert entry.at.utcoffset() == timedelta(0)
    assert current is not None
    assert current.changed_at.utcoffset() == timedelta(0)


async def test_one_tenants_consent_is_not_anothers(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    await record(uow_factory, change(acme, ANA, ConsentState.OPTED_OUT))

    async with uow_factory() as uow:
        theirs = await uow.consent.current(globex.id, ANA.identity)
        ledger = await uow.consent.ledger_page(LedgerQuery(tenant_id=globex.id, limit=10))
        refusal = await uow.consent.refusal_for(globex.id, ANA.identity)
        among = await uow.consent.opted_out_among(globex.id, [ANA.identity])

    assert (theirs, ledger, refusal, among) == (None, [], None, frozenset())


async def test_the_policy_reads_back_as_set_and_is_replaced_whole(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    first = ConsentPolicy(
        tenant_id=tenant.id,
        opt_out_keywords=("Basta", "Chega"),
        opt_in_keywords=("Volví",),
        keyword_mode=KeywordMode.REPLACE,
        opt_out_reply="No more messages. Write VOLVÍ to come back.",
        opt_in_reply="Welcome back!",
        allowed_categories=frozenset({TemplateCategory.AUTHENTICATION, TemplateCategory.UTILITY}),
        updated_at=T0,
    )
    second = ConsentPolicy(tenant_id=tenant.id, updated_at=T0 + timedelta(hours=1))

    async with uow_factory() as uow:
        before = await uow.consent.policy(tenant.id)
        await uow.consent.save_policy(first)
        await uow.commit()
    async with uow_factory() as uow:
        read_first = await uow.consent.policy(tenant.id)
        await uow.consent.save_policy(second)
        await uow.commit()
    async with uow_factory() as uow:
        read_second = await uow.consent.policy(tenant.id)

    assert before is None
    assert read_first == first
    assert read_second == second


async def test_the_send_path_finds_a_refusal_only_for_a_person_who_opted_out_with_the_policy(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    await record(
        uow_factory,
        change(tenant, ANA, ConsentState.OPTED_OUT),
        change(tenant, BEA, ConsentState.OPTED_OUT),
        change(tenant, BEA, ConsentState.OPTED_IN, minutes=1),
    )

    async with uow_factory() as uow:
        with_defaults = await uow.consent.refusal_for(tenant.id, ANA_AS_PLANNED.identity)
        opted_back_in = await uow.consent.refusal_for(tenant.id, BEA.identity)
        never_asked = await uow.consent.refusal_for(tenant.id, "+14155550199")
    policy = ConsentPolicy(
        tenant_id=tenant.id, allowed_categories=frozenset({TemplateCategory.UTILITY}), updated_at=T0
    )
    async with uow_factory() as uow:
        await uow.consent.save_policy(policy)
        await uow.commit()
    async with uow_factory() as uow:
        with_its_policy = await uow.consent.refusal_for(tenant.id, ANA.identity)

    assert with_defaults is not None
    assert with_defaults.policy == ConsentPolicy(tenant_id=tenant.id)
    assert (opted_back_in, never_asked) == (None, None)
    assert with_its_policy is not None
    assert with_its_policy.policy == policy


async def test_campaigns_learn_who_among_many_opted_out(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    await record(
        uow_factory, change(tenant, ANA, ConsentState.OPTED_OUT), change(tenant, BEA, ConsentState.OPTED_IN)
    )
    many = [f"+1415555{n:04d}" for n in range(1200)] + [ANA_AS_PLANNED.identity, BEA.identity]

    async with uow_factory() as uow:
        found = await uow.consent.opted_out_among(tenant.id, many)
        none_asked = await uow.consent.opted_out_among(tenant.id, [])

    assert found == {ANA.identity}
    assert none_asked == frozenset()
