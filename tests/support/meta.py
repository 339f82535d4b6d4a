"""A tenant's Meta account and the outbound requests sent through it, shared by the Meta adapter's unit
and integration tests."""

from __future__ import annotations

from datetime import UTC, datetime

from application.ports.providers import OutboundRequest
from domain.administration.tenancy import MetaCredentials, ProviderAccount, ProviderName, Tenant
from domain.messaging.messages import Message, MessageContent
from domain.phone import PhoneNumber

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
BUSINESS_ACCOUNT_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
SENDER = "+15550783881"
CUSTOMER = "+16505551234"
ACCESS_TOKEN = "EAAG-the-tenants-system-user-access-token"
APP_SECRET = "the-apps-secret-0123456789abcdef"
VERIFY_TOKEN = "the-webhook-verify-token"

ACME = Tenant(name="acme", provider=ProviderName.SANDBOX, created_at=NOW)


def meta_credentials(
    *, access_token: str = ACCESS_TOKEN, graph_api_version: str = "v23.0"
) -> MetaCredentials:
    return MetaCredentials(
        business_account_id=BUSINESS_ACCOUNT_ID,
        access_token=access_token,
        app_secret=APP_SECRET,
        verify_token=VERIFY_TOKEN,
        graph_api_version=graph_api_version,
    )


def meta_account(credentials: MetaCredentials | None = None) -> ProviderAccount:
    return ProviderAccount(
        tenant_id=ACME.id, credentials=credentials or meta_credentials(), created_at=NOW, label="acme"
    )


def outbound(
    content: MessageContent | None = None,
    *,
    to: str = CUSTOMER,
    account: ProviderAccount | None = None,
    provider_number_id: str | None = PHONE_NUMBER_ID,
) -> OutboundRequest:
    message = Message.new_outbound(
        tenant_id=ACME.id,
        sender=PhoneNumber.parse(SENDER),
        contact=PhoneNumber.parse(to),
        content=content or MessageContent(body="Your order has shipped"),
        now=NOW,
    )
    return OutboundRequest(
        tenant=ACME,
        message=message,
        account=account or meta_account(),
        provider_number_id=provider_number_id,
    )
