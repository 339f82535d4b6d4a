"""The repository contract of a tenant's template catalogue: its templates by name and language, and
their listings per provider account (or the sandbox), on the fakes, SQLite and PostgreSQL alike (see
conftest.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from application.errors import AlreadyExists, NotFound
from application.ports.templates import ListingAt, TemplateQuery
from domain.administration.tenancy import ProviderName, Tenant
from domain.templates.catalogue import TemplateQuality, TemplateStatus
from domain.templates.definition import TemplateDefinition
from tests.support.databases import UowFactory
from tests.support.repositories import T0
from tests.support.repositories.access import add_tenant
from tests.support.repositories.templates import (
    LOGIN_CODE,
    ORDER_UPDATE,
    WELCOME,
    add_meta_account,
    add_template,
    catalogue_template,
    meta_listing,
    named,
    sandbox_listing,
)

LATER = T0 + timedelta(hours=3)


async def page(uow_factory: UowFactory, query: TemplateQuery) -> list[tuple[str, str]]:
    async with uow_factory() as uow:
        return [template.definition.key for template in await uow.templates.list_page(query)]


# ----------------------------------------------------------------------------------------- templates


async def test_a_template_reads_back_whole_by_id_and_by_name_and_language(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    account = await add_meta_account(uow_factory, tenant)
    listed_at_meta = replace(
        meta_listing(account, TemplateStatus.REJECTED), rejection_reason="INVALID_FORMAT", quality=None
    )
    # written account first: it reads back with the sandbox's listing first
    template = await add_template(uow_factory, tenant, ORDER_UPDATE, listed_at_meta, sandbox_listing())

    async with uow_factory() as uow:
        by_id = await uow.templates.get(tenant.id, template.id)
        by_key = await uow.templates.find(tenant.id, "order_update", "pt_BR")

    assert by_id == by_key == replace(template, listings=(template.listings[1], listed_at_meta))
    assert by_id is not None
    assert by_id.definition == ORDER_UPDATE
    assert by_id.definition.examples == (("2", "#1234"), ("1", "Ana"), ("3", "1234")), "in their order"


@pytest.mark.parametrize("definition", [WELCOME, LOGIN_CODE], ids=["named variables", "a copy-code button"])
async def test_every_kind_of_definition_reads_back_as_it_was_written(
    uow_factory: UowFactory, definition: TemplateDefinition
) -> None:
    tenant = await add_tenant(uow_factory)
    template = await add_template(uow_factory, tenant, definition)

    async with uow_factory() as uow:
        assert await uow.templates.get(tenant.id, template.id) == template


async def test_timestamps_read_back_in_utc(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    sao_paulo = timezone(timedelta(hours=-3))
    listing = replace(sandbox_listing(), status_changed_at=LATER.astimezone(sao_paulo))
    template = replace(
        catalogue_template(tenant, ORDER_UPDATE, listing),
        created_at=T0.astimezone(sao_paulo),
        updated_at=LATER.astimezone(sao_paulo),
    )
    async with uow_factory() as uow:
        await uow.templates.add(template)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.templates.get(tenant.id, template.id)

    assert stored is not None
    assert (stored.created_at, stored.updated_at, stored.listings[0].status_changed_at) == (T0, LATER, LATER)
    assert stored.created_at.utcoffset() == stored.listings[0].status_changed_at.utcoffset() == timedelta(0)


async def test_another_tenant_cannot_read_change_or_remove_a_template(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    template = await add_template(uow_factory, acme, ORDER_UPDATE, sandbox_listing())

    async with uow_factory() as uow:
        assert await uow.templates.get(globex.id, template.id) is None
        assert await uow.templates.find(globex.id, "order_update", "pt_BR") is None
        assert await uow.templates.list_all(globex.id) == []
        assert await uow.templates.list_page(TemplateQuery(globex.id, limit=10)) == []
        with pytest.raises(NotFound):
            await uow.templates.update(replace(template, tenant_id=globex.id))
        assert not await uow.templates.remove(globex.id, template.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.templates.get(acme.id, template.id) == template


async def test_a_tenant_has_one_template_of_a_name_in_a_language(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    await add_template(uow_factory, acme, ORDER_UPDATE)

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.templates.add(catalogue_template(acme, replace(ORDER_UPDATE, body="Another text")))

    # the same name in another language, and the same name and language at another tenant, are others
    await add_template(uow_factory, acme, named(ORDER_UPDATE, "order_update", "es"))
    await add_template(uow_factory, globex, ORDER_UPDATE)
    async with uow_factory() as uow:
        assert len(await uow.templates.list_all(acme.id)) == 2
        assert len(await uow.templates.list_all(globex.id)) == 1


async def test_a_template_is_added_once(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    template = await add_template(uow_factory, tenant, ORDER_UPDATE)

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.templates.add(replace(template, definition=WELCOME))


async def test_a_template_needs_its_tenant(uow_factory: UowFactory) -> None:
    orphan = replace(await add_tenant(uow_factory), id=uuid4())

    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.templates.add(catalogue_template(orphan, ORDER_UPDATE))


async def test_an_uncommitted_template_is_gone(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)

    async with uow_factory() as uow:
        await uow.templates.add(catalogue_template(tenant, ORDER_UPDATE, sandbox_listing()))

    async with uow_factory() as uow:
        assert await uow.templates.list_all(tenant.id) == []


# ----------------------------------------------------------------------------------------- listings


async def test_a_template_is_listed_once_per_account_and_once_in_the_sandbox(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    account = await add_meta_account(uow_factory, tenant)

    for listings in (
        (sandbox_listing(), sandbox_listing()),
        (meta_listing(account), meta_listing(account)),
    ):
        async with uow_factory() as uow:
            with pytest.raises(AlreadyExists):
                await uow.templates.add(catalogue_template(tenant, ORDER_UPDATE, *listings))


async def test_a_providers_template_is_listed_once_across_tenants(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    acme_account, globex_account = (
        await add_meta_account(uow_factory, acme),
        await add_meta_account(uow_factory, globex),
    )
    await add_template(uow_factory, acme, ORDER_UPDATE, meta_listing(acme_account, provider_template_id="1"))

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.templates.add(
                catalogue_template(
                    globex, ORDER_UPDATE, meta_listing(globex_account, provider_template_id="1")
                )
            )
    # the same id at another provider is another template
    await add_template(uow_factory, globex, ORDER_UPDATE, sandbox_listing(provider_template_id="1"))


async def test_a_template_is_listed_only_on_its_own_tenants_accounts(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    globex_account = await add_meta_account(uow_factory, globex)
    gone = replace(globex_account, id=uuid4(), tenant_id=acme.id)

    for account in (globex_account, gone):
        async with uow_factory() as uow:
            with pytest.raises(NotFound):
                await uow.templates.add(catalogue_template(acme, ORDER_UPDATE, meta_listing(account)))

    async with uow_factory() as uow:
        assert await uow.templates.list_all(acme.id) == []


async def test_an_update_stores_the_definition_and_the_listings_as_they_are_now(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    account = await add_meta_account(uow_factory, tenant)
    pending = meta_listing(account)
    template = await add_template(uow_factory, tenant, ORDER_UPDATE, sandbox_listing(), pending)

    approved = replace(
        pending.with_status(TemplateStatus.APPROVED, None, LATER), quality=TemplateQuality.HIGH
    )
    changed = replace(
        template.with_listing(approved, LATER).without_listing(None, LATER),
        definition=replace(ORDER_UPDATE, footer=None, buttons=()),
    )
    async with uow_factory() as uow:
        await uow.templates.update(changed)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.templates.get(tenant.id, template.id)
        assert (
            await uow.templates.with_provider_id(
                ProviderName.SANDBOX, template.listings[0].provider_template_id
            )
            is None
        )
    assert stored == changed
    assert stored is not None
    assert stored.listings == (approved,)
    assert (stored.created_at, stored.updated_at) == (T0, LATER)


async def test_an_update_may_rename_a_template_but_not_onto_another(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    await add_template(uow_factory, tenant, WELCOME)
    template = await add_template(uow_factory, tenant, ORDER_UPDATE)

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.templates.update(replace(template, definition=WELCOME))

    renamed = replace(template, definition=named(ORDER_UPDATE, "shipping_update"))
    async with uow_factory() as uow:
        await uow.templates.update(renamed)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.templates.find(tenant.id, "shipping_update", "pt_BR") == renamed
        assert await uow.templates.find(tenant.id, "order_update", "pt_BR") is None


async def test_updating_a_template_that_is_gone_is_not_found(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)

    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.templates.update(catalogue_template(tenant, ORDER_UPDATE, sandbox_listing()))


async def test_a_removed_template_takes_its_listings_and_frees_its_provider_ids(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    listing = sandbox_listing()
    template = await add_template(uow_factory, tenant, ORDER_UPDATE, listing)

    async with uow_factory() as uow:
        assert await uow.templates.remove(tenant.id, template.id)
        assert not await uow.templates.remove(tenant.id, template.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.templates.get(tenant.id, template.id) is None
        assert (
            await uow.templates.with_provider_id(ProviderName.SANDBOX, listing.provider_template_id) is None
        )
    await add_template(uow_factory, tenant, ORDER_UPDATE, listing)


async def test_a_removed_provider_account_takes_its_listings_and_leaves_the_rest(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    first, second = await add_meta_account(uow_factory, tenant), await add_meta_account(uow_factory, tenant)
    sandbox = sandbox_listing()
    template = await add_template(
        uow_factory, tenant, ORDER_UPDATE, meta_listing(first), meta_listing(second), sandbox
    )

    async with uow_factory() as uow:
        assert await uow.provider_accounts.remove(tenant.id, first.id)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.templates.get(tenant.id, template.id)
    assert stored is not None
    assert {listing.account_id for listing in stored.listings} == {None, second.id}
    assert stored.listing_for(None) == sandbox
    assert stored.definition == template.definition


# ----------------------------------------------------------------------------------------- finding


async def test_a_providers_webhook_finds_the_template_of_whichever_tenant_lists_it(
    uow_factory: UowFactory,
) -> None:
    acme, globex = await add_tenant(uow_factory), await add_tenant(uow_factory)
    acme_account, globex_account = (
        await add_meta_account(uow_factory, acme),
        await add_meta_account(uow_factory, globex),
    )
    acme_template = await add_template(
        uow_factory,
        acme,
        ORDER_UPDATE,
        meta_listing(acme_account, provider_template_id="1001"),
        sandbox_listing(),
    )
    globex_template = await add_template(
        uow_factory, globex, ORDER_UPDATE, meta_listing(globex_account, provider_template_id="2002")
    )

    async with uow_factory() as uow:  # no tenant known: as a webhook is handled
        found_acme = await uow.templates.with_provider_id(ProviderName.META, "1001")
        found_globex = await uow.templates.with_provider_id(ProviderName.META, "2002")
        assert await uow.templates.with_provider_id(ProviderName.META, "3003") is None
        assert await uow.templates.with_provider_id(ProviderName.TWILIO, "1001") is None

    assert found_acme is not None
    assert found_acme == replace(
        acme_template, listings=(acme_template.listings[1], acme_template.listings[0])
    )
    assert found_globex == globex_template


# ----------------------------------------------------------------------------------------- pages


async def test_the_catalogue_pages_by_name_then_language_in_code_point_order(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    # By code point, whatever the database's collation: capitals first, and '_' before letters (an
    # English collation puts "Orders" after "orders"; glibc's ignores the '_' of "order_update").
    keys = [
        ("orders", "en"),
        ("order_update", "pt_BR"),
        ("Orders", "en"),
        ("order_update", "en_US"),
        ("order_update", "en"),
        ("alert", "es"),
    ]
    for name, language in keys:
        await add_template(uow_factory, tenant, named(ORDER_UPDATE, name, language))
    expected = [
        ("Orders", "en"),
        ("alert", "es"),
        ("order_update", "en"),
        ("order_update", "en_US"),
        ("order_update", "pt_BR"),
        ("orders", "en"),
    ]

    first = await page(uow_factory, TemplateQuery(tenant.id, limit=2))
    second = await page(uow_factory, TemplateQuery(tenant.id, limit=2, after=first[-1]))
    third = await page(uow_factory, TemplateQuery(tenant.id, limit=2, after=second[-1]))
    rest = await page(uow_factory, TemplateQuery(tenant.id, limit=2, after=third[-1]))

    assert [first, second, third, rest] == [expected[0:2], expected[2:4], expected[4:6], []]
    async with uow_factory() as uow:
        assert [template.definition.key for template in await uow.templates.list_all(tenant.id)] == expected


async def test_a_page_keeps_the_templates_of_a_name(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    for name, language in (("order_update", "en"), ("order_update", "es"), ("orders", "en")):
        await add_template(uow_factory, tenant, named(ORDER_UPDATE, name, language))

    assert await page(uow_factory, TemplateQuery(tenant.id, limit=10, name="order_update")) == [
        ("order_update", "en"),
        ("order_update", "es"),
    ]
    assert await page(uow_factory, TemplateQuery(tenant.id, limit=10, name="order")) == []


async def test_a_page_by_status_keeps_the_templates_with_a_listing_in_that_status(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    account = await add_meta_account(uow_factory, tenant)
    await add_template(
        uow_factory,
        tenant,
        named(ORDER_UPDATE, "approved_in_the_sandbox"),
        sandbox_listing(TemplateStatus.APPROVED),
        meta_listing(account, TemplateStatus.PENDING),
    )
    await add_template(uow_factory, tenant, named(ORDER_UPDATE, "pending"), meta_listing(account))
    await add_template(uow_factory, tenant, named(ORDER_UPDATE, "unlisted"))

    def by_status(status: TemplateStatus) -> TemplateQuery:
        return TemplateQuery(tenant.id, limit=10, status=status)

    assert await page(uow_factory, by_status(TemplateStatus.APPROVED)) == [
        ("approved_in_the_sandbox", "pt_BR")
    ]
    assert await page(uow_factory, by_status(TemplateStatus.PENDING)) == [
        ("approved_in_the_sandbox", "pt_BR"),
        ("pending", "pt_BR"),
    ]
    assert await page(uow_factory, by_status(TemplateStatus.REJECTED)) == []
    # each template once, with all its listings
    async with uow_factory() as uow:
        [both] = await uow.templates.list_page(by_status(TemplateStatus.APPROVED))
    assert len(both.listings) == 2


async def test_a_page_by_account_keeps_the_templates_listed_there_in_the_status_asked(
    uow_factory: UowFactory,
) -> None:
    tenant = await add_tenant(uow_factory)
    ours, other = await add_meta_account(uow_factory, tenant), await add_meta_account(uow_factory, tenant)
    await add_template(
        uow_factory,
        tenant,
        named(ORDER_UPDATE, "approved_here_pending_there"),
        meta_listing(ours, TemplateStatus.APPROVED),
        meta_listing(other, TemplateStatus.PENDING),
    )
    await add_template(
        uow_factory,
        tenant,
        named(ORDER_UPDATE, "approved_there"),
        meta_listing(other, TemplateStatus.APPROVED),
    )
    await add_template(
        uow_factory,
        tenant,
        named(ORDER_UPDATE, "pending_here_approved_in_the_sandbox"),
        meta_listing(ours, TemplateStatus.PENDING),
        sandbox_listing(TemplateStatus.APPROVED),
    )

    def approved_at(provider: ProviderName, account_id: UUID | None) -> TemplateQuery:
        at = ListingAt(provider, account_id)
        return TemplateQuery(tenant.id, limit=10, status=TemplateStatus.APPROVED, listed_at=at)

    assert await page(uow_factory, approved_at(ProviderName.META, ours.id)) == [
        ("approved_here_pending_there", "pt_BR")
    ]
    assert await page(uow_factory, approved_at(ProviderName.META, other.id)) == [("approved_there", "pt_BR")]
    assert await page(uow_factory, approved_at(ProviderName.SANDBOX, None)) == [
        ("pending_here_approved_in_the_sandbox", "pt_BR")
    ]
    # the account's listing, whatever its status, when no status is asked
    anywhere_here = TemplateQuery(tenant.id, limit=10, listed_at=ListingAt(ProviderName.META, ours.id))
    assert await page(uow_factory, anywhere_here) == [
        ("approved_here_pending_there", "pt_BR"),
        ("pending_here_approved_in_the_sandbox", "pt_BR"),
    ]
    # another provider at the same account lists nothing
    assert await page(uow_factory, approved_at(ProviderName.TWILIO, ours.id)) == []


# ------------------------------------------------------------------------- the periodic sync's claims

EVERY = timedelta(minutes=15)


async def claim(uow_factory: UowFactory, tenant: Tenant, now: datetime, every: timedelta = EVERY) -> bool:
    async with uow_factory() as uow:
        claimed = await uow.templates.claim_sync(tenant.id, now, every)
        await uow.commit()
    return claimed


async def test_a_tenants_sync_is_claimed_once_per_interval(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)

    assert await claim(uow_factory, tenant, T0), "never claimed: the first claim takes it"
    assert not await claim(uow_factory, tenant, T0)
    assert not await claim(uow_factory, tenant, T0 + EVERY - timedelta(microseconds=1))
    # the same moment in another offset: one interval after the claim
    assert await claim(uow_factory, tenant, (T0 + EVERY).astimezone(timezone(timedelta(hours=-3))))
    assert not await claim(uow_factory, tenant, T0 + EVERY + timedelta(minutes=1)), "dated anew"
    assert await claim(uow_factory, tenant, T0 + 2 * EVERY)


async def test_one_tenants_claim_leaves_the_others_to_claim(uow_factory: UowFactory) -> None:
    acme, globex = await add_tenant(uow_factory, "acme"), await add_tenant(uow_factory, "globex")

    assert await claim(uow_factory, acme, T0)

    assert await claim(uow_factory, globex, T0)
    assert not await claim(uow_factory, acme, T0 + timedelta(minutes=1))


async def test_a_claim_rolled_back_claims_nothing(uow_factory: UowFactory) -> None:
    tenant = await add_tenant(uow_factory)
    async with uow_factory() as uow:
        assert await uow.templates.claim_sync(tenant.id, T0, EVERY)  # and no commit

    assert await claim(uow_factory, tenant, T0)


async def test_of_claims_racing_for_one_tenant_exactly_one_wins(uow_factory: UowFactory) -> None:
    """Every process claims each tenant at each round; on SQL they race between connections (the fake
    runs their blocks one after the other)."""
    acme, globex = await add_tenant(uow_factory, "acme"), await add_tenant(uow_factory, "globex")
    assert await claim(uow_factory, globex, T0)

    never_claimed = await asyncio.gather(*(claim(uow_factory, acme, T0) for _ in range(4)))
    due_again = await asyncio.gather(*(claim(uow_factory, globex, T0 + EVERY) for _ in range(4)))

    assert sorted(never_claimed) == sorted(due_again) == [False, False, False, True]


async def test_claiming_the_sync_of_a_tenant_that_is_gone_is_not_found(uow_factory: UowFactory) -> None:
    gone = Tenant(name="gone", provider=ProviderName.SANDBOX, created_at=T0)

    with pytest.raises(NotFound):
        await claim(uow_factory, gone, T0)
