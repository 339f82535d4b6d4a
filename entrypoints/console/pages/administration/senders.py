"""The tenant's senders (its WhatsApp numbers): added, relabelled, made the default, moved to another
provider account, removed (SendersController's use cases)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Template

from application.administration.onboarding import AddSender
from application.administration.provider_accounts import ListProviderAccounts
from application.administration.tenant_admin import (
    ListSenders,
    RemoveSender,
    UpdateSender,
    UpdateSenderCommand,
)
from application.errors import InvalidInput
from application.principal import Principal
from entrypoints.console.pages.administration.common import ADMIN_PATH, TENANT_ADMINS_ONLY, done, form_again
from entrypoints.console.rendering import render
from entrypoints.http.dependencies import provide

SENDERS_PATH = f"{ADMIN_PATH}/senders"
# The account choice that sends through the tenant's provider (no account of the sender's own).
TENANT_PROVIDER = "tenant"
NOTICES = {
    "added": "The sender was added.",
    "updated": "The sender was changed.",
    "removed": "The sender was removed.",
}


@dataclass(frozen=True, slots=True)
class NewSenderForm:
    phone_number: str = ""
    label: str = ""
    account: str = ""  # a provider account's id; empty: the tenant's provider
    provider_number_id: str = ""


@dataclass(frozen=True, slots=True)
class SenderChangeForm:
    label: str = ""
    make_default: str = ""  # "on" when ticked
    account: str = ""  # empty: keep; TENANT_PROVIDER: the tenant's provider; else an account's id
    provider_number_id: str = ""


def account_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput("choose one of the tenant's provider accounts") from None


class SendersController(Controller):
    path = "/"
    include_in_schema = False
    dependencies = {
        "list_senders": provide(lambda c: c.list_senders),
        "list_provider_accounts": provide(lambda c: c.list_provider_accounts),
        "add_sender": provide(lambda c: c.add_sender),
        "update_sender": provide(lambda c: c.update_sender),
        "remove_sender": provide(lambda c: c.remove_sender),
    }

    @get("/admin/senders", opt=TENANT_ADMINS_ONLY)
    async def senders(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        list_senders: NamedDependency[ListSenders],
        list_provider_accounts: NamedDependency[ListProviderAccounts],
    ) -> Template:
        accounts = await list_provider_accounts(principal)
        return render(
            request,
            "administration/senders.html",
            principal=principal,
            notices=NOTICES,
            senders=await list_senders(principal),
            accounts=accounts,
            account_names={account.id: account.label or account.provider.value for account in accounts},
            form={},
            error=None,
        )

    @post(
        "/admin/senders",
        opt=TENANT_ADMINS_ONLY,
        exception_handlers=form_again(
            "administration/_sender_form.html",
            "New sender",
            keep=("phone_number", "label", "account", "provider_number_id"),
        ),
    )
    async def add(
        self,
        data: Annotated[NewSenderForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        add_sender: NamedDependency[AddSender],
    ) -> Response[Any]:
        await add_sender(
            principal,
            principal.tenant_id,
            data.phone_number,
            label=data.label.strip(),
            account_id=account_id(data.account) if data.account else None,
            provider_number_id=data.provider_number_id.strip() or None,
        )
        return done(SENDERS_PATH, "added")

    @post("/admin/senders/{sender_id:uuid}", opt=TENANT_ADMINS_ONLY)
    async def update(
        self,
        sender_id: FromPath[UUID],
        data: Annotated[SenderChangeForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        principal: NamedDependency[Principal],
        update_sender: NamedDependency[UpdateSender],
    ) -> Response[Any]:
        moves_to = data.account.strip()
        await update_sender(
            principal,
            sender_id,
            UpdateSenderCommand(
                label=data.label.strip(),
                make_default=data.make_default == "on",
                account_id=account_id(moves_to) if moves_to and moves_to != TENANT_PROVIDER else None,
                provider_number_id=(data.provider_number_id.strip() or None) if moves_to else None,
                to_tenant_provider=moves_to == TENANT_PROVIDER,
            ),
        )
        return done(SENDERS_PATH, "updated")

    @post("/admin/senders/{sender_id:uuid}/remove", opt=TENANT_ADMINS_ONLY)
    async def remove(
        self,
        sender_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        remove_sender: NamedDependency[RemoveSender],
    ) -> Response[Any]:
        await remove_sender(principal, sender_id)
        return done(SENDERS_PATH, "removed")
