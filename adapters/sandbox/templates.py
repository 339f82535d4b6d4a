"""The sandbox's template catalogue: a template is approved the moment it is created (nobody reviews
it, nothing reaches WhatsApp), and the catalogue itself is the gateway's own (``list`` finds nothing
else, so a sync leaves the sandbox's templates as they are)."""

from __future__ import annotations

from uuid import uuid4

from application.ports.templates import RemoteTemplate
from domain.administration.tenancy import ProviderAccount
from domain.templates.catalogue import TemplateStatus
from domain.templates.definition import TemplateDefinition

SANDBOX_TEMPLATE_PREFIX = "sandbox-"


def _approved(provider_template_id: str, definition: TemplateDefinition) -> RemoteTemplate:
    return RemoteTemplate(
        provider_template_id=provider_template_id,
        name=definition.name,
        language=definition.language,
        status=TemplateStatus.APPROVED,
        definition=definition,
    )


class SandboxTemplateProvider:
    """Takes any account (the sandbox has none: it is given None)."""

    async def create(self, account: ProviderAccount | None, definition: TemplateDefinition) -> RemoteTemplate:
        return _approved(f"{SANDBOX_TEMPLATE_PREFIX}{uuid4()}", definition)

    async def update(
        self, account: ProviderAccount | None, provider_template_id: str, definition: TemplateDefinition
    ) -> RemoteTemplate:
        return _approved(provider_template_id, definition)

    async def delete(self, account: ProviderAccount | None, template: RemoteTemplate) -> None:
        return None

    async def list(self, account: ProviderAccount | None) -> list[RemoteTemplate]:
        return []
