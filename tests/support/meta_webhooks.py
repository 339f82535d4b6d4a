"""Meta's webhooks as tests write them: deliveries in Meta's JSON, signed with an app secret, and tenants
given a Meta account whose senders have phone-number ids (on the fakes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from adapters.meta.signature import signature_of
from domain.administration.tenancy import MetaCredentials, ProviderAccount, Sender
from tests.support.fakes import FakeUnitOfWork, TenantAccount

CUSTOMER_WA_ID = "14155550100"
CUSTOMER = f"+{CUSTOMER_WA_ID}"
# One app a platform runs for all its tenants (their WhatsApp Business Accounts subscribed through it),
# and a tenant's own app.
PLATFORM_APP_SECRET = "the-platform-apps-secret-0123456789"
OWN_APP_SECRET = "a-tenants-own-apps-secret-9876543210"
_CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)

Json = dict[str, Any]


def signed(body: bytes, app_secret: str) -> dict[str, str]:
    """The headers Meta posts ``body`` with, signed by ``app_secret``."""
    return {"Content-Type": "application/json", "X-Hub-Signature-256": signature_of(body, app_secret)}


def delivery(*entries: Json) -> bytes:
    """A delivery's raw body, as Meta posts it."""
    return json.dumps({"object": "whatsapp_business_account", "entry": list(entries)}).encode()


def entry(business_account_id: str, *changes: Json) -> Json:
    return {"id": business_account_id, "changes": list(changes)}


def messages_change(
    phone_number_id: str,
    display_phone_number: str,
    *,
    messages: list[Json] | None = None,
    statuses: list[Json] | None = None,
    profile_name: str = "Ana",
) -> Json:
    value: Json = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = [
            {"profile": {"name": profile_name}, "wa_id": wa_id}
            for wa_id in dict.fromkeys(message["from"] for message in messages)
        ]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"field": "messages", "value": value}


def text_message(wamid: str, body: str, *, customer_wa_id: str = CUSTOMER_WA_ID) -> Json:
    return {
        "from": customer_wa_id,
        "id": wamid,
        "timestamp": "1767225600",
        "type": "text",
        "text": {"body": body},
    }


def status(
    wamid: str,
    reported: str,
    *,
    message_id: UUID | None = None,
    error_code: int | None = None,
    recipient_wa_id: str = CUSTOMER_WA_ID,
) -> Json:
    item: Json = {
        "id": wamid,
        "status": reported,
        "timestamp": "1767225600",
        "recipient_id": recipient_wa_id,
    }
    if message_id is not None:
        item["biz_opaque_callback_data"] = str(message_id)
    if reported in ("sent", "delivered"):
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "utility"}
    if error_code is not None:
        item["errors"] = [{"code": error_code, "title": "Message undeliverable"}]
    return item


def display_number(account: TenantAccount) -> str:
    """The tenant's default sender as Meta writes it in a change's metadata (digits only)."""
    return account.sender.phone_number.e164.removeprefix("+")


async def on_meta(
    uow: FakeUnitOfWork,
    account: TenantAccount,
    *,
    phone_number_id: str,
    business_account_id: str,
    app_secret: str = PLATFORM_APP_SECRET,
    verify_token: str = "a-verify-token",  # noqa: S107 - a test account's
) -> Sender:
    """Give the tenant a Meta account and move its default sender onto it under ``phone_number_id``."""
    meta = ProviderAccount(
        tenant_id=account.tenant.id,
        credentials=MetaCredentials(
            business_account_id=business_account_id,
            access_token=f"EAAG-token-of-{business_account_id}",
            app_secret=app_secret,
            verify_token=verify_token,
        ),
        created_at=_CREATED_AT,
        label="Meta",
    )
    await uow.provider_accounts.add(meta)
    await uow.senders.move(account.tenant.id, account.sender.id, meta.id, phone_number_id)
    moved = await uow.senders.get(account.tenant.id, account.sender.id)
    assert moved is not None
    return moved
