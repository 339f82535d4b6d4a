"""A tenant's template catalogue: creating a template on the provider accounts it is to be sent from,
reading the catalogue, previewing a template with values, deleting one.

A template is checked against WhatsApp's rules before any provider sees it, then created at each
account's provider (none of them is called inside a database transaction); the catalogue keeps it only
once every account took it. When one refuses, what the others created is deleted again and nothing is
stored: the catalogue never lists a template some of its accounts do not have.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from application.audit_entries import audit_entry
from application.authorization import Actor
from application.errors import AlreadyExists, InvalidInput, NotFound
from application.pagination import MAX_PAGE_SIZE, decode_template_cursor, encode_template_cursor
from application.ports.clock import Clock
from application.ports.templates import (
    RemoteTemplate,
    TemplateProviderRefused,
    TemplateProviders,
    TemplateProviderUnavailable,
    TemplateQuery,
)
from application.ports.unit_of_work import UnitOfWork
from application.principal import Principal
from application.templates.access import require_template_admin, require_template_reader
from domain.administration.audit import AuditAction, TargetKind
from domain.administration.tenancy import ProviderAccount, ProviderName
from domain.templates.binding import check_values
from domain.templates.catalogue import CatalogueTemplate, TemplateListing, TemplateStatus
from domain.templates.definition import RenderedTemplate, TemplateDefinition, render_template
from domain.templates.errors import FieldProblem, InvalidTemplateValues
from domain.templates.validation import check_definition

logger = logging.getLogger(__name__)

_NO_SUCH_TEMPLATE = "the tenant has no such template"
# Where a template is listed, as a use case names it: a provider account's id, or None for the sandbox.
AccountChoice = UUID | None


# ------------------------------------------------------------------------------- shared by the slice


def provider_of_account(account: ProviderAccount | None) -> ProviderName:
    return account.provider if account is not None else ProviderName.SANDBOX


def account_name(account: ProviderAccount | None) -> str:
    """How a refusal names the account: its provider, and its label when it has one."""
    if account is None:
        return "the sandbox"
    return f"{account.provider} ({account.label})" if account.label else str(account.provider)


def listing_of(account: ProviderAccount | None, remote: RemoteTemplate, now: datetime) -> TemplateListing:
    return TemplateListing(
        provider=provider_of_account(account),
        account_id=account.id if account is not None else None,
        provider_template_id=remote.provider_template_id,
        status=remote.status,
        status_changed_at=now,
        rejection_reason=remote.rejection_reason if remote.status is TemplateStatus.REJECTED else None,
        quality=remote.quality,
    )


def remote_of(template: CatalogueTemplate, listing: TemplateListing) -> RemoteTemplate:
    """The template as its listing's provider has it (what a provider's ``delete`` is given)."""
    return RemoteTemplate(
        provider_template_id=listing.provider_template_id,
        name=template.definition.name,
        language=template.definition.language,
        status=listing.status,
        definition=template.definition,
        rejection_reason=listing.rejection_reason,
        quality=listing.quality,
    )


def provider_failure(
    account: ProviderAccount | None, definition: TemplateDefinition, error: Exception
) -> Exception:
    """The error to raise for a provider's refusal or silence, naming the account and the template."""
    what = f"{account_name(account)} {{}} {definition.label}: {error}"
    if isinstance(error, TemplateProviderRefused):
        return TemplateProviderRefused(what.format("refused"))
    return TemplateProviderUnavailable(what.format("did not answer about"))


async def chosen_accounts(
    uow: UnitOfWork, tenant_id: UUID, choice: Sequence[AccountChoice] | None
) -> list[ProviderAccount | None]:
    """Inside ``uow``'s transaction: the accounts a new template goes to. By default every provider
    account of the tenant, or the sandbox when it has none; else the ones chosen (each once)."""
    if choice is None:
        accounts: list[ProviderAccount | None] = list(await uow.provider_accounts.list_for_tenant(tenant_id))
        return accounts or [None]
    if not choice:
        raise InvalidInput("a template is created on at least one account (or leave accounts out)")
    chosen: list[ProviderAccount | None] = []
    for account_id in dict.fromkeys(choice):
        if account_id is None:
            chosen.append(None)
            continue
        account = await uow.provider_accounts.get(tenant_id, account_id)
        if account is None:
            raise InvalidInput(f"the tenant has no provider account {account_id}")
        chosen.append(account)
    return chosen


async def undo_creations(
    providers: TemplateProviders, created: Sequence[tuple[ProviderAccount | None, RemoteTemplate]]
) -> None:
    """Delete again what was created for a template the catalogue will not keep. A provider that does
    not take the deletion keeps it (logged): a sync brings it into the catalogue later."""
    for account, remote in created:
        try:
            await providers.delete(account, remote)
        except (TemplateProviderRefused, TemplateProviderUnavailable) as error:
            logger.warning(
                "could not delete template %s (%s) again at %s: %s",
                remote.name,
                remote.provider_template_id,
                account_name(account),
                error,
            )


async def create_template(
    uow: UnitOfWork,
    providers: TemplateProviders,
    clock: Clock,
    actor: Actor,
    tenant_id: UUID,
    definition: TemplateDefinition,
    accounts: Sequence[AccountChoice] | None = None,
) -> CatalogueTemplate:
    """Check ``definition``, create it on the chosen accounts (see ``chosen_accounts``), and keep it in
    the catalogue; all of it or nothing."""
    check_definition(definition)
    async with uow:
        if await uow.templates.find(tenant_id, definition.name, definition.language) is not None:
            raise AlreadyExists(f"the template {definition.label} exists already")
        targets = await chosen_accounts(uow, tenant_id, accounts)
    created: list[tuple[ProviderAccount | None, RemoteTemplate]] = []
    for account in targets:
        try:
            created.append((account, await providers.create(account, definition)))
        except (TemplateProviderRefused, TemplateProviderUnavailable) as error:
            await undo_creations(providers, created)
            raise provider_failure(account, definition, error) from error
    now = clock.now()
    template = CatalogueTemplate(
        tenant_id=tenant_id,
        definition=definition,
        listings=tuple(listing_of(account, remote, now) for account, remote in created),
        created_at=now,
        updated_at=now,
    )
    try:
        async with uow:
            await uow.templates.add(template)
            await uow.audit.record(
                audit_entry(
                    AuditAction.TEMPLATE_CREATED,
                    actor,
                    now=now,
                    tenant_id=tenant_id,
                    target=(TargetKind.TEMPLATE, template.id),
                    details={"name": definition.name, "language": definition.language},
                )
            )
            await uow.commit()
    except Exception:
        # Not kept (a concurrent creation of the same name won, the database failed): not left either.
        await undo_creations(providers, created)
        raise
    return template


async def delete_template(
    uow: UnitOfWork,
    providers: TemplateProviders,
    clock: Clock,
    actor: Actor,
    template: CatalogueTemplate,
) -> None:
    """Delete ``template`` at each account it is listed on, then from the catalogue. When a provider
    refuses or does not answer, the listings deleted elsewhere go, its own stays, and its error is
    raised: deleting again finishes the work."""
    async with uow:
        accounts = {
            account.id: account for account in await uow.provider_accounts.list_for_tenant(template.tenant_id)
        }
    gone: list[AccountChoice] = []
    failure: Exception | None = None
    for listing in template.listings:
        account = accounts.get(listing.account_id) if listing.account_id is not None else None
        if listing.account_id is not None and account is None:
            gone.append(listing.account_id)  # the account was removed: nothing left to delete there
            continue
        try:
            await providers.delete(account, remote_of(template, listing))
        except (TemplateProviderRefused, TemplateProviderUnavailable) as error:
            failure = failure or provider_failure(account, template.definition, error)
            continue
        gone.append(listing.account_id)
    now = clock.now()
    async with uow:
        current = await uow.templates.get(template.tenant_id, template.id)
        if current is not None and failure is None:
            await uow.templates.remove(template.tenant_id, template.id)
            await uow.audit.record(
                audit_entry(
                    AuditAction.TEMPLATE_DELETED,
                    actor,
                    now=now,
                    tenant_id=template.tenant_id,
                    target=(TargetKind.TEMPLATE, template.id),
                    details={"name": template.definition.name, "language": template.definition.language},
                )
            )
        elif current is not None and gone:
            remaining = replace(
                current,
                listings=tuple(item for item in current.listings if item.account_id not in gone),
                updated_at=now,
            )
            await uow.templates.update(remaining)
        await uow.commit()
    if failure is not None:
        raise failure


# ---------------------------------------------------------------------------------------- use cases


@dataclass(frozen=True, slots=True)
class CreateTemplateCommand:
    """``accounts``: where to create it, each a provider account's id or None for the sandbox; left out
    (None), every provider account of the tenant, or the sandbox when it has none."""

    definition: TemplateDefinition
    accounts: tuple[AccountChoice, ...] | None = None


class CreateTemplate:
    def __init__(self, uow: UnitOfWork, providers: TemplateProviders, clock: Clock) -> None:
        self._uow = uow
        self._providers = providers
        self._clock = clock

    async def __call__(self, actor: Principal, command: CreateTemplateCommand) -> CatalogueTemplate:
        require_template_admin(actor, actor.tenant_id)
        return await create_template(
            self._uow,
            self._providers,
            self._clock,
            actor,
            actor.tenant_id,
            command.definition,
            command.accounts,
        )


@dataclass(frozen=True, slots=True)
class TemplatesRequest:
    principal: Principal
    limit: int
    cursor: str | None = None
    name: str | None = None
    status: TemplateStatus | None = None


@dataclass(frozen=True, slots=True)
class TemplatePage:
    items: list[CatalogueTemplate]
    next_cursor: str | None


class ListTemplates:
    """The catalogue by name then language, a keyset page at a time; ``name`` keeps one template's
    languages, ``status`` the templates with a listing in that status."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, request: TemplatesRequest) -> TemplatePage:
        tenant_id = request.principal.tenant_id
        require_template_reader(request.principal, tenant_id)
        limit = max(1, min(request.limit, MAX_PAGE_SIZE))
        after = decode_template_cursor(request.cursor) if request.cursor else None
        query = TemplateQuery(
            tenant_id=tenant_id, limit=limit + 1, after=after, name=request.name, status=request.status
        )
        async with self._uow:
            found = await self._uow.templates.list_page(query)
        items = found[:limit]
        more = len(found) > limit
        return TemplatePage(
            items=items, next_cursor=encode_template_cursor(items[-1].definition.key) if more else None
        )


async def template_of(uow: UnitOfWork, tenant_id: UUID, template_id: UUID) -> CatalogueTemplate:
    async with uow:
        template = await uow.templates.get(tenant_id, template_id)
    if template is None:
        raise NotFound(_NO_SUCH_TEMPLATE)
    return template


class GetTemplate:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Principal, template_id: UUID) -> CatalogueTemplate:
        require_template_reader(actor, actor.tenant_id)
        return await template_of(self._uow, actor.tenant_id, template_id)


class DeleteTemplate:
    """Delete a template at every account it is listed on, then from the catalogue (see
    ``delete_template``)."""

    def __init__(self, uow: UnitOfWork, providers: TemplateProviders, clock: Clock) -> None:
        self._uow = uow
        self._providers = providers
        self._clock = clock

    async def __call__(self, actor: Principal, template_id: UUID) -> None:
        require_template_admin(actor, actor.tenant_id)
        template = await template_of(self._uow, actor.tenant_id, template_id)
        await delete_template(self._uow, self._providers, self._clock, actor, template)


class PreviewTemplate:
    """A template as the customer would see it with these values, checked as a send checks them (every
    variable given, nothing else, media for a media header): the fields named are the preview's own
    (``variables.first_name``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(
        self,
        actor: Principal,
        template_id: UUID,
        values: Mapping[str, str],
        *,
        has_header_media: bool = False,
    ) -> RenderedTemplate:
        require_template_reader(actor, actor.tenant_id)
        template = await template_of(self._uow, actor.tenant_id, template_id)
        try:
            check_values(template.definition, values, has_header_media=has_header_media)
        except InvalidTemplateValues as error:
            raise InvalidTemplateValues(
                [FieldProblem(p.field.removeprefix("template."), p.message) for p in error.problems]
            ) from error
        return render_template(template.definition, values)
