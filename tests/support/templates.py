"""Templates in a tenant's catalogue, ready to send: definitions the tests share, and a helper that lists
one as approved (or in another status) on an account."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from uuid import UUID, uuid4

from application.ports.unit_of_work import UnitOfWork
from domain.administration.tenancy import ProviderName
from domain.messaging.content import Media
from domain.messaging.messages import MessageContent, Template
from domain.templates.catalogue import CatalogueTemplate, TemplateListing, TemplateStatus
from domain.templates.definition import (
    ButtonKind,
    HeaderFormat,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
    TemplateHeader,
    render_template,
)

ORDER_UPDATE = TemplateDefinition(
    name="order_update",
    language="pt_BR",
    category=TemplateCategory.UTILITY,
    body="Olá {{1}}, seu pedido está a caminho.",
    examples=(("1", "Ana"),),
)

ORDER_SHIPPED = TemplateDefinition(
    name="order_shipped",
    language="en",
    category=TemplateCategory.UTILITY,
    body="Shipped, {{1}}.",
    examples=(("1", "Ana"),),
)

# Header text, body and a link, positional variables across all three.
SHIPPING_NOTICE = TemplateDefinition(
    name="shipping_notice",
    language="en",
    category=TemplateCategory.UTILITY,
    header=TemplateHeader(HeaderFormat.TEXT, text="Order {{1}}"),
    body="Hi {{2}}, your order ships on {{3}}.",
    footer="Reply STOP to opt out",
    buttons=(TemplateButton(ButtonKind.URL, text="Track", url="https://example.com/track/{{4}}"),),
    examples=(("1", "A-42"), ("2", "Ana"), ("3", "May 4"), ("4", "A-42")),
)

INVOICE_READY = TemplateDefinition(
    name="invoice_ready",
    language="en",
    category=TemplateCategory.UTILITY,
    header=TemplateHeader(HeaderFormat.DOCUMENT, example_url="https://example.com/invoice.pdf"),
    body="Hi {{customer}}, your invoice is attached.",
    examples=(("customer", "Ana"),),
)


def twilio_content_sid() -> str:
    return "HX" + uuid4().hex


async def catalogue_template(
    uow: UnitOfWork,
    tenant_id: UUID,
    definition: TemplateDefinition,
    at: datetime,
    *,
    account_id: UUID | None = None,
    provider: ProviderName = ProviderName.SANDBOX,
    status: TemplateStatus = TemplateStatus.APPROVED,
    provider_template_id: str | None = None,
    reason: str | None = None,
) -> CatalogueTemplate:
    """Store ``definition`` in the tenant's catalogue, listed on ``account_id`` (None: the sandbox) in
    ``status``, in a transaction of its own."""
    listing = TemplateListing(
        provider=provider,
        account_id=account_id,
        provider_template_id=provider_template_id
        or (twilio_content_sid() if provider is ProviderName.TWILIO else f"{provider.value}-{uuid4()}"),
        status=status,
        status_changed_at=at,
        rejection_reason=reason,
    )
    async with uow:
        existing = await uow.templates.find(tenant_id, definition.name, definition.language)
        if existing is None:
            template = CatalogueTemplate(tenant_id, definition, (listing,), at, at)
            await uow.templates.add(template)
        else:
            template = existing.with_listing(listing, at)
            await uow.templates.update(template)
        await uow.commit()
    return template


def as_sent(
    content: MessageContent,
    definition: TemplateDefinition,
    *,
    content_sid: str | None = None,
    header_media: Media | None = None,
) -> MessageContent:
    """``content``, whose template names ``definition``, as the catalogue resolves it for a send."""
    template = content.template
    assert template is not None
    resolved: Template = dataclasses.replace(
        template,
        content_sid=content_sid,
        layout=definition.layout,
        header_media=header_media,
        rendered=render_template(definition, template.variables_dict).text,
    )
    return dataclasses.replace(content, template=resolved)
