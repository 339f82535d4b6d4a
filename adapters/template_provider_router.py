"""Routes each template call to the catalogue of the account's provider (the sandbox's for no account)."""

from __future__ import annotations

from adapters.sandbox.templates import SandboxTemplateProvider
from application.ports.templates import RemoteTemplate, TemplateProvider, TemplateProviderUnavailable
from domain.administration.tenancy import ProviderAccount, ProviderName
from domain.templates.definition import TemplateDefinition


class TemplateProviderRouter:
    """``twilio`` and ``meta``: each provider's template API. One left out is not enabled here: a call for
    its accounts is TemplateProviderUnavailable (a sync reports such an account and leaves it as it is)."""

    def __init__(
        self,
        sandbox: SandboxTemplateProvider,
        *,
        twilio: TemplateProvider | None = None,
        meta: TemplateProvider | None = None,
    ) -> None:
        self._sandbox = sandbox
        self._providers: dict[ProviderName, TemplateProvider | None] = {
            ProviderName.TWILIO: twilio,
            ProviderName.META: meta,
        }

    def _of(self, account: ProviderAccount) -> TemplateProvider:
        provider = self._providers.get(account.provider)
        if provider is None:
            raise TemplateProviderUnavailable(f"{account.provider}'s templates are not enabled here")
        return provider

    async def create(self, account: ProviderAccount | None, definition: TemplateDefinition) -> RemoteTemplate:
        if account is None:
            return await self._sandbox.create(None, definition)
        return await self._of(account).create(account, definition)

    async def update(
        self, account: ProviderAccount | None, provider_template_id: str, definition: TemplateDefinition
    ) -> RemoteTemplate:
        if account is None:
            return await self._sandbox.update(None, provider_template_id, definition)
        return await self._of(account).update(account, provider_template_id, definition)

    async def delete(self, account: ProviderAccount | None, template: RemoteTemplate) -> None:
        if account is None:
            await self._sandbox.delete(None, template)
            return
        await self._of(account).delete(account, template)

    async def list(self, account: ProviderAccount | None) -> list[RemoteTemplate]:
        if account is None:
            return await self._sandbox.list(None)
        return await self._of(account).list(account)
