"""Templates as code: a tenant's catalogue written as a file kept in version control, and the changes
that make the catalogue what a file says.

``ExportTemplates`` gives the definitions only (no ids, no statuses), sorted by name and language, so
an export diffs well and a file read back plans nothing. ``PlanTemplates`` says what applying a file
would create, update and delete; ``ApplyTemplates`` does it, template by template, through the same
paths as the API (a refused template is reported and the others go on), and applying the same file
again plans nothing.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from uuid import UUID

from application.audit_entries import audit_entry
from application.authorization import Actor, require_platform_admin
from application.errors import ApplicationError, NotFound
from application.ports.clock import Clock
from application.ports.templates import (
    TemplateProviderRefused,
    TemplateProviders,
    TemplateProviderUnavailable,
)
from application.ports.unit_of_work import UnitOfWork
from application.templates.access import require_template_admin, require_template_reader
from application.templates.catalogue import (
    AccountChoice,
    account_name,
    create_template,
    delete_template,
    listing_of,
    provider_failure,
)
from domain.administration.audit import AuditAction, TargetKind
from domain.administration.tenancy import ProviderAccount, Tenant
from domain.errors import DomainError
from domain.templates.catalogue import CatalogueTemplate, TemplateListing
from domain.templates.definition import TemplateDefinition
from domain.templates.errors import FieldProblem, InvalidTemplate
from domain.templates.plan import TemplateChange, TemplatePlan, plan_templates
from domain.templates.validation import definition_problems

logger = logging.getLogger(__name__)


def sorted_definitions(definitions: Sequence[TemplateDefinition]) -> list[TemplateDefinition]:
    return sorted(definitions, key=lambda definition: definition.key)


def checked_file(wanted: Sequence[TemplateDefinition], *, field: str = "templates") -> None:
    """Every problem of every template of a file, each named by its place in it (``templates[3].body``)."""
    problems = [
        FieldProblem(f"{field}[{index}].{problem.field}", problem.message)
        for index, definition in enumerate(wanted)
        for problem in definition_problems(definition)
    ]
    if problems:
        raise InvalidTemplate(problems)


class ResolveTenant:
    """The tenant the command line names (by its name), for the operator."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, name: str) -> Tenant:
        require_platform_admin(actor)
        async with self._uow:
            tenant = await self._uow.tenants.get_by_name(name)
        if tenant is None:
            raise NotFound(f"there is no tenant named {name!r}")
        return tenant


class ExportTemplates:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor, tenant_id: UUID) -> list[TemplateDefinition]:
        require_template_reader(actor, tenant_id)
        async with self._uow:
            templates = await self._uow.templates.list_all(tenant_id)
        return sorted_definitions([template.definition for template in templates])


class PlanTemplates:
    """What applying ``wanted`` would do to the tenant's catalogue. With ``delete_missing`` off, the
    templates the file leaves out stay."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(
        self,
        actor: Actor,
        tenant_id: UUID,
        wanted: Sequence[TemplateDefinition],
        *,
        delete_missing: bool = True,
    ) -> TemplatePlan:
        require_template_reader(actor, tenant_id)
        checked_file(wanted)
        async with self._uow:
            templates = await self._uow.templates.list_all(tenant_id)
        return plan_templates(
            [template.definition for template in templates], wanted, delete_missing=delete_missing
        )


class TemplateAction(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class TemplateOutcome:
    """What became of one template of a plan: done, or the reason it was not (the provider's words)."""

    action: TemplateAction
    name: str
    language: str
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class AppliedPlan:
    plan: TemplatePlan
    outcomes: tuple[TemplateOutcome, ...]

    @property
    def complete(self) -> bool:
        return all(outcome.done for outcome in self.outcomes)


class ApplyTemplates:
    """Carry out the plan of ``wanted`` (see ``PlanTemplates``): create (on the accounts chosen, as
    ``CreateTemplate`` does), update (at each account the template is listed on), delete. One template's
    failure (a refusal, a provider that does not answer, a rule it breaks) is its outcome; the others
    go on."""

    def __init__(self, uow: UnitOfWork, providers: TemplateProviders, clock: Clock) -> None:
        self._uow = uow
        self._providers = providers
        self._clock = clock

    async def __call__(
        self,
        actor: Actor,
        tenant_id: UUID,
        wanted: Sequence[TemplateDefinition],
        *,
        delete_missing: bool = True,
        accounts: Sequence[AccountChoice] | None = None,
    ) -> AppliedPlan:
        require_template_admin(actor, tenant_id)
        plan = await PlanTemplates(self._uow)(actor, tenant_id, wanted, delete_missing=delete_missing)
        outcomes: list[TemplateOutcome] = []
        for definition in plan.create:
            outcomes.append(
                await self._attempt(
                    TemplateAction.CREATE,
                    definition,
                    create_template(
                        self._uow, self._providers, self._clock, actor, tenant_id, definition, accounts
                    ),
                )
            )
        for change in plan.update:
            outcomes.append(
                await self._attempt(
                    TemplateAction.UPDATE, change.wanted, self._update(actor, tenant_id, change)
                )
            )
        for definition in plan.delete:
            outcomes.append(
                await self._attempt(
                    TemplateAction.DELETE, definition, self._delete(actor, tenant_id, definition)
                )
            )
        return AppliedPlan(plan=plan, outcomes=tuple(outcomes))

    @staticmethod
    async def _attempt(
        action: TemplateAction, definition: TemplateDefinition, work: Awaitable[object]
    ) -> TemplateOutcome:
        try:
            await work
        except ApplicationError as error:
            return TemplateOutcome(action, definition.name, definition.language, error=error.detail)
        except (TemplateProviderRefused, TemplateProviderUnavailable, DomainError) as error:
            return TemplateOutcome(action, definition.name, definition.language, error=str(error))
        return TemplateOutcome(action, definition.name, definition.language)

    async def _update(self, actor: Actor, tenant_id: UUID, change: TemplateChange) -> None:
        current = await self._find(tenant_id, change.current)
        async with self._uow:
            accounts = {a.id: a for a in await self._uow.provider_accounts.list_for_tenant(tenant_id)}
        updated: list[tuple[ProviderAccount | None, TemplateListing]] = []
        for listing in current.listings:
            account: ProviderAccount | None = None
            if listing.account_id is not None:
                account = accounts.get(listing.account_id)
                if account is None:
                    continue
            try:
                remote = await self._providers.update(account, listing.provider_template_id, change.wanted)
            except (TemplateProviderRefused, TemplateProviderUnavailable) as error:
                set_back = await self._set_back(updated, change.current)
                await self._store(current, set_back, None, actor)
                raise provider_failure(account, change.wanted, error) from error
            updated.append((account, listing_of(account, remote, self._clock.now())))
        await self._store(current, [listing for _, listing in updated], change.wanted, actor)

    async def _set_back(
        self,
        updated: list[tuple[ProviderAccount | None, TemplateListing]],
        definition: TemplateDefinition,
    ) -> list[TemplateListing]:
        """An update all accounts did not take is set back where it was taken: a template says one thing
        at every account, the catalogue's, against which sends are checked. What a provider would not
        set back stays as it answered (logged); the next apply makes it right."""
        listings = []
        for account, listing in updated:
            try:
                remote = await self._providers.update(account, listing.provider_template_id, definition)
            except (TemplateProviderRefused, TemplateProviderUnavailable) as error:
                logger.warning(
                    "templates as code: %s kept the new %s, which could not be set back: %s",
                    account_name(account),
                    definition.label,
                    error,
                )
                listings.append(listing)
                continue
            listings.append(listing_of(account, remote, self._clock.now()))
        return listings

    async def _store(
        self,
        current: CatalogueTemplate,
        updated: list[TemplateListing],
        definition: TemplateDefinition | None,
        actor: Actor,
    ) -> None:
        """Keep what the providers now have: the listings this apply changed (ids, statuses), read again
        so that what changed meanwhile (a provider's webhook on another listing) stays, and the new
        ``definition`` once every account took it (None: not all did)."""
        now = self._clock.now()
        async with self._uow:
            template = await self._uow.templates.get(current.tenant_id, current.id)
            if template is None:
                raise NotFound(f"the template {current.definition.label} is gone")
            for listing in updated:
                template = template.with_listing(listing, now)
            if definition is not None:
                template = replace(template, definition=definition, updated_at=now)
            await self._uow.templates.update(template)
            if definition is not None:
                await self._uow.audit.record(
                    audit_entry(
                        AuditAction.TEMPLATE_UPDATED,
                        actor,
                        now=now,
                        tenant_id=template.tenant_id,
                        target=(TargetKind.TEMPLATE, template.id),
                        details={"name": template.definition.name, "language": template.definition.language},
                    )
                )
            await self._uow.commit()

    async def _delete(self, actor: Actor, tenant_id: UUID, definition: TemplateDefinition) -> None:
        template = await self._find(tenant_id, definition)
        await delete_template(self._uow, self._providers, self._clock, actor, template)

    async def _find(self, tenant_id: UUID, definition: TemplateDefinition) -> CatalogueTemplate:
        async with self._uow:
            template = await self._uow.templates.find(tenant_id, definition.name, definition.language)
        if template is None:
            raise NotFound(f"the template {definition.label} is gone")
        return template
