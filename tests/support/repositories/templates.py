"""Templates of a tenant's catalogue and their listings, as the template repository's tests write them
(contract/test_template_repositories.py, and the tests that build on it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import uuid4

from domain.administration.tenancy import MetaCredentials, ProviderAccount, ProviderName, Tenant
from domain.templates.catalogue import CatalogueTemplate, TemplateListing, TemplateQuality, TemplateStatus
from domain.templates.definition import (
    ButtonKind,
    HeaderFormat,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
)
from tests.support.databases import UowFactory
from tests.support.repositories import T0

# Every part a definition can have: a media header, a footer, each kind of button, ordered examples.
ORDER_UPDATE = TemplateDefinition(
    name="order_update",
    language="pt_BR",
    category=TemplateCategory.UTILITY,
    body="Olá {{1}}, o seu pedido {{2}} foi enviado hoje. Acompanhe: ",
    header=TemplateHeader(format=HeaderFormat.IMAGE, example_url="https://example.com/parcel.jpg"),
    footer="Responda SAIR para não receber mais",
    buttons=(
        TemplateButton(kind=ButtonKind.URL, text="Acompanhar", url="https://example.com/track/{{3}}"),
        TemplateButton(kind=ButtonKind.PHONE_NUMBER, text="Ligar", phone_number="+5511987654321"),
        TemplateButton(kind=ButtonKind.QUICK_REPLY, text="Obrigado"),
    ),
    examples=(("2", "#1234"), ("1", "Ana"), ("3", "1234")),
)
WELCOME = TemplateDefinition(
    name="welcome",
    language="en",
    category=TemplateCategory.MARKETING,
    body="Welcome, {{first_name}}!",
    header=TemplateHeader(format=HeaderFormat.TEXT, text="Hi {{first_name}}"),
    examples=(("first_name", "Ana"),),
)
LOGIN_CODE = TemplateDefinition(
    name="login_code",
    language="en_US",
    category=TemplateCategory.AUTHENTICATION,
    body="{{1}} is your verification code.",
    buttons=(TemplateButton(kind=ButtonKind.COPY_CODE, example="123456"),),
    examples=(("1", "123456"),),
)


def named(definition: TemplateDefinition, name: str, language: str | None = None) -> TemplateDefinition:
    return replace(definition, name=name, language=language or definition.language)


def sandbox_listing(
    status: TemplateStatus = TemplateStatus.APPROVED, *, provider_template_id: str | None = None
) -> TemplateListing:
    return TemplateListing(
        provider=ProviderName.SANDBOX,
        account_id=None,
        provider_template_id=provider_template_id or f"sandbox-{uuid4().hex}",
        status=status,
        status_changed_at=T0,
    )


def meta_listing(
    account: ProviderAccount,
    status: TemplateStatus = TemplateStatus.PENDING,
    *,
    provider_template_id: str | None = None,
    at: datetime = T0,
) -> TemplateListing:
    return TemplateListing(
        provider=ProviderName.META,
        account_id=account.id,
        provider_template_id=provider_template_id or str(uuid4().int)[:16],
        status=status,
        status_changed_at=at,
        quality=TemplateQuality.UNKNOWN,
    )


def catalogue_template(
    tenant: Tenant, definition: TemplateDefinition = ORDER_UPDATE, *listings: TemplateListing
) -> CatalogueTemplate:
    return CatalogueTemplate(
        tenant_id=tenant.id, definition=definition, listings=listings, created_at=T0, updated_at=T0
    )


async def add_template(
    uow_factory: UowFactory,
    tenant: Tenant,
    definition: TemplateDefinition = ORDER_UPDATE,
    *listings: TemplateListing,
) -> CatalogueTemplate:
    template = catalogue_template(tenant, definition, *listings)
    async with uow_factory() as uow:
        await uow.templates.add(template)
        await uow.commit()
    return template


async def add_meta_account(uow_factory: UowFactory, tenant: Tenant) -> ProviderAccount:
    """A Meta account of ``tenant``'s (a WhatsApp Business Account of its own)."""
    account = ProviderAccount(
        tenant_id=tenant.id,
        credentials=MetaCredentials(
            business_account_id=str(uuid4().int)[:15],
            access_token="EAAG-an-access-token",
            app_secret="an-apps-secret-0123456789",
            verify_token="a-verify-token",
        ),
        created_at=T0,
        label="Meta",
    )
    async with uow_factory() as uow:
        await uow.provider_accounts.add(account)
        await uow.commit()
    return account
