"""Sending a template by name: resolved through the tenant's catalogue for the sender's provider account,
its values checked, before anything is stored.

A template named only by its Twilio Content SID is sent as it is (the catalogue need not know it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from uuid import UUID

from application.errors import InvalidInput, TemplateNotApproved, TemplateNotFound
from application.kept_reads import KeptReads
from application.pagination import MAX_PAGE_SIZE
from application.ports.templates import ListingAt, TemplateQuery
from application.ports.unit_of_work import UnitOfWork
from domain.administration.tenancy import ProviderName, Sender, Tenant
from domain.messaging.content import Media, MediaKind
from domain.messaging.messages import Template
from domain.phone import PhoneNumber
from domain.templates.binding import check_values
from domain.templates.catalogue import CatalogueTemplate, TemplateListing, TemplateStatus
from domain.templates.definition import HeaderFormat, TemplateCategory, render_template
from domain.templates.errors import FieldProblem, InvalidTemplateValues

# Catalogue templates by tenant, name and language, kept per process while the catalogue version holds
# (the access cache's listener hears every write to the catalogue: migration 0032).
KeptCatalogue = KeptReads[tuple[UUID, str, str], CatalogueTemplate]


@dataclass(frozen=True, slots=True)
class HeaderMedia:
    """The file a media-header template shows this time: by URL or by a media id the provider gave an
    uploaded file. Its kind is the template's header format."""

    url: str | None = None
    media_id: str | None = None
    filename: str | None = None

    def media(self, header_format: HeaderFormat) -> Media:
        return Media(
            kind=MediaKind(header_format.value),
            url=self.url,
            provider_media_id=self.media_id,
            filename=self.filename if header_format is HeaderFormat.DOCUMENT else None,
        )


@dataclass(frozen=True, slots=True)
class TemplateChoice:
    """A template as a send names it: by name, language and variables (``template``), and the file of its
    media header, if it has one."""

    template: Template
    header_media: HeaderMedia | None = None


_NOT_SENDABLE = {
    TemplateStatus.PENDING: "is waiting for the provider's approval",
    TemplateStatus.REJECTED: "was rejected by the provider",
    TemplateStatus.PAUSED: "is paused by WhatsApp for low quality",
    TemplateStatus.DISABLED: "is disabled by WhatsApp for repeated low quality",
}


async def resolve_template(
    uow: UnitOfWork,
    tenant: Tenant,
    sender: Sender,
    provider: ProviderName,
    choice: TemplateChoice,
    *,
    field: str = "template",
) -> Template:
    """``choice`` as its sender's provider sends it: with its Content SID on Twilio, its layout, header
    media and rendered text. Inside the accepting transaction.

    TemplateNotFound, TemplateNotApproved or InvalidTemplateValues (naming ``field``'s parts) when it
    cannot be sent."""
    template, _ = await resolve_template_and_category(uow, tenant, sender, provider, choice, field=field)
    return template


async def resolve_template_and_category(
    uow: UnitOfWork,
    tenant: Tenant,
    sender: Sender,
    provider: ProviderName,
    choice: TemplateChoice,
    *,
    field: str = "template",
    catalogue: KeptCatalogue | None = None,
) -> tuple[Template, TemplateCategory | None]:
    """``resolve_template``, and the template's category in the catalogue (None for a template named by
    its Content SID alone: the catalogue is not asked about it)."""
    template = choice.template
    if template.name is None or template.language is None:
        if choice.header_media is not None:
            raise InvalidInput(
                f"{field}.header_media: a template by Content SID takes its media from Twilio's Content "
                "resource; name the template by name and language to give its header media"
            )
        return template, None  # by Content SID alone: sent as it is
    entry, listing = await approved_listing(
        uow, tenant, sender, provider, template.name, template.language, field=field, catalogue=catalogue
    )
    resolved = resolved_template(entry, template, choice.header_media, listing, field)
    return resolved, entry.definition.category


async def approved_listing(
    uow: UnitOfWork,
    tenant: Tenant,
    sender: Sender,
    provider: ProviderName,
    name: str,
    language: str,
    *,
    field: str = "template",
    catalogue: KeptCatalogue | None = None,
) -> tuple[CatalogueTemplate, TemplateListing]:
    """The catalogue's template ``name`` (``language``) and its listing at ``sender``'s provider account,
    if approved there; TemplateNotFound or TemplateNotApproved otherwise. Inside a transaction; the
    template from ``catalogue`` when it keeps it."""
    label = f"{name} ({language})"
    key = (tenant.id, name, language)
    entry = catalogue.get(key) if catalogue is not None else None
    if entry is None:
        version = catalogue.version() if catalogue is not None else None
        entry = await uow.templates.find(tenant.id, name, language)
        if entry is not None and catalogue is not None:
            catalogue.keep(key, entry, version)
    if entry is None:
        raise TemplateNotFound(
            f"{field}: this tenant's catalogue has no template {label}; create it with "
            "POST /api/templates, or sync the catalogue (POST /api/templates/sync) if it was made in the "
            "provider's console"
        )
    account_id = await _account_of(uow, tenant, sender, provider)
    listing = entry.listing_for(account_id)
    if listing is None or listing.provider is not provider:
        raise TemplateNotFound(
            f"{field}: template {label} is not on the provider account of sender "
            f"{sender.phone_number}; create it there before sending it from this number"
        )
    if listing.status is not TemplateStatus.APPROVED:
        why = _NOT_SENDABLE[listing.status]
        reason = f" ({listing.rejection_reason})" if listing.rejection_reason else ""
        raise TemplateNotApproved(
            f"{field}: template {label} {why}{reason}; only approved templates can be sent"
        )
    return entry, listing


def resolved_template(
    entry: CatalogueTemplate,
    template: Template,
    header_media: HeaderMedia | None,
    listing: TemplateListing,
    field: str,
) -> Template:
    definition = entry.definition
    values = template.variables_dict
    if listing.provider is ProviderName.TWILIO and definition.has_media_header:
        # A Twilio Content resource shows the media it was created with: there is none to give.
        if header_media is not None:
            raise InvalidTemplateValues(
                [
                    FieldProblem(
                        f"{field}.header_media",
                        "through Twilio a template shows the media its Content resource was created "
                        "with; leave header_media out",
                    )
                ]
            )
        check_values(definition, values, has_header_media=True, field=field)
    else:
        check_values(definition, values, has_header_media=header_media is not None, field=field)
    header = definition.header
    media = header_media.media(header.format) if header_media is not None and header is not None else None
    return dataclasses.replace(
        template,
        content_sid=listing.provider_template_id if listing.provider is ProviderName.TWILIO else None,
        layout=definition.layout,
        header_media=media,
        rendered=render_template(definition, values).text,
    )


async def _account_of(uow: UnitOfWork, tenant: Tenant, sender: Sender, provider: ProviderName) -> UUID | None:
    """The provider account ``sender`` sends through: its own, else its tenant's first Twilio account,
    else none (the sandbox)."""
    if sender.account_id is not None:
        return sender.account_id
    if provider is ProviderName.SANDBOX:
        return None
    account = await uow.provider_accounts.first_of(tenant.id, provider)
    return account.id if account is not None else None


class ListSendableTemplates:
    """The templates a sender can send now: the tenant's catalogue templates approved at the provider
    account that sender sends through (the first ``MAX_PAGE_SIZE`` by name and language), for choosing
    one to send outside a contact's 24-hour window; none for a number that is not the tenant's."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, tenant_id: UUID, sender_number: PhoneNumber | None) -> list[CatalogueTemplate]:
        async with self._uow:
            profile = await self._uow.acceptance.sending_profile(tenant_id, sender_number)
            if profile is None or profile.sender is None:
                return []
            account_id = await _account_of(self._uow, profile.tenant, profile.sender, profile.provider)
            return await self._uow.templates.list_page(
                TemplateQuery(
                    tenant_id=tenant_id,
                    limit=MAX_PAGE_SIZE,
                    status=TemplateStatus.APPROVED,
                    listed_at=ListingAt(profile.provider, account_id),
                )
            )
