"""A tenant's template catalogue: a template is created on every account it is to be sent from or on
none, admins change the catalogue and agents read it, and a preview shows what the customer would see."""

from __future__ import annotations

import pytest

from application.errors import (
    AccessDenied,
    AlreadyExists,
    InvalidCursor,
    InvalidInput,
    NotFound,
    StorageUnavailable,
)
from application.ports.templates import (
    RemoteTemplate,
    TemplateProviderRefused,
    TemplateProviderUnavailable,
)
from application.templates.catalogue import (
    CreateTemplate,
    CreateTemplateCommand,
    DeleteTemplate,
    GetTemplate,
    ListTemplates,
    PreviewTemplate,
    TemplatesRequest,
)
from domain.administration.audit import AuditAction, TargetKind
from domain.administration.tenancy import ProviderAccount, ProviderName
from domain.templates.catalogue import TemplateStatus
from domain.templates.definition import RenderedTemplate, TemplateDefinition
from tests.support.fakes import FakeUnitOfWork, FixedClock, TenantAccount
from tests.support.template_providers import (
    SANDBOX,
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
def create(uow: FakeUnitOfWork, providers: FakeTemplateProviders, clock: FixedClock) -> CreateTemplate:
    return CreateTemplate(uow, providers, clock)


async def test_a_tenant_without_provider_accounts_gets_its_template_in_the_sandbox_approved_at_once(
    uow: FakeUnitOfWork, create: CreateTemplate, acme: TenantAccount
) -> None:
    template = await create(admin_of(acme), CreateTemplateCommand(order_shipped()))

    [listing] = template.listings
    assert (listing.provider, listing.account_id, listing.status) == (
        ProviderName.SANDBOX,
        None,
        TemplateStatus.APPROVED,
    )
    assert await uow.templates.get(acme.tenant.id, template.id) == template
    [entry] = [e for e in uow.audit.all() if e.action is AuditAction.TEMPLATE_CREATED]
    assert entry.target is not None
    assert entry.target.kind is TargetKind.TEMPLATE
    assert dict(entry.details) == {"name": "order_shipped", "language": "en_US"}


async def test_a_template_is_created_on_every_provider_account_of_the_tenant_pending_review(
    uow: FakeUnitOfWork,
    create: CreateTemplate,
    providers: FakeTemplateProviders,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    twilio, meta = await add_twilio(uow, clock, acme), await add_meta(uow, clock, acme)

    template = await create(admin_of(acme), CreateTemplateCommand(order_shipped()))

    assert {(item.provider, item.account_id, item.status) for item in template.listings} == {
        (ProviderName.TWILIO, twilio.id, TemplateStatus.PENDING),
        (ProviderName.META, meta.id, TemplateStatus.PENDING),
    }
    assert providers.names_at(twilio.id) == providers.names_at(meta.id) == ["order_shipped"]
    assert providers.names_at(SANDBOX) == []


async def test_the_accounts_chosen_are_the_only_ones_a_template_is_created_on(
    uow: FakeUnitOfWork,
    create: CreateTemplate,
    providers: FakeTemplateProviders,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    twilio, meta = await add_twilio(uow, clock, acme), await add_meta(uow, clock, acme)

    template = await create(admin_of(acme), CreateTemplateCommand(order_shipped(), accounts=(meta.id, None)))

    assert {item.account_id for item in template.listings} == {meta.id, None}
    assert providers.names_at(twilio.id) == []


async def test_another_tenants_account_cannot_be_chosen(
    uow: FakeUnitOfWork,
    create: CreateTemplate,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    theirs = await add_meta(uow, clock, globex)

    with pytest.raises(InvalidInput, match="no provider account"):
        await create(admin_of(acme), CreateTemplateCommand(order_shipped(), accounts=(theirs.id,)))


async def test_a_refusal_names_the_provider_and_leaves_nothing_anywhere(
    uow: FakeUnitOfWork,
    create: CreateTemplate,
    providers: FakeTemplateProviders,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    twilio, meta = await add_twilio(uow, clock, acme), await add_meta(uow, clock, acme)
    providers.refuse[meta.id] = "Template name already in use in this language"

    with pytest.raises(
        TemplateProviderRefused, match="meta \\(Meta\\) refused order_shipped \\(en_US\\)"
    ) as refused:
        await create(admin_of(acme), CreateTemplateCommand(order_shipped()))

    assert "Template name already in use" in str(refused.value)
    assert providers.names_at(twilio.id) == providers.names_at(meta.id) == []
    assert ("delete", twilio.id, "order_shipped") in providers.calls
    assert await uow.templates.list_all(acme.tenant.id) == []
    assert not [e for e in uow.audit.all() if e.action is AuditAction.TEMPLATE_CREATED]


async def test_a_provider_that_does_not_answer_leaves_nothing_either(
    uow: FakeUnitOfWork,
    create: CreateTemplate,
    providers: FakeTemplateProviders,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    twilio, meta = await add_twilio(uow, clock, acme), await add_meta(uow, clock, acme)
    providers.unavailable.add(meta.id)

    with pytest.raises(TemplateProviderUnavailable):
        await create(admin_of(acme), CreateTemplateCommand(order_shipped()))

    assert providers.names_at(twilio.id) == []
    assert await uow.templates.list_all(acme.tenant.id) == []


async def test_a_second_template_of_the_same_name_and_language_is_refused_before_any_provider(
    create: CreateTemplate, providers: FakeTemplateProviders, acme: TenantAccount
) -> None:
    await create(admin_of(acme), CreateTemplateCommand(order_shipped()))
    calls = len(providers.calls)

    with pytest.raises(AlreadyExists):
        await create(
            admin_of(acme), CreateTemplateCommand(order_shipped(body="Another {{1}} {{2}} {{3}} text."))
        )
    assert len(providers.calls) == calls
    # Another language is another template.
    await create(admin_of(acme), CreateTemplateCommand(order_shipped("pt_BR")))


async def test_agents_read_the_catalogue_but_only_admins_change_it(
    uow: FakeUnitOfWork,
    create: CreateTemplate,
    providers: FakeTemplateProviders,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    template = await create(admin_of(acme), CreateTemplateCommand(order_shipped()))
    agent = agent_of(acme)

    with pytest.raises(AccessDenied):
        await create(agent, CreateTemplateCommand(welcome()))
    with pytest.raises(AccessDenied):
        await DeleteTemplate(uow, providers, clock)(agent, template.id)
    assert (await GetTemplate(uow)(agent, template.id)).id == template.id
    assert [t.id for t in (await ListTemplates(uow)(TemplatesRequest(agent, limit=10))).items] == [
        template.id
    ]


async def test_another_tenants_template_is_not_found(
    uow: FakeUnitOfWork,
    create: CreateTemplate,
    providers: FakeTemplateProviders,
    clock: FixedClock,
    acme: TenantAccount,
    globex: TenantAccount,
) -> None:
    theirs = await create(admin_of(globex), CreateTemplateCommand(order_shipped()))

    with pytest.raises(NotFound):
        await GetTemplate(uow)(admin_of(acme), theirs.id)
    with pytest.raises(NotFound):
        await DeleteTemplate(uow, providers, clock)(admin_of(acme), theirs.id)
    with pytest.raises(NotFound):
        await PreviewTemplate(uow)(admin_of(acme), theirs.id, {})
    assert (await ListTemplates(uow)(TemplatesRequest(admin_of(acme), limit=10))).items == []


async def test_the_catalogue_is_listed_by_name_and_language_a_page_at_a_time(
    uow: FakeUnitOfWork, create: CreateTemplate, acme: TenantAccount
) -> None:
    for definition in (welcome(), order_shipped("pt_BR"), order_shipped("en_US"), welcome("es")):
        await create(admin_of(acme), CreateTemplateCommand(definition))
    list_templates = ListTemplates(uow)

    first = await list_templates(TemplatesRequest(admin_of(acme), limit=3))
    second = await list_templates(TemplatesRequest(admin_of(acme), limit=3, cursor=first.next_cursor))

    keys = [t.definition.key for t in [*first.items, *second.items]]
    assert keys == [
        ("order_shipped", "en_US"),
        ("order_shipped", "pt_BR"),
        ("welcome", "en_US"),
        ("welcome", "es"),
    ]
    assert second.next_cursor is None
    named = await list_templates(TemplatesRequest(admin_of(acme), limit=10, name="welcome"))
    assert [t.definition.language for t in named.items] == ["en_US", "es"]
    assert (
        await list_templates(TemplatesRequest(admin_of(acme), limit=10, status=TemplateStatus.PENDING))
    ).items == []
    with pytest.raises(InvalidCursor):
        await list_templates(TemplatesRequest(admin_of(acme), limit=3, cursor="not-a-cursor"))


async def test_deleting_a_template_deletes_it_at_every_account_then_from_the_catalogue(
    uow: FakeUnitOfWork,
    create: CreateTemplate,
    providers: FakeTemplateProviders,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    twilio, meta = await add_twilio(uow, clock, acme), await add_meta(uow, clock, acme)
    template = await create(admin_of(acme), CreateTemplateCommand(order_shipped()))

    await DeleteTemplate(uow, providers, clock)(admin_of(acme), template.id)

    assert providers.names_at(twilio.id) == providers.names_at(meta.id) == []
    assert await uow.templates.get(acme.tenant.id, template.id) is None
    assert [e.action for e in uow.audit.all()][-1] is AuditAction.TEMPLATE_DELETED


async def test_a_deletion_a_provider_does_not_answer_keeps_what_is_still_there_and_can_be_finished(
    uow: FakeUnitOfWork,
    create: CreateTemplate,
    providers: FakeTemplateProviders,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    twilio, meta = await add_twilio(uow, clock, acme), await add_meta(uow, clock, acme)
    template = await create(admin_of(acme), CreateTemplateCommand(order_shipped()))
    providers.unavailable.add(meta.id)
    delete = DeleteTemplate(uow, providers, clock)

    with pytest.raises(TemplateProviderUnavailable):
        await delete(admin_of(acme), template.id)

    kept = await uow.templates.get(acme.tenant.id, template.id)
    assert kept is not None
    assert [item.account_id for item in kept.listings] == [meta.id]
    assert providers.names_at(twilio.id) == []
    providers.unavailable.clear()
    await delete(admin_of(acme), template.id)
    assert await uow.templates.get(acme.tenant.id, template.id) is None


async def test_a_preview_renders_the_template_with_the_values_given(
    uow: FakeUnitOfWork, create: CreateTemplate, acme: TenantAccount
) -> None:
    template = await create(admin_of(acme), CreateTemplateCommand(order_shipped()))

    rendered = await PreviewTemplate(uow)(agent_of(acme), template.id, {"1": "Ana", "2": "A-7", "3": "A-7"})

    assert rendered == RenderedTemplate(
        body="Hi Ana, your order A-7 has shipped.",
        footer="Reply STOP to opt out",
        buttons=("Track (https://shop.example.com/t/A-7)",),
    )
    assert rendered.text == "Hi Ana, your order A-7 has shipped.\n\nReply STOP to opt out"


async def test_a_template_the_database_cannot_keep_is_deleted_again_at_the_providers(
    uow: FakeUnitOfWork,
    providers: FakeTemplateProviders,
    clock: FixedClock,
    acme: TenantAccount,
) -> None:
    meta = await add_meta(uow, clock, acme)

    class DatabaseGoesAway(FakeTemplateProviders):
        async def create(
            self, account: ProviderAccount | None, definition: TemplateDefinition
        ) -> RemoteTemplate:
            created = await super().create(account, definition)
            uow.available = False
            return created

    flaky = DatabaseGoesAway()
    with pytest.raises(StorageUnavailable):
        await CreateTemplate(uow, flaky, clock)(admin_of(acme), CreateTemplateCommand(order_shipped()))

    assert flaky.names_at(meta.id) == []
    uow.available = True
    assert await uow.templates.list_all(acme.tenant.id) == []
