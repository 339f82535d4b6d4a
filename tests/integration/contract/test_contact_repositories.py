"""The repository contract of a tenant's contacts: one per person, found by search, tags and attributes,
walked by identity, and kept by the messages that come and go, on the fakes, SQLite and PostgreSQL alike
(see conftest.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from application.errors import AlreadyExists, NotFound
from application.ports.contacts import ContactPosition, ContactQuery
from domain.administration.tenancy import Tenant
from domain.contacts.contact import Contact, ContactDetails
from domain.phone import PhoneNumber
from tests.support.databases import UowFactory
from tests.support.repositories import T0
from tests.support.repositories.access import add_tenant
from tests.support.repositories.messages import inbound, outbound

MEXICO_PLAN, MEXICO_WHATSAPP = PhoneNumber.parse("+525512345678"), PhoneNumber.parse("+5215512345678")
BERLIN = PhoneNumber.parse("+4915112345678")
LONDON = PhoneNumber.parse("+447700900123")


def contact(tenant: Tenant, number: PhoneNumber, *, minutes: int = 0, **details: object) -> Contact:
    at = T0 + timedelta(minutes=minutes)
    return Contact.new(tenant.id, number, ContactDetails(**details), at)  # type: ignore[arg-type]


async def add(uow_factory: UowFactory, *contacts: Contact) -> None:
    async with uow_factory() as uow:
        for each in contacts:
            await uow.contacts.add(each)
        await uow.commit()


async def names(uow_factory: UowFactory, query: ContactQuery) -> list[str | None]:
    async with uow_factory() as uow:
        return [found.name for found in await uow.contacts.list_page(query)]


async def test_a_contact_reads_back_whole_by_id_and_by_identity(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    ana = contact(
        tenant,
        MEXICO_WHATSAPP,
        name="Ana García",
        attributes={"city": "Monterrey", "plan": "gold"},
        tags=frozenset({"vip", "newsletter"}),
        notes="Prefers mornings.\nCall first.",
    )
    await add(uow_factory, ana)

    async with uow_factory() as uow:
        by_id = await uow.contacts.get(tenant.id, ana.id)
        by_identity = await uow.contacts.get_many(tenant.id, [MEXICO_PLAN.identity, BERLIN.identity])

    assert by_id == ana
    assert by_identity == {MEXICO_PLAN.identity: ana}
    assert ana.identity == MEXICO_PLAN.e164
    assert ana.phone_number == MEXICO_WHATSAPP.e164


async def test_a_tenant_has_one_contact_per_person_whichever_form_of_the_number(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    await add(uow_factory, contact(tenant, MEXICO_PLAN))

    with pytest.raises(AlreadyExists):
        await add(uow_factory, contact(tenant, MEXICO_WHATSAPP))


async def test_another_tenant_neither_sees_nor_changes_a_tenants_contacts(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    ana = contact(acme, BERLIN, name="Ana", tags=frozenset({"vip"}), attributes={"city": "Berlin"})
    await add(uow_factory, ana)
    # the same person is globex's contact too, apart from acme's
    await add(uow_factory, contact(globex, BERLIN, name="Ana at globex"))

    async with uow_factory() as uow:
        assert await uow.contacts.get(globex.id, ana.id) is None
        assert [c.name for c in (await uow.contacts.get_many(globex.id, [BERLIN.identity])).values()] == [
            "Ana at globex"
        ]
        assert await names(uow_factory, ContactQuery(globex.id, limit=10, tags=["vip"])) == []
        assert await uow.contacts.attribute_keys(globex.id) == []
        with pytest.raises(NotFound):
            await uow.contacts.update(replace(ana, tenant_id=globex.id, name="Taken"))
        assert await uow.contacts.remove(globex.id, ana.id) is None
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.contacts.get(acme.id, ana.id) == ana


async def test_an_update_sets_the_details_and_keeps_the_rest(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    ana = contact(tenant, BERLIN, name="Ana", tags=frozenset({"vip"}))
    await add(uow_factory, ana)
    changed = ana.with_details(
        ContactDetails(name="Ana B.", attributes={"city": "Köln"}, notes="moved"), T0 + timedelta(days=1)
    )

    async with uow_factory() as uow:
        await uow.contacts.update(changed)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.contacts.get(tenant.id, ana.id) == changed


async def test_save_many_adds_the_new_and_sets_the_details_of_those_the_tenant_has(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    ana = replace(contact(tenant, MEXICO_PLAN, name="Ana"), profile_name="Ana G")
    await add(uow_factory, ana)
    later = T0 + timedelta(hours=1)
    # the import's contact for the same person, made before it knew the stored one
    ana_again = replace(
        contact(tenant, MEXICO_WHATSAPP, name="Ana García", tags=frozenset({"vip"})), updated_at=later
    )
    bob = contact(tenant, BERLIN, name="Bob")

    async with uow_factory() as uow:
        await uow.contacts.save_many([ana_again, bob])
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.contacts.get_many(tenant.id, [MEXICO_PLAN.identity, BERLIN.identity])
    assert stored[MEXICO_PLAN.identity] == replace(
        ana, name="Ana García", tags=frozenset({"vip"}), updated_at=later
    ), "its id, number, profile name and creation stay"
    assert stored[BERLIN.identity] == bob


async def test_remove_deletes_the_contact_and_answers_it(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    ana = contact(tenant, BERLIN, name="Ana")
    await add(uow_factory, ana)

    async with uow_factory() as uow:
        assert await uow.contacts.remove(tenant.id, ana.id) == ana
        assert await uow.contacts.remove(tenant.id, ana.id) is None
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.contacts.get(tenant.id, ana.id) is None


async def test_pages_go_newest_first_after_the_cursor(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    first, second, third = (
        contact(tenant, BERLIN, name="first", minutes=1),
        contact(tenant, LONDON, name="second", minutes=2),
        contact(tenant, MEXICO_PLAN, name="third", minutes=3),
    )
    await add(uow_factory, first, third, second)

    assert await names(uow_factory, ContactQuery(tenant.id, limit=2)) == ["third", "second"]
    after_second = ContactPosition(second.created_at, second.id)
    assert await names(uow_factory, ContactQuery(tenant.id, limit=2, after=after_second)) == ["first"]


async def test_contacts_created_at_one_moment_page_by_id(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    together = [contact(tenant, number, name=number.e164) for number in (BERLIN, LONDON, MEXICO_PLAN)]
    await add(uow_factory, *together)
    by_id = sorted(together, key=lambda c: c.id, reverse=True)

    first = await names(uow_factory, ContactQuery(tenant.id, limit=2))
    rest = await names(uow_factory, ContactQuery(tenant.id, limit=2, after=ContactPosition(T0, by_id[1].id)))
    assert first + rest == [c.name for c in by_id]


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("garc", ["Ana García"]),
        ("ANA", ["Ana García"]),
        ("bobby", ["Robert"]),  # the profile name
        ("5512", ["Ana García"]),  # the digits of the number
        ("+52 55", ["Ana García"]),
        ("4477", ["Robert"]),
        ("%", []),  # a wildcard is a character like any other
        ("nobody", []),
    ],
)
async def test_q_searches_names_profile_names_and_numbers(
    uow_factory: UowFactory, q: str, found: list[str]
) -> None:
    tenant = await add_tenant(uow_factory)
    await add(
        uow_factory,
        contact(tenant, MEXICO_WHATSAPP, name="Ana García"),
        replace(contact(tenant, LONDON, name="Robert", minutes=1), profile_name="Bobby"),
    )
    assert await names(uow_factory, ContactQuery(tenant.id, limit=10, q=q)) == found


async def test_tags_keep_the_contacts_with_all_of_them_and_attributes_those_equal(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    await add(
        uow_factory,
        contact(tenant, BERLIN, name="both", tags=frozenset({"vip", "news"}), attributes={"city": "Berlin"}),
        contact(
            tenant, LONDON, name="vip", tags=frozenset({"vip"}), attributes={"city": "London"}, minutes=1
        ),
        contact(tenant, MEXICO_PLAN, name="none", minutes=2),
    )

    def query(**filters: object) -> ContactQuery:
        return ContactQuery(tenant.id, limit=10, **filters)  # type: ignore[arg-type]

    assert await names(uow_factory, query(tags=["vip"])) == ["vip", "both"]
    assert await names(uow_factory, query(tags=["vip", "news"])) == ["both"]
    assert await names(uow_factory, query(attributes={"city": "London"})) == ["vip"]
    assert await names(uow_factory, query(tags=["vip"], attributes={"city": "Berlin"})) == ["both"]
    assert await names(uow_factory, query(attributes={"city": "Paris"})) == []
    assert await names(uow_factory, query(attributes={"plan": "gold"})) == []


async def test_an_audience_is_walked_by_identity_in_batches(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    numbers = [PhoneNumber.parse(f"+4915112345{n:03d}") for n in range(7)]
    await add(
        uow_factory,
        *(
            contact(
                tenant, number, tags=frozenset({"vip"} if n % 2 == 0 else set()), attributes={"n": str(n)}
            )
            for n, number in enumerate(reversed(numbers))
        ),
    )

    walked: list[str] = []
    after: str | None = None
    async with uow_factory() as uow:
        while batch := await uow.contacts.audience_batch(
            tenant.id, tags=["vip"], attributes={}, after_identity=after, limit=2
        ):
            walked += [c.identity for c in batch]
            after = batch[-1].identity
        everyone = await uow.contacts.audience_batch(
            tenant.id, tags=[], attributes={}, after_identity=None, limit=100
        )
        one = await uow.contacts.audience_batch(
            tenant.id, tags=[], attributes={"n": "3"}, after_identity=None, limit=100
        )

    vip = sorted(c.identity for c in everyone if "vip" in c.tags)
    assert walked == vip
    assert len(vip) == 4
    assert [c.identity for c in everyone] == sorted(n.identity for n in numbers)
    assert [c.attributes["n"] for c in one] == ["3"]


async def test_attribute_keys_are_every_key_any_contact_has(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    await add(
        uow_factory,
        contact(tenant, BERLIN, attributes={"city": "Berlin", "plan": "gold"}),
        contact(tenant, LONDON, attributes={"city": "London", "age_band": "30s"}),
        contact(tenant, MEXICO_PLAN),
    )
    async with uow_factory() as uow:
        assert await uow.contacts.attribute_keys(tenant.id) == ["age_band", "city", "plan"]


# ------------------------------------------------------------------------------------ kept by messages


async def test_an_inbound_message_creates_its_contact_with_the_profile_name(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    message = replace(inbound(tenant, contact=MEXICO_WHATSAPP), profile_name="Ana")

    async with uow_factory() as uow:
        await uow.contacts.record_message(message)
        await uow.commit()

    async with uow_factory() as uow:
        found = await uow.contacts.get_many(tenant.id, [MEXICO_PLAN.identity])
    created = found[MEXICO_PLAN.identity]
    assert (created.phone_number, created.profile_name, created.name) == (MEXICO_WHATSAPP.e164, "Ana", None)
    assert created.created_at == created.updated_at == message.created_at


async def test_a_later_message_from_another_form_moves_the_number_and_the_profile_name(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    ana = contact(tenant, MEXICO_WHATSAPP, name="Ana García", tags=frozenset({"vip"}))
    await add(uow_factory, ana)
    later = T0 + timedelta(hours=2)
    async with uow_factory() as uow:
        await uow.contacts.record_message(
            replace(inbound(tenant, contact=MEXICO_PLAN, at=later), profile_name="Ana G")
        )
        # a message without a profile name keeps the one the contact has
        await uow.contacts.record_message(
            inbound(tenant, contact=MEXICO_PLAN, at=later + timedelta(minutes=1))
        )
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.contacts.get(tenant.id, ana.id) == replace(
            ana, phone_number=MEXICO_PLAN.e164, profile_name="Ana G", updated_at=later
        )


async def test_a_message_that_changes_nothing_leaves_the_contact_as_it_was(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    ana = replace(contact(tenant, BERLIN), profile_name="Ana")
    await add(uow_factory, ana)
    async with uow_factory() as uow:
        later = T0 + timedelta(hours=1)
        await uow.contacts.record_message(
            replace(inbound(tenant, contact=BERLIN, at=later), profile_name="Ana")
        )
        await uow.contacts.record_message(outbound(tenant, contact=BERLIN, at=later))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.contacts.get(tenant.id, ana.id) == ana


async def test_an_outbound_message_to_a_new_number_creates_its_contact(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    async with uow_factory() as uow:
        await uow.contacts.record_message(outbound(tenant, contact=LONDON))
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.contacts.get_many(tenant.id, [LONDON.identity])
    assert [(c.phone_number, c.profile_name, c.name) for c in found.values()] == [(LONDON.e164, None, None)]


async def test_a_message_for_a_tenant_that_does_not_exist_is_refused(uow_factory: UowFactory) -> None:
    ghost = Tenant(name="ghost", provider=(await add_tenant(uow_factory)).provider, created_at=T0, id=uuid4())
    with pytest.raises(NotFound):
        async with uow_factory() as uow:
            await uow.contacts.record_message(outbound(ghost, contact=LONDON))
