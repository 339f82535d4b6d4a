"""Each template call goes to the catalogue of its account's provider: the sandbox's for no account
(approved at once, ids of its own, nothing to list), and a provider not enabled here is unavailable."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from adapters.sandbox.templates import SANDBOX_TEMPLATE_PREFIX, SandboxTemplateProvider
from adapters.template_provider_router import TemplateProviderRouter
from application.ports.templates import TemplateProviderUnavailable
from domain.administration.tenancy import MetaCredentials, ProviderAccount, TwilioCredentials
from domain.templates.catalogue import TemplateStatus
from tests.support.template_providers import FakeTemplateProviders, welcome

META = ProviderAccount(
    tenant_id=uuid4(),
    credentials=MetaCredentials(
        business_account_id="102290129340398",
        access_token="meta-access-token-0123",
        app_secret="meta-app-secret-0123",
        verify_token="meta-verify-token-0123",
    ),
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)
TWILIO = ProviderAccount(
    tenant_id=META.tenant_id,
    credentials=TwilioCredentials(account_sid="AC" + "1" * 32, auth_token="twilio-token-0123456789"),
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)


async def test_the_sandbox_approves_at_once_under_ids_of_its_own_and_lists_nothing() -> None:
    router = TemplateProviderRouter(SandboxTemplateProvider())

    created = await router.create(None, welcome())
    updated = await router.update(None, created.provider_template_id, welcome("es"))

    assert created.status is TemplateStatus.APPROVED
    assert created.provider_template_id.startswith(SANDBOX_TEMPLATE_PREFIX)
    assert created.definition == welcome()
    assert updated.provider_template_id == created.provider_template_id
    assert await router.list(None) == []
    await router.delete(None, created)


async def test_an_account_goes_to_its_providers_catalogue() -> None:
    meta = FakeTemplateProviders()
    router = TemplateProviderRouter(SandboxTemplateProvider(), meta=meta)

    created = await router.create(META, welcome())

    assert meta.calls == [("create", META.id, "welcome")]
    assert [remote.provider_template_id for remote in await router.list(META)] == [
        created.provider_template_id
    ]


async def test_a_provider_not_enabled_here_is_unavailable() -> None:
    router = TemplateProviderRouter(SandboxTemplateProvider(), meta=FakeTemplateProviders())

    with pytest.raises(TemplateProviderUnavailable, match="twilio's templates are not enabled here"):
        await router.list(TWILIO)
