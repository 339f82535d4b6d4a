"""The catalogue kept in step with the providers: what a sync finds at each account (decisions, quality,
templates made or deleted in a provider's console), a provider's status webhook, and the events and
audit entries each status change leaves."""

from __future__ import annotations

import asyncio
import builtins
import json
from dataclasses import replace
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from application.errors import AccessDenied
from application.ports.templates import RemoteTemplate, TemplateStatusUpdate
from application.templates.catalogue import CreateTemplate, CreateTemplateCommand
from application.templates.sync import (
    ApplyTemplateStatusUpdate,
    SyncAllTemplates,
    SyncTemplates,
)
from domain.administration.audit import ActorKind, AuditAction
from domain.administration.tenancy import ProviderAccount, ProviderName
from domain.templates.catalogue import CatalogueTemplate, TemplateQuality, TemplateStatus
from domain.tenant_webhooks.model import WebhookEndpoint, WebhookEventType
from tests.support.fakes import FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.template_providers import (
    FakeTemplateProviders,
    add_meta,
    add_twilio,
    agent_of,
    order_shipped,
    welcome,
)
from tests.support.use_cases import admin_of

# TEMPLATE_SYNC_SECONDS, as the periodic sync is given it.
INTERVAL = timedelta(minutes=15)


@pytest.fixture
def providers() -> FakeTemplateProviders:
    return FakeTemplateProviders()


@pytest.fixture
def sync(uow: FakeUnitOfWork, providers: FakeTemplateProviders, clock: FixedClock) -> SyncTemplates:
    return SyncTemplates(uow, providers, clock)


@pytest.fixture
async def meta(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> ProviderAccount:
    return await add_meta(uow, clock, acme)


async def subscribe(uow: FakeUnitOfWork, clock: FixedClock, account: TenantAccount) -> None:
    """A webhook endpoint of the tenant's that hears of template statuses."""
    endpoint = WebhookEndpoint.new(
        tenant_id=account.tenant.id,
        url="https://crm.example.com/hooks",
        events=[WebhookEventType.TEMPLATE_STATUS],
        now=clock.now(),
    )
    await uow.webhook_endpoints.add(endpoint, "whsec_" + "A" * 43 + "=", at_most=10)


def status_events(uow: FakeUnitOfWork) -> list[dict[str, object]]:
    return [
        json.loads(delivery.payload)["data"]
        for delivery in uow.webhook_deliveries.all()
        if delivery.event_type is WebhookEventType.TEMPLATE_STATUS
    ]


async def created(
    uow: FakeUnitOfWork, providers: FakeTemplateProviders, clock: FixedClock, account: TenantAccount
) -> CatalogueTemplate:
    return await CreateTemplate(uow, providers, clock)(
        admin_of(account), CreateTemplateCommand(order_shipped())
    )


async def test_a_sync_brings_the_providers_decisions_with_an_event_and_an_audit_entry_each(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    sync: SyncTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    await subscribe(uow, clock, acme)
    template = await created(uow, providers, clock, acme)
    providers.decide(meta.id, "order_shipped", TemplateStatus.REJECTED, reason="INVALID_FORMAT")
    clock.advance(timedelta(minutes=5))

    report = await sync(admin_of(acme))

    [account] = report.accounts
    assert (account.account_id, account.changed, account.reached) == (meta.id, 1, True)
    synced = await uow.templates.get(acme.tenant.id, template.id)
    assert synced is not None
    listing = synced.listing_for(meta.id)
    assert listing is not None
    assert (listing.status, listing.rejection_reason, listing.status_changed_at) == (
        TemplateStatus.REJECTED,
        "INVALID_FORMAT",
        clock.now(),
    )
    assert status_events(uow) == [
        {
            "id": str(template.id),
            "name": "order_shipped",
            "language": "en_US",
            "provider": "meta",
            "account_id": str(meta.id),
            "status": "rejected",
            "previous_status": "pending",
            "reason": "INVALID_FORMAT",
            "quality": None,
        }
    ]
    [entry] = [e for e in uow.audit.all() if e.action is AuditAction.TEMPLATE_STATUS_CHANGED]
    assert entry.actor.kind is ActorKind.SYSTEM
    assert (entry.details["status"], entry.details["previous_status"]) == ("rejected", "pending")


async def test_a_sync_with_nothing_new_changes_nothing_and_tells_no_one(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    sync: SyncTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    await subscribe(uow, clock, acme)
    template = await created(uow, providers, clock, acme)

    [account] = (await sync(admin_of(acme))).accounts

    assert (account.changed, account.added, account.removed) == (0, 0, 0)
    assert await uow.templates.get(acme.tenant.id, template.id) == template
    assert status_events(uow) == []


async def test_a_quality_change_is_kept_without_a_status_event(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    sync: SyncTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    await subscribe(uow, clock, acme)
    template = await created(uow, providers, clock, acme)
    providers.decide(meta.id, "order_shipped", TemplateStatus.PENDING, quality=TemplateQuality.LOW)

    await sync(admin_of(acme))

    synced = await uow.templates.get(acme.tenant.id, template.id)
    assert synced is not None
    listing = synced.listing_for(meta.id)
    assert listing is not None
    assert listing.quality is TemplateQuality.LOW
    assert status_events(uow) == []


async def test_templates_made_in_the_console_join_the_catalogue_and_those_deleted_there_leave_it(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    sync: SyncTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    template = await created(uow, providers, clock, acme)
    providers.make_in_console(meta.id, welcome())
    providers.make_in_console(meta.id, None, name="carousel_offer")  # a shape the gateway cannot read
    providers.delete_in_console(meta.id, "order_shipped")

    [account] = (await sync(admin_of(acme))).accounts

    assert (account.added, account.removed) == (1, 1)
    catalogue = await uow.templates.list_all(acme.tenant.id)
    assert [t.definition.key for t in catalogue] == [("welcome", "en_US")]
    assert catalogue[0].definition == welcome()
    assert await uow.templates.get(acme.tenant.id, template.id) is None


async def test_a_template_deleted_at_one_account_keeps_its_listing_at_the_others(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    sync: SyncTemplates,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    twilio = await add_twilio(uow, clock, acme)
    meta = await add_meta(uow, clock, acme)
    template = await created(uow, providers, clock, acme)
    providers.delete_in_console(meta.id, "order_shipped")

    await sync(admin_of(acme))

    synced = await uow.templates.get(acme.tenant.id, template.id)
    assert synced is not None
    assert [listing.account_id for listing in synced.listings] == [twilio.id]


async def test_a_template_already_in_the_catalogue_gains_the_listing_of_another_account(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    sync: SyncTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    template = await CreateTemplate(uow, providers, clock)(
        admin_of(acme), CreateTemplateCommand(order_shipped(), accounts=(None,))
    )
    providers.make_in_console(meta.id, order_shipped())

    await sync(admin_of(acme))

    synced = await uow.templates.get(acme.tenant.id, template.id)
    assert synced is not None
    assert {listing.provider for listing in synced.listings} == {ProviderName.SANDBOX, ProviderName.META}


async def test_an_account_whose_provider_does_not_answer_is_reported_and_left_as_it_was(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    sync: SyncTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    template = await created(uow, providers, clock, acme)
    providers.unavailable.add(meta.id)

    report = await sync(admin_of(acme))

    [account] = report.unreachable
    assert account.account_id == meta.id
    assert account.error == "timed out"
    assert await uow.templates.get(acme.tenant.id, template.id) == template


async def test_the_sandboxs_templates_are_left_alone_by_a_sync(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    sync: SyncTemplates,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    template = await created(uow, providers, clock, acme)

    report = await sync(admin_of(acme))

    assert report.accounts == ()
    assert await uow.templates.get(acme.tenant.id, template.id) == template


async def test_only_tenant_admins_sync(sync: SyncTemplates, acme: TenantAccount) -> None:
    with pytest.raises(AccessDenied):
        await sync(agent_of(acme))


async def test_the_periodic_sync_covers_every_tenant_and_one_failing_tenant_stops_no_other(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    sync: SyncTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    acme_meta = await add_meta(uow, clock, acme)
    globex_meta = await add_meta(uow, clock, globex)
    await created(uow, providers, clock, acme)
    theirs = await created(uow, providers, clock, globex)
    providers.unavailable.add(acme_meta.id)
    providers.decide(globex_meta.id, "order_shipped", TemplateStatus.APPROVED)

    report = await SyncAllTemplates(uow, sync, clock, INTERVAL)()

    assert (report.tenants, report.unreachable_accounts, report.failed_tenants) == (2, 1, 0)
    synced = await uow.templates.get(globex.tenant.id, theirs.id)
    assert synced is not None
    listing = synced.listing_for(globex_meta.id)
    assert listing is not None
    assert listing.status is TemplateStatus.APPROVED


class AnsweringLater(FakeTemplateProviders):
    """Lets other tasks run before each list it answers, as a provider's network round trip does: two
    processes' rounds then interleave, one's provider calls in between the other's steps."""

    async def list(self, account: ProviderAccount | None) -> builtins.list[RemoteTemplate]:
        await asyncio.sleep(0)
        return await super().list(account)


class Process:
    """One gateway process's periodic sync: its own units of work, on the database every process shares."""

    def __init__(self, uow: FakeUnitOfWork, providers: FakeTemplateProviders, clock: FixedClock) -> None:
        own = FakeUnitOfWork(uow.database)
        self.sync_all = SyncAllTemplates(own, SyncTemplates(own, providers, clock), clock, INTERVAL)


def lists(providers: FakeTemplateProviders) -> list[UUID]:
    """The accounts whose templates were listed, in order, once per call."""
    return [account for method, account, _ in providers.calls if method == "list" and account is not None]


async def test_two_processes_syncing_at_once_sync_each_tenant_once(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    providers = AnsweringLater()
    accounts = [await add_meta(uow, clock, tenant) for tenant in (acme, globex)]
    for tenant, account in zip((acme, globex), accounts, strict=True):
        await subscribe(uow, clock, tenant)
        await created(uow, providers, clock, tenant)
        providers.decide(account.id, "order_shipped", TemplateStatus.APPROVED)

    reports = await asyncio.gather(
        Process(uow, providers, clock).sync_all(), Process(uow, providers, clock).sync_all()
    )

    assert sorted(lists(providers)) == sorted(account.id for account in accounts)
    assert sum(report.tenants for report in reports) == 2
    assert all(report.tenants == 1 for report in reports), "each took one tenant while the other waited"
    assert [(event["name"], event["status"]) for event in status_events(uow)] == [
        ("order_shipped", "approved"),
        ("order_shipped", "approved"),
    ]
    changes = [e for e in uow.audit.all() if e.action is AuditAction.TEMPLATE_STATUS_CHANGED]
    assert sorted(entry.tenant_id for entry in changes if entry.tenant_id) == sorted(
        (acme.tenant.id, globex.tenant.id)
    )


async def test_a_round_within_the_interval_leaves_the_tenants_alone_and_one_after_it_syncs_them_again(
    uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount, globex: TenantAccount
) -> None:
    providers = FakeTemplateProviders()
    accounts = [await add_meta(uow, clock, tenant) for tenant in (acme, globex)]
    first, second = Process(uow, providers, clock), Process(uow, providers, clock)
    assert (await first.sync_all()).tenants == 2

    clock.advance(INTERVAL - timedelta(seconds=1))
    assert (await second.sync_all()).tenants == 0
    assert (await first.sync_all()).tenants == 0
    assert len(lists(providers)) == 2

    clock.advance(timedelta(seconds=1))
    assert (await second.sync_all()).tenants == 2
    assert sorted(lists(providers)[2:]) == sorted(account.id for account in accounts)


async def test_a_tenants_sync_on_demand_is_not_held_back_by_the_periodic_round(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    sync: SyncTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    template = await created(uow, providers, clock, acme)
    await Process(uow, providers, clock).sync_all()
    providers.decide(meta.id, "order_shipped", TemplateStatus.APPROVED)

    report = await sync(admin_of(acme))

    assert [account.changed for account in report.accounts] == [1]
    synced = await uow.templates.get(acme.tenant.id, template.id)
    assert synced is not None
    listing = synced.listing_for(meta.id)
    assert listing is not None
    assert listing.status is TemplateStatus.APPROVED


# -------------------------------------------------------------------------------- status webhooks


def update_for(
    template: CatalogueTemplate,
    meta: ProviderAccount,
    clock: FixedClock,
    status: TemplateStatus | None,
    *,
    quality: TemplateQuality | None = None,
    reason: str | None = None,
) -> TemplateStatusUpdate:
    listing = template.listing_for(meta.id)
    assert listing is not None
    return TemplateStatusUpdate(
        provider=ProviderName.META,
        business_account_id="102290129340398",
        provider_template_id=listing.provider_template_id,
        name=template.definition.name,
        language=template.definition.language,
        status=status,
        reason=reason,
        quality=quality,
        at=clock.now(),
    )


async def test_a_status_webhook_changes_the_listing_once_however_often_it_comes(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    await subscribe(uow, clock, acme)
    template = await created(uow, providers, clock, acme)
    clock.advance(timedelta(minutes=1))
    update = update_for(template, meta, clock, TemplateStatus.APPROVED)
    apply = ApplyTemplateStatusUpdate(uow, clock)

    assert await apply(update, frozenset({meta.id})) is True
    assert await apply(update, frozenset({meta.id})) is False

    synced = await uow.templates.get(acme.tenant.id, template.id)
    assert synced is not None
    listing = synced.listing_for(meta.id)
    assert listing is not None
    assert (listing.status, listing.status_changed_at) == (TemplateStatus.APPROVED, update.at)
    assert [event["status"] for event in status_events(uow)] == ["approved"]
    assert len([e for e in uow.audit.all() if e.action is AuditAction.TEMPLATE_STATUS_CHANGED]) == 1


async def test_a_quality_webhook_changes_the_quality_only(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    template = await created(uow, providers, clock, acme)

    changed = await ApplyTemplateStatusUpdate(uow, clock)(
        update_for(template, meta, clock, None, quality=TemplateQuality.MEDIUM), frozenset({meta.id})
    )

    assert changed is True
    synced = await uow.templates.get(acme.tenant.id, template.id)
    assert synced is not None
    listing = synced.listing_for(meta.id)
    assert listing is not None
    assert (listing.status, listing.quality) == (TemplateStatus.PENDING, TemplateQuality.MEDIUM)


async def test_an_older_status_than_the_catalogues_is_ignored(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    template = await created(uow, providers, clock, acme)
    stale = update_for(template, meta, clock, TemplateStatus.REJECTED, reason="old news")
    stale = replace(stale, at=clock.now() - timedelta(hours=1))

    assert await ApplyTemplateStatusUpdate(uow, clock)(stale, frozenset({meta.id})) is False


async def test_a_webhook_for_a_template_the_catalogue_does_not_know_is_ignored(
    uow: FakeUnitOfWork, clock: FixedClock
) -> None:
    update = TemplateStatusUpdate(
        provider=ProviderName.META,
        business_account_id="102290129340398",
        provider_template_id="999",
        name="made_in_the_console",
        language="en_US",
        status=TemplateStatus.APPROVED,
        reason=None,
        quality=None,
        at=clock.now(),
    )

    assert await ApplyTemplateStatusUpdate(uow, clock)(update, frozenset({uuid4()})) is False
    assert uow.audit.all() == []


async def test_a_webhook_proven_for_another_account_changes_nothing(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    template = await created(uow, providers, clock, acme)
    update = update_for(template, meta, clock, TemplateStatus.DISABLED)

    assert await ApplyTemplateStatusUpdate(uow, clock)(update, frozenset({uuid4()})) is False
    assert await uow.templates.get(acme.tenant.id, template.id) == template


async def test_an_unrated_quality_and_a_reason_without_a_rejection_are_no_change(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    sync: SyncTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    await subscribe(uow, clock, acme)
    template = await created(uow, providers, clock, acme)
    providers.decide(
        meta.id, "order_shipped", TemplateStatus.PENDING, reason="NONE", quality=TemplateQuality.UNKNOWN
    )

    [account] = (await sync(admin_of(acme))).accounts

    assert account.changed == 0
    assert await uow.templates.get(acme.tenant.id, template.id) == template
    assert status_events(uow) == []


async def test_a_second_template_of_one_name_at_an_account_leaves_the_listed_one_as_it_is(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    sync: SyncTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    await subscribe(uow, clock, acme)
    template = await created(uow, providers, clock, acme)
    listed = template.listing_for(meta.id)
    assert listed is not None
    # The same name again at the provider (an old one a replacement failed to delete, say), pending.
    twin = providers.make_in_console(meta.id, order_shipped())
    providers.catalogues[meta.id][twin.provider_template_id] = replace(twin, status=TemplateStatus.PENDING)

    for _ in range(2):
        await sync(admin_of(acme))

    synced = await uow.templates.get(acme.tenant.id, template.id)
    assert synced is not None
    assert synced.listing_for(meta.id) == listed
    assert status_events(uow) == []


async def test_a_console_template_that_says_something_else_does_not_join_the_catalogues_of_that_name(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    sync: SyncTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    template = await created(uow, providers, clock, acme)
    twilio = await add_twilio(uow, clock, acme)
    providers.make_in_console(twilio.id, order_shipped(body="Something else entirely, {{1}}."))
    same = providers.make_in_console(twilio.id, welcome())

    await sync(admin_of(acme))

    synced = await uow.templates.get(acme.tenant.id, template.id)
    assert synced is not None
    assert synced.listing_for(twilio.id) is None
    assert synced.definition == template.definition
    welcomed = await uow.templates.find(acme.tenant.id, "welcome", "en_US")
    assert welcomed is not None
    listing = welcomed.listing_for(twilio.id)
    assert listing is not None
    assert listing.provider_template_id == same.provider_template_id
