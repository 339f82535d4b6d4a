"""Stand-ins and samples for the template catalogue's tests: a fake of every provider's template catalogue
(``FakeTemplateProviders``), template definitions to create, and the accounts and callers that use them."""

from __future__ import annotations

import builtins
import itertools
from dataclasses import replace
from uuid import UUID, uuid4

from application.ports.templates import RemoteTemplate, TemplateProviderRefused, TemplateProviderUnavailable
from application.principal import Principal
from domain.administration.tenancy import MetaCredentials, ProviderAccount, Role, TwilioCredentials
from domain.templates.catalogue import TemplateQuality, TemplateStatus
from domain.templates.definition import (
    ButtonKind,
    TemplateButton,
    TemplateCategory,
    TemplateDefinition,
)
from tests.support.fakes import FakeUnitOfWork, FixedClock, TenantAccount

# The sandbox's place in the fake's tables.
SANDBOX = None


def order_shipped(language: str = "en_US", *, body: str | None = None) -> TemplateDefinition:
    return TemplateDefinition(
        name="order_shipped",
        language=language,
        category=TemplateCategory.UTILITY,
        body=body or "Hi {{1}}, your order {{2}} has shipped.",
        footer="Reply STOP to opt out",
        buttons=(TemplateButton(ButtonKind.URL, text="Track", url="https://shop.example.com/t/{{3}}"),),
        examples=(("1", "Ana"), ("2", "A-1001"), ("3", "A-1001")),
    )


def welcome(language: str = "en_US") -> TemplateDefinition:
    return TemplateDefinition(
        name="welcome",
        language=language,
        category=TemplateCategory.MARKETING,
        body="Welcome, {{first_name}}!",
        examples=(("first_name", "Ana"),),
    )


def agent_of(account: TenantAccount) -> Principal:
    return Principal(user_id=uuid4(), tenant_id=account.tenant.id, role=Role.AGENT)


async def add_twilio(uow: FakeUnitOfWork, clock: FixedClock, account: TenantAccount) -> ProviderAccount:
    twilio = ProviderAccount(
        tenant_id=account.tenant.id,
        credentials=TwilioCredentials(account_sid="AC" + "1" * 32, auth_token="twilio-token-0123456789"),
        created_at=clock.now(),
        label="Twilio",
    )
    await uow.provider_accounts.add(twilio)
    return twilio


async def add_meta(uow: FakeUnitOfWork, clock: FixedClock, account: TenantAccount) -> ProviderAccount:
    """A Meta account, added after any other (accounts are listed oldest first)."""
    clock.advance()
    meta = ProviderAccount(
        tenant_id=account.tenant.id,
        credentials=MetaCredentials(
            business_account_id="102290129340398",
            access_token="meta-access-token-0123",
            app_secret="meta-app-secret-0123",
            verify_token="meta-verify-token-0123",
        ),
        created_at=clock.now(),
        label="Meta",
    )
    await uow.provider_accounts.add(meta)
    return meta


class FakeTemplateProviders:
    """Every provider account's own catalogue, in memory (the sandbox's under None), behind the port.

    A new template gets ``new_status`` (pending, as Meta and Twilio start one; approved for the sandbox
    unless set). ``refuse[account]`` makes that account refuse creations and updates with those words;
    ``unavailable`` holds the accounts whose provider does not answer. Tests change a remote template's
    fate with ``decide`` or make one in the "console" with ``make_in_console``; ``calls`` records each
    call as (method, account id, name)."""

    def __init__(self) -> None:
        self.catalogues: dict[UUID | None, dict[str, RemoteTemplate]] = {}
        self.new_status = TemplateStatus.PENDING
        self.refuse: dict[UUID | None, str] = {}
        self.unavailable: set[UUID | None] = set()
        self.calls: list[tuple[str, UUID | None, str]] = []
        self._ids = itertools.count(1)

    def _catalogue(
        self, account: ProviderAccount | None, method: str, name: str
    ) -> dict[str, RemoteTemplate]:
        key = account.id if account is not None else SANDBOX
        self.calls.append((method, key, name))
        if key in self.unavailable:
            raise TemplateProviderUnavailable("timed out")
        return self.catalogues.setdefault(key, {})

    def _refusal(self, account: ProviderAccount | None) -> None:
        words = self.refuse.get(account.id if account is not None else SANDBOX)
        if words is not None:
            raise TemplateProviderRefused(words)

    async def create(self, account: ProviderAccount | None, definition: TemplateDefinition) -> RemoteTemplate:
        catalogue = self._catalogue(account, "create", definition.name)
        self._refusal(account)
        status = self.new_status if account is not None else TemplateStatus.APPROVED
        remote = RemoteTemplate(
            provider_template_id=f"HX{next(self._ids):032d}",
            name=definition.name,
            language=definition.language,
            status=status,
            definition=definition,
        )
        catalogue[remote.provider_template_id] = remote
        return remote

    async def update(
        self, account: ProviderAccount | None, provider_template_id: str, definition: TemplateDefinition
    ) -> RemoteTemplate:
        catalogue = self._catalogue(account, "update", definition.name)
        self._refusal(account)
        remote = replace(catalogue[provider_template_id], definition=definition, status=self.new_status)
        catalogue[provider_template_id] = remote
        return remote

    async def delete(self, account: ProviderAccount | None, template: RemoteTemplate) -> None:
        catalogue = self._catalogue(account, "delete", template.name)
        catalogue.pop(template.provider_template_id, None)

    async def list(self, account: ProviderAccount | None) -> list[RemoteTemplate]:
        if account is None:
            return []
        return list(self._catalogue(account, "list", "").values())

    # Test helpers: what a provider does on its own.

    def decide(
        self,
        account_id: UUID,
        name: str,
        status: TemplateStatus,
        *,
        reason: str | None = None,
        quality: TemplateQuality | None = None,
    ) -> RemoteTemplate:
        catalogue = self.catalogues[account_id]
        [remote] = [item for item in catalogue.values() if item.name == name]
        decided = replace(remote, status=status, rejection_reason=reason, quality=quality)
        catalogue[remote.provider_template_id] = decided
        return decided

    def make_in_console(
        self,
        account_id: UUID,
        definition: TemplateDefinition | None,
        *,
        name: str = "",
        language: str = "en_US",
    ) -> RemoteTemplate:
        remote = RemoteTemplate(
            provider_template_id=f"HX{next(self._ids):032d}",
            name=definition.name if definition is not None else name,
            language=definition.language if definition is not None else language,
            status=TemplateStatus.APPROVED,
            definition=definition,
        )
        self.catalogues.setdefault(account_id, {})[remote.provider_template_id] = remote
        return remote

    def delete_in_console(self, account_id: UUID, name: str) -> None:
        catalogue = self.catalogues[account_id]
        for key in [key for key, remote in catalogue.items() if remote.name == name]:
            del catalogue[key]

    def names_at(self, account_id: UUID | None) -> builtins.list[str]:
        return sorted(remote.name for remote in self.catalogues.get(account_id, {}).values())
