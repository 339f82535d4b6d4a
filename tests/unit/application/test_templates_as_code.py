"""Templates as code: an export holds definitions only and plans nothing when read back; a plan names
every change (and every problem by its place in the file); applying carries it out, template by
template, and applying the same file again does nothing."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

import pytest

from application.authorization import OPERATOR
from application.errors import AccessDenied, NotFound
from application.ports.templates import RemoteTemplate, TemplateStatusUpdate
from application.templates.as_code import (
    ApplyTemplates,
    ExportTemplates,
    PlanTemplates,
    ResolveTenant,
    TemplateAction,
    TemplateOutcome,
)
from application.templates.catalogue import CreateTemplate, CreateTemplateCommand
from application.templates.sync import ApplyTemplateStatusUpdate
from domain.administration.audit import AuditAction
from domain.administration.tenancy import ProviderAccount
from domain.templates.catalogue import TemplateStatus
from domain.templates.definition import TemplateDefinition
from domain.templates.errors import InvalidTemplate
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


@pytest.fixture
def providers() -> FakeTemplateProviders:
    return FakeTemplateProviders()


@pytest.fixture
def apply(uow: FakeUnitOfWork, providers: FakeTemplateProviders, clock: FixedClock) -> ApplyTemplates:
    return ApplyTemplates(uow, providers, clock)


@pytest.fixture
async def meta(uow: FakeUnitOfWork, clock: FixedClock, acme: TenantAccount) -> ProviderAccount:
    return await add_meta(uow, clock, acme)


async def test_an_export_is_the_definitions_sorted_by_name_and_language(
    uow: FakeUnitOfWork, providers: FakeTemplateProviders, clock: FixedClock, acme: TenantAccount
) -> None:
    create = CreateTemplate(uow, providers, clock)
    for definition in (welcome(), order_shipped("pt_BR"), order_shipped()):
        await create(admin_of(acme), CreateTemplateCommand(definition))

    exported = await ExportTemplates(uow)(agent_of(acme), acme.tenant.id)

    assert exported == [order_shipped(), order_shipped("pt_BR"), welcome()]
    assert (await PlanTemplates(uow)(agent_of(acme), acme.tenant.id, exported)).is_empty


async def test_applying_a_file_creates_updates_and_deletes_then_plans_nothing_the_second_time(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    apply: ApplyTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    await apply(admin_of(acme), acme.tenant.id, [order_shipped(), welcome("es")])
    reworded = order_shipped(body="Hello {{1}}, order {{2}} is on its way.")
    wanted = [reworded, welcome()]

    plan = await PlanTemplates(uow)(admin_of(acme), acme.tenant.id, wanted)
    applied = await apply(admin_of(acme), acme.tenant.id, wanted)

    assert applied.plan == plan
    assert [definition.key for definition in plan.create] == [("welcome", "en_US")]
    assert [change.wanted for change in plan.update] == [reworded]
    assert [definition.key for definition in plan.delete] == [("welcome", "es")]
    assert applied.outcomes == (
        TemplateOutcome(TemplateAction.CREATE, "welcome", "en_US"),
        TemplateOutcome(TemplateAction.UPDATE, "order_shipped", "en_US"),
        TemplateOutcome(TemplateAction.DELETE, "welcome", "es"),
    )
    assert applied.complete
    assert await ExportTemplates(uow)(admin_of(acme), acme.tenant.id) == wanted
    assert ("update", meta.id, "order_shipped") in providers.calls
    [remote] = [r for r in providers.catalogues[meta.id].values() if r.name == "order_shipped"]
    assert remote.definition == reworded
    again = await apply(admin_of(acme), acme.tenant.id, wanted)
    assert again.plan.is_empty
    assert again.outcomes == ()
    assert AuditAction.TEMPLATE_UPDATED in [entry.action for entry in uow.audit.all()]


async def test_an_update_keeps_the_providers_answer_a_new_review_and_maybe_a_new_id(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    apply: ApplyTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    await apply(admin_of(acme), acme.tenant.id, [order_shipped()])
    providers.decide(meta.id, "order_shipped", TemplateStatus.APPROVED)

    await apply(admin_of(acme), acme.tenant.id, [order_shipped(body="New {{1}} {{2}} {{3}} text.")])

    template = await uow.templates.find(acme.tenant.id, "order_shipped", "en_US")
    assert template is not None
    listing = template.listing_for(meta.id)
    assert listing is not None
    assert listing.status is TemplateStatus.PENDING


async def test_templates_the_file_leaves_out_stay_when_asked(
    uow: FakeUnitOfWork, apply: ApplyTemplates, acme: TenantAccount
) -> None:
    await apply(admin_of(acme), acme.tenant.id, [order_shipped(), welcome()])

    applied = await apply(admin_of(acme), acme.tenant.id, [welcome()], delete_missing=False)

    assert applied.plan.is_empty
    assert len(await uow.templates.list_all(acme.tenant.id)) == 2


async def test_one_template_a_provider_refuses_is_its_outcome_and_the_others_go_on(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    apply: ApplyTemplates,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    providers.refuse[meta.id] = "Too many templates"

    applied = await apply(admin_of(acme), acme.tenant.id, [order_shipped(), welcome()], accounts=None)

    assert not applied.complete
    assert [outcome.done for outcome in applied.outcomes] == [False, False]
    assert "Too many templates" in (applied.outcomes[0].error or "")
    del providers.refuse[meta.id]
    applied = await apply(admin_of(acme), acme.tenant.id, [order_shipped(), welcome()])
    assert applied.complete
    assert len(applied.plan.create) == 2


async def test_every_invalid_template_of_a_file_is_named_by_its_place(
    uow: FakeUnitOfWork, acme: TenantAccount
) -> None:
    ends_with_a_variable = replace(welcome(), body="Welcome, {{first_name}}")

    with pytest.raises(InvalidTemplate) as invalid:
        await PlanTemplates(uow)(agent_of(acme), acme.tenant.id, [order_shipped(), ends_with_a_variable])

    assert [problem.field for problem in invalid.value.problems] == ["templates[1].body"]


async def test_a_template_twice_in_a_file_is_refused(uow: FakeUnitOfWork, acme: TenantAccount) -> None:
    with pytest.raises(InvalidTemplate, match=r"templates\[1\]"):
        await PlanTemplates(uow)(
            agent_of(acme), acme.tenant.id, [welcome(), replace(welcome(), body="Hi {{first_name}}")]
        )


async def test_agents_plan_but_only_admins_and_the_operator_apply(
    uow: FakeUnitOfWork, apply: ApplyTemplates, acme: TenantAccount, globex: TenantAccount
) -> None:
    with pytest.raises(AccessDenied):
        await apply(agent_of(acme), acme.tenant.id, [welcome()])
    with pytest.raises(NotFound):
        await apply(admin_of(acme), globex.tenant.id, [welcome()])
    with pytest.raises(NotFound):
        await ExportTemplates(uow)(agent_of(acme), globex.tenant.id)

    tenant = await ResolveTenant(uow)(OPERATOR, "Globex")
    applied = await apply(OPERATOR, tenant.id, [welcome()])

    assert applied.complete
    assert await ExportTemplates(uow)(OPERATOR, globex.tenant.id) == [welcome()]
    with pytest.raises(NotFound):
        await ResolveTenant(uow)(OPERATOR, "Initech")


async def test_a_status_that_changes_while_an_apply_runs_is_kept(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    apply: ApplyTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    twilio = await add_twilio(uow, clock, acme)
    await apply(admin_of(acme), acme.tenant.id, [order_shipped()])
    webhook = ApplyTemplateStatusUpdate(uow, clock)
    update_at_provider = providers.update
    others: list[UUID] = []

    async def the_other_is_approved_meanwhile(
        account: ProviderAccount | None, provider_template_id: str, definition: TemplateDefinition
    ) -> RemoteTemplate:
        # While the first account takes the new words, the other one's review ends (its webhook comes);
        # then that other account refuses the new words.
        assert account is not None
        if not others:
            other = twilio.id if account.id == meta.id else meta.id
            others.append(other)
            template = await uow.templates.find(acme.tenant.id, "order_shipped", "en_US")
            assert template is not None
            listing = template.listing_for(other)
            assert listing is not None
            approved = TemplateStatusUpdate(
                provider=listing.provider,
                business_account_id="",
                provider_template_id=listing.provider_template_id,
                name="order_shipped",
                language="en_US",
                status=TemplateStatus.APPROVED,
                reason=None,
                quality=None,
                at=clock.now(),
            )
            assert await webhook(approved, frozenset({other}))
            providers.refuse[other] = "down for maintenance"
        return await update_at_provider(account, provider_template_id, definition)

    providers.update = the_other_is_approved_meanwhile  # type: ignore[method-assign]

    applied = await apply(
        admin_of(acme), acme.tenant.id, [order_shipped(body="Hello {{1}}, order {{2}} is on its way.")]
    )

    assert not applied.complete
    template = await uow.templates.find(acme.tenant.id, "order_shipped", "en_US")
    assert template is not None
    other_listing = template.listing_for(others[0])
    assert other_listing is not None
    assert other_listing.status is TemplateStatus.APPROVED
    assert template.definition == order_shipped()  # not every account took the new words


async def test_an_update_one_account_refuses_is_set_back_where_it_was_taken(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    apply: ApplyTemplates,
    clock: FixedClock,
    acme: TenantAccount,
    meta: ProviderAccount,
) -> None:
    twilio = await add_twilio(uow, clock, acme)
    await apply(admin_of(acme), acme.tenant.id, [order_shipped()])
    update_at_provider = providers.update

    async def the_second_account_refuses(
        account: ProviderAccount | None, provider_template_id: str, definition: TemplateDefinition
    ) -> RemoteTemplate:
        assert account is not None
        other = twilio.id if account.id == meta.id else meta.id
        if other not in providers.refuse and account.id not in providers.refuse:
            providers.refuse[other] = "down for maintenance"
        return await update_at_provider(account, provider_template_id, definition)

    providers.update = the_second_account_refuses  # type: ignore[method-assign]

    applied = await apply(
        admin_of(acme), acme.tenant.id, [order_shipped(body="Hello {{1}}, order {{2}} is on its way.")]
    )

    assert not applied.complete
    assert "down for maintenance" in (applied.outcomes[0].error or "")
    for account in (meta, twilio):
        [remote] = providers.catalogues[account.id].values()
        assert remote.definition == order_shipped()  # one thing at every account: the catalogue's
    template = await uow.templates.find(acme.tenant.id, "order_shipped", "en_US")
    assert template is not None
    assert template.definition == order_shipped()
