"""Keeping the catalogue in step with the providers' own catalogues.

Providers decide a template's fate after it was created: Meta and Twilio review it (approved or rejected,
with a reason), Meta pauses or disables one whose quality falls, and a business may make or delete
templates in the provider's console. Two ways bring that here: a sync (``SyncTemplates``, on demand or
every ``TEMPLATE_SYNC_SECONDS`` for every tenant: ``SyncAllTemplates``, by one process per tenant and
interval) lists each provider account's templates; Meta's template webhooks
(``ApplyTemplateStatusUpdate``) tell of one change as it happens.

Each status change is a ``template.status`` event for the tenant's webhooks and an audit entry by the
``system`` actor, in the transaction that stores it. The sandbox is never synced: its templates are
approved at once and exist nowhere else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from application.audit_entries import audit_entry
from application.ports.clock import Clock
from application.ports.templates import (
    RemoteTemplate,
    TemplateProviderRefused,
    TemplateProviders,
    TemplateProviderUnavailable,
    TemplateStatusUpdate,
)
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from application.templates.access import require_template_admin
from application.templates.catalogue import account_name, listing_of
from application.tenant_webhooks.events import event_body
from domain.administration.audit import SYSTEM_ACTOR, AuditAction, TargetKind
from domain.administration.tenancy import ProviderAccount, ProviderName
from domain.templates.catalogue import CatalogueTemplate, TemplateListing, TemplateQuality, TemplateStatus
from domain.tenant_webhooks.model import WebhookEventType

logger = logging.getLogger(__name__)

TENANTS_PER_PAGE = 100


def template_status_data(
    template: CatalogueTemplate, listing: TemplateListing, previous: TemplateStatus | None
) -> dict[str, Any]:
    """The ``data`` of a ``template.status`` event."""
    return {
        "id": str(template.id),
        "name": template.definition.name,
        "language": template.definition.language,
        "provider": listing.provider.value,
        "account_id": str(listing.account_id) if listing.account_id is not None else None,
        "status": listing.status.value,
        "previous_status": previous.value if previous is not None else None,
        "reason": listing.rejection_reason,
        "quality": listing.quality.value if listing.quality is not None else None,
    }


async def record_status_change(
    uow: UnitOfWork,
    template: CatalogueTemplate,
    listing: TemplateListing,
    previous: TemplateStatus,
    now: datetime,
) -> None:
    """Inside the transaction that stores ``listing``'s new status: its event and its audit entry."""
    event = WebhookEventType.TEMPLATE_STATUS
    data = template_status_data(template, listing, previous)
    await uow.webhook_events.record(template.tenant_id, event, event_body(event, data, now), now)
    details: dict[str, object] = {
        "name": template.definition.name,
        "language": template.definition.language,
        "provider": listing.provider,
        "status": listing.status,
        "previous_status": previous,
    }
    if listing.account_id is not None:
        details["account_id"] = listing.account_id
    if listing.rejection_reason:
        details["reason"] = listing.rejection_reason
    if listing.quality is not None:
        details["quality"] = listing.quality
    await uow.audit.record(
        audit_entry(
            AuditAction.TEMPLATE_STATUS_CHANGED,
            SYSTEM_ACTOR,
            now=now,
            tenant_id=template.tenant_id,
            target=(TargetKind.TEMPLATE, template.id),
            details=details,
        )
    )


# ----------------------------------------------------------------------------------------- the sync


@dataclass(frozen=True, slots=True)
class AccountSync:
    """What a sync did for one provider account: templates whose status (or quality) changed, listings
    added (templates made in the provider's console) and removed (deleted there). ``error`` says why the
    account was left as it was (its provider could not be reached)."""

    provider: ProviderName
    account_id: UUID
    changed: int = 0
    added: int = 0
    removed: int = 0
    error: str | None = None

    @property
    def reached(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class SyncReport:
    accounts: tuple[AccountSync, ...] = ()

    @property
    def unreachable(self) -> tuple[AccountSync, ...]:
        return tuple(account for account in self.accounts if not account.reached)


@dataclass(slots=True)
class _Counts:
    changed: int = 0
    added: int = 0
    removed: int = 0
    touched: dict[UUID, CatalogueTemplate] = field(default_factory=dict)


class SyncTemplates:
    """Bring a tenant's catalogue in step with its provider accounts' own catalogues, one account at a
    time (each in a transaction of its own, after its provider answered)."""

    def __init__(self, uow: UnitOfWork, providers: TemplateProviders, clock: Clock) -> None:
        self._uow = uow
        self._providers = providers
        self._clock = clock

    async def __call__(self, actor: Principal) -> SyncReport:
        require_template_admin(actor, actor.tenant_id)
        return await self.tenant(actor.tenant_id)

    async def tenant(self, tenant_id: UUID) -> SyncReport:
        """The sync of one tenant, for the periodic job (no caller to check)."""
        async with self._uow:
            accounts = await self._uow.provider_accounts.list_for_tenant(tenant_id)
        return SyncReport(tuple([await self._account(account) for account in accounts]))

    async def _account(self, account: ProviderAccount) -> AccountSync:
        try:
            remotes = await self._providers.list(account)
        except (TemplateProviderUnavailable, TemplateProviderRefused) as error:
            logger.warning("template sync: %s could not be read: %s", account_name(account), error)
            return AccountSync(account.provider, account.id, error=str(error))
        now = self._clock.now()
        async with self._uow:
            counts = await self._apply(account, remotes, now)
            await self._uow.commit()
        return AccountSync(
            account.provider, account.id, changed=counts.changed, added=counts.added, removed=counts.removed
        )

    async def _apply(self, account: ProviderAccount, remotes: list[RemoteTemplate], now: datetime) -> _Counts:
        counts = _Counts()
        catalogue = {
            template.id: template for template in await self._uow.templates.list_all(account.tenant_id)
        }
        matching = _Matching(account, catalogue, remotes)
        for remote in remotes:
            template_id = matching.template_of(remote)
            if template_id is _LEFT_OUT:
                continue
            if template_id is None:
                if remote.definition is None:
                    continue  # a shape the gateway cannot read: it stays out of the catalogue
                template = CatalogueTemplate(
                    tenant_id=account.tenant_id,
                    definition=remote.definition,
                    listings=(listing_of(account, remote, now),),
                    created_at=now,
                    updated_at=now,
                )
                await self._uow.templates.add(template)
                catalogue[template.id] = template
                matching.added(template)
                counts.added += 1
                continue
            await self._update_listing(catalogue, template_id, account, remote, now, counts)
        for template_id, template in list(catalogue.items()):
            if template_id in matching.seen or template.listing_for(account.id) is None:
                continue
            counts.removed += 1  # deleted at the provider (in its console, say)
            remaining = template.without_listing(account.id, now)
            if remaining.listings:
                counts.touched[template_id] = remaining
            else:
                counts.touched.pop(template_id, None)
                await self._uow.templates.remove(account.tenant_id, template_id)
        for template in counts.touched.values():
            await self._uow.templates.update(template)
        return counts

    async def _update_listing(
        self,
        catalogue: dict[UUID, CatalogueTemplate],
        template_id: UUID,
        account: ProviderAccount,
        remote: RemoteTemplate,
        now: datetime,
        counts: _Counts,
    ) -> None:
        template = catalogue[template_id]
        listing = template.listing_for(account.id)
        if listing is None:
            catalogue[template_id] = template.with_listing(listing_of(account, remote, now), now)
            counts.touched[template_id] = catalogue[template_id]
            counts.added += 1
            return
        # A reason goes with a rejection only; "unknown" quality is no rating yet, as None is.
        reason = remote.rejection_reason if remote.status is TemplateStatus.REJECTED else None
        quality = remote.quality if remote.quality is not None else listing.quality
        if listing.quality is None and quality is TemplateQuality.UNKNOWN:
            quality = None
        updated = replace(
            listing.with_status(remote.status, reason, now),
            provider_template_id=remote.provider_template_id,
            quality=quality,
        )
        if updated == listing:
            return
        catalogue[template_id] = template.with_listing(updated, now)
        counts.touched[template_id] = catalogue[template_id]
        counts.changed += 1
        if updated.status is not listing.status or updated.rejection_reason != listing.rejection_reason:
            await record_status_change(self._uow, catalogue[template_id], updated, listing.status, now)


_LEFT_OUT = UUID(int=0)  # a provider's template the sync leaves out of the catalogue


class _Matching:
    """Which catalogue template each of an account's templates at its provider is: the one listing it by
    the provider's id; else the one of its name and language, when it may join it (``_may_join``); else
    none (a template made in the provider's console: it joins the catalogue). A template this tenant
    lists on another of its accounts (two accounts of one WhatsApp Business Account or one Twilio
    account) is left out: a provider's template is listed once."""

    def __init__(
        self,
        account: ProviderAccount,
        catalogue: dict[UUID, CatalogueTemplate],
        remotes: list[RemoteTemplate],
    ) -> None:
        self._account = account
        self._catalogue = catalogue
        self._by_remote_id = {
            listing.provider_template_id: template_id
            for template_id, template in catalogue.items()
            if (listing := template.listing_for(account.id)) is not None
        }
        self._listed_elsewhere = {
            listing.provider_template_id
            for template in catalogue.values()
            for listing in template.listings
            if listing.account_id != account.id and listing.provider is account.provider
        }
        self._remote_ids = {remote.provider_template_id for remote in remotes}
        self._by_key = {template.definition.key: template_id for template_id, template in catalogue.items()}
        self.seen: set[UUID] = set()

    def template_of(self, remote: RemoteTemplate) -> UUID | None:
        if remote.provider_template_id in self._listed_elsewhere:
            return _LEFT_OUT
        template_id = self._by_remote_id.get(remote.provider_template_id)
        if template_id is None:
            template_id = self._by_key.get((remote.name, remote.language))
            if template_id is not None and not _may_join(
                self._catalogue[template_id], self._account, remote, self._remote_ids, self.seen
            ):
                logger.warning(
                    "template sync: %s has %s (%s) as %s, not the catalogue's template of that name: "
                    "left out",
                    account_name(self._account),
                    remote.name[:80],
                    remote.language[:16],
                    remote.provider_template_id[:80],
                )
                return _LEFT_OUT
        if template_id is not None:
            self.seen.add(template_id)
        return template_id

    def added(self, template: CatalogueTemplate) -> None:
        self._by_key[template.definition.key] = template.id
        self.seen.add(template.id)


def _may_join(
    template: CatalogueTemplate,
    account: ProviderAccount,
    remote: RemoteTemplate,
    remote_ids: set[str],
    seen: set[UUID],
) -> bool:
    """Whether a provider's template, not listed yet, joins the catalogue's template of its name and
    language on ``account``: only when the account has no listing of it (or the one it has is gone from
    the provider), this pass took no other one for it, and it says the same (examples aside: providers
    keep their own)."""
    if template.id in seen:
        return False
    listing = template.listing_for(account.id)
    if listing is not None and listing.provider_template_id in remote_ids:
        return False
    if remote.definition is None:
        return False
    return replace(remote.definition, examples=()) == replace(template.definition, examples=())


@dataclass(frozen=True, slots=True)
class SyncAllReport:
    tenants: int = 0
    unreachable_accounts: int = 0
    failed_tenants: int = 0


class SyncAllTemplates:
    """The periodic sync: every tenant with provider accounts, one tenant at a time (so a round holds at
    most one provider call and one transaction at once, however many tenants there are). A tenant whose
    sync fails is logged and tried again next round; it never keeps the others from theirs.

    Every process runs it (each API worker's dispatcher, each worker replica), so each tenant is claimed
    first, for ``every`` (the interval of the rounds): a tenant another process claimed less than that
    ago is left to it. The providers are then called once per tenant and interval whatever the number
    of processes, and two periodic syncs of one tenant never race to tell its webhooks of one change. A
    claimed tenant whose sync fails waits for the next interval, as it did in a single process.
    ``SyncTemplates`` on demand claims nothing: a tenant's admin may sync whenever they ask."""

    def __init__(self, uow: UnitOfWork, sync: SyncTemplates, clock: Clock, every: timedelta) -> None:
        self._uow = uow
        self._sync = sync
        self._clock = clock
        self._every = every

    async def __call__(self) -> SyncAllReport:
        tenants = unreachable = failed = 0
        after: str | None = None
        while True:
            async with self._uow:
                page = await self._uow.tenants.list_page(TENANTS_PER_PAGE, after)
            for tenant in page:
                try:
                    if not await self._claim(tenant.id):
                        continue
                    report = await self._sync.tenant(tenant.id)
                except Exception:
                    failed += 1
                    logger.exception("template sync of tenant %s failed; tried again next round", tenant.id)
                    continue
                if report.accounts:
                    tenants += 1
                    unreachable += len(report.unreachable)
            if len(page) < TENANTS_PER_PAGE:
                break
            after = page[-1].name
        return SyncAllReport(tenants=tenants, unreachable_accounts=unreachable, failed_tenants=failed)

    async def _claim(self, tenant_id: UUID) -> bool:
        """Whether this round syncs the tenant; committed at once, so other processes see it."""
        async with self._uow:
            claimed = await self._uow.templates.claim_sync(tenant_id, self._clock.now(), self._every)
            await self._uow.commit()
        return claimed


# ------------------------------------------------------------------------------ a provider's webhook


class ApplyTemplateStatusUpdate:
    """A provider's word that one template's status or quality changed (Meta's template webhooks), for
    a template listed on one of ``accounts`` (those the delivery is proven for: another tenant's app
    cannot change this tenant's templates).

    A template the catalogue does not know is ignored (made in the console: the next sync brings it in);
    a repeated or older word changes nothing. Returns whether the catalogue changed."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, update: TemplateStatusUpdate, accounts: frozenset[UUID]) -> bool:
        async with self._uow:
            template = await self._uow.templates.with_provider_id(
                update.provider, update.provider_template_id
            )
            listing = next(
                (
                    item
                    for item in (template.listings if template is not None else ())
                    if (item.provider, item.provider_template_id)
                    == (update.provider, update.provider_template_id)
                    and item.account_id in accounts
                ),
                None,
            )
            if template is None or listing is None:
                return False
            updated = listing
            if update.status is not None and update.at >= listing.status_changed_at:
                reason = update.reason if update.status is TemplateStatus.REJECTED else None
                updated = updated.with_status(update.status, reason, update.at)
            unrated = update.quality is TemplateQuality.UNKNOWN and updated.quality is None
            if update.quality is not None and update.quality is not updated.quality and not unrated:
                updated = replace(updated, quality=update.quality)
            if updated == listing:
                return False
            now = self._clock.now()
            changed = template.with_listing(updated, now)
            await self._uow.templates.update(changed)
            if updated.status is not listing.status or updated.rejection_reason != listing.rejection_reason:
                await record_status_change(self._uow, changed, updated, listing.status, now)
            await self._uow.commit()
        return True
